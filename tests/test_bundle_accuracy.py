"""The shipped bundles load and keep their measured accuracy on held-out example slices.

The floors are the values measured when the bundles were made (their MODEL_CARD.md) minus a
margin, so any regression in the model, the decoding or the evaluation fails here. The slices in
``examples/`` were cut from the bundles' validation regions, so the tests need no ``../shared``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from genatator.bundles import DEFAULT_BUNDLE, bundles, get_bundle
from genatator.decode.options import DecodeOverrides
from genatator.decode.parts import model_decoding
from genatator.model.directory import load_model_directory
from genatator.model.settings import InferenceSettings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# name -> (example genome, reference, floors measured minus margin, measured)
CASES = {
    "fly": (
        "dmel_chr2R_val_slice.fa.gz",
        "dmel_chr2R_val_slice.gtf",
        # measured with the default HMM decoder (weights refitted on chr2R:17.98-18.48 Mb, the
        # network's weight 0): exon F1 0.512, CDS F1 0.796, nucleotide exon F1 0.716,
        # intron-chain gene recall 28/80 (threshold decoder: 0.364 and 3/80)
        {
            "exon_f1": 0.46,
            "cds_f1": 0.74,
            "nucleotide_exon_f1": 0.66,
            "gene_intron_chain_found": 24,
        },
    ),
    "human": (
        "hg19_chr21_slice.fa.gz",
        "hg19_chr21_slice.gtf",
        # measured with the default HMM decoder (splice-human trained on ten decoys per site,
        # long_intron_scale 0.125): exon F1 0.395, CDS F1 0.410, nucleotide exon F1 0.305,
        # 4 transcripts (threshold decoder: nucleotide exon F1 0.071)
        {"exon_f1": 0.34, "cds_f1": 0.35, "nucleotide_exon_f1": 0.25, "gene_intron_chain_found": 0},
    ),
}


def test_the_fly_and_human_bundles_ship_and_human_is_the_default():
    assert {"fly", "human"} <= {bundle.name for bundle in bundles()}
    assert DEFAULT_BUNDLE == "human"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundle_loads_with_its_settings_and_card(name):
    bundle = get_bundle(name)
    model, _ = load_model_directory(bundle.path)
    assert model.config.preset == "tiny"
    assert sum(p.numel() for p in model.parameters()) == 1_017_701
    settings = InferenceSettings.load(bundle.path)
    assert settings.window is not None and 2_000 < settings.window < 3_000
    assert settings.splice_table is not None
    model_decoding(settings, bundle.path, DecodeOverrides())  # valid decoding defaults
    assert bundle.summary.startswith("Experimental")
    assert "AUGUSTUS" in bundle.card
    size = sum(f.stat().st_size for f in bundle.path.iterdir())
    assert size < 20_000_000  # keeps the wheel small


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundle_keeps_its_accuracy_on_a_held_out_slice(name, capsys, tmp_path):
    genome, reference, floors = CASES[name]
    prediction = tmp_path / "prediction.gff3"
    code, _, err = run_cli(
        capsys, "annotate", EXAMPLES / genome, "-m", name, "-o", prediction, "-q"
    )
    assert code == 0, err
    code, out, err = run_cli(capsys, "evaluate", prediction, EXAMPLES / reference, "--json")
    assert code == 0, err
    report = json.loads(out)
    nucleotide = report["nucleotide"]["exon"]["all"]
    assert nucleotide["f1"] >= floors["nucleotide_exon_f1"]
    assert report["exon"]["all"]["f1"] >= floors["exon_f1"]
    assert report["cds"]["coding"]["f1"] >= floors["cds_f1"]
    found = report["gene"]["intron_chain"]["recall"]["all"]["found"]
    assert found >= floors["gene_intron_chain_found"]
    assert report["counts"]["prediction"]["transcripts"] > 0
