"""``genatator splice extract``: site windows, decoy and random negatives, region splits, on disk.

A dataset directory holds ``train.npz``, ``val.npz`` and ``test.npz`` (always all three) and a
``manifest.json``. Each split has one row per window: ``windows`` (uint8 codes, transcript
orientation, site base at ``window // 2``), ``labels`` (DONOR/ACCEPTOR/NEITHER), ``source``
(0 positive, 1 in-gene decoy, 2 random genomic), ``seqid`` (index into the manifest's
``sequences``), ``position`` (0-based site base) and ``strand`` (+1/-1), sorted by
(seqid, position, strand).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genatator.annotation.models import Gene, Span, merge_spans
from genatator.annotation.read import read_annotation
from genatator.errors import ConfigError, GenatatorWarning, InputError
from genatator.genome import read_fasta
from genatator.regions import Region, parse_regions
from genatator.splice.sites import (
    ACCEPTOR_MOTIFS,
    DONOR_MOTIFS,
    MotifReport,
    motif_in,
    motif_positions,
    motif_report,
    site_motifs,
    site_support,
    unique_introns,
)
from genatator.splice.windows import ACCEPTOR, CLASS_NAMES, DONOR, NEITHER, N, cut_windows, encode

__all__ = [
    "DATA_FORMAT",
    "DATA_VERSION",
    "SOURCES",
    "SPLITS",
    "WHOLE_SEQUENCE_END",
    "ExtractOptions",
    "SpliceData",
    "extract_dataset",
    "load_split",
    "parse_split",
    "read_manifest",
]

DATA_FORMAT = "genatator-splice-data"
DATA_VERSION = 1
SPLITS = ("train", "val", "test")
#: Names of the ``source`` codes: 0 annotated site, 1 in-gene decoy, 2 random genomic position.
SOURCES = ("positive", "decoy", "random")
POSITIVE, DECOY, RANDOM = range(3)
#: End of a region that means "the whole sequence" (a bare name in a split option).
WHOLE_SEQUENCE_END = 2**62
#: Dinucleotide a negative must carry to look like a donor / an acceptor.
_DECOY_MOTIF = {DONOR: "GT", ACCEPTOR: "AG"}
_ALLOWED = {DONOR: DONOR_MOTIFS, ACCEPTOR: ACCEPTOR_MOTIFS}
_LIKE = {DONOR: "donor_like", ACCEPTOR: "acceptor_like"}
_DROP_REASONS = ("ambiguous", "n_motif", "non_canonical", "off_end", "n_heavy", "straddles_split")
_ARRAYS = ("windows", "labels", "source", "seqid", "position", "strand")
_DTYPES = {
    "windows": np.uint8,
    "labels": np.int8,
    "source": np.int8,
    "seqid": np.int32,
    "position": np.int64,
    "strand": np.int8,
}

Log = Callable[[str], None]


def _region_text(region: Region) -> str:
    if region.start == 0 and region.end >= WHOLE_SEQUENCE_END:
        return region.seqid
    return str(region)


def parse_split(text: str, option: str = "--val") -> list[Region]:
    """Parse a split option: comma-separated ``chr:start-end`` (1-based closed) or bare names.

    A bare name (no ``:``) means the whole sequence (end :data:`WHOLE_SEQUENCE_END`); a name that
    itself contains ``:`` must be written as a region.

    Args:
        text: the option's value, e.g. ``"chr9,chr10:1-5000000"``.
        option: the option's name, for error messages.

    Raises:
        ConfigError: an item is malformed, or nothing is given.
    """
    regions: list[Region] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if any(c.isspace() for c in item):
            raise ConfigError(f"{option}: {item!r} contains whitespace")
        if ":" in item:
            regions.extend(parse_regions(item, option=option))
        else:
            regions.append(Region(item, 0, WHOLE_SEQUENCE_END))
    if not regions:
        raise ConfigError(f"{option}: no region or sequence name given")
    return regions


def _overlaps(a: Region, b: Region) -> bool:
    return a.seqid == b.seqid and a.start < b.end and b.start < a.end


@dataclass
class ExtractOptions:
    """Settings of :func:`extract_dataset`.

    Attributes:
        window: window length in nt (at least 16); the site base is at ``window // 2``.
        margin: minimum distance (nt) of any negative from any annotated site of any transcript
            on the same strand (a negative is never a site itself, even with 0).
        decoy_ratio: in-gene decoys per positive of each class and sequence.
        random_ratio: random genomic negatives per positive of each class and sequence.
        kinds: transcript kinds whose introns are positives (None: all kinds).
        canonical_only: drop sites whose motif is not in DONOR_MOTIFS / ACCEPTOR_MOTIFS.
        max_n_fraction: drop windows with a larger fraction of N.
        seed: seed of the negative sampling.
        val: regions of the validation split.
        test: regions of the test split.
    """

    window: int = 512
    margin: int = 50
    decoy_ratio: float = 1.0
    random_ratio: float = 1.0
    kinds: tuple[str, ...] | None = ("mRNA", "lnc_RNA", "transcript")
    canonical_only: bool = False
    max_n_fraction: float = 0.1
    seed: int = 0
    val: list[Region] = field(default_factory=list)
    test: list[Region] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 16:
            raise ConfigError(f"window must be an integer of at least 16 nt, not {self.window!r}")
        if isinstance(self.margin, bool) or not isinstance(self.margin, int) or self.margin < 0:
            raise ConfigError(f"margin must be a non-negative integer, not {self.margin!r}")
        for name in ("decoy_ratio", "random_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number ≥ 0, not {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, not {self.seed!r}")
        fraction = self.max_n_fraction
        if not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"max_n_fraction must be in [0, 1], not {self.max_n_fraction!r}")
        if self.kinds is not None:
            if isinstance(self.kinds, str):
                self.kinds = (self.kinds,)
            self.kinds = tuple(self.kinds)
            if not self.kinds:
                raise ConfigError("kinds must name at least one transcript kind (or be None)")
        self.val, self.test = list(self.val), list(self.test)
        for a in self.val:
            for b in self.test:
                if _overlaps(a, b):
                    raise ConfigError(
                        f"val region {_region_text(a)} overlaps test region {_region_text(b)}"
                    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options (regions as users write them, bare names for whole sequences)."""
        return {
            "window": self.window,
            "margin": self.margin,
            "decoy_ratio": self.decoy_ratio,
            "random_ratio": self.random_ratio,
            "kinds": None if self.kinds is None else list(self.kinds),
            "canonical_only": self.canonical_only,
            "max_n_fraction": self.max_n_fraction,
            "seed": self.seed,
            "val": [_region_text(r) for r in self.val],
            "test": [_region_text(r) for r in self.test],
        }


