"""``genatator annotate``: FASTA → probability tracks → transcripts → GFF3, sequence by sequence."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from genatator._io import atomic_output, check_output, display_name, is_special_output
from genatator.annotation.models import CODING_KIND, Gene, Transcript
from genatator.annotation.write import write_gff3
from genatator.decode.content import CodonModel
from genatator.decode.counting import has_gene_model, load_gene_model
from genatator.decode.hmm import HmmDecoder
from genatator.decode.options import (
    DecodeOverrides,
    Decoding,
    HmmOptions,
    missing_gene_model,
)
from genatator.decode.parameters import GeneModelParameters
from genatator.decode.segments import SiteScorer, hmm_transcripts
from genatator.decode.sites import SiteMatrices
from genatator.distributed import Distributed, init_distributed
from genatator.errors import (
    ConfigError,
    GenatatorError,
    GenatatorWarning,
    InputError,
)
from genatator.genome import read_fasta
from genatator.inference import (
    TrackBlock,
    WindowPredictor,
    fit_window,
    predict_tracks,
    resolve_device,
)
from genatator.model.directory import load_model_directory
from genatator.model.files import resolve_model_dir
from genatator.model.settings import SETTINGS_FILE, InferenceSettings
from genatator.postprocess import SpliceTable, ThresholdOptions, decode_region, gene_regions
from genatator.postprocess.cds import coding_sequence, protein
from genatator.regions import Region, regions_by_sequence
from genatator.shards import BALANCES, ShardSelector
from genatator.splice.models import SpliceModel, load_splice_model
from genatator.splice.scoring import score_region
from genatator.splice.windows import encode
from genatator.tracks import TrackWriter

logger = logging.getLogger(__name__)

#: A gene region still open after this many nucleotides is decoded as it stands: it bounds
#: memory when a model calls a whole chromosome genic (an untrained one, say). The longest known
#: genes (human DMD, 2.2 Mb) fit.
MAX_GENE_LENGTH = 3_000_000
#: Sidecar directory beside the output holding finished sequences, for ``--resume``.
PARTIAL_SUFFIX = ".genatator-partial"
_RUN_FILE = "run.json"
_FASTA_WIDTH = 60


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


@dataclass
class AnnotateSummary:
    """What a run did, for the closing log line and for tests."""

    sequences: int = 0
    nucleotides: int = 0
    genes: int = 0
    coding: int = 0
    resumed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Outputs:
    """Where results go; ``None`` means not asked for."""

    gff3: str
    proteins: str | None = None
    cds_fasta: str | None = None
    tracks: str | None = None
    track_format: str = "bigwig"


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
    if world.enabled and (genome == "-" or _Partial.is_private(outputs.gff3)):
        raise ConfigError(
            "under torchrun, give the genome and -o as files, not '-', devices or FIFOs"
        )
    if options.resume and _Partial.is_private(outputs.gff3):
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
    # Every output path is checked before any work: a typo must not cost a whole run.
    for path in (outputs.gff3, outputs.proteins, outputs.cds_fasta):
        if path is not None:
            check_output(path)
    wanted = regions_by_sequence(options.regions)
    # Before the model loads: --balance length reads the genome's lengths (or its .fai) first.
    selector = ShardSelector(genome, options.shard, options.balance, wanted)

    directory = resolve_model_dir(model_source)
    settings = InferenceSettings.load(directory)
    # Settings and options first: a bad one fails before anything heavy is loaded.
    decoding = options.decoding or model_decoding(settings, directory, options.overrides)
    site_directory = model_splice_model(settings, directory, options)
    if site_directory is None and options.overrides.site_shift is not None:
        raise ConfigError("--splice-shift needs --splice-model")
    model, tokenizer = load_model_directory(directory)
    parts = load_decoder_parts(directory, settings=settings, gene_model=decoding.decoder == "hmm")
    splice_table = parts.splice_table
    hmm_decoder = parts.hmm_decoder(decoding.hmm) if decoding.decoder == "hmm" else None
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
    partial = _Partial(outputs.gff3, world)
    fingerprint = {
        "genome": _file_identity(genome),
        "model": _model_identity(directory),
        "splice_model": None if site_directory is None else _model_identity(site_directory),
        "options": options.fingerprint(),
        "decoding": asdict(decoding),
        "outputs": [bool(outputs.proteins), bool(outputs.cds_fasta)],
    }
    partial.start(fingerprint, resume=options.resume)

    summary = AnnotateSummary()
    window = options.window or settings.window
    seen: set[str] = set()
    # Every selected sequence of the genome gets a ##sequence-region line in every shard, in
    # genome order, so merged shards list sequences as an unsharded run does.
    lengths: dict[str, int] = {}
    records = 0
    with contextlib.ExitStack() as stack:
        stack.callback(partial.discard_temporary)
        stack.push(partial.discard_on_bad_input)
        tracks = (
            stack.enter_context(TrackWriter(outputs.tracks, outputs.track_format))
            if outputs.tracks
            else None
        )
        for index, record in enumerate(read_fasta(genome)):
            records += 1
            seen.add(record.name)
            if wanted is None or record.name in wanted:
                lengths[record.name] = record.length
            if window is None and record.length > record.n_count:
                # Measured on the first record with bases whatever this process annotates, so
                # shards, ranks and resumed runs all use the same window.
                window = fit_window(tokenizer, record.sequence, model.config.max_tokens)
                logger.info(
                    "window: %d nt (fills %d tokens; the model records none; set --window)",
                    window,
                    model.config.max_tokens,
                )
            position = selector.position(index, record.name, record.length)
            if position is None:  # another shard's
                continue
            if position % world.world_size != world.rank:
                continue
            if wanted is not None and record.name not in wanted:
                continue
            if partial.done(index):
                summary.resumed += 1
                if progress:
                    progress(record.length)
                continue
            spans = (
                [(0, record.length)]
                if wanted is None
                else [(r.start, min(r.end, record.length)) for r in wanted[record.name]]
            )
            transcripts: list[Transcript] = []
            site_scorer = None
            if site_model is not None:
                site_scorer = _site_scorer(site_model, record.sequence, predictor.device)
            for start, end in spans:
                blocks = predict_tracks(
                    predictor,
                    record.sequence[start:end],
                    window=window or model.config.max_tokens,  # None only for all-N so far
                    overlap=options.overlap,
                    block_size=options.block_size,
                    progress=progress,
                )
                if tracks is not None:
                    blocks = _teed(blocks, tracks, record.name, start)
                if hmm_decoder is not None:
                    found = hmm_transcripts(
                        blocks,
                        record.sequence,
                        seqid=record.name,
                        offset=start,
                        decoder=hmm_decoder,
                        site_scorer=site_scorer,
                    )
                else:
                    found = call_transcripts(
                        blocks,
                        record.sequence,
                        seqid=record.name,
                        offset=start,
                        options=decoding.threshold,
                        splice_table=splice_table,
                        site_scorer=site_scorer,
                    )
                transcripts.extend(found)
            if tracks is not None:
                tracks.end_sequence(record.name, record.length)
            genes = name_genes(record.name, transcripts)
            partial.finish(index, record.name, record.length, genes, record.sequence, outputs)
            coding = sum(gene.is_coding for gene in genes)
            logger.info(
                "%s: %d bp, %d genes (%d coding, %d non-coding)",
                record.name,
                record.length,
                len(genes),
                coding,
                len(genes) - coding,
            )
        _check_regions(wanted, seen)
        selector.check_complete(records)
        world.barrier()
        if world.is_main:
            partial.assemble(outputs, lengths, summary)
    summary.seconds = time.monotonic() - started
    if world.is_main:
        if summary.genes == 0:
            _warn(f"no genes found in {display_name(genome)}; wrote a GFF3 without features")
        logger.info(
            "annotated %s (%d bp) in %.1f s: %s, %d coding%s",
            _count(summary.sequences, "sequence"),
            summary.nucleotides,
            summary.seconds,
            _count(summary.genes, "gene"),
            summary.coding,
            f"; {_count(summary.resumed, 'sequence')} kept from the interrupted run"
            if summary.resumed
            else "",
        )
    return summary


def call_transcripts(
    blocks: Iterable[TrackBlock],
    sequence: str,
    *,
    seqid: str,
    offset: int,
    options: ThresholdOptions,
    splice_table: SpliceTable,
    max_gene_length: int = MAX_GENE_LENGTH,
    site_scorer: SiteScorer | None = None,
) -> Iterator[Transcript]:
    """Transcripts of a stream of track blocks, as soon as no later block can change them.

    Blocks start at ``offset`` in ``sequence`` and are contiguous. A gene region is decoded once
    the track has reached ``options.max_region_gap`` non-genic bases past its end, so no region is
    ever cut at a block edge; only the still-open region is carried to the next block. The result
    does not depend on the block size (except for regions longer than ``max_gene_length``, which
    are decoded as they stand, with a warning). ``site_scorer(lo, hi)`` gives a splice-site
    model's scores of ``sequence[lo:hi]`` for :func:`decode_region`.
    """
    buffer = np.zeros((0, 5), dtype=np.float32)
    buffer_start = offset  # genome coordinate of buffer[0]
    blocks = iter(blocks)
    block = next(blocks, None)
    while block is not None:
        following = next(blocks, None)
        if len(buffer):
            buffer = np.concatenate([buffer, block.probabilities])
        else:
            buffer = block.probabilities
        final = following is None
        regions = gene_regions(buffer, options)
        keep_from = len(buffer)
        for start, end in regions:
            closed = final or len(buffer) - end >= options.max_region_gap
            if not closed and end - start > max_gene_length:
                _warn(
                    f"{seqid}:{buffer_start + start + 1}-{buffer_start + end}: a gene region "
                    f"longer than {max_gene_length} bp; decoding it as it stands"
                )
                closed = True
            if not closed:
                keep_from = start
                break
            lo, hi = buffer_start + start, buffer_start + end
            transcript = decode_region(
                buffer[start:end],
                sequence[lo:hi],
                seqid=seqid,
                offset=lo,
                options=options,
                splice_table=splice_table,
                site_scores=None if site_scorer is None else site_scorer(lo, hi),
            )
            if transcript is not None:
                yield transcript
        buffer = buffer[keep_from:]
        buffer_start += keep_from
        block = following


def _site_scorer(model: SpliceModel, sequence: str, device: torch.device) -> SiteScorer:
    """Scores of any stretch of ``sequence``, with context read from the rest of it."""
    codes = encode(sequence)

    def scorer(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        scores = score_region(model, codes, lo, hi, device=device)
        return scores.donor, scores.acceptor

    return scorer


def name_genes(seqid: str, transcripts: list[Transcript]) -> list[Gene]:
    """One gene per transcript, numbered along the sequence: ``<seqid>.g<n>`` / ``.g<n>.t1``.

    IDs carry the sequence name so shards of one genome merge without renaming.
    """
    ordered = sorted(transcripts, key=lambda t: (t.start, t.end, t.strand))
    genes = []
    for number, transcript in enumerate(ordered, start=1):
        gene_id = f"{seqid}.g{number}"
        transcript.id, transcript.gene_id = f"{gene_id}.t1", gene_id
        genes.append(Gene(gene_id, seqid, transcript.strand, [transcript]))
    return genes


@dataclass(frozen=True)
class DecoderParts:
    """What a model directory gives the decoders besides the network.

    Attributes:
        directory: the model directory.
        settings: its ``inference.json``.
        splice_table: its legal splice sites (else the canonical motifs).
        parameters: its gene-model parameters (``None``: no gene-model files, or not loaded).
        codon_model: its codon model (``None`` likewise).
        site_matrices: its splice-site matrices (``None``: none, or not loaded).
    """

    directory: Path
    settings: InferenceSettings
    splice_table: SpliceTable
    parameters: GeneModelParameters | None = None
    codon_model: CodonModel | None = None
    site_matrices: SiteMatrices | None = None

    def default_decoding(self, overrides: DecodeOverrides | None = None) -> Decoding:
        """The model's decoder and options (:func:`model_decoding`)."""
        return model_decoding(self.settings, self.directory, overrides or DecodeOverrides())

    def hmm_decoder(self, options: HmmOptions) -> HmmDecoder:
        """The gene-model decoder with ``options``.

        Raises:
            ConfigError: the directory has no gene-model files.
        """
        if self.parameters is None or self.codon_model is None:
            raise ConfigError(missing_gene_model(str(self.directory)))
        return HmmDecoder(
            self.parameters, self.splice_table, options, self.codon_model, self.site_matrices
        )


