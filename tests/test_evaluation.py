"""Evaluation metrics: exact numbers on hand-built annotations, file formats, real references."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import pytest

from genatator.annotation import Annotation, Gene, Transcript, read_annotation, save_gff3
from genatator.annotation.models import merge_spans
from genatator.errors import InputError
from genatator.evaluation import TOLERANCES, evaluate, evaluate_paths, format_text
from genatator.evaluation.intervals import (
    StartIndex,
    intersection_length,
    reciprocal_overlap,
)
from genatator.evaluation.metrics import length_bin
from genatator.evaluation.scope import loci, select
from genatator.regions import Region

DATA = Path(__file__).parent / "data"


def tx(tid, strand, exons, cds=(), kind=None, seqid="chr1", gene=None) -> Transcript:
    return Transcript(
        id=tid,
        seqid=seqid,
        strand=strand,
        exons=list(exons),
        cds=list(cds),
        kind=kind or ("mRNA" if cds else "lnc_RNA"),
        gene_id=gene or f"gene-{tid}",
    )


def annotation(transcripts) -> Annotation:
    genes = [Gene(t.gene_id, t.seqid, t.strand, [t]) for t in transcripts]
    return Annotation(genes=genes, sequence_lengths={"chr1": 10_000})


def reference_transcripts() -> list[Transcript]:
    """Three coding genes (one on the minus strand, one single-exon) and one lncRNA."""
    return [
        tx("T1", "+", [(100, 200), (300, 400), (500, 600)], [(150, 200), (300, 400), (500, 550)]),
        tx("T2", "-", [(1000, 1100), (1200, 1300)], [(1050, 1100), (1200, 1250)]),
        tx("T3", "+", [(2000, 2300), (2400, 2600)]),
        tx("T4", "+", [(3000, 3600)], [(3100, 3400)]),
    ]


def score(predicted: list[Transcript]) -> dict:
    return evaluate(annotation(predicted), annotation(reference_transcripts())).to_dict()


def replaced(tid: str, new: Transcript | None) -> list[Transcript]:
    """The reference with one transcript replaced (or removed when ``new`` is None)."""
    out = [t for t in reference_transcripts() if t.id != tid]
    return out + ([new] if new is not None else [])


def pr(d: dict) -> tuple:
    return d["matched_predicted"], d["predicted"], d["matched_reference"], d["reference"]


def recall(d: dict, rule: str, name: str) -> tuple[int, int]:
    found = d["gene"][rule]["recall"][name]
    return found["found"], found["total"]


def precision(d: dict, rule: str, name: str = "all") -> tuple[int, int]:
    matched = d["gene"][rule]["precision"][name]
    return matched["matched"], matched["predicted"]


_FRACTION_KEYS = {"precision", "recall", "f1", "fraction", "sensitivity", "specificity"}


def every_fraction(value):
    """All precision/recall/F1-like floats of a report, for the reference-vs-itself check."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _FRACTION_KEYS and isinstance(item, float | int):
                yield item
                continue
            if key not in {"by_length", "counts"}:
                yield from every_fraction(item)
    elif isinstance(value, list):
        for item in value:
            yield from every_fraction(item)


def test_reference_against_itself_is_perfect_everywhere():
    d = score(reference_transcripts())
    values = list(every_fraction(d))
    assert len(values) == 100
    assert all(value == 1.0 for value in values)
    assert d["counts"]["reference"] == {
        "transcripts": 4, "coding": 3, "noncoding": 1, "unknown": 0, "ignored": 0,
        "outside_regions": 0, "loci": 4, "coding_loci": 3, "noncoding_loci": 1, "unknown_loci": 0,
    }  # fmt: skip
    assert [entry["k"] for entry in d["tolerance"]] == list(TOLERANCES)


