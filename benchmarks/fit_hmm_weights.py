"""Fit a model's HMM evidence weights on a held-out region and store them in its inference.json.

    python benchmarks/fit_hmm_weights.py fly chr2R:17980001-18480000 \\
        --within chr2R:17980001-19980000 --write
    python benchmarks/fit_hmm_weights.py human chr21:32000001-33000000 \\
        --within chr21:32000001-35950000 --write

MODEL's probability tracks and its default splice model's site scores over REGION are computed
once (cached like ``decoder_ablation.py``'s); the weights are then moved one at a time
(``genatator.decode.fit``) to maximise exon F1 + CDS F1 against the dataset's reference on
REGION. Fit on a region that the numbers you report do not use (``decoder_ablation.py
--tune`` reports this part separately). Prints every trial; ``--write`` stores the best.
The search is local: ``--restarts K`` runs it K times more from the best weights with each
weight moved by a random step (``--seed``), and keeps the best of all.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from decoder_ablation import DATA, DATASETS, decode_hmm, evidence, metrics

from genatator.annotation import read_annotation
from genatator.decode.fit import SEARCH_STEPS, fit_weights
from genatator.decode.options import HmmWeights
from genatator.decode.parts import load_decoder_parts
from genatator.genome import read_fasta
from genatator.model.files import resolve_model_dir
from genatator.model.settings import InferenceSettings
from genatator.regions import parse_regions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("region", help="the tuning region, chr:start-end (1-based)")
    parser.add_argument("--dataset", choices=sorted(DATASETS))
    parser.add_argument("--cache", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--restarts",
        type=int,
        default=0,
        help="coordinate searches more from randomly moved best weights (the search is local)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the restarts' moves")
    parser.add_argument(
        "--names",
        help="only these weights, comma-separated (default: all of genatator.decode.fit's)",
    )
    parser.add_argument(
        "--within",
        help="a larger region whose cached evidence (decoder_ablation.py's) REGION is cut from, "
        "so fitting sees the same tracks as the ablation",
    )
    parser.add_argument("--write", action="store_true", help="store the best in inference.json")
    args = parser.parse_args()

    model_dir = resolve_model_dir(args.model)
    genome, annotation = (DATA / name for name in DATASETS[args.dataset or model_dir.name])
    (region,) = parse_regions(args.region)
    sequence = next(r.sequence for r in read_fasta(str(genome)) if r.name == region.seqid)
    reference = read_annotation(str(annotation))
    if args.within:
        (outer,) = parse_regions(args.within)
        if outer.seqid != region.seqid or not outer.start <= region.start < region.end <= outer.end:
            sys.exit("--within must contain REGION")
        whole = evidence(args, model_dir, sequence, outer)
        lo, hi = region.start - outer.start, region.end - outer.start
        values = {
            "probabilities": whole["probabilities"][lo:hi],
            "donor": whole["donor"][:, lo:hi],
            "acceptor": whole["acceptor"][:, lo:hi],
        }
    else:
        values = evidence(args, model_dir, sequence, region)
    parts = load_decoder_parts(model_dir)
    decoding = parts.default_decoding()
    sites = (values["donor"], values["acceptor"])

    def objective(weights: HmmWeights) -> float:
        trial = dataclasses.replace(
            decoding, hmm=dataclasses.replace(decoding.hmm, weights=weights)
        )
        transcripts = decode_hmm(
            trial, parts, sequence, region, values, sites=sites, content=True, network=True
        )
        row = metrics(transcripts, reference, region)
        value = (row["exon F1"] or 0.0) + (row["CDS F1"] or 0.0)
        print(f"{value:.4f}  exon {row['exon F1']}  CDS {row['CDS F1']}  {weights}", flush=True)
        return value

    names = tuple(args.names.split(",")) if args.names else tuple(SEARCH_STEPS)
    unknown = set(names) - set(SEARCH_STEPS)
    if unknown:
        sys.exit(f"--names: unknown weights {sorted(unknown)}; known: {sorted(SEARCH_STEPS)}")
    result = fit_weights(
        objective,
        decoding.hmm.weights,
        names=names,
        rounds=args.rounds,
        restarts=args.restarts,
        seed=args.seed,
    )
    print(f"# best {result.objective:.4f}: {result.weights}")
    if args.write:
        settings = InferenceSettings.load(model_dir)
        hmm = dataclasses.replace(decoding.hmm, weights=result.weights)
        dataclasses.replace(settings, hmm=hmm.to_dict()).save(model_dir)
        print(f"# wrote the weights to {model_dir / 'inference.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
