"""Tests for genatator.annotation.read: GFF3/GTF parsing, real-file quirks and error reporting."""

from __future__ import annotations

import gzip
import io
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from genatator.annotation import Annotation, Gene, Transcript, read_annotation
from genatator.errors import GenatatorWarning, InputError

FLY = "dmel_chr2R_1-19980000.refseq.gtf.gz"
CHR21 = "hg19_chr21_1-35950000.refseq.gtf.gz"
CHRX = "grch37_chrX_1-69999930.gencode_canonical.gtf.gz"


def _text(rows: list[str]) -> str:
    """Feature rows written with spaces become tab-separated (column 9 keeps its spaces).

    Directives, comments and FASTA lines are kept as they are; ``RAW:`` marks a literal line.
    """
    lines = []
    for row in rows:
        if row.startswith("RAW:"):
            lines.append(row[4:])
        elif row.startswith(("#", ">")) or not row.strip() or row.isalpha():
            lines.append(row)
        else:
            lines.append("\t".join(row.split(None, 8)))
    return "\n".join(lines) + "\n"


def _write(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(_text(rows))
    return path


def _by_id(annotation: Annotation) -> dict[str, Transcript]:
    return {t.id: t for t in annotation.transcripts()}


# --- GFF3 -----------------------------------------------------------------------------------

GFF3_ROWS = [
    "##gff-version 3",
    "##sequence-region chr1 1 10000",
    "# a comment",
    "chr1 src gene 100 1000 . + . ID=g1;Name=Alpha%3Bbeta",
    "chr1 src mRNA 100 1000 0.9 + . ID=t1;Parent=g1",
    "chr1 src mRNA 100 800 . + . ID=t2;Parent=g1",
    "chr1 src exon 100 200 . + . ID=shared;Parent=t1,t2",
    "chr1 src exon 300 500 . + . Parent=t1",
    "chr1 src exon 700 1000 . + . Parent=t1",
    "chr1 src exon 300 800 . + . Parent=t2",
    "chr1 src five_prime_UTR 100 149 . + . Parent=t1",
    "chr1 src CDS 150 200 . + 0 ID=cds1;Parent=t1",
    "chr1 src CDS 300 500 . + 0 ID=cds1;Parent=t1",
    "chr1 src CDS 700 752 . + 2 ID=cds1;Parent=t1",
    "chr1 src stop_codon 750 752 . + 0 Parent=t1",
    "chr1 src three_prime_UTR 753 1000 . + . Parent=t1",
    "###",
    "chr1 src ncRNA_gene 2000 3000 . - . ID=g2",
    "chr1 src lnc_RNA 2000 3000 . - . ID=t3;Parent=g2;note=a%2Cb",
    "chr1 src exon 2000 2100 . - . Parent=t3",
    "chr1 src exon 2500 3000 . - . Parent=t3",
    "chr1 src mRNA 4000 5000 . - . ID=t4",
    "chr1 src exon 4000 4200 . - . Parent=t4",
    "chr1 src exon 4800 5000 . - . Parent=t4",
    "chr1 src CDS 4100 4200 . - 0 Parent=t4",
    "chr1 src CDS 4800 4900 . - 0 Parent=t4",
    "##FASTA",
    ">chr1",
    "ACGT",
]


def test_gff3_structure(tmp_path):
    annotation = read_annotation(_write(tmp_path, "a.gff3", GFF3_ROWS))
    assert annotation.sequence_lengths == {"chr1": 10000}
    assert annotation.warnings == []
    assert [g.id for g in annotation.genes] == ["g1", "g2", "gene-t4"]
    g1, g2, g4 = annotation.genes
    assert g1.attributes == {"Name": "Alpha;beta"}
    assert [t.id for t in g1.transcripts] == ["t2", "t1"]  # sorted by start, end, ID
    t = _by_id(annotation)
    # CDS rows share one ID; the stop_codon row lies inside the CDS: no double extension.
    assert t["t1"] == Transcript(
        id="t1", seqid="chr1", strand="+",
        exons=[(99, 200), (299, 500), (699, 1000)], cds=[(149, 200), (299, 500), (699, 752)],
        kind="mRNA", gene_id="g1", score=0.9, source="src", attributes={},
    )  # fmt: skip
    # The exon with two Parents belongs to both isoforms; an mRNA row without CDS stays mRNA.
    assert t["t2"] == Transcript(
        id="t2", seqid="chr1", strand="+", exons=[(99, 200), (299, 800)], cds=[],
        kind="mRNA", gene_id="g1", source="src",
    )  # fmt: skip
    assert t["t1"].five_prime_utrs == [(99, 149)]
    assert t["t1"].three_prime_utrs == [(752, 1000)]
    assert t["t3"].kind == "lnc_RNA" and t["t3"].attributes == {"note": "a,b"}
    assert g2.so_type == "ncRNA_gene" and g2.strand == "-"
    # A transcript without a gene parent gets a synthesized gene.
    assert g4.transcripts == [t["t4"]] and t["t4"].gene_id == "gene-t4"
    assert t["t4"].cds == [(4099, 4200), (4799, 4900)]
    assert t["t4"].five_prime_utrs == [(4900, 5000)]


def test_gff3_transcript_chains_and_gene_attributes(tmp_path):
    rows = [
        "##gff-version 3",
        "c s gene 100 200 . + . ID=gm;gene_biotype=miRNA",
        "c s primary_transcript 100 200 . + . ID=pri;Parent=gm",
        "c s exon 100 200 . + . Parent=pri",
        "c s miRNA 120 141 . + . ID=mir;Parent=pri",
        "c s exon 120 141 . + . Parent=mir",
        "c s gene 300 400 . . . ID=gdot",  # strand '.' on a gene: its transcripts carry it
        "c s mRNA 300 400 . - . ID=tdot;Parent=gdot",
        "c s exon 300 400 . - . Parent=tdot",
        "c s CDS 310 390 . - 0 Parent=tdot",
        "c s transcript 500 600 . + . ID=ta;geneID=G7",  # gffread style: no gene rows
        "c s exon 500 600 . + . Parent=ta",
        "c s transcript 550 700 . + . ID=tb;geneID=G7",
        "c s exon 550 700 . + . Parent=tb",
        "c s transcript 800 900 . + . ID=tc;transcript_biotype=lincRNA",
        "c s transcript 1000 1100 . + . ID=td;biotype=snoRNA",
        "c s exon 1000 1100 . + . Parent=td",
    ]
    annotation = read_annotation(_write(tmp_path, "chain.gff3", rows))
    genes = {g.id: g for g in annotation.genes}
    assert [t.id for t in genes["gm"].transcripts] == ["pri", "mir"]
    assert [t.kind for t in genes["gm"].transcripts] == ["primary_transcript", "miRNA"]
    assert genes["gdot"].strand == "-"
    assert [t.id for t in genes["G7"].transcripts] == ["ta", "tb"]
    t = _by_id(annotation)
    assert t["ta"].kind == "ncRNA"  # no type, biotype or RefSeq prefix; the file has CDS
    assert t["tc"].exons == [(799, 900)] and t["tc"].kind == "lnc_RNA"  # row without children
    assert t["td"].kind == "snoRNA"


def test_gff3_ensembl_and_ncbi_styles(tmp_path):
    rows = [
        "##gff-version 3",
        "##sequence-region 1 1 100000",
        "#!genome-build GRCh38.p13",
        "1 GRCh38 chromosome 1 100000 . . . ID=chromosome:1;Alias=CM000663.2",
        "1 . biological_region 10 20 0.9 + . external_name=rank %3D 1;logic_name=firstef",
        "1 ensembl gene 100 900 . - . ID=gene:E1;biotype=protein_coding;Name=ABC",
        "1 ensembl mRNA 100 900 . - . ID=transcript:T1;Parent=gene:E1;biotype=protein_coding",
        "1 ensembl exon 100 300 . - . Parent=transcript:T1;Name=X1;constitutive=1;rank=2",
        "1 ensembl exon 600 900 . - . Parent=transcript:T1;Name=X2;constitutive=1;rank=1",
        "1 ensembl CDS 200 300 . - 2 ID=CDS:P1;Parent=transcript:T1",
        "1 ensembl CDS 600 800 . - 0 ID=CDS:P1;Parent=transcript:T1",
        "1 e unconfirmed_transcript 650 900 . - . ID=transcript:T2;Parent=gene:E1;biotype=TEC",
        "1 e exon 650 900 . - . Parent=transcript:T2",
        "1 BestRefSeq gene 2000 3000 . + . ID=gene-L;gene_biotype=lncRNA",
        "1 BestRefSeq transcript 2000 3000 . + . ID=rna-XR_1.1;Parent=gene-L",
        "1 BestRefSeq exon 2000 3000 . + . ID=exon-XR_1.1-1;Parent=rna-XR_1.1",
    ]
    annotation = read_annotation(_write(tmp_path, "ens.gff3", rows))
    t = _by_id(annotation)
    assert sorted(t) == ["rna-XR_1.1", "transcript:T1", "transcript:T2"]
    assert t["transcript:T1"].cds == [(199, 300), (599, 800)]
    assert t["transcript:T1"].five_prime_utrs == [(800, 900)]
    assert t["transcript:T2"].kind == "ncRNA"  # its own biotype (TEC) beats the gene's
    assert t["rna-XR_1.1"].kind == "lnc_RNA"  # gene_biotype on the gene row
    assert [g.id for g in annotation.genes] == ["gene:E1", "gene-L"]


def test_gff3_cds_only_transcript_derives_exons(tmp_path):
    rows = [
        "c s mRNA 1 500 . + . ID=t1",
        "c s CDS 101 200 . + 0 Parent=t1",
        "c s CDS 301 400 . + 2 Parent=t1",
        "c s 5'UTR 1 100 . + . Parent=t1",
        "c s three_prime_UTR 401 500 . + . Parent=t1",
    ]
    t = _by_id(read_annotation(_write(tmp_path, "cds.gff", rows)))["t1"]
    assert t.exons == [(0, 200), (300, 500)]
    assert t.cds == [(100, 200), (300, 400)]


def test_gff3_percent_encoded_seqid_and_parent(tmp_path):
    rows = [
        "chr%3B1 s gene 1 100 . + . ID=g%2C1",
        "chr%3B1 s mRNA 1 100 . + . ID=t%3D1;Parent=g%2C1",
        "chr%3B1 s exon 1 100 . + . Parent=t%3D1",
    ]
    annotation = read_annotation(_write(tmp_path, "esc.gff3", rows))
    (gene,) = annotation.genes
    assert (gene.id, gene.seqid, gene.transcripts[0].id) == ("g,1", "chr;1", "t=1")


# --- GTF ------------------------------------------------------------------------------------


def test_gtf_stop_codon_added_to_cds_both_strands(tmp_path):
    rows = [
        'c src exon 100 200 . + . gene_id "A"; transcript_id "NM_1"; gene_name "a"; exon_number 1;',
        'c src exon 300 400 . + . gene_id "A"; transcript_id "NM_1"; gene_name "a"; exon_number 2;',
        'c src CDS 150 200 . + 0 gene_id "A"; transcript_id "NM_1"; gene_name "a";',
        'c src CDS 300 350 . + 1 gene_id "A"; transcript_id "NM_1"; gene_name "a";',
        'c src start_codon 150 152 . + 0 gene_id "A"; transcript_id "NM_1"; gene_name "a";',
        'c src stop_codon 351 353 . + 0 gene_id "A"; transcript_id "NM_1"; gene_name "a";',
        'c src exon 1000 1100 . - . gene_id "B"; transcript_id "NM_2";',
        'c src exon 1200 1300 . - . gene_id "B"; transcript_id "NM_2";',
        'c src CDS 1050 1100 . - 0 gene_id "B"; transcript_id "NM_2";',
        'c src CDS 1200 1250 . - 0 gene_id "B"; transcript_id "NM_2";',
        'c src stop_codon 1047 1049 . - 0 gene_id "B"; transcript_id "NM_2";',
        'c src exon 1200 1300 . - . gene_id "B"; transcript_id "NR_3";',
    ]
    annotation = read_annotation(_write(tmp_path, "human.gtf", rows))
    t = _by_id(annotation)
    # Attributes shared by every row are kept; exon_number differs between rows and is not.
    assert t["NM_1"] == Transcript(
        id="NM_1", seqid="c", strand="+", exons=[(99, 200), (299, 400)],
        cds=[(149, 200), (299, 353)], kind="mRNA", gene_id="A", source="src",
        attributes={"gene_name": "a"},
    )  # fmt: skip
    assert t["NM_2"].cds == [(1046, 1100), (1199, 1250)]
    assert [g.id for g in annotation.genes] == ["A", "B"]
    assert [x.id for x in annotation.genes[1].transcripts] == ["NM_2", "NR_3"]
    assert t["NR_3"].kind == "ncRNA"  # NR_ shorter than 200 nt


FLY_ROWS = [
    # NM_1.t1 (+): labels swapped, stop codon split by the intron (1 base + 2 bases).
    'c r 3\'-UTR 100 149 0.0 + . gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    'c r start_codon 150 152 0.0 + . gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    'c r CDS 150 199 0.0 + 0 gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    'c r stop_codon 200 200 0.0 + . gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    'c r stop_codon 300 301 0.0 + . gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    'c r 5\'-UTR 302 400 0.0 + . gene_id "NM_1.t1"; transcript_id "NM_1.t1";',
    # NM_2.t1 (+) shares exonic bases with NM_1.t1: same gene.
    'c r CDS 170 247 0.0 + 0 gene_id "NM_2.t1"; transcript_id "NM_2.t1";',
    'c r stop_codon 248 250 0.0 + . gene_id "NM_2.t1"; transcript_id "NM_2.t1";',
    # NR_3.t1 (+) sits in NM_1.t1's intron: no shared exonic base, its own gene; UTR rows only.
    'c r 3\'-UTR 260 290 0.0 + . gene_id "NR_3.t1"; transcript_id "NR_3.t1";',
    # NM_4.t1 (-): swapped labels, stop codon split by the intron (2 bases + 1 base).
    'c r 5\'-UTR 1100 1198 0.0 - . gene_id "NM_4.t1"; transcript_id "NM_4.t1";',
    'c r stop_codon 1199 1199 0.0 - . gene_id "NM_4.t1"; transcript_id "NM_4.t1";',
    'c r stop_codon 1299 1300 0.0 - . gene_id "NM_4.t1"; transcript_id "NM_4.t1";',
    'c r CDS 1301 1350 0.0 - 0 gene_id "NM_4.t1"; transcript_id "NM_4.t1";',
    'c r 3\'-UTR 1351 1400 0.0 - . gene_id "NM_4.t1"; transcript_id "NM_4.t1";',
    # NR_5.t1 (-) overlaps NM_1.t1 on the other strand: separate gene; 301 nt of UTR rows.
    'c r 3\'-UTR 100 250 0.0 - . gene_id "NR_5.t1"; transcript_id "NR_5.t1";',
    'c r 3\'-UTR 251 400 0.0 - . gene_id "NR_5.t1"; transcript_id "NR_5.t1";',
]


def test_gtf_fly_quirks(tmp_path):
    annotation = read_annotation(_write(tmp_path, "fly.gtf", FLY_ROWS))
    t = _by_id(annotation)
    assert t["NM_1.t1"] == Transcript(
        id="NM_1.t1", seqid="c", strand="+", exons=[(99, 200), (299, 400)],
        cds=[(149, 200), (299, 301)], kind="mRNA", gene_id="gene-NM_1.t1", source="r",
    )  # fmt: skip
    assert t["NM_1.t1"].five_prime_utrs == [(99, 149)]  # labelled 3'-UTR in the file
    assert t["NM_1.t1"].three_prime_utrs == [(301, 400)]
    assert t["NM_4.t1"].exons == [(1099, 1199), (1298, 1400)]
    assert t["NM_4.t1"].cds == [(1198, 1199), (1298, 1350)]
    assert t["NM_4.t1"].five_prime_utrs == [(1350, 1400)]
    assert t["NM_4.t1"].three_prime_utrs == [(1099, 1198)]
    assert (t["NR_3.t1"].exons, t["NR_3.t1"].cds, t["NR_3.t1"].kind) == ([(259, 290)], [], "ncRNA")
    assert (t["NR_5.t1"].exons, t["NR_5.t1"].kind) == ([(99, 400)], "lnc_RNA")  # merged pieces
    genes = {g.id: [x.id for x in g.transcripts] for g in annotation.genes}
    assert genes == {
        "gene-NM_1.t1": ["NM_1.t1", "NM_2.t1"],
        "gene-NR_3.t1": ["NR_3.t1"],
        "gene-NR_5.t1": ["NR_5.t1"],
        "gene-NM_4.t1": ["NM_4.t1"],
    }


def test_gtf_single_transcript_gene_named_like_transcript(tmp_path):
    rows = ['c s exon 1 100 . + . gene_id "x"; transcript_id "x";']
    (gene,) = read_annotation(_write(tmp_path, "one.gtf", rows)).genes
    assert (gene.id, gene.transcripts[0].id) == ("gene-x", "x")  # IDs stay unique


def test_gtf_augustus_bare_id_gene_and_transcript_rows(tmp_path):
    rows = [
        "c AUGUSTUS gene 10 300 0.8 - . g1",
        "c AUGUSTUS transcript 10 300 0.7 - . g1.t1",
        'c AUGUSTUS exon 10 100 . - . transcript_id "g1.t1"; gene_id "g1";',
        'c AUGUSTUS CDS 50 100 . - 0 transcript_id "g1.t1"; gene_id "g1";',
        'c AUGUSTUS stop_codon 50 52 . - 0 transcript_id "g1.t1"; gene_id "g1";',
        'c AUGUSTUS exon 200 300 . - . transcript_id "g1.t1"; gene_id "g1";',
        'c AUGUSTUS CDS 200 250 . - 0 transcript_id "g1.t1"; gene_id "g1";',
    ]
    (gene,) = read_annotation(_write(tmp_path, "augustus.gtf", rows)).genes
    (t,) = gene.transcripts
    assert (gene.id, t.id, t.gene_id, t.score) == ("g1", "g1.t1", "g1", 0.7)
    assert (t.exons, t.cds, t.kind) == ([(9, 100), (199, 300)], [(49, 100), (199, 250)], "mRNA")
    # A bare word is only an ID on gene and transcript rows; on an exon row it is malformed.
    with pytest.raises(InputError, match="line 1: malformed GTF attributes"):
        read_annotation(_write(tmp_path, "bad.gtf", ["c s exon 1 100 . + . g1"]), format="gtf")


def test_transcript_kinds(tmp_path):
    def row(tx, start, end, extra="", feature="exon"):
        return f'c s {feature} {start} {end} . + . gene_id "g{tx}"; transcript_id "{tx}"; {extra}'

    rows = [
        row("lnc", 1, 50, 'transcript_biotype "lncRNA";'),
        row("mir", 101, 150, 'gene_type "miRNA";'),
        row("pc", 201, 250, 'transcript_type "protein_coding";'),
        row("pseudo", 301, 350, 'transcript_biotype "processed_pseudogene";'),
        row("NR_1", 401, 550),
        row("XR_2.1", 601, 900),
        row("NM_3", 1001, 1050),
        row("plain", 1101, 1150),
        row("coding", 1201, 1300, 'transcript_biotype "lncRNA";'),
        row("coding", 1211, 1240, 'transcript_biotype "lncRNA";', feature="CDS"),
    ]
    kinds = {t.id: t.kind for t in read_annotation(_write(tmp_path, "k.gtf", rows)).transcripts()}
    assert kinds == {
        "lnc": "lnc_RNA", "mir": "miRNA", "pc": "mRNA", "pseudo": "pseudogenic_transcript",
        "NR_1": "ncRNA", "XR_2.1": "lnc_RNA", "NM_3": "mRNA", "plain": "ncRNA",
        "coding": "mRNA",  # a CDS always makes an mRNA
    }  # fmt: skip
    # Without any CDS row in the file, coding status is unknown: the generic SO type.
    no_cds = read_annotation(_write(tmp_path, "nocds.gtf", [row("plain", 1, 50)]))
    assert next(no_cds.transcripts()).kind == "transcript"


# --- input forms and format detection --------------------------------------------------------


def test_format_detection_and_input_forms(tmp_path, monkeypatch):
    gtf = _text(['c s exon 1 100 . + . gene_id "g"; transcript_id "t";'])
    gff = _text(["c s mRNA 1 100 . + . ID=t", "c s exon 1 100 . + . Parent=t"])
    expected = Transcript(
        id="t", seqid="c", strand="+", exons=[(0, 100)], kind="transcript", gene_id="g", source="s"
    )
    (tmp_path / "plain").write_text(gtf)
    assert next(read_annotation(tmp_path / "plain").transcripts()) == expected
    with gzip.open(tmp_path / "z.gz", "wt") as handle:
        handle.write(gtf)
    assert next(read_annotation(tmp_path / "z.gz", format="gtf").transcripts()) == expected
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gtf.encode())))
    assert next(read_annotation("-").transcripts()) == expected
    from_gff = next(read_annotation(io.StringIO(gff)).transcripts())
    assert (from_gff.exons, from_gff.kind, from_gff.gene_id) == ([(0, 100)], "mRNA", "gene-t")
    assert read_annotation(io.StringIO("##gff-version 3\n")).genes == []
    with pytest.raises(ValueError, match="format"):
        read_annotation(io.StringIO(gff), format="bed")  # type: ignore[arg-type]


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_annotation(tmp_path / "absent.gff3")


