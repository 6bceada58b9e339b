"""Tests of genatator.postprocess strand calling and decode_region on planted genes."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from Bio.Seq import Seq
from helpers import assert_valid_gff3

from genatator.annotation.models import Gene, Transcript
from genatator.annotation.write import write_gff3
from genatator.genome import reverse_complement
from genatator.labels import CDS, EXON, FIVE_PRIME_UTR, INTRON, THREE_PRIME_UTR, label_track
from genatator.postprocess import (
    SpliceTable,
    ThresholdOptions,
    call_strand,
    decode_region,
    exon_intron_structure,
    gene_regions,
    intron_votes,
    protein,
    strand_score,
)

STOPS = ("TAA", "TAG", "TGA")
SENSE = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]


@dataclasses.dataclass
class Planted:
    """A gene planted in random DNA, with the probability track a perfect model would give."""

    sequence: str
    probabilities: np.ndarray
    expected: Transcript
    cds: str  # coding sequence, stop included; "" when non-coding


def dna(rng: np.random.Generator, length: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(list(alphabet), size=length))


def mirror(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    return sorted((length - end, length - start) for start, end in spans)


def to_genome(exons: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Genome spans of the spliced (+ strand) positions ``[lo, hi)`` of a transcript."""
    spans, consumed = [], 0
    for start, end in exons:
        a, b = max(lo - consumed, 0), min(hi - consumed, end - start)
        if a < b:
            spans.append((start + a, start + b))
        consumed += end - start
    return spans


def plant(
    seed: int,
    *,
    strand: str = "+",
    exon_lengths: tuple[int, ...] = (180, 240, 200),
    intron_length: int = 120,
    utr5: int = 60,
    n_codons: int = 120,
    coding: bool = True,
    motifs: list[tuple[str, str]] | None = None,
    flank: int = 100,
    noise: float = 0.0,
) -> Planted:
    """A gene built on + (5'UTR, CDS of ``n_codons`` codons plus stop, 3'UTR) and, for ``-``,
    reverse complemented. Probabilities are 0.9 where the label is 1 and 0.1 elsewhere."""
    rng = np.random.default_rng(seed)
    mrna_length = sum(exon_lengths)
    if coding:
        cds = "ATG" + "".join(rng.choice(SENSE, size=n_codons - 1)) + "TAA"
        # A 5'UTR without T holds no ATG, so the planted start is the first in its frame.
        mrna = dna(rng, utr5, "ACG") + cds + dna(rng, mrna_length - utr5 - len(cds))
    else:
        cds, mrna = "", dna(rng, mrna_length)
    motifs = motifs or [("GT", "AG")] * (len(exon_lengths) - 1)
    pieces, exons, cursor, used = [dna(rng, flank)], [], flank, 0
    for index, length in enumerate(exon_lengths):
        if index:
            donor, acceptor = motifs[index - 1]
            pieces.append(donor + dna(rng, intron_length - 4) + acceptor)
            cursor += intron_length
        pieces.append(mrna[used : used + length])
        exons.append((cursor, cursor + length))
        cursor, used = cursor + length, used + length
    pieces.append(dna(rng, flank))
    sequence = "".join(pieces)
    cds_spans = to_genome(exons, utr5, utr5 + len(cds)) if coding else []
    kind = "mRNA" if coding else "lnc_RNA"
    expected = Transcript("", "chr1", "+", exons, cds_spans, kind=kind)
    probabilities = (0.1 + 0.8 * label_track([expected], 0, len(sequence))).astype(np.float32)
    if noise:
        probabilities += rng.normal(0.0, noise, probabilities.shape).astype(np.float32)
        np.clip(probabilities, 0.0, 1.0, out=probabilities)
    if strand == "-":
        length = len(sequence)
        sequence = reverse_complement(sequence)
        probabilities = probabilities[::-1].copy()  # strand-aware labels: only positions flip
        expected = dataclasses.replace(
            expected, strand="-", exons=mirror(exons, length), cds=mirror(cds_spans, length)
        )
    return Planted(sequence, probabilities, expected, cds)


def validate_gff3(transcript: Transcript, directory: Path, gt: str) -> str:
    """Write one transcript as GFF3, check it with ``gt gff3validator`` and return the text."""
    named = dataclasses.replace(transcript, id="t1", gene_id="g1")
    handle = io.StringIO()
    write_gff3([Gene("g1", named.seqid, named.strand, [named])], handle)
    path = directory / f"t{transcript.strand}.gff3"
    path.write_text(handle.getvalue())
    assert_valid_gff3(gt, path, handle.getvalue())
    return handle.getvalue()


# --- strand score --------------------------------------------------------------------------------


