"""Command-line interface: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 success, 2 bad input or usage (one-line message, no traceback unless ``--debug``),
1 an unexpected internal error, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import warnings
from collections.abc import Sequence

import click

from genatator import __version__
from genatator.bundles import DEFAULT_BUNDLE as DEFAULT_MODEL
from genatator.cli_common import apply_threads, threads_option, verbosity_options
from genatator.cli_splice import splice
from genatator.decode.options import DECODERS
from genatator.errors import GenatatorError, GenatatorWarning

logger = logging.getLogger("genatator")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genatator")
@click.option("--debug", is_flag=True, help="Show full tracebacks and debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only print warnings and errors.")
def cli(debug: bool, quiet: bool) -> None:
    """De novo gene annotation with a DNA language model (GENATATOR)."""
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="genatator: %(message)s", stream=sys.stderr, force=True)
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
    """Print our own warnings as one plain line; others keep Python's format (with location)."""
    if issubclass(category, GenatatorWarning):
        click.echo(f"genatator: warning: {message}", err=True)
    else:
        click.echo(
            warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False
        )


def output_option(kind: str):  # type: ignore[no-untyped-def]
    """``-o/--output FILE`` for a command that writes one file, stdout by default."""
    return click.option(
        "-o",
        "--output",
        default="-",
        show_default=True,
        type=click.Path(dir_okay=False, allow_dash=True),
        help=f"{kind} output ('-': stdout).",
    )


def directory_option(help_text: str, name: str = "output"):  # type: ignore[no-untyped-def]
    """Required ``-o/--output DIR`` for a command that writes a directory."""
    return click.option(
        "-o", "--output", name, required=True, type=click.Path(file_okay=False), help=help_text
    )


# -- genome and annotation utilities ----------------------------------------------------------


@cli.command()
@click.argument("genome", type=click.Path(dir_okay=False, allow_dash=True))
@output_option("TSV")
@verbosity_options
def stats(genome: str, output: str) -> None:
    """Per-sequence length, N fraction and soft-masked fraction of a FASTA file (TSV)."""
    from genatator._io import atomic_output
    from genatator.genome import sequence_stats

    records = sequence_stats(genome)
    first = next(records, None)  # a malformed first record fails before anything is written
    with atomic_output(output) as handle:
        handle.write("name\tlength\tn_fraction\tsoft_masked_fraction\n")
        for record in itertools.chain([first] if first else [], records):
            handle.write(
                f"{record.name}\t{record.length}\t{record.n_fraction:.6f}\t"
                f"{record.soft_masked_fraction:.6f}\n"
            )


@cli.command()
@click.argument("annotation", type=click.Path(dir_okay=False, allow_dash=True))
@output_option("GFF3")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(["auto", "gff3", "gtf"]),
    default="auto",
    show_default=True,
    help="Input format.",
)
@click.option(
    "--lenient",
    is_flag=True,
    help="Skip malformed lines with a counted warning instead of failing.",
)
@verbosity_options
def convert(annotation: str, output: str, input_format: str, lenient: bool) -> None:
    """Normalise a GFF3 or GTF annotation into genatator's GFF3 (sorted, SO types, phases)."""
    from genatator.annotation import read_annotation, save_gff3

    # With --lenient the reader warns once with the count of skipped lines and the first one.
    parsed = read_annotation(annotation, format=input_format, lenient=lenient)
    save_gff3(parsed, output)
    logger.info(
        "%d genes, %d transcripts written to %s",
        len(parsed.genes),
        parsed.n_transcripts,
        "<stdout>" if output == "-" else output,
    )


# -- tokenizer and model ---------------------------------------------------------------------


@cli.group()
def tokenizer() -> None:
    """Build BPE tokenizers in the GENA-LM format."""


