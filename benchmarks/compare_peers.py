"""Compare genatator with AUGUSTUS (shipped and retrained) on one held-out region: accuracy, time.

Three predictors annotate the same REGION of one of the genomes in ``../shared/data`` and each
prediction is scored against that dataset's reference annotation with ``genatator.evaluation``:

1. ``genatator annotate GENOME -m MODEL --regions REGION`` (the model under test);
2. AUGUSTUS 3.5 with its shipped parameters (``--species=fly`` for ``chr2R``, ``--species=human``
   for ``chr21`` and ``X``), predicting only the region (``--predictionStart/--predictionEnd``)
   of an uncompressed copy of the sequence;
3. AUGUSTUS retrained with its own ``etraining`` on the training split: one coding transcript
   per reference locus (the longest CDS), lying, with its 1 kb flanks, entirely outside the
   region, without overlapping another training gene and with a clean ORF (length a multiple of
   3, ATG start, stop codon, no in-frame stop). ``--train-extra GENOME:ANNOTATION`` adds the
   loci of more datasets, chosen alike (a sequence named like the region's still loses the
   region's loci). The steps are the AUGUSTUS manual's: ``new_species.pl`` in a private copy
   of the config folder, ``gff2gbSmallDNA.pl`` (1 kb flanks), ``etraining``; no
   ``optimize_augustus.pl`` (hours, not seconds). Retrained parameters have no UTR model, so this
   column predicts CDS-bounded transcripts only (``--UTR=off``).

The table lists exon, CDS, nucleotide and gene-level (exon, intron and CDS chain) accuracy,
predicted transcripts, wall time (prediction only; the genatator time includes loading the
model) and speed, with the host and the exact commands run. AUGUSTUS is single-threaded and
takes about 1.5 min/Mb on one core: keep regions small on a laptop.

Usage:
    python benchmarks/compare_peers.py chr2R:17980001-19980000 --model RUN/best
    python benchmarks/compare_peers.py chr2R:17980001-18180000 --skip-genatator --keep /tmp/cmp
    python benchmarks/compare_peers.py chr21:30370001-30670000 --model M --device cuda \\
        --json chr21.json
    python benchmarks/compare_peers.py X:1-2000000 --model M \\
        --train-extra hg19_chr21_1-35950000.fa.gz:hg19_chr21_1-35950000.refseq.gtf.gz

Relative GENOME/ANNOTATION paths that do not exist are looked up in ``../shared/data``.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from genatator import __version__ as genatator_version
from genatator.annotation import Transcript, read_annotation
from genatator.errors import GenatatorError
from genatator.regions import Region, parse_regions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# seqid -> (genome, annotation, AUGUSTUS species)
DATASETS = {
    "chr2R": ("dmel_chr2R_1-19980000.fa.gz", "dmel_chr2R_1-19980000.refseq.gtf.gz", "fly"),
    "chr21": ("hg19_chr21_1-35950000.fa.gz", "hg19_chr21_1-35950000.refseq.gtf.gz", "human"),
    "X": (
        "grch37_chrX_1-69999930.fa.gz",
        "grch37_chrX_1-69999930.gencode_canonical.gtf.gz",
        "human",
    ),
}
AUGUSTUS_ROOT = Path("/usr/share/augustus")
FLANK = 1000  # nt of DNA either side of a training gene (gff2gbSmallDNA.pl's flank)
STOPS = np.array([b"TAA", b"TAG", b"TGA"], dtype="S3")
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
COLUMNS = {"genatator": "genatator", "species": "AUGUSTUS {species}", "retrained": "AUG retrained"}
# (row label, path into Evaluation.to_dict()): fractions, printed as percentages.
METRICS = [
    ("exon F1 (all)", ("exon", "all", "f1")),
    ("exon precision (all)", ("exon", "all", "precision")),
    ("exon recall (all)", ("exon", "all", "recall")),
    ("exon F1 (coding)", ("exon", "coding", "f1")),
    ("exon recall (noncoding)", ("exon", "noncoding", "recall")),
    ("CDS F1 (coding)", ("cds", "coding", "f1")),
    ("nt exon Sn", ("nucleotide", "exon", "all", "sensitivity")),
    ("nt exon Sp", ("nucleotide", "exon", "all", "specificity")),
    ("nt CDS Sn", ("nucleotide", "cds", "coding", "sensitivity")),
    ("nt CDS Sp", ("nucleotide", "cds", "coding", "specificity")),
    ("gene recall coding, exon chain", ("gene", "exon_chain", "recall", "coding", "fraction")),
    ("gene recall coding, intron chain", ("gene", "intron_chain", "recall", "coding", "fraction")),
    ("gene recall coding, CDS chain", ("gene", "cds_chain", "recall", "coding", "fraction")),
    (
        "gene recall noncoding, exon chain",
        ("gene", "exon_chain", "recall", "noncoding", "fraction"),
    ),
    (
        "gene recall noncoding, intron chain",
        ("gene", "intron_chain", "recall", "noncoding", "fraction"),
    ),
    (
        "transcript precision, intron chain",
        ("gene", "intron_chain", "precision", "all", "fraction"),
    ),
]


class Failure(Exception):
    """A step cannot run or failed; the message is one line (plus a tool's stderr tail)."""


class NoTrainingData(Failure):
    """The training split has no coding gene: the retrained column is skipped, not an error."""


@dataclass
class Run:
    """One predictor's run: its command, output and wall time."""

    name: str
    output: Path
    commands: list[str] = field(default_factory=list)
    seconds: float | None = None
    evaluation: dict | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "region", metavar="REGION", help="Held-out region, chr:start-end (1-based, closed)."
    )
    parser.add_argument("--model", metavar="DIR", help="Model directory for genatator annotate.")
    parser.add_argument("--device", default="auto", help="genatator --device.")
    parser.add_argument("--batch-size", type=int, default=8, help="genatator --batch-size.")
    parser.add_argument(
        "--extra",
        default="",
        help='More genatator annotate options: --extra="--no-rc --threads 2".',
    )
    parser.add_argument("--genome", type=Path, help="FASTA(.gz) [default: from the seqid].")
    parser.add_argument("--annotation", type=Path, help="Reference GTF/GFF3 [default: seqid's].")
    parser.add_argument("--species", help="AUGUSTUS species [default: fly or human by seqid].")
    parser.add_argument(
        "--train-extra",
        action="append",
        default=[],
        metavar="GENOME:ANNOTATION",
        help="More training data for the retrained AUGUSTUS (repeatable).",
    )
    parser.add_argument("--skip-genatator", action="store_true", help="No genatator column.")
    parser.add_argument("--skip-augustus-species", action="store_true", help="No shipped AUGUSTUS.")
    parser.add_argument("--skip-retrained", action="store_true", help="No retrained AUGUSTUS.")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="Keep predictions and training files here."
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="Also write all numbers and evaluations here."
    )
    args = parser.parse_args(argv)
    if not args.skip_genatator and not args.model:
        parser.error("--model is required unless --skip-genatator")
    return args