def tiny_track() -> np.ndarray:
    probabilities = np.zeros((12, 5), dtype=np.float32)
    probabilities[1:4, FIVE_PRIME_UTR] = [0.5, 0.25, 1.0]
    probabilities[9, FIVE_PRIME_UTR] = 0.5
    probabilities[11, FIVE_PRIME_UTR] = 1.0  # outside the transcript
    probabilities[2, THREE_PRIME_UTR] = 0.25
    probabilities[8:11, THREE_PRIME_UTR] = [1.0, 0.5, 0.5]
    probabilities[0, THREE_PRIME_UTR] = 1.0  # outside the transcript
    return probabilities


def test_strand_score_exact():
    probabilities, exons = tiny_track(), [(1, 5), (8, 11)]
    # First 3 nt (1-4): U5 1.75, U3 0.25. Last 3 nt (8-11): U5 0.5, U3 2.0.
    assert strand_score(probabilities, exons, flank=3) == 3.0
    # First 1 nt: U5 0.5, U3 0; last 1 nt: U5 0, U3 0.5.
    assert strand_score(probabilities, exons, flank=1) == 1.0
    # Windows clip to the transcript: both cover it whole and cancel.
    assert strand_score(probabilities, exons, flank=50) == 0.0
    # The same transcript seen from the other strand.
    assert strand_score(probabilities[::-1], [(1, 4), (7, 11)], flank=3) == -3.0
    with pytest.raises(ValueError, match="at least one exon"):
        strand_score(probabilities, [], flank=3)
    with pytest.raises(ValueError, match="flank"):
        strand_score(probabilities, exons, flank=0)


def test_call_strand_rules():
    # Introns 10-20 (GT..AG, votes +) and 30-40 (CT..AC, votes -).
    sequence = list("C" * 50)
    sequence[10:12], sequence[18:20], sequence[30:32], sequence[38:40] = "GT", "AG", "CT", "AC"
    sequence = "".join(sequence)
    both = [(0, 10), (20, 30), (40, 50)]
    assert intron_votes(sequence, both) == (1, 1)
    assert call_strand(5.0, sequence, both) == ("+", "utr")
    assert call_strand(-5.0, sequence, both) == ("-", "utr")
    assert call_strand(4.99, sequence, both) == ("+", "default")  # tied votes
    assert call_strand(4.5, sequence, [(0, 10), (20, 50)]) == ("+", "splice")
    assert call_strand(4.5, sequence, [(0, 30), (40, 50)]) == ("-", "splice")
    assert call_strand(-4.5, sequence, [(0, 50)]) == ("+", "default")
    # GC..AG counts as +, its reverse complement CT..GC as -; introns under 4 nt do not vote.
    assert intron_votes("AAGCAAAGAA", [(0, 2), (8, 10)]) == (1, 0)
    assert intron_votes("AACTAAAGCAA", [(0, 2), (9, 11)]) == (0, 1)
    assert intron_votes("AGTAGA", [(0, 1), (4, 6)]) == (0, 0)


