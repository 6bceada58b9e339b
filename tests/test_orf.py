"""CDS derived from the longest complete ORF (genatator.annotation.orf) and --derive-cds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from Bio.Seq import Seq
from helpers import assert_one_line_error, assert_valid_gff3, random_dna, run_cli

from genatator.annotation import Annotation, Gene, Transcript, read_annotation, save_gff3
from genatator.annotation.orf import (
    DERIVE_CDS_RULES,
    MIN_DERIVED_CODONS,
    derive_cds,
    derive_gene_cds,
    spliced_sequence,
)
from genatator.decode.counting import count_gene_model
from genatator.decode.parameters import GENE_MODEL_FILE
from genatator.errors import ConfigError
from genatator.genome import reverse_complement
from genatator.labels import CDS, CLASSES, EXON, FIVE_PRIME_UTR, INTRON, THREE_PRIME_UTR
from genatator.regions import Region
from genatator.training.config import TrainConfig
from genatator.training.prepare import GenomeSource, fingerprint, prepare

# Fillers without ATG or a stop codon in any frame, on either strand: GCC/CCG/CGC and, reverse
# complemented, GGC/GCG/CGG; a run of C reads as CCC/GGG.
FILL = "GCC"
SPACER = "GTAAGTCCCCCCCCCCCCCCTTTCAG"  # holds a stop, which splicing removes


def transcript(exons, strand="+", kind="transcript", cds=()) -> Transcript:
    return Transcript("t1", "chr1", strand, list(exons), cds=list(cds), kind=kind, gene_id="g1")


def assemble(pieces: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Exon strings joined by an intron (SPACER): the sequence and the exon spans."""
    sequence, exons = "", []
    for index, piece in enumerate(pieces):
        if index:
            sequence += SPACER
        exons.append((len(sequence), len(sequence) + len(piece)))
        sequence += piece
    return sequence, exons


def mirror(spans, length):
    return sorted((length - end, length - start) for start, end in spans)


def both_strands(sequence, exons, expected_cds, min_codons):
    """The derived CDS on ``+`` and on the reverse-complemented sequence on ``-``."""
    plus = derive_cds(transcript(exons), sequence, min_codons=min_codons)
    assert plus.cds == expected_cds
    length = len(sequence)
    minus = derive_cds(
        transcript(mirror(exons, length), "-"), reverse_complement(sequence), min_codons=min_codons
    )
    assert minus.cds == mirror(expected_cds, length)
    return plus, minus


def coding(transcript_: Transcript, sequence: str) -> str:
    return spliced_sequence(sequence, transcript_.cds, transcript_.strand)


# --- the rule on hand-built transcripts ----------------------------------------------------------


def test_one_exon_orf_on_both_strands_includes_the_stop_codon():
    sequence = FILL * 5 + "ATG" + FILL * 4 + "TAA" + FILL * 5
    plus, minus = both_strands(sequence, [(0, len(sequence))], [(15, 33)], min_codons=5)
    for derived, genome in ((plus, sequence), (minus, reverse_complement(sequence))):
        assert derived.kind == "mRNA"
        assert coding(derived, genome) == "ATG" + FILL * 4 + "TAA"  # stop inside the CDS
        assert derived.five_prime_utrs and derived.three_prime_utrs


def test_minimum_length_counts_codons_without_the_stop():
    sequence = FILL + "ATG" + FILL * 4 + "TAG" + FILL
    exons = [(0, len(sequence))]
    assert derive_cds(transcript(exons), sequence, min_codons=5).cds == [(3, 21)]
    assert derive_cds(transcript(exons), sequence, min_codons=6).cds == []
    # The default is the lncRNA criterion: 100 codons besides the stop.
    assert MIN_DERIVED_CODONS == 100
    long = "ATG" + FILL * 99 + "TGA"
    assert derive_cds(transcript([(0, 303)]), long).cds == [(0, 303)]
    short = "ATG" + FILL * 98 + "TGA"
    assert derive_cds(transcript([(0, 300)]), short).cds == []