def test_one_shifted_exon_boundary():
    # T1's middle exon ends 10 nt later: one exon and one intron change, the CDS does not.
    shifted = tx(
        "T1", "+", [(100, 200), (300, 410), (500, 600)], [(150, 200), (300, 400), (500, 550)]
    )
    d = score(replaced("T1", shifted))
    assert pr(d["exon"]["all"]) == (7, 8, 7, 8)
    assert pr(d["exon"]["coding"]) == (5, 6, 5, 6)
    assert pr(d["exon"]["noncoding"]) == (2, 2, 2, 2)
    assert d["exon"]["all"]["f1"] == pytest.approx(7 / 8)
    assert pr(d["cds"]["coding"]) == (6, 6, 6, 6)
    bases = d["nucleotide"]["exon"]["all"]
    assert (bases["predicted_bases"], bases["reference_bases"]) == (1610, 1600)
    assert bases["specificity"] == pytest.approx(1600 / 1610)
    assert bases["sensitivity"] == 1.0
    assert recall(d, "exon_chain", "coding") == (2, 3)
    assert recall(d, "intron_chain", "coding") == (2, 3)
    assert recall(d, "cds_chain", "coding") == (3, 3)
    assert recall(d, "exon_chain", "noncoding") == (1, 1)
    assert precision(d, "exon_chain") == (3, 4)
    assert precision(d, "cds_chain") == (3, 3)
    at = {entry["k"]: entry for entry in d["tolerance"]}
    # Same transcript ends: found by ends at k = 0, never by structure.
    assert at[0]["span"]["recall"]["all"]["found"] == 4
    assert at[500]["structure"]["recall"]["all"]["found"] == 3


def test_one_missed_exon():
    # T2 loses its first exon (and the CDS in it): a single-exon transcript remains.
    d = score(replaced("T2", tx("T2", "-", [(1200, 1300)], [(1200, 1250)])))
    assert pr(d["exon"]["all"]) == (7, 7, 7, 8)
    assert d["exon"]["all"]["precision"] == 1.0
    assert d["exon"]["all"]["recall"] == pytest.approx(7 / 8)
    assert d["exon"]["all"]["f1"] == pytest.approx(2 * 1 * (7 / 8) / (1 + 7 / 8))
    assert pr(d["cds"]["coding"]) == (5, 5, 5, 6)
    assert d["nucleotide"]["exon"]["all"]["sensitivity"] == pytest.approx(1500 / 1600)
    for rule in ("exon_chain", "intron_chain", "cds_chain"):
        assert recall(d, rule, "coding") == (2, 3)
        assert recall(d, rule, "all") == ((3, 4) if rule != "cds_chain" else (2, 3))
    at = {entry["k"]: entry for entry in d["tolerance"]}
    # The start moved by 200 nt: found by its ends from k = 250 on, never by structure.
    assert [at[k]["span"]["recall"]["all"]["found"] for k in TOLERANCES] == [3, 3, 3, 4, 4]
    assert [at[k]["structure"]["recall"]["all"]["found"] for k in TOLERANCES] == [3] * 5


def test_one_extra_transcript():
    extra = tx("T5", "+", [(5000, 5100), (5200, 5300)], [(5000, 5100), (5200, 5230)])
    d = score([*reference_transcripts(), extra])
    assert pr(d["exon"]["all"]) == (8, 10, 8, 8)
    assert pr(d["cds"]["coding"]) == (6, 8, 6, 6)
    assert d["nucleotide"]["exon"]["all"]["specificity"] == pytest.approx(1600 / 1800)
    for rule in ("exon_chain", "intron_chain", "cds_chain"):
        assert d["gene"][rule]["recall"]["all"]["fraction"] == 1.0
    assert precision(d, "exon_chain") == (4, 5)
    assert precision(d, "exon_chain", "coding") == (3, 4)
    assert precision(d, "exon_chain", "noncoding") == (1, 1)
    assert precision(d, "cds_chain") == (3, 4)
    assert d["counts"]["prediction"]["transcripts"] == 5


