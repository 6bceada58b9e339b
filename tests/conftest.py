"""Shared pytest fixtures: paths to the optional ../shared data and GENA-LM golden fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real genomes and annotations in ../shared/data (skipped when absent, as in a clone)."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(f"real genome data not present at {path}")
    return path


@pytest.fixture(scope="session")
def golden_fixture() -> Path:
    """The GENA-LM tiny golden safetensors file (skipped when absent)."""
    path = SHARED / "fixtures" / "gena_tiny_golden.safetensors"
    if not path.is_file():
        pytest.skip(f"GENA-LM golden fixture not present at {path}")
    return path


@pytest.fixture(scope="session")
def gt_binary() -> str:
    """The genometools ``gt`` executable (skipped when not installed)."""
    gt = shutil.which("gt")
    if gt is None:
        pytest.skip("genometools (gt) is not installed")
    return gt


@pytest.fixture(scope="session")
def small_tokenizer():
    """A 300-entry GENA-format BPE tokenizer trained on pseudo-random DNA (about a second)."""
    from helpers import random_dna

    from genatator.tokenizer import DnaTokenizer

    return DnaTokenizer.train([random_dna(60_000, seed=1)], vocab_size=300, piece_length=2000)


@pytest.fixture(scope="session")
def tiny_random_model(tmp_path_factory) -> Path:
    """A ``tiny``-preset model directory with random weights and a 2 kb window (no training)."""
    from genatator.model.directory import create_model, write_model_directory
    from genatator.model.settings import InferenceSettings

    new = create_model(preset="tiny", seed=0)
    target = tmp_path_factory.mktemp("models") / "tiny-random"
    settings = InferenceSettings(window=2000)
    return write_model_directory(target, new.model, new.tokenizer, new.card(), settings=settings)
