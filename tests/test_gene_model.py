"""`genatator gene-model count`, the hmm decoder in `annotate`, and the decoding flags."""

from __future__ import annotations

import dataclasses
import gzip
import shutil
from pathlib import Path

import pytest
import torch
from helpers import assert_one_line_error, assert_valid_gff3, run_cli

import genatator.pipeline
from genatator.annotation import read_annotation
from genatator.decode.content import CodonModel
from genatator.decode.counting import (
    CODON_MODEL_FILE,
    count_gene_model,
    has_gene_model,
    load_gene_model,
)
from genatator.decode.parameters import GENE_MODEL_FILE, GeneModelParameters
from genatator.errors import ConfigError
from genatator.model.settings import InferenceSettings
from genatator.regions import parse_regions

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GENOME = EXAMPLES / "dmel_chr2R_slice.fa.gz"
ANNOTATION = EXAMPLES / "dmel_chr2R_slice.refseq.gtf"
SEQID = "chr2R_10000001_10150000"


@pytest.fixture(scope="module")
def counted_model(tmp_path_factory, tiny_random_model):
    """The tiny random model with gene-model files counted from the fly example."""
    target = tmp_path_factory.mktemp("gene-model") / "model"
    shutil.copytree(tiny_random_model, target)
    code = run_cli_plain("gene-model", "count", "--genome", GENOME, "--annotation", ANNOTATION,
                         "--model", target, "--order", 3)  # fmt: skip
    assert code == 0
    return target


def run_cli_plain(*args) -> int:
    from genatator.cli import main

    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def small_genome(tmp_path_factory):
    """15 kb of the fly example with a few coding genes (bases 25001-40000)."""
    with gzip.open(GENOME, "rt") as handle:
        lines = handle.read().split("\n")
    sequence = "".join(lines[1:])[25_000:40_000]
    path = tmp_path_factory.mktemp("genome") / "slice.fa"
    path.write_text(f">{SEQID}\n{sequence}\n")
    return path


# --- counting -----------------------------------------------------------------------------------


def test_gene_model_count_writes_loadable_files(counted_model):
    assert has_gene_model(counted_model)
    parameters, codon_model, matrices = load_gene_model(counted_model)
    assert parameters == GeneModelParameters.load(counted_model)
    assert matrices is not None and matrices.donor.shape == (7, 5)
    assert codon_model.order == 3
    assert isinstance(CodonModel.load(counted_model / CODON_MODEL_FILE), CodonModel)
    genes = read_annotation(ANNOTATION).genes
    assert parameters.genes == len(genes)
    assert not list(counted_model.glob(".gene-model.*"))  # no staging folder left behind


def test_excluded_regions_leave_out_their_genes_and_bases():
    sources = [(GENOME, ANNOTATION)]
    whole = count_gene_model(sources, order=2)
    assert whole.genome_length == 150_000
    regions = parse_regions(f"{SEQID}:1-50000,{SEQID}:40001-60000")
    part = count_gene_model(sources, exclude=regions, order=2)
    assert part.genome_length == 90_000
    genes = read_annotation(ANNOTATION).genes
    outside = [g for g in genes if min(t.start for t in g.transcripts) >= 60_000]
    assert part.genes == len(outside) < whole.genes
    assert part.parameters.genes == part.genes
    with pytest.raises(ConfigError, match="chrZ"):
        count_gene_model(sources, exclude=parse_regions("chrZ:1-10"))
    with pytest.raises(ConfigError, match="past the end"):
        count_gene_model(sources, exclude=parse_regions(f"{SEQID}:1-150001"))


def test_orf_stand_ins_are_complete_orfs_that_mostly_are_the_annotated_cds(tmp_path):
    from genatator.annotation import save_gff3
    from genatator.decode.content import coding_sequences_from_transcripts
    from genatator.decode.counting import MIN_ORF_CODONS, _orf_stand_ins
    from genatator.genome import read_fasta

    annotation = read_annotation(ANNOTATION)
    (record,) = read_fasta(str(GENOME))
    annotated = set(
        coding_sequences_from_transcripts(
            [g.representative() for g in annotation.genes if len(g.representative().exons) > 1],
            record.sequence,
        )
    )
    for gene in annotation.genes:  # an exon-only copy, like GENCODE canonical transcripts
        for transcript in gene.transcripts:
            transcript.cds = []
    exon_only = tmp_path / "exons.gff3"
    save_gff3(annotation, str(exon_only))

    found = _orf_stand_ins(str(GENOME), str(exon_only), {})
    assert len(found) >= 10
    for cds in found:
        assert len(cds) % 3 == 0 and len(cds) >= 3 * (MIN_ORF_CODONS + 1)
        codons = [cds[i : i + 3] for i in range(0, len(cds), 3)]
        assert codons[0] == "ATG" and codons[-1] in ("TAA", "TAG", "TGA")
        assert not {"TAA", "TAG", "TGA"} & set(codons[:-1])
    assert sum(cds in annotated for cds in found) >= 0.8 * len(found)
    # An excluded region takes its transcripts' ORFs away.
    everything = parse_regions(f"{SEQID}:1-150000")
    assert _orf_stand_ins(str(GENOME), str(exon_only), {SEQID: everything}) == []


