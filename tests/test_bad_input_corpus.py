"""The bad-input corpus (issue 16): one table of what users feed the commands by mistake.

Every case runs one command line (``annotate``, ``convert``, ``evaluate``, ``train`` or a
``splice`` subcommand) on inputs written into a fresh directory. An ``error`` case must exit 2
with exactly one ``genatator: error:`` line naming the offending file or option, no traceback,
and leave the directory exactly as it was (no output, no ``*.genatator-partial`` sidecar, no
temporary file). An ``ok`` case is legal but odd input: exit 0 with well-formed output (GFF3
that ``gt gff3validator`` accepts, BED, JSON, a report, a dataset directory), and where a case
names a reference run, byte for byte the same output as the plain input gives.

Damaged gzip, binary data, empty FASTA, ``*`` strands and ``Parent`` cycles are also tested
in depth, reader by reader, in test_hostile_inputs.py; special output files in
test_special_outputs.py. This file is the catalogue across the commands.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import assert_valid_gff3, run_cli, write_synthetic_genome

from genatator.partial import PARTIAL_SUFFIX

FAST = "--window 2000 --batch-size 4 --threads 1 --no-rc"
TRAIN = "--max-steps 1 --device cpu --threads 1"
LENGTHS = {"chrA": 4000, "chrB": 3000}


@dataclass(frozen=True)
class Env:
    """What the command lines and input makers of a case refer to (by ``{name}``)."""

    tmp: Path  # the case's own directory: inputs and outputs
    genome: Path  # a synthetic two-sequence FASTA (read-only, shared)
    gff: Path  # synthetic multi-exon genes on it (GFF3)
    model: Path  # a tiny random model directory (read-only, shared)

    def format(self, text: str) -> str:
        return text.format(
            tmp=self.tmp, genome=self.genome, gff=self.gff, model=self.model, fast=FAST, train=TRAIN
        )


#: An input: text, bytes, or a function that makes it at the given path.
Content = str | bytes | Callable[[Path, Env], None]


@dataclass(frozen=True)
class Case:
    """One command line and its inputs, and what must come of it.

    Attributes:
        id: the test id.
        argv: the command line after ``genatator -q``, split on spaces after ``Env.format``.
        outcome: ``error`` (exit 2, one line, nothing written) or ``ok`` (exit 0, valid output).
        files: inputs to write first, by name relative to the case's directory.
        names: what the error line must contain (formatted): the file or option at fault.
        outputs: ``ok``: the outputs to check, by kind (suffix, device or directory).
        same_as: ``ok``: a reference command line and its output; ``outputs[0]`` must hold the
            same bytes.
        bug: a real bug this case shows (marks it xfail, strict); the lead fixes the package.
    """

    id: str
    argv: str
    outcome: str
    files: tuple[tuple[str, Content], ...] = ()
    names: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    same_as: tuple[str, str] | None = None
    bug: str | None = None


def error(
    id: str,
    argv: str,
    *names: str,
    files: dict[str, Content] | None = None,
    bug: str | None = None,
) -> Case:
    """A case that must fail cleanly, its error line naming each of ``names``."""
    return Case(id, argv, "error", tuple((files or {}).items()), names, bug=bug)


def ok(
    id: str,
    argv: str,
    *outputs: str,
    files: dict[str, Content] | None = None,
    same_as: tuple[str, str] | None = None,
    bug: str | None = None,
) -> Case:
    """A case that must succeed, each of ``outputs`` well-formed."""
    return Case(id, argv, "ok", tuple((files or {}).items()), (), outputs, same_as, bug)


# -- input makers ------------------------------------------------------------------------------


def crlf(attribute: str) -> Callable[[Path, Env], None]:
    """The shared input ``attribute`` (genome, gff) with Windows line endings."""

    def make(path: Path, env: Env) -> None:
        path.write_bytes(getattr(env, attribute).read_bytes().replace(b"\n", b"\r\n"))

    return make


def lowercase_genome(path: Path, env: Env) -> None:
    """The shared genome soft-masked: every sequence line in lower case."""
    lines = env.genome.read_text().splitlines(keepends=True)
    path.write_text("".join(line if line.startswith(">") else line.lower() for line in lines))


def gzipped(content: str | bytes, keep: int | None = None) -> Callable[[Path, Env], None]:
    """``content`` gzip-compressed, cut short as ``packed[:keep]`` when ``keep`` is given."""

    def make(path: Path, env: Env) -> None:
        data = content.encode() if isinstance(content, str) else content
        packed = gzip.compress(data, mtime=0)
        path.write_bytes(packed if keep is None else packed[:keep])

    return make


def directory(**children: str) -> Callable[[Path, Env], None]:
    """A directory holding ``children`` (name -> text)."""

    def make(path: Path, env: Env) -> None:
        path.mkdir()
        for name, text in children.items():
            (path / name).write_text(text)

    return make


def model_copy(
    keep: tuple[str, ...] | None = None, replace: dict[str, str] | None = None
) -> Callable[[Path, Env], None]:
    """The tiny model directory, with only ``keep`` of its files, and ``replace`` (name -> text)
    written over."""

    def make(path: Path, env: Env) -> None:
        shutil.copytree(env.model, path)
        for child in path.iterdir():
            if keep is not None and child.name not in keep:
                child.unlink()
        for name, text in (replace or {}).items():
            (path / name).write_text(text)

    return make


# -- annotation texts --------------------------------------------------------------------------


def row(
    kind: str,
    start: int | str,
    end: int | str,
    attributes: str,
    strand: str = "+",
    phase: str = ".",
    seqid: str = "chrA",
) -> str:
    """One GFF3 line."""
    return f"{seqid}\tcorpus\t{kind}\t{start}\t{end}\t.\t{strand}\t{phase}\t{attributes}\n"


def gtf(kind: str, start: int, end: int, attributes: str, phase: str = ".") -> str:
    """One GTF line on chrA, + strand."""
    return f"chrA\tcorpus\t{kind}\t{start}\t{end}\t.\t+\t{phase}\t{attributes}\n"


HEAD = "##gff-version 3\n"
GENE = row("gene", 101, 1000, "ID=g1")
MRNA = row("mRNA", 101, 1000, "ID=t1;Parent=g1")
EXONS = row("exon", 101, 400, "Parent=t1") + row("exon", 601, 1000, "Parent=t1")
CDS = row("CDS", 151, 400, "Parent=t1", phase="0") + row("CDS", 601, 900, "Parent=t1", phase="2")
GFF3 = HEAD + GENE + MRNA + EXONS + CDS
IDS = 'gene_id "g1"; transcript_id "t1";'
GTF = (
    gtf("exon", 101, 400, IDS)
    + gtf("exon", 601, 1000, IDS)
    + gtf("CDS", 151, 400, IDS, "0")
    + gtf("CDS", 601, 897, IDS, "2")
    + gtf("stop_codon", 898, 900, IDS, "0")
)
GENOME = ">chrA\n" + "ACGT" * 500 + "\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def fasta(*records: tuple[str, str]) -> str:
    """FASTA text of (name, sequence) records, one sequence line each."""
    return "".join(f">{name}\n{sequence}\n" for name, sequence in records)


# -- the corpus --------------------------------------------------------------------------------

ANNOTATE = "annotate {tmp}/g.fa -m {model} {fast} -o {tmp}/out.gff3"
G = "{tmp}/g.fa"

ANNOTATE_CASES = [
    error("annotate/fasta-header-only", ANNOTATE, G, files={"g.fa": ">chrA\n"}),
    error("annotate/fasta-empty-gzip", ANNOTATE, G, files={"g.fa": gzipped("")}),
    error(
        "annotate/fasta-gzip-cut-in-header",
        ANNOTATE,
        G,
        "truncated or corrupt",
        files={"g.fa": gzipped(GENOME, 6)},
    ),
    error("annotate/fasta-no-header", ANNOTATE, G, files={"g.fa": "ACGTACGT\n"}),
    error("annotate/fasta-nameless-header", ANNOTATE, G, files={"g.fa": ">\nACGT\n"}),
    error(
        "annotate/fasta-duplicate-names",
        ANNOTATE,
        G,
        "'chrA'",
        "duplicate",
        files={"g.fa": fasta(("chrA", "ACGT"), ("chrB", "ACGT"), ("chrA", "ACGT"))},
    ),
    error("annotate/fasta-digits", ANNOTATE, G, "line 2", files={"g.fa": ">chrA\nACGT12\n"}),
    error("annotate/fasta-nul-byte", ANNOTATE, G, files={"g.fa": b">chrA\nACGT\x00ACGT\n"}),
    error("annotate/fasta-missing", ANNOTATE, G),
    error("annotate/fasta-is-a-directory", ANNOTATE, G, files={"g.fa": directory()}),
    ok(
        "annotate/fasta-crlf",
        ANNOTATE,
        "{tmp}/out.gff3",
        files={"g.fa": crlf("genome")},
        same_as=("annotate {genome} -m {model} {fast} -o {tmp}/lf.gff3", "{tmp}/lf.gff3"),
    ),
    ok("annotate/fasta-soft-masked", ANNOTATE, "{tmp}/out.gff3", files={"g.fa": lowercase_genome}),
    ok(
        "annotate/fasta-iupac-and-gaps",
        ANNOTATE,
        "{tmp}/out.gff3",
        files={"g.fa": fasta(("chrA", "ACGTRYKMSWBDHVN-.acgtn" * 40))},
    ),
    ok(
        "annotate/fasta-all-n",
        ANNOTATE,
        "{tmp}/out.gff3",
        files={"g.fa": fasta(("chrA", "N" * 3000))},
    ),
    ok("annotate/fasta-one-base", ANNOTATE, "{tmp}/out.gff3", files={"g.fa": fasta(("chrA", "A"))}),
    ok(
        "annotate/fasta-utf8-bom",
        ANNOTATE,
        "{tmp}/out.gff3",
        files={"g.fa": b"\xef\xbb\xbf" + GENOME.encode()},
    ),
    # model directories
    error(
        "annotate/model-empty-directory",
        "annotate {genome} -m {tmp}/m {fast} -o {tmp}/out.gff3",
        "{tmp}/m",
        files={"m": directory()},
    ),
    error(
        "annotate/model-config-without-weights",
        "annotate {genome} -m {tmp}/m {fast} -o {tmp}/out.gff3",
        "{tmp}/m",
        files={"m": model_copy(keep=("config.json",))},
    ),
    error(
        "annotate/model-config-not-json",
        "annotate {genome} -m {tmp}/m {fast} -o {tmp}/out.gff3",
        "{tmp}/m/config.json",
        files={"m": model_copy(replace={"config.json": "{this is not json"})},
    ),
    error(
        "annotate/model-config-wrong-shape",
        "annotate {genome} -m {tmp}/m {fast} -o {tmp}/out.gff3",
        "{tmp}/m/config.json",
        files={"m": model_copy(replace={"config.json": '{"hidden_size": "large"}'})},
    ),
    error(
        "annotate/model-no-such-bundle",
        "annotate {genome} -m no-such-bundle {fast} -o {tmp}/out.gff3",
        "no-such-bundle",
    ),
    error(
        "annotate/model-is-a-splice-model",
        "annotate {genome} -m splice-fly {fast} -o {tmp}/out.gff3",
        "splice-fly",
    ),
    error(
        "annotate/model-is-a-file",
        "annotate {genome} -m {tmp}/m.txt {fast} -o {tmp}/out.gff3",
        "{tmp}/m.txt",
        files={"m.txt": "not a model\n"},
    ),
    error(
        "annotate/splice-model-missing",
        "annotate {genome} -m {model} {fast} --splice-model {tmp}/nope -o {tmp}/out.gff3",
        "{tmp}/nope",
    ),
    # outputs
    error(
        "annotate/output-in-missing-directory",
        "annotate {genome} -m {model} {fast} -o {tmp}/missing/out.gff3",
        "{tmp}/missing",
    ),
    error(
        "annotate/output-under-a-file",
        "annotate {genome} -m {model} {fast} -o {tmp}/file.txt/out.gff3",
        "{tmp}/file.txt",
        files={"file.txt": "a regular file\n"},
    ),
    error(
        "annotate/output-is-a-directory",
        "annotate {genome} -m {model} {fast} -o {tmp}/out",
        "{tmp}/out",
        files={"out": directory()},
    ),
    error(
        "annotate/proteins-in-missing-directory",
        "annotate {genome} -m {model} {fast} -o {tmp}/out.gff3 --proteins {tmp}/missing/p.faa",
        "{tmp}/missing",
    ),
    error(
        "annotate/tracks-is-a-file",
        "annotate {genome} -m {model} {fast} -o {tmp}/out.gff3 --tracks {tmp}/t.txt",
        "{tmp}/t.txt",
        files={"t.txt": "a regular file\n"},
    ),
    # options
    error(
        "annotate/threads-zero",
        "annotate {genome} -m {model} --threads 0 -o {tmp}/out.gff3",
        "--threads",
    ),
    error(
        "annotate/threads-word",
        "annotate {genome} -m {model} --threads abc -o {tmp}/out.gff3",
        "--threads",
    ),
    error(
        "annotate/window-zero",
        "annotate {genome} -m {model} --window 0 -o {tmp}/out.gff3",
        "--window",
    ),
    error(
        "annotate/overlap-one",
        "annotate {genome} -m {model} {fast} --overlap 1 -o {tmp}/out.gff3",
        "--overlap",
    ),
    error(
        "annotate/regions-reversed",
        "annotate {genome} -m {model} {fast} --regions chrA:500-100 -o {tmp}/out.gff3",
        "--regions",
        "chrA:500-100",
    ),
    error(
        "annotate/regions-unknown-sequence",
        "annotate {genome} -m {model} {fast} --regions chrZ:1-100 -o {tmp}/out.gff3",
        "--regions",
        "chrZ",
    ),
    error(
        "annotate/regions-overlapping",
        "annotate {genome} -m {model} {fast} --regions chrA:1-500,chrA:400-900 -o {tmp}/out.gff3",
        "--regions",
    ),
    ok(
        "annotate/regions-past-the-sequence-end",
        "annotate {genome} -m {model} {fast} --regions chrA:3001-99999 -o {tmp}/out.gff3",
        "{tmp}/out.gff3",
    ),
    error(
        "annotate/shard-past-count",
        "annotate {genome} -m {model} {fast} --shard 3/2 -o {tmp}/out.gff3",
        "--shard",
        "3/2",
    ),
    error(
        "annotate/shard-not-a-fraction",
        "annotate {genome} -m {model} {fast} --shard half -o {tmp}/out.gff3",
        "--shard",
    ),
]

CONVERT = "convert {tmp}/in.gff3 -o {tmp}/out.gff3"
IN = "{tmp}/in.gff3"

CONVERT_CASES = [
    ok(
        "convert/gff3-crlf",
        CONVERT,
        "{tmp}/out.gff3",
        files={"in.gff3": GFF3.replace("\n", "\r\n"), "lf.gff3": GFF3},
        same_as=("convert {tmp}/lf.gff3 -o {tmp}/lf-out.gff3", "{tmp}/lf-out.gff3"),
    ),
    ok(
        "convert/gtf-crlf",
        "convert {tmp}/in.gtf -o {tmp}/out.gff3",
        "{tmp}/out.gff3",
        files={"in.gtf": GTF.replace("\n", "\r\n")},
    ),
    ok(
        "convert/gff3-with-fasta-section",
        CONVERT,
        "{tmp}/out.gff3",
        files={"in.gff3": GFF3 + "##FASTA\n" + GENOME},
    ),
    # A byte-order mark (some Windows editors write one) is skipped, as the FASTA reader does.
    ok(
        "convert/gff3-utf8-bom",
        CONVERT,
        "{tmp}/out.gff3",
        files={"in.gff3": "\ufeff" + GFF3, "plain.gff3": GFF3},
        same_as=("convert {tmp}/plain.gff3 -o {tmp}/plain-out.gff3", "{tmp}/plain-out.gff3"),
    ),
    ok(
        "convert/to-dev-null",
        "convert {tmp}/in.gff3 -o /dev/null",
        "/dev/null",
        files={"in.gff3": GFF3},
    ),
    # No genes is legal (a predictor may find none): a GFF3 without features.
    ok("convert/empty-file", CONVERT, "{tmp}/out.gff3", files={"in.gff3": ""}),
    ok("convert/header-only", CONVERT, "{tmp}/out.gff3", files={"in.gff3": HEAD}),
    error(
        "convert/exon-end-before-start",
        CONVERT,
        IN,
        "line 4",
        files={"in.gff3": HEAD + GENE + MRNA + row("exon", 400, 101, "Parent=t1")},
    ),
    error(
        "convert/start-zero",
        CONVERT,
        IN,
        "line 4",
        files={"in.gff3": HEAD + GENE + MRNA + row("exon", 0, 400, "Parent=t1")},
    ),
    error(
        "convert/coordinates-not-numbers",
        CONVERT,
        IN,
        "line 2",
        files={"in.gff3": HEAD + row("gene", "1e3", "2e3", "ID=g1")},
    ),
    error(
        "convert/eight-columns",
        CONVERT,
        IN,
        "line 2",
        files={"in.gff3": HEAD + "chrA\tcorpus\tgene\t1\t100\t.\t+\tID=g1\n"},
    ),
    error(
        "convert/orphan-exon",
        CONVERT,
        IN,
        "'t9'",
        files={"in.gff3": GFF3 + row("exon", 2001, 2400, "Parent=t9")},
    ),
    error(
        "convert/duplicate-gene-id",
        CONVERT,
        IN,
        "'g1'",
        files={"in.gff3": GFF3 + row("gene", 2001, 2400, "ID=g1")},
    ),
    error(
        "convert/cds-outside-exons",
        CONVERT,
        IN,
        "'t1'",
        files={
            "in.gff3": HEAD + GENE + MRNA + EXONS + row("CDS", 401, 600, "Parent=t1", phase="0")
        },
    ),
    error(
        "convert/cds-phase-three",
        CONVERT,
        IN,
        "phase",
        files={
            "in.gff3": HEAD + GENE + MRNA + EXONS + row("CDS", 151, 400, "Parent=t1", phase="3")
        },
    ),
    # Phases are recomputed on output, so a missing or wrong (but legal) one loses nothing.
    ok(
        "convert/cds-phase-missing",
        CONVERT,
        "{tmp}/out.gff3",
        files={"in.gff3": HEAD + GENE + MRNA + EXONS + row("CDS", 151, 400, "Parent=t1")},
    ),
    ok(
        "convert/cds-phase-inconsistent",
        CONVERT,
        "{tmp}/out.gff3",
        files={"in.gff3": GFF3.replace("\t2\tParent=t1", "\t1\tParent=t1"), "right.gff3": GFF3},
        same_as=("convert {tmp}/right.gff3 -o {tmp}/right-out.gff3", "{tmp}/right-out.gff3"),
    ),
    error(
        "convert/gene-past-sequence-region",
        CONVERT,
        IN,
        "'g1'",
        files={"in.gff3": HEAD + "##sequence-region chrA 1 500\n" + GENE + MRNA + EXONS},
    ),
    error(
        "convert/gtf-without-transcript-id",
        "convert {tmp}/in.gtf -o {tmp}/out.gff3",
        "{tmp}/in.gtf",
        "transcript_id",
        files={"in.gtf": GTF + gtf("exon", 2001, 2400, 'gene_id "g2";')},
    ),
    error(
        "convert/gff3-read-as-gtf",
        "convert {tmp}/in.gff3 --format gtf -o {tmp}/out.gff3",
        IN,
        files={"in.gff3": GFF3},
    ),
    error("convert/input-missing", CONVERT, IN),
    error("convert/input-is-a-directory", CONVERT, IN, files={"in.gff3": directory()}),
    error(
        "convert/output-in-missing-directory",
        "convert {tmp}/in.gff3 -o {tmp}/missing/out.gff3",
        "{tmp}/missing",
        files={"in.gff3": GFF3},
    ),
    error(
        "convert/output-under-a-file",
        "convert {tmp}/in.gff3 -o {tmp}/in.gff3/out.gff3",
        IN,
        files={"in.gff3": GFF3},
    ),
    error(
        "convert/output-is-a-directory",
        "convert {tmp}/in.gff3 -o {tmp}/out",
        "{tmp}/out",
        files={"in.gff3": GFF3, "out": directory()},
    ),
]

EVALUATE = "evaluate {tmp}/pred.gff3 {tmp}/ref.gff3 -o {tmp}/report.txt"
CYCLE = HEAD + row("gene", 101, 1000, "ID=g1;Parent=t1") + MRNA + EXONS

EVALUATE_CASES = [
    ok(
        "evaluate/same-file-twice",
        EVALUATE,
        "{tmp}/report.txt",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3},
    ),
    ok(
        "evaluate/crlf-gtf-against-gff3",
        "evaluate {tmp}/pred.gtf {tmp}/ref.gff3 --json -o {tmp}/report.json",
        "{tmp}/report.json",
        files={"pred.gtf": GTF.replace("\n", "\r\n"), "ref.gff3": GFF3},
    ),
    ok(
        "evaluate/json-to-dev-null",
        "evaluate {tmp}/pred.gff3 {tmp}/ref.gff3 --json -o /dev/null",
        "/dev/null",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3},
    ),
    ok(
        "evaluate/empty-prediction",
        EVALUATE,
        "{tmp}/report.txt",
        files={"pred.gff3": HEAD, "ref.gff3": GFF3},
    ),
    error(
        "evaluate/empty-reference",
        EVALUATE,
        "{tmp}/ref.gff3",
        files={"pred.gff3": GFF3, "ref.gff3": HEAD},
    ),
    error(
        "evaluate/reference-parent-cycle",
        EVALUATE,
        "{tmp}/ref.gff3",
        "Parent cycle",
        files={"pred.gff3": GFF3, "ref.gff3": CYCLE},
    ),
    error(
        "evaluate/prediction-star-strand",
        EVALUATE,
        "{tmp}/pred.gff3",
        "'*'",
        files={
            "pred.gff3": HEAD
            + GENE
            + row("mRNA", 101, 1000, "ID=t1;Parent=g1", strand="*")
            + EXONS,
            "ref.gff3": GFF3,
        },
    ),
    error(
        "evaluate/prediction-truncated-gzip",
        EVALUATE,
        "{tmp}/pred.gff3",
        "truncated or corrupt",
        files={"pred.gff3": gzipped(GFF3, -20), "ref.gff3": GFF3},
    ),
    error(
        "evaluate/reference-duplicate-transcript-id",
        EVALUATE,
        "{tmp}/ref.gff3",
        "'t1'",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3 + row("mRNA", 2001, 2400, "ID=t1;Parent=g1")},
    ),
    error("evaluate/prediction-missing", EVALUATE, "{tmp}/pred.gff3", files={"ref.gff3": GFF3}),
    error(
        "evaluate/regions-malformed",
        "evaluate {tmp}/pred.gff3 {tmp}/ref.gff3 --regions chrA -o {tmp}/report.txt",
        "--regions",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3},
    ),
    error(
        "evaluate/output-under-a-file",
        "evaluate {tmp}/pred.gff3 {tmp}/ref.gff3 -o {tmp}/pred.gff3/report.txt",
        "{tmp}/pred.gff3",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3},
    ),
    error(
        "evaluate/plot-in-missing-directory",
        "evaluate {tmp}/pred.gff3 {tmp}/ref.gff3 --plot {tmp}/missing/p.png -o {tmp}/report.txt",
        "{tmp}/missing",
        files={"pred.gff3": GFF3, "ref.gff3": GFF3},
    ),
]

TRAIN_ARGS = "train --genome {tmp}/g.fa --annotation {tmp}/a.gff3 {train} -o {tmp}/run"

TRAIN_CASES = [
    error(
        "train/genome-without-annotation",
        "train --genome {genome} {train} -o {tmp}/run",
        "--annotation",
    ),
    error(
        "train/fasta-header-only",
        TRAIN_ARGS,
        "{tmp}/g.fa",
        files={"g.fa": ">chrA\n", "a.gff3": GFF3},
    ),
    error(
        "train/annotation-orphan-exon",
        TRAIN_ARGS,
        "{tmp}/a.gff3",
        "'t9'",
        files={"g.fa": GENOME, "a.gff3": GFF3 + row("exon", 1201, 1400, "Parent=t9")},
    ),
    error(
        "train/annotation-past-sequence-end",
        TRAIN_ARGS,
        "{tmp}/a.gff3",
        files={"g.fa": fasta(("chrA", "ACGT" * 100)), "a.gff3": GFF3},
    ),
    error(
        "train/annotation-names-no-genome-sequence",
        TRAIN_ARGS,
        "{tmp}/a.gff3",
        files={"g.fa": fasta(("chrZ", "ACGT" * 500)), "a.gff3": GFF3},
    ),
    error(
        "train/genome-binary",
        TRAIN_ARGS,
        "{tmp}/g.fa",
        "binary",
        files={"g.fa": PNG, "a.gff3": GFF3},
    ),
    error(
        "train/threads-zero",
        "train --genome {genome} --annotation {gff} --threads 0 -o {tmp}/run",
        "--threads",
    ),
    error(
        "train/model-missing",
        "train --genome {genome} --annotation {gff} --val-regions chrB:1-3000 --model {tmp}/nope "
        "{train} -o {tmp}/run",
        "{tmp}/nope",
    ),
    error(
        "train/val-regions-malformed",
        "train --genome {genome} --annotation {gff} --val-regions chrA:9-1 {train} -o {tmp}/run",
        "--val-regions",
    ),
    error(
        "train/max-time-not-a-duration",
        "train --genome {genome} --annotation {gff} --max-time soon {train} -o {tmp}/run",
        "--max-time",
    ),
    error(
        "train/output-is-a-file",
        "train --genome {genome} --annotation {gff} {train} -o {tmp}/run",
        "{tmp}/run",
        files={"run": "a regular file\n"},
    ),
    error(
        "train/output-not-empty",
        "train --genome {genome} --annotation {gff} {train} -o {tmp}/run",
        "{tmp}/run",
        files={"run": directory(**{"notes.txt": "mine\n"})},
    ),
]

EXTRACT = "splice extract {tmp}/g.fa {tmp}/a.gff3 -o {tmp}/data"
PREDICT = "splice predict splice-fly {genome} --device cpu --threads 1 -o {tmp}/sites.bed"
SINGLE_EXON = HEAD + GENE + MRNA + row("exon", 101, 1000, "Parent=t1")

SPLICE_CASES = [
    ok(
        "splice-extract/crlf-inputs",
        EXTRACT,
        "{tmp}/data",
        files={"g.fa": crlf("genome"), "a.gff3": crlf("gff")},
    ),
    error(
        "splice-extract/no-introns",
        EXTRACT,
        "{tmp}/a.gff3",
        "no introns",
        files={"g.fa": GENOME, "a.gff3": SINGLE_EXON},
    ),
    error(
        "splice-extract/site-past-sequence-end",
        EXTRACT,
        "{tmp}/a.gff3",
        files={"g.fa": fasta(("chrA", "ACGT" * 120)), "a.gff3": GFF3},
    ),
    error(
        "splice-extract/annotation-binary",
        "splice extract {genome} {tmp}/a.gff3 -o {tmp}/data",
        "{tmp}/a.gff3",
        "binary",
        files={"a.gff3": PNG},
    ),
    error(
        "splice-extract/output-not-empty",
        "splice extract {genome} {gff} -o {tmp}/data",
        "{tmp}/data",
        files={"data": directory(**{"notes.txt": "mine\n"})},
    ),
    error(
        "splice-extract/val-malformed",
        "splice extract {genome} {gff} --val chrA:5-1 -o {tmp}/data",
        "--val",
    ),
    error(
        "splice-extract/annotation-missing",
        "splice extract {genome} {tmp}/a.gff3 -o {tmp}/data",
        "{tmp}/a.gff3",
    ),
    error("splice-train/data-missing", "splice train {tmp}/data -o {tmp}/run", "{tmp}/data"),
    error(
        "splice-train/data-without-manifest",
        "splice train {tmp}/data -o {tmp}/run",
        "{tmp}/data",
        files={"data": directory()},
    ),
    error(
        "splice-train/manifest-not-json",
        "splice train {tmp}/data -o {tmp}/run",
        "{tmp}/data/manifest.json",
        files={"data": directory(**{"manifest.json": "{oops"})},
    ),
    error(
        "splice-train/threads-negative",
        "splice train {tmp}/data --threads -1 -o {tmp}/run",
        "--threads",
        files={"data": directory()},
    ),
    ok(
        "splice-predict/soft-masked-genome",
        "splice predict splice-fly {tmp}/g.fa --device cpu --threads 1 -o {tmp}/sites.bed",
        "{tmp}/sites.bed",
        files={"g.fa": lowercase_genome},
    ),
    error(
        "splice-predict/model-empty-directory",
        "splice predict {tmp}/m {genome} --device cpu --threads 1 -o {tmp}/sites.bed",
        "{tmp}/m",
        files={"m": directory()},
    ),
    error(
        "splice-predict/model-config-not-json",
        "splice predict {tmp}/m {genome} --device cpu --threads 1 -o {tmp}/sites.bed",
        "{tmp}/m/config.json",
        files={"m": directory(**{"config.json": "{nope"})},
    ),
    error(
        "splice-predict/annotator-model",
        "splice predict {model} {genome} --device cpu --threads 1 -o {tmp}/sites.bed",
        "{model}",
    ),
    ok(
        "splice-predict/to-dev-null",
        "splice predict splice-fly {genome} --device cpu -o /dev/null",
        "/dev/null",
    ),
    error(
        "splice-predict/no-such-bundle",
        "splice predict splice-nowhere {genome} --device cpu -o {tmp}/sites.bed",
        "splice-nowhere",
    ),
    error("splice-predict/min-score-above-one", PREDICT + " --min-score 2", "--min-score"),
    error(
        "splice-predict/threads-word",
        "splice predict splice-fly {genome} --threads abc -o {tmp}/sites.bed",
        "--threads",
    ),
    error("splice-predict/regions-malformed", PREDICT + " --regions chrA:0-10", "--regions"),
    error(
        "splice-predict/output-in-missing-directory",
        "splice predict splice-fly {genome} --device cpu --threads 1 -o {tmp}/missing/sites.bed",
        "{tmp}/missing",
    ),
    error(
        "splice-predict/genome-duplicate-names",
        "splice predict splice-fly {tmp}/g.fa --device cpu --threads 1 -o {tmp}/sites.bed",
        "{tmp}/g.fa",
        files={"g.fa": fasta(("chrA", "ACGT" * 100), ("chrA", "ACGT" * 100))},
    ),
    error(
        "splice-evaluate/nothing-to-score", "splice evaluate splice-fly -o {tmp}/r.txt", "--data"
    ),
    error(
        "splice-evaluate/genome-without-annotation",
        "splice evaluate splice-fly --genome {genome} --regions chrA:1-4000 -o {tmp}/r.txt",
        "--annotation",
    ),
    error(
        "splice-evaluate/data-missing",
        "splice evaluate splice-fly --data {tmp}/data --device cpu --threads 1 -o {tmp}/r.txt",
        "{tmp}/data",
    ),
    error(
        "splice-evaluate/threads-zero",
        "splice evaluate splice-fly --data {tmp}/data --threads 0 -o {tmp}/r.txt",
        "--threads",
    ),
]

CASES = ANNOTATE_CASES + CONVERT_CASES + EVALUATE_CASES + TRAIN_CASES + SPLICE_CASES


def _params() -> list:
    """The cases as pytest parameters; a case showing a bug is a strict xfail."""
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else [],
        )
        for case in CASES
    ]


# -- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, tiny_random_model: Path
) -> tuple[Path, Path, Path]:
    """The synthetic genome, its genes and the tiny model, outside every case's directory."""
    fasta_path, gff_path = write_synthetic_genome(
        tmp_path_factory.mktemp("corpus"), LENGTHS, genes_per_sequence=1
    )
    return fasta_path, gff_path, tiny_random_model


