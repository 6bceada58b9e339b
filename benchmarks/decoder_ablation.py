"""Decoder ablation on a held-out region: which evidence buys what, next to AUGUSTUS.

    python benchmarks/decoder_ablation.py fly chr2R:17980001-19980000 \\
        --tune chr2R:17980001-18480000 --augustus AUGUSTUS.gff3
    python benchmarks/decoder_ablation.py human chr21:32000001-35950000 \\
        --tune chr21:32000001-33000000 --augustus AUGUSTUS.gff3 --true-sites

MODEL (a bundle name or model directory with gene-model files) predicts REGION's probability
tracks once, and its default splice-site model scores REGION's sites once (both cached in
``--cache``). The same tracks are then decoded by:

- the threshold decoder (the paper's; the model's ``inference.json`` settings);
- the gene-model HMM fed: the network only; network + the splice-site model; network + the
  splice-site model + the counted site matrices; network + codon content; all of them (the
  default); splice sites + site matrices + codon content without the network;
- with ``--true-sites``, the default HMM with the splice model's scores replaced by the
  reference's own sites (1 at every annotated donor/acceptor, 0 elsewhere): what perfect site
  evidence would buy;
- AUGUSTUS, from a GFF3 it wrote for REGION (``benchmarks/compare_peers.py --keep`` makes one).

Each is scored with ``genatator evaluate``'s metrics against the dataset's reference on the
tuning part (``--tune``, where the model's HMM weights were fitted), on the rest, and on the
whole region. The default HMM's exon posteriors are also binned against their exact-match rate
on the rest (a reliability table). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

import numpy as np

from genatator.annotation import read_annotation
from genatator.annotation.models import Annotation, Transcript
from genatator.decode.calling import call_transcripts, name_genes
from genatator.decode.options import Decoding
from genatator.decode.parts import load_decoder_parts
from genatator.decode.segments import hmm_transcripts
from genatator.evaluation.report import evaluate
from genatator.genome import read_fasta
from genatator.inference.stitch import TrackBlock
from genatator.model.files import resolve_model_dir
from genatator.regions import Region, parse_regions

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {
    "fly": ("dmel_chr2R_1-19980000.fa.gz", "dmel_chr2R_1-19980000.refseq.gtf.gz"),
    "human": ("hg19_chr21_1-35950000.fa.gz", "hg19_chr21_1-35950000.refseq.gtf.gz"),
}
BLOCK = 1_000_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="bundle name or model directory")
    parser.add_argument("region", help="held-out region, chr:start-end (1-based)")
    parser.add_argument(
        "--tune", required=True, help="the part of REGION the weights were fitted on"
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), help="default: the model's name")
    parser.add_argument("--augustus", type=Path, help="AUGUSTUS GFF3 covering REGION")
    parser.add_argument("--true-sites", action="store_true", help="add the true-sites diagnostic")
    parser.add_argument("--cache", type=Path, default=Path("runs/ablation"), help="evidence cache")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def evidence(args: argparse.Namespace, model_dir: Path, sequence: str, region: Region) -> dict:
    """Probability tracks and splice scores of the region, computed once and cached."""
    import torch

    from genatator.inference import WindowPredictor, predict_tracks
    from genatator.model.directory import load_model_directory
    from genatator.model.settings import InferenceSettings
    from genatator.splice.models import load_splice_model
    from genatator.splice.scoring import score_region
    from genatator.splice.windows import encode

    cache = args.cache / f"{model_dir.name}_{region.seqid}_{region.start}_{region.end}.npz"
    if cache.is_file():
        return dict(np.load(cache))
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model_directory(model_dir)
    settings = InferenceSettings.load(model_dir)
    predictor = WindowPredictor(model, tokenizer, device="cpu")
    part = sequence[region.start : region.end]
    blocks = predict_tracks(predictor, part, window=settings.window or model.config.max_tokens)
    tracks = np.concatenate([block.probabilities for block in blocks])
    site_model = load_splice_model(resolve_model_dir(settings.splice_model))
    scores = score_region(site_model, encode(sequence), region.start, region.end)
    values = {"probabilities": tracks, "donor": scores.donor, "acceptor": scores.acceptor}
    args.cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **values)
    return values


def true_sites(reference: Annotation, region: Region) -> tuple[np.ndarray, np.ndarray]:
    """1 at every annotated intron's donor and acceptor inside the region (site convention of
    ``genatator.splice.scoring``), 0 elsewhere."""
    n = region.end - region.start
    donor, acceptor = np.zeros((2, n), np.float32), np.zeros((2, n), np.float32)
    for gene in reference.genes:
        for transcript in gene.transcripts:
            if transcript.seqid != region.seqid:
                continue
            row = 0 if transcript.strand == "+" else 1
            for start, end in transcript.introns:
                first, last = start - region.start, end - 1 - region.start
                five, three = (first, last) if row == 0 else (last, first)
                if 0 <= five < n:
                    donor[row, five] = 1.0
                if 0 <= three < n:
                    acceptor[row, three] = 1.0
    return donor, acceptor


def decode_hmm(decoding, parts, sequence, region, values, *, sites, content, network,
               matrices=True):  # type: ignore[no-untyped-def]  # fmt: skip
    """Transcripts of the region with some evidence switched off."""
    weights = decoding.hmm.weights
    hmm = dataclasses.replace(
        decoding.hmm,
        use_network=network,
        weights=dataclasses.replace(
            weights,
            content=weights.content if content else 0.0,
            matrices=weights.matrices if matrices else 0.0,
        ),
    )
    decoder = parts.hmm_decoder(hmm)
    donor, acceptor = sites if sites is not None else (None, None)
    scorer = None
    if donor is not None:

        def scorer(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = lo - region.start, hi - region.start
            return donor[:, a:b], acceptor[:, a:b]

    return list(
        hmm_transcripts(
            _blocks(values["probabilities"]),
            sequence,
            seqid=region.seqid,
            offset=region.start,
            decoder=decoder,
            site_scorer=scorer,
        )
    )


def _blocks(track: np.ndarray) -> list[TrackBlock]:
    return [
        TrackBlock(start, track[start : start + BLOCK]) for start in range(0, len(track), BLOCK)
    ]


def metrics(transcripts: list[Transcript], reference: Annotation, region: Region) -> dict:
    inside = [t for t in transcripts if t.start >= region.start and t.end <= region.end]
    prediction = Annotation(
        genes=name_genes(region.seqid, [dataclasses.replace(t) for t in inside])
    )
    report = evaluate(prediction, reference, regions=[region]).to_dict()
    gene = report["gene"]["intron_chain"]
    return {
        "exon F1": report["exon"]["all"]["f1"],
        "CDS F1": report["cds"]["coding"]["f1"],
        "coding gene recall": gene["recall"]["coding"]["fraction"],
        "non-coding gene recall": gene["recall"]["noncoding"]["fraction"],
        "transcript precision": gene["precision"]["all"]["fraction"],
        "transcripts": len(inside),
    }


def reliability(transcripts: list[Transcript], reference: Annotation, region: Region) -> None:
    """Exon posterior vs the rate at which such exons match a reference exon exactly."""
    truth = {
        (t.strand, start, end)
        for gene in reference.genes
        for t in gene.transcripts
        for start, end in t.exons
    }
    scores, hits = [], []
    for t in transcripts:
        if t.start < region.start or t.end > region.end:
            continue
        for (start, end), score in zip(t.exons, t.exon_scores):
            scores.append(score)
            hits.append((t.strand, start, end) in truth)
    scores_array, hits_array = np.array(scores), np.array(hits)
    print(f"\n# exon posterior reliability on {region} ({len(scores)} exons)")
    print("| posterior | exons | mean posterior | exact-match rate |")
    print("|---|---|---|---|")
    edges = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001]
    for lo, hi in itertools.pairwise(edges):
        mask = (scores_array >= lo) & (scores_array < hi)
        if mask.any():
            print(
                f"| {lo:.1f}–{min(hi, 1.0):.1f} | {mask.sum()} | {scores_array[mask].mean():.3f} "
                f"| {hits_array[mask].mean():.3f} |"
            )


def main() -> int:
    args = parse_args()
    model_dir = resolve_model_dir(args.model)
    dataset = args.dataset or model_dir.name
    genome, annotation = (DATA / name for name in DATASETS[dataset])
    if not genome.is_file():
        sys.exit(f"{genome}: missing (the shared data folder is needed)")
    (region,) = parse_regions(args.region)
    (tune,) = parse_regions(args.tune)
    if tune.seqid != region.seqid or tune.start != region.start or tune.end >= region.end:
        sys.exit("--tune must be a leading part of REGION")
    rest = Region(region.seqid, tune.end, region.end)
    sequence = next(r.sequence for r in read_fasta(str(genome)) if r.name == region.seqid)
    reference = read_annotation(str(annotation))
    values = evidence(args, model_dir, sequence, region)
    parts = load_decoder_parts(model_dir)
    decoding: Decoding = parts.default_decoding()
    sites = (values["donor"], values["acceptor"])

    runs: dict[str, list[Transcript]] = {}
    seconds: dict[str, float] = {}

    def timed(name: str, make) -> None:  # type: ignore[no-untyped-def]
        started = time.monotonic()
        runs[name] = make()
        seconds[name] = time.monotonic() - started

    timed(
        "threshold decoder",
        lambda: list(
            call_transcripts(
                _blocks(values["probabilities"]),
                sequence,
                seqid=region.seqid,
                offset=region.start,
                options=decoding.threshold,
                splice_table=parts.splice_table,
            )
        ),
    )
    configs = {
        "HMM: network only": dict(sites=None, content=False, network=True, matrices=False),
        "HMM: network + splice model": dict(
            sites=sites, content=False, network=True, matrices=False
        ),
        "HMM: network + splice model + site matrices": dict(
            sites=sites, content=False, network=True
        ),
        "HMM: network + content": dict(sites=None, content=True, network=True, matrices=False),
        "HMM: all (default)": dict(sites=sites, content=True, network=True),
        "HMM: splice + content, no network": dict(sites=sites, content=True, network=False),
    }
    if args.true_sites:
        configs["HMM: all, true sites"] = dict(
            sites=true_sites(reference, region), content=True, network=True
        )
    for name, config in configs.items():
        timed(
            name,
            lambda config=config: decode_hmm(decoding, parts, sequence, region, values, **config),
        )
    if args.augustus:
        augustus = read_annotation(str(args.augustus))
        runs["AUGUSTUS"] = [t for gene in augustus.genes for t in gene.transcripts]

    print(f"# {args.model} on {region}; weights fitted on {tune}; rest = {rest}")
    columns = ["exon F1", "CDS F1", "coding gene recall", "non-coding gene recall",
               "transcript precision", "transcripts"]  # fmt: skip
    for part_name, part in (("tuning part", tune), ("rest (held out from tuning)", rest),
                            ("whole region", region)):  # fmt: skip
        print(f"\n## {part_name}: {part}\n")
        print("| decoder | " + " | ".join(columns) + " |")
        print("|---|" + "---|" * len(columns))
        for name, transcripts in runs.items():
            row = metrics(transcripts, reference, part)
            cells = [
                str(row[c]) if c == "transcripts" else "—" if row[c] is None else f"{row[c]:.3f}"
                for c in columns
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n# decoding seconds per Mb (this machine, one thread)")
    for name, value in seconds.items():
        print(f"- {name}: {value / ((region.end - region.start) / 1e6):.2f}")
    reliability(runs["HMM: all (default)"], reference, rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
