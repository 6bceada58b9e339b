"""`genatator splice` extract → train → evaluate → predict, and `annotate --splice-model`."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from helpers import assert_one_line_error, assert_valid_gff3, random_dna, run_cli

from genatator.annotation import Gene, Transcript, read_annotation, save_gff3
from genatator.genome import reverse_complement

LENGTH = 30_000
NAMES = ("chrA", "chrB", "chrC")
DONOR_SIGNAL, ACCEPTOR_SIGNAL = "GTAAGT", "TTTTCAG"


def _planted_genome(directory):
    """Three sequences with three-exon genes on both strands whose introns carry strong motifs.

    Returns the FASTA and GFF3 paths and the number of (donor, acceptor) sites per sequence.
    """
    genes, sequences = [], {}
    for index, name in enumerate(NAMES):
        bases = list(random_dna(LENGTH, seed=10 + index))
        for g, start in enumerate(range(1000, LENGTH - 2000, 1800)):
            strand = "+" if g % 2 == 0 else "-"
            exons = [(start, start + 200), (start + 500, start + 650), (start + 1000, start + 1300)]
            for (_, intron_start), (intron_end, _) in itertools.pairwise(exons):
                # Transcript orientation: donor signal at the intron start, acceptor at its end.
                first, last = DONOR_SIGNAL, ACCEPTOR_SIGNAL
                if strand == "-":
                    first, last = (
                        reverse_complement(ACCEPTOR_SIGNAL),
                        reverse_complement(DONOR_SIGNAL),
                    )
                bases[intron_start : intron_start + len(first)] = first
                bases[intron_end - len(last) : intron_end] = last
            tid = f"{name}.t{g}"
            gene_id = f"{name}.g{g}"
            transcript = Transcript(tid, name, strand, exons, kind="lnc_RNA", gene_id=gene_id)
            genes.append(Gene(f"{name}.g{g}", name, strand, [transcript]))
        sequences[name] = "".join(bases)
    fasta, gff = directory / "genome.fa", directory / "genes.gff3"
    with fasta.open("w") as handle:
        for name, sequence in sequences.items():
            handle.write(f">{name}\n")
            handle.writelines(sequence[i : i + 80] + "\n" for i in range(0, LENGTH, 80))
    save_gff3(genes, gff, sequence_lengths=dict.fromkeys(NAMES, LENGTH))
    per_sequence = len(range(1000, LENGTH - 2000, 1800)) * 2
    return fasta, gff, per_sequence


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    directory = tmp_path_factory.mktemp("splice")
    fasta, gff, sites = _planted_genome(directory)
    return directory, fasta, gff, sites


@pytest.fixture(scope="module")
def trained(workspace):
    """Dataset and a small CNN trained on it through the CLI (one call each, shared)."""
    directory, fasta, gff, _ = workspace
    data, run = directory / "data", directory / "run"
    code = _main("splice", "extract", fasta, gff, "-o", data, "--window", 512, "--margin", 10,
                 "--val", "chrB", "--test", "chrC")  # fmt: skip
    assert code == 0
    code = _main("splice", "train", data, "-o", run, "--arch", "cnn", "--channels", 8,
                 "--max-steps", 300, "--max-epochs", 100, "--eval-every", 50, "--batch-size", 16,
                 "--threads", 1)  # fmt: skip
    assert code == 0
    return data, run / "best"


def _main(*args) -> int:
    from genatator.cli import main

    return main([str(a) for a in args])


def test_extract_writes_splits_by_sequence(workspace, trained):
    from genatator.splice.dataset import load_split, read_manifest

    _, _, _, sites = workspace
    data, _ = trained
    manifest = read_manifest(data)
    assert manifest["options"]["window"] == 512
    for split, name in (("train", "chrA"), ("val", "chrB"), ("test", "chrC")):
        rows = load_split(data, split)
        assert set(rows.seqid.tolist()) == {manifest["sequences"].index(name)}
        # Every intron boundary of the sequence is a positive; none is dropped here.
        assert int(np.sum(rows.source == 0)) == 2 * sites


def test_evaluate_reports_balanced_and_genome_scale(workspace, trained, tmp_path, capsys):
    _, fasta, gff, sites = workspace
    data, model = trained
    report_path = tmp_path / "report.json"
    code, _, err = run_cli(capsys, "splice", "evaluate", model, "--data", data, "--genome", fasta,
                           "--annotation", gff, "--regions", f"chrC:1-{LENGTH}", "--json",
                           "-o", report_path, "--device", "cpu", "--threads", 1)  # fmt: skip
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert set(report["balanced"]) == {"decoy", "random"}
    decoy = report["balanced"]["decoy"]
    assert decoy["class_counts"]["donor"] == decoy["class_counts"]["acceptor"] == sites
    donor = report["genome_scale"]["donor"]
    assert donor["genome"]["n_true"] == sites and donor["in_gene"]["n_true"] == sites
    # Both strands count: the genome scope holds 2 × LENGTH bases.
    assert donor["genome"]["n_bases"] == 2 * LENGTH
    # A few hundred steps on 32 sites: the CNN ranks true donors far above chance (the prior).
    assert donor["genome"]["prior"] == pytest.approx(sites / (2 * LENGTH))
    assert donor["genome"]["pr_auc"] > 20 * donor["genome"]["prior"]
    code, out, _ = run_cli(capsys, "splice", "evaluate", model, "--data", data, "--threads", 1)
    assert code == 0 and "decoy" in out and "accuracy" in out


def test_predict_writes_sorted_bed_and_tracks(workspace, trained, tmp_path, capsys):
    _, fasta, _, _ = workspace
    _, model = trained
    bed, tracks = tmp_path / "sites.bed", tmp_path / "tracks"
    code, _, err = run_cli(capsys, "splice", "predict", model, fasta, "-o", bed, "--min-score",
                           0.2, "--regions", f"chrC:1-{LENGTH}", "--tracks", tracks,
                           "--device", "cpu")  # fmt: skip
    assert code == 0, err
    rows = [line.split("\t") for line in bed.read_text().splitlines()]
    assert rows, "the trained model predicts some site above 0.2"
    for chrom, start, end, name, score, strand in rows:
        assert chrom == "chrC" and name in ("donor", "acceptor") and strand in "+-"
        # The 2-nt motif, clipped at the sequence start.
        assert int(end) - int(start) == 2 or start == "0"
        assert 200 <= int(score) <= 1000
    starts = [int(row[1]) for row in rows]
    assert starts == sorted(starts)
    assert sorted(p.name for p in tracks.iterdir()) == [
        "acceptor_minus.bedGraph",
        "acceptor_plus.bedGraph",
        "donor_minus.bedGraph",
        "donor_plus.bedGraph",
    ]
    code, out, _ = run_cli(capsys, "splice", "predict", model, fasta, "--min-score", 0.2,
                           "--regions", f"chrC:1-{LENGTH}", "--device", "cpu")  # fmt: skip
    assert code == 0 and out == bed.read_text()


def test_annotate_with_splice_model(workspace, trained, tmp_path, capsys, gt_binary):
    _, fasta, _, _ = workspace
    _, model = trained
    out = tmp_path / "genes.gff3"
    # The fly bundle (unlike a random model) calls multi-exon transcripts here; the threshold
    # decoder snaps their boundaries to the splice model's sites and writes its scores.
    code, _, err = run_cli(capsys, "annotate", fasta, "-m", "fly", "--splice-model", model,
                           "--decoder", "threshold", "--threads", 1, "--min-cds-codons", 10,
                           "-o", out)  # fmt: skip
    assert code == 0, err
    assert_valid_gff3(gt_binary, out)
    spliced = [t for g in read_annotation(out).genes for t in g.transcripts if len(t.exons) > 1]
    assert spliced, "the region yields multi-exon transcripts, so the scores are exercised"
    assert all("min_splice_score" in t.attributes for t in spliced)


def test_cnn_shape_options_and_a_receptive_field_wider_than_the_window(trained, tmp_path, capsys):
    from genatator.splice.models import SpliceModelConfig

    data, _ = trained
    code = _main("splice", "train", data, "-o", tmp_path / "r", "--channels", 4, "--kernel", 5,
                 "--dilations", "1x2,3", "--max-steps", 1, "--threads", 1)  # fmt: skip
    assert code == 0
    saved = json.loads((tmp_path / "r" / "best" / "config.json").read_text())
    fields = {k: v for k, v in saved.items() if k not in ("model_type", "genatator_version")}
    config = SpliceModelConfig.from_dict(fields)
    assert (config.kernel, config.dilations, config.cnn_context) == (5, (1, 1, 3), 40)
    capsys.readouterr()
    # 2·10·(1·4 + 25·4) = 2080 nt of context cannot be trained on 512-nt windows.
    code, _, err = run_cli(capsys, "splice", "train", data, "-o", tmp_path / "w",
                           "--dilations", "1x4,25x4", "--threads", 1)  # fmt: skip
    assert code == 2
    assert_one_line_error(err, "receptive field (2081 nt)", "512-nt windows")
    code, _, err = run_cli(capsys, "splice", "train", data, "-o", tmp_path / "x",
                           "--dilations", "4y2", "--threads", 1)  # fmt: skip
    assert code == 2
    assert_one_line_error(err, "--dilations", "'4y2'")


def test_bad_input_is_one_line(workspace, trained, tiny_random_model, tmp_path, capsys):
    _, fasta, gff, _ = workspace
    _data, model = trained
    code, _, err = run_cli(capsys, "splice", "extract", tmp_path / "none.fa", gff, "-o",
                           tmp_path / "d")  # fmt: skip
    assert code == 2
    assert_one_line_error(err, "none.fa")
    code, _, err = run_cli(capsys, "splice", "train", tmp_path, "-o", tmp_path / "r")
    assert code == 2
    assert_one_line_error(err)
    code, _, err = run_cli(capsys, "splice", "evaluate", model, "--genome", fasta)
    assert code == 2
    assert_one_line_error(err, "--annotation")
    code, _, err = run_cli(capsys, "splice", "predict", model, fasta, "--min-score", 2)
    assert code == 2
    assert_one_line_error(err, "--min-score")
    code, _, err = run_cli(capsys, "splice", "predict", tiny_random_model, fasta)
    assert code == 2
    assert_one_line_error(err, "splice")
    missing = tmp_path / "missing.bed"
    code, _, err = run_cli(capsys, "splice", "predict", model, fasta, "--regions", "chrZ:1-100",
                           "-o", missing, "--device", "cpu")  # fmt: skip
    assert code == 2 and not missing.exists()
    assert_one_line_error(err, "chrZ")
    code, _, err = run_cli(capsys, "annotate", fasta, "-m", tiny_random_model, "--splice-shift", 5)
    assert code == 2
    assert_one_line_error(err, "--splice-model")