@tokenizer.command("train")
@click.argument("genome", type=click.Path(dir_okay=False, allow_dash=True))
@directory_option("Directory to write tokenizer.json into.")
@click.option(
    "--vocab-size",
    default=4096,
    show_default=True,
    type=click.IntRange(min=18),
    help="Vocabulary size, special tokens and letters included.",
)
@click.option(
    "--max-bases",
    default=10_000_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Train on a uniform sample of this many bases.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the sample.")
@verbosity_options
def tokenizer_train(genome: str, output: str, vocab_size: int, max_bases: int, seed: int) -> None:
    """Train a BPE tokenizer on GENOME (FASTA, plain/gzip/bgzip, '-' for stdin)."""
    from genatator.tokenizer import train_tokenizer_on_fasta

    trained = train_tokenizer_on_fasta(
        genome, vocab_size=vocab_size, max_bases=max_bases, seed=seed
    )
    path = trained.save_pretrained(output)
    logger.info("tokenizer with %d entries written to %s", trained.vocab_size, path)


@cli.group()
def model() -> None:
    """Create and inspect model directories."""


@model.command("init")
@click.option(
    "--preset",
    type=click.Choice(["tiny", "small", "gena-base", "gena-large"]),
    default="tiny",
    show_default=True,
    help="Model size.",
)
@directory_option("Model directory to create.")
@click.option(
    "--tokenizer",
    "tokenizer_path",
    type=click.Path(exists=False),
    help="tokenizer.json or a directory holding one (default: the backbone's, else "
    "the bundled 4096-entry fly tokenizer).",
)
@click.option(
    "--backbone",
    help="Initialise the encoder from GENA-LM weights: a checkpoint "
    "directory or a Hugging Face hub id.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random init.")
@verbosity_options
def model_init(
    preset: str, output: str, tokenizer_path: str | None, backbone: str | None, seed: int
) -> None:
    """Create a model directory with random weights (or a GENA-LM encoder with --backbone).

    The result is structurally complete (config.json, model.safetensors, tokenizer.json) and
    loads wherever a trained model does, but its predictions are meaningless until trained.
    """
    from genatator.model.directory import init_model_directory

    directory = init_model_directory(
        output, preset=preset, tokenizer=tokenizer_path, backbone=backbone, seed=seed
    )
    logger.info("model directory written to %s", directory)


@cli.group()
def models() -> None:
    """List and describe the trained models shipped with genatator."""


@models.command("list")
def models_list() -> None:
    """One line per bundled model: its name and the summary line of its card."""
    from genatator.bundles import bundles

    found = bundles()
    if not found:
        logger.warning("no bundled models in this installation; pass --model DIR or a hub id")
    for bundle in found:
        click.echo(f"{bundle.name}\t{bundle.summary}")


@models.command("show")
@click.argument("name")
def models_show(name: str) -> None:
    """Print a bundled model's card (data, training, measured accuracy, limitations)."""
    from genatator.bundles import get_bundle

    click.echo(get_bundle(name).card, nl=False)


def derive_cds_option(function):  # type: ignore[no-untyped-def]
    """``--derive-cds none|longest-orf`` (gene-model count, train)."""
    from genatator.annotation.orf import DERIVE_CDS_RULES

    return click.option(
        "--derive-cds",
        type=click.Choice(DERIVE_CDS_RULES),
        default="none",
        show_default=True,
        help="longest-orf: a transcript without CDS whose coding status is claimed or unknown "
        "(mRNA, or any transcript of an exon-only annotation such as GENCODE's canonical "
        "table) takes its longest complete ORF of >= 100 codons as CDS (docs/annotate.md).",
    )(function)


@cli.group("gene-model")
def gene_model() -> None:
    """Count the gene model that `annotate --decoder hmm` needs."""


@gene_model.command("count")
@click.option(
    "--genome",
    "genomes",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="FASTA (repeatable, paired with --annotation in order).",
)
@click.option(
    "--annotation",
    "annotations",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="GFF3/GTF of the matching --genome.",
)
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Model directory to write gene_model.json and codon_model.npz into.",
)
@click.option(
    "--exclude-regions",
    help="Leave out these regions (e.g. held-out ones): chr:start-end[,...] (1-based).",
)
@click.option(
    "--order",
    type=click.IntRange(min=0, max=8),
    help="Markov order of the codon model [default: chosen from the amount of coding DNA].",
)
@click.option(
    "--orf-genome",
    type=click.Path(exists=True, dir_okay=False),
    help="More coding DNA for the codon model: a FASTA whose --orf-annotation has exons only.",
)
@click.option(
    "--orf-annotation",
    type=click.Path(exists=True, dir_okay=False),
    help="GFF3/GTF of --orf-genome: each spliced transcript's longest ORF (>= 100 codons) "
    "counts as coding.",
)
@derive_cds_option
@verbosity_options
def gene_model_count(
    genomes: tuple[str, ...],
    annotations: tuple[str, ...],
    model_dir: str,
    exclude_regions: str | None,
    order: int | None,
    orf_genome: str | None,
    orf_annotation: str | None,
    derive_cds: str,
) -> None:
    """Count gene-structure parameters and a codon model from genomes and their annotations.

    \b
    genatator gene-model count --genome g.fa --annotation g.gff3 --model RUN/best
    genatator gene-model count --genome a.fa --annotation a.gtf --genome b.fa \\
        --annotation b-exons-only.gtf --derive-cds longest-orf --model RUN/best

    Genes overlapping --exclude-regions are left out, and so are those regions' bases.
    """
    from genatator.decode.counting import count_into_model_directory
    from genatator.regions import parse_regions

    exclude = parse_regions(exclude_regions, option="--exclude-regions") if exclude_regions else []
    if len(genomes) != len(annotations):
        raise click.UsageError("give each --genome its --annotation")
    if (orf_genome is None) != (orf_annotation is None):
        raise click.UsageError("give --orf-genome and --orf-annotation together")
    counts = count_into_model_directory(
        model_dir,
        list(zip(genomes, annotations)),
        exclude=exclude,
        order=order,
        orf_sources=[(orf_genome, orf_annotation)] if orf_genome and orf_annotation else [],
        derive_cds=derive_cds,
    )
    logger.info(
        "%d genes over %d bp counted into %s (codon model of order %d)",
        counts.genes,
        counts.genome_length,
        model_dir,
        counts.codon_model.order,
    )