# --- malformed input ---------------------------------------------------------------------------

GFF3_BASE = [
    "##gff-version 3",
    "c s gene 1 1000 . + . ID=g1",
    "c s mRNA 1 1000 . + . ID=t1;Parent=g1",
    "c s exon 1 1000 . + . Parent=t1",
]
GTF_BASE = ['c s exon 1 100 . + . gene_id "g1"; transcript_id "t1";']

MALFORMED = [
    ("gff3", ["RAW:c\ts\texon\t1\t10\t.\t+\t."], 5, "expected 9 tab-separated columns, found 8"),
    ("gff3", ["c s exon x 10 . + . Parent=t1"], 5, "'x', '10' are not integers"),
    ("gff3", ["c s exon 20 10 . + . Parent=t1"], 5, "start 20 is greater than end 10"),
    ("gff3", ["c s exon 0 10 . + . Parent=t1"], 5, "start 0 is below 1"),
    ("gff3", ["c s exon 1 10 . * . Parent=t1"], 5, r"strand '\*' is not \+ or -"),
    ("gff3", ["c s mRNA 1 10 . . . ID=t2;Parent=g1", "c s exon 1 10 . + . Parent=t2"], 5,
     r"transcript strand '\.' is not"),
    ("gff3", ["c s mRNA 1 10 . + . Parent=g1"], 5, "mRNA without ID"),
    ("gff3", ["c s exon 1 10 . + . ID=x"], 5, "exon without Parent"),
    ("gff3", ["c s exon 1 10 . + . Parent=nope"], 5, "Parent 'nope' is not defined"),
    ("gff3", ["c s mRNA 1 10 . + . ID=t2;Parent=nope", "c s exon 1 10 . + . Parent=t2"], 5,
     "Parent 'nope' is not defined"),
    ("gff3", ["c s exon 1 10 . + . Parent"], 5, "malformed GFF3 attributes"),
    ("gff3", ["c s mRNA 1 1000 . + . ID=t1;Parent=g1"], 5,
     r"duplicate ID 't1' \(first defined on line 3\)"),
    ("gff3", ["c s exon 1 10 . - . Parent=t1"], 5, "exon on c- but its transcript 't1' is on c\\+"),
    ("gff3", ["c s mRNA 1 10 . - . ID=t2;Parent=g1", "c s exon 1 10 . - . Parent=t2"], 5,
     "transcript 't2' on c- but its gene 'g1' is on c\\+"),
    ("gff3", ["c s mRNA 2000 3000 . + . ID=t2", "c s exon 2000 2500 . + . Parent=t2",
              "c s CDS 2400 2600 . + 0 Parent=t2"], 5,
     "CDS 2400-2600 of transcript 't2' lies outside its exons"),
    ("gtf", ["RAW:c\ts\texon\t1\t10\t.\t+\t.\tgene_id \"g\";\textra"], 2, "found 10"),
    ("gtf", ['c s exon 1 10 . + . gene_id "g2";'], 2, "exon row without transcript_id"),
    ("gtf", ['c s exon 1 10 . . . gene_id "g2"; transcript_id "t2";'], 2, r"strand '\.'"),
    ("gtf", ['c s exon 200 300 . - . gene_id "g1"; transcript_id "t1";'], 2,
     r"transcript 't1' has strand '-' here but '\+' on line 1"),
    ("gtf", ['c s exon 200 300 . + . gene_id "g9"; transcript_id "t1";'], 2,
     "has gene_id 'g9' here but 'g1'"),
    ("gtf", ['c s exon 1 10 . + . gene_id "g1; transcript_id'], 2, "malformed GTF attributes"),
    ("gtf", ['c s exon 10 100 . + . gene_id "g3"; transcript_id "t3";',
             'c s CDS 20 50 . + 0 gene_id "g3"; transcript_id "t3";',
             'c s stop_codon 11 13 . + 0 gene_id "g3"; transcript_id "t3";'], 2,
     "stop_codon 11-13 of transcript 't3' is not at the 3' end of its CDS 20-50"),
    ("gtf", ['c s exon 200 300 . + . gene_id "g4"; transcript_id "t4";',
             'c s CDS 250 350 . + 0 gene_id "g4"; transcript_id "t4";'], 2,
     "CDS 250-350 of transcript 't4' lies outside its exons"),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "bad", "line", "match"), MALFORMED)
