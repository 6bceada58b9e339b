"""A GPU burst, prepared: train (or continue) a model for minutes on a lent GPU, bring it back.

GPU time comes rarely and in bursts of minutes (the device tool: 15 minutes a session, one
command at most 10, at most 8 files of 16 MiB back, 64 MiB of working tree carried). Three steps:

    # here: copy the inputs into the git-ignored burst/ folder (at most 64 MiB) with the options
    python benchmarks/gpu_burst.py prepare fly
    # on the device, one command (no network; needs only torch and the project):
    python3 benchmarks/gpu_burst.py run burst --minutes 7 --out $OUT
    # here: join the parts that came back into a model directory
    python benchmarks/gpu_burst.py join /work/.device/.../files -o runs/burst-model

``run`` trains with ``genatator train`` (bf16 autocast on CUDA), continuing from
``burst/init/`` when an earlier burst's model was joined there, and writes the best model as a
tar cut into parts of at most 15 MiB plus a SHA-256 manifest; ``join`` checks and unpacks them.
It works on the CPU too (``--device cpu``), which is how the test suite checks it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PART_BYTES = 15 * 2**20  # the device returns files of at most 16 MiB
MAX_PARTS = 7  # at most 8 files come back: the parts and the manifest
MANIFEST = "burst_manifest.json"

#: What ``prepare`` copies, per dataset: training genomes with annotations, held-out regions.
DATASETS = {
    "fly": {
        "sources": [("dmel_chr2R_1-19980000.fa.gz", "dmel_chr2R_1-19980000.refseq.gtf.gz")],
        "val_regions": "chr2R:17980001-19980000",
    },
    "human": {
        "sources": [
            ("hg19_chr21_1-35950000.fa.gz", "hg19_chr21_1-35950000.refseq.gtf.gz"),
            ("grch37_chrX_1-69999930.fa.gz", "grch37_chrX_1-69999930.gencode_canonical.gtf.gz"),
        ],
        "val_regions": "chr21:32000001-35950000",
    },
}


def prepare(args: argparse.Namespace) -> None:
    """Copy a dataset's files and the training options into ``args.folder``."""
    dataset = DATASETS[args.dataset]
    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for genome, annotation in dataset["sources"]:
        for name in (genome, annotation):
            shutil.copyfile(args.data / name, folder / name)
        sources.append([genome, annotation])
    options = {
        "sources": sources,
        "val_regions": dataset["val_regions"],
        "preset": args.preset,
        "window": args.window,
        "batch_size": args.batch_size,
    }
    (folder / "burst.json").write_text(json.dumps(options, indent=1) + "\n")
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    print(f"{folder}: {size / 2**20:.1f} MiB (the device carries at most 64 MiB)")
    if size > 64 * 2**20:
        sys.exit(f"{folder} is over 64 MiB: carry fewer sources")


def train_command(folder: Path, run_dir: Path, args: argparse.Namespace) -> list[str]:
    """``genatator train`` for the burst: from ``folder/init`` when it holds a model."""
    options = json.loads((folder / "burst.json").read_text())
    command = [sys.executable, "-m", "genatator", "train", "-o", str(run_dir)]
    for genome, annotation in options["sources"]:
        command += ["--genome", str(folder / genome), "--annotation", str(folder / annotation)]
    command += ["--val-regions", options["val_regions"]]
    init = folder / "init"
    if (init / "model.safetensors").is_file():
        command += ["--model", str(init)]
    else:
        command += ["--preset", options["preset"]]
    if options.get("window"):
        command += ["--window", str(options["window"])]
    command += [
        "--batch-size", str(options.get("batch_size", 8)),
        "--device", args.device,
        "--precision", "bf16" if args.device == "cuda" else "fp32",
        "--max-time", f"{args.minutes * 60:.0f}",
        "--max-steps", str(args.max_steps),
        "--eval-every", str(args.eval_every),
        "--save-every", str(args.eval_every),
        "--warmup-steps", str(min(args.max_steps // 10, 500)),
        "--log-every", "50",
    ]  # fmt: skip
    return command


def run(args: argparse.Namespace) -> None:
    """Train for ``args.minutes`` and pack the best model into ``args.out``."""
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch) / "run"
        command = train_command(args.folder.resolve(), run_dir, args)
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
        best = run_dir / "best"
        if not (best / "model.safetensors").is_file():
            sys.exit("training wrote no best model (too short a budget for one validation?)")
        shutil.copyfile(run_dir / "metrics.jsonl", best / "burst_metrics.jsonl")
        pack(best, args.out.resolve())


def pack(directory: Path, out: Path) -> None:
    """``directory`` as a tar cut into parts of at most :data:`PART_BYTES`, with a manifest."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "model.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(directory, arcname="model")
        data = archive.read_bytes()
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    if len(parts) > MAX_PARTS:
        sys.exit(f"the model is {len(data) / 2**20:.0f} MiB: more than {MAX_PARTS} parts")
    names = []
    for index, part in enumerate(parts):
        name = f"burst_part_{index:02d}"
        (out / name).write_bytes(part)
        names.append({"name": name, "sha256": hashlib.sha256(part).hexdigest()})
    manifest = {"parts": names, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(parts)} parts, {len(data) / 2**20:.1f} MiB, in {out}")


def join(args: argparse.Namespace) -> None:
    """Check the parts against their manifest and unpack the model directory."""
    manifest = json.loads((args.parts / MANIFEST).read_text())
    data = bytearray()
    for part in manifest["parts"]:
        chunk = (args.parts / part["name"]).read_bytes()
        if hashlib.sha256(chunk).hexdigest() != part["sha256"]:
            sys.exit(f"{part['name']}: checksum mismatch (a damaged or missing part)")
        data += chunk
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        sys.exit("the joined archive does not match the manifest")
    if args.output.exists():
        sys.exit(f"{args.output} exists: choose a new directory")
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "model.tar"
        archive.write_bytes(bytes(data))
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        shutil.move(str(Path(scratch) / "model"), str(args.output))
    print(f"model directory: {args.output}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="copy a dataset into the burst folder")
    p.add_argument("dataset", choices=sorted(DATASETS))
    p.add_argument("--folder", type=Path, default=ROOT / "burst")
    p.add_argument("--data", type=Path, default=SHARED_DATA)
    p.add_argument("--preset", default="small")
    p.add_argument("--window", type=int, help="sample length in nt [default: the preset's]")
    p.add_argument("--batch-size", type=int, default=8)
    r = commands.add_parser("run", help="train on the device and pack the best model")
    r.add_argument("folder", type=Path)
    r.add_argument("--out", type=Path, required=True, help="where the parts go ($OUT)")
    r.add_argument("--minutes", type=float, default=7.0, help="training time budget")
    r.add_argument("--max-steps", type=int, default=100_000)
    r.add_argument("--eval-every", type=int, default=500)
    r.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    j = commands.add_parser("join", help="join parts that came back into a model directory")
    j.add_argument("parts", type=Path)
    j.add_argument("-o", "--output", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    {"prepare": prepare, "run": run, "join": join}[args.command](args)


if __name__ == "__main__":
    main()
