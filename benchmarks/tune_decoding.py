"""Choose a model's post-processing defaults on held-out data: predict once, decode many ways.

    python benchmarks/tune_decoding.py MODEL GENOME ANNOTATION REGION [--probabilities CACHE.npy]

The model's probabilities over REGION (1-based, e.g. chr2R:17980001-18480000) are computed once
(and kept in CACHE.npy when given, so a second sweep skips the model). Every combination of
the grid below is then decoded exactly as ``genatator annotate`` decodes (``call_transcripts``)
and scored with ``genatator evaluate``'s metrics against ANNOTATION on REGION. One line per
combination is printed, best first by exon-level F1 plus gene recall (intron chain), and
``--write`` stores the best combination in MODEL/inference.json as the model's decoding defaults.

Tune on a region that the reported validation numbers do not use, or say that you did not.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from genatator.annotation import read_annotation
from genatator.annotation.models import Annotation
from genatator.decode.calling import call_transcripts, name_genes
from genatator.decode.options import DecodeOverrides
from genatator.decode.parts import model_decoding, model_splice_table
from genatator.evaluation.report import evaluate
from genatator.genome import read_fasta
from genatator.inference.predictor import WindowPredictor, predict_tracks
from genatator.inference.stitch import TrackBlock
from genatator.model.directory import load_model_directory
from genatator.model.files import resolve_model_dir
from genatator.model.settings import InferenceSettings
from genatator.regions import parse_regions

#: The knobs swept, each with the values tried (the others keep the model's current defaults).
GRID: dict[str, tuple] = {
    "genic_threshold": (0.5, 0.6),
    "max_region_gap": (20, 200),
    "exon_smoothing": (0, 9, 25),
    "min_exon_length": (4, 20),
    "splice_snap": (0, 15),
}


def probabilities(model_dir: Path, sequence: str, *, threads: int | None) -> np.ndarray:
    """Stitched per-base probabilities of ``sequence``, as ``annotate`` computes them."""
    if threads:
        torch.set_num_threads(threads)
    model, tokenizer = load_model_directory(model_dir)
    settings = InferenceSettings.load(model_dir)
    predictor = WindowPredictor(model, tokenizer, device="cpu")
    blocks = predict_tracks(predictor, sequence, window=settings.window or model.config.max_tokens)
    return np.concatenate([block.probabilities for block in blocks])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("genome")
    parser.add_argument("annotation")
    parser.add_argument("region", help="1-based seqid:start-end")
    parser.add_argument("--probabilities", help="cache file (.npy) for the model's track")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--top", type=int, default=10, help="rows printed")
    parser.add_argument("--write", action="store_true", help="store the best in inference.json")
    args = parser.parse_args()

    model_dir = resolve_model_dir(args.model)
    (region,) = parse_regions(args.region)
    sequence = next(r.sequence for r in read_fasta(args.genome) if r.name == region.seqid)
    part = sequence[region.start : region.end]
    cache = Path(args.probabilities) if args.probabilities else None
    started = time.monotonic()
    if cache is not None and cache.is_file():
        track = np.load(cache)
    else:
        track = probabilities(model_dir, part, threads=args.threads)
        if cache is not None:
            np.save(cache, track)
    print(f"# probabilities of {region} ready in {time.monotonic() - started:.1f} s", flush=True)

    settings = InferenceSettings.load(model_dir)
    table = model_splice_table(settings)
    base = model_decoding(settings, model_dir, DecodeOverrides()).threshold
    reference = read_annotation(args.annotation)
    rows = []
    for values in itertools.product(*GRID.values()):
        options = replace(base, **dict(zip(GRID, values)))
        transcripts = list(
            call_transcripts(
                [TrackBlock(0, track)],
                sequence,
                seqid=region.seqid,
                offset=region.start,
                options=options,
                splice_table=table,
            )
        )
        prediction = Annotation(genes=name_genes(region.seqid, transcripts))
        report = evaluate(prediction, reference, regions=[region]).to_dict()
        exon = report["exon"]["all"]
        gene = report["gene"]
        rows.append(
            (
                exon["f1"] or 0.0,
                gene["intron_chain"]["recall"]["all"]["fraction"] or 0.0,
                gene["cds_chain"]["recall"]["coding"]["fraction"] or 0.0,
                len(transcripts),
                dict(zip(GRID, values)),
                options,
            )
        )
    # The two goals, equally weighted: exon-level F1 and gene recall (intron chain).
    rows.sort(key=lambda row: (row[0] + row[1], row[0]), reverse=True)
    print("exon_F1  gene_recall_intron_chain  gene_recall_cds_chain  transcripts  settings")
    for f1, intron_chain, cds_chain, count, values, _ in rows[: args.top]:
        print(
            f"{f1:.3f}    {intron_chain:.3f}                     {cds_chain:.3f}"
            f"                  {count:<11d}  {values}"
        )
    if args.write:
        best = rows[0][5]
        replace(settings, decode=best.to_dict()).save(model_dir)
        print(f"# wrote the best settings to {model_dir / 'inference.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