def test_malformed_input(tmp_path, fmt, bad, line, match):
    base = GFF3_BASE if fmt == "gff3" else GTF_BASE
    path = _write(tmp_path, f"bad.{fmt}", base + bad)
    with pytest.raises(InputError, match=rf"bad\.{fmt}, .*line {line}: .*{match}") as info:
        read_annotation(path)
    assert info.value.line == line
    with pytest.warns(GenatatorWarning, match="1 problems skipped"):
        annotation = read_annotation(path, lenient=True)
    assert len(annotation.warnings) == 1 and f"line {line}:" in annotation.warnings[0]
    assert "t1" in _by_id(annotation)  # the good transcript survives


def test_overlapping_exons_merged_when_lenient(tmp_path):
    rows = [
        *GFF3_BASE,
        "c s mRNA 2000 3000 . + . ID=t2",
        "c s exon 2000 2500 . + . Parent=t2",
        "c s exon 2400 2800 . + . Parent=t2",
        "c s exon 2000 2500 . + . Parent=t2",
    ]
    path = _write(tmp_path, "ov.gff3", rows)
    with pytest.raises(InputError, match=r"line 5: .*overlapping exons 2000-2500 and 2400-2800"):
        read_annotation(path)
    with pytest.warns(GenatatorWarning):
        annotation = read_annotation(path, lenient=True)
    assert _by_id(annotation)["t2"].exons == [(1999, 2800)]
    assert len(annotation.warnings) == 1  # the exact duplicate exon is silently merged


