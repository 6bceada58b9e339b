"""Tests of genatator.decode.content: codon Markov chains, their log-odds and training helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genatator.annotation.models import Transcript
from genatator.decode.content import (
    CodonModel,
    background_sequences_from_transcripts,
    coding_sequences_from_transcripts,
    encode,
)
from genatator.errors import ModelError
from genatator.genome import reverse_complement

BASES = "ACGT"


def cell(kmer: str) -> int:
    """context*4 + base index of a k-mer read 5'->3'."""
    index = 0
    for base in kmer:
        index = index * 4 + BASES.index(base)
    return index


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list(BASES), size=length))


def test_count_by_hand() -> None:
    # Coding windows (frame of last base): AT f1, TG f2, GA f0, AA f1, AA f2.
    # Background "ACG" + its reverse complement "CGT": AC, CG, CG, GT.
    model = CodonModel.count(["ATGAAA"], ["ACG"], order=1, pseudocount=1.0)
    assert model.order == 1
    assert model.coding.shape == (3, 16) and model.background.shape == (16,)
    assert model.coding.dtype == np.float32 and model.background.dtype == np.float32
    # Frame 1, context A: A once, T once -> (1+1)/(2+4).
    assert model.coding[1, cell("AT")] == pytest.approx(math.log(2 / 6))
    assert model.coding[1, cell("AA")] == pytest.approx(math.log(2 / 6))
    assert model.coding[1, cell("AC")] == pytest.approx(math.log(1 / 6))
    # Frame 0, context G: A once -> 2/5; frame 0, context A: unseen -> 1/4.
    assert model.coding[0, cell("GA")] == pytest.approx(math.log(2 / 5))
    assert model.coding[0, cell("AA")] == pytest.approx(math.log(1 / 4))
    # Background context C: G twice -> 3/6; context G: T once -> 2/5.
    assert model.background[cell("CG")] == pytest.approx(math.log(3 / 6))
    assert model.background[cell("GT")] == pytest.approx(math.log(2 / 5))
    assert model.background[cell("GA")] == pytest.approx(math.log(1 / 5))


def test_count_skips_windows_with_n() -> None:
    # "ATGNAT": AT f1, TG f2, then GN and NA skipped, AT f2.
    model = CodonModel.count(["ATGNAT"], ["NNN"], order=1, pseudocount=1.0)
    assert model.coding[1, cell("AT")] == pytest.approx(math.log(2 / 5))
    assert model.coding[2, cell("AT")] == pytest.approx(math.log(2 / 5))
    assert model.coding[2, cell("TG")] == pytest.approx(math.log(2 / 5))
    assert model.coding[0, cell("GA")] == pytest.approx(math.log(1 / 4))
    np.testing.assert_allclose(model.background, math.log(1 / 4), rtol=1e-6)


def test_probabilities_normalise() -> None:
    rng = np.random.default_rng(1)
    coding = [random_dna(rng, 300) for _ in range(5)]
    background = [random_dna(rng, 500) + "N" + random_dna(rng, 50)]
    model = CodonModel.count(coding, background, order=3, pseudocount=0.5)
    np.testing.assert_allclose(np.exp(model.coding).reshape(3, -1, 4).sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.exp(model.background).reshape(-1, 4).sum(-1), 1.0, rtol=1e-5)


def test_count_rejects_bad_pseudocount() -> None:
    with pytest.raises(ValueError, match="pseudocount"):
        CodonModel.count(["ATG"], ["ACGT"], order=1, pseudocount=0.0)


def reference_log_odds(model: CodonModel, sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """One base at a time: + strand context before, - strand complemented context after."""
    k, n = model.order, len(sequence)
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    plus = np.zeros((3, n), dtype=np.float32)
    minus = np.zeros((3, n), dtype=np.float32)
    for i in range(n):
        for f in range(3):
            if i >= k:
                window = sequence[i - k : i + 1]
                if "N" not in window:
                    plus[f, i] = model.coding[f, cell(window)] - model.background[cell(window)]
            if i + k < n:
                window = sequence[i : i + k + 1]
                if "N" not in window:
                    read = "".join(complement[b] for b in reversed(window))
                    minus[f, i] = model.coding[f, cell(read)] - model.background[cell(read)]
    return plus, minus


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_odds_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = CodonModel.count(
        [random_dna(rng, 600) for _ in range(3)], [random_dna(rng, 800)], order=2
    )
    sequence = list(random_dna(rng, 200))
    for position in rng.choice(200, size=6, replace=False):
        sequence[position] = "N"
    sequence = "".join(sequence)
    plus, minus = model.log_odds(encode(sequence))
    expected_plus, expected_minus = reference_log_odds(model, sequence)
    assert plus.dtype == np.float32 and minus.dtype == np.float32
    assert plus.shape == minus.shape == (3, 200)
    np.testing.assert_array_equal(plus, expected_plus)
    np.testing.assert_array_equal(minus, expected_minus)
    assert not plus[:, :2].any() and not minus[:, -2:].any()


def test_log_odds_short_and_empty() -> None:
    model = CodonModel.count(["ATGAAATTT"], ["ACGT"], order=2)
    for length in (0, 1, 2):
        plus, minus = model.log_odds(encode("ACGT"[:length]))
        assert plus.shape == minus.shape == (3, length)
        assert not plus.any() and not minus.any()


def frame_scores(scores: np.ndarray, frame_of: np.ndarray) -> list[float]:
    """Summed log-odds with every base's codon position shifted by 0, 1, 2."""
    columns = np.arange(scores.shape[1])
    return [float(scores[(frame_of + shift) % 3, columns].sum()) for shift in range(3)]