def test_orf_across_a_splice_junction():
    sequence, exons = assemble([FILL * 3 + "ATGGC", "C" + FILL * 3 + "TAG" + FILL * 3])
    second = exons[1][0]
    expected = [(9, 14), (second, second + 1 + 9 + 3)]
    plus, minus = both_strands(sequence, exons, expected, min_codons=4)
    assert str(Seq(coding(plus, sequence)).translate()) == "MAAAA*"
    assert coding(minus, reverse_complement(sequence)) == coding(plus, sequence)


def test_stop_codon_split_by_an_intron():
    sequence, exons = assemble([FILL * 2 + "ATG" + FILL * 4 + "T", "AA" + FILL * 3])
    second = exons[1][0]
    expected = [(6, 22), (second, second + 2)]
    plus, _ = both_strands(sequence, exons, expected, min_codons=5)
    assert coding(plus, sequence) == "ATG" + FILL * 4 + "TAA"


def test_the_longer_of_two_orfs_wins_and_ties_go_to_the_5_prime_one():
    short, long = "ATG" + FILL * 2 + "TAA", "ATG" + FILL * 5 + "TGA"
    sequence = FILL + short + FILL + long + FILL
    start = len(FILL + short + FILL)
    both_strands(sequence, [(0, len(sequence))], [(start, start + len(long))], min_codons=1)
    # Equal lengths in different frames: the 5'-most in transcript orientation wins, on
    # either strand (on "-" that is the one at the higher genome coordinate).
    tie = FILL + "ATG" + FILL * 3 + "TAA" + "G" + "ATG" + FILL * 3 + "TAG" + FILL
    exons = [(0, len(tie))]
    assert derive_cds(transcript(exons), tie, min_codons=1).cds == [(3, 18)]
    minus = derive_cds(
        transcript(mirror(exons, len(tie)), "-"), reverse_complement(tie), min_codons=1
    )
    assert minus.cds == mirror([(3, 18)], len(tie))


def test_no_orf_or_only_an_incomplete_one_gives_no_cds():
    for sequence in (
        FILL * 40,  # neither ATG nor stop
        FILL * 3 + "ATG" + FILL * 40,  # ATG that runs off the end without a stop
        FILL * 3 + "TAA" + FILL * 40,  # stop without ATG
    ):
        for strand, genome in (("+", sequence), ("-", reverse_complement(sequence))):
            before = transcript([(0, len(sequence))], strand)
            after = derive_cds(before, genome, min_codons=1)
            assert after is before and after.cds == [] and after.kind == "transcript"
    # An incomplete ORF longer than a complete one does not win: the complete one does.
    sequence = "ATG" + FILL + "TAA" + "ATG" + FILL * 30
    assert derive_cds(transcript([(0, len(sequence))]), sequence, min_codons=1).cds == [(0, 9)]


def test_only_transcripts_without_cds_that_may_code_are_changed():
    sequence = FILL + "ATG" + FILL * 4 + "TAA" + FILL
    exons = [(0, len(sequence))]
    assert derive_cds(transcript(exons, kind="mRNA"), sequence, min_codons=1).cds == [(3, 21)]
    for kind in ("lnc_RNA", "ncRNA", "miRNA", "pseudogenic_transcript"):
        annotated = transcript(exons, kind=kind)
        assert derive_cds(annotated, sequence, min_codons=1) is annotated
    own = transcript(exons, kind="mRNA", cds=[(3, 12)])
    assert derive_cds(own, sequence, min_codons=1) is own
    past_end = transcript([(0, len(sequence) + 5)])
    assert derive_cds(past_end, sequence, min_codons=1) is past_end