def test_feature_beyond_sequence_region(tmp_path):
    path = _write(tmp_path, "len.gff3", ["##sequence-region c 1 500", *GFF3_BASE[1:]])
    with pytest.raises(InputError, match=r"record 'g1': gene ends at 1000, beyond .* 500"):
        read_annotation(path)
    with pytest.warns(GenatatorWarning):
        assert read_annotation(path, lenient=True).genes == []


def test_bad_score_and_lenient_children_of_skipped_lines(tmp_path):
    score = [*GFF3_BASE, "c s mRNA 1 10 abc + . ID=t2;Parent=g1", "c s exon 1 10 . + . Parent=t2"]
    with pytest.raises(InputError, match="line 5: score 'abc' is not a number"):
        read_annotation(_write(tmp_path, "score.gff3", score))
    path = _write(
        tmp_path,
        "both.gff3",
        [*score, "c s mRNA 1 x . + . ID=t3;Parent=g1", "c s exon 1 10 . + . Parent=t3"],
    )
    with pytest.warns(GenatatorWarning, match="2 problems"):
        annotation = read_annotation(path, lenient=True)
    # t2 is kept without a score; t3's line is dropped and its exon is not called an orphan.
    assert sorted(_by_id(annotation)) == ["t1", "t2"]
    assert _by_id(annotation)["t2"].score is None