def test_periodic_coding_prefers_true_frame() -> None:
    rng = np.random.default_rng(7)
    codons = ["ATG", "GCC", "AAA", "CTG", "GAT", "TGG", "CGC"]

    def cds(n_codons: int) -> str:
        return "".join(rng.choice(codons, size=n_codons))

    model = CodonModel.count(
        [cds(100) for _ in range(40)], [random_dna(rng, 20000)], order=2, pseudocount=1.0
    )
    k = model.order
    gene = cds(100)
    left, right = random_dna(rng, k), random_dna(rng, k)

    plus, _ = model.log_odds(encode(left + gene + right))
    plus = plus[:, k:-k]
    by_shift = frame_scores(plus, np.arange(len(gene)) % 3)
    assert by_shift[0] > 0 and by_shift[0] > max(by_shift[1:])

    _, minus = model.log_odds(encode(left + reverse_complement(gene) + right))
    minus = minus[:, k:-k]
    # Genome base i of the reverse strand is transcript base len - 1 - i.
    by_shift = frame_scores(minus, (len(gene) - 1 - np.arange(len(gene))) % 3)
    assert by_shift[0] > 0 and by_shift[0] > max(by_shift[1:])


def test_choose_order_thresholds() -> None:
    # 3 frames * 4**(k+1) cells * 4 observations: 768, 3072, 12288, 49152 for k = 2..5.
    assert CodonModel.choose_order(0) == 2
    assert CodonModel.choose_order(3071) == 2
    assert CodonModel.choose_order(3072) == 3
    assert CodonModel.choose_order(12287) == 3
    assert CodonModel.choose_order(12288) == 4
    assert CodonModel.choose_order(49151) == 4
    assert CodonModel.choose_order(49152) == 5
    assert CodonModel.choose_order(10**9) == 5


def test_count_order_none_uses_choose_order() -> None:
    rng = np.random.default_rng(3)
    small = CodonModel.count((random_dna(rng, 300) for _ in range(11)), ["ACGT"], order=None)
    assert small.order == 3
    large = CodonModel.count([random_dna(rng, 12288)], ["ACGT"], order=None)
    assert large.order == 4


def test_save_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(4)
    model = CodonModel.count([random_dna(rng, 900)], [random_dna(rng, 900)], order=2)
    path = tmp_path / "codon.model"
    model.save(path)
    loaded = CodonModel.load(path)
    assert loaded.order == model.order
    np.testing.assert_array_equal(loaded.coding, model.coding)
    np.testing.assert_array_equal(loaded.background, model.background)
    assert loaded.coding.dtype == np.float32


def test_load_rejects_bad_files(tmp_path) -> None:
    with pytest.raises(ModelError, match="not a codon model"):
        CodonModel.load(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError, match=r"corrupt\.npz: not a codon model"):
        CodonModel.load(corrupt)
    tables = {"coding": np.zeros((3, 64), np.float32), "background": np.zeros(64, np.float32)}
    wrong_shape = tmp_path / "shape.npz"
    np.savez(wrong_shape, format=1, order=3, **tables)
    with pytest.raises(ModelError, match="not a codon model"):
        CodonModel.load(wrong_shape)
    wrong_format = tmp_path / "format.npz"
    np.savez(wrong_format, format=2, order=2, **tables)
    with pytest.raises(ModelError, match="format"):
        CodonModel.load(wrong_format)
    missing_field = tmp_path / "field.npz"
    np.savez(missing_field, format=1, order=2, coding=tables["coding"])
    with pytest.raises(ModelError, match="not a codon model"):
        CodonModel.load(missing_field)


def transcript(strand: str, exons, cds) -> Transcript:
    return Transcript(id=f"t{strand}", seqid="chr", strand=strand, exons=exons, cds=cds)


def test_coding_sequences_from_transcripts() -> None:
    # CDS pieces at local 5..11 ("ATGCCG") and 16..22 ("GCATAA"); lower case is soft-masking.
    sequence = "TTTTTatgccgTTTTTGCATAATTTTT"
    exons, cds = [(103, 111), (116, 125)], [(105, 111), (116, 122)]
    transcripts = [
        transcript("+", exons, cds),
        transcript("-", exons, cds),
        transcript("+", exons, [(105, 111), (116, 121)]),  # 11 bases: not whole codons
        transcript("+", exons, []),  # non-coding
        transcript("+", [(90, 111)], [(95, 111)]),  # reaches before the sequence
    ]
    found = list(coding_sequences_from_transcripts(transcripts, sequence, offset=100))
    assert found == ["ATGCCGGCATAA", "TTATGCCGGCAT"]


def test_background_sequences_from_transcripts() -> None:
    sequence = "aaaaaCCCCCgggggTTTTTacgtacgtac"
    first = transcript("+", [(5, 10), (15, 20)], [])
    assert list(background_sequences_from_transcripts([first], sequence)) == [
        "AAAAA",
        "GGGGG",
        "ACGTACGTAC",
    ]
    assert list(background_sequences_from_transcripts([first], sequence, flank=2)) == [
        "AAA",
        "GGGGG",
        "GTACGTAC",
    ]
    # Another isoform's exon inside the intron splits it; coordinates shift by the offset.
    shifted = [
        transcript("+", [(105, 110), (115, 120)], []),
        transcript("-", [(105, 112), (113, 120)], []),
    ]
    assert list(background_sequences_from_transcripts(shifted, sequence, offset=100)) == [
        "AAAAA",
        "G",
        "ACGTACGTAC",
    ]
    assert list(background_sequences_from_transcripts([], "acgN")) == ["ACGN"]