def data_path(path: Path) -> Path:
    """``path`` itself when it exists, else the same name in ../shared/data; must exist."""
    for candidate in (path, DATA / path):
        if candidate.exists():
            return candidate.resolve()
    raise Failure(f"data file not found: {path} (nor {DATA / path})")


def choose_dataset(args: argparse.Namespace, seqid: str) -> tuple[Path, Path, str]:
    """(genome, annotation, AUGUSTUS species) for the region's sequence, options first."""
    default = DATASETS.get(seqid)
    if default is None and not (args.genome and args.annotation and args.species):
        raise Failure(
            f"no dataset for sequence {seqid!r} (known: {', '.join(DATASETS)}); "
            "give --genome, --annotation and --species"
        )
    genome = args.genome or Path(default[0])
    annotation = args.annotation or Path(default[1])
    return data_path(genome), data_path(annotation), args.species or default[2]


def tool(name: str) -> str:
    """Absolute path of an executable on PATH (AUGUSTUS scripts also from its scripts folder)."""
    found = shutil.which(name) or shutil.which(str(AUGUSTUS_ROOT / "scripts" / name))
    if not found:
        raise Failure(f"{name} not found on PATH (Debian: apt-get install augustus augustus-data)")
    return found


def show(command: list[str], stdout: Path | None = None, env: dict[str, str] | None = None) -> str:
    """The command as a shell line, with its environment override and output redirection."""
    prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in (env or {}).items())
    return prefix + shlex.join(command) + (f" > {shlex.quote(str(stdout))}" if stdout else "")