def test_one_wrong_strand():
    flipped = tx("T4", "-", [(3000, 3600)], [(3100, 3400)])
    d = score(replaced("T4", flipped))
    assert pr(d["exon"]["all"]) == (7, 8, 7, 8)
    assert pr(d["cds"]["coding"]) == (5, 6, 5, 6)
    bases = d["nucleotide"]["exon"]["all"]
    assert bases["sensitivity"] == pytest.approx(1000 / 1600)
    assert bases["specificity"] == pytest.approx(1000 / 1600)
    assert d["nucleotide"]["cds"]["coding"]["sensitivity"] == pytest.approx(300 / 600)
    for rule in ("exon_chain", "intron_chain", "cds_chain"):
        assert recall(d, rule, "coding") == (2, 3)


def test_intron_chain_ignores_outer_ends_and_single_exons_need_reciprocal_overlap():
    longer_ends = tx(
        "T1", "+", [(20, 200), (300, 400), (500, 900)], [(150, 200), (300, 400), (500, 550)]
    )
    d = score(replaced("T1", longer_ends))
    assert recall(d, "exon_chain", "coding") == (2, 3)
    assert recall(d, "intron_chain", "coding") == (3, 3)
    # T4 (600 nt): 480 shared nt is 80% of the longer transcript, 479 is not.
    for end, found in ((3480, 3), (3479, 2)):
        d = score(replaced("T4", tx("T4", "+", [(3000, end)], [(3100, 3400)])))
        assert recall(d, "intron_chain", "coding") == (found, 3)


def test_class_split_counts_structure_not_labels():
    # The lncRNA predicted as coding: its exons still count as found for the non-coding recall,
    # and as correct for the coding precision; the CDS is a false positive.
    as_coding = tx("T3", "+", [(2000, 2300), (2400, 2600)], [(2100, 2300), (2400, 2430)])
    d = score(replaced("T3", as_coding))
    assert pr(d["exon"]["noncoding"]) == (0, 0, 2, 2)
    assert d["exon"]["noncoding"]["precision"] is None
    assert pr(d["exon"]["coding"]) == (8, 8, 6, 6)
    assert pr(d["cds"]["coding"]) == (6, 8, 6, 6)
    assert recall(d, "exon_chain", "noncoding") == (1, 1)


def test_isoforms_with_their_own_gene_ids_form_one_locus():
    a = tx("A", "+", [(100, 200), (300, 400)], [(150, 200), (300, 350)], gene="A")
    b = tx("B", "+", [(100, 200), (500, 600)], [(150, 200), (500, 550)], gene="B")
    nested = tx("N", "+", [(220, 280)], gene="N")  # inside A's intron: its own locus
    other_strand = tx("M", "-", [(150, 160)], gene="M")
    groups = loci([a, b, nested, other_strand])
    assert sorted(sorted(t.id for t in locus.transcripts) for locus in groups) == [
        ["A", "B"], ["M"], ["N"],
    ]  # fmt: skip
    # Finding one isoform finds the gene.
    d = evaluate(annotation([copy.deepcopy(b)]), annotation([a, b])).to_dict()
    assert recall(d, "exon_chain", "coding") == (1, 1)
    assert d["by_length"]["transcripts"][0] == 2
    assert d["by_length"]["exon_chain"][0] == 0.5


def test_regions_keep_transcripts_entirely_inside():
    predicted = reference_transcripts()
    d = evaluate(
        annotation(predicted),
        annotation(reference_transcripts()),
        regions=[Region("chr1", 900, 2650), Region("chr2", 0, 10)],
    ).to_dict()
    assert d["counts"]["reference"]["transcripts"] == 2  # T2 and T3
    assert d["counts"]["prediction"]["outside_regions"] == 2
    assert d["regions"] == ["chr1:901-2650", "chr2:1-10"]
    scope = select(annotation(predicted), [Region("chr1", 1000, 2600)])
    assert [t.id for t in scope.transcripts] == ["T2", "T3"]
    assert scope.outside_regions == 2


def test_kinds_outside_the_scored_classes_are_ignored_and_counted():
    reference = [*reference_transcripts(), tx("S", "+", [(7000, 7080)], kind="snoRNA")]
    d = evaluate(annotation(reference_transcripts()), annotation(reference)).to_dict()
    assert d["counts"]["reference"]["ignored"] == 1
    assert d["exon"]["all"]["recall"] == 1.0


