"""Command-line interface: parses options, calls the library, maps errors to exit codes.

Exit codes: 0 success, 2 bad input or usage (one-line message, no traceback unless ``--debug``),
1 an unexpected internal error, 130 interrupted.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import warnings
from collections.abc import Sequence

import click

from genatator import __version__
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


# -- genome and annotation utilities ----------------------------------------------------------


@cli.command()
@click.argument("genome", type=click.Path(dir_okay=False, allow_dash=True))
@output_option("TSV")
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
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write tokenizer.json into.",
)
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
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Model directory to create.",
)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit status (never raises for user errors)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="genatator", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return 2
    except click.exceptions.Abort:
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
        if debug:
            raise
        click.echo(
            f"genatator: internal error: {type(error).__name__}: {error} "
            "(rerun with --debug for a traceback)",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
