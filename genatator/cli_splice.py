"""Click commands of ``genatator splice``: extract, train, evaluate and predict splice sites."""

from __future__ import annotations

import json
import logging

import click

from genatator.cli_common import apply_threads, threads_option, verbosity_options
from genatator.errors import ConfigError


def _echo(message: str) -> None:
    """A progress or summary line on stderr, unless -q asked for warnings and errors only."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        click.echo(f"genatator: {message}", err=True)


def _load_model(source: str, device: str, threads: int | None):  # type: ignore[no-untyped-def]
    """A splice model from a bundle name or directory, on the resolved device."""
    from genatator.inference import resolve_device
    from genatator.model.files import resolve_model_dir
    from genatator.splice.models import load_splice_model

    apply_threads(threads)
    resolved = resolve_device(device)
    return load_splice_model(resolve_model_dir(source), device=resolved), resolved


@click.group()
def splice() -> None:
    """Splice sites: datasets, donor/acceptor classifiers, honest metrics, genome scans."""


@splice.command(context_settings={"show_default": True})
@click.argument("genome", type=click.Path(dir_okay=False))
@click.argument("annotation", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="Dataset directory."
)
@click.option("--window", type=int, default=512, help="Window length (nt), site at its centre.")
@click.option("--margin", type=int, default=50, help="Minimum distance of negatives from sites.")
@click.option("--decoy-ratio", type=float, default=1.0, help="In-gene decoys per positive.")
@click.option(
    "--random-ratio", type=float, default=1.0, help="Random genomic negatives per positive."
)
@click.option(
    "--kinds",
    default="mRNA,lnc_RNA,transcript",
    help="Transcript kinds whose introns give sites ('all': every kind).",
)
@click.option("--canonical-only", is_flag=True, help="Keep only GT/GC/AT donors, AG/AC acceptors.")
@click.option("--max-n", type=float, default=0.1, help="Drop windows with more N than this.")
@click.option(
    "--val", help="Validation regions or sequences: chr:start-end or chr, comma-separated."
)
@click.option("--test", help="Test regions or sequences, as --val.")
@click.option("--seed", type=int, default=0, help="Seed of the negative sampling.")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset directory.")
@verbosity_options
def extract(genome: str, annotation: str, output: str, **options: object) -> None:
    """Windows around the intron-boundary sites of ANNOTATION in GENOME, with decoys.

    \b
    genatator splice extract genome.fa genes.gff3 -o data/ --val chr2R:1-1000000 --test chr3R
    """
    from genatator.splice.dataset import ExtractOptions, extract_dataset, parse_split

    kinds = str(options["kinds"])
    settings = ExtractOptions(
        window=int(options["window"]),  # type: ignore[call-overload]
        margin=int(options["margin"]),  # type: ignore[call-overload]
        decoy_ratio=float(options["decoy_ratio"]),  # type: ignore[arg-type]
        random_ratio=float(options["random_ratio"]),  # type: ignore[arg-type]
        kinds=None if kinds == "all" else tuple(k for k in kinds.split(",") if k),
        canonical_only=bool(options["canonical_only"]),
        max_n_fraction=float(options["max_n"]),  # type: ignore[arg-type]
        seed=int(options["seed"]),  # type: ignore[call-overload]
        val=parse_split(str(options["val"]), "--val") if options["val"] else [],
        test=parse_split(str(options["test"]), "--test") if options["test"] else [],
    )
    manifest = extract_dataset(
        genome, annotation, output, settings, log=_echo, overwrite=bool(options["overwrite"])
    )
    for split, counts in manifest["counts"].items():
        _echo(f"{split}: {json.dumps(counts, sort_keys=True)}")


def _dilations(text: str) -> tuple[int, ...]:
    """``1x4,4x4`` → ``(1, 1, 1, 1, 4, 4, 4, 4)``; a bare ``D`` is one block."""
    out: list[int] = []
    for part in text.split(","):
        dilation, _, count = part.strip().partition("x")
        if not dilation.isdigit() or not (count or "1").isdigit():
            raise click.BadParameter(f"{part.strip()!r} is not D or DxN", param_hint="--dilations")
        out.extend([int(dilation)] * int(count or "1"))
    return tuple(out)


@splice.command(context_settings={"show_default": True})
@click.argument("data", type=click.Path(file_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="Run directory."
)
@click.option(
    "--arch",
    type=click.Choice(["cnn", "mamba", "mamba2"]),
    default="cnn",
    help="cnn: dilated residual CNN (SpliceAI-400); mamba: the source's selective SSM window "
    "classifier; mamba2: bidirectional Mamba-2 (matmul-form SSD scan) that, like the cnn, "
    "scores every position of a genome in one pass.",
)
@click.option("--resume", is_flag=True, help="Continue the run in --output from last.pt.")
@click.option("--d-model", type=int, default=128, help="mamba: width.")
@click.option("--layers", type=int, default=4, help="mamba: blocks.")
@click.option("--d-state", type=int, default=16, help="mamba: state size.")
@click.option("--headdim", type=int, default=32, help="mamba2: channels per head.")
@click.option("--channels", type=int, default=32, help="cnn: channels.")
@click.option("--kernel", type=int, default=11, help="cnn: kernel width (odd).")
@click.option(
    "--dilations",
    default="1x4,4x4",
    help="cnn: dilation of each residual block, comma-separated, DxN for N blocks of D "
    "(SpliceAI-400: 1x4,4x4; ±600 nt: 1x4,4x4,10x4). The receptive field, Σ 2·(kernel−1)·D, "
    "must fit the data's --window.",
)
@click.option("--dropout", type=float, default=0.1, help="mamba: dropout.")
@click.option("--batch-size", type=int, default=32, help="Windows per step.")
@click.option("--lr", type=float, help="AdamW learning rate [mamba 1e-4, mamba2 and cnn 1e-3].")
@click.option(
    "--precision",
    type=click.Choice(["fp32", "bf16"]),
    default="fp32",
    help="bf16: autocast the training steps (weights, optimiser and validation stay fp32).",
)
@click.option("--weight-decay", type=float, default=0.01, help="AdamW weight decay.")
@click.option("--label-smoothing", type=float, default=0.1, help="Cross-entropy label smoothing.")
@click.option("--max-epochs", type=int, default=20, help="Passes over the training windows.")
@click.option("--eval-every", type=int, help="Validate every N steps [default: each epoch].")
@click.option("--early-stopping", type=int, default=10, help="Evaluations without improvement.")
@click.option("--max-steps", type=int, help="Stop after this many steps.")
@click.option("--max-time", type=float, help="Stop after this many seconds.")
@click.option(
    "--negatives",
    type=click.Choice(["both", "decoy", "random"]),
    default="both",
    help="Which negatives to train and validate on.",
)
@click.option("--seed", type=int, default=0, help="Seed of initialisation and shuffling.")
@click.option("--device", default="cpu", help="cpu, cuda or cuda:N.")
@threads_option()
@verbosity_options
def train(data: str, output: str, **options: object) -> None:
    """Train a splice-site classifier on DATA (from `splice extract`); best model in OUT/best.

    \b
    genatator splice train data/ -o run/ --arch cnn
    genatator splice train data/ -o run-mamba/ --arch mamba --device cuda
    """
    from genatator.splice.dataset import read_manifest
    from genatator.splice.models import SpliceModelConfig
    from genatator.splice.training import SpliceTrainConfig, train_splice

    arch = str(options["arch"])
    window = int(read_manifest(data)["options"]["window"])
    fields: dict[str, object] = {
        "arch": arch,
        "window": window,
        "dropout": options["dropout"],
        "d_model": options["d_model"],
        "channels": options["channels"],
        "kernel": options["kernel"],
        "dilations": _dilations(str(options["dilations"])),
        "n_layers": options["layers"],
        "d_state": options["d_state"],
        "headdim": options["headdim"],
    }
    model_config = SpliceModelConfig(**fields)  # type: ignore[arg-type]
    train_config = SpliceTrainConfig(
        batch_size=int(options["batch_size"]),  # type: ignore[call-overload]
        lr=options["lr"],  # type: ignore[arg-type]
        weight_decay=float(options["weight_decay"]),  # type: ignore[arg-type]
        label_smoothing=float(options["label_smoothing"]),  # type: ignore[arg-type]
        early_stopping=int(options["early_stopping"]),  # type: ignore[call-overload]
        max_epochs=int(options["max_epochs"]),  # type: ignore[call-overload]
        eval_every=options["eval_every"],  # type: ignore[arg-type]
        max_steps=options["max_steps"],  # type: ignore[arg-type]
        max_time_s=options["max_time"],  # type: ignore[arg-type]
        negatives=str(options["negatives"]),
        seed=int(options["seed"]),  # type: ignore[call-overload]
        device=str(options["device"]),
        threads=apply_threads(options["threads"]),  # type: ignore[arg-type]
        precision=str(options["precision"]),
    )
    summary = train_splice(
        model_config, train_config, data, output, resume=bool(options["resume"]), log=_echo
    )
    _echo(json.dumps(summary, sort_keys=True, default=str))


@splice.command(context_settings={"show_default": True})
@click.argument("model")
@click.option("--data", type=click.Path(file_okay=False), help="Dataset directory: balanced test.")
@click.option("--split", default="test", help="Which split of --data to score.")
@click.option("--genome", type=click.Path(dir_okay=False), help="FASTA for the genome-scale scan.")
@click.option("--annotation", type=click.Path(dir_okay=False), help="Its GFF3/GTF (the truth).")
@click.option("--regions", help="Held-out regions to scan, chr:start-end[,...] (1-based).")
@click.option("--json", "as_json", is_flag=True, help="Write the report as JSON.")
@click.option("--batch-size", type=int, default=256, help="Windows per forward pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@threads_option()
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Report ('-': stdout).",
)
@verbosity_options
def evaluate(model: str, **options: object) -> None:
    """Score MODEL on balanced held-out windows and on whole held-out regions.

    \b
    genatator splice evaluate run/best --data data/
    genatator splice evaluate splice-fly --genome g.fa --annotation a.gtf --regions chr2R:1-2000000
    """
    from genatator._io import atomic_output
    from genatator.regions import parse_regions
    from genatator.splice.evaluate import balanced_report, genome_scale
    from genatator.splice.site_metrics import format_balanced, format_genome_scale

    scan = [options["genome"], options["annotation"], options["regions"]]
    if any(scan) and not all(scan):
        raise ConfigError("a genome-scale scan needs --genome, --annotation and --regions")
    if options["data"] is None and not all(scan):
        raise ConfigError("give --data, or --genome/--annotation/--regions, or both")
    regions = parse_regions(str(options["regions"])) if all(scan) else None
    loaded, device = _load_model(model, str(options["device"]), options["threads"])  # type: ignore[arg-type]
    batch_size = int(options["batch_size"])  # type: ignore[call-overload]
    report: dict[str, object] = {"model": model}
    text = []
    if options["data"] is not None:
        balanced = balanced_report(
            loaded, str(options["data"]), split=str(options["split"]), batch_size=batch_size,
            device=device,
        )  # fmt: skip
        report["balanced"] = balanced
        for name, metrics in balanced.items():
            text.append(f"balanced windows, {name} negatives\n{format_balanced(metrics)}")
    if regions is not None:
        scanned = genome_scale(
            loaded, str(options["genome"]), str(options["annotation"]), regions,
            batch_size=batch_size, device=device, log=_echo,
        )  # fmt: skip
        report["genome_scale"] = scanned
        text.append(format_genome_scale(scanned))
    with atomic_output(str(options["output"])) as handle:
        if options["as_json"]:
            handle.write(json.dumps(report, indent=2, default=float) + "\n")
        else:
            handle.write("\n\n".join(text) + "\n")


@splice.command(context_settings={"show_default": True})
@click.argument("model")
@click.argument("genome", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="BED of predicted sites ('-': stdout).",
)
@click.option("--min-score", type=float, default=0.5, help="Lowest site score written.")
@click.option("--regions", help="Only these parts, chr:start-end[,...] (1-based).")
@click.option(
    "--tracks", type=click.Path(file_okay=False), help="Directory for four bedGraph score tracks."
)
@click.option("--batch-size", type=int, default=64, help="Chunks or windows per forward pass.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@threads_option()
@verbosity_options
def predict(model: str, genome: str, output: str, **options: object) -> None:
    """Score every position of GENOME on both strands; write donor/acceptor sites as BED.

    \b
    genatator splice predict splice-fly genome.fa -o sites.bed --min-score 0.5
    BED6: the site's 2-nt intron motif, name donor|acceptor, score 0-1000, strand.
    """
    from genatator.regions import parse_regions
    from genatator.splice.predict import predict_sites

    min_score = float(options["min_score"])  # type: ignore[arg-type]
    if not 0.0 <= min_score <= 1.0:
        raise ConfigError(f"--min-score must be in [0, 1], got {min_score}")
    regions = parse_regions(str(options["regions"])) if options["regions"] else None
    loaded, device = _load_model(model, str(options["device"]), options["threads"])  # type: ignore[arg-type]
    lines = predict_sites(
        loaded,
        genome,
        output,
        min_score=min_score,
        regions=regions,
        tracks=options["tracks"],  # type: ignore[arg-type]
        batch_size=int(options["batch_size"]),  # type: ignore[call-overload]
        device=device,
    )
    _echo(f"{lines} sites scored ≥ {min_score}")
