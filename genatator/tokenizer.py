"""GENA-LM-format BPE tokenizer for DNA: training, loading, offsets and the nucleotide map."""

from __future__ import annotations

import json
import logging
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import (
    Encoding,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from genatator._io import atomic_output
from genatator.errors import ModelError
from genatator.genome import read_fasta

logger = logging.getLogger(__name__)

#: Special tokens in GENA-LM's id order: [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4, gap ``-``=5.
SPECIAL_TOKENS = ("[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "-")
UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, PAD_TOKEN, MASK_TOKEN, GAP_TOKEN = SPECIAL_TOKENS
#: Initial BPE alphabet; after the specials it gets GENA's letter ids (A=6, C=8, G=9, N=12, T=15).
ALPHABET = "ABCGKMNRSTWY"
#: Letters every loadable tokenizer must hold as single-character tokens.
REQUIRED_LETTERS = "ACGTN"
#: Runs of at least this many N become one gap token (the normalizer's ``N{10,}`` rule).
MIN_GAP_RUN = 10

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizedSequence:
    """Content tokens of one sequence (no [CLS]/[SEP]) and the characters each covers.

    Attributes:
        ids: token ids, shape ``(n,)``, int64.
        offsets: character spans in the input string, shape ``(n, 2)``, int64, 0-based half-open.
            A gap token covers only the last N of its run (GENA-LM behaviour).
    """

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _build_pipeline(tokenizer: Tokenizer) -> None:
    """Attach GENA-LM's normalizer, pre-tokenizer, post-processor and decoder to a BPE tokenizer."""
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Strip(), normalizers.Replace(Regex(f"N{{{MIN_GAP_RUN},}}"), GAP_TOKEN)]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Split(GAP_TOKEN, behavior="isolated")
    tokenizer.post_processor = processors.BertProcessing(
        (SEP_TOKEN, SPECIAL_TOKENS.index(SEP_TOKEN)), (CLS_TOKEN, SPECIAL_TOKENS.index(CLS_TOKEN))
    )
    tokenizer.decoder = decoders.BPEDecoder()


def _piece_starts(sequence: str, piece_length: int) -> list[int]:
    """Start of every ``piece_length`` piece of ``sequence`` that is at most half N."""
    return [
        i
        for i in range(0, len(sequence), piece_length)
        if 2 * sequence.count("N", i, i + piece_length) <= min(piece_length, len(sequence) - i)
    ]


def _training_pieces(
    sequences: Iterable[str],
    *,
    piece_length: int,
    max_bases: int | None,
    seed: int,
) -> Iterator[str]:
    """Cut sequences into ``piece_length`` pieces; yield them all or a deterministic sample.

    Pieces that are more than half N (assembly gaps) are skipped. With ``max_bases`` a uniform
    reservoir sample of ``max_bases // piece_length`` pieces is drawn over all sequences (so the
    whole genome is seen, but only the sample is held) and yielded in genomic order.
    """
    if max_bases is None:
        for sequence in sequences:
            _check_upper(sequence)
            for i in _piece_starts(sequence, piece_length):
                yield sequence[i : i + piece_length]
        return

    capacity = max(1, max_bases // piece_length)
    rng = np.random.default_rng(seed)
    reservoir: list[tuple[int, str]] = []  # (global piece number, piece)
    seen = 0
    for sequence in sequences:
        _check_upper(sequence)
        starts = _piece_starts(sequence, piece_length)
        if not starts:
            continue
        numbers = seen + np.arange(len(starts))
        # Algorithm R: piece number k replaces slot floor(u * (k + 1)) when that is < capacity.
        slots = np.floor(rng.random(len(starts)) * (numbers + 1)).astype(np.int64)
        for j in np.flatnonzero((numbers < capacity) | (slots < capacity)):
            piece = sequence[starts[j] : starts[j] + piece_length]
            if numbers[j] < capacity:
                reservoir.append((int(numbers[j]), piece))
            else:
                reservoir[slots[j]] = (int(numbers[j]), piece)
        seen += len(starts)
    reservoir.sort(key=lambda item: item[0])
    logger.info("training the tokenizer on %d of %d pieces", len(reservoir), seen)
    for _, piece in reservoir:
        yield piece


class DnaTokenizer:
    """A character-level BPE tokenizer in GENA-LM's format, wrapping a ``tokenizers.Tokenizer``.

    Input sequences must be upper-case DNA (A, C, G, T, N; :mod:`genatator.genome` normalises
    FASTA records so). Lower-case letters would each become [UNK], so :meth:`encode` rejects them.

    Args:
        tokenizer: a tokenizer in GENA-LM format (see :data:`SPECIAL_TOKENS`); its padding and
            truncation settings are switched off.

    Raises:
        ModelError: a special token or letter is missing, or it does not behave as GENA-LM's.
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        # A tokenizer.json may carry padding/truncation settings; offsets must cover real tokens
        # only and truncation is done by ``max_tokens``, so both are switched off.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer
        self._ids = _check_format(tokenizer)
        # ASCII byte -> single-letter token id; anything that is not a letter token reads as N.
        table = np.full(256, self._ids["N"], dtype=np.int64)
        vocab = tokenizer.get_vocab(with_added_tokens=False)
        for letter in string.ascii_uppercase:
            if letter in vocab:
                table[ord(letter)] = vocab[letter]
        self._letter_table = table

    # ------------------------------------------------------------------ construction

    @classmethod
    def train(
        cls,
        sequences: Iterable[str],
        *,
        vocab_size: int,
        piece_length: int = 4096,
        max_training_bases: int | None = None,
        max_token_length: int | None = 64,
        seed: int = 0,
        show_progress: bool = False,
    ) -> DnaTokenizer:
        """Train a BPE vocabulary on DNA, with GENA-LM's special tokens and letter ids.

        Sequences are cut into pieces of ``piece_length`` and streamed to the trainer; pieces more
        than half N are skipped. Training cost grows with the bases used (about 15 s for 10 Mb at
        vocabulary 4096 on two cores), so cap them with ``max_training_bases`` on large genomes.

        Args:
            sequences: upper-case DNA strings (A, C, G, T, N), consumed once.
            vocab_size: vocabulary size including the 6 special tokens and 12 letters (>= 18).
            piece_length: length of the pieces the sequences are cut into, in nucleotides.
            max_training_bases: train on a deterministic uniform sample of about this many bases
                (whole pieces, in genomic order); None uses every piece.
            max_token_length: longest token in nucleotides (GENA-LM's longest is 64); None is
                unbounded, which lets satellite repeats grow very long tokens.
            seed: seed of the piece sample; the trainer itself is deterministic.
            show_progress: show the trainer's progress bar.

        Returns:
            The trained tokenizer, with [UNK]..``-`` = 0..5 and A=6, C=8, G=9, N=12, T=15.

        Raises:
            ValueError: ``vocab_size``, ``piece_length`` or ``max_training_bases`` is out of range,
                or a sequence contains lower-case letters.
        """
        minimum = len(SPECIAL_TOKENS) + len(ALPHABET)
        if vocab_size < minimum:
            raise ValueError(f"vocab_size must be at least {minimum}, got {vocab_size}")
        if piece_length < 1:
            raise ValueError(f"piece_length must be positive, got {piece_length}")
        if max_training_bases is not None and max_training_bases < 1:
            raise ValueError(f"max_training_bases must be positive, got {max_training_bases}")
        tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
        _build_pipeline(tokenizer)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=list(ALPHABET),
            max_token_length=max_token_length,
            show_progress=show_progress,
        )
        pieces = _training_pieces(
            sequences, piece_length=piece_length, max_bases=max_training_bases, seed=seed
        )
        tokenizer.train_from_iterator(pieces, trainer=trainer)
        return cls(tokenizer)

    @classmethod
    def from_file(cls, path: str | Path) -> DnaTokenizer:
        """Load a ``tokenizer.json`` file.

        Raises:
            ModelError: the file is missing, unreadable, or not in GENA-LM format.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: tokenizer file not found")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # the Rust side raises a bare Exception on malformed JSON
            raise ModelError(f"{path}: cannot read tokenizer: {error}") from None
        try:
            return cls(tokenizer)
        except ModelError as error:
            raise ModelError(f"{path}: {error}") from None

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> DnaTokenizer:
        """Load ``tokenizer.json`` from a model directory (ours or a GENA-LM checkpoint folder).

        Raises:
            ModelError: the directory has no ``tokenizer.json`` or it is not in GENA-LM format.
        """
        directory = Path(directory)
        if not (directory / TOKENIZER_FILE).is_file():
            raise ModelError(f"{directory}: no {TOKENIZER_FILE} in the model directory")
        return cls.from_file(directory / TOKENIZER_FILE)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``tokenizer.json`` plus the two small JSON files ``transformers`` expects.

        The directory then loads with :meth:`from_pretrained` and with
        ``transformers.AutoTokenizer.from_pretrained`` (as a ``PreTrainedTokenizerFast``).

        Returns:
            The path of the written ``tokenizer.json``.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        special_map = {
            "unk_token": UNK_TOKEN,
            "cls_token": CLS_TOKEN,
            "sep_token": SEP_TOKEN,
            "pad_token": PAD_TOKEN,
            "mask_token": MASK_TOKEN,
        }
        config = {"tokenizer_class": "PreTrainedTokenizerFast", **special_map}
        with atomic_output(directory / TOKENIZER_FILE) as handle:
            handle.write(self._tokenizer.to_str(pretty=True))
        with atomic_output(directory / "tokenizer_config.json") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        with atomic_output(directory / "special_tokens_map.json") as handle:
            json.dump(special_map, handle, indent=2)
            handle.write("\n")
        return directory / TOKENIZER_FILE

    # ------------------------------------------------------------------ properties

    @property
    def backend(self) -> Tokenizer:
        """The wrapped ``tokenizers.Tokenizer``."""
        return self._tokenizer

    @property
    def vocab_size(self) -> int:
        """Number of token ids, added tokens included (rows of an embedding table)."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def unk_id(self) -> int:
        return self._ids[UNK_TOKEN]

    @property
    def cls_id(self) -> int:
        return self._ids[CLS_TOKEN]

    @property
    def sep_id(self) -> int:
        return self._ids[SEP_TOKEN]

    @property
    def pad_id(self) -> int:
        return self._ids[PAD_TOKEN]

    @property
    def mask_id(self) -> int:
        return self._ids[MASK_TOKEN]

    @property
    def gap_id(self) -> int:
        """Id of ``-``, the token standing for a run of >= 10 N."""
        return self._ids[GAP_TOKEN]

    def token_to_id(self, token: str) -> int | None:
        """Id of a vocabulary entry, or None when absent."""
        return self._tokenizer.token_to_id(token)

    # ------------------------------------------------------------------ encoding

    def nucleotide_ids(self, sequence: str) -> np.ndarray:
        """Single-letter token id of every nucleotide (GENA's letter-level ids: A=6, C=8, ...).

        Args:
            sequence: DNA string of length L.

        Returns:
            int64 array of shape ``(L,)``; characters without a single-letter token read as N.
        """
        raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
        return self._letter_table[raw]

    def encode(self, sequence: str, *, max_tokens: int | None = None) -> TokenizedSequence:
        """Tokenize one sequence into content tokens (no [CLS]/[SEP]; the RMT adds its own).

        Args:
            sequence: upper-case DNA (A, C, G, T, N).
            max_tokens: keep at most this many tokens from the start; the nucleotides after the
                last kept token are then covered by no token.

        Returns:
            Token ids and their 0-based half-open character offsets in ``sequence``.

        Raises:
            ValueError: the sequence contains lower-case letters.
        """
        _check_upper(sequence)
        return self._to_arrays(
            self._tokenizer.encode(sequence, add_special_tokens=False), max_tokens
        )

    def encode_batch(
        self, sequences: Sequence[str], *, max_tokens: int | None = None
    ) -> list[TokenizedSequence]:
        """Tokenize many sequences in parallel (Rust threads); same rules as :meth:`encode`."""
        for sequence in sequences:
            _check_upper(sequence)
        encodings = self._tokenizer.encode_batch(list(sequences), add_special_tokens=False)
        return [self._to_arrays(encoding, max_tokens) for encoding in encodings]

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Concatenate the tokens' strings; a gap token reads as ``-`` (its N run is lost)."""
        return self._tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    @staticmethod
    def _to_arrays(encoding: Encoding, max_tokens: int | None) -> TokenizedSequence:
        ids = np.asarray(encoding.ids, dtype=np.int64)
        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        if max_tokens is not None:
            ids, offsets = ids[:max_tokens], offsets[:max_tokens]
        return TokenizedSequence(ids=ids, offsets=offsets)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


def _check_upper(sequence: str) -> None:
    # str.islower/isupper are C loops; this catches soft-masked input that was not normalised.
    if sequence and not sequence.isupper() and any(c.islower() for c in sequence):
        raise ValueError(
            "sequence contains lower-case letters; upper-case it first "
            "(genatator.genome normalises FASTA records)"
        )


def _check_format(tokenizer: Tokenizer) -> dict[str, int]:
    """Check that a tokenizer is GENA-LM-like and return the ids of its specials and letters.

    Raises:
        ModelError: naming what is missing or behaves differently.
    """
    if type(tokenizer.model).__name__ != "BPE":
        raise ModelError(f"tokenizer model is {type(tokenizer.model).__name__}, expected BPE")
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    missing = [t for t in (*SPECIAL_TOKENS, *REQUIRED_LETTERS) if t not in vocab]
    if missing:
        raise ModelError(f"tokenizer is not in GENA-LM format: missing tokens {missing}")
    ids = {token: vocab[token] for token in (*SPECIAL_TOKENS, *REQUIRED_LETTERS)}
    if len(set(ids.values())) != len(ids):
        raise ModelError(f"tokenizer is not in GENA-LM format: tokens share ids {ids}")
    # Behavioural checks: single letters stay single tokens, a long N run becomes one gap token,
    # and the post-processor wraps content in [CLS] ... [SEP].
    for letter in REQUIRED_LETTERS:
        encoded = tokenizer.encode(letter, add_special_tokens=False).ids
        if encoded != [ids[letter]]:
            raise ModelError(
                f"tokenizer is not in GENA-LM format: {letter!r} encodes as {encoded}, "
                f"expected [{ids[letter]}]"
            )
    gap = tokenizer.encode("A" + "N" * MIN_GAP_RUN + "A", add_special_tokens=True).ids
    if gap != [ids[CLS_TOKEN], ids["A"], ids[GAP_TOKEN], ids["A"], ids[SEP_TOKEN]]:
        raise ModelError(
            f"tokenizer is not in GENA-LM format: 'A{'N' * MIN_GAP_RUN}A' encodes as {gap}, "
            f"expected [CLS] A - A [SEP]"
        )
    return ids


def nucleotide_to_token_map(
    offsets: np.ndarray, length: int, *, expand_gap_tokens: bool = False
) -> np.ndarray:
    """Index of the token covering each nucleotide (GENATATOR's ``embedding_repeater``).

    Tokens with an empty span (specials such as [CLS], offset ``(0, 0)``) are not content tokens:
    they neither cover nucleotides nor count in the index, so offsets with or without specials give
    the same map.

    By default (``expand_gap_tokens=False``, as GENATATOR) a gap token covers only the last N of its
    run, because that is the offset the tokenizer reports, and the run's other positions map to -1;
    the model then drops them from the nucleotide head and the loss. With ``expand_gap_tokens=True``
    (as the ModernGENA example) every token is widened back to the previous token's end (or to 0),
    so the gap token covers its whole run. For normalised ACGTN input only gap tokens have such a
    hole before them. Positions after the last token (a tail cut by truncation) are -1 either way.

    Args:
        offsets: token character spans, shape ``(n, 2)``, 0-based half-open, in sequence order.
        length: number of nucleotides L in the tokenized sequence.
        expand_gap_tokens: widen tokens over the uncovered stretch before them.

    Returns:
        int64 array of shape ``(L,)``: content-token index in ``0..n_content-1``, or -1.
    """
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    content = offsets[offsets[:, 1] > offsets[:, 0]]
    starts = np.clip(content[:, 0], 0, length)
    ends = np.clip(content[:, 1], 0, length)
    if expand_gap_tokens and len(content):
        previous_end = np.concatenate([[0], ends[:-1]])
        starts = np.minimum(starts, previous_end)
    widths = np.maximum(ends - starts, 0)
    result = np.full(length, -1, dtype=np.int64)
    total = int(widths.sum())
    if total == 0:
        return result
    # Positions covered by token i are starts[i] + (0..widths[i]-1); build them all at once.
    first = np.cumsum(widths) - widths
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - first, widths)
    result[positions] = np.repeat(np.arange(len(content), dtype=np.int64), widths)
    return result


def train_tokenizer_on_fasta(
    fasta_path: str | Path,
    *,
    vocab_size: int,
    max_bases: int | None = 10_000_000,
    piece_length: int = 4096,
    max_token_length: int | None = 64,
    seed: int = 0,
    show_progress: bool = False,
) -> DnaTokenizer:
    """Train a tokenizer on a FASTA file, streaming one record at a time.

    Args:
        fasta_path: FASTA path (plain, gzip or bgzip) or ``-`` for stdin.
        vocab_size: vocabulary size, including specials and letters.
        max_bases: train on a deterministic uniform sample of about this many bases of the genome
            (10 Mb takes about 15 s at vocabulary 4096); None uses everything.
        piece_length: training piece length in nucleotides.
        max_token_length: longest token in nucleotides, None for unbounded.
        seed: seed of the piece sample; the same file and seed give the same tokenizer.
        show_progress: show the trainer's progress bar.

    Raises:
        InputError: the FASTA file is missing or malformed.
    """
    return DnaTokenizer.train(
        (record.sequence for record in read_fasta(fasta_path)),
        vocab_size=vocab_size,
        piece_length=piece_length,
        max_training_bases=max_bases,
        max_token_length=max_token_length,
        seed=seed,
        show_progress=show_progress,
    )