def _snapshot(directory: Path) -> dict[str, int | None]:
    """Every path under ``directory`` with its size (None for a directory)."""
    return {
        str(path.relative_to(directory)): None if path.is_dir() else path.stat().st_size
        for path in directory.rglob("*")
    }


def _check_output(path: Path, request: pytest.FixtureRequest) -> None:
    """The output at ``path`` is well-formed for its kind."""
    if str(path) == os.devnull:
        assert stat.S_ISCHR(os.lstat(path).st_mode), "/dev/null is no longer a device"
        return
    if path.is_dir():  # a splice dataset
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["counts"], manifest
        return
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".gff3":
        assert text.startswith("##gff-version 3\n"), text[:200]
        assert_valid_gff3(request.getfixturevalue("gt_binary"), path, text[:2000])
    elif path.suffix == ".bed":
        for line in text.splitlines():
            _, start, end, name, score, strand = line.split("\t")
            assert int(start) < int(end) and name in ("donor", "acceptor") and strand in ("+", "-")
            assert 0 <= int(score) <= 1000
    elif path.suffix == ".json":
        assert isinstance(json.loads(text), dict)
    else:
        assert text.strip(), f"{path} is empty"


def _run(capsys: pytest.CaptureFixture[str], env: Env, argv: str) -> tuple[int, str, str]:
    """``genatator -q ARGV``: exit code, stdout and stderr."""
    return run_cli(capsys, "-q", *env.format(argv).split())