# -- training -----------------------------------------------------------------------------------


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from genatator.training.config import parse_duration

    return None if value is None else parse_duration(value)


@cli.command(context_settings={"show_default": True})
@click.option(
    "--genome",
    "genomes",
    multiple=True,
    help="Training FASTA (repeatable, paired with --annotation in order).",
)
@click.option(
    "--annotation", "annotations", multiple=True, help="GFF3/GTF of the preceding --genome."
)
@click.option(
    "--val-genome", "val_genomes", multiple=True, help="Held-out FASTA for validation (repeatable)."
)
@click.option(
    "--val-annotation",
    "val_annotations",
    multiple=True,
    help="GFF3/GTF of the preceding --val-genome.",
)
@click.option(
    "--val-regions", help="Held-out regions of the training genomes: chr:start-end[,...] (1-based)."
)
@derive_cds_option
@directory_option("Run directory (data cache, checkpoints, metrics, best/).", "run_dir")
@click.option(
    "--resume", is_flag=True, help="Continue the run in --output from its latest checkpoint."
)
@click.option(
    "--model", "model_dir", help="Start from this model directory (e.g. from `model init`)."
)
@click.option(
    "--preset",
    type=click.Choice(["tiny", "small", "gena-base", "gena-large"]),
    default="tiny",
    help="Model size when starting without --model.",
)
@click.option(
    "--tokenizer", "tokenizer_path", help="tokenizer.json or a directory holding one (new models)."
)
@click.option("--backbone", help="Start the encoder from GENA-LM weights: a directory or a hub id.")
@click.option(
    "--window", type=int, help="Sample length in nt [default: fills the model's token budget]."
)
@click.option(
    "--transcript-fraction",
    type=float,
    default=0.5,
    help="Share of transcript-anchored samples (the rest are genome windows).",
)
@click.option(
    "--rc-augment",
    type=float,
    default=0.0,
    help="Probability of reverse-complementing a training sample.",
)
@click.option("--val-samples", type=int, default=256, help="Validation samples per evaluation.")
@click.option("--batch-size", type=int, default=1, help="Samples per process per micro-batch.")
@click.option("--grad-accum", type=int, default=1, help="Micro-batches per optimizer step.")
@click.option("--lr", type=float, default=5e-5, help="Peak learning rate (AdamW).")
@click.option(
    "--weight-decay", type=float, default=1e-4, help="AdamW weight decay (not on biases and norms)."
)
@click.option("--warmup-steps", type=int, default=1000, help="Linear warmup steps.")
@click.option(
    "--schedule",
    type=click.Choice(["constant", "cosine"]),
    default="constant",
    help="Learning rate after warmup.",
)
@click.option("--min-lr-ratio", type=float, default=0.0, help="Cosine floor as a fraction of --lr.")
@click.option("--clip", type=float, default=1.0, help="Gradient-norm clipping (0: off).")
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16"]),
    default="auto",
    help="auto: bf16 autocast on GPU, fp32 on CPU.",
)
@click.option("--curriculum", help="RMT segment caps by step, e.g. 8@0,32@20000,80@60000.")
@click.option(
    "--gradient-checkpointing",
    is_flag=True,
    help="Recompute encoder layers in backward (less memory).",
)
@click.option("--max-steps", type=int, default=100_000, help="Optimizer steps in total.")
@click.option(
    "--max-time",
    callback=_duration,
    help="Stop (with a checkpoint) after this long, e.g. 3600, 90m, 12h.",
)
@click.option(
    "--eval-every", type=int, default=1000, help="Validate every N steps (and at the end)."
)
@click.option(
    "--save-every", type=int, default=1000, help="Checkpoint every N steps (and at the end)."
)
@click.option(
    "--log-every", type=int, default=50, help="Write training loss and speed every N steps."
)
@click.option("--keep-checkpoints", type=int, default=3, help="Checkpoints kept (0: all).")
@click.option("--seed", type=int, default=42, help="Seed of initialisation and the sample stream.")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    help="auto: CUDA when available.",
)
@threads_option()
@verbosity_options
def train(**options: object) -> None:
    """Train an annotator on genomes with annotations (resumable; multi-GPU with torchrun).

    \b
    genatator train --genome g.fa --annotation g.gff3 --val-regions chr2:1-2000000 -o run/
    torchrun --nproc_per_node 4 -m genatator train ... -o run/

    The best model by validation exon F1 is written to RUN_DIR/best/, a model directory like
    the ones `model init` writes.
    """
    from click.core import ParameterSource

    from genatator.training.config import TrainConfig
    from genatator.training.trainer import train as run_training

    ctx = click.get_current_context()
    apply_threads(options.pop("threads"))  # type: ignore[arg-type]
    run_dir = options.pop("run_dir")
    resume = bool(options.pop("resume"))
    genomes, annotations = options.pop("genomes"), options.pop("annotations")
    val_genomes, val_annotations = options.pop("val_genomes"), options.pop("val_annotations")
    if len(genomes) != len(annotations) or len(val_genomes) != len(val_annotations):
        raise click.UsageError(
            "give each --genome its --annotation (and each --val-genome its --val-annotation)"
        )
    renamed = {"model_dir": "model", "tokenizer_path": "tokenizer"}
    values = {renamed.get(k, k): v for k, v in options.items()}
    values["sources"] = list(zip(genomes, annotations))
    values["val_sources"] = list(zip(val_genomes, val_annotations))
    given = {
        renamed.get(name, name): values[renamed.get(name, name)]
        for name in options
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    if genomes:
        given["sources"] = values["sources"]
    if val_genomes:
        given["val_sources"] = values["val_sources"]
    config = TrainConfig.from_dict(values) if genomes else None
    if config is None and not resume:
        raise click.UsageError("give at least one --genome with its --annotation")
    result = run_training(run_dir, config, resume=resume, given=given)
    if result.stopped_early:
        logger.info(
            "stopped at step %d of %d; continue with: genatator train --resume -o %s",
            result.step,
            result.max_steps,
            run_dir,
        )
    if result.best_step is not None and result.best_metrics is not None:
        logger.info(
            "best model (step %d, validation exon F1 %.4f) in %s",
            result.best_step,
            result.best_metrics["exon_f1"],
            os.path.join(str(run_dir), "best"),
        )


# -- annotation -------------------------------------------------------------------------------


@cli.command(context_settings={"show_default": True})
@click.argument("genome", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="GFF3 output ('-': stdout).",
)
@click.option(
    "-m",
    "--model",
    "model_source",
    default=DEFAULT_MODEL,
    help="A bundled model's name (genatator models list), a model directory "
    "(genatator train's RUN/best) or a hub id.",
)
@click.option("--regions", help="Only these parts, e.g. chr2R:1-500000,chrX:100-9000 (1-based).")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=8, help="Sequences per forward pass."
)
@click.option(
    "--window", type=click.IntRange(min=1), help="Nucleotides per window [default: the model's]."
)
@click.option(
    "--overlap",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.5,
    help="Fraction shared by adjacent windows.",
)
@click.option("--no-rc", is_flag=True, help="Skip the reverse-complement pass (about 2x faster).")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    default="auto",
    help="auto: bf16 (or fp16) autocast on GPU, fp32 on CPU.",
)
@threads_option()
@click.option(
    "--seed",
    type=int,
    default=0,
    help="Seeds torch's RNG (inference draws no random numbers; output does not depend on it).",
)
@click.option(
    "--decoder",
    type=click.Choice(DECODERS),
    help="hmm: the gene-model HMM over the network's tracks, splice sites and codon content; "
    "threshold: the paper's thresholds [default: the model's setting, else hmm when the model "
    "has gene-model files (genatator gene-model count), else threshold].",
)
@click.option(
    "--cds-mode",
    type=click.Choice(["model", "orf"]),
    help="model: the complete ORF that best matches the CDS track; orf: longest complete ORF "
    "[default: the model's setting, else model].",
)
@click.option(
    "--min-cds-codons",
    type=click.IntRange(min=0),
    help="A transcript is mRNA from this CDS length (codons, stop excluded), else lnc_RNA "
    "[default: the model's setting, else 100].",
)
@click.option("--no-lncrna", is_flag=True, help="Write protein-coding transcripts only.")
@click.option(
    "--no-splice-filter", is_flag=True, help="Keep exon boundaries with unseen dinucleotides."
)
@click.option(
    "--splice-model",
    help="Splice-site model (a bundled name such as splice-human, or a `splice train` "
    "directory) whose scores go into the decoding [default: the model's, if any].",
)
@click.option(
    "--no-splice-model",
    is_flag=True,
    help="Do not use the model's default splice-site model (dinucleotides only).",
)
@click.option(
    "--splice-shift",
    type=click.IntRange(min=0),
    help="Threshold decoder with a splice model: how far (nt) a splice boundary may move "
    "[default: 20].",
)
@click.option(
    "--proteins", type=click.Path(dir_okay=False, allow_dash=True), help="Protein FASTA output."
)
@click.option(
    "--cds-fasta", type=click.Path(dir_okay=False, allow_dash=True), help="CDS FASTA output."
)
@click.option(
    "--tracks",
    type=click.Path(file_okay=False),
    help="Directory for the five probability tracks (genome browsers).",
)
@click.option(
    "--track-format",
    type=click.Choice(["auto", "bigwig", "bedgraph"]),
    default="auto",
    help="auto: bigWig when pyBigWig is installed, else bedGraph.",
)
@click.option("--resume", is_flag=True, help="Keep sequences an interrupted run finished.")
@click.option("--shard", help="i/n: annotate shard i of n (job arrays; see --balance).")
@click.option(
    "--balance",
    type=click.Choice(["count", "length"]),
    default="count",
    help="How --shard splits the genome into whole sequences: count: every n-th sequence from "
    "the i-th; length: longest first, each to the shard with the fewest bases so far "
    "(genatator shard-plan prints the plan).",
)
@verbosity_options
def annotate(genome: str, output: str, model_source: str, **options: object) -> None:
    """Predict genes and transcripts of GENOME (FASTA, gzip or '-') as GFF3.

    \b
    genatator annotate genome.fa -o genes.gff3            # the bundled human model
    genatator annotate genome.fa -m fly -o genes.gff3
    zcat genome.fa.gz | genatator annotate - -m MODEL --no-rc > genes.gff3
    torchrun --nproc_per_node 4 -m genatator annotate genome.fa -m MODEL -o genes.gff3

    Progress (Mb done, Mb/s) and logs go to stderr. Outputs are written when the run ends,
    atomically; --resume after a kill keeps the sequences already finished.
    """
    from genatator.decode.options import DecodeOverrides
    from genatator.memory import reuse_freed_memory
    from genatator.pipeline import AnnotateOptions, Outputs, parse_shard
    from genatator.pipeline import annotate as run_annotate
    from genatator.regions import parse_regions
    from genatator.tracks import default_track_format

    track_format = str(options["track_format"])
    if track_format == "auto":
        track_format = default_track_format()
    if options["no_splice_model"] and options["splice_model"] is not None:
        raise click.UsageError("--splice-model and --no-splice-model exclude each other")
    if options["no_splice_model"] and options["splice_shift"] is not None:
        raise click.UsageError("--splice-shift needs a splice model, not --no-splice-model")
    if options["balance"] != "count" and not options["shard"]:
        raise click.UsageError("--balance needs --shard i/n")
    # Only what was given overrides the model's own decoding defaults (its inference.json).
    overrides = DecodeOverrides(
        decoder=options["decoder"],  # type: ignore[arg-type]
        cds_mode=options["cds_mode"],  # type: ignore[arg-type]
        min_cds_codons=options["min_cds_codons"],  # type: ignore[arg-type]
        lncrna=False if options["no_lncrna"] else None,
        splice_filter=False if options["no_splice_filter"] else None,
        site_shift=options["splice_shift"],  # type: ignore[arg-type]
    )
    regions = options["regions"]
    settings = AnnotateOptions(
        window=options["window"],  # type: ignore[arg-type]
        overlap=float(options["overlap"]),  # type: ignore[arg-type]
        batch_size=int(options["batch_size"]),  # type: ignore[call-overload]
        reverse_complement=not options["no_rc"],
        device=str(options["device"]),
        precision=str(options["precision"]),
        regions=tuple(parse_regions(str(regions))) if regions else None,
        shard=parse_shard(str(options["shard"])) if options["shard"] else (1, 1),
        balance=str(options["balance"]),
        overrides=overrides,
        splice_model=options["splice_model"],  # type: ignore[arg-type]
        default_splice_model=not options["no_splice_model"],
        resume=bool(options["resume"]),
        threads=apply_threads(options["threads"]),  # type: ignore[arg-type]
        seed=int(options["seed"]),  # type: ignore[call-overload]
    )
    outputs = Outputs(
        gff3=output,
        proteins=options["proteins"],  # type: ignore[arg-type]
        cds_fasta=options["cds_fasta"],  # type: ignore[arg-type]
        tracks=options["tracks"],  # type: ignore[arg-type]
        track_format=track_format,
    )
    reuse_freed_memory()
    with _progress_bar(genome) as advance:
        run_annotate(genome, outputs, model_source, settings, progress=advance)