def load_decoder_parts(
    directory: str | Path,
    *,
    settings: InferenceSettings | None = None,
    gene_model: bool | None = None,
) -> DecoderParts:
    """A model directory's settings, splice table and (when present) gene model.

    Args:
        directory: the model directory.
        settings: its settings, when already loaded.
        gene_model: load the gene-model files (``None``: when present; True: they must be).

    Raises:
        ModelError: a malformed settings or gene-model file.
    """
    directory = Path(directory)
    settings = settings if settings is not None else InferenceSettings.load(directory)
    parameters = codon_model = matrices = None
    if gene_model or (gene_model is None and has_gene_model(directory)):
        parameters, codon_model, matrices = load_gene_model(directory)
    table = model_splice_table(settings)
    return DecoderParts(directory, settings, table, parameters, codon_model, matrices)


def model_decoding(
    settings: InferenceSettings, directory: Path, overrides: DecodeOverrides
) -> Decoding:
    """A model's decoder and decoding defaults (its ``inference.json``) with ``overrides`` on top.

    The decoder is ``overrides.decoder``, else the model's, else ``hmm`` when the model
    directory has gene-model files (``genatator gene-model count``), else ``threshold``.

    Raises:
        ModelError: the model's ``decode``, ``hmm`` or ``decoder`` entry is bad, or its default
            decoder is hmm but the gene-model files are missing.
        ConfigError: ``--decoder hmm`` without the gene-model files, or a bad override.
    """
    return Decoding.resolve(
        decode=settings.decode,
        hmm=settings.hmm,
        decoder=settings.decoder,
        overrides=overrides,
        gene_model=has_gene_model(directory),
        source=str(directory / SETTINGS_FILE),
        directory=str(directory),
    )