def test_orf_options_go_together(capsys, counted_model):
    arguments = ["--genome", GENOME, "--annotation", ANNOTATION, "--model", counted_model]
    code, _, err = run_cli(capsys, "gene-model", "count", *arguments, "--orf-genome", GENOME)
    assert code == 2
    assert_one_line_error(err, "--orf-annotation")


def test_gene_model_count_errors_are_one_line(capsys, tmp_path, tiny_random_model):
    base = ["gene-model", "count", "--genome", GENOME, "--annotation", ANNOTATION]
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    cases = [
        ([*base, "--model", not_a_model], ["config.json"]),
        ([*base, "--model", tmp_path / "missing"], ["--model"]),
        ([*base, "--model", tiny_random_model, "--order", "-1"], ["--order"]),
        (
            [*base, "--model", tiny_random_model, "--exclude-regions", "chr2R"],
            ["--exclude-regions"],
        ),
        ([*base, "--model", tiny_random_model, "--exclude-regions", "chrZ:1-9"], ["chrZ"]),
        (
            ["gene-model", "count", "--genome", GENOME, "--model", tiny_random_model],
            ["--annotation"],
        ),
    ]
    for args, fragments in cases:
        code, out, err = run_cli(capsys, *args)
        assert code == 2, (args, err)
        assert out == ""
        assert_one_line_error(err, *fragments)
    assert not has_gene_model(tiny_random_model)


# --- annotate with either decoder ---------------------------------------------------------------


def test_annotate_with_the_hmm_decoder_writes_valid_gff3(
    capsys, counted_model, small_genome, tmp_path, gt_binary, monkeypatch
):
    used = []
    original = genatator.pipeline.hmm_transcripts

    def recording(*args, **kwargs):
        used.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(genatator.pipeline, "hmm_transcripts", recording)
    output = tmp_path / "hmm.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", counted_model, "-o", output,
                           "--decoder", "hmm", "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    assert used and used[0]["site_scorer"] is None
    assert_valid_gff3(gt_binary, output)
    # The model's default is hmm, since it has gene-model files.
    used.clear()
    default = tmp_path / "default.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", counted_model, "-o", default,
                           "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    assert used
    assert default.read_text() == output.read_text()


def test_the_hmm_finds_genes_from_codon_content_alone(
    capsys, counted_model, small_genome, tmp_path, gt_binary
):
    # A random network's tracks say nothing; without them the HMM reads the DNA (codon
    # content, splice and start/stop motifs), which finds the example's coding genes.
    model = tmp_path / "model"
    shutil.copytree(counted_model, model)
    settings = InferenceSettings.load(model)
    dataclasses.replace(settings, hmm={"use_network": False}).save(model)
    output = tmp_path / "content.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model, "-o", output,
                           "--device", "cpu", "-q", "--proteins", tmp_path / "p.faa")  # fmt: skip
    assert code == 0, err
    text = output.read_text()
    assert "\tmRNA\t" in text and "\tCDS\t" in text and "cds_probability=" in text
    assert_valid_gff3(gt_binary, output)
    assert (tmp_path / "p.faa").read_text().startswith(">")


def test_the_threshold_decoder_reproduces_the_old_behaviour(
    capsys, counted_model, tiny_random_model, small_genome, tmp_path
):
    old = tmp_path / "old.gff3"  # no gene-model files: the threshold decoder, as before
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", tiny_random_model, "-o", old,
                           "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    new = tmp_path / "new.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", counted_model, "-o", new,
                           "--decoder", "threshold", "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    assert new.read_text() == old.read_text()


def test_the_hmm_decoder_without_gene_model_files_fails_in_one_line(
    capsys, tiny_random_model, small_genome, tmp_path
):
    output = tmp_path / "out.gff3"
    code, out, err = run_cli(capsys, "annotate", small_genome, "-m", tiny_random_model,
                             "-o", output, "--decoder", "hmm", "-q")  # fmt: skip
    assert code == 2 and out == ""
    assert_one_line_error(err, "genatator gene-model count", "--decoder threshold")
    assert not output.exists()


def test_a_model_default_decoder_of_hmm_without_files_fails_in_one_line(
    capsys, tiny_random_model, small_genome, tmp_path
):
    model = tmp_path / "model"
    shutil.copytree(tiny_random_model, model)
    settings = InferenceSettings.load(model)
    dataclasses.replace(settings, decoder="hmm").save(model)
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model, "-q")
    assert code == 2
    assert_one_line_error(err, "gene-model count")
    dataclasses.replace(settings, decoder="threshold").save(model)
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model, "-q")
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--decoder", "viterbi"], "--decoder"),
        (["--batch-size", "0"], "--batch-size"),
        (["--window", "-5"], "--window"),
        (["--overlap", "1.5"], "--overlap"),
        (["--threads", "0"], "--threads"),
        (["--min-cds-codons", "-1"], "--min-cds-codons"),
        (["--splice-shift", "-2", "--splice-model", "x"], "--splice-shift"),
        (["--splice-model", "x", "--no-splice-model"], "--no-splice-model"),
        (["--splice-shift", "3", "--no-splice-model"], "--splice-shift"),
    ],
)
def test_bad_annotate_options_exit_2_in_one_line(
    capsys, small_genome, tiny_random_model, args, flag
):
    code, out, err = run_cli(capsys, "annotate", small_genome, "-m", tiny_random_model, *args)
    assert code == 2 and out == ""
    assert_one_line_error(err, flag)


