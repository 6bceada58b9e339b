"""Bundled models: discovery, cards, `genatator models`, and `--model NAME` resolution."""

from __future__ import annotations

import shutil

import pytest
from helpers import assert_one_line_error, run_cli

import genatator.bundles
from genatator.bundles import bundles, find_bundle, get_bundle
from genatator.errors import ModelError
from genatator.model.files import resolve_model_dir


@pytest.fixture
def bundle_dir(tmp_path, monkeypatch, tiny_random_model):
    """A bundles folder holding one bundle, ``toy``, made from the tiny random model."""
    root = tmp_path / "bundles"
    shutil.copytree(tiny_random_model, root / "toy")
    (root / "toy" / "MODEL_CARD.md").write_text(
        "# toy\n\nA toy model for tests: random weights.\n\n## Data\n\nnone\n"
    )
    (root / "not-a-bundle").mkdir()  # no card, no config: ignored
    monkeypatch.setattr(genatator.bundles, "BUNDLES_DIR", root)
    return root


def test_bundles_are_found_with_their_card_summary(bundle_dir):
    assert [b.name for b in bundles()] == ["toy"]
    assert get_bundle("toy").summary == "A toy model for tests: random weights."
    assert find_bundle("not-a-bundle") is None
    with pytest.raises(ModelError, match=r"no such bundled model \(bundled: toy\)"):
        get_bundle("human-typo")


def test_model_names_resolve_to_bundles_but_local_directories_win(
    bundle_dir, tmp_path, monkeypatch
):
    assert resolve_model_dir("toy") == bundle_dir / "toy"
    local = tmp_path / "work"
    (local / "toy").mkdir(parents=True)
    monkeypatch.chdir(local)
    assert resolve_model_dir("toy").resolve() == (local / "toy").resolve()


def test_models_list_and_show(capsys, bundle_dir):
    code, out, _ = run_cli(capsys, "models", "list")
    assert (code, out) == (0, "toy\tA toy model for tests: random weights.\n")
    code, out, _ = run_cli(capsys, "models", "show", "toy")
    assert code == 0
    assert out == (bundle_dir / "toy" / "MODEL_CARD.md").read_text()
    code, _, err = run_cli(capsys, "models", "show", "nope")
    assert code == 2
    assert_one_line_error(err, "nope", "no such bundled model")


def test_annotate_accepts_a_bundle_name(capsys, bundle_dir, tmp_path):
    fasta = tmp_path / "g.fa"
    fasta.write_text(">s\n" + "ACGT" * 600 + "\n")
    code, out, err = run_cli(capsys, "annotate", fasta, "-m", "toy", "-q")
    assert code == 0, err
    assert out.startswith("##gff-version 3")


def test_models_list_says_when_nothing_is_bundled(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(genatator.bundles, "BUNDLES_DIR", tmp_path)
    code, out, err = run_cli(capsys, "models", "list")
    assert (code, out) == (0, "")
    assert "no bundled models" in err