def model_splice_model(
    settings: InferenceSettings, directory: Path, options: AnnotateOptions
) -> Path | None:
    """The splice-site model directory ``annotate`` uses: ``options.splice_model``, else the
    model's default (unless ``options.default_splice_model`` is False), else none.

    A relative path in the model's settings is read from the model directory first.

    Raises:
        ModelError: the splice model cannot be found.
    """
    if options.splice_model is not None:
        return resolve_model_dir(options.splice_model)
    if not options.default_splice_model or settings.splice_model is None:
        return None
    beside = directory / settings.splice_model
    return beside if beside.is_dir() else resolve_model_dir(settings.splice_model)


def model_splice_table(settings: InferenceSettings) -> SpliceTable:
    """The model's legal splice sites (its ``inference.json``), else the canonical motifs."""
    if settings.splice_table is None:
        logger.info("the model records no splice-site table; using canonical GT/GC/AT-AG/AC")
        return SpliceTable.canonical()
    try:
        return SpliceTable.from_dict(settings.splice_table)
    except ValueError as exc:
        raise ConfigError(f"the model's splice-site table is malformed: {exc}") from None


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


def _file_identity(path: str) -> list:
    if path == "-":
        return ["<stdin>"]
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(exc.strerror or "cannot read the file", path=path) from None
    return [str(Path(path).resolve()), info.st_size, info.st_mtime_ns]