# --- the model's default splice-site model --------------------------------------------------------


@pytest.fixture
def model_with_splice_model(tmp_path, counted_model):
    """The counted model with a tiny random CNN splice model as its default (relative path)."""
    from genatator.splice.models import SpliceModelConfig, build_splice_model

    model = tmp_path / "model"
    shutil.copytree(counted_model, model)
    torch.manual_seed(0)
    config = {"arch": "cnn", "window": 32, "channels": 8, "kernel": 5, "dilations": [1, 2]}
    build_splice_model(SpliceModelConfig.from_dict(config)).save_pretrained(model / "splice")
    settings = InferenceSettings.load(model)
    dataclasses.replace(settings, splice_model="splice").save(model)
    return model


@pytest.fixture
def scorers(monkeypatch) -> list:
    """The ``site_scorer`` of every ``hmm_transcripts`` call the pipeline makes, in order."""
    calls: list = []
    original = genatator.pipeline.hmm_transcripts

    def recording(*args, **kwargs):
        calls.append(kwargs["site_scorer"])
        return original(*args, **kwargs)

    monkeypatch.setattr(genatator.pipeline, "hmm_transcripts", recording)
    return calls


def test_the_models_splice_model_feeds_the_hmm_unless_turned_off(
    capsys, model_with_splice_model, small_genome, tmp_path, scorers, gt_binary
):
    output = tmp_path / "sites.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model_with_splice_model,
                           "-o", output, "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    assert scorers and scorers[-1] is not None
    donor, acceptor = scorers[-1](100, 250)
    assert donor.shape == acceptor.shape == (2, 150)
    assert_valid_gff3(gt_binary, output)

    scorers.clear()
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model_with_splice_model,
                           "-o", tmp_path / "plain.gff3", "--device", "cpu", "-q",
                           "--no-splice-model")  # fmt: skip
    assert code == 0, err
    assert scorers == [None]


@pytest.mark.parametrize("arch", ["mamba", "mamba2"])
def test_a_mamba_site_model_feeds_the_hmm_end_to_end(
    arch, capsys, counted_model, small_genome, tmp_path, scorers, gt_binary
):
    """A Mamba site model given with --splice-model (the window classifier, or the dense
    Mamba-2) scores the candidate sites of the decoded region, and annotate writes valid GFF3."""
    from genatator.splice.models import SpliceModelConfig, build_splice_model

    torch.manual_seed(0)
    config = {"arch": arch, "window": 32, "d_model": 16, "n_layers": 1, "d_state": 4}
    if arch == "mamba2":
        config["headdim"] = 8
    build_splice_model(SpliceModelConfig.from_dict(config)).save_pretrained(tmp_path / "sites")
    output = tmp_path / "mamba.gff3"
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", counted_model,
                           "-o", output, "--splice-model", tmp_path / "sites",
                           "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    donor, acceptor = scorers[-1](100, 400)
    assert donor.shape == acceptor.shape == (2, 300)
    assert ((donor >= 0) & (donor <= 1)).all() and (donor > 0).any() and (acceptor > 0).any()
    assert_valid_gff3(gt_binary, output)


def test_a_missing_default_splice_model_is_a_one_line_error(
    capsys, model_with_splice_model, small_genome
):
    shutil.rmtree(model_with_splice_model / "splice")
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model_with_splice_model, "-q")
    assert code == 2
    assert_one_line_error(err, "splice")
    code, _, err = run_cli(capsys, "annotate", small_genome, "-m", model_with_splice_model, "-q",
                           "--no-splice-model")  # fmt: skip
    assert code == 0, err


def test_gene_model_files_constants():
    assert GENE_MODEL_FILE == "gene_model.json"
    assert CODON_MODEL_FILE == "codon_model.npz"


def test_decoder_parts_of_a_model_directory(counted_model, tiny_random_model):
    from genatator.decode.hmm import HmmDecoder
    from genatator.decode.options import HmmOptions
    from genatator.decode.parts import load_decoder_parts

    parts = load_decoder_parts(counted_model)
    assert parts.default_decoding().decoder == "hmm"
    assert isinstance(parts.hmm_decoder(HmmOptions(use_network=False)), HmmDecoder)
    plain = load_decoder_parts(tiny_random_model)
    assert plain.parameters is None and plain.default_decoding().decoder == "threshold"
    with pytest.raises(ConfigError, match="gene-model count"):
        plain.hmm_decoder(HmmOptions())