def execute(
    command: list[str], stdout: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, str]:
    """Run a command (stdout to a file or captured); (wall seconds, stdout + stderr text)."""
    started = time.perf_counter()
    handle = stdout.open("w") if stdout else subprocess.PIPE
    try:
        result = subprocess.run(
            command,
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env} if env else None,
        )
    finally:
        if stdout:
            handle.close()
    seconds = time.perf_counter() - started
    text = (result.stdout or "") + result.stderr
    if result.returncode != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise Failure(f"failed (exit {result.returncode}): {show(command, stdout, env)}\n{tail}")
    return seconds, text


def read_sequences(genome: Path, names: set[str] | None = None) -> dict[str, str]:
    """Records of a FASTA(.gz) (only ``names`` when given), soft-masking kept."""
    sequences = {}
    with pysam.FastxFile(str(genome)) as handle:
        for record in handle:
            if names is None or record.name in names:
                sequences[record.name] = record.sequence
    return sequences


def write_fasta(records: dict[str, str], path: Path) -> Path:
    """Write records as plain FASTA with 60-nt lines."""
    with path.open("w") as out:
        for name, sequence in records.items():
            out.write(f">{name}\n")
            out.writelines(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    return path


def cds_sequence(transcript: Transcript, sequence: str) -> str:
    """The transcript's CDS (stop included) read 5' to 3', upper case."""
    bases = "".join(sequence[start:end] for start, end in transcript.cds).upper()
    return bases.translate(COMPLEMENT)[::-1] if transcript.strand == "-" else bases


def clean_orf(cds: str) -> bool:
    """True for ATG...stop, a multiple of 3 long, without an in-frame stop before the end."""
    if len(cds) < 6 or len(cds) % 3 or not cds.startswith("ATG"):
        return False
    codons = np.frombuffer(cds.encode(), dtype="S3")
    return bool(np.isin(codons[-1:], STOPS).all() and not np.isin(codons[:-1], STOPS).any())


def training_loci(
    annotation: Path, genome: Path, held_out: Region | None = None
) -> tuple[list[Transcript], dict[str, str], dict[str, int]]:
    """Training transcripts of one dataset, their sequences and counts of what was dropped.

    One coding transcript per locus (the longest CDS); loci whose chosen transcript, with its
    flanks, touches ``held_out`` are dropped, then overlapping loci (only the longest CDS of each
    cluster stays), then transcripts without a clean ORF.
    """
    genes = read_annotation(annotation).genes
    counts = {"loci": len(genes), "coding_loci": 0, "held_out": 0, "overlap": 0, "bad_orf": 0}
    chosen = []
    for gene in genes:
        coding = [t for t in gene.transcripts if t.cds]
        if not coding:
            continue
        counts["coding_loci"] += 1
        best = max(coding, key=lambda t: (sum(e - s for s, e in t.cds), t.id))
        if (
            held_out is not None
            and best.seqid == held_out.seqid
            and best.start - FLANK < held_out.end
            and best.end + FLANK > held_out.start
        ):
            counts["held_out"] += 1
            continue
        chosen.append(best)
    chosen.sort(key=lambda t: (t.seqid, t.start, t.end))
    kept, cluster, cluster_end = [], [], None

    def close_cluster() -> None:
        if cluster:
            kept.append(max(cluster, key=lambda t: sum(e - s for s, e in t.cds)))
            counts["overlap"] += len(cluster) - 1

    for transcript in chosen:
        if cluster and (transcript.seqid != cluster[0].seqid or transcript.start >= cluster_end):
            close_cluster()
            cluster, cluster_end = [], None
        cluster.append(transcript)
        cluster_end = max(cluster_end or 0, transcript.end)
    close_cluster()
    sequences = read_sequences(genome, {t.seqid for t in kept})
    missing = {t.seqid for t in kept} - set(sequences)
    if missing:
        raise Failure(f"{genome}: no sequence {sorted(missing)[0]!r} for {annotation.name}")
    good = [t for t in kept if clean_orf(cds_sequence(t, sequences[t.seqid]))]
    counts["bad_orf"] = len(kept) - len(good)
    counts["genes"] = len(good)
    return good, sequences, counts


def write_training_gtf(datasets: list[tuple[str, list]], path: Path) -> None:
    """GTF of CDS rows (stop codon included, as ``stopCodonExcludedFromCDS false`` wants)."""
    with path.open("w") as out:
        for prefix, transcripts in datasets:
            for t in transcripts:
                ids = f'gene_id "{prefix}{t.id}"; transcript_id "{prefix}{t.id}";'
                out.writelines(
                    f"{prefix}{t.seqid}\ttrain\tCDS\t{start + 1}\t{end}\t.\t{t.strand}\t.\t{ids}\n"
                    for start, end in t.cds
                )


def private_config(directory: Path) -> Path:
    """A writable AUGUSTUS config folder: the installed one minus other species' parameters."""
    source = Path(os.environ.get("AUGUSTUS_CONFIG_PATH", AUGUSTUS_ROOT / "config"))
    if not (source / "species" / "generic").is_dir():
        raise Failure(f"AUGUSTUS config folder {source} has no species/generic template")

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n != "generic"] if Path(folder) == source / "species" else []

    return Path(shutil.copytree(source, directory / "config", ignore=ignore))


