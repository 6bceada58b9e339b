"""Which transcripts an evaluation scores: classes, region filtering and reference loci."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from genatator.annotation.models import CODING_KIND, LNC_KIND, Annotation, Transcript
from genatator.regions import Region

#: Transcript kinds a gene finder predicts, and the class each is scored as. ``transcript`` is a
#: transcript of unknown coding status (a reference without CDS rows, such as GENCODE exon-only).
SCORED_KINDS = {CODING_KIND: "coding", LNC_KIND: "noncoding", "transcript": "unknown"}
#: Classes metrics are reported for: ``all`` is every scored transcript.
CLASSES = ("all", "coding", "noncoding")


def transcript_class(transcript: Transcript) -> str | None:
    """``coding``, ``noncoding`` or ``unknown``; None for kinds not scored (miRNA, tRNA, ...)."""
    return SCORED_KINDS.get(transcript.kind)


def in_class(transcript: Transcript, name: str) -> bool:
    """Whether a scored transcript belongs to a reported class (``all`` takes every class)."""
    return name == "all" or transcript_class(transcript) == name


def _inside(transcript: Transcript, regions: Sequence[Region]) -> bool:
    return any(
        region.seqid == transcript.seqid
        and region.start <= transcript.start
        and transcript.end <= region.end
        for region in regions
    )


@dataclass
class Scope:
    """The scored transcripts of one annotation and how many were left out, by reason."""

    transcripts: list[Transcript]
    ignored_kinds: Counter[str]
    outside_regions: int

    def counts(self) -> dict[str, int]:
        by_class = Counter(transcript_class(t) for t in self.transcripts)
        return {
            "transcripts": len(self.transcripts),
            "coding": by_class["coding"],
            "noncoding": by_class["noncoding"],
            "unknown": by_class["unknown"],
            "ignored": sum(self.ignored_kinds.values()),
            "outside_regions": self.outside_regions,
        }


def select(annotation: Annotation, regions: Sequence[Region] | None = None) -> Scope:
    """Scored transcripts of ``annotation``, keeping only those entirely inside ``regions``.

    Transcripts that cross a region's edge are left out on both sides of a comparison: a held-out
    region's reference cannot be predicted whole when the region alone was annotated.
    """
    kept: list[Transcript] = []
    ignored: Counter[str] = Counter()
    outside = 0
    for transcript in annotation.transcripts():
        if regions is not None and not _inside(transcript, regions):
            outside += 1
        elif transcript_class(transcript) is None:
            ignored[transcript.kind] += 1
        else:
            kept.append(transcript)
    return Scope(kept, ignored, outside)


@dataclass(frozen=True)
class Locus:
    """Reference transcripts on one strand that share exonic bases: one gene, whatever its IDs."""

    transcripts: tuple[Transcript, ...]

    @property
    def gene_class(self) -> str:
        """``coding`` with any mRNA, else ``noncoding`` with any lnc_RNA, else ``unknown``."""
        classes = {transcript_class(t) for t in self.transcripts}
        for name in ("coding", "noncoding"):
            if name in classes:
                return name
        return "unknown"


def loci(transcripts: Iterable[Transcript]) -> list[Locus]:
    """Group transcripts into loci: same sequence and strand, linked by shared exonic bases.

    References differ in what a gene ID means (RefSeq GTFs give every isoform its own), so the
    gene-level metrics count loci instead.
    """
    transcripts = list(transcripts)
    parent = list(range(len(transcripts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    exons = sorted(
        (t.seqid, t.strand, start, end, index)
        for index, t in enumerate(transcripts)
        for start, end in t.exons
    )
    # One sweep over exons in genomic order: an exon starting before the running cluster's end
    # shares bases with it, so its transcript joins the cluster.
    group: tuple[str, str] | None = None
    reach = owner = -1
    for seqid, strand, start, end, index in exons:
        if (seqid, strand) == group and start < reach:
            parent[find(index)] = find(owner)
            reach = max(reach, end)
        else:
            group, owner, reach = (seqid, strand), index, end
    members: dict[int, list[Transcript]] = {}
    for index, transcript in enumerate(transcripts):
        members.setdefault(find(index), []).append(transcript)
    return [Locus(tuple(group_members)) for group_members in members.values()]