@pytest.mark.parametrize("case", _params())
def test_bad_input(
    case: Case,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    shared: tuple[Path, Path, Path],
    request: pytest.FixtureRequest,
) -> None:
    """Exit 2 with one line and nothing written, or exit 0 with valid output (see the module)."""
    env = Env(tmp_path, *shared)
    for name, content in case.files:
        path = tmp_path / name
        if callable(content):
            content(path, env)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    before = _snapshot(tmp_path)

    code, out, err = _run(capsys, env, case.argv)

    assert "Traceback" not in out + err, err
    if case.outcome == "error":
        assert code == 2, f"exit {code}: {err}"
        lines = err.rstrip("\n").split("\n")
        assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{err}"
        assert lines[0].startswith("genatator: error: "), lines[0]
        for fragment in case.names:
            assert env.format(fragment) in lines[0], f"{env.format(fragment)!r} not named"
        after = _snapshot(tmp_path)
        changed = sorted(
            k for k in before.keys() | after.keys() if before.get(k, -1) != after.get(k, -1)
        )
        assert not changed, f"the failed run left or changed files: {changed}"
        return
    assert case.outcome == "ok"
    assert code == 0, err
    assert not list(tmp_path.rglob(f"*{PARTIAL_SUFFIX}")), "a resume sidecar was left"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left"
    if case.same_as is not None:
        reference_argv, reference_output = case.same_as
        code, _, err = _run(capsys, env, reference_argv)
        assert code == 0, err
        reference = Path(env.format(reference_output)).read_bytes()
        assert Path(env.format(case.outputs[0])).read_bytes() == reference
    for output in case.outputs:  # last: without gt installed, the GFF3 check skips
        _check_output(Path(env.format(output)), request)


def test_the_corpus_covers_every_command() -> None:
    """At least 45 cases, with errors and legal-but-odd inputs, over all five commands."""
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)
    commands = {case.argv.split()[0] for case in CASES}
    assert commands == {"annotate", "convert", "evaluate", "train", "splice"}
    splice = {case.argv.split()[1] for case in CASES if case.argv.startswith("splice")}
    assert splice == {"extract", "train", "predict", "evaluate"}
    assert {case.outcome for case in CASES} == {"error", "ok"}
