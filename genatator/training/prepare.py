"""Training data preparation: genomes and annotations → a per-chromosome array cache in RUN_DIR."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from zipfile import BadZipFile

import numpy as np

from genatator._io import display_name
from genatator.annotation import read_annotation
from genatator.annotation.models import Transcript
from genatator.annotation.orf import DERIVE_CDS_RULES
from genatator.annotation.orf import derive_cds as derive_transcript_cds
from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError, InputError
from genatator.genome import read_fasta
from genatator.labels import CLASSES, EXON, INTRON, packed_label_track
from genatator.postprocess.dinucleotides import SpliceTable
from genatator.regions import Region

logger = logging.getLogger(__name__)

#: Bumped whenever the cache layout changes, so an old cache is rebuilt rather than misread.
CACHE_FORMAT = 3
MANIFEST = "manifest.json"
TRAIN, VAL = "train", "val"


@dataclass(frozen=True)
class GenomeSource:
    """One genome FASTA with its annotation (GFF3 or GTF)."""

    genome: str
    annotation: str


@dataclass
class Chromosome:
    """One cached sequence and which of its bases each split may use."""

    key: str  # file stem in the cache, unique over all genomes
    source: str  # genome path as given
    seqid: str
    length: int
    digest: str
    intervals: dict[str, list[list[int]]] = field(default_factory=dict)  # split -> [[start, end)]
    channels: list[int] = field(default_factory=lambda: list(range(len(CLASSES))))

    @classmethod
    def from_dict(cls, values: dict) -> Chromosome:
        return dataclass_from_dict(cls, values, "prepared chromosome")


@dataclass
class PreparedData:
    """The manifest of a prepared cache: chromosomes and anchored transcripts, per split.

    A chromosome's ``channels`` are the label classes its annotation defines: all five, or
    exon and intron only when the annotation has no CDS at all (e.g. GENCODE exon-only tables),
    whose UTR and CDS channels must not be taught as "absent".
    ``transcripts`` rows are ``(chromosome index, start, end, label offset)`` of each
    representative transcript that lies wholly inside one split's bases; the transcript's own
    packed labels are ``<key>.transcripts.npy[offset : offset + end - start]``.
    ``splice_table`` counts the dinucleotides flanking the training transcripts' introns (every
    isoform wholly in the training bases), for the annotator's illegal-dinucleotide filter.
    """

    directory: Path
    chromosomes: list[Chromosome]
    transcripts: dict[str, np.ndarray]
    splice_table: SpliceTable

    def sequence(self, index: int) -> np.ndarray:
        """ASCII codes of a chromosome (memory-mapped)."""
        return np.load(self._path(index, "sequence"), mmap_mode="r")

    def labels(self, index: int) -> np.ndarray:
        """Packed labels of all representative transcripts of a chromosome (memory-mapped)."""
        return np.load(self._path(index, "labels"), mmap_mode="r")

    def transcript_labels(self, index: int) -> np.ndarray:
        """Concatenated packed labels of a chromosome's anchored transcripts (memory-mapped)."""
        return np.load(self._path(index, "transcripts"), mmap_mode="r")

    def _path(self, index: int, what: str) -> Path:
        return self.directory / f"{self.chromosomes[index].key}.{what}.npy"


def fingerprint(
    sources: list[GenomeSource],
    val_sources: list[GenomeSource],
    val_regions: list[Region],
    derive_cds: str = "none",
) -> dict:
    """What the cache depends on: input files (path, size, mtime), the validation regions and
    the CDS derivation rule (recorded only when it is not ``none``, so caches prepared before
    the rule existed stay valid)."""

    def stat(path: str) -> list:
        info = os.stat(path)
        return [str(Path(path).resolve()), info.st_size, info.st_mtime_ns]

    values = {
        "format": CACHE_FORMAT,
        "train": [[stat(s.genome), stat(s.annotation)] for s in sources],
        "val": [[stat(s.genome), stat(s.annotation)] for s in val_sources],
        "val_regions": [str(r) for r in sorted(val_regions)],
    }
    if derive_cds != "none":
        values["derive_cds"] = derive_cds
    return values