@dataclass
class SpliceData:
    """One split of a dataset directory (arrays as described in the module docstring)."""

    windows: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    seqid: np.ndarray
    position: np.ndarray
    strand: np.ndarray
    sequences: list[str]
    window: int

    def __len__(self) -> int:
        return len(self.labels)


# ------------------------------------------------------------------------------------------------
# Per-sequence extraction


@dataclass
class _SeqSites:
    """Sites of one sequence: kept positives, all-transcript exclusion sites, gene spans."""

    positions: list[int] = field(default_factory=list)
    signs: list[int] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    excluded: dict[int, list[int]] = field(default_factory=lambda: {1: [], -1: []})
    genes: dict[int, list[Span]] = field(default_factory=lambda: {1: [], -1: []})
    last_intron_end: int = 0  # over every transcript, to check the sequence is long enough
    last_transcript: str = ""


class _Counts:
    """Dropped rows by reason and class, and negatives requested/sampled by source and motif."""

    def __init__(self) -> None:
        self.dropped = {r: dict.fromkeys(CLASS_NAMES, 0) for r in _DROP_REASONS}
        self.negatives = {
            source: {like: {"requested": 0, "sampled": 0} for like in _LIKE.values()}
            for source in SOURCES[1:]
        }

    def drop(self, reason: str, labels: np.ndarray) -> None:
        for label, n in zip(*np.unique(labels, return_counts=True)):
            self.dropped[reason][CLASS_NAMES[int(label)]] += int(n)


def _window_inside(positions: np.ndarray, signs: np.ndarray, length: int, size: int) -> np.ndarray:
    centre = length // 2
    starts = np.where(signs < 0, positions + centre - length + 1, positions - centre)
    return (starts >= 0) & (starts + length <= size)


def _far_from(positions: np.ndarray, sites: np.ndarray, distance: int) -> np.ndarray:
    """True where the nearest of the sorted ``sites`` is at least ``distance`` away."""
    if not len(sites):
        return np.ones(len(positions), dtype=bool)
    index = np.searchsorted(sites, positions)
    before = sites[np.maximum(index - 1, 0)]
    after = sites[np.minimum(index, len(sites) - 1)]
    nearest = np.minimum(np.abs(positions - before), np.abs(after - positions))
    return nearest >= distance


