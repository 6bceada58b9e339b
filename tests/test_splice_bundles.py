"""The shipped splice-site bundles load, carry cards, and stay above accuracy floors on held-out
example slices (genome-scale PR-AUC, the metric that matters for a scan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genatator.bundles import get_bundle
from genatator.regions import Region
from genatator.splice.evaluate import genome_scale
from genatator.splice.models import load_splice_model, parameter_count

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# name, slice stem, sequence name, floors (donor, acceptor PR-AUC inside genes). Measured with
# `genatator splice evaluate NAME --genome SLICE.fa.gz --annotation SLICE.gtf
# --regions SEQ:1-500000`: splice-fly 0.591 / 0.799, splice-human 0.478 / 0.453.
CASES = [
    ("splice-fly", "dmel_chr2R_val_slice", "chr2R_19280001_19780000", 0.45, 0.65),
    ("splice-human", "hg19_chr21_slice", "chr21_34600001_35100000", 0.40, 0.38),
]


@pytest.mark.parametrize("name", ["splice-fly", "splice-human"])
def test_splice_bundle_loads_with_card(name):
    bundle = get_bundle(name)
    assert "## Held-out results" in bundle.card
    model = load_splice_model(bundle.path)
    assert model.config.arch == "cnn" and model.config.window == 512
    assert parameter_count(model) == 185_187


@pytest.mark.slow
@pytest.mark.parametrize(("name", "stem", "seqid", "donor_floor", "acceptor_floor"), CASES)
def test_splice_bundle_accuracy_floor(name, stem, seqid, donor_floor, acceptor_floor):
    import torch

    torch.set_num_threads(1)
    model = load_splice_model(get_bundle(name).path)
    report = genome_scale(
        model,
        EXAMPLES / f"{stem}.fa.gz",
        EXAMPLES / f"{stem}.gtf",
        [Region(seqid, 0, 500_000)],
    )
    assert report["donor"]["in_gene"]["pr_auc"] >= donor_floor
    assert report["acceptor"]["in_gene"]["pr_auc"] >= acceptor_floor