def prepare(
    cache: str | Path,
    sources: list[GenomeSource],
    *,
    val_sources: list[GenomeSource] = (),  # type: ignore[assignment]
    val_regions: list[Region] = (),  # type: ignore[assignment]
    derive_cds: str = "none",
) -> PreparedData:
    """Build the training cache in ``cache`` (or reuse it when its inputs are unchanged).

    Each FASTA is streamed one record at a time, so memory is bounded by the longest sequence.
    Per sequence that carries at least one annotated transcript the cache holds its ASCII
    sequence, the packed labels of every gene's representative transcript (the longest exon sum)
    and the labels of the anchored transcripts. Sequences without any annotated transcript are
    skipped: unannotated scaffolds would teach the model that genes are absent there.

    Training uses every base of the training genomes outside ``val_regions``; validation uses
    ``val_regions`` and the whole of every ``val_sources`` genome. A transcript anchors a sample
    only when it lies wholly inside one split.

    With ``derive_cds="longest-orf"`` each representative transcript without CDS whose coding
    status is claimed or unknown (an exon-only annotation's) takes its longest complete ORF of
    at least 100 codons as CDS (:func:`genatator.annotation.orf.derive_cds`) before its labels
    are made, so such an annotation teaches all five classes.

    The cache is assembled in a temporary sibling directory and renamed into place.

    Raises:
        InputError: an annotation names a sequence its FASTA lacks or runs past its end, a split
            has no transcripts, or a validation genome repeats a training sequence.
        ConfigError: a validation region names an unknown sequence or lies past its end, or
            ``derive_cds`` is not a known rule.
    """
    if derive_cds not in DERIVE_CDS_RULES:
        raise ConfigError(f"--derive-cds must be one of {', '.join(DERIVE_CDS_RULES)}")
    cache = Path(cache)
    sources, val_sources, val_regions = list(sources), list(val_sources), list(val_regions)
    expected = fingerprint(sources, val_sources, val_regions, derive_cds)
    if (cache / MANIFEST).is_file():
        reused = _reuse(cache, expected)
        if reused is not None:
            return reused

    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        builder = _Builder(staging, val_regions, derive_cds)
        for source in sources:
            builder.add(source, TRAIN)
        builder.check_regions()
        for source in val_sources:
            builder.add(source, VAL)
        builder.check_splits()
        values = builder.manifest(expected)
        (staging / MANIFEST).write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(staging, cache)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _load(cache, values)


def _reuse(cache: Path, expected: dict) -> PreparedData | None:
    """The prepared data in ``cache`` if it comes from the ``expected`` inputs and is whole."""
    try:
        values = json.loads((cache / MANIFEST).read_text(encoding="utf-8"))
        if values.get("fingerprint") != expected:
            logger.info("training inputs changed since %s was prepared; preparing again", cache)
            return None
        data = _load(cache, values)
        for index in range(len(data.chromosomes)):
            for array in (data.sequence, data.labels, data.transcript_labels):
                array(index)  # mapping an array checks its file's header and size
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, BadZipFile) as exc:
        # Derived data, so a damaged cache (a full disk, a copy cut short) is rebuilt, not fatal.
        logger.warning("prepared data in %s is damaged (%s); preparing again", cache, exc)
        return None
    logger.info("reusing prepared training data in %s", cache)
    return data


def _load(cache: Path, values: dict) -> PreparedData:
    chromosomes = [Chromosome.from_dict(c) for c in values["chromosomes"]]
    tables = np.load(cache / "transcripts.npz")
    return PreparedData(
        cache,
        chromosomes,
        {split: tables[split] for split in (TRAIN, VAL)},
        SpliceTable.from_dict(values["splice_table"]),
    )