def retrain(
    args: argparse.Namespace,
    region: Region,
    genome: Path,
    annotation: Path,
    workdir: Path,
    out: Path,
) -> tuple[str, dict, list[str]]:
    """Train a new AUGUSTUS species on the loci outside the region; (species, report, commands)."""
    species = f"genatator_peer_{re.sub(r'[^A-Za-z0-9]', '_', region.seqid)}_{os.getpid()}"
    datasets, sequences, report = [], {}, {"datasets": []}
    sources = [(genome, annotation, region)]
    for item in args.train_extra:
        extra_genome, sep, extra_annotation = item.partition(":")
        if not sep:
            raise Failure(f"--train-extra {item!r} is not GENOME:ANNOTATION")
        sources.append((data_path(Path(extra_genome)), data_path(Path(extra_annotation)), region))
    for index, (source_genome, source_annotation, held_out) in enumerate(sources):
        transcripts, records, counts = training_loci(source_annotation, source_genome, held_out)
        prefix = "" if index == 0 else f"extra{index}_"
        datasets.append((prefix, transcripts))
        sequences.update({prefix + name: seq for name, seq in records.items()})
        report["datasets"].append({"annotation": str(source_annotation), **counts})
    report["candidate_genes"] = sum(len(t) for _, t in datasets)
    if not report["candidate_genes"]:
        raise NoTrainingData(
            f"no coding training gene outside {region} in {annotation.name} "
            "(it has no CDS?): give --train-extra GENOME:ANNOTATION or --skip-retrained"
        )
    config = private_config(workdir)
    env = {"AUGUSTUS_CONFIG_PATH": str(config)}
    gtf, fasta, genbank = out / "train.gtf", workdir / "train.fa", out / "train.gb"
    write_training_gtf(datasets, gtf)
    write_fasta(sequences, fasta)
    sequences.clear()
    commands = []
    for command in (
        [tool("new_species.pl"), f"--species={species}", f"--AUGUSTUS_CONFIG_PATH={config}"],
        [tool("gff2gbSmallDNA.pl"), str(gtf), str(fasta), str(FLANK), str(genbank)],
        [tool("etraining"), f"--species={species}", str(genbank)],
    ):
        commands.append(show(command, env=env))
        seconds, text = execute(command, env=env)
    (out / "etraining.log").write_text(text)
    report["etraining_s"] = round(seconds, 2)
    report["genbank_loci"] = len(re.findall(r"^LOCUS", genbank.read_text(), re.M))
    matched = re.search(r"have (\d+) genes", text) or re.search(r"[Rr]ead in (\d+) genbank", text)
    report["etraining_genes"] = int(matched.group(1)) if matched else None
    report["etraining_errors"] = len(re.findall(r"^\s*(?:gene|sequence|Error|Warning)", text, re.M))
    return species, report, commands


