"""`genatator splice predict`: stream a genome, score both strands, write sites as BED."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from genatator._io import atomic_output
from genatator.errors import InputError
from genatator.genome import read_fasta
from genatator.regions import Region
from genatator.splice.bed import write_bedgraph, write_sites_bed
from genatator.splice.models import SpliceModel
from genatator.splice.scoring import iter_blocks, score_region
from genatator.splice.windows import encode

__all__ = ["TRACK_NAMES", "predict_sites"]

#: bedGraph files written with ``tracks``: (file stem, kind, strand row).
TRACK_NAMES = (
    ("donor_plus", "donor", 0),
    ("donor_minus", "donor", 1),
    ("acceptor_plus", "acceptor", 0),
    ("acceptor_minus", "acceptor", 1),
)


def predict_sites(
    model: SpliceModel,
    genome: str | Path,
    output: str | Path,
    *,
    min_score: float = 0.5,
    regions: Sequence[Region] | None = None,
    tracks: str | Path | None = None,
    block: int = 1_000_000,
    batch_size: int = 256,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score every position of ``genome`` (or ``regions``) on both strands and write BED.

    One sequence is held at a time and scored ``block`` bases at a time (with context from its
    neighbours), so memory stays bounded by the longest sequence. Outputs are written
    atomically: a failed run leaves no file behind.

    Args:
        model: the splice-site model.
        genome: FASTA (plain, gzip or ``-``).
        output: BED file (``-``: stdout); sites scoring at least ``min_score``.
        min_score: the lowest score written.
        regions: only these parts of the genome.
        tracks: a directory for four bedGraph tracks (donor/acceptor × strand) of every score.
        block: bases scored at a time.
        batch_size: windows or chunks per forward pass.
        device: torch device.
        progress: called with the number of bases done after each block.

    Returns:
        The number of BED lines written.

    Raises:
        InputError: the genome cannot be read, or a region names a sequence it lacks.
    """
    wanted: dict[str, list[Region]] | None = None
    if regions is not None:
        wanted = {}
        for region in regions:
            wanted.setdefault(region.seqid, []).append(region)
    seen: set[str] = set()
    written = 0
    with atomic_output(output) as bed, _track_files(tracks) as track_handles:
        for record in read_fasta(genome):
            if wanted is not None and record.name not in wanted:
                continue
            seen.add(record.name)
            codes = encode(record.sequence)
            spans = (
                [(0, record.length)]
                if wanted is None
                else [(r.start, min(r.end, record.length)) for r in wanted[record.name]]
            )
            for span_start, span_end in spans:
                for lo, hi in iter_blocks(span_end - span_start, block):
                    start, end = span_start + lo, span_start + hi
                    scores = score_region(
                        model, codes, start, end, batch_size=batch_size, device=device
                    )
                    written += write_sites_bed(
                        bed, record.name, scores, start, min_score, length=record.length
                    )
                    for stem, handle in track_handles.items():
                        _, kind, row = next(t for t in TRACK_NAMES if t[0] == stem)
                        write_bedgraph(handle, record.name, getattr(scores, kind)[row], start)
                    if progress:
                        progress(end - start)
        # Inside the with block: a missing sequence discards the outputs instead of keeping them.
        missing = sorted(set(wanted or ()) - seen)
        if missing:
            raise InputError(f"no sequence named {', '.join(missing)}", path=genome)
    return written


@contextlib.contextmanager
def _track_files(directory: str | Path | None) -> Iterator[dict[str, IO[str]]]:
    """Open the four bedGraph tracks atomically in ``directory`` (nothing when None)."""
    if directory is None:
        yield {}
        return
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        handles = {}
        for stem, kind, row in TRACK_NAMES:
            handle = stack.enter_context(atomic_output(folder / f"{stem}.bedGraph"))
            strand = "+" if row == 0 else "-"
            handle.write(
                f'track type=bedGraph name="{kind} {strand}" '
                f'description="splice-site model {kind} score, {strand} strand"\n'
            )
            handles[stem] = handle
        yield handles