def _model_identity(directory: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(os.listdir(directory)):
        file = directory / name
        if file.is_file():
            info = file.stat()
            digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def _count(n: int, noun: str) -> str:
    """``1 sequence``, ``2 sequences``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _warn(message: str) -> None:
    warnings.warn(message, GenatatorWarning, stacklevel=3)


class _Partial:
    """The sidecar directory of finished sequences, and the final assembly of the outputs.

    Each finished sequence leaves ``<index>.gff3`` (its genes, without directives), optional
    ``.faa``/``.fna`` and, written last, ``<index>.json`` naming it: a sequence counts as done
    only when its marker exists, so a kill at any moment loses at most the sequence in progress.
    Output to stdout, a device or a FIFO has no place beside it: a private directory is used.
    """

    def __init__(self, output: str, world: Distributed) -> None:
        self.world = world
        self.private = self.is_private(output)
        self.directory: Path | None = None if self.private else Path(output + PARTIAL_SUFFIX)

    @staticmethod
    def is_private(output: str) -> bool:
        """True when ``output`` gets a private, temporary sidecar (stdout, a device, a FIFO)."""
        return output == "-" or is_special_output(output)

    def start(self, fingerprint: dict, *, resume: bool) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="genatator-annotate-"))
        elif self.world.is_main:
            run_file = self.directory / _RUN_FILE
            if resume and run_file.is_file():
                saved = json.loads(run_file.read_text(encoding="utf-8"))
                if saved != json.loads(json.dumps(fingerprint)):  # tuples read back as lists
                    raise ConfigError(
                        f"{self.directory}: the interrupted run used another genome, model or "
                        "options; rerun without --resume to start over"
                    )
            else:
                if self.directory.exists():
                    self._discard_interrupted(resume=resume)
                self.directory.mkdir(parents=True)
                with atomic_output(run_file) as handle:
                    handle.write(json.dumps(fingerprint, indent=1) + "\n")
        self.world.barrier()

    def _discard_interrupted(self, *, resume: bool) -> None:
        """Remove an earlier run's sidecar, saying first what finished work goes with it."""
        assert self.directory is not None
        finished = len(self._markers())
        if finished and not resume:
            _warn(
                f"{self.directory}: discarded {_count(finished, 'finished sequence')} of an "
                "interrupted run and started over; next time, rerun with --resume to keep them"
            )
        shutil.rmtree(self.directory)

    def _markers(self) -> list[Path]:
        """The markers of the finished sequences in the sidecar."""
        assert self.directory is not None
        return [path for path in self.directory.glob("*.json") if path.name != _RUN_FILE]

    def discard_temporary(self) -> None:
        """Remove the private directory of a stdout, device or FIFO run (a file's is kept)."""
        if self.private and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def discard_on_bad_input(self, exc_type: type | None, *_: object) -> bool:
        """Remove the sidecar when the run stops on bad input: resuming could not help, as
        the input must change. A kill or a crash keeps it for ``--resume``."""
        bad_input = exc_type is not None and issubclass(exc_type, GenatatorError)
        if bad_input and self.world.is_main and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        return False

    def done(self, index: int) -> bool:
        assert self.directory is not None
        return (self.directory / f"{index:08d}.json").is_file()

    def finish(
        self,
        index: int,
        seqid: str,
        length: int,
        genes: list[Gene],
        sequence: str,
        outputs: Outputs,
    ) -> None:
        assert self.directory is not None
        stem = self.directory / f"{index:08d}"
        with atomic_output(f"{stem}.gff3") as handle:
            write_gff3(genes, handle, header=False, sequence_regions=False)
        if outputs.proteins:
            with atomic_output(f"{stem}.faa") as handle:
                handle.write(_fasta(genes, sequence, protein))
        if outputs.cds_fasta:
            with atomic_output(f"{stem}.fna") as handle:
                handle.write(_fasta(genes, sequence, coding_sequence))
        marker = {
            "index": index,
            "seqid": seqid,
            "length": length,
            "genes": len(genes),
            "coding": sum(gene.is_coding for gene in genes),
        }
        with atomic_output(f"{stem}.json") as handle:
            handle.write(json.dumps(marker) + "\n")

    def assemble(self, outputs: Outputs, lengths: dict[str, int], summary: AnnotateSummary) -> None:
        """Write the final files from the finished sequences, then remove the sidecar."""
        assert self.directory is not None
        markers = sorted(
            (json.loads(path.read_text(encoding="utf-8")) for path in self._markers()),
            key=lambda marker: marker["index"],
        )
        summary.sequences = len(markers)
        summary.nucleotides = sum(marker["length"] for marker in markers)
        summary.genes = sum(marker["genes"] for marker in markers)
        summary.coding = sum(marker["coding"] for marker in markers)
        stems = [self.directory / f"{marker['index']:08d}" for marker in markers]
        with atomic_output(outputs.gff3) as handle:
            write_gff3([], handle, sequence_lengths=lengths)
            _concatenate(handle, (f"{stem}.gff3" for stem in stems))
        if outputs.proteins:
            with atomic_output(outputs.proteins) as handle:
                _concatenate(handle, (f"{stem}.faa" for stem in stems))
        if outputs.cds_fasta:
            with atomic_output(outputs.cds_fasta) as handle:
                _concatenate(handle, (f"{stem}.fna" for stem in stems))
        shutil.rmtree(self.directory, ignore_errors=True)


def _concatenate(handle, paths: Iterable[str]) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        with open(path, encoding="utf-8") as part:
            shutil.copyfileobj(part, handle)


def _fasta(genes: list[Gene], sequence: str, make: Callable[..., str]) -> str:
    """FASTA of every coding transcript's protein or CDS (``make``), 60 letters a line."""
    lines = []
    for gene in genes:
        for transcript in gene.transcripts:
            if transcript.kind != CODING_KIND or not transcript.cds:
                continue
            text = make(transcript, sequence)
            lines.append(f">{transcript.id} gene={gene.id} {_location(transcript)}")
            lines.extend(text[i : i + _FASTA_WIDTH] for i in range(0, len(text), _FASTA_WIDTH))
    return "\n".join(lines) + "\n" if lines else ""


def _location(transcript: Transcript) -> str:
    return f"{transcript.seqid}:{transcript.start + 1}-{transcript.end}({transcript.strand})"