class _Builder:
    """Accumulates cached chromosomes and anchored transcripts, source by source."""

    def __init__(self, directory: Path, val_regions: list[Region], derive_cds: str) -> None:
        self.directory = directory
        self.derive_cds = derive_cds
        self.chromosomes: list[Chromosome] = []
        self.rows: dict[str, list[tuple[int, int, int, int]]] = {TRAIN: [], VAL: []}
        self.train_digests: dict[str, str] = {}  # digest -> "seqid of genome"
        self.regions: dict[str, list[Region]] = defaultdict(list)
        for region in val_regions:
            self.regions[region.seqid].append(region)
        self.region_hits: dict[str, int] = {}
        self.splice_table = SpliceTable.empty()

    def add(self, source: GenomeSource, split: str) -> None:
        annotation = read_annotation(source.annotation)
        by_sequence: dict[str, list[Transcript]] = defaultdict(list)
        isoforms: dict[str, list[Transcript]] = defaultdict(list)
        for gene in annotation.genes:
            if gene.transcripts:
                by_sequence[gene.seqid].append(gene.representative())
                isoforms[gene.seqid].extend(gene.transcripts)
        if not by_sequence:
            raise InputError(f"{display_name(source.annotation)}: no transcripts found")
        has_cds = any(t.cds for transcripts in isoforms.values() for t in transcripts)
        added: list[Chromosome] = []
        without_cds = given_cds = 0
        seen: set[str] = set()
        for record in read_fasta(source.genome):
            seen.add(record.name)
            digest = hashlib.blake2b(record.sequence.encode("ascii"), digest_size=16).hexdigest()
            if split == TRAIN:
                self.train_digests.setdefault(digest, f"{record.name} of {source.genome}")
            elif digest in self.train_digests:
                raise InputError(
                    f"{display_name(source.genome)}: validation sequence {record.name} is "
                    f"identical to training sequence {self.train_digests[digest]}"
                )
            transcripts = by_sequence.get(record.name)
            if not transcripts:
                continue
            if self.derive_cds != "none":
                lacking = sum(not t.cds for t in transcripts)
                transcripts = [derive_transcript_cds(t, record.sequence) for t in transcripts]
                given = lacking - sum(not t.cds for t in transcripts)
                without_cds, given_cds = without_cds + lacking, given_cds + given
                has_cds |= given > 0
            chromosome = self._add_sequence(
                source, split, record.name, record.sequence, digest, transcripts
            )
            added.append(chromosome)
            for transcript in isoforms[record.name]:
                if _inside(transcript, chromosome.intervals[TRAIN]):
                    self.splice_table.add_transcript(transcript, record.sequence)
        missing = sorted(set(by_sequence) - seen)
        if missing:
            raise InputError(
                f"{display_name(source.annotation)}: annotates sequence {missing[0]!r}, which "
                f"{display_name(source.genome)} does not contain"
                + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        if self.derive_cds != "none":
            logger.info(
                "%s: %d of %d representative transcripts without CDS took their longest ORF as CDS",
                display_name(source.annotation),
                given_cds,
                without_cds,
            )
        if not has_cds:
            logger.warning(
                "%s has no CDS: its sequences teach exon and intron only",
                display_name(source.annotation),
            )
        for chromosome in added:
            chromosome.channels = list(range(len(CLASSES))) if has_cds else [EXON, INTRON]

    def _add_sequence(
        self,
        source: GenomeSource,
        split: str,
        seqid: str,
        sequence: str,
        digest: str,
        transcripts: list[Transcript],
    ) -> Chromosome:
        length = len(sequence)
        for transcript in transcripts:
            if transcript.end > length:
                raise InputError(
                    f"{display_name(source.annotation)}: transcript {transcript.id} ends at "
                    f"{transcript.end}, past the end of {seqid} ({length} bp)"
                )
        index = len(self.chromosomes)
        key = f"{index:04d}"
        chromosome = Chromosome(key, source.genome, seqid, length, digest)
        if split == TRAIN:
            held_out = self._held_out(seqid, length)
            chromosome.intervals = {
                TRAIN: _complement(held_out, length),
                VAL: [list(span) for span in held_out],
            }
        else:
            chromosome.intervals = {TRAIN: [], VAL: [[0, length]]}
        np.save(
            self.directory / f"{key}.sequence.npy",
            np.frombuffer(sequence.encode("ascii"), dtype=np.uint8),
        )
        np.save(self.directory / f"{key}.labels.npy", packed_label_track(transcripts, length))

        # Anchored transcripts, each wholly inside one split, with their own labels.
        anchored, offset = [], 0
        for transcript in sorted(transcripts, key=lambda t: (t.start, t.end, t.id)):
            for name, spans in chromosome.intervals.items():
                if _inside(transcript, spans):
                    self.rows[name].append((index, transcript.start, transcript.end, offset))
                    anchored.append(transcript)
                    offset += transcript.end - transcript.start
                    break
        own = np.zeros(offset, dtype=np.uint8)
        position = 0
        for transcript in anchored:
            span = transcript.end - transcript.start
            shifted = _shifted(transcript, -transcript.start)
            own[position : position + span] = packed_label_track([shifted], span)
            position += span
        np.save(self.directory / f"{key}.transcripts.npy", own)
        self.chromosomes.append(chromosome)
        logger.info(
            "prepared %s of %s: %d bp, %d representative transcripts",
            seqid,
            display_name(source.genome),
            length,
            len(transcripts),
        )
        return chromosome

    def _held_out(self, seqid: str, length: int) -> list[tuple[int, int]]:
        """The validation regions of one training sequence, checked and merged."""
        regions = self.regions.get(seqid, [])
        if regions and seqid in self.region_hits:
            raise ConfigError(
                f"--val-regions: sequence {seqid!r} occurs in more than one training genome, "
                "so its regions are ambiguous"
            )
        self.region_hits[seqid] = len(regions)
        merged: list[list[int]] = []
        for region in sorted(regions):
            if region.end > length:
                raise ConfigError(
                    f"--val-regions: {region} lies past the end of {seqid} ({length} bp)"
                )
            if merged and region.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], region.end)
            else:
                merged.append([region.start, region.end])
        return [(lo, hi) for lo, hi in merged]

    def check_regions(self) -> None:
        unknown = sorted(set(self.regions) - set(self.region_hits))
        if unknown:
            raise ConfigError(
                f"--val-regions: no training sequence with transcripts is named {unknown[0]!r}"
            )

    def check_splits(self) -> None:
        if not self.rows[TRAIN] and not any(c.intervals[TRAIN] for c in self.chromosomes):
            raise InputError("no training data: every annotated sequence is held out")
        if not self.rows[TRAIN]:
            raise InputError("no transcript lies wholly in the training part of the genomes")
        if not any(c.intervals[VAL] for c in self.chromosomes):
            raise ConfigError(
                "no validation data: give --val-regions or --val-genome/--val-annotation "
                "(training never sees validation bases)"
            )

    def manifest(self, expected: dict) -> dict:
        tables = {
            split: np.asarray(rows, dtype=np.int64).reshape(-1, 4)
            for split, rows in self.rows.items()
        }
        np.savez(self.directory / "transcripts.npz", **tables)
        return {
            "fingerprint": expected,
            "chromosomes": [asdict(c) for c in self.chromosomes],
            "splice_table": self.splice_table.to_dict(),
        }


def _inside(transcript: Transcript, spans: list[list[int]]) -> bool:
    """Whether ``transcript`` lies wholly inside one of ``spans``."""
    return any(lo <= transcript.start and transcript.end <= hi for lo, hi in spans)


def _complement(spans: list[tuple[int, int]], length: int) -> list[list[int]]:
    """``[0, length)`` minus sorted, disjoint ``spans``."""
    out, position = [], 0
    for lo, hi in spans:
        if lo > position:
            out.append([position, lo])
        position = max(position, hi)
    if position < length:
        out.append([position, length])
    return out


def _shifted(transcript: Transcript, delta: int) -> Transcript:
    """A copy of ``transcript`` moved by ``delta`` bases (its labels relative to its start)."""
    return Transcript(
        id=transcript.id,
        seqid=transcript.seqid,
        strand=transcript.strand,
        exons=[(a + delta, b + delta) for a, b in transcript.exons],
        cds=[(a + delta, b + delta) for a, b in transcript.cds],
        kind=transcript.kind,
    )
