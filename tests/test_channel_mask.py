"""Per-sample label channels: exon-only annotations teach and score only exon and intron."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import random_dna

from genatator.labels import CDS, CLASSES, EXON, INTRON
from genatator.model import GenatatorModel, UNetConfig, preset_config
from genatator.model.directory import bundled_tokenizer
from genatator.model.inputs import build_inputs
from genatator.regions import Region
from genatator.training.prepare import GenomeSource, prepare
from genatator.training.samples import SampleSource, collate
from genatator.training.track_metrics import IntervalCounts, TrackMetrics
from genatator.training.trainer import default_window

MAX_TOKENS = 510


@pytest.fixture(scope="module")
def tokenizer():
    return bundled_tokenizer()


# --- the loss --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_and_batch(tokenizer):
    torch.manual_seed(0)
    config = preset_config("tiny", vocab_size=tokenizer.vocab_size)
    config.unet = UNetConfig(chunk_size=64, cycles=1)
    model = GenatatorModel(config).eval()
    # Two windows of different lengths; the first has a long N run that no token covers.
    windows = [random_dna(60, seed=1) + "N" * 30 + random_dna(70, seed=2), random_dna(110, seed=3)]
    inputs = build_inputs(tokenizer, windows, max_tokens=MAX_TOKENS)
    generator = torch.Generator().manual_seed(1)
    labels = (torch.rand(2, 160, 5, generator=generator) < 0.4).float()
    label_mask = torch.zeros(2, 160, dtype=torch.bool)
    label_mask[0, :160] = True
    label_mask[1, :110] = True
    return model, inputs, labels, label_mask


def hand_loss(logits, labels, valid, channels) -> torch.Tensor:
    """Mean BCE over the (nucleotide, class) elements that are valid and in a sample's channels."""
    element = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    keep = valid.unsqueeze(-1) & channels.unsqueeze(1)
    return element[keep].mean()


def test_all_channels_mask_gives_the_unmasked_loss(model_and_batch):
    model, inputs, labels, label_mask = model_and_batch
    with torch.no_grad():
        plain = model(inputs, labels=labels, label_mask=label_mask)
        everything = model(
            inputs,
            labels=labels,
            label_mask=label_mask,
            channel_mask=torch.ones(2, 5, dtype=torch.bool),
        )
    assert abs(plain.loss.item() - everything.loss.item()) <= 1e-6
    covered = plain.mask & label_mask
    # The N run's bases but its last (the gap token) are uncovered and left out of the loss.
    assert not covered[0, 60:89].any() and covered[0].sum() == 131
    assert covered[1].sum() == 110
    expected = hand_loss(plain.logits, labels, covered, torch.ones(2, 5, dtype=torch.bool))
    assert abs(plain.loss.item() - expected.item()) <= 1e-6


def test_channel_mask_keeps_only_the_annotated_channels(model_and_batch):
    model, inputs, labels, label_mask = model_and_batch
    exon_intron = torch.zeros(2, 5, dtype=torch.bool)
    exon_intron[:, [EXON, INTRON]] = True
    with torch.no_grad():
        plain = model(inputs, labels=labels, label_mask=label_mask)
        masked = model(inputs, labels=labels, label_mask=label_mask, channel_mask=exon_intron)
    covered = masked.mask & label_mask
    torch.testing.assert_close(masked.logits, plain.logits, rtol=0, atol=0)
    expected = hand_loss(masked.logits, labels, covered, exon_intron)
    assert abs(masked.loss.item() - expected.item()) <= 1e-6
    assert abs(masked.loss.item() - plain.loss.item()) > 1e-4  # the mask did change the loss

    # Per-sample masks: the first window teaches every class, the second exon and intron only.
    mixed = exon_intron.clone()
    mixed[0] = True
    with torch.no_grad():
        out = model(inputs, labels=labels, label_mask=label_mask, channel_mask=mixed)
    expected = hand_loss(out.logits, labels, covered, mixed)
    assert abs(out.loss.item() - expected.item()) <= 1e-6


# --- validation metrics ----------------------------------------------------------------------


def sample(exon, cds, exon_labels, cds_labels) -> tuple[np.ndarray, np.ndarray]:
    """(L, 5) probabilities and labels with only the exon and CDS channels set."""
    probabilities = np.zeros((len(exon), 5))
    labels = np.zeros((len(exon), 5), dtype=np.int64)
    probabilities[:, EXON], probabilities[:, CDS] = exon, cds
    labels[:, EXON], labels[:, CDS] = exon_labels, cds_labels
    return probabilities, labels