def _inside_spans(positions: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True where a position lies in one of the sorted, disjoint ``[starts, ends)``."""
    if not len(starts):
        return np.zeros(len(positions), dtype=bool)
    index = np.searchsorted(starts, positions, side="right") - 1
    return (index >= 0) & (positions < ends[np.maximum(index, 0)])


def _sample(rng: np.random.Generator, pool: np.ndarray, k: int, chosen: np.ndarray) -> np.ndarray:
    """Up to ``k`` keys of ``pool`` not in ``chosen``, without replacement, in pool-random order."""
    if k <= 0 or not len(pool):
        return pool[:0]
    # Drawing len(chosen) extra keys leaves k after removing any already chosen ones.
    pick = pool[rng.choice(len(pool), min(len(pool), k + len(chosen)), replace=False)]
    if len(chosen):
        pick = pick[~np.isin(pick, chosen)]
    return pick[:k]


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def _sequence_rows(
    codes: np.ndarray, sites: _SeqSites, options: ExtractOptions, counts: _Counts, name: str
) -> dict[str, np.ndarray]:
    """Positive and negative windows of one sequence (before the split)."""
    length, size = options.window, len(codes)
    positions = np.asarray(sites.positions, dtype=np.int64)
    signs = np.asarray(sites.signs, dtype=np.int64)
    labels = np.asarray(sites.kinds, dtype=np.int8)

    # A position that is a donor of one isoform and an acceptor of another has no single label.
    keys = positions * 2 + (signs < 0)
    both = np.intersect1d(keys[labels == DONOR], keys[labels == ACCEPTOR])
    keep = ~np.isin(keys, both)
    counts.drop("ambiguous", labels[~keep])
    positions, signs, labels = positions[keep], signs[keep], labels[keep]

    motif_n = np.zeros(len(positions), dtype=bool)
    odd = np.zeros(len(positions), dtype=bool)
    for kind in (DONOR, ACCEPTOR):
        of_kind = labels == kind
        motifs = site_motifs(codes, positions[of_kind], signs[of_kind], kind)
        motif_n[of_kind] = (motifs >= N).any(axis=1)
        odd[of_kind] = ~motif_in(motifs, _ALLOWED[kind])
    # Each dropped site is counted once, under the first reason that applies.
    reasons = [("n_motif", motif_n)]
    if options.canonical_only:
        reasons.append(("non_canonical", odd))
    reasons.append(("off_end", ~_window_inside(positions, signs, length, size)))
    alive = np.ones(len(positions), dtype=bool)
    for reason, bad in reasons:
        counts.drop(reason, labels[alive & bad])
        alive &= ~bad
    positions, signs, labels = positions[alive], signs[alive], labels[alive]
    windows, _ = cut_windows(codes, positions, signs, length)
    keep = (windows == N).sum(axis=1) <= options.max_n_fraction * length
    counts.drop("n_heavy", labels[~keep])
    positive = {
        "windows": windows[keep],
        "labels": labels[keep],
        "source": np.full(int(keep.sum()), POSITIVE, dtype=np.int8),
        "position": positions[keep],
        "strand": signs[keep].astype(np.int8),
    }

    negative = _negatives(codes, sites, positive["labels"], options, counts, name)
    return {key: np.concatenate([positive[key], negative[key]]) for key in positive}


def _negatives(
    codes: np.ndarray,
    sites: _SeqSites,
    positive_labels: np.ndarray,
    options: ExtractOptions,
    counts: _Counts,
    name: str,
) -> dict[str, np.ndarray]:
    """Decoy and random negatives of one sequence, as window rows labelled NEITHER."""
    length, size = options.window, len(codes)
    distance = max(options.margin, 1)
    # Per-sequence generator keyed by name: the draw does not depend on the FASTA's order.
    rng = np.random.default_rng([options.seed, zlib.crc32(name.encode("utf-8"))])
    pools: dict[tuple[int, int], np.ndarray] = {}
    for kind in (DONOR, ACCEPTOR):
        decoy_keys, random_keys = [], []
        for sign in (1, -1):
            found = motif_positions(codes, _DECOY_MOTIF[kind], sign, kind)
            found = found[_window_inside(found, np.full(len(found), sign), length, size)]
            excluded = np.unique(np.asarray(sites.excluded[sign], dtype=np.int64))
            found = found[_far_from(found, excluded, distance)]
            spans = merge_spans(sites.genes[sign])
            starts = np.array([s for s, _ in spans], dtype=np.int64)
            ends = np.array([e for _, e in spans], dtype=np.int64)
            key = found * 2 + (sign < 0)
            random_keys.append(key)
            decoy_keys.append(key[_inside_spans(found, starts, ends)])
        pools[DECOY, kind] = np.concatenate(decoy_keys)
        pools[RANDOM, kind] = np.concatenate(random_keys)

    chosen = np.zeros(0, dtype=np.int64)
    picked: list[tuple[int, np.ndarray]] = []
    for source, ratio in ((DECOY, options.decoy_ratio), (RANDOM, options.random_ratio)):
        for kind in (DONOR, ACCEPTOR):
            wanted = _round(ratio * int(np.count_nonzero(positive_labels == kind)))
            keys = _sample(rng, pools[source, kind], wanted, chosen)
            chosen = np.concatenate([chosen, keys])
            picked.append((source, keys))
            tally = counts.negatives[SOURCES[source]][_LIKE[kind]]
            tally["requested"] += wanted
            tally["sampled"] += len(keys)
    keys = np.concatenate([k for _, k in picked])
    source = np.concatenate([np.full(len(k), s, dtype=np.int8) for s, k in picked])
    positions = keys >> 1
    signs = np.where(keys & 1, -1, 1).astype(np.int8)
    windows, _ = cut_windows(codes, positions, signs, length)
    labels = np.full(len(keys), NEITHER, dtype=np.int8)
    keep = (windows == N).sum(axis=1) <= options.max_n_fraction * length
    counts.drop("n_heavy", labels[~keep])
    return {
        "windows": windows[keep],
        "labels": labels[keep],
        "source": source[keep],
        "position": positions[keep],
        "strand": signs[keep],
    }


# ------------------------------------------------------------------------------------------------
# Splits and output


def _split_codes(
    names: Sequence[str], rows: dict[str, np.ndarray], options: ExtractOptions
) -> np.ndarray:
    """0 train, 1 val, 2 test or -1 (straddles a val/test boundary) per row."""
    length = options.window
    centre = length // 2
    position, sign = rows["position"], rows["strand"].astype(np.int64)
    starts = np.where(sign < 0, position + centre - length + 1, position - centre)
    ends = starts + length
    split = np.zeros(len(position), dtype=np.int8)
    with_regions = {r.seqid for r in (*options.val, *options.test)}
    for index, name in enumerate(names):
        if name not in with_regions:
            continue  # all train
        here = np.flatnonzero(rows["seqid"] == index)
        if not len(here):
            continue
        s, e = starts[here], ends[here]
        touched = np.zeros(len(here), dtype=bool)
        for code, regions in ((1, options.val), (2, options.test)):
            spans = merge_spans((r.start, r.end) for r in regions if r.seqid == name)
            if not spans:
                continue
            r_start = np.array([a for a, _ in spans], dtype=np.int64)
            r_end = np.array([b for _, b in spans], dtype=np.int64)
            # Inside: the last region starting at or before the window's start also holds its end.
            last = np.searchsorted(r_start, s, side="right") - 1
            inside = (last >= 0) & (e <= r_end[np.maximum(last, 0)])
            overlap = np.searchsorted(r_start, e) - np.searchsorted(r_end, s, side="right") > 0
            split[here[inside]] = code
            touched |= overlap & ~inside
        split[here[touched]] = -1
    return split


def _empty_rows(window: int) -> dict[str, np.ndarray]:
    rows = {key: np.zeros(0, dtype=dtype) for key, dtype in _DTYPES.items()}
    rows["windows"] = np.zeros((0, window), dtype=np.uint8)
    return rows


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConfigError(f"{out_dir}: exists and is not a directory")
        if not overwrite and any(out_dir.iterdir()):
            raise ConfigError(f"{out_dir}: directory exists and is not empty (use overwrite)")


def _publish(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Move the finished ``tmp`` directory to ``out_dir``, replacing an old one only at the end."""
    _check_out_dir(out_dir, overwrite)
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        os.replace(out_dir, old / "data")
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def _file_size(path: str | Path) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _collect_sites(genes: list[Gene], kinds: Iterable[str] | None) -> dict[str, _SeqSites]:
    """Per sequence: kept sites as positives; every transcript's sites and kept genes' spans."""
    kept_kinds = None if kinds is None else set(kinds)
    by_seqid: dict[str, _SeqSites] = {}
    for seqid, position, strand, kind in sorted(site_support(genes, kept_kinds)):
        entry = by_seqid.setdefault(seqid, _SeqSites())
        entry.positions.append(position)
        entry.signs.append(1 if strand == "+" else -1)
        entry.kinds.append(kind)
    for seqid, position, strand, _ in site_support(genes):
        if seqid in by_seqid:
            by_seqid[seqid].excluded[1 if strand == "+" else -1].append(position)
    for gene in genes:
        entry = by_seqid.get(gene.seqid)
        if entry is None:
            continue
        for t in gene.transcripts:
            if kept_kinds is None or t.kind in kept_kinds:
                entry.genes[1 if t.strand == "+" else -1].append((t.start, t.end))
            introns = t.introns
            if introns and introns[-1][1] > entry.last_intron_end:
                entry.last_intron_end, entry.last_transcript = introns[-1][1], t.id
    return by_seqid


def _few(names: Iterable[str], n: int = 5) -> str:
    names = list(names)
    shown = ", ".join(names[:n])
    return shown + (f", … ({len(names)} in all)" if len(names) > n else "")


def extract_dataset(
    genome_path: str | Path,
    annotation_path: str | Path,
    out_dir: str | Path,
    options: ExtractOptions | None = None,
    log: Log | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Extract a splice-site window dataset from a genome FASTA and its GFF3/GTF annotation.

    Positives are the deduplicated intron-boundary sites of transcripts of ``options.kinds``
    (never transcript starts or ends). Negatives carry the class motif (GT donor-like, AG
    acceptor-like) in transcript orientation, lie at least ``margin`` nt from every annotated site
    of any transcript on their strand, and are drawn per sequence and class: in-gene decoys
    (inside kept transcripts' spans, same strand) and random genomic positions (either strand),
    reported separately. Only sequences with at least one kept splice site are used; the FASTA
    is streamed one record at a time. Rows are split by region (``options.val``/``test``):
    a window inside a region goes to its split, one touching no region to train, and one
    straddling a region boundary is dropped. The directory is built beside ``out_dir`` and
    renamed into place at the end.

    Args:
        genome_path: FASTA (plain or gzip).
        annotation_path: GFF3 or GTF (plain or gzip).
        out_dir: directory to create.
        options: extraction settings (defaults when None).
        log: called with progress and report lines (the motif report among them).
        overwrite: replace an existing non-empty ``out_dir``.

    Returns:
        The manifest (also written to ``out_dir/manifest.json``).

    Raises:
        InputError: unreadable inputs, no introns in the kept kinds, no annotated sequence in the
            FASTA, or a site past its sequence's end.
        ConfigError: ``out_dir`` exists and is not empty (without ``overwrite``).

    Warns:
        GenatatorWarning: annotated sequences with sites are missing from the FASTA.
    """
    options = options or ExtractOptions()
    emit = log or (lambda _line: None)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    # Both inputs are checked before the annotation is read, so a missing FASTA fails first.
    for path in (genome_path, annotation_path):
        if str(path) != "-" and not Path(path).is_file():
            raise InputError("no such file", path=path)
    annotated = _AnnotatedSites.read(annotation_path, options.kinds)
    emit(annotated.summary(annotation_path))
    counts = _Counts()
    scan = _scan_genome(genome_path, annotation_path, annotated, options, counts, emit)
    rows = _empty_rows(options.window)
    if scan.parts:
        rows = {key: np.concatenate([p[key] for p in scan.parts]) for key in _DTYPES}
    split = _split_codes(scan.names, rows, options)
    counts.drop("straddles_split", rows["labels"][split < 0])
    manifest: dict[str, Any] = {
        "format": DATA_FORMAT,
        "version": DATA_VERSION,
        "inputs": {
            "genome": {"path": str(genome_path), "size_bytes": _file_size(genome_path)},
            "annotation": {"path": str(annotation_path), "size_bytes": _file_size(annotation_path)},
        },
        "options": options.to_dict(),
        "window": options.window,
        "classes": list(CLASS_NAMES),
        "sources": list(SOURCES),
        "sequences": scan.names,
        "sequence_lengths": scan.lengths,
        "note": "only sequences with at least one splice site of the kept kinds are used",
        "sites": {
            "introns": len(annotated.introns),
            "donor": annotated.donors,
            "acceptor": annotated.sites - annotated.donors,
        },
        "counts": {},
        "dropped": counts.dropped,
        "negatives": counts.negatives,
        "motifs": scan.report.to_dict(),
    }
    _write_splits(out_dir, rows, split, manifest, overwrite, emit)
    return manifest


@dataclass
class _AnnotatedSites:
    """The annotation's splice sites by sequence, and its unique introns."""

    by_seqid: dict[str, _SeqSites]
    introns: list[tuple[str, str, int, int]]
    introns_of: dict[str, list[tuple[str, str, int, int]]]
    donors: int
    sites: int

    @classmethod
    def read(cls, annotation_path: str | Path, kinds: tuple[str, ...] | None) -> _AnnotatedSites:
        """Raises InputError when no transcript of ``kinds`` has an intron."""
        genes = read_annotation(annotation_path).genes
        by_seqid = _collect_sites(genes, kinds)
        if not by_seqid:
            named = "any kind" if kinds is None else ", ".join(kinds)
            raise InputError(
                f"no introns: no multi-exon transcripts of {named}", path=annotation_path
            )
        introns = unique_introns(genes, kinds)
        introns_of: dict[str, list[tuple[str, str, int, int]]] = {}
        for intron in introns:
            introns_of.setdefault(intron[0], []).append(intron)
        donors = sum(k.count(DONOR) for k in (s.kinds for s in by_seqid.values()))
        sites = sum(len(s.kinds) for s in by_seqid.values())
        return cls(by_seqid, introns, introns_of, donors, sites)

    def summary(self, annotation_path: str | Path) -> str:
        return (
            f"{annotation_path}: {len(self.introns):,} unique introns, {self.donors:,} donor and "
            f"{self.sites - self.donors:,} acceptor sites on {len(self.by_seqid):,} sequences"
        )


@dataclass
class _GenomeScan:
    """Rows of every used sequence, in FASTA order, and the motif report."""

    names: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    report: MotifReport = field(default_factory=MotifReport)


def _scan_genome(
    genome_path: str | Path,
    annotation_path: str | Path,
    annotated: _AnnotatedSites,
    options: ExtractOptions,
    counts: _Counts,
    emit: Log,
) -> _GenomeScan:
    """Stream the FASTA and draw each annotated sequence's rows (see :func:`extract_dataset`)."""
    scan = _GenomeScan()
    fasta_names: list[str] = []
    for record in read_fasta(genome_path):
        fasta_names.append(record.name)
        sites = annotated.by_seqid.get(record.name)
        if sites is None:
            continue
        if sites.last_intron_end > record.length:
            raise InputError(
                f"transcript {sites.last_transcript} has a splice site past the end of sequence "
                f"{record.name} (length {record.length:,}): does the annotation match the genome?",
                path=annotation_path,
            )
        codes = encode(record.sequence)
        del record  # only the codes are needed from here on
        name = fasta_names[-1]
        scan.report += motif_report(annotated.introns_of[name], {name: codes})
        rows = _sequence_rows(codes, sites, options, counts, name)
        rows["seqid"] = np.full(len(rows["labels"]), len(scan.names), dtype=np.int32)
        labels, source = rows["labels"], rows["source"]
        emit(
            f"{name}: {np.count_nonzero(labels == DONOR):,} donors, "
            f"{np.count_nonzero(labels == ACCEPTOR):,} acceptors, "
            f"{np.count_nonzero(source == DECOY):,} decoys, "
            f"{np.count_nonzero(source == RANDOM):,} random negatives"
        )
        scan.names.append(name)
        scan.lengths.append(len(codes))
        scan.parts.append(rows)
    used = set(scan.names)
    missing = [s for s in annotated.by_seqid if s not in used]
    if not scan.names:
        raise InputError(
            f"none of the annotation's sequences ({_few(annotated.by_seqid)}) is in the FASTA "
            f"(which has {_few(fasta_names)})",
            path=genome_path,
        )
    if missing:
        warnings.warn(
            f"{genome_path}: {len(missing)} annotated sequences with splice sites are not in the "
            f"FASTA and are skipped: {_few(missing)}",
            GenatatorWarning,
            stacklevel=3,
        )
        scan.report += MotifReport({}, sum(len(annotated.introns_of[s]) for s in missing))
    emit(scan.report.format())
    for region in (*options.val, *options.test):
        if region.seqid not in used:
            warnings.warn(
                f"split region {_region_text(region)}: sequence {region.seqid} has no data",
                GenatatorWarning,
                stacklevel=3,
            )
    return scan


def _write_splits(
    out_dir: Path,
    rows: dict[str, np.ndarray],
    split: np.ndarray,
    manifest: dict[str, Any],
    overwrite: bool,
    emit: Log,
) -> None:
    """Write each split's rows and the manifest beside ``out_dir``, then move them into place."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp creates 0700; give the directory the usual mode
    try:
        for code, split_name in enumerate(SPLITS):
            here = np.flatnonzero(split == code)
            order = here[
                np.lexsort((rows["strand"][here], rows["position"][here], rows["seqid"][here]))
            ]
            arrays = {key: rows[key][order].astype(_DTYPES[key]) for key in _DTYPES}
            np.savez(tmp / f"{split_name}.npz", **arrays)
            manifest["counts"][split_name] = _split_counts(arrays["labels"], arrays["source"])
            emit(f"{split_name}: {len(order):,} windows ({_counts_text(manifest, split_name)})")
        with open(tmp / "manifest.json", "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.write("\n")
        _publish(tmp, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _counts_text(manifest: dict[str, Any], split: str) -> str:
    counts = manifest["counts"][split]
    return ", ".join(
        f"{name} {source} {n:,}" for name, by in counts.items() for source, n in by.items()
    )


def _split_counts(labels: np.ndarray, source: np.ndarray) -> dict[str, dict[str, int]]:
    """Rows per class and source (positives for donor/acceptor, decoy/random for neither)."""
    out: dict[str, dict[str, int]] = {}
    for label, name in enumerate(CLASS_NAMES):
        sources = (POSITIVE,) if label != NEITHER else (DECOY, RANDOM)
        out[name] = {
            SOURCES[s]: int(np.count_nonzero((labels == label) & (source == s))) for s in sources
        }
    return out


# ------------------------------------------------------------------------------------------------
# Reading back


def read_manifest(data_dir: str | Path) -> dict[str, Any]:
    """The manifest of a dataset directory.

    Raises:
        InputError: the directory or manifest is missing or unreadable, or of another format or
            version.
    """
    path = Path(data_dir) / "manifest.json"
    if not Path(data_dir).is_dir():
        raise InputError("no such splice dataset directory", path=data_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise InputError("no manifest.json: not a splice dataset", path=data_dir) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable manifest ({exc})", path=path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != DATA_FORMAT:
        raise InputError(f"not a {DATA_FORMAT} manifest", path=path)
    if manifest.get("version") != DATA_VERSION:
        raise InputError(
            f"dataset version {manifest.get('version')!r} is not supported "
            f"(expected {DATA_VERSION}); extract it again",
            path=path,
        )
    return manifest


def load_split(data_dir: str | Path, split: str, *, window: int | None = None) -> SpliceData:
    """Load one split of a dataset directory.

    Args:
        data_dir: directory written by :func:`extract_dataset`.
        split: ``"train"``, ``"val"`` or ``"test"``.
        window: expected window length (e.g. a model's); None accepts the manifest's.

    Raises:
        ConfigError: ``split`` is not one of the three.
        InputError: missing or malformed files, or a window length that does not match.
    """
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    manifest = read_manifest(data_dir)
    length = manifest.get("window")
    path = Path(data_dir) / f"{split}.npz"
    if window is not None and window != length:
        raise InputError(f"windows are {length} nt, not the expected {window} nt", path=data_dir)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in _ARRAYS}
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except KeyError as exc:
        raise InputError(f"missing array {exc}", path=path) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # damaged
        raise InputError(f"unreadable split file ({exc})", path=path) from None
    n = len(arrays["labels"])
    if arrays["windows"].ndim != 2 or arrays["windows"].shape[1] != length:
        raise InputError(
            f"windows of shape {arrays['windows'].shape} do not match the manifest's {length} nt",
            path=path,
        )
    if any(len(arrays[key]) != n for key in _ARRAYS):
        raise InputError("arrays of different lengths", path=path)
    return SpliceData(**arrays, sequences=list(manifest["sequences"]), window=int(length))
