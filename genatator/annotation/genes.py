"""Genes from read transcripts: same-strand exon-overlap clusters and unique gene IDs."""

from __future__ import annotations

from collections import defaultdict

from genatator.annotation.models import Gene, Transcript

__all__ = ["make_genes", "overlap_clusters", "transcript_order"]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def overlap_clusters(transcripts: list[Transcript]) -> list[list[Transcript]]:
    """Transcripts grouped by shared exonic bases on the same sequence and strand (sweep line)."""
    events = sorted(
        (t.seqid, t.strand, start, end, i)
        for i, t in enumerate(transcripts)
        for start, end in t.exons
    )
    groups = _UnionFind(len(transcripts))
    block_key, block_end, block_owner = None, -1, -1
    for seqid, strand, start, end, i in events:
        if (seqid, strand) == block_key and start < block_end:
            groups.union(block_owner, i)
            block_end = max(block_end, end)
        else:
            block_key, block_end, block_owner = (seqid, strand), end, i
    clusters: dict[int, list[Transcript]] = defaultdict(list)
    for i, t in enumerate(transcripts):
        clusters[groups.find(i)].append(t)
    return list(clusters.values())


def transcript_order(t: Transcript) -> tuple[int, int, str]:
    return t.start, t.end, t.id


def make_genes(
    transcripts: list[Transcript],
    gene_info: dict[str, tuple[dict[str, str], str | None]],
    taken: set[str],
) -> list[Gene]:
    """Genes from transcripts keyed by ``gene_id``; one gene per (key, seqid, strand).

    ``gene_info`` maps a key to (attributes, source) from an explicit gene row. Gene IDs must not
    clash with transcript IDs or each other: clashing ones get a ``gene-`` prefix and, if still
    taken, a numeric suffix. Transcripts' ``gene_id`` is updated to the final gene ID.
    """
    groups: dict[tuple[str, str, str], list[Transcript]] = defaultdict(list)
    for t in transcripts:
        groups[(t.gene_id, t.seqid, t.strand)].append(t)
    genes: list[Gene] = []
    seen_keys: set[str] = set()
    for (key, seqid, strand), members in sorted(
        groups.items(), key=lambda item: (min(transcript_order(t) for t in item[1]), item[0])
    ):
        gene_id = key if key not in seen_keys and key not in taken else f"gene-{key}"
        seen_keys.add(key)
        base, n = gene_id, 1
        while gene_id in taken:
            n += 1
            gene_id = f"{base}.{n}"
        taken.add(gene_id)
        attributes, source = gene_info.get(key, ({}, None))
        members.sort(key=transcript_order)
        for t in members:
            t.gene_id = gene_id
        genes.append(
            Gene(
                id=gene_id,
                seqid=seqid,
                strand=strand,
                transcripts=members,
                source=source if source is not None else members[0].source,
                attributes=dict(attributes),
            )
        )
    return genes