def test_track_metrics_leave_undefined_channels_out():
    metrics = TrackMetrics(CLASSES, exon_channel=EXON, cds_channel=CDS)
    # Sample 1, every channel defined. Exon: reference [0,2), predicted [0,2): tp 1.
    # CDS: reference [0,1), predicted [0,1) and [3,4): tp 1, fp 1.
    first = sample([0.9, 0.8, 0.1, 0.2], [0.7, 0.2, 0.1, 0.6], [1, 1, 0, 0], [1, 0, 0, 0])
    metrics.update(*first, np.ones(4, bool))
    assert (metrics.exon, metrics.cds) == (IntervalCounts(tp=1), IntervalCounts(tp=1, fp=1))

    # Sample 2 from an exon-only annotation: its CDS channel (here nonsense) must not count.
    # Exon: reference [1,4), predicted [1,3): fp 1, fn 1.
    second = sample([0.35, 0.9, 0.9, 0.3], [0.95, 0.95, 0.0, 0.0], [0, 1, 1, 1], [0, 0, 1, 1])
    channels = np.zeros(5, dtype=bool)
    channels[[EXON, INTRON]] = True
    metrics.update(*second, np.ones(4, bool), channels=channels)
    assert metrics.exon == IntervalCounts(tp=1, fp=1, fn=1)
    assert metrics.cds == IntervalCounts(tp=1, fp=1)

    result = metrics.compute()
    # CDS PR-AUC over sample 1 only: the one positive (0.7) ranks first: 1.0.
    assert result["pr_auc_CDS"] == 1.0
    # Exon over all 8 positions, descending: 0.9 x3 (+) P 1 R 3/5; 0.8 (+) P 1 R 4/5;
    # 0.35 (-) dR 0; 0.3 (+) P 5/6 R 1; the rest dR 0. AP = 4/5 + 1/5 * 5/6 = 29/30.
    assert result["pr_auc_exon"] == pytest.approx(29 / 30, abs=1e-12)
    assert np.isnan(result["pr_auc_five_prime_UTR"]) and np.isnan(result["pr_auc_intron"])
    assert result["pr_auc_mean"] == pytest.approx((29 / 30 + 1.0) / 2, abs=1e-12)
    assert result["cds_precision"] == 0.5 and result["cds_recall"] == 1.0

    # The same sample without channels: its CDS runs count (fp [0,2), fn [2,4)) and its two
    # 0.95 negatives outrank the positive.
    unmasked = TrackMetrics(CLASSES, exon_channel=EXON, cds_channel=CDS)
    unmasked.update(*first, np.ones(4, bool))
    unmasked.update(*second, np.ones(4, bool))
    assert unmasked.cds == IntervalCounts(tp=1, fp=2, fn=1)
    assert unmasked.compute()["pr_auc_CDS"] < 1.0


def test_track_metrics_reject_wrong_shaped_channels():
    metrics = TrackMetrics(CLASSES, exon_channel=EXON, cds_channel=CDS)
    probabilities, labels = sample([0.9], [0.9], [1], [1])
    for bad in (np.ones(4, bool), np.ones((1, 5), bool), np.ones(6, bool)):
        with pytest.raises(ValueError, match="channels"):
            metrics.update(probabilities, labels, np.ones(1, bool), channels=bad)
    assert metrics.exon == IntervalCounts() and metrics.cds == IntervalCounts()


# --- preparation, samples and batches ----------------------------------------------------------


def write_genome(directory, name, sequence, rows):
    directory.mkdir(parents=True, exist_ok=True)
    fasta, gtf = directory / f"{name}.fa", directory / f"{name}.gtf"
    fasta.write_text(
        f">{name}\n" + "".join(sequence[i : i + 80] + "\n" for i in range(0, len(sequence), 80))
    )
    gtf.write_text("".join(f"{name}\tt\t{row}\n" for row in rows))
    return GenomeSource(str(fasta), str(gtf))


def gtf_row(feature, start, end, strand, transcript):
    frame = "0" if feature == "CDS" else "."
    attributes = f'gene_id "g{transcript}"; transcript_id "{transcript}";'
    return f"{feature}\t{start}\t{end}\t.\t{strand}\t{frame}\t{attributes}"


