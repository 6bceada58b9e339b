"""Training data: preparation cache, validation split, the sample stream and collation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import synthetic_genes, write_synthetic_genome

from genatator.errors import ConfigError, InputError
from genatator.genome import read_fasta, reverse_complement
from genatator.labels import CLASSES, FIVE_PRIME_UTR, THREE_PRIME_UTR, gene_label_track, label_track
from genatator.postprocess.dinucleotides import SpliceTable
from genatator.regions import Region, parse_regions
from genatator.training.prepare import TRAIN, VAL, GenomeSource, prepare
from genatator.training.samples import TRANSCRIPT, WINDOW, SampleSource, collate

LENGTHS = {"chrA": 24_000, "chrB": 12_000}


@pytest.fixture
def genome(tmp_path):
    fasta, gff = write_synthetic_genome(tmp_path / "in", LENGTHS, genes_per_sequence=4, seed=3)
    return GenomeSource(str(fasta), str(gff))


def test_parse_regions_reads_one_based_closed_coordinates():
    assert parse_regions("chrA:1-100, chrB:5-5") == [Region("chrA", 0, 100), Region("chrB", 4, 5)]
    assert parse_regions("HLA-A*01:01:11-20") == [Region("HLA-A*01:01", 10, 20)]
    assert str(Region("chrA", 0, 100)) == "chrA:1-100"
    for bad in ("chrA", "chrA:0-5", "chrA:9-5", ":1-5", "chrA:1_5", ""):
        with pytest.raises(ConfigError):
            parse_regions(bad)


def test_prepare_caches_sequences_labels_and_splits(tmp_path, genome):
    data = prepare(tmp_path / "cache", [genome], val_regions=[Region("chrA", 18_000, 24_000)])
    assert [(c.seqid, c.length) for c in data.chromosomes] == [("chrA", 24_000), ("chrB", 12_000)]
    chr_a = data.chromosomes[0]
    assert chr_a.intervals == {TRAIN: [[0, 18_000]], VAL: [[18_000, 24_000]]}
    assert data.chromosomes[1].intervals == {TRAIN: [[0, 12_000]], VAL: []}

    genes = synthetic_genes(LENGTHS, genes_per_sequence=4, seed=3)
    unpacked = (np.asarray(data.labels(0))[:, None] >> np.arange(5)) & 1
    np.testing.assert_array_equal(unpacked, gene_label_track(genes, 0, 24_000, seqid="chrA"))
    chr_b = next(r for r in read_fasta(genome.genome) if r.name == "chrB").sequence
    assert data.sequence(1).tobytes().decode() == chr_b

    # Anchored transcripts: wholly inside one split, each with its own labels.
    tables = {split: data.transcripts[split] for split in (TRAIN, VAL)}
    assert len(tables[TRAIN]) + len(tables[VAL]) <= len(genes)
    for split, table in tables.items():
        for chromosome, start, end, offset in table:
            spans = data.chromosomes[chromosome].intervals[split]
            assert any(lo <= start and end <= hi for lo, hi in spans)
            transcript = next(g.transcripts[0] for g in genes if g.start == start)
            own = data.transcript_labels(chromosome)[offset : offset + end - start]
            expected = label_track([transcript], start, end)
            np.testing.assert_array_equal((own[:, None] >> np.arange(5)) & 1, expected)
    assert len(tables[VAL]) >= 1

    # The splice-site table counts the introns of the transcripts wholly in training bases.
    trained = [t for g in genes for t in g.transcripts if g.seqid == "chrB" or t.end <= 18_000]
    sequences = {r.name: r.sequence for r in read_fasta(genome.genome)}
    expected = SpliceTable.empty()
    for transcript in trained:
        expected.add_transcript(transcript, sequences[transcript.seqid])
    introns = sum(len(t.introns) for t in trained)
    assert introns > 0 and len(trained) < len(genes)
    assert sum(data.splice_table.donor.values()) == introns
    assert sum(data.splice_table.acceptor.values()) == introns
    assert data.splice_table.to_dict() == expected.to_dict()


def test_prepare_reuses_the_cache_until_an_input_changes(tmp_path, genome):
    first = prepare(tmp_path / "cache", [genome], val_regions=[Region("chrB", 0, 4000)])
    stamp = os.stat(first.directory / "manifest.json").st_mtime_ns
    prepare(tmp_path / "cache", [genome], val_regions=[Region("chrB", 0, 4000)])
    assert os.stat(first.directory / "manifest.json").st_mtime_ns == stamp
    again = prepare(tmp_path / "cache", [genome], val_regions=[Region("chrB", 0, 5000)])
    assert again.chromosomes[1].intervals[VAL] == [[0, 5000]]


def test_prepare_rejects_bad_inputs_before_writing_a_cache(tmp_path, genome):
    cache = tmp_path / "cache"
    fasta = tmp_path / "only_a.fa"
    fasta.write_text(Path(genome.genome).read_text().split(">chrB")[0])
    with pytest.raises(InputError, match=r"annotates sequence 'chrB', which .*only_a.fa does not"):
        prepare(cache, [GenomeSource(str(fasta), genome.annotation)], val_regions=[])
    empty = tmp_path / "empty.gff3"
    empty.write_text("##gff-version 3\n")
    with pytest.raises(InputError, match=r"empty\.gff3: no transcripts found"):
        prepare(cache, [GenomeSource(genome.genome, str(empty))])
    with pytest.raises(ConfigError, match=r"no training sequence .* named 'chrZ'"):
        prepare(cache, [genome], val_regions=[Region("chrZ", 0, 10)])
    with pytest.raises(ConfigError, match="past the end of chrB"):
        prepare(cache, [genome], val_regions=[Region("chrB", 0, 12_001)])
    with pytest.raises(ConfigError, match="no validation data"):
        prepare(cache, [genome])
    with pytest.raises(InputError, match="identical to training sequence chrA"):
        prepare(cache, [genome], val_sources=[genome])
    assert not cache.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cache")]


def test_a_separate_validation_genome_is_held_out_whole(tmp_path, genome):
    other = write_synthetic_genome(tmp_path / "val", {"chrV": 9000}, genes_per_sequence=2, seed=9)
    data = prepare(tmp_path / "cache", [genome], val_sources=[GenomeSource(*map(str, other))])
    assert data.chromosomes[-1].seqid == "chrV"
    assert data.chromosomes[-1].intervals == {TRAIN: [], VAL: [[0, 9000]]}
    assert len(data.transcripts[VAL]) == 2


@pytest.fixture
def data(tmp_path, genome):
    return prepare(tmp_path / "cache", [genome], val_regions=[Region("chrA", 18_000, 24_000)])


def test_samples_are_a_pure_function_of_seed_and_index(data):
    source = SampleSource(data, window=3000, transcript_fraction=0.5, rc_probability=0.5, seed=7)
    forward = [source.sample(i) for i in range(40)]
    backward = [source.sample(i) for i in reversed(range(40))][::-1]
    for a, b in zip(forward, backward):
        assert (a.sequence, a.kind, a.start, a.reverse) == (b.sequence, b.kind, b.start, b.reverse)
        np.testing.assert_array_equal(a.labels, b.labels)
    kinds = {s.kind for s in forward}
    assert kinds == {WINDOW, TRANSCRIPT} and {s.reverse for s in forward} == {True, False}
    other_seed = SampleSource(data, window=3000, seed=8)
    assert [s.start for s in forward] != [other_seed.sample(i).start for i in range(40)]


def test_training_samples_never_touch_validation_bases(data):
    source = SampleSource(data, window=3000, transcript_fraction=0.3, seed=1)
    for index in range(300):
        sample = source.sample(index)
        if data.chromosomes[sample.chromosome].seqid == "chrA":
            assert sample.start + len(sample.sequence) <= 18_000
        codes = data.sequence(sample.chromosome)[sample.start : sample.start + len(sample.sequence)]
        assert sample.sequence == codes.tobytes().decode()
        if sample.kind == WINDOW:
            assert len(sample.sequence) == 3000
            expected = (
                data.labels(sample.chromosome)[sample.start :][:3000, None] >> np.arange(5)
            ) & 1
            np.testing.assert_array_equal(sample.labels, expected)


def test_each_epoch_anchors_every_training_transcript_once(data):
    source = SampleSource(data, window=100_000, transcript_fraction=1.0, seed=2)
    n = len(data.transcripts[TRAIN])
    starts = [source.sample(i).start for i in range(2 * n)]
    table_starts = sorted(int(s) for s in data.transcripts[TRAIN][:, 1])
    assert sorted(starts[:n]) == table_starts == sorted(starts[n:])
    assert starts[:n] != starts[n:]  # epochs are shuffled differently
    # Anchored samples span the transcript (cropped to the window) from its first base.
    sample = source.sample(0)
    _, start, end, _ = next(r for r in data.transcripts[TRAIN] if r[1] == sample.start)
    assert len(sample.sequence) == end - start
    assert sample.labels[0, 1] == 1 and sample.labels[-1, 1] == 1  # exon at both ends
    cropped = SampleSource(data, window=200, transcript_fraction=1.0, seed=2).sample(0)
    assert cropped.start == sample.start and len(cropped.sequence) == 200


def test_reverse_complement_augmentation_keeps_utr_sides_right(data):
    plain = SampleSource(data, window=100_000, transcript_fraction=1.0, seed=5)
    flipped = SampleSource(
        data, window=100_000, transcript_fraction=1.0, rc_probability=1.0, seed=5
    )
    for index in range(6):
        a, b = plain.sample(index), flipped.sample(index)
        assert b.reverse and b.sequence == reverse_complement(a.sequence)
        np.testing.assert_array_equal(b.labels, a.labels[::-1])
        # A + strand gene's 5'UTR is at its left end; after reverse complement the gene lies on
        # the - strand, so the same UTR (still labelled 5'UTR) is at the right end.
        utr5 = np.flatnonzero(a.labels[:, FIVE_PRIME_UTR])
        utr3 = np.flatnonzero(a.labels[:, THREE_PRIME_UTR])
        rc5 = np.flatnonzero(b.labels[:, FIVE_PRIME_UTR])
        assert (utr5 < utr3.min()).all() != (
            rc5 < np.flatnonzero(b.labels[:, THREE_PRIME_UTR]).min()
        ).all()


def test_curriculum_crop_and_window_errors(data):
    source = SampleSource(data, window=3000, transcript_fraction=0.0, seed=3)
    assert len(source.sample(5, window=1000).sequence) == 1000
    assert source.sample(5, window=1000).start == source.sample(5).start
    with pytest.raises(ConfigError, match="longer than every training sequence part"):
        SampleSource(data, window=20_000, transcript_fraction=0.5)
    SampleSource(data, window=20_000, transcript_fraction=1.0)  # anchored samples only: fine


def test_validation_samples_are_fixed_and_held_out(data):
    source = SampleSource(data, window=1500, transcript_fraction=0.5, seed=3)
    samples = source.validation_samples(8)
    # All there is: the one held-out transcript and four 1500-nt tiles of chrA:18001-24000.
    assert sorted((s.kind, s.start) for s in samples) == [
        (TRANSCRIPT, 18_732),
        *[(WINDOW, 18_000 + 1500 * i) for i in range(4)],
    ]
    assert [s.start for s in samples] == [s.start for s in source.validation_samples(8)]
    assert [s.kind for s in source.validation_samples(3)] == [TRANSCRIPT, WINDOW, WINDOW]
    assert {s.kind for s in samples} == {WINDOW, TRANSCRIPT}
    for sample in samples:
        assert data.chromosomes[sample.chromosome].seqid == "chrA" and sample.start >= 18_000


def test_collate_pads_labels_and_masks_padding(data, small_tokenizer):
    source = SampleSource(data, window=800, transcript_fraction=0.0, seed=0)
    samples = [source.sample(0), source.sample(1, window=500)]
    batch = collate(small_tokenizer, samples, max_tokens=4000)
    assert batch.labels.shape == (2, 800, len(CLASSES))
    assert batch.label_mask.sum(dim=1).tolist() == [800, 500]
    assert batch.nucleotides == 1300
    assert batch.labels[1, 500:].abs().sum() == 0
    np.testing.assert_array_equal(batch.labels[1, :500].numpy(), samples[1].labels)