# --- the real annotations in ../shared/data -----------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data) -> dict[str, Annotation]:
    return {name: read_annotation(shared_data / name) for name in (FLY, CHR21, CHRX)}


@pytest.mark.parametrize(
    ("name", "n_transcripts", "n_genes"), [(FLY, 4997, 2398), (CHR21, 282, 166), (CHRX, 356, 356)]
)
def test_real_file_counts(real, name, n_transcripts, n_genes):
    annotation = real[name]
    assert annotation.n_transcripts == n_transcripts
    assert len(annotation.genes) == n_genes
    assert annotation.warnings == []


def test_real_refseq_classes(real):
    for name in (FLY, CHR21):
        transcripts = list(real[name].transcripts())
        coding = [t for t in transcripts if t.id.startswith("NM_")]
        noncoding = [t for t in transcripts if t.id.startswith("NR_")]
        assert all(t.kind == "mRNA" and t.cds for t in coding)
        assert all(not t.cds and t.kind in ("lnc_RNA", "ncRNA") for t in noncoding)
        # CDS include the stop codon, so nearly all are whole codons (RefSeq frameshifts aside).
        assert sum(sum(e - s for s, e in t.cds) % 3 == 0 for t in coding) >= 0.98 * len(coding)
    assert Counter(t.kind for t in real[CHR21].transcripts()) == {
        "mRNA": 196, "lnc_RNA": 67, "ncRNA": 19,
    }  # fmt: skip
    assert {t.kind for t in real[CHRX].transcripts()} == {"transcript"}  # exon-only file