@pytest.fixture
def two_genomes(tmp_path):
    """chrA annotated with exons only; chrB with exons and CDS."""
    exon_only = write_genome(
        tmp_path / "a",
        "chrA",
        random_dna(3000, seed=11),
        [
            gtf_row("exon", 101, 300, "+", "tA"),
            gtf_row("exon", 501, 700, "+", "tA"),
            gtf_row("exon", 1801, 2000, "-", "tA2"),
            gtf_row("exon", 2201, 2500, "-", "tA2"),
        ],
    )
    coding = write_genome(
        tmp_path / "b",
        "chrB",
        random_dna(3000, seed=12),
        [
            gtf_row("exon", 101, 300, "+", "tB"),
            gtf_row("exon", 501, 700, "+", "tB"),
            gtf_row("CDS", 151, 300, "+", "tB"),
            gtf_row("CDS", 501, 650, "+", "tB"),
        ],
    )
    return exon_only, coding


def test_prepare_records_the_channels_each_annotation_defines(tmp_path, two_genomes, tokenizer):
    regions = [Region("chrA", 1500, 3000)]
    data = prepare(tmp_path / "cache", list(two_genomes), val_regions=regions)
    assert [(c.seqid, c.channels) for c in data.chromosomes] == [
        ("chrA", [EXON, INTRON]),
        ("chrB", [0, 1, 2, 3, 4]),
    ]
    # The manifest keeps them when the cache is reused.
    again = prepare(tmp_path / "cache", list(two_genomes), val_regions=regions)
    assert [c.channels for c in again.chromosomes] == [[EXON, INTRON], [0, 1, 2, 3, 4]]

    expected = {
        0: np.array([False, True, True, False, False]),
        1: np.ones(5, dtype=bool),
    }
    source = SampleSource(data, window=1000, transcript_fraction=1.0, seed=0)
    samples = [source.sample(i) for i in range(2)]  # one epoch: tA and tB, in some order
    assert sorted(s.chromosome for s in samples) == [0, 1]
    for s in samples:
        assert s.channels.dtype == bool
        np.testing.assert_array_equal(s.channels, expected[s.chromosome])
    windows = SampleSource(data, window=1000, transcript_fraction=0.0, seed=3)
    for index in range(6):
        s = windows.sample(index)
        np.testing.assert_array_equal(s.channels, expected[s.chromosome])
    validation = source.validation_samples(4)
    assert validation and all(s.chromosome == 0 for s in validation)
    assert all((s.channels == expected[0]).all() for s in validation)

    batch = collate(tokenizer, samples, max_tokens=MAX_TOKENS)
    assert batch.channel_mask.shape == (2, 5) and batch.channel_mask.dtype == torch.bool
    for row, s in enumerate(samples):
        assert batch.channel_mask[row].tolist() == expected[s.chromosome].tolist()
    assert batch.to("cpu").channel_mask.tolist() == batch.channel_mask.tolist()


def test_an_annotation_with_cds_defines_every_channel(tmp_path, two_genomes):
    _, coding = two_genomes
    data = prepare(tmp_path / "cache", [coding], val_regions=[Region("chrB", 2000, 3000)])
    assert [c.channels for c in data.chromosomes] == [[0, 1, 2, 3, 4]]
    s = SampleSource(data, window=500, transcript_fraction=1.0).sample(0)
    assert s.channels.tolist() == [True] * 5


# --- the default window ----------------------------------------------------------------------


def test_default_window_skips_a_leading_n_run(tmp_path, tokenizer):
    acgt = random_dna(99_000, seed=21)
    source = write_genome(
        tmp_path / "n",
        "chrN",
        "N" * 300_000 + acgt,
        [
            gtf_row("exon", 310_001, 310_500, "+", "t1"),
            gtf_row("exon", 311_001, 311_500, "+", "t1"),
        ],
    )
    data = prepare(tmp_path / "cache", [source], val_regions=[Region("chrN", 390_000, 399_000)])
    window = default_window(data, tokenizer, MAX_TOKENS)
    # Measured on all the training ACGT, N runs left out: bases [300000, 390000).
    measured = acgt[:90_000]
    per_token = len(measured) / len(tokenizer.encode(measured).ids)
    assert window == int(MAX_TOKENS * per_token * 0.95)
    assert 1_000 < window < 10_000
