"""Tests for genatator.annotation.merge and the exon scores the reader keeps for lossless merges."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from helpers import assert_valid_gff3

from genatator.annotation import Annotation, Gene, Transcript, read_annotation, save_gff3
from genatator.annotation import write_gff3 as _write_gff3
from genatator.annotation.merge import merge_annotations
from genatator.errors import GenatatorWarning, InputError


def _tx(tx_id: str, gene: Gene, exons, cds=(), **kwargs) -> Transcript:
    transcript = Transcript(
        tx_id, gene.seqid, gene.strand, list(exons), list(cds), gene_id=gene.id, **kwargs
    )
    gene.transcripts.append(transcript)
    return transcript


def _genes(seqid: str, prefix: str, offset: int = 0) -> list[Gene]:
    """Genes with what genatator writes: scores, exon scores, attributes, both strands, kinds."""
    coding = Gene(f"{prefix}g1", seqid, "+", attributes={"Name": "alpha;1"})
    a, b = offset, offset
    _tx(f"{prefix}t1", coding, [(a + 99, b + 300), (a + 399, b + 600), (a + 699, b + 900)],
        [(a + 149, b + 300), (a + 399, b + 600), (a + 699, b + 852)], score=0.87654321,
        exon_scores=[0.9, 0.812345678, 1.0], attributes={"note": "x=y"})  # fmt: skip
    _tx(f"{prefix}t2", coding, [(a + 99, b + 300), (a + 699, b + 900)],
        [(a + 149, b + 300), (a + 699, b + 852)], score=0.5, exon_scores=[0.25, 0.125])  # fmt: skip
    noncoding = Gene(f"{prefix}g2", seqid, "-")
    _tx(f"{prefix}t3", noncoding, [(a + 1999, b + 2100), (a + 2199, b + 2500)], kind="lnc_RNA",
        score=0.3, exon_scores=[0.3, 0.31])  # fmt: skip
    unscored = Gene(f"{prefix}g3", seqid, "+")
    _tx(f"{prefix}t4", unscored, [(a + 2999, b + 3300)], [(a + 3009, b + 3291)])
    return [coding, noncoding, unscored]


def _text(annotation: Annotation) -> str:
    handle = io.StringIO()
    _write_gff3(annotation, handle)
    return handle.getvalue()


def _save_without_regions(genes: list[Gene], path: Path) -> None:
    """A GFF3 without ``##sequence-region`` lines, as another tool may write."""
    with path.open("w") as handle:
        _write_gff3(genes, handle, sequence_regions=False)


# --- the reader keeps exon scores ----------------------------------------------------------------


def test_reader_keeps_exon_scores_only_when_every_exon_has_one(tmp_path):
    path = tmp_path / "scores.gff3"
    path.write_text(
        "##gff-version 3\n"
        "c\ts\tgene\t1\t100\t.\t-\t.\tID=g\n"
        "c\ts\tmRNA\t1\t100\t.\t-\t.\tID=all;Parent=g\n"
        "c\ts\texon\t61\t100\t0.5\t-\t.\tParent=all\n"
        "c\ts\texon\t1\t20\t1e-3\t-\t.\tParent=all\n"
        "c\ts\tmRNA\t1\t100\t.\t-\t.\tID=some;Parent=g\n"
        "c\ts\texon\t1\t20\t0.5\t-\t.\tParent=some\n"
        "c\ts\texon\t61\t100\t.\t-\t.\tParent=some\n"
        "c\ts\tmRNA\t1\t100\t.\t-\t.\tID=touching;Parent=g\n"  # two rows, one merged exon
        "c\ts\texon\t1\t50\t0.5\t-\t.\tParent=touching\n"
        "c\ts\texon\t51\t100\t0.5\t-\t.\tParent=touching\n"
        "c\ts\tmRNA\t1\t100\t.\t-\t.\tID=text;Parent=g\n"
        "c\ts\texon\t1\t100\thigh\t-\t.\tParent=text\n"
        "c\ts\tmRNA\t1\t100\t.\t-\t.\tID=cds_only;Parent=g\n"  # exons derived from the CDS
        "c\ts\tCDS\t1\t99\t0.5\t-\t0\tParent=cds_only\n"
    )
    by_id = {t.id: t for t in read_annotation(path).transcripts()}
    assert by_id["all"].exon_scores == [0.001, 0.5]  # in exon (genomic) order
    for name in ("some", "touching", "text", "cds_only"):
        assert by_id[name].exon_scores == [], name


def test_reader_keeps_gtf_exon_scores(tmp_path):
    path = tmp_path / "scores.gtf"
    path.write_text(
        'c\ts\texon\t1\t10\t0.25\t+\t.\tgene_id "g"; transcript_id "t";\n'
        'c\ts\texon\t21\t30\t0.75\t+\t.\tgene_id "g"; transcript_id "t";\n'
    )
    assert next(read_annotation(path).transcripts()).exon_scores == [0.25, 0.75]


def test_reader_then_writer_reproduces_a_genatator_file(tmp_path):
    annotation = Annotation(_genes("chr1", "") + _genes("chr2", "b"), {"chr1": 4000, "chr2": 5000})
    path = tmp_path / "all.gff3"
    save_gff3(annotation, path)
    assert "\t0.812346\t" in path.read_text()  # an exon score, as %.6g
    assert _text(read_annotation(path)) == path.read_text()