@contextlib.contextmanager
def _progress_bar(genome: str):  # type: ignore[no-untyped-def]
    """A tqdm bar in Mb on stderr, shown only on a terminal and when logging at INFO."""
    from tqdm import tqdm

    enabled = sys.stderr.isatty() and logging.getLogger().getEffectiveLevel() <= logging.INFO
    if not enabled:
        yield None
        return
    total = _genome_length(genome)
    with tqdm(
        total=total / 1e6 if total else None,
        unit="Mb",
        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} Mb [{elapsed}<{remaining}, {rate_fmt}]"
        if total
        else None,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        yield lambda nucleotides: bar.update(nucleotides / 1e6)


def _genome_length(genome: str) -> int | None:
    """Total length from a ``.fai`` index beside the genome, for the progress bar's ETA."""
    index = f"{genome}.fai"
    if genome == "-" or not os.path.isfile(index):
        return None
    with open(index, encoding="utf-8") as handle:
        return sum(int(line.split("\t")[1]) for line in handle if line.strip())


@cli.command("shard-plan")
@click.argument("genome", type=click.Path(dir_okay=False))
@click.option("-n", "--shards", type=click.IntRange(min=1), required=True, help="How many shards.")
@click.option(
    "--balance",
    type=click.Choice(["count", "length"]),
    default="count",
    show_default=True,
    help="As annotate's --balance.",
)
@click.option("--regions", help="As annotate's --regions: weigh only these bases.")
@click.option(
    "--sequences", is_flag=True, help="One row per sequence (its shard), not one per shard."
)
@output_option("TSV")
@verbosity_options
def shard_plan(
    genome: str, shards: int, balance: str, regions: str | None, sequences: bool, output: str
) -> None:
    """Print which sequences each of `annotate --shard i/N --balance B` takes (TSV).

    The balance (largest shard / mean) goes to stderr. A `.fai` index beside GENOME is read
    instead of the genome when it is at least as new.
    """
    from genatator._io import atomic_output, check_output
    from genatator.regions import parse_regions, regions_by_sequence
    from genatator.shards import plan_genome

    check_output(output)
    wanted = regions_by_sequence(tuple(parse_regions(regions)) if regions else None)
    plan = plan_genome(genome, shards, balance, wanted)
    missing = sorted(set(wanted or ()) - set(plan.names))
    if missing:
        raise click.UsageError(f"--regions: the genome has no sequence named {missing[0]!r}")
    with atomic_output(output) as handle:
        handle.write(plan.sequence_table() if sequences else plan.shard_table())
    logger.info("%s", plan.summary())


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--fasta-order",
    type=click.Path(dir_okay=False),
    help="The inputs are --proteins or --cds-fasta files of shards: write their records with "
    "sequences in the order of this GFF3's ##sequence-region lines (the merged GFF3's).",
)
@output_option("GFF3 (FASTA with --fasta-order)")
@verbosity_options
def merge(inputs: tuple[str, ...], fasta_order: str | None, output: str) -> None:
    """Merge GFF3 files of `annotate --shard` runs into one sorted file with unique IDs."""
    from genatator.annotation import save_gff3
    from genatator.annotation.merge import merge_annotations, merge_fasta

    if fasta_order is not None:
        from genatator._io import atomic_output, check_output

        check_output(output)
        text = merge_fasta(list(inputs), fasta_order)
        with atomic_output(output) as handle:
            handle.write(text)
        logger.info("%d FASTA files merged into %s", len(inputs), output)
        return
    merged = merge_annotations(list(inputs))
    save_gff3(merged, output)
    logger.info("%d genes from %d files written to %s", len(merged.genes), len(inputs), output)