def test_derive_gene_cds_copies_only_changed_genes():
    sequence = FILL + "ATG" + FILL * 4 + "TAA" + FILL
    exons = [(0, len(sequence))]
    unknown = Gene("g1", "chr1", "+", [transcript(exons)])
    lnc = Gene("g2", "chr1", "+", [transcript(exons, kind="lnc_RNA")])
    assert derive_gene_cds([unknown, lnc], sequence, "none") == [unknown, lnc]
    derived, same = derive_gene_cds([unknown, lnc], sequence, min_codons=1)
    assert same is lnc and derived is not unknown
    assert derived.transcripts[0].cds == [(3, 21)] and unknown.transcripts[0].cds == []
    assert derived.so_type == "gene"
    with pytest.raises(ValueError, match="longest-orf"):
        derive_gene_cds([unknown], sequence, "shortest-orf")
    assert DERIVE_CDS_RULES == ("none", "longest-orf")


def test_derived_transcripts_write_valid_gff3_that_reads_back(tmp_path, gt_binary):
    split, split_exons = assemble([FILL * 2 + "ATG" + FILL * 4 + "T", "AA" + FILL * 3])
    junction, junction_exons = assemble([FILL * 3 + "ATGGC", "C" + FILL * 3 + "TAG" + FILL * 3])
    genome = split + FILL * 10 + reverse_complement(junction)
    offset = len(split) + 30
    minus_exons = [
        (offset + start, offset + end) for start, end in mirror(junction_exons, len(junction))
    ]
    genes = []
    for index, (exons, strand) in enumerate(((split_exons, "+"), (minus_exons, "-"))):
        before = Transcript(
            f"t{index}", "chr1", strand, exons, kind="transcript", gene_id=f"g{index}"
        )
        (gene,) = derive_gene_cds([Gene(f"g{index}", "chr1", strand, [before])], genome,
                                  min_codons=4)  # fmt: skip
        assert gene.transcripts[0].cds
        genes.append(gene)
    path = tmp_path / "derived.gff3"
    save_gff3(Annotation(genes, {"chr1": len(genome)}), path)
    assert_valid_gff3(gt_binary, path)
    read = {t.id: t for t in read_annotation(path).transcripts()}
    for gene in genes:
        derived = gene.transcripts[0]
        assert read[derived.id].cds == derived.cds and read[derived.id].kind == "mRNA"
        protein = str(Seq(coding(derived, genome)).translate())
        assert protein.startswith("M") and protein.endswith("*") and protein.count("*") == 1


# --- gene-model count --derive-cds, end to end ---------------------------------------------------


def coding_gene(seed: int, codons: int = 120) -> tuple[list[str], str]:
    """Exons (transcript orientation) of a spliced gene whose longest complete ORF is its CDS
    (C-run UTRs, ATG, random sense codons, TAA, cut into three exons), and that CDS."""
    rng = np.random.default_rng(seed)
    sense = [c for c in (a + b + d for a in "ACGT" for b in "ACGT" for d in "ACGT")]
    sense = [c for c in sense if c not in ("TAA", "TAG", "TGA")]
    body = "ATG" + "".join(rng.choice(sense, size=codons)) + "TAA"
    mrna = "C" * 60 + body + "C" * 90
    cut1, cut2 = 60 + 100, 60 + 250  # inside the CDS, not at codon boundaries
    return [mrna[:cut1], mrna[cut1:cut2], mrna[cut2:]], body


def build_genome(seed: int, strands: str) -> tuple[str, list[Transcript]]:
    """Random DNA with one three-exon coding gene per strand letter."""
    sequence, transcripts = random_dna(400, seed=seed), []
    for index, strand in enumerate(strands):
        pieces, body = coding_gene(seed * 10 + index)
        piece, exons = assemble(pieces)
        if strand == "-":
            exons = mirror(exons, len(piece))
            piece = reverse_complement(piece)
        offset = len(sequence)
        shifted = [(offset + start, offset + end) for start, end in exons]
        reference = Transcript(f"s{seed}t{index}", f"chr{seed}", strand, shifted,
                               gene_id=f"s{seed}g{index}")  # fmt: skip
        reference.cds = derive_cds(dataclasses.replace(reference, kind="transcript"),
                                   sequence + piece, min_codons=100).cds  # fmt: skip
        assert coding(reference, sequence + piece) == body  # the ORF it was built around
        transcripts.append(reference)
        sequence += piece + random_dna(500, seed=seed * 10 + index + 5)
    return sequence, transcripts


