"""Gene-structure parameters counted from a training annotation: lengths and branching fractions."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from genatator.annotation.models import Gene, Span, merge_spans
from genatator.errors import ModelError

__all__ = ["GENE_MODEL_FILE", "GeneModelParameters"]

#: The file a model directory keeps them in.
GENE_MODEL_FILE = "gene_model.json"
_FORMAT = 1


def _mean(values: list[int], default: float) -> float:
    return float(np.mean(values)) if values else default


def _fraction(part: int, whole: int, default: float) -> float:
    # Add-one smoothing keeps every branch possible even when the training data never used it.
    return (part + default) / (whole + 1.0) if whole else default


def _pieces(exons: list[Span], lo: int, hi: int) -> list[Span]:
    """The parts of ``exons`` inside ``[lo, hi)``."""
    return [(max(a, lo), min(b, hi)) for a, b in exons if min(b, hi) > max(a, lo)]


def _gaps(spans: list[Span]) -> list[int]:
    return [b_start - a_end for (_, a_end), (b_start, _) in itertools.pairwise(spans)]


@dataclass(frozen=True)
class GeneModelParameters:
    """Mean lengths (nt) and branching fractions of gene structures, as AUGUSTUS's etraining
    counts them; the decoder turns them into transition log-probabilities.

    UTR and CDS "pieces" are the parts of exons on either side of (or inside) the CDS; a
    5'UTR piece is followed by an intron or by the start codon, and so on.
    """

    intergenic_length: float = 20_000.0
    coding_fraction: float = 0.8
    five_utr_fraction: float = 0.9
    three_utr_fraction: float = 0.9
    five_utr_piece_length: float = 200.0
    five_utr_intron_fraction: float = 0.2
    three_utr_piece_length: float = 400.0
    three_utr_intron_fraction: float = 0.05
    cds_piece_length: float = 250.0
    cds_intron_fraction: float = 0.7
    noncoding_exon_length: float = 500.0
    noncoding_intron_fraction: float = 0.4
    min_intron_length: int = 40
    short_intron_length: float = 70.0
    long_intron_length: float = 3_000.0
    short_intron_fraction: float = 0.5
    utr_intron_length: float = 2_000.0
    genes: int = 0

    @classmethod
    def count(cls, genes: Iterable[Gene], genome_length: int) -> GeneModelParameters:
        """Count from each gene's representative transcript (one transcript per locus)."""
        transcripts = [gene.representative() for gene in genes]
        coding = [t for t in transcripts if t.cds]
        noncoding = [t for t in transcripts if not t.cds]
        five, three, cds, introns, utr_introns = [], [], [], [], []
        with_five = with_three = five_followed = three_followed = 0
        for t in coding:
            left, right = (
                _pieces(t.exons, t.start, t.cds[0][0]),
                _pieces(t.exons, t.cds[-1][1], t.end),
            )
            five_side, three_side = (left, right) if t.strand == "+" else (right, left)
            with_five += bool(five_side)
            with_three += bool(three_side)
            five += [b - a for a, b in five_side]
            three += [b - a for a, b in three_side]
            five_followed += max(len(five_side) - 1, 0)
            three_followed += max(len(three_side) - 1, 0)
            cds += [b - a for a, b in t.cds]
            introns += _gaps(t.cds)
            utr_introns += _gaps(left) + _gaps(right)
        nc_exons = [b - a for t in noncoding for a, b in t.exons]
        nc_introns = [length for t in noncoding for length in _gaps(t.exons)]
        genic = sum(b - a for a, b in merge_spans((t.start, t.end) for t in transcripts))
        all_introns = introns + utr_introns + nc_introns
        return cls(
            intergenic_length=max((genome_length - genic) / max(len(transcripts), 1), 100.0),
            coding_fraction=_fraction(len(coding), len(transcripts), 0.8),
            five_utr_fraction=_fraction(with_five, len(coding), 0.9),
            three_utr_fraction=_fraction(with_three, len(coding), 0.9),
            five_utr_piece_length=_mean(five, 200.0),
            five_utr_intron_fraction=_fraction(five_followed, len(five), 0.2),
            three_utr_piece_length=_mean(three, 400.0),
            three_utr_intron_fraction=_fraction(three_followed, len(three), 0.05),
            cds_piece_length=_mean(cds, 250.0),
            cds_intron_fraction=_fraction(len(introns), len(cds), 0.7),
            noncoding_exon_length=_mean(nc_exons, 500.0),
            noncoding_intron_fraction=_fraction(len(nc_introns), len(nc_exons), 0.4),
            **_intron_lengths(introns, all_introns),
            utr_intron_length=_mean(utr_introns + nc_introns, 2_000.0),
            genes=len(transcripts),
        )

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / GENE_MODEL_FILE
        values = {"format": _FORMAT, **asdict(self)}
        path.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> GeneModelParameters:
        """Raises ModelError for a malformed file."""
        path = Path(directory) / GENE_MODEL_FILE
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            if values.pop("format", None) != _FORMAT:
                raise ValueError("unknown format")
            unknown = set(values) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            return cls(**values)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{path}: not valid gene-model parameters ({exc})") from None


def _intron_lengths(coding_introns: list[int], all_introns: list[int]) -> dict[str, float]:
    """Minimum, and a two-part (short, long) geometric mixture of coding intron lengths.

    Intron lengths are far from geometric: most fly introns are 55–80 nt, the rest spread to
    tens of kb. The split between the parts is at three times the median, which separates the
    sharp short-intron peak from the tail in both fly and human.
    """
    lengths = np.asarray(coding_introns or all_introns or [70, 3000], dtype=np.float64)
    minimum = int(max(20, min(60, np.percentile(lengths, 0.5)))) if len(lengths) >= 20 else 40
    cut = 3.0 * float(np.median(lengths))
    short, long = lengths[lengths <= cut], lengths[lengths > cut]
    return {
        "min_intron_length": minimum,
        "short_intron_length": float(short.mean()) if len(short) else 70.0,
        "long_intron_length": float(long.mean()) if len(long) else 3_000.0,
        "short_intron_fraction": len(short) / len(lengths),
    }
