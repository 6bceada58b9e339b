"""Decoding options: dict form, smoothing, splice-site snapping, model defaults and the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from helpers import assert_one_line_error, run_cli

import genatator.bundles
import genatator.pipeline
from genatator.bundles import DEFAULT_BUNDLE
from genatator.decode.options import DecodeOverrides, Decoding, HmmOptions, HmmWeights
from genatator.decode.parts import model_decoding
from genatator.errors import ConfigError, ModelError
from genatator.model.settings import SETTINGS_FILE, InferenceSettings
from genatator.postprocess.assembly import (
    ThresholdOptions,
    exon_intron_structure,
    smooth,
)
from genatator.postprocess.dinucleotides import SpliceTable, snap_splice_sites

# --- ThresholdOptions dict form -------------------------------------------------------------------


def test_decode_options_round_trip_through_a_dict():
    options = ThresholdOptions(
        genic_threshold=0.4,
        max_region_gap=7,
        exon_smoothing=5,
        splice_snap=12,
        cds_mode="orf",
        min_cds_codons=30,
        lncrna=False,
    )
    values = options.to_dict()
    assert values["splice_snap"] == 12
    assert ThresholdOptions.from_dict(values) == options
    # JSON-ready: survives a trip through json as well.
    assert ThresholdOptions.from_dict(json.loads(json.dumps(values))) == options
    assert ThresholdOptions.from_dict({}) == ThresholdOptions()
    assert ThresholdOptions.from_dict({"lncrna": False}) == ThresholdOptions(lncrna=False)


def test_decode_options_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="nope"):
        ThresholdOptions.from_dict({"nope": 1})
    with pytest.raises(ValueError, match="nope"):
        ThresholdOptions.from_dict({"min_cds_codons": 3, "nope": 1})


@pytest.mark.parametrize("name", ["exon_smoothing", "splice_snap"])
def test_new_options_default_to_off_and_reject_negatives(name):
    assert getattr(ThresholdOptions(), name) == 0
    assert getattr(ThresholdOptions(**{name: 3}), name) == 3
    with pytest.raises(ValueError, match=name):
        ThresholdOptions(**{name: -1})
    with pytest.raises(ValueError, match=name):
        ThresholdOptions.from_dict({name: -5})
    with pytest.raises(ValueError, match=name):
        ThresholdOptions(**{name: 2.5})


# --- smooth ------------------------------------------------------------------------------------


def test_smooth_is_a_centred_mean_shrunk_at_the_ends():
    # Width 3: [i-1, i+2) clipped: [0,2) [0,3) [1,4) [2,5) [3,5).
    got = smooth(np.array([0, 0, 3, 0, 0], float), 3)
    np.testing.assert_array_equal(got, [0, 1, 1, 1, 0])
    ramp = np.array([1, 2, 3, 4, 5], float)
    # Width 4: [i-2, i+2) clipped: [0,2) [0,3) [0,4) [1,5) [2,5).
    np.testing.assert_array_equal(smooth(ramp, 4), [1.5, 2.0, 2.5, 3.5, 4.0])
    # Width 2: [i-1, i+1) clipped: the base itself and the one before it.
    np.testing.assert_array_equal(smooth(ramp, 2), [1.0, 1.5, 2.5, 3.5, 4.5])
    # Wider than the track: every base averages the whole track.
    np.testing.assert_array_equal(smooth(np.array([1, 2, 3], float), 10), [2, 2, 2])


def test_smooth_width_0_or_1_returns_the_input():
    track = np.array([0.25, 0.75, 0.5])
    assert smooth(track, 0) is track
    assert smooth(track, 1) is track
    empty = np.zeros(0)
    assert smooth(empty, 5) is empty


# --- smoothing in gene_regions and exon_intron_structure ----------------------------------------


def exon_track() -> np.ndarray:
    """Exon [0, 30) with a 1-nt dip at 15, intron [30, 50), exon [50, 80)."""
    probabilities = np.zeros((80, 5))
    probabilities[:, 1], probabilities[:, 2] = 0.9, 0.1
    probabilities[30:50, 1], probabilities[30:50, 2] = 0.1, 0.9
    probabilities[15, 1], probabilities[15, 2] = 0.2, 0.8
    return probabilities


def test_exon_smoothing_bridges_a_one_base_dip_but_keeps_real_introns():
    probabilities = exon_track()
    raw = exon_intron_structure(probabilities, ThresholdOptions(min_intron_length=1))
    assert raw == [(0, 15), (16, 30), (50, 80)]
    # Width 5 averages [i-2, i+3): at 15, (4 * 0.8 - 0.6) / 5 > 0; at the real intron's edges
    # 3 of 5 bases decide, so the edges stay at 30 and 50.
    options = ThresholdOptions(min_intron_length=1, exon_smoothing=5)
    assert exon_intron_structure(probabilities, options) == [(0, 30), (50, 80)]


# --- snap_splice_sites --------------------------------------------------------------------------


def plus_gene(decoy: bool = False) -> tuple[str, np.ndarray]:
    """120 nt of C: exon [0, 40), intron [40, 80) with GT at 40 and AG at 78, exon [80, 120).

    The exonness track is +1 on exon bases and -1 on intron bases. With ``decoy`` a second GT
    sits at 36, nearer to a boundary given at 37 but a worse fit to the track.
    """
    bases = ["C"] * 120
    bases[40:42] = "GT"
    bases[78:80] = "AG"
    if decoy:
        bases[36:38] = "GT"
    exonness = np.ones(120)
    exonness[40:80] = -1.0
    return "".join(bases), exonness


def test_snap_moves_plus_strand_boundaries_to_the_true_sites():
    sequence, exonness = plus_gene()
    table = SpliceTable.canonical()
    moved = snap_splice_sites([(0, 37), (83, 120)], "+", sequence, exonness, table, 5)
    assert moved == [(0, 40), (80, 120)]
    moved = snap_splice_sites([(0, 43), (77, 120)], "+", sequence, exonness, table, 5)
    assert moved == [(0, 40), (80, 120)]


def test_snap_prefers_the_best_fit_over_the_nearest_legal_site():
    sequence, exonness = plus_gene(decoy=True)
    table = SpliceTable.canonical()
    # Boundary at 37: GT at 36 (1 nt away) and at 40 (3 nt away). Scores: at 40 the exon side
    # [24, 40) sums 16 and the intron side [40, 56) -16, step 32; at 36 [20, 36) sums 16 and
    # [36, 52) 4 - 12 = -8, step 24. The farther, better-fitting site wins.
    moved = snap_splice_sites([(0, 37), (80, 120)], "+", sequence, exonness, table, 5)
    assert moved == [(0, 40), (80, 120)]
    # Out of reach of 40, the decoy is the only legal site.
    moved = snap_splice_sites([(0, 35), (80, 120)], "+", sequence, exonness, table, 2)
    assert moved == [(0, 36), (80, 120)]


def test_snap_moves_minus_strand_boundaries_to_reverse_complemented_sites():
    # On '-' the intron reads from genome position 80 leftwards: its donor GT is AC at [78, 80)
    # (beside exon [80, 120)'s left edge) and its acceptor AG is CT at [40, 42) (beside exon
    # [0, 40)'s right edge).
    bases = ["C"] * 120
    bases[40:42] = "CT"
    bases[78:80] = "AC"
    sequence = "".join(bases)
    exonness = np.ones(120)
    exonness[40:80] = -1.0
    table = SpliceTable.canonical()
    moved = snap_splice_sites([(0, 37), (83, 120)], "-", sequence, exonness, table, 5)
    assert moved == [(0, 40), (80, 120)]
    moved = snap_splice_sites([(0, 44), (76, 120)], "-", sequence, exonness, table, 5)
    assert moved == [(0, 40), (80, 120)]
    # Read as '+', CT at 40 is no donor, so that boundary stays; AC before 80 is a legal
    # (U12) acceptor on '+' as well, so that one still moves.
    given = [(0, 37), (83, 120)]
    assert snap_splice_sites(given, "+", sequence, exonness, table, 5) == [(0, 37), (80, 120)]


def test_snap_without_reach_or_legal_site_keeps_boundaries():
    sequence, exonness = plus_gene()
    table = SpliceTable.canonical()
    given = [(0, 37), (83, 120)]
    assert snap_splice_sites(given, "+", sequence, exonness, table, 0) == given
    # The donor reaches GT at 40; nothing legal lies within 3 nt of 90, so it stays.
    moved = snap_splice_sites([(0, 38), (90, 120)], "+", sequence, exonness, table, 3)
    assert moved == [(0, 40), (90, 120)]
    # A single exon has no splice boundary.
    assert snap_splice_sites([(3, 117)], "+", sequence, exonness, table, 20) == [(3, 117)]
    with pytest.raises(ValueError, match="strand"):
        snap_splice_sites(given, ".", sequence, exonness, table, 5)


def test_snap_never_moves_transcript_ends_and_keeps_the_exon_count():
    # Three exons: [0, 30), [50, 70), [90, 120); GT at 30 and 70, AG at [48, 50) and [88, 90).
    # A GT at 2 and an AG at 116 sit beside the transcript ends, which must not move anyway.
    bases = ["C"] * 120
    for position, motif in ((30, "GT"), (70, "GT"), (48, "AG"), (88, "AG"), (2, "GT"), (116, "AG")):
        bases[position : position + 2] = motif
    sequence = "".join(bases)
    exonness = -np.ones(120)
    for start, end in ((0, 30), (50, 70), (90, 120)):
        exonness[start:end] = 1.0
    given = [(4, 27), (53, 66), (86, 115)]
    moved = snap_splice_sites(given, "+", sequence, exonness, SpliceTable.canonical(), 5)
    assert moved == [(4, 30), (50, 70), (90, 115)]
    assert len(moved) == len(given)


# --- InferenceSettings.decode ------------------------------------------------------------------


def test_inference_settings_carry_decoding_defaults(tmp_path):
    settings = InferenceSettings(window=2000, decode={"min_cds_codons": 30, "splice_snap": 10})
    settings.save(tmp_path)
    loaded = InferenceSettings.load(tmp_path)
    assert loaded == settings
    decoding = model_decoding(loaded, tmp_path, DecodeOverrides())
    assert decoding.decoder == "threshold"  # no gene-model files
    options = decoding.threshold
    assert options == ThresholdOptions(min_cds_codons=30, splice_snap=10)
    assert options.lncrna is True  # untouched options keep their defaults
    overridden = model_decoding(loaded, tmp_path, DecodeOverrides(min_cds_codons=5))
    assert overridden.threshold == ThresholdOptions(min_cds_codons=5, splice_snap=10)
    empty = model_decoding(InferenceSettings(), tmp_path, DecodeOverrides())
    assert empty.threshold == ThresholdOptions()
    # Without decode the file has no decode entry and loads back as None.
    InferenceSettings(window=7).save(tmp_path)
    assert "decode" not in json.loads((tmp_path / SETTINGS_FILE).read_text())
    assert InferenceSettings.load(tmp_path) == InferenceSettings(window=7)


@pytest.mark.parametrize("decode", [[1, 2], "lncrna"])
def test_inference_settings_reject_a_decode_entry_that_is_not_an_object(tmp_path, decode):
    values = {"format": 1, "window": 2000, "splice_table": None, "decode": decode}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(values))
    with pytest.raises(ModelError, match="decode must be an object"):
        InferenceSettings.load(tmp_path)


@pytest.mark.parametrize(
    ("decode", "fragment"), [({"nope": 1}, "nope"), ({"splice_snap": -1}, "splice_snap")]
)
def test_model_decoding_rejects_bad_entries(decode, fragment):
    with pytest.raises(ModelError, match=f"m/inference.json: bad decode settings.*{fragment}"):
        Decoding.resolve(
            decode=decode,
            hmm=None,
            decoder=None,
            overrides=DecodeOverrides(),
            gene_model=False,
            source="m/inference.json",
        )


# --- DecodeOverrides and Decoding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "flag"),
    [
        ({"decoder": "viterbi"}, "--decoder"),
        ({"cds_mode": "longest"}, "--cds-mode"),
        ({"min_cds_codons": -1}, "--min-cds-codons"),
        ({"min_cds_codons": 2.5}, "--min-cds-codons"),
        ({"site_shift": -3}, "--splice-shift"),
        ({"lncrna": "no"}, "--no-lncrna"),
        ({"splice_filter": 0}, "--no-splice-filter"),
    ],
)
def test_decode_overrides_name_the_flag_of_a_bad_value(values, flag):
    with pytest.raises(ConfigError, match=f"^{flag}[ :]"):
        DecodeOverrides(**values)
    assert set(DecodeOverrides.FLAG) == {f.name for f in dataclasses.fields(DecodeOverrides)}


def _resolve(overrides=None, *, gene_model=False, **settings):
    overrides = overrides or DecodeOverrides()
    values = {"decode": None, "hmm": None, "decoder": None, **settings}
    return Decoding.resolve(
        **values, overrides=overrides, gene_model=gene_model, source="m/inference.json",
        directory="m",
    )  # fmt: skip


def test_the_decoder_defaults_to_hmm_only_with_gene_model_files():
    assert _resolve().decoder == "threshold"
    assert _resolve(gene_model=True).decoder == "hmm"
    assert _resolve(gene_model=True, decoder="threshold").decoder == "threshold"
    chosen = _resolve(DecodeOverrides(decoder="threshold"), gene_model=True, decoder="hmm")
    assert chosen.decoder == "threshold"
    assert _resolve(DecodeOverrides(decoder="hmm"), gene_model=True).decoder == "hmm"


def test_the_hmm_decoder_without_gene_model_files_says_how_to_add_them():
    with pytest.raises(ConfigError, match=r"gene-model count.*--decoder threshold"):
        _resolve(DecodeOverrides(decoder="hmm"))
    with pytest.raises(ModelError, match=r"gene-model count.*--decoder threshold"):
        _resolve(decoder="hmm")


def test_decoding_takes_the_models_hmm_options_and_overrides_on_top():
    decoding = _resolve(
        DecodeOverrides(lncrna=False, min_cds_codons=7, site_shift=3),
        gene_model=True,
        hmm={"anchor_length": 500, "weights": {"gene": 0.5}},
        decode={"splice_snap": 4},
    )
    assert decoding.hmm == HmmOptions(anchor_length=500, weights=HmmWeights(gene=0.5), lncrna=False)
    assert decoding.threshold == ThresholdOptions(
        splice_snap=4, lncrna=False, min_cds_codons=7, site_shift=3
    )
    assert HmmOptions.from_dict(decoding.hmm.to_dict()) == decoding.hmm


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"hmm": {"nope": 1}}, "bad hmm settings.*nope"),
        ({"hmm": {"weights": {"gene": -1.0}}}, "bad hmm settings.*gene"),
        ({"decoder": "viterbi"}, "bad decoder setting 'viterbi'"),
    ],
)
def test_decoding_rejects_bad_model_entries(settings, fragment):
    with pytest.raises(ModelError, match=f"m/inference.json: {fragment}"):
        _resolve(**settings)


def test_inference_settings_carry_hmm_decoder_and_splice_model(tmp_path):
    settings = InferenceSettings(
        window=2000, hmm=HmmOptions().to_dict(), decoder="hmm", splice_model="splice-fly"
    )
    settings.save(tmp_path)
    assert InferenceSettings.load(tmp_path) == settings
    # An older file without them loads, and they stay out of a file that does not set them.
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"format": 1, "window": 5}))
    assert InferenceSettings.load(tmp_path) == InferenceSettings(window=5)
    InferenceSettings(window=5).save(tmp_path)
    assert set(json.loads((tmp_path / SETTINGS_FILE).read_text())) == {
        "format",
        "window",
        "splice_table",
    }


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"hmm": [1]}, "hmm must be an object"),
        ({"decoder": "viterbi"}, "decoder must be one of"),
        ({"splice_model": 3}, "splice_model must be"),
    ],
)
def test_inference_settings_reject_bad_hmm_entries(tmp_path, entry, fragment):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"format": 1, "window": 5, **entry}))
    with pytest.raises(ModelError, match=fragment):
        InferenceSettings.load(tmp_path)


def test_settings_and_options_agree_on_the_decoders():
    from genatator.decode.options import DECODERS
    from genatator.model import settings as settings_module

    assert settings_module._DECODERS == DECODERS


# --- the CLI: the default bundle and the model's decoding defaults ------------------------------


@pytest.fixture
def human_bundle(tmp_path, monkeypatch, tiny_random_model):
    """A bundles folder whose one bundle, named like the default, is the tiny random model."""
    root = tmp_path / "bundles"
    shutil.copytree(tiny_random_model, root / DEFAULT_BUNDLE)
    (root / DEFAULT_BUNDLE / "MODEL_CARD.md").write_text("# human\n\nA stand-in for tests.\n")
    monkeypatch.setattr(genatator.bundles, "BUNDLES_DIR", root)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no local directory named like the bundle
    return root / DEFAULT_BUNDLE


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "g.fa"
    path.write_text(">s\n" + "ACGT" * 600 + "\n")
    return path


@pytest.fixture
def recorded_options(monkeypatch):
    """Every ThresholdOptions the pipeline hands to call_transcripts."""
    seen: list[ThresholdOptions] = []
    original = genatator.pipeline.call_transcripts

    def recording(*args, **kwargs):
        seen.append(kwargs["options"])
        return original(*args, **kwargs)

    monkeypatch.setattr(genatator.pipeline, "call_transcripts", recording)
    return seen


def test_annotate_uses_the_default_bundle_without_model(capsys, human_bundle, fasta):
    assert DEFAULT_BUNDLE == "human"
    code, out, err = run_cli(capsys, "annotate", fasta, "-q")
    assert code == 0, err
    assert out.startswith("##gff-version 3")
    assert "##sequence-region s 1 2400" in out


def test_annotate_takes_decoding_defaults_from_the_model(
    capsys, human_bundle, fasta, recorded_options
):
    settings = InferenceSettings.load(human_bundle)
    dataclasses.replace(settings, decode={"lncrna": False}).save(human_bundle)
    assert InferenceSettings.load(human_bundle).window == settings.window

    code, _, err = run_cli(capsys, "annotate", fasta, "-q")
    assert code == 0, err
    assert recorded_options and recorded_options[-1] == ThresholdOptions(lncrna=False)

    recorded_options.clear()
    code, _, err = run_cli(capsys, "annotate", fasta, "-q", "--min-cds-codons", "7")
    assert code == 0, err
    assert recorded_options[-1] == ThresholdOptions(lncrna=False, min_cds_codons=7)


def test_annotate_rejects_a_negative_min_cds_codons(capsys, human_bundle, fasta):
    code, out, err = run_cli(capsys, "annotate", fasta, "-q", "--min-cds-codons", "-1")
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "--min-cds-codons", "-1")


def test_annotate_reports_a_model_with_bad_decode_settings(capsys, human_bundle, fasta):
    path = human_bundle / SETTINGS_FILE
    values = json.loads(path.read_text())
    values["decode"] = {"nope": 1}
    path.write_text(json.dumps(values))
    code, _, err = run_cli(capsys, "annotate", fasta, "-q")
    assert code == 2
    assert_one_line_error(err, SETTINGS_FILE, "nope")
