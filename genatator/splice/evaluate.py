"""`genatator splice evaluate`: balanced held-out windows and genome-scale held-out scans."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from genatator.annotation.models import Gene
from genatator.annotation.read import read_annotation
from genatator.errors import InputError
from genatator.genome import read_fasta
from genatator.regions import Region
from genatator.splice.dataset import load_split
from genatator.splice.models import SpliceModel
from genatator.splice.scoring import SiteScores, score_region
from genatator.splice.site_metrics import balanced_metrics, genome_scale_report
from genatator.splice.sites import splice_sites
from genatator.splice.windows import DONOR, encode

__all__ = ["balanced_report", "genome_scale", "site_masks", "window_probabilities"]

_NEGATIVE_SOURCES = {"decoy": 1, "random": 2}


@torch.inference_mode()
def window_probabilities(
    model: SpliceModel, windows: np.ndarray, *, batch_size: int = 256, device: str = "cpu"
) -> np.ndarray:
    """Class probabilities ``(n, 3)`` of windows of codes, in batches."""
    model.eval()
    chunks = []
    for start in range(0, len(windows), batch_size):
        batch = torch.as_tensor(windows[start : start + batch_size], dtype=torch.long)
        logits = model(batch.to(device))
        chunks.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 3), dtype=np.float32)


def balanced_report(
    model: SpliceModel,
    data_dir: str | Path,
    *,
    split: str = "test",
    batch_size: int = 256,
    device: str = "cpu",
) -> dict:
    """The source's window metrics on a held-out split, once per kind of negative.

    Positives are scored once; each report pairs them with one negative set (in-gene decoys or
    random genomic positions), so the class ratio is stated with every number.
    """
    data = load_split(data_dir, split)
    if data.window != model.config.window:
        raise InputError(
            f"windows are {data.window} nt but the model reads {model.config.window} nt",
            path=data_dir,
        )
    probabilities = window_probabilities(model, data.windows, batch_size=batch_size, device=device)
    positive = data.source == 0
    report = {}
    for name, code in _NEGATIVE_SOURCES.items():
        rows = positive | (data.source == code)
        if not np.any(data.source == code):
            continue
        report[name] = balanced_metrics(data.labels[rows].astype(np.int64), probabilities[rows])
    return report


def site_masks(
    genes: Sequence[Gene], seqid: str, start: int, end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True donor and acceptor sites and genic bases of ``[start, end)``, each ``(2, n)``.

    Row 0 is the ``+`` strand and row 1 the ``-`` strand; sites are deduplicated over every
    isoform; a base is genic on a strand when a gene on that strand spans it.
    """
    length = end - start
    donor = np.zeros((2, length), dtype=bool)
    acceptor = np.zeros((2, length), dtype=bool)
    edges = np.zeros((2, length + 1), dtype=np.int64)
    local = [gene for gene in genes if gene.seqid == seqid]
    for site in splice_sites(local):
        if start <= site.position < end:
            row = 0 if site.strand == "+" else 1
            (donor if site.kind == DONOR else acceptor)[row, site.position - start] = True
    for gene in local:
        lo, hi = max(gene.start, start), min(gene.end, end)
        if lo < hi:
            row = 0 if gene.strand == "+" else 1
            edges[row, lo - start] += 1
            edges[row, hi - start] -= 1
    in_gene = np.cumsum(edges, axis=1)[:, :length] > 0
    return donor, acceptor, in_gene


def genome_scale(
    model: SpliceModel,
    genome: str | Path,
    annotation: str | Path,
    regions: Sequence[Region],
    *,
    batch_size: int = 256,
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
) -> dict:
    """SpliceAI-style metrics: every position of the regions, both strands, scored and ranked.

    Regions are scored with context from the rest of their sequence; their scores and truth are
    pooled before ranking, so the report covers them as one held-out set.
    """
    genes = read_annotation(annotation).genes
    wanted: dict[str, list[Region]] = {}
    for region in regions:
        wanted.setdefault(region.seqid, []).append(region)
    parts: list[tuple[SiteScores, np.ndarray, np.ndarray, np.ndarray]] = []
    found: set[str] = set()
    for record in read_fasta(genome):
        if record.name not in wanted:
            continue
        found.add(record.name)
        codes = encode(record.sequence)
        for region in wanted[record.name]:
            end = min(region.end, record.length)
            if region.start >= end:
                raise InputError(f"region {region} lies past the sequence end", path=genome)
            if log:
                log(f"scoring {region.seqid}:{region.start + 1}-{end} on both strands")
            scores = score_region(
                model, codes, region.start, end, batch_size=batch_size, device=device
            )
            parts.append((scores, *site_masks(genes, record.name, region.start, end)))
    missing = sorted(set(wanted) - found)
    if missing:
        raise InputError(f"no sequence named {', '.join(missing)}", path=genome)
    scores = SiteScores(
        donor=np.concatenate([p[0].donor for p in parts], axis=1),
        acceptor=np.concatenate([p[0].acceptor for p in parts], axis=1),
    )
    truth_donor, truth_acceptor, in_gene = (
        np.concatenate([p[i] for p in parts], axis=1) for i in (1, 2, 3)
    )
    report = genome_scale_report(scores, truth_donor, truth_acceptor, in_gene)
    report["regions"] = [str(region) for region in regions]
    return report
