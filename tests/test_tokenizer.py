"""Tests of genatator.tokenizer: GENA-LM format, offsets, gap tokens and the nucleotide map."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models

from genatator.errors import ModelError
from genatator.tokenizer import (
    SPECIAL_TOKENS,
    DnaTokenizer,
    _training_pieces,
    nucleotide_to_token_map,
    train_tokenizer_on_fasta,
)


def random_dna(length: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=length))


@pytest.fixture(scope="module")
def tokenizer() -> DnaTokenizer:
    sequences = [random_dna(3000, seed) for seed in range(8)]
    return DnaTokenizer.train(sequences, vocab_size=300)


def test_gena_special_and_letter_ids(tokenizer: DnaTokenizer) -> None:
    assert tokenizer.vocab_size == 300
    assert (tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id) == (0, 1, 2)
    assert (tokenizer.pad_id, tokenizer.mask_id, tokenizer.gap_id) == (3, 4, 5)
    letters = {c: tokenizer.token_to_id(c) for c in "ABCGKMNRSTWY"}
    assert letters == dict(zip("ABCGKMNRSTWY", range(6, 18)))
    assert letters["A"] == 6 and letters["C"] == 8 and letters["G"] == 9
    assert letters["T"] == 15 and letters["N"] == 12


def test_nucleotide_ids(tokenizer: DnaTokenizer) -> None:
    ids = tokenizer.nucleotide_ids("ACGTN")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [6, 8, 9, 15, 12])
    # Letters without a single-letter token (D, lower case, '-') read as N.
    np.testing.assert_array_equal(tokenizer.nucleotide_ids("DaR-"), [12, 12, 13, 12])
    assert tokenizer.nucleotide_ids("").shape == (0,)


def test_long_n_run_is_one_gap_token_covering_its_last_base(tokenizer: DnaTokenizer) -> None:
    sequence = "ACGT" + "N" * 15 + "ACGTACGTAC"  # N at 4..18
    encoded = tokenizer.encode(sequence)
    gaps = np.flatnonzero(encoded.ids == tokenizer.gap_id)
    assert len(gaps) == 1
    gap = int(gaps[0])
    assert tuple(encoded.offsets[gap]) == (18, 19)

    mapping = nucleotide_to_token_map(encoded.offsets, len(sequence))
    assert (mapping[4:18] == -1).all()
    assert mapping[18] == gap
    # Positions after the run keep their own tokens: no shift.
    for index, (start, end) in enumerate(encoded.offsets):
        if index != gap:
            assert (mapping[start:end] == index).all()
    assert (mapping[:4] >= 0).all() and (mapping[19:] > gap).all()

    expanded = nucleotide_to_token_map(encoded.offsets, len(sequence), expand_gap_tokens=True)
    assert (expanded[4:19] == gap).all()
    np.testing.assert_array_equal(
        np.delete(expanded, range(4, 18)), np.delete(mapping, range(4, 18))
    )


def test_gap_run_at_sequence_start_expands_to_zero(tokenizer: DnaTokenizer) -> None:
    sequence = "N" * 12 + "ACGT"
    encoded = tokenizer.encode(sequence)
    assert encoded.ids[0] == tokenizer.gap_id and tuple(encoded.offsets[0]) == (11, 12)
    expanded = nucleotide_to_token_map(encoded.offsets, len(sequence), expand_gap_tokens=True)
    assert (expanded[:12] == 0).all() and (expanded >= 0).all()


def test_short_n_run_is_ordinary_tokens(tokenizer: DnaTokenizer) -> None:
    sequence = "ACGT" + "N" * 9 + "ACGT"
    encoded = tokenizer.encode(sequence)
    assert tokenizer.gap_id not in encoded.ids
    assert (nucleotide_to_token_map(encoded.offsets, len(sequence)) >= 0).all()


def test_offsets_tile_the_sequence_and_decode_round_trips(tokenizer: DnaTokenizer) -> None:
    sequence = random_dna(500, 99) + "N" * 30 + random_dna(200, 98) + "NNNNN" + "ACGTN"
    encoded = tokenizer.encode(sequence)
    assert encoded.ids.dtype == np.int64 and encoded.offsets.shape == (len(encoded), 2)
    assert tokenizer.cls_id not in encoded.ids and tokenizer.sep_id not in encoded.ids
    # Spans are contiguous except the hole before each gap token, and end at the sequence end.
    starts, ends = encoded.offsets[:, 0], encoded.offsets[:, 1]
    assert starts[0] == 0 and ends[-1] == len(sequence)
    holes = np.flatnonzero(starts[1:] != ends[:-1]) + 1
    np.testing.assert_array_equal(encoded.ids[holes], [tokenizer.gap_id])
    normalised = re.sub("N{10,}", "-", sequence)
    pieces = [
        sequence[s:e] if i != tokenizer.gap_id else "-"
        for i, (s, e) in zip(encoded.ids, encoded.offsets)
    ]
    assert "".join(pieces) == normalised
    assert tokenizer.decode(encoded.ids) == normalised


def test_truncation_leaves_the_tail_uncovered(tokenizer: DnaTokenizer) -> None:
    sequence = random_dna(400, 7)
    encoded = tokenizer.encode(sequence, max_tokens=10)
    assert len(encoded) == 10
    mapping = nucleotide_to_token_map(encoded.offsets, len(sequence), expand_gap_tokens=True)
    cut = int(encoded.offsets[-1, 1])
    assert (mapping[:cut] >= 0).all() and (mapping[cut:] == -1).all()


def test_encode_batch_matches_encode(tokenizer: DnaTokenizer) -> None:
    sequences = [random_dna(n, n) for n in (0, 1, 50, 333)] + ["ACGT" + "N" * 20]
    for single, batched in zip(map(tokenizer.encode, sequences), tokenizer.encode_batch(sequences)):
        np.testing.assert_array_equal(single.ids, batched.ids)
        np.testing.assert_array_equal(single.offsets, batched.offsets)
    assert tokenizer.encode("").offsets.shape == (0, 2)


def test_lower_case_input_is_rejected(tokenizer: DnaTokenizer) -> None:
    with pytest.raises(ValueError, match="lower-case"):
        tokenizer.encode("ACGTacgt")
    with pytest.raises(ValueError, match="lower-case"):
        tokenizer.encode_batch(["ACGT", "acgt"])


def test_save_and_load_round_trip(tokenizer: DnaTokenizer, tmp_path: Path) -> None:
    written = tokenizer.save_pretrained(tmp_path / "model")
    assert written == tmp_path / "model" / "tokenizer.json"
    loaded = DnaTokenizer.from_pretrained(tmp_path / "model")
    sequence = random_dna(700, 3) + "N" * 11 + random_dna(50, 4)
    a, b = tokenizer.encode(sequence), loaded.encode(sequence)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert loaded.vocab_size == tokenizer.vocab_size


def test_transformers_loads_the_saved_file(tokenizer: DnaTokenizer, tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    path = tokenizer.save_pretrained(tmp_path)
    sequence = random_dna(300, 5) + "N" * 12 + "ACGT"
    expected = [tokenizer.cls_id, *tokenizer.encode(sequence).ids.tolist(), tokenizer.sep_id]
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(path))
    assert fast(sequence)["input_ids"] == expected
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    assert auto(sequence)["input_ids"] == expected
    assert auto.pad_token_id == tokenizer.pad_id and auto.mask_token_id == tokenizer.mask_id


def _rewrite(source: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    data = json.loads(source.read_text())
    edit(data)
    target.write_text(json.dumps(data))
    return target


def test_loading_checks_the_format(tokenizer: DnaTokenizer, tmp_path: Path) -> None:
    good = tokenizer.save_pretrained(tmp_path / "good")

    def drop_cls(data: dict) -> None:
        data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "[CLS]"]
        del data["model"]["vocab"]["[CLS]"]
        data["post_processor"] = None

    def add_padding(data: dict) -> None:
        data["padding"] = {
            "strategy": {"Fixed": 64},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 3,
            "pad_type_id": 0,
            "pad_token": "[PAD]",
        }

    def drop_gap_rule(data: dict) -> None:
        data["normalizer"] = None

    with pytest.raises(ModelError, match=r"missing tokens \['\[CLS\]'\]"):
        DnaTokenizer.from_file(_rewrite(good, tmp_path / "no_cls.json", drop_cls))
    padded = DnaTokenizer.from_file(_rewrite(good, tmp_path / "padded.json", add_padding))
    assert len(padded.encode("ACGT")) == len(tokenizer.encode("ACGT"))
    with pytest.raises(ModelError, match="GENA-LM format"):
        DnaTokenizer.from_file(_rewrite(good, tmp_path / "no_gap.json", drop_gap_rule))
    # A BPE vocabulary without the letter T.
    no_t = Tokenizer(models.BPE({t: i for i, t in enumerate([*SPECIAL_TOKENS, *"ACGN"])}, []))
    no_t.save(str(tmp_path / "no_t.json"))
    with pytest.raises(ModelError, match=r"no_t\.json: .*missing tokens \['T'\]"):
        DnaTokenizer.from_file(tmp_path / "no_t.json")
    (tmp_path / "garbage.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"garbage\.json: cannot read tokenizer"):
        DnaTokenizer.from_file(tmp_path / "garbage.json")
    with pytest.raises(ModelError, match=r"no tokenizer\.json"):
        DnaTokenizer.from_pretrained(tmp_path / "empty")


def test_training_is_deterministic_and_sampling_caps_bases() -> None:
    sequences = [random_dna(5000, 1), "N" * 3000, random_dna(4000, 2)]
    options = {"vocab_size": 120, "piece_length": 500, "max_training_bases": 3000, "seed": 3}
    a = DnaTokenizer.train(sequences, **options)
    b = DnaTokenizer.train(sequences, **options)
    assert a.backend.to_str() == b.backend.to_str()
    with pytest.raises(ValueError, match="vocab_size must be at least 18"):
        DnaTokenizer.train(sequences, vocab_size=10)


def test_training_pieces_sample_is_uniform_and_skips_gaps() -> None:
    sequences = ["A" * 1000, "N" * 1000, "C" * 1000, "G" * 950]
    everything = list(_training_pieces(sequences, piece_length=100, max_bases=None, seed=0))
    assert len(everything) == 30 and "N" not in "".join(everything)
    sample = list(_training_pieces(sequences, piece_length=100, max_bases=1000, seed=0))
    assert len(sample) == 10
    # Pieces come back in genomic order, drawn from all three non-gap sequences.
    order = "ACG"
    letters = [piece[0] for piece in sample]
    assert letters == sorted(letters, key=order.index) and set(letters) == set(order)
    again = list(_training_pieces(sequences, piece_length=100, max_bases=1000, seed=0))
    assert again == sample


@st.composite
def offset_tables(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Sorted, non-overlapping spans with holes, some empty ((0, 0) specials), and a length."""
    widths = draw(st.lists(st.integers(0, 6), max_size=30))
    holes = draw(st.lists(st.integers(0, 4), min_size=len(widths), max_size=len(widths)))
    rows, position = [], 0
    for width, hole in zip(widths, holes):
        position += hole
        rows.append((position, position + width) if width else (0, 0))
        position += width
    length = position + draw(st.integers(-3, 5))
    return np.array(rows, dtype=np.int64).reshape(-1, 2), max(length, 0)