def test_empty_reference_scope_is_an_input_error():
    with pytest.raises(InputError, match="no mRNA, lnc_RNA or transcript features inside"):
        evaluate(
            annotation(reference_transcripts()),
            annotation(reference_transcripts()),
            regions=[Region("chr9", 0, 100)],
            reference_name="ref.gff3",
        )


def test_empty_prediction_scores_zero():
    d = score([])
    assert d["exon"]["all"]["recall"] == 0.0
    assert d["exon"]["all"]["precision"] is None
    assert d["gene"]["exon_chain"]["recall"]["all"]["fraction"] == 0.0


def test_text_report_lists_every_section():
    text = format_text(evaluate(annotation(reference_transcripts()[:3]), annotation(
        reference_transcripts()
    )))  # fmt: skip
    assert "exon" in text and "CDS bases (Sp, Sn)" in text
    assert "gene: intron chain" in text and "transcript ±500 nt (ends + introns)" in text
    assert "1.000 (7/7)" in text  # exon precision, all classes
    assert "0.875 (7/8)" in text  # exon recall, all classes


def test_intervals():
    assert merge_spans([(5, 10), (0, 3), (3, 4), (8, 12)]) == [(0, 4), (5, 12)]
    assert intersection_length([(0, 10), (20, 30)], [(5, 25)]) == 10
    assert intersection_length([], [(0, 5)]) == 0
    assert reciprocal_overlap((0, 100), (20, 100)) == 0.8
    assert reciprocal_overlap((0, 10), (10, 20)) == 0.0
    index = StartIndex(
        [("c", "+", (0, 50), "a"), ("c", "+", (40, 45), "b"), ("c", "-", (0, 9), "x")]
    )
    assert [item for *_, item in index.overlapping("c", "+", (44, 60))] == ["a", "b"]
    assert [item for *_, item in index.starting_within("c", "+", 1, 40)] == ["b"]
    assert index.overlapping("d", "+", (0, 1)) == []
    assert [length_bin(n) for n in (0, 999, 1000, 49_999, 50_000, 10**7)] == [0, 0, 1, 5, 6, 6]


# -- files: formats and tools ------------------------------------------------------------------


def write_gtf(transcripts: list[Transcript], path: Path) -> None:
    """RefSeq-style GTF: gene_id = transcript_id, CDS without the stop codon, stop_codon rows,
    UTR rows with swapped labels and no exon rows (the fly file's quirks)."""
    lines = []
    for t in transcripts:
        attrs = f'gene_id "{t.id}"; transcript_id "{t.id}";'
        rows = []
        if t.cds:
            lo, hi = t.cds[0][0], t.cds[-1][1]
            stop = (hi - 3, hi) if t.strand == "+" else (lo, lo + 3)
            for start, end in t.cds:
                start, end = max(start, stop[1]) if t.strand == "-" else start, end
                if t.strand == "+":
                    end = min(end, stop[0])
                if end > start:
                    rows.append(("CDS", start, end))
            rows.append(("stop_codon", *stop))
            for start, end in t.exons:
                for a, b in ((start, min(end, lo)), (max(start, hi), end)):
                    if b > a:
                        rows.append(("3UTR" if a < lo else "5UTR", a, b))  # swapped labels
        else:
            rows += [("UTR", start, end) for start, end in t.exons]
            attrs += ' transcript_biotype "lncRNA";'

        for feature, start, end in rows:
            cells = [t.seqid, "test", feature, str(start + 1), str(end), ".", t.strand, ".", attrs]
            lines.append("\t".join(cells))
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def test_gtf_and_gff3_of_the_same_annotation_give_identical_results(tmp_path):
    reference = reference_transcripts()
    predicted = replaced("T2", tx("T2", "-", [(1200, 1300)], [(1200, 1250)]))
    save_gff3(annotation(reference), tmp_path / "ref.gff3")
    save_gff3(annotation(predicted), tmp_path / "pred.gff3")
    write_gtf(reference, tmp_path / "ref.gtf.gz")
    write_gtf(predicted, tmp_path / "pred.gtf.gz")
    results = []
    for pred, ref in (("pred.gff3", "ref.gff3"), ("pred.gtf.gz", "ref.gtf.gz"),
                      ("pred.gff3", "ref.gtf.gz")):  # fmt: skip
        d = evaluate_paths(tmp_path / pred, tmp_path / ref).to_dict()
        del d["prediction"], d["reference"]
        results.append(d)
    assert results[0] == results[1] == results[2]
    assert pr(results[0]["exon"]["all"]) == (7, 7, 7, 8)