def test_real_fly_utr_side_from_position(real, shared_data):
    """Every UTR row upstream of a + strand CDS is 5' UTR, whatever its (often swapped) label."""
    transcripts = _by_id(real[FLY])
    upstream_labels = Counter()
    with gzip.open(shared_data / FLY, "rt") as handle:
        for line in handle:
            cols = line.split("\t")
            tx_id = cols[8].split('transcript_id "')[1].split('"')[0]
            t = transcripts[tx_id]
            if "UTR" in cols[2] and t.strand == "+" and t.cds and int(cols[4]) <= t.cds[0][0]:
                span = (int(cols[3]) - 1, int(cols[4]))
                assert any(s <= span[0] and span[1] <= e for s, e in t.five_prime_utrs)
                upstream_labels[cols[2]] += 1
    assert upstream_labels["5'-UTR"] > 0 and upstream_labels["3'-UTR"] > 0  # the swap is real
    # Stop codon included: NM_001299460.1.t1 (-) has stop_codon 13591707-13591709.
    assert transcripts["NM_001299460.1.t1"].cds[0][0] == 13591706


def test_real_fly_genes_do_not_share_exonic_bases(real):
    """Overlap grouping: exons that share a base on one strand always belong to one gene."""
    exons = sorted(
        (t.strand, s, e, g.id) for g in real[FLY].genes for t in g.transcripts for s, e in t.exons
    )
    blocks: dict[str, tuple[int, str]] = {}
    for strand, start, end, gene_id in exons:
        block_end, block_gene = blocks.get(strand, (-1, ""))
        if start < block_end:
            assert gene_id == block_gene
            blocks[strand] = (max(end, block_end), block_gene)
        else:
            blocks[strand] = (end, gene_id)


def test_real_fly_parse_speed(shared_data):
    start = time.perf_counter()
    annotation = read_annotation(shared_data / FLY)
    assert time.perf_counter() - start < 3.0
    assert isinstance(annotation.genes[0], Gene)
