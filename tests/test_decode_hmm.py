"""Known-answer decoding with the gene-structure HMM: genes planted in random DNA, clear tracks.

Each case builds a sequence from a seeded random background with a gene planted at exact
coordinates, and a network track that says what every base is (0.95 for the planted label's
channels, 0.05 elsewhere). The decoder must return exactly the planted structure, on ``+`` and,
for the reverse complement of the same sequence, mirrored on ``-``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genatator.annotation.models import CODING_KIND, LNC_KIND, Span, Transcript
from genatator.decode.hmm import HmmDecoder, SegmentInputs
from genatator.decode.kernel import viterbi
from genatator.decode.options import HmmOptions, HmmWeights
from genatator.decode.parameters import GeneModelParameters
from genatator.decode.topology import INTRON
from genatator.genome import reverse_complement
from genatator.postprocess.cds import coding_sequence, protein
from genatator.postprocess.dinucleotides import SpliceTable

PARAMETERS = dataclasses.replace(
    GeneModelParameters(),
    min_intron_length=40,
    short_intron_length=80,
    intergenic_length=2000,
    cds_piece_length=150,
)
#: GT-AG introns, and GC donors at 1%: enough to be allowed (>= 3 and >= 2e-4 of all).
TABLE = SpliceTable(donor={"GT": 990, "GC": 10}, acceptor={"AG": 1000})
STRONG = HmmOptions(weights=HmmWeights(gene=2.0, exon=2.0, cds=2.0, utr=2.0))
WEAK = HmmOptions(weights=HmmWeights(gene=0.3, exon=0.3, cds=0.3, utr=0.3))

STOPS = ("TAA", "TAG", "TGA")
CHANNELS = ("five_prime_UTR", "exon", "intron", "three_prime_UTR", "CDS")
#: Channels at 0.95 for each planted label (the others at 0.05).
HIGH = {
    "intergenic": (),
    "utr5": ("five_prime_UTR", "exon"),
    "cds": ("exon", "CDS"),
    "utr3": ("three_prime_UTR", "exon"),
    "exon": ("exon",),  # a non-coding exon
    "intron": ("intron",),
}


@dataclasses.dataclass(frozen=True)
class Planted:
    """A sequence, its track and the + or - transcript planted in it."""

    sequence: str
    track: np.ndarray
    strand: str
    exons: list[Span]
    cds: list[Span]

    def mirrored(self) -> Planted:
        """The reverse complement: the same gene on the other strand."""
        n = len(self.sequence)

        def flip(spans: list[Span]) -> list[Span]:
            return sorted((n - end, n - start) for start, end in spans)

        return Planted(
            reverse_complement(self.sequence),
            self.track[::-1].copy(),
            "-" if self.strand == "+" else "+",
            flip(self.exons),
            flip(self.cds),
        )


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def _orf(rng: np.random.Generator, codons: int) -> str:
    """ATG, ``codons - 2`` random sense codons, TAA."""
    sense = [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT" if a + b + c not in STOPS]
    middle = "".join(rng.choice(sense, size=codons - 2))
    return "ATG" + middle + "TAA"


def _intron(rng: np.random.Generator, length: int, donor: str = "GT", acceptor: str = "AG") -> str:
    return donor + _random_dna(rng, length - 4) + acceptor


def _spliced(rng: np.random.Generator, coding: str, cuts: list[int], intron: int = 100):
    """Parts of a coding gene: ``coding`` cut at these offsets with GT-AG introns between."""
    parts, previous = [], 0
    for cut in [*cuts, len(coding)]:
        if previous:
            parts.append(("intron", _intron(rng, intron)))
        parts.append(("cds", coding[previous:cut]))
        previous = cut
    return parts


def _plant(
    rng: np.random.Generator,
    parts: list[tuple[str, str]],
    left: int = 300,
    right: int = 300,
    high: float = 0.95,
) -> Planted:
    """Random background with these labelled parts (a + transcript, 5' to 3') in between."""
    pieces, labels = [_random_dna(rng, left)], ["intergenic"] * left
    for label, bases in parts:
        pieces.append(bases)
        labels += [label] * len(bases)
    pieces.append(_random_dna(rng, right))
    labels += ["intergenic"] * right
    sequence = "".join(pieces)
    track = np.full((len(sequence), 5), 1 - high, dtype=np.float32)
    for i, label in enumerate(labels):
        for channel in HIGH[label]:
            track[i, CHANNELS.index(channel)] = high
    exonic = np.array([label not in ("intergenic", "intron") for label in labels])
    coding = np.array([label == "cds" for label in labels])
    return Planted(sequence, track, "+", _runs(exonic), _runs(coding))


def _runs(mask: np.ndarray) -> list[Span]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in edges.reshape(-1, 2)]


def _decoder(options: HmmOptions = STRONG, table: SpliceTable = TABLE, parameters=PARAMETERS):
    return HmmDecoder(parameters, table, options)


def _decode(planted: Planted, decoder: HmmDecoder | None = None) -> list[Transcript]:
    decoder = decoder or _decoder()
    inputs = SegmentInputs(0, len(planted.sequence), planted.track)
    transcripts = decoder.decode(planted.sequence, inputs, seqid="chr")
    for transcript in transcripts:
        _check_grammar(transcript, planted.sequence, decoder)
    return transcripts


def _check_grammar(transcript: Transcript, sequence: str, decoder: HmmDecoder) -> None:
    """What every decoded transcript must obey, whatever the evidence."""
    minimum = decoder.model.edges.delay.max()

    def allowed(table: np.ndarray, motif: str) -> bool:
        return bool(np.isfinite(table[4 * "ACGT".index(motif[0]) + "ACGT".index(motif[1])]))

    for start, end in transcript.introns:
        assert end - start >= minimum
        donor, acceptor = sequence[start : start + 2], sequence[end - 2 : end]
        if transcript.strand == "-":
            donor, acceptor = reverse_complement(acceptor), reverse_complement(donor)
        assert allowed(decoder.motifs.donor, donor) and allowed(decoder.motifs.acceptor, acceptor)
    assert (transcript.kind == CODING_KIND) == bool(transcript.cds)
    if not transcript.cds:
        length = sum(end - start for start, end in transcript.exons)
        assert length >= decoder.options.min_lncrna_length
        # The Sequence Ontology's lnc_RNA is over 200 nt; shorter ones are ncRNA.
        assert transcript.kind == (LNC_KIND if length >= 200 else "ncRNA")
        return
    coding = coding_sequence(transcript, sequence)
    assert len(coding) % 3 == 0
    assert coding.startswith("ATG")
    assert coding[-3:] in STOPS
    assert "*" not in protein(transcript, sequence)
    # The CDS lies inside the exons and its pieces are the exons' coding parts.
    inside = [
        (max(a, transcript.cds[0][0]), min(b, transcript.cds[-1][1])) for a, b in transcript.exons
    ]
    assert [span for span in inside if span[1] > span[0]] == transcript.cds
    for score in [transcript.score, *transcript.exon_scores]:
        assert score is not None and 0.0 <= score <= 1.0


def _assert_planted(transcripts: list[Transcript], planted: Planted) -> Transcript:
    """The only transcript is exactly the planted one."""
    assert len(transcripts) == 1, [(t.strand, t.exons, t.cds) for t in transcripts]
    (transcript,) = transcripts
    assert transcript.strand == planted.strand
    assert transcript.exons == planted.exons
    assert transcript.cds == planted.cds
    assert transcript.kind == (CODING_KIND if planted.cds else LNC_KIND)
    assert transcript.seqid == "chr"
    for start, end in [*transcript.exons, *transcript.cds]:
        assert type(start) is int and type(end) is int
    return transcript


def _both_strands(planted: Planted, decoder: HmmDecoder | None = None) -> None:
    _assert_planted(_decode(planted, decoder), planted)
    _assert_planted(_decode(planted.mirrored(), decoder), planted.mirrored())


@pytest.mark.parametrize("utrs", [False, True])
def test_single_exon_gene_on_both_strands(utrs: bool) -> None:
    rng = np.random.default_rng(11)
    parts = [("cds", _orf(rng, 80))]
    if utrs:
        parts = [("utr5", _random_dna(rng, 45)), *parts, ("utr3", _random_dna(rng, 60))]
    planted = _plant(rng, parts)
    _both_strands(planted)


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_two_exon_gene_with_an_intron_of_each_phase(phase: int) -> None:
    rng = np.random.default_rng(20 + phase)
    coding = _orf(rng, 70)
    parts = _spliced(rng, coding, [90 + phase], intron=120)
    planted = _plant(rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))])
    assert planted.cds[0][1] - planted.cds[0][0] == 90 + phase  # the intron's phase
    assert all(
        b - a > PARAMETERS.min_intron_length
        for (_, a), (b, _) in zip(planted.exons, planted.exons[1:])
    )
    _both_strands(planted)


def test_gene_with_introns_of_all_three_phases() -> None:
    rng = np.random.default_rng(30)
    coding = _orf(rng, 100)
    parts = _spliced(rng, coding, [61, 122, 183], intron=90)  # phases 1, 2, 0
    planted = _plant(rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))])
    assert len(planted.exons) == 4
    _both_strands(planted)


def test_coding_gene_without_utrs_and_with_a_long_intron() -> None:
    rng = np.random.default_rng(31)
    parts = _spliced(rng, _orf(rng, 60), [100], intron=400)
    _both_strands(_plant(rng, parts))


def _split_codon_gene(rng: np.random.Generator, codon: str, phase: int) -> Planted:
    """A two-exon gene whose junction codon is ``codon``, split by a phase-1 or 2 intron."""
    coding = _orf(rng, 70)
    at = 3 * 30
    coding = coding[:at] + codon + coding[at + 3 :]
    parts = _spliced(rng, coding, [at + phase], intron=110)
    return _plant(rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))])


@pytest.mark.parametrize("phase", [1, 2])
@pytest.mark.parametrize("codon", ["TAA", "TAG", "TGA"])
@pytest.mark.parametrize("strand", ["+", "-"])
def test_a_stop_codon_split_by_an_intron_is_refused(phase: int, codon: str, strand: str) -> None:
    planted = _split_codon_gene(np.random.default_rng(40), codon, phase)
    if strand == "-":
        planted = planted.mirrored()
    (intron,) = [
        (a_end, b_start) for (_, a_end), (b_start, _) in zip(planted.exons, planted.exons[1:])
    ]
    transcripts = _decode(planted)  # checks every CDS for internal stops
    assert any(transcript.cds for transcript in transcripts)  # a legal gene instead
    for transcript in transcripts:
        assert transcript.cds != planted.cds
        if transcript.cds and intron in transcript.introns:
            inside = transcript.cds[0][0] < intron[0] and intron[1] < transcript.cds[-1][1]
            assert not inside, (transcript.exons, transcript.cds)


@pytest.mark.parametrize("phase", [1, 2])
@pytest.mark.parametrize("codon", ["TAC", "TGG", "TTA", "CAA"])
def test_a_sense_codon_split_by_an_intron_is_kept(phase: int, codon: str) -> None:
    # The control for the test above: the same genes with a sense codon at the junction.
    _both_strands(_split_codon_gene(np.random.default_rng(40), codon, phase))


def _gc_gene(rng: np.random.Generator) -> Planted:
    coding = _orf(rng, 70)
    parts = [
        ("cds", coding[:100]),
        ("intron", _intron(rng, 130, donor="GC")),
        ("cds", coding[100:]),
    ]
    return _plant(rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))])


def test_a_gc_ag_intron_is_decoded() -> None:
    planted = _gc_gene(np.random.default_rng(50))
    intron = (planted.exons[0][1], planted.exons[1][0])
    assert planted.sequence[intron[0] : intron[0] + 2] == "GC"
    _both_strands(planted)


@pytest.mark.parametrize(
    "donor",
    [{"GT": 1000}, {"GT": 1000, "GC": 2}, {"GT": 20_000, "GC": 3}],
    ids=["no GC", "GC seen twice", "GC under 2e-4"],
)
def test_a_gc_donor_the_table_does_not_allow_is_not_used(donor: dict[str, int]) -> None:
    planted = _gc_gene(np.random.default_rng(50))
    table = SpliceTable(donor=donor, acceptor={"AG": sum(donor.values())})
    decoder = _decoder(table=table)
    for case in (planted, planted.mirrored()):
        intron = (case.exons[0][1], case.exons[1][0])
        for transcript in _decode(case, decoder):  # checks every intron's motifs
            assert intron not in transcript.introns


def _lnc(rng: np.random.Generator, first: int, second: int) -> Planted:
    parts = [("exon", _random_dna(rng, first)), ("intron", _intron(rng, 150))]
    return _plant(rng, [*parts, ("exon", _random_dna(rng, second))])


def test_a_two_exon_lncrna_is_decoded_without_cds() -> None:
    planted = _lnc(np.random.default_rng(60), 140, 110)
    assert sum(b - a for a, b in planted.exons) >= STRONG.min_lncrna_length
    _both_strands(planted)
    (transcript,) = _decode(planted)
    assert transcript.kind == LNC_KIND and transcript.cds == []
    assert "cds_probability" not in transcript.attributes


def test_short_or_unwanted_noncoding_transcripts_are_not_reported() -> None:
    short = _lnc(np.random.default_rng(61), 70, 60)
    assert sum(b - a for a, b in short.exons) < STRONG.min_lncrna_length
    assert _decode(short) == []
    assert _decode(short.mirrored()) == []
    # The same transcript passes a lower length limit, typed ncRNA (the Sequence Ontology's
    # lnc_RNA is over 200 nt), and a long one is dropped without lncRNAs.
    lower = _decoder(dataclasses.replace(STRONG, min_lncrna_length=100))
    for case in (short, short.mirrored()):
        (transcript,) = _decode(case, lower)
        assert (transcript.kind, transcript.exons, transcript.cds) == ("ncRNA", case.exons, [])
    long = _lnc(np.random.default_rng(60), 140, 110)
    assert _decode(long, _decoder(dataclasses.replace(STRONG, lncrna=False))) == []
    # An unspliced non-coding stretch is reported only when single-exon lncRNAs are asked for.
    single = _plant(
        np.random.default_rng(62), [("exon", _random_dna(np.random.default_rng(63), 300))]
    )
    assert STRONG.min_lncrna_exons > 1
    assert _decode(single) == []
    decoder = _decoder(dataclasses.replace(STRONG, min_lncrna_exons=1))
    for case in (single, single.mirrored()):
        # Nothing tells the strand of an unspliced non-coding transcript: either will do.
        (transcript,) = _decode(case, decoder)
        assert (transcript.kind, transcript.exons, transcript.cds) == (LNC_KIND, case.exons, [])


def _shifted(spans: list[Span], by: int) -> list[Span]:
    return [(a + by, b + by) for a, b in spans]


def _coding_gene(rng: np.random.Generator, left: int, right: int) -> Planted:
    parts = _spliced(rng, _orf(rng, 60), [61, 125], intron=90)
    return _plant(
        rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))], left, right
    )


@pytest.mark.parametrize("order", ["+-", "-+"], ids=["convergent", "divergent"])
@pytest.mark.parametrize("gap", [1, 40, 600])
def test_two_genes_facing_each_other(order: str, gap: int) -> None:
    rng = np.random.default_rng(70)

    def gene(strand: str, left: int, right: int) -> Planted:
        if strand == "+":
            return _coding_gene(rng, left, right)
        return _coding_gene(rng, right, left).mirrored()

    first, second = gene(order[0], 300, gap // 2), gene(order[1], gap - gap // 2, 300)
    assert second.exons[0][0] + len(first.sequence) - first.exons[-1][1] == gap
    shift = len(first.sequence)
    sequence = first.sequence + second.sequence
    track = np.concatenate((first.track, second.track))
    transcripts = _decode(Planted(sequence, track, "+", [], []))
    expected = [
        (first.strand, first.exons, first.cds),
        (second.strand, _shifted(second.exons, shift), _shifted(second.cds, shift)),
    ]
    assert [(t.strand, t.exons, t.cds) for t in transcripts] == expected
    assert all(t.kind == CODING_KIND for t in transcripts)
    assert min(t.score for t in transcripts) > 0.5


def _weakened(planted: Planted, high: float) -> Planted:
    track = np.where(planted.track > 0.5, high, 1 - high).astype(np.float32)
    return dataclasses.replace(planted, track=track)


def _posterior_checks(transcript: Transcript) -> None:
    # The whole transcript as decoded implies each of its exons and its CDS as decoded.
    assert transcript.score is not None
    assert transcript.score <= min(transcript.exon_scores) + 1e-9
    if transcript.cds:
        assert transcript.score <= float(transcript.attributes["cds_probability"]) + 1e-3


@pytest.mark.parametrize("strand", ["+", "-"])
def test_posteriors_are_high_for_strong_evidence_and_lower_for_weak(strand: str) -> None:
    planted = _coding_gene(np.random.default_rng(80), 300, 300)
    planted = planted if strand == "+" else planted.mirrored()
    (strong,) = _decode(planted)
    _assert_planted([strong], planted)
    _posterior_checks(strong)
    assert strong.score > 0.5
    assert len(strong.exon_scores) == len(strong.exons)
    assert min(strong.exon_scores) > 0.9
    for weak in (
        _assert_planted(_decode(planted, _decoder(WEAK)), planted),
        _assert_planted(_decode(_weakened(planted, 0.7)), planted),
    ):
        _posterior_checks(weak)
        assert weak.score < strong.score / 2
        assert min(weak.exon_scores) < min(strong.exon_scores) - 0.2
        assert all(w <= s + 1e-9 for w, s in zip(weak.exon_scores, strong.exon_scores))


def test_the_decoded_path_posterior_bounds_the_transcript_score() -> None:
    # P(transcript as decoded) >= P(the whole decoded path), computed by forward.
    from genatator.decode.kernel import forward

    planted = _coding_gene(np.random.default_rng(81), 200, 200)
    for case in (planted, _weakened(planted, 0.7), _weakened(planted, 0.6)):
        decoder = _decoder()
        (transcript,) = _decode(case, decoder)
        assert len(case.sequence) < decoder.options.posterior_flank  # one window: the whole
        evidence = decoder.evidence(case.sequence, SegmentInputs(0, len(case.sequence), case.track))
        best = viterbi(decoder.model.edges, evidence, 0, 0)
        alpha, log_scale = forward(decoder.model.edges, evidence, 0)
        log_likelihood = log_scale[-1] + np.log(alpha[-1, 0])
        path = float(np.exp(best.score - log_likelihood))
        assert 0.0 < path <= transcript.score + 1e-9
        # Nothing else is likely in the flanks: the two events nearly coincide.
        assert transcript.score == pytest.approx(path, rel=1e-3)


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize("after", ["C", "A", "T"])
def test_a_start_codon_is_read_on_the_spliced_transcript(strand: str, after: str) -> None:
    # The track calls "AT" at the end of the first exon the CDS start, and the intron starts
    # with GT: the genome reads ATG there, but the transcript reads AT + the next exon's first
    # base, not a start codon. The decoder must not call that CDS.
    rng = np.random.default_rng(90)
    coding = _orf(rng, 70)
    coding = coding[:2] + after + coding[3:]
    parts = [("cds", coding[:2]), ("intron", _intron(rng, 120)), ("cds", coding[2:])]
    planted = _plant(rng, [("utr5", _random_dna(rng, 60)), *parts, ("utr3", _random_dna(rng, 40))])
    planted = planted if strand == "+" else planted.mirrored()
    for transcript in _decode(planted):  # checks that every CDS starts with ATG
        assert transcript.cds != planted.cds


@pytest.mark.parametrize("side", ["utr5", "utr3"])
def test_utr_introns_next_to_the_start_and_stop_codons(side: str) -> None:
    # A 5'UTR intron right before the start codon, or a 3'UTR intron right after the stop.
    rng = np.random.default_rng(95)
    coding = _orf(rng, 70)
    utr = [("utr5", _random_dna(rng, 40))] if side == "utr5" else [("utr3", _random_dna(rng, 50))]
    intron = [("intron", _intron(rng, 150))]
    parts = [*utr, *intron, ("cds", coding)] if side == "utr5" else [("cds", coding), *intron, *utr]
    _both_strands(_plant(rng, parts))


def test_the_utr_intron_penalty_costs_exactly_its_weight_and_can_refuse_utr_introns() -> None:
    base = _decoder().model
    weights = dataclasses.replace(STRONG.weights, utr_intron_penalty=1.5)
    penalised = _decoder(dataclasses.replace(STRONG, weights=weights)).model
    utr_introns = {i for i, s in enumerate(base.states) if s.intron_kind in ("utr5", "utr3")}
    entries = np.array(
        [dst in utr_introns and src not in utr_introns
         for src, dst in zip(base.edges.src, base.edges.dst)]
    )  # fmt: skip
    assert entries.any()
    difference = base.edges.weight - penalised.edges.weight
    np.testing.assert_allclose(difference[entries], 1.5)
    np.testing.assert_array_equal(difference[~entries], 0.0)
    # A 5'UTR intron that decodes at no penalty is refused under a prohibitive one.
    rng = np.random.default_rng(95)
    coding = _orf(rng, 70)
    parts = [("utr5", _random_dna(rng, 40)), ("intron", _intron(rng, 150)), ("cds", coding)]
    planted = _plant(rng, parts)
    (free,) = _decode(planted)
    assert len(free.exons) == 2
    weights = dataclasses.replace(STRONG.weights, utr_intron_penalty=200.0)
    decoder = _decoder(dataclasses.replace(STRONG, weights=weights))
    for transcript in _decode(planted, decoder):  # whatever else it finds, no UTR intron
        lo, hi = transcript.cds[0][0], transcript.cds[-1][1]
        assert all(lo <= start and end <= hi for start, end in transcript.introns)


def test_utr_only_exons_below_the_posterior_threshold_are_left_out() -> None:
    # A weakly supported 5'UTR exon (posterior about 0.57) before a coding exon.
    rng = np.random.default_rng(95)
    coding = _orf(rng, 70)
    parts = [("utr5", _random_dna(rng, 40)), ("intron", _intron(rng, 150)), ("cds", coding)]
    planted = _plant(rng, [*parts, ("utr3", _random_dna(rng, 30))], high=0.7)
    (full,) = _decode(planted)
    assert len(full.exons) == 2 and 0.5 < full.exon_scores[0] < 0.6
    kept = _decoder(dataclasses.replace(STRONG, min_utr_exon_posterior=0.5))
    (same,) = _decode(planted, kept)
    assert (same.exons, same.exon_scores, same.score) == (
        full.exons, full.exon_scores, full.score,
    )  # fmt: skip
    strict = _decoder(dataclasses.replace(STRONG, min_utr_exon_posterior=0.6))
    (trimmed,) = _decode(planted, strict)
    assert trimmed.exons == full.exons[1:] and trimmed.cds == full.cds
    assert trimmed.exon_scores == full.exon_scores[1:]
    # The score is the posterior of the transcript as reported: starting at what the model
    # takes for an acceptor, it is far less likely than the decoded one.
    assert 0.0 <= trimmed.score < full.score
    with pytest.raises(ValueError, match="min_utr_exon_posterior"):
        HmmOptions(min_utr_exon_posterior=1.5)


@pytest.mark.parametrize("floor", [float("nan"), float("-inf"), "low"])
def test_site_floor_must_be_a_finite_number_or_none(floor: object) -> None:
    assert HmmOptions(site_floor=None).site_floor is None
    assert HmmOptions.from_dict({"site_floor": -12}).site_floor == -12
    with pytest.raises(ValueError, match="site_floor"):
        HmmOptions(site_floor=floor)  # type: ignore[arg-type]


def test_decoded_paths_obey_the_grammar_on_random_sequences() -> None:
    # Random DNA, random weak blocky evidence, short lengths so that ~300 nt hold whole genes,
    # and every transcript reported: each must be a legal gene structure.
    parameters = dataclasses.replace(
        PARAMETERS,
        min_intron_length=20,
        short_intron_length=40,
        intergenic_length=300,
        cds_piece_length=60,
        five_utr_piece_length=30,
        three_utr_piece_length=30,
        noncoding_exon_length=60,
    )
    table = SpliceTable(donor={"GT": 900, "GC": 90, "AT": 10}, acceptor={"AG": 990, "AC": 10})
    options = HmmOptions(
        weights=HmmWeights(gene=1.0, exon=1.0, cds=1.0, utr=1.0),
        min_lncrna_length=1,
        min_lncrna_exons=1,
    )
    decoder = HmmDecoder(parameters, table, options)
    model = decoder.model
    seen = set()
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        n = 300
        sequence = _random_dna(rng, n)
        track = np.empty((n, 5), dtype=np.float32)
        start = 0
        while start < n:
            end = start + int(rng.integers(10, 60))
            track[start:end] = rng.uniform(0.05, 0.95, size=5)
            start = end
        transcripts = _decode(Planted(sequence, track, "+", [], []), decoder)
        for transcript in transcripts:
            seen.add((transcript.strand, transcript.kind, len(transcript.introns) > 0))
        # The path itself: consecutive states joined by an edge, introns at least the minimum.
        evidence = decoder.evidence(sequence, SegmentInputs(0, n, track))
        states = viterbi(model.edges, evidence, 0, 0).states.astype(np.int64)
        assert states[0] == states[-1] == model.intergenic
        changes = states[1:] != states[:-1]
        assert (model.pair[states[:-1][changes], states[1:][changes]] >= 0).all()
        intron = model.mask(lambda s: s.role == INTRON)[states]
        for a, b in _runs(intron):
            assert b - a >= parameters.min_intron_length
    # The grammar was exercised: spliced coding and non-coding genes on both strands (short
    # here, so ncRNA: the Sequence Ontology's lnc_RNA is over 200 nt).
    for strand in "+-":
        assert (strand, CODING_KIND, True) in seen
        assert (strand, "ncRNA", True) in seen


def _decode_with_sites(planted: Planted, donor: np.ndarray, acceptor: np.ndarray):
    decoder = _decoder()
    inputs = SegmentInputs(0, len(planted.sequence), planted.track, donor, acceptor)
    transcripts = decoder.decode(planted.sequence, inputs, seqid="chr")
    for transcript in transcripts:
        _check_grammar(transcript, planted.sequence, decoder)
    return transcripts


@pytest.mark.parametrize("true_site", [True, False])
def test_splice_site_scores_pick_between_two_donors(true_site: bool) -> None:
    # Two GT donors 3 nt apart where the track cannot tell them apart: the site scores decide.
    rng = np.random.default_rng(100)
    coding = _orf(rng, 70)
    intron = "GTA" + "GT" + _random_dna(rng, 111) + "AG"  # a decoy donor 3 nt in, same frame
    parts = [("cds", coding[:90]), ("intron", intron), ("cds", coding[90:])]
    planted = _plant(rng, [("utr5", _random_dna(rng, 30)), *parts, ("utr3", _random_dna(rng, 40))])
    donor_at = planted.exons[0][1]
    track = planted.track.copy()
    track[donor_at - 6 : donor_at + 9] = 0.5  # no opinion around the donor
    planted = dataclasses.replace(planted, track=track)
    n = len(planted.sequence)
    donor, acceptor = np.zeros((2, n), np.float32), np.zeros((2, n), np.float32)
    donor[0, donor_at] = 0.99 if true_site else 0.01
    donor[0, donor_at + 3] = 0.01 if true_site else 0.99
    acceptor[0, planted.exons[1][0] - 1] = 0.99  # the intron's last base
    expected = planted
    if not true_site:
        exons = [(planted.exons[0][0], donor_at + 3), planted.exons[1]]
        expected = dataclasses.replace(
            planted, exons=exons, cds=[(planted.cds[0][0], donor_at + 3), planted.cds[1]]
        )
    _assert_planted(_decode_with_sites(planted, donor, acceptor), expected)
    # On the reverse complement, + sites become - sites at the mirrored positions.
    mirrored = _decode_with_sites(
        planted.mirrored(), donor[::-1, ::-1].copy(), acceptor[::-1, ::-1].copy()
    )
    _assert_planted(mirrored, expected.mirrored())


@pytest.mark.parametrize("strand", ["+", "-"])
def test_a_stretch_inside_a_longer_sequence_gives_genome_coordinates(strand: str) -> None:
    planted = _coding_gene(np.random.default_rng(110), 300, 300)
    planted = planted if strand == "+" else planted.mirrored()
    lo, hi = 150, len(planted.sequence) - 100
    inputs = SegmentInputs(lo, hi, planted.track[lo:hi])
    decoder = _decoder()
    transcripts = decoder.decode(planted.sequence, inputs, seqid="chr")
    _assert_planted(transcripts, planted)
    # The same stretch cut out of the sequence, with the same context bases around it.
    cut = planted.sequence[lo - 8 : hi + 8]
    inner = decoder.decode(cut, SegmentInputs(8, 8 + hi - lo, planted.track[lo:hi]), seqid="chr")
    assert [(t.exons, t.cds, t.score) for t in inner] == [
        (_shifted(t.exons, 8 - lo), _shifted(t.cds, 8 - lo), t.score) for t in transcripts
    ]


def test_long_intron_scale_shortens_the_long_intron_part_only() -> None:
    from genatator.decode.topology import build_gene_model

    parameters = GeneModelParameters(
        long_intron_length=3_000.0, short_intron_length=70.0, min_intron_length=40
    )
    counted, scaled = (
        build_gene_model(parameters),
        build_gene_model(parameters, long_intron_scale=0.25),
    )

    def self_loop(model, name: str) -> float:
        state = next(i for i, info in enumerate(model.states) if info.name == name)
        return float(model.edges.weight[model.pair[state, state]])

    # The long part stays with 1 - 1/(mean - minimum + 1): 3,000 → 750 nt.
    assert self_loop(counted, "I0+:long") == pytest.approx(np.log(1 - 1 / 2_961))
    assert self_loop(scaled, "I0+:long") == pytest.approx(np.log(1 - 1 / 711))
    assert self_loop(scaled, "J2x-:long") == pytest.approx(np.log(1 - 1 / 711))
    assert self_loop(scaled, "I0+:short") == self_loop(counted, "I0+:short")
    assert self_loop(scaled, "U3I+:long") == self_loop(counted, "U3I+:long")  # UTR introns
    with pytest.raises(ValueError, match="long_intron_scale must be positive"):
        HmmWeights(long_intron_scale=0.0)
    weights = HmmOptions.from_dict({"weights": {"long_intron_scale": 0.125}}).weights
    assert weights.long_intron_scale == 0.125