def reference_map(offsets: np.ndarray, length: int, expand: bool) -> np.ndarray:
    result = np.full(length, -1, dtype=np.int64)
    index, previous_end = 0, 0
    for start, end in offsets.tolist():
        if end <= start:
            continue
        first = min(start, previous_end) if expand else start
        for position in range(first, end):
            if 0 <= position < length:
                result[position] = index
        index, previous_end = index + 1, min(end, length)
    return result


@settings(max_examples=200, deadline=None, database=None)
@given(offset_tables(), st.booleans())
def test_nucleotide_map_matches_reference(table: tuple[np.ndarray, int], expand: bool) -> None:
    offsets, length = table
    got = nucleotide_to_token_map(offsets, length, expand_gap_tokens=expand)
    assert got.dtype == np.int64 and got.shape == (length,)
    np.testing.assert_array_equal(got, reference_map(offsets, length, expand))


def test_train_tokenizer_on_fasta(tmp_path: Path) -> None:
    fasta = tmp_path / "genome.fa"
    fasta.write_text(
        ">chr1\n" + random_dna(3000, 11).lower() + "\n>chr2 second\n" + random_dna(2000, 12) + "\n"
    )
    a = train_tokenizer_on_fasta(fasta, vocab_size=100, max_bases=2000, seed=5)
    b = train_tokenizer_on_fasta(fasta, vocab_size=100, max_bases=2000, seed=5)
    assert a.backend.to_str() == b.backend.to_str()
    assert a.vocab_size == 100 and a.token_to_id("A") == 6
