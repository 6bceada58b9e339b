"""Tests for genatator.genome: FASTA streaming, normalisation, validation and indexed access."""

from __future__ import annotations

import gzip
import io
import random
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pysam
import pytest

from genatator.errors import GenatatorWarning, InputError
from genatator.genome import (
    FastaRecord,
    IndexedFasta,
    SequenceStats,
    normalise_sequence,
    read_fasta,
    reverse_complement,
    sequence_stats,
)

SMALL_FASTA = b">chr1 first chromosome\nACGTacgtNN\nuuRY\n\n>chr2\nGGGG\n"


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def _bgzip(directory: Path, name: str, data: bytes) -> Path:
    plain = _write(directory, name + ".plain", data)
    target = directory / name
    pysam.tabix_compress(str(plain), str(target), force=True)
    return target


def _random_fasta(
    names_and_lengths: list[tuple[str, int]], *, seed: int = 0, width: int = 60
) -> bytes:
    """FASTA text with random mixed-case ACGTN sequences, wrapped at ``width``."""
    rng = random.Random(seed)
    out = []
    for name, length in names_and_lengths:
        sequence = "".join(rng.choice("ACGTNacgt") for _ in range(length))
        lines = [sequence[i : i + width] for i in range(0, length, width)]
        out.append(f">{name} length={length}\n" + "\n".join(lines) + "\n")
    return "".join(out).encode("ascii")


class _FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


# --- normalisation -------------------------------------------------------------------------------


def test_normalise_sequence_exact() -> None:
    sequence, mask = normalise_sequence("ACGTacgtUuNnRYKMSWBDHVrykmswbdhv-.*X")
    assert sequence == "ACGTACGTTTNN" + "N" * 20 + "NNNN"
    expected_mask = [False] * 4 + [True] * 4 + [False, True, False, True]
    expected_mask += [False] * 10 + [True] * 10 + [False] * 4
    assert mask.dtype == np.bool_
    assert mask.tolist() == expected_mask