def write_fasta(path, name, sequence):
    path.write_text(
        f">{name}\n" + "".join(sequence[i : i + 80] + "\n" for i in range(0, len(sequence), 80))
    )


@pytest.fixture
def two_sources(tmp_path, gt_binary):
    """chr1 annotated with CDS (GTF, RefSeq-style: CDS rows without the stop codon, plus
    stop_codon rows); chr2 with exons only (GFF3 ``transcript``s, validated)."""
    seq1, coded = build_genome(1, "+-")
    seq2, hidden = build_genome(2, "-+")
    write_fasta(tmp_path / "a.fa", "chr1", seq1)
    write_fasta(tmp_path / "b.fa", "chr2", seq2)
    lines = []
    for t in coded:
        attributes = f'gene_id "{t.gene_id}"; transcript_id "{t.id}";'
        stop = t.cds[-1][1] - 3 if t.strand == "+" else t.cds[0][0]
        rows = [("exon", start, end) for start, end in t.exons]
        for start, end in t.cds:
            start, end = (start, min(end, stop)) if t.strand == "+" else (max(start, stop + 3), end)
            if end > start:
                rows.append(("CDS", start, end))
        rows.append(("stop_codon", stop, stop + 3))
        lines += [
            f"chr1\tt\t{f}\t{a + 1}\t{b}\t.\t{t.strand}\t.\t{attributes}\n" for f, a, b in rows
        ]
    (tmp_path / "a.gtf").write_text("".join(lines))
    exon_only = [
        Gene(t.gene_id, "chr2", t.strand, [dataclasses.replace(t, cds=[], kind="transcript")])
        for t in hidden
    ]
    save_gff3(Annotation(exon_only, {"chr2": len(seq2)}), tmp_path / "b.gff3")
    assert_valid_gff3(gt_binary, tmp_path / "b.gff3")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    return tmp_path, coded, hidden


def test_read_back_cds_matches_the_built_genes(two_sources):
    directory, coded, _ = two_sources
    read = {t.id: t for t in read_annotation(directory / "a.gtf").transcripts()}
    assert {i: t.cds for i, t in read.items()} == {t.id: t.cds for t in coded}
    exon_only = list(read_annotation(directory / "b.gff3").transcripts())
    assert all(t.kind == "transcript" and not t.cds for t in exon_only)


def test_gene_model_count_derives_cds_for_the_exon_only_annotation(two_sources, capsys, gt_binary):
    directory, _, hidden = two_sources
    model = directory / "model"
    common = ["gene-model", "count", "--genome", directory / "a.fa", "--annotation",
              directory / "a.gtf", "--genome", directory / "b.fa", "--annotation",
              directory / "b.gff3", "--model", model, "--order", 1]  # fmt: skip
    code, _, err = run_cli(capsys, *common)
    assert code == 0, err
    plain = json.loads((model / GENE_MODEL_FILE).read_text())
    code, _, err = run_cli(capsys, *common, "--derive-cds", "longest-orf")
    assert code == 0, err
    assert "2 of 2 counted loci without CDS took their longest ORF as CDS" in err
    derived = json.loads((model / GENE_MODEL_FILE).read_text())
    assert plain["genes"] == derived["genes"] == 4
    # coding loci / loci with add-one smoothing towards 0.8: 2 of 4 as read, 4 of 4 derived.
    assert plain["coding_fraction"] == pytest.approx((2 + 0.8) / 5)
    assert derived["coding_fraction"] == pytest.approx((4 + 0.8) / 5)

    # The same counts as the four genes annotated with their CDS: every part of the gene model
    # (lengths, codon model, site matrices) takes the derived CDS.
    annotated = [
        Gene(t.gene_id, "chr2", t.strand, [dataclasses.replace(t, kind="mRNA")]) for t in hidden
    ]
    lengths = read_annotation(directory / "b.gff3").sequence_lengths
    save_gff3(Annotation(annotated, lengths), directory / "b-cds.gff3")
    assert_valid_gff3(gt_binary, directory / "b-cds.gff3")
    first = (directory / "a.fa", directory / "a.gtf")
    truth = count_gene_model([first, (directory / "b.fa", directory / "b-cds.gff3")], order=1)
    sources = [first, (directory / "b.fa", directory / "b.gff3")]
    counts = count_gene_model(sources, order=1, derive_cds="longest-orf")
    assert counts.parameters == truth.parameters
    assert dataclasses.asdict(counts.parameters) == {
        k: v for k, v in derived.items() if k != "format"
    }
    for name in ("coding", "background"):
        np.testing.assert_array_equal(
            getattr(counts.codon_model, name), getattr(truth.codon_model, name)
        )
    for name in ("donor", "acceptor"):
        np.testing.assert_array_equal(
            getattr(counts.site_matrices, name), getattr(truth.site_matrices, name)
        )
    assert not np.array_equal(
        count_gene_model(sources, order=1).codon_model.coding, truth.codon_model.coding
    )
    with pytest.raises(ConfigError, match="--derive-cds"):
        count_gene_model(sources, derive_cds="shortest-orf")