# --- merging ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "all_regions"),
    [
        ([("chr1", "chr2"), ("chr3", "chrU")], False),  # consecutive sequences per shard
        # Round robin (annotate --shard): genome order survives when every shard lists every
        # sequence's ##sequence-region, whatever order the files are given in.
        ([("chr2", "chrU"), ("chr1", "chr3")], True),
    ],
)
def test_merged_shards_equal_one_run(tmp_path, split, all_regions):
    lengths = {"chr1": 4000, "chr2": 9000, "chr3": 4000, "chrU": 300}
    by_sequence = {
        "chr1": _genes("chr1", "a"),
        "chr2": _genes("chr2", "b") + _genes("chr2", "c", offset=4000),
        "chr3": _genes("chr3", "d"),
        "chrU": [],  # no genes: only its ##sequence-region
    }
    shards = []
    for index, seqids in enumerate(split):
        shard = tmp_path / f"shard{index}.gff3"
        genes = [gene for seqid in seqids for gene in by_sequence[seqid]]
        regions = lengths if all_regions else {seqid: lengths[seqid] for seqid in seqids}
        save_gff3(genes, shard, sequence_lengths=regions)
        shards.append(shard)
    union = Annotation([g for genes in by_sequence.values() for g in genes], dict(lengths))
    merged = merge_annotations(shards)
    assert list(merged.sequence_lengths.items()) == list(lengths.items())
    assert _text(merged) == _text(union)


def test_single_file_round_trips_byte_for_byte(tmp_path):
    path = tmp_path / "one.gff3"
    save_gff3(Annotation(_genes("chr1", "") + _genes("chrM", "m"), {"chr1": 4000}), path)
    merged = merge_annotations([path])
    output = tmp_path / "merged.gff3"
    save_gff3(merged, output)
    assert output.read_bytes() == path.read_bytes()


def test_sequence_order_is_first_appearance(tmp_path):
    first, second = tmp_path / "1.gff3", tmp_path / "2.gff3"
    save_gff3(_genes("z", "z"), first, sequence_lengths={"z": 4000, "y": 5000})
    _save_without_regions(_genes("a", "a") + _genes("y", "y"), second)
    merged = merge_annotations([first, second])
    assert list(merged.sequence_lengths) == ["z", "y", "a"]
    assert merged.sequence_lengths["y"] == 5000  # given by the first file
    assert merged.sequence_lengths["a"] == 3300  # its last gene's end, as the writer writes


def test_duplicate_ids_are_renamed_and_validate(tmp_path, gt_binary):
    paths = [tmp_path / f"{n}.gff3" for n in range(3)]
    save_gff3(_genes("chrA", ""), paths[0], sequence_lengths={"chrA": 4000})
    save_gff3(_genes("chrB", ""), paths[1], sequence_lengths={"chrB": 4000})
    # The third file owns "g2_2" (with transcripts of its own), so that suffix is skipped.
    third = _genes("chrC", "")
    third[0].id = "g2_2"
    for transcript, new_id in zip(third[0].transcripts, ["u1", "u2"]):
        transcript.id, transcript.gene_id = new_id, "g2_2"
    save_gff3(third, paths[2], sequence_lengths={"chrC": 4000})
    with pytest.warns(GenatatorWarning, match="renamed 5 genes") as caught:
        merged = merge_annotations(paths)
    assert len(caught) == 1
    ids: dict[str, list] = {}
    for gene in merged.genes:
        ids.setdefault(gene.seqid, []).append((gene.id, [t.id for t in gene.transcripts]))
    assert ids["chrA"] == [("g1", ["t1", "t2"]), ("g2", ["t3"]), ("g3", ["t4"])]
    assert ids["chrB"] == [("g1_2", ["t1_2", "t2_2"]), ("g2_3", ["t3_3"]), ("g3_2", ["t4_2"])]
    assert ids["chrC"] == [("g2_2", ["u1", "u2"]), ("g2_4", ["t3_4"]), ("g3_3", ["t4_3"])]
    assert all(t.gene_id == g.id for g in merged.genes for t in g.transcripts)
    assert merged.warnings == [str(caught[0].message)]
    output = tmp_path / "merged.gff3"
    save_gff3(merged, output)
    assert_valid_gff3(gt_binary, output)
    assert len(read_annotation(output).genes) == 9


def test_conflicting_lengths_name_both_files(tmp_path):
    first, second = tmp_path / "first.gff3", tmp_path / "second.gff3"
    save_gff3([], first, sequence_lengths={"chr1": 4000})
    save_gff3([], second, sequence_lengths={"chr1": 4001})
    with pytest.raises(InputError, match="length 4001 here but 4000") as error:
        merge_annotations([first, second])
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_gene_past_a_length_from_another_file(tmp_path):
    first, second = tmp_path / "first.gff3", tmp_path / "second.gff3"
    save_gff3([], first, sequence_lengths={"chr1": 1000})
    _save_without_regions(_genes("chr1", ""), second)
    with pytest.raises(InputError, match="past the length 1000") as error:
        merge_annotations([first, second])
    assert str(first) in str(error.value) and str(second) in str(error.value)


def test_empty_input_merges(tmp_path):
    empty, full = tmp_path / "empty.gff3", tmp_path / "full.gff3"
    empty.write_text("##gff-version 3\n")
    save_gff3(_genes("chr1", ""), full, sequence_lengths={"chr1": 4000})
    assert _text(merge_annotations([empty])) == "##gff-version 3\n"
    assert _text(merge_annotations([empty, full, empty])) == full.read_text()