def check_reference(annotation: Path, region: Region) -> None:
    """Fail early when no reference transcript lies inside the region (the evaluation's scope)."""
    if not any(
        t.seqid == region.seqid and t.start >= region.start and t.end <= region.end
        for t in read_annotation(annotation).transcripts()
    ):
        raise Failure(
            f"{annotation.name}: no transcript lies entirely inside {region}: nothing to evaluate"
        )


def annotate_genatator(args: argparse.Namespace, genome: Path, region: Region, out: Path) -> Run:
    """Run genatator annotate on the region."""
    run = Run("genatator", out / "genatator.gff3")
    executable = shutil.which("genatator")
    command = [executable] if executable else [sys.executable, "-m", "genatator"]
    command += ["annotate", str(genome), "-m", args.model, "--regions", str(region)]
    command += ["-o", str(run.output), "-q", "--batch-size", str(args.batch_size)]
    command += ["--device", args.device, *shlex.split(args.extra)]
    run.commands.append(show(command))
    run.seconds, _ = execute(command)
    return run


def predict_augustus(
    name: str,
    species: str,
    fasta: Path,
    region: Region,
    out: Path,
    env: dict[str, str] | None = None,
) -> Run:
    """Run AUGUSTUS on the region of a plain FASTA (``env``: a private config, UTR off)."""
    run = Run(name, out / f"augustus_{name}.gff3")
    command = [tool("augustus"), f"--species={species}", "--gff3=on"]
    command += [] if env is None else ["--UTR=off"]  # a retrained species has no UTR model
    command += [
        f"--predictionStart={region.start + 1}",
        f"--predictionEnd={region.end}",
        str(fasta),
    ]
    run.commands.append(show(command, run.output, env))
    run.seconds, _ = execute(command, run.output, env)
    return run


def evaluate(run: Run, reference: Path, region: Region) -> None:
    """Score a prediction against the reference inside the region."""
    from genatator.evaluation import evaluate_paths

    run.evaluation = evaluate_paths(run.output, reference, regions=[region]).to_dict()


def lookup(evaluation: dict | None, path: tuple[str, ...]) -> float | None:
    """A nested value of an evaluation dict, None when absent or undefined."""
    value = evaluation
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def table(runs: list[Run], length: int, species: str) -> tuple[list[str], dict[str, dict]]:
    """Table lines (metric rows, predictor columns) and the same numbers as a dict."""
    numbers: dict[str, dict] = {run.name: {} for run in runs}
    rows: list[tuple[str, list[str]]] = []
    for label, path in METRICS:
        cells = []
        for run in runs:
            value = lookup(run.evaluation, path)
            numbers[run.name][label] = value
            cells.append("-" if value is None else f"{100 * value:.1f}%")
        rows.append((label, cells))
    extra = {
        "predicted transcripts": lambda r: lookup(
            r.evaluation, ("counts", "prediction", "transcripts")
        ),
        "wall time (s)": lambda r: r.seconds,
        "minutes per Mb": lambda r: r.seconds / 60 / (length / 1e6) if r.seconds else None,
        "Mb per minute": lambda r: (length / 1e6) / (r.seconds / 60) if r.seconds else None,
    }
    for label, get in extra.items():
        cells = []
        for run in runs:
            value = get(run)
            numbers[run.name][label] = value
            cells.append(
                "-" if value is None else f"{value:,.0f}" if label[0] == "p" else f"{value:.3g}"
            )
        rows.append((label, cells))
    headers = [COLUMNS[run.name].format(species=species) for run in runs]
    width = max(len(label) for label, _ in rows)
    cell = max(12, *(len(h) for h in headers))
    lines = [f"{'metric':<{width}}  " + "  ".join(f"{h:>{cell}}" for h in headers)]
    lines += [
        f"{label:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in cells) for label, cells in rows
    ]
    return lines, numbers