def test_normalise_sequence_bytes_and_str_agree() -> None:
    assert normalise_sequence(b"aCgU")[0] == normalise_sequence("aCgU")[0] == "ACGT"
    assert normalise_sequence(bytearray(b"aCgU"))[1].tolist() == [True, False, True, False]
    sequence, mask = normalise_sequence("")
    assert sequence == ""
    assert mask.shape == (0,)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("AC1T", "invalid character '1' at position 3"),
        ("AC T", "invalid character ' ' at position 3"),
        ("ACéT", "non-ASCII character 'é'"),
    ],
)
def test_normalise_sequence_rejects_non_letters(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_sequence(raw)


def test_reverse_complement() -> None:
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("RYKMSWBDHV") == "BDHVWSKMRY"
    assert reverse_complement("acgT") == "Acgt"
    assert reverse_complement("") == ""
    sequence = "ACGTTGCAAN" * 7
    assert reverse_complement(reverse_complement(sequence)) == sequence
    with pytest.raises(ValueError, match="non-ASCII"):
        reverse_complement("ACé")


# --- streaming -----------------------------------------------------------------------------------


def _check_small(records: list[FastaRecord]) -> None:
    assert [(r.name, r.description, r.sequence) for r in records] == [
        ("chr1", "first chromosome", "ACGTACGTNNTTNN"),
        ("chr2", "", "GGGG"),
    ]
    assert (
        records[0].soft_mask.tolist()
        == [False] * 4 + [True] * 4 + [False] * 2 + [True] * 2 + [False] * 2
    )
    assert records[0].length == 14
    assert records[0].n_count == 4
    assert records[0].n_fraction == pytest.approx(4 / 14)
    assert records[0].soft_masked_fraction == pytest.approx(6 / 14)
    assert records[1].soft_masked_fraction == 0.0


@pytest.mark.parametrize("compression", ["plain", "gzip", "bgzip"])
def test_read_fasta_compressions(tmp_path: Path, compression: str) -> None:
    if compression == "plain":
        path = _write(tmp_path, "small.fa", SMALL_FASTA)
    elif compression == "gzip":
        path = _write(tmp_path, "small.fa.gz", gzip.compress(SMALL_FASTA))
    else:
        path = _bgzip(tmp_path, "small.fa.bgz", SMALL_FASTA)
    _check_small(list(read_fasta(path)))
    _check_small(list(read_fasta(str(path))))


@pytest.mark.parametrize("data", [SMALL_FASTA, gzip.compress(SMALL_FASTA)])
def test_read_fasta_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", _FakeStdin(data))
    _check_small(list(read_fasta("-")))


def test_read_fasta_windows_line_endings_blank_lines_and_spaces(tmp_path: Path) -> None:
    data = b"\r\n>seq1  some words\r\nAC GT\r\n\r\nac\tgt\r\n>seq2\r\nN-.n\r\n"
    path = _write(tmp_path, "crlf.fa", data)
    records = list(read_fasta(path))
    assert [(r.name, r.description, r.sequence) for r in records] == [
        ("seq1", "some words", "ACGTACGT"),
        ("seq2", "", "NNNN"),
    ]
    assert records[0].soft_mask.tolist() == [False] * 4 + [True] * 4
    assert records[1].soft_mask.tolist() == [False, False, False, True]


def test_read_fasta_strips_utf8_byte_order_mark(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.fa", b"\xef\xbb\xbf>x\nACGT\n")
    assert [(r.name, r.sequence) for r in read_fasta(path)] == [("x", "ACGT")]


def test_read_fasta_yields_before_reading_the_rest(tmp_path: Path) -> None:
    path = _write(tmp_path, "late_error.fa", b">good\nACGT\n>bad\nAC9T\n")
    records = read_fasta(path)
    assert next(records).sequence == "ACGT"
    with pytest.raises(InputError, match="record 'bad', line 4"):
        next(records)


def test_read_fasta_warns_on_protein_letters(tmp_path: Path) -> None:
    path = _write(tmp_path, "protein.fa", b">p53\nMEEPQSDPSV*\n")
    # M, S, D and V are IUPAC nucleotide codes; E, P, Q and '*' are not.
    with pytest.warns(GenatatorWarning, match=r"record 'p53': 6 characters .*\(\*, E, P, Q\)"):
        records = list(read_fasta(path))
    assert records[0].sequence == "N" * 11


# --- bad input -----------------------------------------------------------------------------------

BAD_INPUTS = [
    # (label, file content, record or None, line or None, problem text)
    ("empty", b"", None, None, "empty file: no FASTA records"),
    ("blank", b"\n  \n\r\n", None, None, "empty file: no FASTA records"),
    ("not_fasta", b"ACGT\n>x\nACGT\n", None, 1, "not a FASTA file"),
    ("not_fasta_late", b"\n\nhello world\n", None, 3, "found 'hello world'"),
    ("fastq", b"@read1\nACGT\n+\nIIII\n", None, 1, "this looks like FASTQ"),
    ("binary_start", b"\x89PNG\r\n\x1a\n\x00\x00", None, 1, "binary data, not a FASTA"),
    ("empty_record", b">a\n>b\nACGT\n", "a", 1, "no sequence (its header is followed by the next"),
    (
        "empty_last",
        b">a\nACGT\n>b\n\n",
        "b",
        3,
        "no sequence (its header is followed by end of file)",
    ),
    (
        "duplicate",
        b">a\nAC\n>b x\nGG\n>a\nGT\n",
        "a",
        5,
        "duplicate record name (first used on line 1)",
    ),
    ("no_name", b">a\nAC\n>  \nGT\n", None, 3, "header line '>' has no record name"),
    ("nul", b">a\nACGT\nAC\x00GT\n", "a", 3, "binary data: NUL byte at column 3"),
    ("not_utf8", b">a\nAC\xff\xfeGT\n", "a", 2, "binary data: bytes that are not UTF-8 text"),
    ("header_not_utf8", b">a\xff\nACGT\n", None, 1, "header line is not UTF-8"),
    ("header_control", b">a\x07b\nACGT\n", None, 1, "non-printable character in header"),
    ("control", b">a\nAC\x07GT\n", "a", 2, "non-printable character '\\x07' at column 3"),
    ("non_ascii", ">a\nACGT\nACéGT\n".encode(), "a", 3, "non-ASCII character 'é' at column 3"),
    ("digits", b">chrA\nACGT\nAC12GT\n", "chrA", 3, "invalid character '1' at column 3"),
    ("comment", b">chrA\n;comment\n", "chrA", 2, "invalid character ';' at column 1"),
]


@pytest.mark.parametrize(
    ("content", "record", "line", "problem"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_names_file_record_and_line(
    tmp_path: Path, content: bytes, record: str | None, line: int | None, problem: str
) -> None:
    path = _write(tmp_path, "bad.fa", content)
    with pytest.raises(InputError) as caught:
        list(read_fasta(path))
    where = [str(path)]
    if record is not None:
        where.append(f"record {record!r}")
    if line is not None:
        where.append(f"line {line}")
    assert str(caught.value).startswith(", ".join(where) + ": ")
    assert problem in str(caught.value)
    assert (caught.value.record, caught.value.line) == (record, line)


def test_bad_input_on_stdin_is_named_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _FakeStdin(b">a\nAC1\n"))
    with pytest.raises(InputError, match=r"^<stdin>, record 'a', line 2: invalid character '1'"):
        list(read_fasta("-"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as caught:
        list(read_fasta(tmp_path / "absent.fa"))
    assert str(tmp_path / "absent.fa") in str(caught.value)


@pytest.mark.parametrize("compress", [gzip.compress, None], ids=["gzip", "bgzip"])
def test_truncated_gzip(tmp_path: Path, compress: object) -> None:
    data = _random_fasta([("r1", 30_000), ("r2", 30_000)])
    if compress is None:
        whole = _bgzip(tmp_path, "whole.fa.gz", data).read_bytes()
    else:
        whole = gzip.compress(data)
    path = _write(tmp_path, "cut.fa.gz", whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"the gzip stream is truncated or corrupt") as caught:
        list(read_fasta(path))
    error = caught.value
    assert error.path == str(path)
    assert error.record in {"r1", "r2"}
    # Reading stopped somewhere inside the file's 1 + 500 + 1 + 500 lines.
    assert error.line is not None and 2 <= error.line <= 1002
    assert f"line {error.line}" in str(error)


def test_corrupt_gzip(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(_random_fasta([("r1", 20_000)])))
    whole[len(whole) // 2 : len(whole) // 2 + 64] = bytes(64)
    path = _write(tmp_path, "corrupt.fa.gz", bytes(whole))
    with pytest.raises(InputError, match=r"record 'r1', line \d+: the gzip stream is truncated"):
        list(read_fasta(path))


# --- stats ---------------------------------------------------------------------------------------


def test_sequence_stats_exact(tmp_path: Path) -> None:
    path = _write(tmp_path, "stats.fa", b">a\nACGTN\nnnac\n>b desc\nNNNN\n>c\nRYac\n")
    stats = list(sequence_stats(path))
    assert stats == [
        SequenceStats(name="a", length=9, n_count=3, soft_masked_count=4),
        SequenceStats(name="b", length=4, n_count=4, soft_masked_count=0),
        SequenceStats(name="c", length=4, n_count=2, soft_masked_count=2),
    ]
    assert [s.n_fraction for s in stats] == [3 / 9, 1.0, 0.5]
    assert [s.soft_masked_fraction for s in stats] == [4 / 9, 0.0, 0.5]
    assert SequenceStats("e", 0, 0, 0).n_fraction == 0.0


# --- memory --------------------------------------------------------------------------------------


def _peak_bytes_while_streaming(path: Path) -> int:
    tracemalloc.start()
    try:
        total = 0
        for record in read_fasta(path):
            total += record.length
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def test_memory_does_not_grow_with_number_of_records(tmp_path: Path) -> None:
    length = 20_000
    few = _write(tmp_path, "few.fa", _random_fasta([(f"s{i}", length) for i in range(3)]))
    many = _write(tmp_path, "many.fa", _random_fasta([(f"s{i}", length) for i in range(150)]))
    peak_few = _peak_bytes_while_streaming(few)
    peak_many = _peak_bytes_while_streaming(many)
    # The many-record file is 3 MB of sequence; streaming it must cost about what 3 records cost
    # (the slack covers the set of names seen, kept to catch duplicates).
    assert peak_many < peak_few + 100_000
    assert peak_many < 10 * length * 3


# --- indexed access ------------------------------------------------------------------------------

INDEXED_RECORDS = [("alpha", 1000), ("beta", 61), ("gamma", 3000)]


@pytest.mark.parametrize("compression", ["plain", "bgzip"])
def test_indexed_fasta_matches_streaming(tmp_path: Path, compression: str) -> None:
    data = _random_fasta(INDEXED_RECORDS, seed=3)
    if compression == "plain":
        path = _write(tmp_path, "genome.fa", data)
    else:
        path = _bgzip(tmp_path, "genome.fa.gz", data)
    pysam.faidx(str(path))
    streamed = {record.name: record for record in read_fasta(path)}
    with IndexedFasta(path) as fasta:
        assert fasta.names == ("alpha", "beta", "gamma")
        assert fasta.lengths == dict(INDEXED_RECORDS)
        assert "beta" in fasta and "delta" not in fasta
        for name, start, end in [
            ("alpha", 0, 1000),
            ("alpha", 59, 61),
            ("beta", 60, 61),
            ("gamma", 1234, 2999),
            ("gamma", 500, 500),
        ]:
            region = fasta.fetch(name, start, end)
            assert region.name == name
            assert region.description == f"{name}:{start + 1}-{end}"
            assert region.sequence == streamed[name].sequence[start:end]
            assert region.soft_mask.tolist() == streamed[name].soft_mask[start:end].tolist()
        whole = fasta.fetch("gamma")
        assert whole.sequence == streamed["gamma"].sequence
        assert fasta.fetch("gamma", 2990).length == 10


@pytest.mark.parametrize(
    ("name", "start", "end", "message"),
    [
        ("delta", 0, 10, "record 'delta': no record of this name"),
        ("beta", -1, 10, r"record 'beta': region \[-1, 10\) is not within the record's \[0, 61\)"),
        ("beta", 0, 62, r"region \[0, 62\) is not within"),
        ("beta", 20, 10, r"region \[20, 10\) is not within"),
    ],
)
def test_indexed_fasta_bad_regions(
    tmp_path: Path, name: str, start: int, end: int, message: str
) -> None:
    path = _write(tmp_path, "genome.fa", _random_fasta(INDEXED_RECORDS))
    pysam.faidx(str(path))
    with IndexedFasta(path) as fasta, pytest.raises(InputError, match=message):
        fasta.fetch(name, start, end)


def test_indexed_fasta_missing_index(tmp_path: Path) -> None:
    path = _bgzip(tmp_path, "genome.fa.gz", _random_fasta(INDEXED_RECORDS))
    with pytest.raises(InputError, match=r"genome\.fa\.gz\.fai, .*genome\.fa\.gz\.gzi not found"):
        IndexedFasta(path)
    with IndexedFasta(path, build_index=True) as fasta:
        assert fasta.lengths["gamma"] == 3000
    assert (tmp_path / "genome.fa.gz.fai").is_file()


def test_indexed_fasta_rejects_plain_gzip_and_stdin(tmp_path: Path) -> None:
    path = _write(tmp_path, "genome.fa.gz", gzip.compress(_random_fasta(INDEXED_RECORDS)))
    with pytest.raises(InputError, match="must be bgzip-compressed"):
        IndexedFasta(path, build_index=True)
    with pytest.raises(InputError, match="not standard input"):
        IndexedFasta("-")
    with pytest.raises(InputError, match="no such file"):
        IndexedFasta(tmp_path / "absent.fa")


# --- real genomes (skipped without ../shared/data) -----------------------------------------------


def test_real_fly_chromosome_streams_and_matches_index(shared_data: Path) -> None:
    path = shared_data / "dmel_chr2R_1-19980000.fa.gz"
    with IndexedFasta(path) as fasta:
        assert fasta.lengths == {"chr2R": 19_980_000}
        head = fasta.fetch("chr2R", 0, 60)
        assert head.sequence == "CTCAAGATACCTTCTACAGATTATTTAAAGCTAGTGCACAACAACAATAAATTGACTAAG"
        middle = fasta.fetch("chr2R", 12_345_678, 12_346_678)
        (record,) = read_fasta(path)
    assert (record.name, record.length) == ("chr2R", 19_980_000)
    assert record.sequence[12_345_678:12_346_678] == middle.sequence
    assert record.soft_masked_count == 0  # this file is upper case


def test_real_human_soft_mask(shared_data: Path, tmp_path: Path) -> None:
    # The shared folder is read-only and has no index for this file: index a link to it here.
    link = tmp_path / "hg19_chr21.fa.gz"
    link.symlink_to(shared_data / "hg19_chr21_1-35950000.fa.gz")
    with IndexedFasta(link, build_index=True) as fasta:
        assert fasta.lengths == {"chr21": 35_950_000}
        region = fasta.fetch("chr21", 20_000_000, 20_010_000)
        assert fasta.fetch("chr21", 0, 1000).n_fraction == 1.0
    assert region.sequence[:51] == "CCCTTCTCCTATCCCTTGAAAAATTGTCATTTATTTCTCTTATCCATATGG"
    assert region.soft_mask[:51].sum() == 0
    assert region.soft_mask[51:60].all()
    assert region.soft_masked_count == 7224
    assert region.n_count == 0
