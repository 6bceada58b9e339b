"""``genatator annotate`` end to end: one run, from the genome and a model to the outputs."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field

import torch

from genatator._io import check_output, display_name
from genatator.annotation.models import Transcript
from genatator.decode.calling import call_transcripts, name_genes
from genatator.decode.hmm import HmmDecoder
from genatator.decode.options import DecodeOverrides, Decoding
from genatator.decode.parts import (
    DecoderParts,
    load_decoder_parts,
    model_decoding,
    splice_model_directory,
)
from genatator.decode.segments import SiteScorer, hmm_transcripts
from genatator.distributed import Distributed, init_distributed
from genatator.errors import ConfigError, warn
from genatator.genome import FastaRecord, read_fasta
from genatator.inference import (
    TrackBlock,
    WindowPredictor,
    fit_window,
    predict_tracks,
    resolve_device,
)
from genatator.model.directory import load_model_directory
from genatator.model.files import resolve_model_dir
from genatator.model.settings import InferenceSettings
from genatator.partial import (
    PARTIAL_SUFFIX,
    AnnotateSummary,
    Outputs,
    PartialOutputs,
    file_identity,
    model_identity,
    plural,
)
from genatator.regions import Region, regions_by_sequence
from genatator.shards import BALANCES, ShardSelector
from genatator.splice.models import SpliceModel, load_splice_model
from genatator.splice.scoring import site_scorer
from genatator.tracks import TrackWriter

__all__ = [
    "PARTIAL_SUFFIX",
    "AnnotateOptions",
    "AnnotateSummary",
    "Outputs",
    "annotate",
    "parse_shard",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnotateOptions:
    """Everything ``annotate`` does besides which files it reads and writes.

    Attributes:
        window: nucleotides per window (``None``: the model's training window, or measured).
        overlap: fraction of a window shared with the next one.
        batch_size: sequences per forward pass (reverse-complement copies count).
        reverse_complement: also predict on the reverse complement and average.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:i``.
        precision: ``auto`` (bf16/fp16 on GPU, fp32 on CPU), ``fp32``, ``bf16`` or ``fp16``.
        block_size: nucleotides of probability track post-processed at a time.
        regions: only these parts of the genome (``None``: every sequence).
        shard: ``(i, n)``: only the sequences of shard ``i`` of ``n`` (see ``balance``).
        balance: how shards split the genome (:data:`genatator.shards.BALANCES`): ``count``
            takes sequences whose 0-based index is ``i - 1`` modulo ``n``; ``length`` whole
            sequences, longest first, each to the shard with the fewest bases so far.
        overrides: decoding options given on the command line, applied on top of the model's
            defaults (its ``inference.json``) when ``decoding`` is ``None``.
        decoding: the decoder and its options, fully explicit (``None``: the model's defaults
            with ``overrides``); for tests and benchmarks.
        splice_model: a splice-site model (bundle name or directory) whose scores go into the
            decoding (``None``: the model's default splice model, if any).
        default_splice_model: use the model's default splice model when ``splice_model`` is
            ``None`` (False: ``--no-splice-model``, dinucleotides only).
        resume: keep sequences finished by an earlier run of the same command.
        threads: CPU threads for torch (``None``: torch's default).
        seed: seeds torch's RNG; inference draws no random numbers, so the output does not
            depend on it.
    """

    window: int | None = None
    overlap: float = 0.5
    batch_size: int = 8
    reverse_complement: bool = True
    device: str = "auto"
    precision: str = "auto"
    block_size: int = 1_000_000
    regions: tuple[Region, ...] | None = None
    shard: tuple[int, int] = (1, 1)
    balance: str = "count"
    overrides: DecodeOverrides = field(default_factory=DecodeOverrides)
    decoding: Decoding | None = None
    splice_model: str | None = None
    default_splice_model: bool = True
    resume: bool = False
    threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        index, count = self.shard
        if count < 1 or not 1 <= index <= count:
            raise ConfigError(f"--shard: {index}/{count} is not i/n with 1 ≤ i ≤ n")
        if self.balance not in BALANCES:
            raise ConfigError(f"--balance: {self.balance!r} is not one of {', '.join(BALANCES)}")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"--window must be positive, got {self.window}")
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"--overlap must be in [0, 1), got {self.overlap}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be positive, got {self.batch_size}")

    def fingerprint(self) -> dict:
        """The options that change the output (batch size, device and threads do not)."""
        values = asdict(self)
        for key in ("batch_size", "device", "threads", "resume", "block_size", "seed"):
            values.pop(key)
        values["regions"] = None if self.regions is None else [str(r) for r in self.regions]
        return values


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` → ``(i, n)``.

    Raises:
        ConfigError: not two integers with 1 ≤ i ≤ n.
    """
    first, slash, second = text.partition("/")
    try:
        index, count = int(first), int(second)
    except ValueError:
        index = count = 0
    if not slash or count < 1 or not 1 <= index <= count:
        raise ConfigError(f"--shard: {text!r} is not i/n with 1 ≤ i ≤ n (e.g. 2/8)")
    return index, count


def annotate(
    genome: str,
    outputs: Outputs,
    model: str,
    options: AnnotateOptions,
    *,
    progress: Callable[[int], None] | None = None,
) -> AnnotateSummary:
    """Annotate every (selected) sequence of ``genome`` and write the outputs atomically.

    Sequences are read one at a time; each is cut into windows, predicted in batches, its
    probability tracks are stitched and consumed block by block, and its transcripts are kept on
    disk in a sidecar directory beside the output until the run ends. With ``options.resume``, the
    sequences an interrupted run of the same command finished are not predicted again; the final
    files are the same, byte for byte, as an uninterrupted run's. Under ``torchrun`` each process
    takes every ``world_size``-th sequence and rank 0 writes the outputs.

    Raises:
        InputError: the genome cannot be read.
        ConfigError: bad options (e.g. resuming a run started with different options).
        ModelError: the model cannot be loaded.
    """
    started = time.monotonic()
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    world = init_distributed(options.device)
    try:
        return _annotate(genome, outputs, model, options, world, progress, started)
    finally:
        world.close()


def _annotate(
    genome: str,
    outputs: Outputs,
    model_source: str,
    options: AnnotateOptions,
    world: Distributed,
    progress: Callable[[int], None] | None,
    started: float,
) -> AnnotateSummary:
    _check_outputs(genome, outputs, options, world)
    wanted = regions_by_sequence(options.regions)
    # Before the model loads: --balance length reads the genome's lengths (or its .fai) first.
    selector = ShardSelector(genome, options.shard, options.balance, wanted)
    run = _load_run(genome, outputs, model_source, options, world)
    summary = AnnotateSummary()
    seen: set[str] = set()
    # Every selected sequence of the genome gets a ##sequence-region line in every shard, in
    # genome order, so merged shards list sequences as an unsharded run does.
    lengths: dict[str, int] = {}
    records = 0
    with contextlib.ExitStack() as stack:
        stack.callback(run.partial.discard_temporary)
        stack.push(run.partial.discard_on_bad_input)
        if outputs.tracks:
            run.tracks = stack.enter_context(TrackWriter(outputs.tracks, outputs.track_format))
        for index, record in enumerate(read_fasta(genome)):
            records += 1
            seen.add(record.name)
            if wanted is None or record.name in wanted:
                lengths[record.name] = record.length
            run.measure_window(record)
            position = selector.position(index, record.name, record.length)
            if position is None or position % world.world_size != world.rank:
                continue  # another shard's or another rank's
            if wanted is not None and record.name not in wanted:
                continue
            if run.partial.done(index):
                summary.resumed += 1
                if progress:
                    progress(record.length)
                continue
            spans = (
                [(0, record.length)]
                if wanted is None
                else [(r.start, min(r.end, record.length)) for r in wanted[record.name]]
            )
            _annotate_record(run, index, record, spans, outputs, progress)
        _check_regions(wanted, seen)
        selector.check_complete(records)
        world.barrier()
        if world.is_main:
            run.partial.assemble(outputs, lengths, summary)
    summary.seconds = time.monotonic() - started
    if world.is_main:
        _log_summary(genome, summary)
    return summary


def _check_outputs(
    genome: str, outputs: Outputs, options: AnnotateOptions, world: Distributed
) -> None:
    """Refuse option combinations that cannot work, and check every output path, before any
    work: a typo must not cost a whole run."""
    private = PartialOutputs.is_private(outputs.gff3)
    if world.enabled and (genome == "-" or private):
        raise ConfigError(
            "under torchrun, give the genome and -o as files, not '-', devices or FIFOs"
        )
    if options.resume and private:
        raise ConfigError(
            f"-o {outputs.gff3}: --resume needs a regular file, not stdout, a "
            "device or a FIFO, to keep the finished sequences beside"
        )
    if options.resume and outputs.tracks:
        raise ConfigError("--tracks cannot be combined with --resume (tracks are not kept)")
    if options.resume and genome == "-":
        raise ConfigError("--resume needs the genome as a file, not '-'")
    if world.enabled and outputs.tracks:
        raise ConfigError("--tracks cannot be written under torchrun; run on one process")
    for path in (outputs.gff3, outputs.proteins, outputs.cds_fasta):
        if path is not None:
            check_output(path)


@dataclass
class _Run:
    """What one run decodes with, loaded once: the network, the decoders, the outputs."""

    options: AnnotateOptions
    decoding: Decoding
    parts: DecoderParts
    predictor: WindowPredictor
    max_tokens: int
    window: int | None
    hmm_decoder: HmmDecoder | None
    site_model: SpliceModel | None
    partial: PartialOutputs
    tracks: TrackWriter | None = None

    def measure_window(self, record: FastaRecord) -> None:
        """Fit the window to the first record with bases, when the model records none: every
        shard, rank and resumed run measures the same record, so all use the same window."""
        if self.window is not None or record.length <= record.n_count:
            return
        self.window = fit_window(self.predictor.tokenizer, record.sequence, self.max_tokens)
        logger.info(
            "window: %d nt (fills %d tokens; the model records none; set --window)",
            self.window,
            self.max_tokens,
        )


def _load_run(
    genome: str, outputs: Outputs, model_source: str, options: AnnotateOptions, world: Distributed
) -> _Run:
    """Load the model, decoders and splice model, and start (or resume) the partial outputs."""
    directory = resolve_model_dir(model_source)
    settings = InferenceSettings.load(directory)
    # Settings and options first: a bad one fails before anything heavy is loaded.
    decoding = options.decoding or model_decoding(settings, directory, options.overrides)
    site_directory = splice_model_directory(
        settings, directory, options.splice_model, options.default_splice_model
    )
    if site_directory is None and options.overrides.site_shift is not None:
        raise ConfigError("--splice-shift needs --splice-model")
    model, tokenizer = load_model_directory(directory)
    hmm = decoding.decoder == "hmm"
    parts = load_decoder_parts(directory, settings=settings, gene_model=hmm)
    device_spec = options.device
    if world.enabled and device_spec in ("auto", "cuda") and torch.cuda.is_available():
        device_spec = f"cuda:{world.local_rank}"
    predictor = WindowPredictor(
        model,
        tokenizer,
        device=resolve_device(device_spec),
        batch_size=options.batch_size,
        reverse_complement=options.reverse_complement,
        precision=options.precision,
    )
    site_model = None
    if site_directory is not None:
        site_model = load_splice_model(site_directory, device=predictor.device)
    partial = PartialOutputs(outputs.gff3, world)
    fingerprint = {
        "genome": file_identity(genome),
        "model": model_identity(directory),
        "splice_model": None if site_directory is None else model_identity(site_directory),
        "options": options.fingerprint(),
        "decoding": asdict(decoding),
        "outputs": [bool(outputs.proteins), bool(outputs.cds_fasta)],
    }
    partial.start(fingerprint, resume=options.resume)
    return _Run(
        options=options,
        decoding=decoding,
        parts=parts,
        predictor=predictor,
        max_tokens=model.config.max_tokens,
        window=options.window or settings.window,
        hmm_decoder=parts.hmm_decoder(decoding.hmm) if hmm else None,
        site_model=site_model,
        partial=partial,
    )


def _annotate_record(
    run: _Run,
    index: int,
    record: FastaRecord,
    spans: list[tuple[int, int]],
    outputs: Outputs,
    progress: Callable[[int], None] | None,
) -> None:
    """Predict, decode and keep one sequence's genes (its ``spans``, all of it by default)."""
    scorer: SiteScorer | None = None
    if run.site_model is not None:
        scorer = site_scorer(run.site_model, record.sequence, run.predictor.device)
    transcripts: list[Transcript] = []
    for start, end in spans:
        blocks = predict_tracks(
            run.predictor,
            record.sequence[start:end],
            window=run.window or run.max_tokens,  # None only for all-N so far
            overlap=run.options.overlap,
            block_size=run.options.block_size,
            progress=progress,
        )
        if run.tracks is not None:
            blocks = _teed(blocks, run.tracks, record.name, start)
        transcripts.extend(_transcripts(run, blocks, record.sequence, record.name, start, scorer))
    if run.tracks is not None:
        run.tracks.end_sequence(record.name, record.length)
    genes = name_genes(record.name, transcripts)
    run.partial.finish(index, record.name, record.length, genes, record.sequence, outputs)
    coding = sum(gene.is_coding for gene in genes)
    logger.info(
        "%s: %d bp, %d genes (%d coding, %d non-coding)",
        record.name,
        record.length,
        len(genes),
        coding,
        len(genes) - coding,
    )


def _transcripts(
    run: _Run,
    blocks: Iterable[TrackBlock],
    sequence: str,
    seqid: str,
    offset: int,
    scorer: SiteScorer | None,
) -> Iterator[Transcript]:
    """The run's decoder over a stream of track blocks."""
    if run.hmm_decoder is not None:
        return hmm_transcripts(
            blocks, sequence, seqid=seqid, offset=offset, decoder=run.hmm_decoder,
            site_scorer=scorer,
        )  # fmt: skip
    return call_transcripts(
        blocks, sequence, seqid=seqid, offset=offset, options=run.decoding.threshold,
        splice_table=run.parts.splice_table, site_scorer=scorer,
    )  # fmt: skip


def _log_summary(genome: str, summary: AnnotateSummary) -> None:
    if summary.genes == 0:
        warn(f"no genes found in {display_name(genome)}; wrote a GFF3 without features")
    logger.info(
        "annotated %s (%d bp) in %.1f s: %s, %d coding%s",
        plural(summary.sequences, "sequence"),
        summary.nucleotides,
        summary.seconds,
        plural(summary.genes, "gene"),
        summary.coding,
        f"; {plural(summary.resumed, 'sequence')} kept from the interrupted run"
        if summary.resumed
        else "",
    )


def _teed(
    blocks: Iterable[TrackBlock], tracks: TrackWriter, seqid: str, offset: int
) -> Iterator[TrackBlock]:
    """Pass blocks on after writing them to the browser tracks."""
    for block in blocks:
        tracks.add(seqid, offset + block.start, block.probabilities)
        yield block


def _check_regions(wanted: dict[str, list[Region]] | None, seen: set[str]) -> None:
    missing = sorted(set(wanted or ()) - seen)
    if missing:
        raise ConfigError(f"--regions: the genome has no sequence named {missing[0]!r}")
