"""Counting a gene model's parameters and codon model from a genome and its annotation.

The two files this writes into a model directory (``gene_model.json``, ``codon_model.npz``) are
what ``annotate --decoder hmm`` needs besides the network; :func:`load_gene_model` reads them.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genatator._io import display_name, move_output
from genatator.annotation import read_annotation
from genatator.annotation.models import Gene, Span, Transcript, merge_spans
from genatator.annotation.orf import (
    DERIVE_CDS_RULES,
    MIN_DERIVED_CODONS,
    derive_gene_cds,
    longest_orf_cds,
)
from genatator.decode.content import (
    CodonModel,
    background_sequences_from_transcripts,
    coding_sequences_from_transcripts,
)
from genatator.decode.parameters import GENE_MODEL_FILE, GeneModelParameters
from genatator.decode.sites import SITE_MODEL_FILE, SiteCounts, SiteMatrices
from genatator.errors import ConfigError, InputError
from genatator.genome import read_fasta
from genatator.regions import Region

__all__ = [
    "CODON_MODEL_FILE",
    "GENE_MODEL_FILES",
    "GeneModelCounts",
    "count_gene_model",
    "count_into_model_directory",
    "has_gene_model",
    "load_gene_model",
    "write_gene_model",
]

logger = logging.getLogger(__name__)

#: ORF stand-ins (``orf_sources``) need at least this many codons besides the stop.
MIN_ORF_CODONS = MIN_DERIVED_CODONS
#: The codon model's file in a model directory.
CODON_MODEL_FILE = "codon_model.npz"
#: Both files the HMM decoder reads from a model directory.
GENE_MODEL_FILES = (GENE_MODEL_FILE, CODON_MODEL_FILE)


@dataclass(frozen=True)
class GeneModelCounts:
    """What :func:`count_gene_model` counted.

    Attributes:
        parameters: gene-structure lengths and branching fractions.
        codon_model: coding against background Markov chains.
        site_matrices: splice-site position weight matrices.
        genome_length: bases counted (the genomes minus the excluded regions).
        genes: genes counted (those lying wholly outside the excluded regions).
    """

    parameters: GeneModelParameters
    codon_model: CodonModel
    site_matrices: SiteMatrices
    genome_length: int
    genes: int


def count_gene_model(
    sources: Iterable[tuple[str | Path, str | Path]],
    *,
    exclude: Sequence[Region] = (),
    order: int | None = None,
    orf_sources: Iterable[tuple[str | Path, str | Path]] = (),
    derive_cds: str = "none",
) -> GeneModelCounts:
    """Count gene-model parameters and a codon model from genomes with their annotations.

    Genes that overlap an excluded region are left out; the genome length is the total length
    of the genome sequences minus the excluded bases. Coding sequences are the CDSs of each
    counted gene's representative transcript; the background is the introns and intergenic
    DNA outside the excluded regions (bases exonic in any transcript are never background).

    Each genome is read twice (coding sequences first, then the background, streamed), so memory
    holds one sequence and the coding sequences, never the whole background.

    Args:
        sources: ``(genome FASTA, GFF3/GTF annotation)`` pairs.
        exclude: regions to leave out (e.g. held-out validation regions).
        order: the codon model's Markov order (``None``: chosen from the amount of coding DNA).
        orf_sources: more ``(genome, annotation)`` pairs whose annotation has exons but no CDS
            (GENCODE canonical transcripts, say): the longest complete ORF of each spliced
            transcript, when at least :data:`MIN_ORF_CODONS` codons, adds to the codon model's
            coding sequences only (``benchmarks/orf_cds_agreement.py`` measures how often that
            ORF is the annotated CDS: 91 % of fly and 88 % of human chr21 spliced coding loci
            exactly, 96–98 % of the CDS bases).
        derive_cds: ``"longest-orf"``: before counting, every transcript of ``sources`` without
            CDS whose coding status is claimed or unknown (kind ``mRNA`` or ``transcript``, as
            in exon-only annotations) takes its longest complete ORF of at least
            :data:`MIN_DERIVED_CODONS` codons as CDS (:func:`genatator.annotation.orf.
            derive_cds`), so such an annotation counts towards every part of the gene model;
            ``"none"`` (default): annotations are counted as read.

    Raises:
        InputError: a file cannot be read, or an annotation names a sequence its genome lacks.
        ConfigError: an excluded region names no sequence of the genomes or lies past its end,
            ``order`` is negative, or ``derive_cds`` is not a known rule.
    """
    if order is not None and order < 0:
        raise ConfigError(f"--order must be >= 0, got {order}")
    if derive_cds not in DERIVE_CDS_RULES:
        raise ConfigError(
            f"--derive-cds must be one of {', '.join(DERIVE_CDS_RULES)}, got {derive_cds!r}"
        )
    sources = [(str(genome), str(annotation)) for genome, annotation in sources]
    excluded: dict[str, list[Region]] = defaultdict(list)
    for region in exclude:
        excluded[region.seqid].append(region)
    tally = _Tally()
    transcripts_by_source = [
        _count_source(genome, annotation, excluded, derive_cds, tally)
        for genome, annotation in sources
    ]
    unknown = sorted(set(excluded) - tally.seen)
    if unknown:
        raise ConfigError(f"--exclude-regions: the genomes have no sequence named {unknown[0]!r}")
    if not tally.genes:
        raise InputError("no gene lies outside the excluded regions: nothing to count")
    for genome, annotation in orf_sources:
        tally.coding.extend(_orf_stand_ins(str(genome), str(annotation), excluded))
    background = _background(sources, transcripts_by_source, excluded)
    codon_model = CodonModel.count(tally.coding, background, order=order)
    parameters = GeneModelParameters.count(tally.genes, tally.genome_length)
    logger.info(
        "counted %d genes over %d bp: codon model of order %d",
        len(tally.genes),
        tally.genome_length,
        codon_model.order,
    )
    return GeneModelCounts(
        parameters, codon_model, tally.sites.matrices(), tally.genome_length, len(tally.genes)
    )


@dataclass
class _Tally:
    """What :func:`count_gene_model` gathers from its sources before counting."""

    genes: list[Gene] = field(default_factory=list)
    coding: list[str] = field(default_factory=list)  # coding sequences, transcript orientation
    sites: SiteCounts = field(default_factory=SiteCounts)
    genome_length: int = 0
    seen: set[str] = field(default_factory=set)  # sequence names of the genomes


def _count_source(
    genome: str,
    annotation: str,
    excluded: dict[str, list[Region]],
    derive_cds: str,
    tally: _Tally,
) -> dict[str, list[Gene]]:
    """Add one genome's genes, coding sequences and splice sites outside the excluded regions
    to ``tally``; returns its genes by sequence (the background pass reads them again)."""
    by_sequence = _genes_by_sequence(annotation)
    found: set[str] = set()
    without_cds = given_cds = 0
    for record in read_fasta(genome):
        found.add(record.name)
        spans = _excluded_spans(excluded.get(record.name, []), record.name, record.length)
        tally.seen.add(record.name)
        tally.genome_length += record.length - sum(end - start for start, end in spans)
        kept = [gene for gene in by_sequence.get(record.name, []) if _outside(gene, spans)]
        if derive_cds != "none":
            before = sum(not gene.representative().cds for gene in kept)
            kept = derive_gene_cds(kept, record.sequence, derive_cds)
            after = sum(not gene.representative().cds for gene in kept)
            without_cds, given_cds = without_cds + before, given_cds + before - after
        tally.genes.extend(kept)
        representatives = [gene.representative() for gene in kept]
        for lo, hi in _kept_parts(spans, record.length):
            inside = [t for t in representatives if lo <= t.start and t.end <= hi]
            tally.sites.add(record.sequence[lo:hi], inside, lo)
        tally.coding.extend(coding_sequences_from_transcripts(representatives, record.sequence))
    missing = sorted(set(by_sequence) - found)
    if missing:
        raise InputError(
            f"{display_name(annotation)}: annotates sequence {missing[0]!r}, which "
            f"{display_name(genome)} does not contain"
        )
    if derive_cds != "none":
        logger.info(
            "%s: %d of %d counted loci without CDS took their longest ORF as CDS",
            display_name(annotation),
            given_cds,
            without_cds,
        )
    return by_sequence


def _orf_stand_ins(genome: str, annotation: str, excluded: dict[str, list[Region]]) -> list[str]:
    """Longest complete ORFs of spliced transcripts outside the excluded regions."""
    by_sequence = _genes_by_sequence(annotation)
    found = []
    for record in read_fasta(genome):
        spans = _excluded_spans(excluded.get(record.name, []), record.name, record.length)
        for gene in by_sequence.get(record.name, []):
            transcript = gene.representative()
            if len(transcript.exons) < 2 or not _outside(gene, spans):
                continue
            cds = longest_orf_cds(record.sequence, transcript.exons, transcript.strand)
            if sum(end - start for start, end in cds) >= 3 * (MIN_ORF_CODONS + 1):
                stand_in = dataclasses.replace(transcript, cds=cds)
                found.extend(coding_sequences_from_transcripts([stand_in], record.sequence))
    logger.info("%s: %d ORF stand-ins for coding sequence", display_name(annotation), len(found))
    return found


def _genes_by_sequence(annotation: str) -> dict[str, list[Gene]]:
    by_sequence: dict[str, list[Gene]] = defaultdict(list)
    for gene in read_annotation(annotation).genes:
        if gene.transcripts:
            by_sequence[gene.seqid].append(gene)
    return dict(by_sequence)


def _excluded_spans(regions: list[Region], seqid: str, length: int) -> list[Span]:
    """Sorted, merged ``[start, end)`` of the excluded regions of one sequence."""
    for region in regions:
        if region.end > length:
            raise ConfigError(
                f"--exclude-regions: {region} lies past the end of {seqid} ({length} bp)"
            )
    return merge_spans((region.start, region.end) for region in regions)


def _outside(gene: Gene, spans: list[Span]) -> bool:
    return all(gene.end <= lo or hi <= gene.start for lo, hi in spans)


def _kept_parts(spans: list[Span], length: int) -> list[Span]:
    """``[0, length)`` minus sorted, disjoint ``spans``."""
    parts, position = [], 0
    for lo, hi in spans:
        if lo > position:
            parts.append((position, lo))
        position = max(position, hi)
    if position < length:
        parts.append((position, length))
    return parts


def _background(
    sources: list[tuple[str, str]],
    transcripts_by_source: list[dict[str, list[Gene]]],
    excluded: dict[str, list[Region]],
) -> Iterator[str]:
    """Introns and intergenic DNA outside the excluded regions, genome by genome (re-read)."""
    for (genome, _), by_sequence in zip(sources, transcripts_by_source):
        for record in read_fasta(genome):
            spans = _excluded_spans(excluded.get(record.name, []), record.name, record.length)
            transcripts: list[Transcript] = [
                t for gene in by_sequence.get(record.name, []) for t in gene.transcripts
            ]
            for lo, hi in _kept_parts(spans, record.length):
                inside = [t for t in transcripts if t.start < hi and lo < t.end]
                yield from background_sequences_from_transcripts(
                    inside, record.sequence[lo:hi], offset=lo
                )


def write_gene_model(directory: str | Path, counts: GeneModelCounts) -> list[Path]:
    """Write ``gene_model.json``, ``codon_model.npz`` and ``site_model.npz`` into
    ``directory``, each atomically.

    They are written to a staging folder inside ``directory`` first and then renamed into
    place, so a kill leaves each file whole (old or new).

    Returns:
        The paths.
    """
    directory = Path(directory)
    staging = Path(tempfile.mkdtemp(prefix=".gene-model.", dir=directory))
    try:
        counts.parameters.save(staging)
        counts.codon_model.save(staging / CODON_MODEL_FILE)
        counts.site_matrices.save(staging / SITE_MODEL_FILE)
        paths = []
        for name in (*GENE_MODEL_FILES, SITE_MODEL_FILE):
            move_output(staging / name, directory / name)
            paths.append(directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return paths


def count_into_model_directory(
    directory: str | Path,
    sources: Iterable[tuple[str | Path, str | Path]],
    *,
    exclude: Sequence[Region] = (),
    order: int | None = None,
    orf_sources: Iterable[tuple[str | Path, str | Path]] = (),
    derive_cds: str = "none",
) -> GeneModelCounts:
    """``genatator gene-model count``: count and write both files into a model directory.

    Raises:
        ConfigError: ``directory`` is not a model directory (no ``config.json``).
        InputError, ConfigError: as :func:`count_gene_model`.
    """
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise ConfigError(f"{directory}: not a model directory (it has no config.json)")
    counts = count_gene_model(
        sources, exclude=exclude, order=order, orf_sources=orf_sources, derive_cds=derive_cds
    )
    for path in write_gene_model(directory, counts):
        logger.info("wrote %s", path)
    return counts


def has_gene_model(directory: str | Path) -> bool:
    """Whether a model directory holds both gene-model files."""
    return all((Path(directory) / name).is_file() for name in GENE_MODEL_FILES)


def load_gene_model(
    directory: str | Path,
) -> tuple[GeneModelParameters, CodonModel, SiteMatrices | None]:
    """The gene-model parameters, codon model and (when present: directories counted before
    it existed lack it) splice-site matrices of a model directory.

    Raises:
        ModelError: a file is missing or malformed.
    """
    directory = Path(directory)
    matrices = directory / SITE_MODEL_FILE
    return (
        GeneModelParameters.load(directory),
        CodonModel.load(directory / CODON_MODEL_FILE),
        SiteMatrices.load(matrices) if matrices.is_file() else None,
    )
