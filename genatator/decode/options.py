"""Typed decoding options, from the command line to the decoders: HMM and threshold decoders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from genatator.config_dict import dataclass_from_dict
from genatator.errors import ConfigError, ModelError

__all__ = [
    "CDS_MODES",
    "DECODERS",
    "DecodeOverrides",
    "Decoding",
    "HmmOptions",
    "HmmWeights",
    "ThresholdOptions",
    "missing_gene_model",
]

#: How the threshold decoder chooses the CDS: from the model's CDS channel, or the longest ORF.
CDS_MODES = ("model", "orf")
#: ``annotate --decoder`` choices: the gene-model HMM (default) or the paper's thresholds.
DECODERS = ("hmm", "threshold")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_integers(owner: object, minimums: dict[str, int]) -> None:
    for name, minimum in minimums.items():
        value = getattr(owner, name)
        if not _is_int(value) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_flags(owner: object, names: tuple[str, ...]) -> None:
    for name in names:
        if not isinstance(getattr(owner, name), bool):
            raise ValueError(f"{name} must be True or False, got {getattr(owner, name)!r}")


@dataclass(frozen=True)
class ThresholdOptions:
    """The threshold decoder's knobs (``annotate --decoder threshold``, the paper's decoding).

    Attributes:
        genic_threshold: a base is genic when ``max(p_exon, p_intron)`` reaches this value.
        max_region_gap: genic runs separated by fewer non-genic bases than this are one region.
        exon_smoothing: ``p_exon - p_intron`` is averaged over this many bases (0 or 1: off)
            before exons are called.
        min_transcript_length: transcripts with fewer exonic bases are dropped.
        min_exon_length: shorter exons are removed as artefacts (after short introns are filled).
        min_intron_length: shorter introns are filled, merging the exons around them.
        strand_flank: bases at each transcript end whose UTR probabilities give the strand score.
        splice_filter: drop or move exon boundaries whose splice-site dinucleotides are illegal.
        max_boundary_shift: how far (nt) a terminal exon's splice boundary may move to a legal site.
        splice_snap: before the filter, move every splice boundary up to this many nt to the
            legal site that best fits the exon/intron probabilities (0: off, the paper's
            behaviour). Fuzzy boundaries of a weak model then survive the filter.
        site_shift: with a splice-site model (``annotate --splice-model``), how far (nt) each
            splice boundary may move to the best-scoring admissible site.
        rare_site_score: with a splice-site model, the score a site with a rare motif (a donor
            other than GT, an acceptor other than AG) needs before a boundary may sit on it.
        confident_site_score: with a splice-site model, an internal exon whose two splice
            sites both score at least this much is kept even when its dinucleotides are not in
            the model's table; below it the dinucleotide filter decides.
        cds_mode: ``"model"`` (the ORF agreeing with the model's CDS channel) or ``"orf"``
            (the longest complete ORF).
        min_cds_codons: a transcript is coding (mRNA) only when its CDS has at least this many
            codons, the stop codon not counted; otherwise it is an lncRNA without CDS.
        lncrna: report non-coding transcripts (as ``lnc_RNA``); False drops them.
    """

    genic_threshold: float = 0.5
    max_region_gap: int = 20
    exon_smoothing: int = 0
    min_transcript_length: int = 50
    min_exon_length: int = 4
    min_intron_length: int = 20
    strand_flank: int = 50
    splice_filter: bool = True
    max_boundary_shift: int = 20
    splice_snap: int = 0
    site_shift: int = 20
    rare_site_score: float = 0.5
    confident_site_score: float = 0.9
    cds_mode: str = "model"
    min_cds_codons: int = 100
    lncrna: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.genic_threshold, bool) or not isinstance(self.genic_threshold, Real):
            raise ValueError(f"genic_threshold must be a number, got {self.genic_threshold!r}")
        if not 0.0 < self.genic_threshold <= 1.0:
            raise ValueError(f"genic_threshold must be in (0, 1], got {self.genic_threshold}")
        _check_integers(self, {
            "max_region_gap": 0,
            "exon_smoothing": 0,
            "min_transcript_length": 1,
            "min_exon_length": 1,
            "min_intron_length": 1,
            "strand_flank": 1,
            "max_boundary_shift": 0,
            "splice_snap": 0,
            "site_shift": 0,
            "min_cds_codons": 0,
        })  # fmt: skip
        for name in ("rare_site_score", "confident_site_score"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        _check_flags(self, ("splice_filter", "lncrna"))
        if self.cds_mode not in CDS_MODES:
            raise ValueError(f"cds_mode must be one of {CDS_MODES}, got {self.cds_mode!r}")

    def to_dict(self) -> dict:
        """The options as a JSON-ready dict (a model's ``inference.json`` ``decode`` entry)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ThresholdOptions:
        """Options from :meth:`to_dict`'s output; keys left out keep their defaults.

        Raises:
            ConfigError: an unknown key or a bad value (also a ValueError).
        """
        return dataclass_from_dict(cls, values, "decode")


def _check_numbers(owner: object, names: tuple[str, ...], minimum: float | None = None) -> None:
    for name in names:
        value = getattr(owner, name)
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if minimum is not None and value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class HmmWeights:
    """How much each kind of evidence counts in the gene-model HMM (fitted on held-out data).

    Attributes:
        gene: genic vs intergenic, from ``max(p_exon, p_intron)``.
        exon: exon vs intron, from ``p_exon / p_intron``.
        cds: coding vs non-coding exon, from ``p_CDS``.
        utr: 5' vs 3' UTR, from ``p_5'UTR / p_3'UTR``.
        noncoding_bias: per-base log bonus of a non-coding exon over other exons.
        content: the codon model's coding-vs-background log-odds.
        site: the splice-site model's log-odds.
        site_bias: added to every splice site's score (with a splice-site model).
        matrices: the counted splice-site matrices' log-odds (``site_model.npz``).
        gene_penalty: subtracted from the log-probability of starting a gene.
        noncoding_penalty: subtracted again for a non-coding gene.
        utr_intron_penalty: subtracted from the log-probability of entering a 5' or 3' UTR
            intron (splice-site evidence alone finds plausible introns in any UTR; the counted
            UTR-intron frequency does not know how weak the evidence for UTRs is).
        long_intron_scale: multiplies the counted mean length of long coding introns. Below 1
            each intron base costs more, so weak site evidence cannot bridge genes with long
            spurious introns (human's counted 31 kb mean let the decoder join genes across
            hundreds of kb); 1 keeps the counted model.
    """

    gene: float = 0.3
    exon: float = 0.3
    cds: float = 0.3
    utr: float = 0.3
    noncoding_bias: float = 0.0
    content: float = 1.0
    site: float = 1.0
    site_bias: float = 0.0
    matrices: float = 0.0
    gene_penalty: float = 0.0
    noncoding_penalty: float = 0.0
    utr_intron_penalty: float = 0.0
    long_intron_scale: float = 1.0

    def __post_init__(self) -> None:
        _check_numbers(
            self, ("gene", "exon", "cds", "utr", "content", "site", "matrices"), minimum=0.0
        )
        if not self.long_intron_scale > 0.0:
            raise ValueError(f"long_intron_scale must be positive, got {self.long_intron_scale}")
        _check_numbers(
            self,
            (
                "noncoding_bias",
                "site_bias",
                "gene_penalty",
                "noncoding_penalty",
                "utr_intron_penalty",
            ),
        )


@dataclass(frozen=True)
class HmmOptions:
    """The gene-model decoder's options (``annotate --decoder hmm``, the default).

    Attributes:
        weights: evidence weights (a model's ``inference.json`` carries fitted ones).
        use_network: use the network's tracks (False: splice sites and codon content only).
        anchor_length: a run of at least this many bases that the network calls intergenic
            with confidence (``max(p_exon, p_intron) < anchor_threshold``) splits the sequence
            into independently decoded segments at its middle base.
        anchor_threshold: see ``anchor_length``.
        max_segment: a segment with no anchor is cut at its most intergenic-looking base after
            this many bases (bounds memory: one byte per base and state).
        posterior_flank: bases either side of a gene included when its posteriors are computed.
        min_lncrna_length: non-coding transcripts with fewer exonic bases are not reported
            (the Sequence Ontology's lnc_RNA is over 200 nt).
        min_lncrna_exons: non-coding transcripts with fewer exons are not reported (a single
            unspliced stretch is the network's gene call alone, without splice evidence; on
            held-out fly DNA such calls were all false).
        lncrna: report non-coding transcripts.
        min_utr_exon_posterior: a coding transcript's UTR-only exons (no CDS in them) are
            reported outward from the CDS while each has at least this posterior; 0 reports
            every decoded one. Splice-site evidence finds plausible introns in any UTR, and on
            held-out fly DNA most decoded UTR-only exons were false.
        site_floor: a splice site whose total log score (dinucleotide frequency, splice
            model, site matrices) is below this is not a site at all; ``None`` keeps every
            allowed dinucleotide. Most scanned dinucleotides score far below any site a gene
            uses, and each open site costs the passes time at its position.
    """

    weights: HmmWeights = field(default_factory=HmmWeights)
    use_network: bool = True
    anchor_length: int = 2_000
    anchor_threshold: float = 0.05
    max_segment: int = 1_000_000
    posterior_flank: int = 2_000
    min_lncrna_length: int = 200
    min_lncrna_exons: int = 2
    lncrna: bool = True
    min_utr_exon_posterior: float = 0.0
    site_floor: float | None = -30.0

    def __post_init__(self) -> None:
        _check_integers(self, {
            "anchor_length": 1,
            "max_segment": 1_000,
            "posterior_flank": 0,
            "min_lncrna_length": 1,
            "min_lncrna_exons": 1,
        })  # fmt: skip
        _check_numbers(self, ("anchor_threshold", "min_utr_exon_posterior"), minimum=0.0)
        if self.min_utr_exon_posterior > 1.0:
            raise ValueError(
                f"min_utr_exon_posterior must be in [0, 1], got {self.min_utr_exon_posterior}"
            )
        _check_flags(self, ("use_network", "lncrna"))
        if self.site_floor is not None:
            _check_numbers(self, ("site_floor",))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HmmOptions:
        """Options from :meth:`to_dict`'s output; keys left out keep their defaults.

        Raises:
            ConfigError: an unknown key or a bad value (also a ValueError).
        """
        values = dict(values)
        weights = dataclass_from_dict(HmmWeights, values.pop("weights", {}) or {}, "hmm weight")
        return dataclass_from_dict(cls, {**values, "weights": weights}, "hmm")


@dataclass(frozen=True)
class DecodeOverrides:
    """What the command line says about decoding; ``None`` keeps the model's default.

    Attributes:
        decoder: ``"hmm"`` or ``"threshold"`` (``--decoder``).
        cds_mode: the threshold decoder's CDS choice (``--cds-mode``).
        min_cds_codons: the threshold decoder's shortest mRNA CDS (``--min-cds-codons``).
        lncrna: report non-coding transcripts, both decoders (False: ``--no-lncrna``).
        splice_filter: the threshold decoder's dinucleotide filter (False: ``--no-splice-filter``).
        site_shift: the threshold decoder's splice-boundary shift with a splice-site model
            (``--splice-shift``).

    Raises:
        ConfigError: a bad value, naming its command-line flag.
    """

    #: The command-line flag of each field, for error messages.
    FLAG: ClassVar[dict[str, str]] = {
        "decoder": "--decoder",
        "cds_mode": "--cds-mode",
        "min_cds_codons": "--min-cds-codons",
        "lncrna": "--no-lncrna",
        "splice_filter": "--no-splice-filter",
        "site_shift": "--splice-shift",
    }

    decoder: str | None = None
    cds_mode: str | None = None
    min_cds_codons: int | None = None
    lncrna: bool | None = None
    splice_filter: bool | None = None
    site_shift: int | None = None

    def __post_init__(self) -> None:
        choices = {"decoder": DECODERS, "cds_mode": CDS_MODES}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ConfigError(
                    f"{self.FLAG[name]} must be one of {', '.join(allowed)}, got {value!r}"
                )
        for name in ("min_cds_codons", "site_shift"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ConfigError(f"{self.FLAG[name]} must be an integer >= 0, got {value!r}")
        for name in ("lncrna", "splice_filter"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{self.FLAG[name]}: expected True or False, got {value!r}")

    def given(self) -> dict[str, Any]:
        """The fields that override something (not ``None``)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


#: Overrides that apply to the threshold decoder's options, and those of the HMM decoder.
_THRESHOLD_OVERRIDES = ("cds_mode", "min_cds_codons", "lncrna", "splice_filter", "site_shift")
_HMM_OVERRIDES = ("lncrna",)


def missing_gene_model(directory: str) -> str:
    """The one-line message for a model directory without the HMM's gene-model files."""
    return (
        f"{directory}: the hmm decoder needs gene_model.json and codon_model.npz; add them "
        f"with `genatator gene-model count --genome G --annotation A --model {directory}`, "
        "or use --decoder threshold"
    )


@dataclass(frozen=True)
class Decoding:
    """How ``annotate`` decodes: which decoder, and the options of both.

    Attributes:
        decoder: ``"hmm"`` or ``"threshold"``.
        threshold: the threshold decoder's options.
        hmm: the gene-model decoder's options.
    """

    decoder: str = "threshold"
    threshold: ThresholdOptions = field(default_factory=ThresholdOptions)
    hmm: HmmOptions = field(default_factory=HmmOptions)

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")

    @classmethod
    def resolve(
        cls,
        *,
        decode: dict[str, Any] | None,
        hmm: dict[str, Any] | None,
        decoder: str | None,
        overrides: DecodeOverrides,
        gene_model: bool,
        source: str,
        directory: str = "the model",
    ) -> Decoding:
        """A model's decoding defaults (its ``inference.json`` entries) with ``overrides`` on top.

        Args:
            decode: the model's threshold-decoder defaults (``ThresholdOptions.to_dict``).
            hmm: the model's HMM-decoder defaults (``HmmOptions.to_dict``).
            decoder: the model's default decoder (``None``: hmm when the model has gene-model
                files, else threshold).
            overrides: what the command line gave.
            gene_model: whether the model directory has the HMM's gene-model files.
            source: the model's settings file, for error messages.
            directory: the model directory, for the message about missing gene-model files.

        Raises:
            ModelError: a bad model entry.
            ConfigError: the hmm decoder was asked for but the gene-model files are missing.
        """
        try:
            threshold = ThresholdOptions.from_dict(decode or {})
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{source}: bad decode settings ({exc})") from None
        try:
            hmm_options = HmmOptions.from_dict(hmm or {})
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{source}: bad hmm settings ({exc})") from None
        if decoder is not None and decoder not in DECODERS:
            raise ModelError(
                f"{source}: bad decoder setting {decoder!r} (one of {', '.join(DECODERS)})"
            )
        given = overrides.given()
        for name in _THRESHOLD_OVERRIDES:
            if name in given:
                try:
                    threshold = replace(threshold, **{name: given[name]})
                except (ValueError, TypeError) as exc:
                    raise ConfigError(f"{DecodeOverrides.FLAG[name]}: {exc}") from None
        for name in _HMM_OVERRIDES:
            if name in given:
                hmm_options = replace(hmm_options, **{name: given[name]})
        chosen = overrides.decoder or decoder or ("hmm" if gene_model else "threshold")
        if chosen == "hmm" and not gene_model:
            error = ConfigError if overrides.decoder else ModelError
            raise error(missing_gene_model(directory))
        return cls(chosen, threshold, hmm_options)