def test_gene_model_count_bad_options_exit_2_with_one_line(two_sources, capsys):
    directory, _, _ = two_sources
    pair = ["--genome", directory / "a.fa", "--annotation", directory / "a.gtf"]
    model = ["--model", directory / "model"]
    code, _, err = run_cli(capsys, "gene-model", "count", *pair, *model, "--derive-cds", "bogus")
    assert code == 2
    assert_one_line_error(err, "--derive-cds", "bogus")
    code, _, err = run_cli(capsys, "gene-model", "count", *pair, "--genome", directory / "b.fa",
                           *model)  # fmt: skip
    assert code == 2
    assert_one_line_error(err, "--genome", "--annotation")
    code, _, err = run_cli(capsys, "train", "--genome", directory / "a.fa", "--annotation",
                           directory / "a.gtf", "--derive-cds", "bogus", "-o",
                           directory / "run")  # fmt: skip
    assert code == 2
    assert_one_line_error(err, "--derive-cds", "bogus")
    assert not (directory / "run").exists()
    with pytest.raises(ConfigError, match="--derive-cds"):
        TrainConfig(sources=[(directory / "a.fa", directory / "a.gtf")], derive_cds="bogus")


# --- training labels ---------------------------------------------------------------------------


def test_prepare_teaches_derived_cds_on_an_exon_only_annotation(two_sources):
    directory, _, hidden = two_sources
    sources = [GenomeSource(str(directory / "b.fa"), str(directory / "b.gff3"))]
    regions = [Region("chr2", 0, 600)]
    plain = prepare(directory / "plain", sources, val_regions=regions)
    assert plain.chromosomes[0].channels == [EXON, INTRON]
    data = prepare(directory / "derived", sources, val_regions=regions, derive_cds="longest-orf")
    assert data.chromosomes[0].channels == list(range(len(CLASSES)))
    labels = np.asarray(data.labels(0))
    for t in hidden:
        for start, end in t.cds:
            assert (labels[start:end] >> CDS & 1).all()
        for start, end in t.five_prime_utrs:
            assert (labels[start:end] >> FIVE_PRIME_UTR & 1).all()
        for start, end in t.three_prime_utrs:
            assert (labels[start:end] >> THREE_PRIME_UTR & 1).all()
    assert not (np.asarray(plain.labels(0)) >> CDS & 1).any()
    # Only a rule other than "none" enters the cache's fingerprint (old caches stay valid).
    assert "derive_cds" not in fingerprint(sources, [], regions)
    assert fingerprint(sources, [], regions, "longest-orf")["derive_cds"] == "longest-orf"
    with pytest.raises(ConfigError, match="--derive-cds"):
        prepare(directory / "bad", sources, val_regions=regions, derive_cds="bogus")
    assert not (directory / "bad").exists()