@cli.command()
@click.argument("prediction", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("reference", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Write the full report as JSON, not a table.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Also write a PNG of the headline numbers and recall by length (extra 'plot').",
)
@click.option(
    "--regions",
    help="Score only transcripts entirely inside chr:start-end[,chr:start-end...] (1-based).",
)
@click.option(
    "--lenient", is_flag=True, help="Skip malformed lines and transcripts with a warning."
)
@output_option("Report")
@verbosity_options
def evaluate(
    prediction: str,
    reference: str,
    as_json: bool,
    plot: str | None,
    regions: str | None,
    lenient: bool,
    output: str,
) -> None:
    """Score PRED against REF (GFF3 or GTF, any tool): exon, CDS, base and gene-level metrics."""
    import json

    from genatator._io import atomic_output
    from genatator.evaluation import evaluate_paths, format_text
    from genatator.regions import parse_regions

    evaluation = evaluate_paths(
        prediction,
        reference,
        regions=None if regions is None else parse_regions(regions),
        lenient=lenient,
    )
    report = evaluation.to_dict()
    if plot is not None:
        from genatator.evaluation.plot import write_plot

        write_plot(report, plot)
    with atomic_output(output) as handle:
        handle.write(json.dumps(report, indent=2) + "\n" if as_json else format_text(evaluation))


cli.add_command(splice)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status (never raises for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="genatator", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.UsageError as error:
        # One line, like every other error: the message names the option.
        click.echo(f"genatator: error: {error.format_message()}", err=True)
        return 2
    except click.ClickException as error:
        error.show()
        return 2
    except click.exceptions.Abort as abort:
        # click turns EOFError into Abort (Ctrl-D at a prompt, and genatator has none): one
        # that escaped a reader is a bug to report, not an interruption.
        if isinstance(abort.__cause__, EOFError):
            return _internal_error(abort.__cause__, debug)
        click.echo("genatator: interrupted", err=True)
        return 130
    except GenatatorError as error:
        if debug:
            raise
        click.echo(f"genatator: error: {error}", err=True)
        return 2
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        click.echo("genatator: interrupted", err=True)
        return 130
    except Exception as error:
        return _internal_error(error, debug)
    return 0


def _internal_error(error: BaseException, debug: bool) -> int:
    """Exit status 1 with a one-line report of an unexpected error (re-raised with --debug)."""
    if debug:
        raise error
    click.echo(
        f"genatator: internal error: {type(error).__name__}: {error} "
        "(rerun with --debug for a traceback)",
        err=True,
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