def test_augustus_gff3_and_gtf_outputs_read_alike():
    gff3 = evaluate_paths(DATA / "augustus_fly.gff3", DATA / "augustus_fly.gtf").to_dict()
    assert all(value == 1.0 for value in every_fraction(gff3))
    assert gff3["counts"]["prediction"]["coding"] == 8
    transcripts = list(read_annotation(DATA / "augustus_fly.gtf").transcripts())
    first = transcripts[0]
    # AUGUSTUS's CDS includes the stop codon (stop_codon 19760-19762 in its last CDS row).
    assert (first.id, first.cds[-1], first.exons[0]) == ("g1.t1", (19438, 19762), (18665, 18740))


def test_helixer_style_gff3(tmp_path):
    reference = reference_transcripts()
    lines = ["##gff-version 3"]
    for t in reference:
        if not t.cds:
            continue
        gene = f"{t.id}_gene"
        cells = [t.seqid, "Helixer", "gene", t.start + 1, t.end, ".", t.strand, ".", f"ID={gene}"]
        lines.append("\t".join(map(str, cells)))
        cells[2:9:6] = ["mRNA", f"ID={t.id}.1;Parent={gene}"]
        lines.append("\t".join(map(str, cells)))
        parts = [("exon", s, e) for s, e in t.exons] + [("CDS", s, e) for s, e in t.cds]
        parts += [("five_prime_UTR", s, e) for s, e in t.five_prime_utrs]
        parts += [("three_prime_UTR", s, e) for s, e in t.three_prime_utrs]
        for n, (kind, s, e) in enumerate(sorted(parts, key=lambda p: p[1])):
            row = [
                t.seqid,
                "Helixer",
                kind,
                s + 1,
                e,
                ".",
                t.strand,
                ".",
                f"ID={t.id}.1.{n};Parent={t.id}.1",
            ]
            lines.append("\t".join(map(str, row)))
    (tmp_path / "helixer.gff3").write_text("\n".join(lines) + "\n")
    save_gff3(annotation(reference), tmp_path / "ref.gff3")
    d = evaluate_paths(tmp_path / "helixer.gff3", tmp_path / "ref.gff3").to_dict()
    assert d["exon"]["coding"]["recall"] == 1.0
    assert d["exon"]["all"]["precision"] == 1.0
    assert recall(d, "cds_chain", "coding") == (3, 3)
    assert recall(d, "exon_chain", "noncoding") == (0, 1)


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("dmel_chr2R_1-19980000.refseq.gtf.gz", (4795, 202, 2213, 1945, 268)),
        ("grch37_chrX_1-69999930.gencode_canonical.gtf.gz", (356, 0, 351, 0, 0)),
        ("hg19_chr21_1-35950000.refseq.gtf.gz", (263, 19, 142, 100, 42)),
    ],
)
def test_shared_references_load_and_score_perfectly_against_themselves(shared_data, name, counts):
    path = shared_data / name
    d = evaluate_paths(path, path).to_dict()
    reference = d["counts"]["reference"]
    keys = ("transcripts", "ignored", "loci", "coding_loci", "noncoding_loci")
    assert tuple(reference[key] for key in keys) == counts
    assert all(value == 1.0 for value in every_fraction(d) if value is not None)