def test_known_transcripts_get_the_right_strand_from_utrs():
    """Twenty planted transcripts on both strands, noisy tracks, splice motifs of the wrong
    strand (so only the UTR signal can give the right answer)."""
    rng = np.random.default_rng(2024)
    for index in range(20):
        strand = "+-"[index % 2]
        n_exons = 1 + index % 4
        exon_lengths = tuple(int(x) for x in rng.integers(80, 300, size=n_exons))
        mrna = sum(exon_lengths)
        utr5 = int(rng.integers(10, 150))
        n_codons = min(int(rng.integers(30, 150)), (mrna - utr5 - 13) // 3)
        planted = plant(
            index,
            strand=strand,
            exon_lengths=exon_lengths,
            intron_length=int(rng.integers(60, 400)),
            utr5=utr5,
            n_codons=n_codons,
            motifs=[("CT", "AC")] * (n_exons - 1),  # reverse complemented on -: wrong either way
            noise=0.05,
        )
        regions = gene_regions(planted.probabilities)
        assert len(regions) == 1
        lo, hi = regions[0]
        probabilities, sequence = planted.probabilities[lo:hi], planted.sequence[lo:hi]
        exons = exon_intron_structure(probabilities)
        assert [(s + lo, e + lo) for s, e in exons] == planted.expected.exons
        score = strand_score(probabilities, exons)
        assert call_strand(score, sequence, exons) == (strand, "utr"), (index, score)
        if n_exons > 1:
            assert call_strand(0.0, sequence, exons)[0] != strand  # the motifs alone mislead
        assert abs(score) > 5.0


# --- decode_region -------------------------------------------------------------------------------


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize("cds_mode", ["model", "orf"])
def test_coding_gene_decodes_exactly(strand, cds_mode, tmp_path, gt_binary):
    planted = plant(1, strand=strand)
    options = ThresholdOptions(cds_mode=cds_mode)
    t = decode_region(
        planted.probabilities, planted.sequence, seqid="chr2", offset=10_000, options=options
    )
    assert t is not None
    shift = lambda spans: [(s + 10_000, e + 10_000) for s, e in spans]  # noqa: E731
    assert (t.strand, t.kind, t.seqid, t.id, t.gene_id) == (strand, "mRNA", "chr2", "", "")
    assert t.exons == shift(planted.expected.exons)
    assert t.cds == shift(planted.expected.cds)
    assert protein(t, planted.sequence, offset=10_000) == str(Seq(planted.cds).translate())[:-1]
    assert len(protein(t, planted.sequence, offset=10_000)) == 120
    assert t.score == pytest.approx(0.9, abs=1e-6)
    assert t.exon_scores == pytest.approx([0.9, 0.9, 0.9], abs=1e-6)
    assert t.attributes == {
        "exon_confidence": "0.9",
        "intron_confidence": "0.9",
        "cds_confidence": "0.9",
        "strand_score": "80" if strand == "+" else "-80",
        "strand_evidence": "utr",
    }
    # The 5'UTR lies on the transcript's 5' side in genome coordinates too.
    utr5 = shift(planted.expected.five_prime_utrs)
    assert t.five_prime_utrs == utr5
    assert (utr5[0][0] == t.start) == (strand == "+")
    if cds_mode == "model":
        gff = validate_gff3(t, tmp_path, gt_binary)
        assert "\tCDS\t" in gff and "\tfive_prime_UTR\t" in gff


def test_coding_gene_needs_min_cds_codons():
    planted = plant(1)
    exact = decode_region(
        planted.probabilities,
        planted.sequence,
        seqid="c",
        options=ThresholdOptions(min_cds_codons=120),
    )
    assert exact is not None and exact.kind == "mRNA"
    short = decode_region(
        planted.probabilities,
        planted.sequence,
        seqid="c",
        options=ThresholdOptions(min_cds_codons=121),
    )
    assert short is not None and (short.kind, short.cds) == ("lnc_RNA", [])
    assert "cds_confidence" not in short.attributes
    dropped = decode_region(
        planted.probabilities,
        planted.sequence,
        seqid="c",
        options=ThresholdOptions(min_cds_codons=121, lncrna=False),
    )
    assert dropped is None


@pytest.mark.parametrize("strand", ["+", "-"])
def test_lncrna_strand_comes_from_splice_motifs(strand, tmp_path, gt_binary):
    planted = plant(5, strand=strand, coding=False)
    t = decode_region(planted.probabilities, planted.sequence, seqid="chr1")
    assert t is not None
    assert (t.strand, t.kind, t.cds) == (strand, "lnc_RNA", [])
    assert t.exons == planted.expected.exons
    assert (t.attributes["strand_score"], t.attributes["strand_evidence"]) == ("0", "splice")
    assert "cds_confidence" not in t.attributes
    gff = validate_gff3(t, tmp_path, gt_binary)
    assert "\tncRNA_gene\t" in gff and "\tlnc_RNA\t" in gff
    dropped = decode_region(
        planted.probabilities, planted.sequence, seqid="c", options=ThresholdOptions(lncrna=False)
    )
    assert dropped is None


@pytest.mark.parametrize(("exon_lengths", "kind"), [((80, 119), "ncRNA"), ((80, 120), "lnc_RNA")])
def test_short_noncoding_transcripts_are_ncrna_not_lnc_rna(exon_lengths, kind, tmp_path, gt_binary):
    # The Sequence Ontology's lnc_RNA is over 200 nt: 199 exonic bases are an ncRNA.
    planted = plant(7, coding=False, exon_lengths=exon_lengths)
    t = decode_region(planted.probabilities, planted.sequence, seqid="chr1")
    assert t is not None and t.exons == planted.expected.exons
    assert (t.kind, t.cds) == (kind, [])
    gff = validate_gff3(t, tmp_path, gt_binary)
    assert f"\t{kind}\t" in gff and "\tncRNA_gene\t" in gff


def test_single_exon_lncrna_defaults_to_plus():
    planted = plant(6, strand="-", coding=False, exon_lengths=(300,))
    t = decode_region(planted.probabilities, planted.sequence, seqid="chr1")
    assert t is not None
    assert (t.strand, t.attributes["strand_evidence"], t.exons) == (
        "+",
        "default",
        planted.expected.exons,
    )
    assert "intron_confidence" not in t.attributes


@pytest.mark.parametrize("strand", ["+", "-"])
def test_exon_with_illegal_flanks_is_removed(strand):
    # The third exon (in the 3'UTR) follows an intron ending in TT instead of AG.
    motifs = [("GT", "AG"), ("GT", "TT"), ("GT", "AG")]
    planted = plant(8, strand=strand, exon_lengths=(150, 450, 60, 100), motifs=motifs)
    expected = planted.expected.exons
    t = decode_region(planted.probabilities, planted.sequence, seqid="c")
    assert t is not None
    third = expected[2] if strand == "+" else expected[1]  # transcription order on -
    assert t.exons == [exon for exon in expected if exon != third]
    assert t.cds == planted.expected.cds and t.kind == "mRNA"
    unfiltered = decode_region(
        planted.probabilities,
        planted.sequence,
        seqid="c",
        options=ThresholdOptions(splice_filter=False),
    )
    assert unfiltered is not None and unfiltered.exons == expected
    # A table that allows TT acceptors keeps the exon.
    table = SpliceTable(donor={"GT": 1}, acceptor={"AG": 1, "TT": 1})
    kept = decode_region(planted.probabilities, planted.sequence, seqid="c", splice_table=table)
    assert kept is not None and kept.exons == expected


def test_short_artefacts_are_removed():
    planted = plant(9)
    probabilities = planted.probabilities.copy()
    (_, intron_start), (_, e2_end), _ = planted.expected.exons
    # A 6-nt intron-like dip near the end of exon 2 (3'UTR) and a 2-nt exon blip in intron 1.
    dip = slice(e2_end - 20, e2_end - 14)
    probabilities[dip, EXON], probabilities[dip, INTRON] = 0.1, 0.9
    blip = slice(intron_start + 50, intron_start + 52)
    probabilities[blip, EXON], probabilities[blip, INTRON] = 0.9, 0.1
    assert len(exon_intron_structure(probabilities, ThresholdOptions(min_exon_length=1))) == 4
    t = decode_region(probabilities, planted.sequence, seqid="c")
    assert t is not None
    assert t.exons == planted.expected.exons and t.cds == planted.expected.cds
    # Stricter thresholds: the dip is an intron and the blip an exon, kept (then the splice
    # filter removes the blip, whose flanks are random).
    loose = ThresholdOptions(min_intron_length=5, min_exon_length=2, splice_filter=False)
    t = decode_region(probabilities, planted.sequence, seqid="c", options=loose)
    assert t is not None and len(t.exons) == 5


def test_confidence_numbers_exact():
    probabilities = np.zeros((40, 5), dtype=np.float32)
    probabilities[0:10, EXON], probabilities[0:10, INTRON] = 0.75, 0.25
    probabilities[10:30, EXON], probabilities[10:30, INTRON] = 0.125, 0.5
    probabilities[30:40, EXON], probabilities[30:40, INTRON] = 0.625, 0.125
    options = ThresholdOptions(min_transcript_length=20, splice_filter=False)
    t = decode_region(probabilities, "C" * 40, seqid="s", offset=500, options=options)
    assert t == Transcript(
        id="",
        seqid="s",
        strand="+",
        exons=[(500, 510), (530, 540)],
        kind="ncRNA",  # 20 exonic bases: the Sequence Ontology's lnc_RNA is over 200 nt
        score=(7.5 + 10.0 + 6.25) / 40,
        attributes={
            "exon_confidence": "0.6875",
            "intron_confidence": "0.5",
            "strand_score": "0",
            "strand_evidence": "default",
        },
        exon_scores=[0.75, 0.625],
    )
    # 20 exonic bases: under a minimum of 21 the transcript is dropped.
    options = ThresholdOptions(min_transcript_length=21, splice_filter=False)
    assert decode_region(probabilities, "C" * 40, seqid="s", options=options) is None


def test_cds_confidence_is_the_mean_p_cds_over_the_cds():
    planted = plant(1)
    probabilities = planted.probabilities.copy()
    cds_start, cds_end = planted.expected.cds[0][0], planted.expected.cds[-1][1]
    probabilities[cds_start:cds_end, CDS] *= 0.75  # 0.675 on coding bases, still above rivals
    t = decode_region(probabilities, planted.sequence, seqid="c")
    assert t is not None and t.cds == planted.expected.cds
    assert t.attributes["cds_confidence"] == "0.675"


def test_nothing_to_decode_and_bad_input():
    flat = np.full((100, 5), 0.1, dtype=np.float32)
    assert decode_region(flat, "A" * 100, seqid="c") is None
    with pytest.raises(ValueError, match="99 bases but probabilities 100"):
        decode_region(flat, "A" * 99, seqid="c")
    with pytest.raises(ValueError, match="shape"):
        decode_region(flat[:, :3], "A" * 100, seqid="c")
