"""Damaged, binary, empty and spec-violating inputs (issue 16): every reader answers with one
line that names the file, exit status 2, and leaves no output behind."""

from __future__ import annotations

import gzip
import io
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, run_cli, write_synthetic_genome

from genatator.annotation import read_annotation
from genatator.bundles import BUNDLES_DIR
from genatator.errors import ConfigError, InputError
from genatator.regions import Region
from genatator.training.config import TrainConfig
from genatator.training.prepare import GenomeSource, prepare

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_GTF = EXAMPLES / "dmel_chr2R_slice.refseq.gtf"
AUGUSTUS_GFF3 = Path(__file__).parent / "data" / "augustus_fly.gff3"
FAST = ["--window", "2000", "--batch-size", "4", "--threads", "1", "--no-rc"]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def _members(data: bytes) -> tuple[bytes, bytes]:
    """``data`` as two gzip members, as bgzip writes it (blocks are separate members)."""
    half = len(data) // 2
    return gzip.compress(data[:half], mtime=0), gzip.compress(data[half:], mtime=0)


def damage(data: bytes, kind: str) -> bytes:
    """``data`` gzip- or bgzip-compressed, then damaged as a full disk or a cut copy leaves it."""
    whole = gzip.compress(data, mtime=0)
    first, second = _members(data)
    if kind == "gzip-truncated":
        return whole[: len(whole) * 2 // 3]
    if kind == "bgzip-truncated":  # a few bytes short: the last member lacks its trailer
        return first + second[:-6]
    if kind == "bgzip-cut-in-second":
        return first + second[: len(second) // 2]
    if kind == "bad-crc":
        corrupt = bytearray(first + second)
        corrupt[-8] ^= 0xFF  # the last member's CRC-32
        return bytes(corrupt)
    if kind == "garbage-inside":
        corrupt = bytearray(whole)
        middle = len(corrupt) // 2
        corrupt[middle : middle + 32] = b"\xff" * 32
        return bytes(corrupt)
    if kind == "garbage-after":
        return whole + b"not gzip at all"
    raise AssertionError(kind)


DAMAGE = [
    "gzip-truncated",
    "bgzip-truncated",
    "bgzip-cut-in-second",
    "bad-crc",
    "garbage-inside",
    "garbage-after",
]


def damage_message(kind: str) -> str:
    """What the error says: garbage inside may decompress to a malformed line (reported as such)
    before the member's CRC-32 is checked."""
    return "" if kind == "garbage-inside" else "gzip stream is truncated or corrupt"


def run(capsys, *args) -> tuple[int, str, str]:
    """``genatator -q ARGS``: only warnings and errors reach stderr."""
    return run_cli(capsys, "-q", *args)


def assert_failed_cleanly(result: tuple[int, str, str], directory: Path, kept, *fragments) -> None:
    """Exit 2, one error line naming ``fragments``, and nothing in ``directory`` but ``kept``."""
    code, _, err = result
    assert code == 2, err
    assert_one_line_error(err, *map(str, fragments))
    assert sorted(p.name for p in directory.iterdir()) == sorted(Path(k).name for k in kept)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    """A small random genome (FASTA) and a GFF3 of genes on it."""
    directory = tmp_path_factory.mktemp("synthetic")
    return write_synthetic_genome(directory, {"chrA": 6000, "chrB": 5000}, genes_per_sequence=2)


# -- item 3: truncated or corrupt gzip/bgzip ------------------------------------------------------


@pytest.mark.parametrize("kind", DAMAGE)
@pytest.mark.parametrize("source", [AUGUSTUS_GFF3, EXAMPLE_GTF], ids=["gff3", "gtf"])
@pytest.mark.parametrize("command", ["convert", "evaluate-prediction", "evaluate-reference"])
def test_damaged_gzip_annotation_is_a_one_line_error(capsys, tmp_path, kind, source, command):
    bad = tmp_path / f"bad{source.suffix}.gz"
    bad.write_bytes(damage(source.read_bytes(), kind))
    out = tmp_path / "out"
    args = {
        "convert": ["convert", bad, "-o", out],
        "evaluate-prediction": ["evaluate", bad, source, "-o", out],
        "evaluate-reference": ["evaluate", source, bad, "-o", out],
    }[command]
    result = run(capsys, *args)
    assert_failed_cleanly(result, tmp_path, [bad], bad, damage_message(kind))


def test_intact_bgzip_annotation_reads_like_the_plain_file(tmp_path):
    bgzip = tmp_path / "genes.gff3.gz"
    bgzip.write_bytes(b"".join(_members(AUGUSTUS_GFF3.read_bytes())))
    assert read_annotation(bgzip).genes == read_annotation(AUGUSTUS_GFF3).genes


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_gzip_fasta_is_a_one_line_error(capsys, tmp_path, synthetic, kind):
    bad = tmp_path / "genome.fa.gz"
    bad.write_bytes(damage(synthetic[0].read_bytes(), kind))
    result = run(capsys, "stats", bad, "-o", tmp_path / "out.tsv")
    assert_failed_cleanly(result, tmp_path, [bad], bad, damage_message(kind))


def _genome_commands(genome: Path, annotation: Path, tmp_path: Path, model: Path) -> dict:
    """Every command that reads a genome FASTA, writing its outputs under ``tmp_path``."""
    counted = tmp_path / "counted"  # gene-model count writes into a model directory
    shutil.copytree(model, counted)
    return {
        "annotate": ["annotate", genome, "-m", model, *FAST, "-o", tmp_path / "out.gff3"],
        "train": [
            *("train", "--genome", genome, "--annotation", annotation),
            *("--max-steps", "1", "--device", "cpu", "-o", tmp_path / "run"),
        ],
        "splice-extract": ["splice", "extract", genome, annotation, "-o", tmp_path / "data"],
        "splice-predict": ["splice", "predict", "splice-fly", genome, "-o", tmp_path / "s.bed"],
        "splice-evaluate": [
            *("splice", "evaluate", "splice-fly", "--genome", genome),
            *("--annotation", annotation, "--regions", "chrA:1-6000", "-o", tmp_path / "r"),
        ],
        "gene-model": [
            *("gene-model", "count", "--genome", genome),
            *("--annotation", annotation, "--model", counted),
        ],
        "tokenizer": ["tokenizer", "train", genome, "-o", tmp_path / "tokenizer"],
    }


GENOME_COMMANDS = [
    "annotate",
    "train",
    "splice-extract",
    "splice-predict",
    "splice-evaluate",
    "gene-model",
    "tokenizer",
]


def _files(directory: Path) -> set[Path]:
    """Every file under ``directory`` (empty directories do not count)."""
    return {path for path in directory.rglob("*") if path.is_file()}


def run_and_fail(capsys, tmp_path: Path, args: list, *fragments) -> None:
    """Run ``args``: exit 2, its last stderr line the error naming ``fragments``, no new file."""
    before = _files(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert_one_line_error(err.splitlines()[-1], *map(str, fragments))
    assert _files(tmp_path) == before


@pytest.mark.parametrize("kind", ["bgzip-truncated", "bad-crc"])
@pytest.mark.parametrize("command", GENOME_COMMANDS)
def test_every_genome_reader_rejects_a_damaged_gzip(
    capsys, tmp_path, synthetic, tiny_random_model, kind, command
):
    bad = tmp_path / "genome.fa.gz"
    bad.write_bytes(damage(synthetic[0].read_bytes(), kind))
    args = _genome_commands(bad, synthetic[1], tmp_path, tiny_random_model)[command]
    run_and_fail(capsys, tmp_path, args, bad, "gzip stream is truncated or corrupt")


@pytest.mark.parametrize("command", ["splice-extract", "splice-evaluate", "gene-model", "train"])
def test_every_annotation_reader_rejects_a_damaged_gzip(
    capsys, tmp_path, synthetic, tiny_random_model, command
):
    bad = tmp_path / "genes.gff3.gz"
    bad.write_bytes(damage(synthetic[1].read_bytes(), "bgzip-truncated"))
    args = _genome_commands(synthetic[0], bad, tmp_path, tiny_random_model)[command]
    run_and_fail(capsys, tmp_path, args, bad, "gzip stream is truncated or corrupt")


MODEL_FILES = [
    "codon_model.npz",
    "config.json",
    "gene_model.json",
    "inference.json",
    "model.safetensors",
    "site_model.npz",
    "tokenizer.json",
]


def _damage_file(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = b""
    elif how == "garbage-inside":  # a zip member's CRC-32 catches it
        middle = len(data) // 2
        data = data[:middle] + b"\xff" * 16 + data[middle + 16 :]
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("name", "how"),
    [(name, how) for name in MODEL_FILES for how in ("truncated", "empty")]
    + [("codon_model.npz", "garbage-inside"), ("site_model.npz", "garbage-inside")],
)
def test_damaged_model_file_is_a_one_line_error(capsys, tmp_path, synthetic, name, how):
    model = tmp_path / "model"
    shutil.copytree(BUNDLES_DIR / "fly", model)
    _damage_file(model / name, how)
    out = tmp_path / "out.gff3"
    code, _, err = run(capsys, "annotate", synthetic[0], "-m", model, *FAST, "-o", out)
    assert code == 2, err
    assert_one_line_error(err, str(model / name))
    assert not out.exists()


@pytest.mark.parametrize("content", [PNG, b"[1, 2]"], ids=["binary", "not-an-object"])
def test_bad_backbone_config_is_a_one_line_error(capsys, tmp_path, content):
    backbone = tmp_path / "backbone"
    backbone.mkdir()
    shutil.copy(BUNDLES_DIR / "fly" / "tokenizer.json", backbone)
    (backbone / "config.json").write_bytes(content)
    code, _, err = run(capsys, "model", "init", "--backbone", backbone, "-o", tmp_path / "m")
    assert code == 2, err
    assert_one_line_error(err, str(backbone / "config.json"))
    assert not (tmp_path / "m").exists()


def test_binary_training_options_are_a_config_error(tmp_path):
    path = tmp_path / "train_config.json"
    path.write_bytes(PNG)
    with pytest.raises(ConfigError, match="cannot read the run's training options"):
        TrainConfig.load(path)


@pytest.mark.parametrize(
    "victim", ["manifest.json", "transcripts.npz", "0000.sequence.npy", "0001.labels.npy"]
)
def test_damaged_prepared_data_is_prepared_again(tmp_path, synthetic, caplog, victim):
    source = GenomeSource(str(synthetic[0]), str(synthetic[1]))
    cache = tmp_path / "cache"
    held_out = [Region("chrB", 0, 5000)]
    first = prepare(cache, [source], val_regions=held_out)
    expected = np.asarray(first.sequence(0)).copy()
    _damage_file(cache / victim, "truncated")
    with caplog.at_level(logging.WARNING, logger="genatator.training.prepare"):
        again = prepare(cache, [source], val_regions=held_out)
    assert "is damaged" in caplog.text and "preparing again" in caplog.text
    np.testing.assert_array_equal(again.sequence(0), expected)
    assert len(again.transcripts["train"]) == len(first.transcripts["train"])


def test_truncated_splice_dataset_split_is_an_input_error(tmp_path, synthetic):
    from genatator.splice.dataset import extract_dataset, load_split

    data = tmp_path / "data"
    extract_dataset(synthetic[0], synthetic[1], data)
    _damage_file(data / "train.npz", "truncated")
    with pytest.raises(InputError, match="unreadable split file") as caught:
        load_split(data, "train")
    assert str(data / "train.npz") in str(caught.value)


def test_an_eof_error_that_escapes_is_an_internal_error_not_an_interruption(
    capsys, monkeypatch, tmp_path
):
    """click turns EOFError into Abort; the CLI must not call a reader's bug 'interrupted'."""

    def cut_short(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr("genatator.annotation.read_annotation", cut_short)
    code, _, err = run(capsys, "convert", AUGUSTUS_GFF3, "-o", tmp_path / "out.gff3")
    assert code == 1 and "internal error: EOFError" in err and "interrupted" not in err


# -- item 4: binary files ----------------------------------------------------------------------

BINARY = {
    "png": PNG,
    "random": np.random.default_rng(4).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
}


@pytest.mark.parametrize("content", list(BINARY.values()), ids=list(BINARY))
@pytest.mark.parametrize("command", ["convert", "evaluate-prediction", "evaluate-reference"])
def test_binary_annotation_is_a_one_line_error(capsys, tmp_path, content, command):
    bad = tmp_path / "bad.gff3"
    bad.write_bytes(content)
    out = tmp_path / "out"
    args = {
        "convert": ["convert", bad, "-o", out],
        "evaluate-prediction": ["evaluate", bad, AUGUSTUS_GFF3, "-o", out],
        "evaluate-reference": ["evaluate", AUGUSTUS_GFF3, bad, "-o", out],
    }[command]
    result = run(capsys, *args)
    assert_failed_cleanly(result, tmp_path, [bad], bad, "line 1", "binary data")


def test_non_utf8_byte_names_its_line(capsys, tmp_path):
    lines = AUGUSTUS_GFF3.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if not line.startswith(b"#"))
    lines[index] = lines[index].rstrip(b"\n") + b";Note=caf\xe9\n"  # Latin-1, not UTF-8
    bad = tmp_path / "latin1.gff3"
    bad.write_bytes(b"".join(lines))
    result = run(capsys, "convert", bad, "-o", tmp_path / "out.gff3")
    assert_failed_cleanly(result, tmp_path, [bad], bad, f"line {index + 1}", "byte 0xe9")
    # --lenient skips that line alone.
    code, _, err = run(capsys, "convert", "--lenient", bad, "-o", tmp_path / "out.gff3")
    assert code == 0 and f"problems skipped; first: {bad}, line {index + 1}: binary" in err, err


def test_binary_in_a_gzip_annotation_and_an_open_handle(tmp_path):
    packed = tmp_path / "bad.gff3.gz"
    packed.write_bytes(gzip.compress(PNG))
    with pytest.raises(InputError, match="line 1: binary data"):
        read_annotation(packed)
    with (
        open(tmp_path / "bad.gff3.gz", encoding="utf-8") as handle,
        pytest.raises(InputError, match="binary data"),
    ):
        read_annotation(handle)


@pytest.mark.parametrize("content", list(BINARY.values()), ids=list(BINARY))
def test_binary_fasta_is_a_one_line_error(capsys, tmp_path, tiny_random_model, content):
    bad = tmp_path / "genome.fa"
    bad.write_bytes(content)
    out = tmp_path / "out.gff3"
    result = run(capsys, "annotate", bad, "-m", tiny_random_model, *FAST, "-o", out)
    assert_failed_cleanly(result, tmp_path, [bad], bad, "binary data")


# -- item 5: FASTA without records -----------------------------------------------------------

EMPTY = {"empty": b"", "blank-lines": b"\n  \n\r\n\t\n"}


@pytest.mark.parametrize("content", list(EMPTY.values()), ids=list(EMPTY))
def test_annotate_rejects_a_fasta_without_records(capsys, tmp_path, tiny_random_model, content):
    empty = tmp_path / "empty.fa"
    empty.write_bytes(content)
    out = tmp_path / "out.gff3"
    result = run(capsys, "annotate", empty, "-m", tiny_random_model, *FAST, "-o", out)
    assert_failed_cleanly(result, tmp_path, [empty], empty, "no FASTA records")


@pytest.mark.parametrize("content", list(EMPTY.values()), ids=list(EMPTY))
def test_annotate_rejects_empty_stdin(capsys, monkeypatch, tmp_path, tiny_random_model, content):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))
    out = tmp_path / "out.gff3"
    result = run(capsys, "annotate", "-", "-m", tiny_random_model, *FAST, "-o", out)
    assert_failed_cleanly(result, tmp_path, [], "<stdin>", "no FASTA records")


@pytest.mark.parametrize("command", GENOME_COMMANDS[1:])
def test_other_genome_readers_reject_a_fasta_without_records(
    capsys, tmp_path, synthetic, tiny_random_model, command
):
    empty = tmp_path / "empty.fa"
    empty.write_text("\n\n")
    args = _genome_commands(empty, synthetic[1], tmp_path, tiny_random_model)[command]
    run_and_fail(capsys, tmp_path, args, empty, "no FASTA records")


# -- item 6: GFF3 that breaks the specification --------------------------------------------------


def _gff3(*rows: str) -> str:
    return "##gff-version 3\n" + "".join(rows)


def _row(kind: str, strand: str, attributes: str, start: int = 1, end: int = 300) -> str:
    return f"chr1\ttest\t{kind}\t{start}\t{end}\t.\t{strand}\t.\t{attributes}\n"


GENE = _row("gene", "+", "ID=g1")
MRNA = _row("mRNA", "+", "ID=t1;Parent=g1")
EXON = _row("exon", "+", "Parent=t1")

# Transcripts and their parts need + or -; a gene row may be '.' or '?' but never '*'.
STARS = {
    "gene": (_gff3(_row("gene", "*", "ID=g1"), MRNA, EXON), 2),
    "mRNA": (_gff3(GENE, _row("mRNA", "*", "ID=t1;Parent=g1"), EXON), 3),
    "lnc_RNA": (_gff3(GENE, _row("lnc_RNA", "*", "ID=t1;Parent=g1"), EXON), 3),
    "ncRNA-without-gene": (_gff3(_row("ncRNA", "*", "ID=t1"), EXON), 2),
    "exon": (_gff3(GENE, MRNA, _row("exon", "*", "Parent=t1")), 4),
    "CDS": (_gff3(GENE, MRNA, EXON, _row("CDS", "*", "ID=c1;Parent=t1", 10, 99)), 5),
}


@pytest.mark.parametrize(("text", "line"), list(STARS.values()), ids=list(STARS))
def test_star_strand_is_rejected_with_its_line(capsys, tmp_path, text, line):
    bad = tmp_path / "star.gff3"
    bad.write_text(text)
    result = run(capsys, "convert", bad, "-o", tmp_path / "out.gff3")
    assert_failed_cleanly(result, tmp_path, [bad], bad, f"line {line}", "'*'")


def test_unstranded_gene_rows_are_still_accepted():
    for strand in (".", "?"):
        text = _gff3(_row("gene", strand, "ID=g1"), MRNA, EXON)
        (gene,) = read_annotation(io.StringIO(text)).genes
        assert gene.strand == "+"


CYCLE_AB = (
    _row("mRNA", "+", "ID=a;Parent=b"),
    _row("mRNA", "+", "ID=b;Parent=a"),
    _row("exon", "+", "Parent=a"),
    _row("exon", "+", "Parent=b"),
)
CYCLES = {
    "genes": (
        _gff3(
            _row("gene", "+", "ID=a;Parent=b"),
            _row("gene", "+", "ID=b;Parent=a"),
            _row("mRNA", "+", "ID=t1;Parent=a"),
            EXON,
        ),
        "'a' -> 'b' -> 'a'",
        2,
    ),
    "transcripts": (_gff3(*CYCLE_AB), "'a' -> 'b' -> 'a'", 2),
    "self": (_gff3(_row("mRNA", "+", "ID=a;Parent=a"), _row("exon", "+", "Parent=a")), "'a'", 2),
    "three, named from the first defined": (
        _gff3(
            GENE,
            _row("region", "+", "ID=r;Parent=x"),
            _row("ncRNA_gene", "+", "ID=n;Parent=r"),
            _row("match", "+", "ID=x;Parent=n"),
            _row("lnc_RNA", "+", "ID=t2;Parent=n"),
            _row("exon", "+", "Parent=t2"),
        ),
        "'r' -> 'x' -> 'n' -> 'r'",
        3,
    ),
}


@pytest.mark.parametrize(("text", "cycle", "line"), list(CYCLES.values()), ids=list(CYCLES))
def test_parent_cycles_are_rejected_with_their_line(capsys, tmp_path, text, cycle, line):
    bad = tmp_path / "cycle.gff3"
    bad.write_text(text)
    result = run(capsys, "convert", bad, "-o", tmp_path / "out.gff3")
    assert_failed_cleanly(result, tmp_path, [bad], bad, f"line {line}", "Parent cycle", cycle)


def test_lenient_drops_a_cycle_and_keeps_the_rest():
    text = _gff3(GENE, MRNA, EXON, *CYCLE_AB)
    with pytest.warns(UserWarning, match="Parent cycle"):
        annotation = read_annotation(io.StringIO(text), lenient=True)
    assert [t.id for t in annotation.transcripts()] == ["t1"]


def test_shared_parents_and_deep_hierarchies_are_not_cycles():
    text = _gff3(
        GENE,
        MRNA,
        _row("mRNA", "+", "ID=t2;Parent=g1"),
        _row("exon", "+", "Parent=t1,t2"),
        _row("match", "+", "ID=m;Parent=t1,t2"),  # two parents with one ancestor: a diamond
        _row("gene", "-", "ID=g2", 1000, 1300),
        _row("primary_transcript", "-", "ID=p;Parent=g2", 1000, 1300),
        _row("miRNA", "-", "ID=mi;Parent=p", 1100, 1120),
        _row("exon", "-", "Parent=mi", 1100, 1120),
    )
    annotation = read_annotation(io.StringIO(text))
    assert sorted(t.id for t in annotation.transcripts()) == ["mi", "p", "t1", "t2"]