def compare(args: argparse.Namespace, workdir: Path, out: Path) -> dict:
    """Run the selected predictors, evaluate them and print the table; the JSON report."""
    try:
        from genatator.evaluation import evaluate_paths  # noqa: F401
    except ImportError as error:
        raise Failure(f"genatator.evaluation is not importable ({error}); cannot score") from None
    regions = parse_regions(args.region, option="REGION")
    if len(regions) != 1:
        raise Failure(f"REGION: give exactly one region, not {args.region!r}")
    region = regions[0]
    genome, annotation, species = choose_dataset(args, region.seqid)
    augustus_wanted = not (args.skip_augustus_species and args.skip_retrained)
    if augustus_wanted:
        tool("augustus")
    if not args.skip_retrained:
        for name in ("etraining", "new_species.pl", "gff2gbSmallDNA.pl"):
            tool(name)
    target = read_sequences(genome, {region.seqid})
    if region.seqid not in target:
        raise Failure(f"{genome}: no sequence {region.seqid!r}")
    if region.end > len(target[region.seqid]):
        raise Failure(f"{region} ends past {region.seqid}'s {len(target[region.seqid]):,} nt")
    length = region.end - region.start
    check_reference(annotation, region)
    fasta = write_fasta(target, workdir / f"{region.seqid}.fa") if augustus_wanted else None
    target.clear()
    runs: list[Run] = []
    training: dict | None = None
    if not args.skip_genatator:
        runs.append(annotate_genatator(args, genome, region, out))
    if not args.skip_augustus_species:
        runs.append(predict_augustus("species", species, fasta, region, out))
    if not args.skip_retrained:
        try:
            trained, training, commands = retrain(args, region, genome, annotation, workdir, out)
        except NoTrainingData as error:
            print(f"# retrained AUGUSTUS skipped: {error}", file=sys.stderr)
        else:
            env = {"AUGUSTUS_CONFIG_PATH": str(workdir / "config")}
            run = predict_augustus("retrained", trained, fasta, region, out, env)
            run.commands[:0] = commands
            runs.append(run)
    if not runs:
        raise Failure("nothing to compare: every predictor was skipped")
    for run in runs:
        evaluate(run, annotation, region)
    lines, numbers = table(runs, length, species)
    versions = {"genatator": genatator_version}
    if augustus_wanted:
        _, text = execute([tool("augustus"), "--version"])
        versions["augustus"] = text.split(" is ")[0].strip()
    print(f"# region {region} ({length:,} nt = {length / 1e6:.3g} Mb)")
    print(f"# genome {genome}\n# reference {annotation}")
    print(f"# genatator {genatator_version}; {versions.get('augustus', 'AUGUSTUS not run')}")
    print(f"# host {platform.node()}: {platform.platform()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
    if training:
        print(f"# retrained AUGUSTUS: etraining read {training['etraining_genes']} genes "
              f"({training['genbank_loci']} GenBank loci of {training['candidate_genes']} "
              f"selected; {training['etraining_errors']} rejected with an error) in "
              f"{training['etraining_s']:.1f} s")  # fmt: skip
        for item in training["datasets"]:
            print(f"#   {Path(item['annotation']).name}: {item['coding_loci']} coding loci, "
                  f"{item['held_out']} near the region, {item['overlap']} overlapping, "
                  f"{item['bad_orf']} without a clean ORF, {item['genes']} kept")  # fmt: skip
    print("# commands:")
    for run in runs:
        for command in run.commands:
            print(f"#   {command}")
    kept = "" if args.keep else " (a temporary folder, deleted at exit: --keep DIR keeps them)"
    print(f"# predictions in {out}{kept}")
    print("\n".join(lines))
    return {
        "region": str(region),
        "length": length,
        "genome": str(genome),
        "annotation": str(annotation),
        "species": species,
        "versions": versions,
        "host": {
            "node": platform.node(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "training": training,
        "runs": {
            run.name: {
                "commands": run.commands,
                "seconds": run.seconds,
                "output": str(run.output),
                "metrics": numbers[run.name],
                "evaluation": run.evaluation,
            }
            for run in runs
        },
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="compare_peers_") as tmp:
        workdir = Path(tmp)
        out = args.keep or workdir
        out.mkdir(parents=True, exist_ok=True)
        try:
            report = compare(args, workdir, out.resolve())
        except (Failure, GenatatorError) as error:
            sys.exit(f"compare_peers: {error}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
