"""The outputs of a run while it goes: finished sequences kept beside ``-o``, the run's
fingerprint for ``--resume``, and the final files assembled from them."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from genatator._io import atomic_output, is_special_output
from genatator.annotation.models import CODING_KIND, Gene, Transcript
from genatator.annotation.write import write_gff3
from genatator.distributed import Distributed
from genatator.errors import ConfigError, GenatatorError, InputError, warn
from genatator.postprocess.cds import coding_sequence, protein

__all__ = [
    "PARTIAL_SUFFIX",
    "AnnotateSummary",
    "Outputs",
    "PartialOutputs",
    "file_identity",
    "model_identity",
    "plural",
]

#: Sidecar directory beside the output holding finished sequences, for ``--resume``.
PARTIAL_SUFFIX = ".genatator-partial"
_RUN_FILE = "run.json"
_FASTA_WIDTH = 60


@dataclass
class AnnotateSummary:
    """What a run did, for the closing log line and for tests."""

    sequences: int = 0
    nucleotides: int = 0
    genes: int = 0
    coding: int = 0
    resumed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Outputs:
    """Where results go; ``None`` means not asked for."""

    gff3: str
    proteins: str | None = None
    cds_fasta: str | None = None
    tracks: str | None = None
    track_format: str = "bigwig"


def file_identity(path: str) -> list:
    """What identifies an input file for ``--resume``: its resolved path, size and mtime."""
    if path == "-":
        return ["<stdin>"]
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(exc.strerror or "cannot read the file", path=path) from None
    return [str(Path(path).resolve()), info.st_size, info.st_mtime_ns]


def model_identity(directory: Path) -> str:
    """A digest of a model directory's file names, sizes and mtimes, for ``--resume``."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(os.listdir(directory)):
        file = directory / name
        if file.is_file():
            info = file.stat()
            digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def plural(n: int, noun: str) -> str:
    """``1 sequence``, ``2 sequences``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


class PartialOutputs:
    """The sidecar directory of finished sequences, and the final assembly of the outputs.

    Each finished sequence leaves ``<index>.gff3`` (its genes, without directives), optional
    ``.faa``/``.fna`` and, written last, ``<index>.json`` naming it: a sequence counts as done
    only when its marker exists, so a kill at any moment loses at most the sequence in progress.
    Output to stdout, a device or a FIFO has no place beside it: a private directory is used.
    """

    def __init__(self, output: str, world: Distributed) -> None:
        self.world = world
        self.private = self.is_private(output)
        self.directory: Path | None = None if self.private else Path(output + PARTIAL_SUFFIX)

    @staticmethod
    def is_private(output: str) -> bool:
        """True when ``output`` gets a private, temporary sidecar (stdout, a device, a FIFO)."""
        return output == "-" or is_special_output(output)

    def start(self, fingerprint: dict, *, resume: bool) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="genatator-annotate-"))
        elif self.world.is_main:
            run_file = self.directory / _RUN_FILE
            if resume and run_file.is_file():
                saved = json.loads(run_file.read_text(encoding="utf-8"))
                if saved != json.loads(json.dumps(fingerprint)):  # tuples read back as lists
                    raise ConfigError(
                        f"{self.directory}: the interrupted run used another genome, model or "
                        "options; rerun without --resume to start over"
                    )
            else:
                if self.directory.exists():
                    self._discard_interrupted(resume=resume)
                self.directory.mkdir(parents=True)
                with atomic_output(run_file) as handle:
                    handle.write(json.dumps(fingerprint, indent=1) + "\n")
        self.world.barrier()

    def _discard_interrupted(self, *, resume: bool) -> None:
        """Remove an earlier run's sidecar, saying first what finished work goes with it."""
        assert self.directory is not None
        finished = len(self._markers())
        if finished and not resume:
            warn(
                f"{self.directory}: discarded {plural(finished, 'finished sequence')} of an "
                "interrupted run and started over; next time, rerun with --resume to keep them"
            )
        shutil.rmtree(self.directory)

    def _markers(self) -> list[Path]:
        """The markers of the finished sequences in the sidecar."""
        assert self.directory is not None
        return [path for path in self.directory.glob("*.json") if path.name != _RUN_FILE]

    def discard_temporary(self) -> None:
        """Remove the private directory of a stdout, device or FIFO run (a file's is kept)."""
        if self.private and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    def discard_on_bad_input(self, exc_type: type | None, *_: object) -> bool:
        """Remove the sidecar when the run stops on bad input: resuming could not help, as
        the input must change. A kill or a crash keeps it for ``--resume``."""
        bad_input = exc_type is not None and issubclass(exc_type, GenatatorError)
        if bad_input and self.world.is_main and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        return False

    def done(self, index: int) -> bool:
        assert self.directory is not None
        return (self.directory / f"{index:08d}.json").is_file()

    def finish(
        self,
        index: int,
        seqid: str,
        length: int,
        genes: list[Gene],
        sequence: str,
        outputs: Outputs,
    ) -> None:
        assert self.directory is not None
        stem = self.directory / f"{index:08d}"
        with atomic_output(f"{stem}.gff3") as handle:
            write_gff3(genes, handle, header=False, sequence_regions=False)
        if outputs.proteins:
            with atomic_output(f"{stem}.faa") as handle:
                handle.write(_fasta(genes, sequence, protein))
        if outputs.cds_fasta:
            with atomic_output(f"{stem}.fna") as handle:
                handle.write(_fasta(genes, sequence, coding_sequence))
        marker = {
            "index": index,
            "seqid": seqid,
            "length": length,
            "genes": len(genes),
            "coding": sum(gene.is_coding for gene in genes),
        }
        with atomic_output(f"{stem}.json") as handle:
            handle.write(json.dumps(marker) + "\n")

    def assemble(self, outputs: Outputs, lengths: dict[str, int], summary: AnnotateSummary) -> None:
        """Write the final files from the finished sequences, then remove the sidecar."""
        assert self.directory is not None
        markers = sorted(
            (json.loads(path.read_text(encoding="utf-8")) for path in self._markers()),
            key=lambda marker: marker["index"],
        )
        summary.sequences = len(markers)
        summary.nucleotides = sum(marker["length"] for marker in markers)
        summary.genes = sum(marker["genes"] for marker in markers)
        summary.coding = sum(marker["coding"] for marker in markers)
        stems = [self.directory / f"{marker['index']:08d}" for marker in markers]
        with atomic_output(outputs.gff3) as handle:
            write_gff3([], handle, sequence_lengths=lengths)
            _concatenate(handle, (f"{stem}.gff3" for stem in stems))
        if outputs.proteins:
            with atomic_output(outputs.proteins) as handle:
                _concatenate(handle, (f"{stem}.faa" for stem in stems))
        if outputs.cds_fasta:
            with atomic_output(outputs.cds_fasta) as handle:
                _concatenate(handle, (f"{stem}.fna" for stem in stems))
        shutil.rmtree(self.directory, ignore_errors=True)


def _concatenate(handle, paths: Iterable[str]) -> None:  # type: ignore[no-untyped-def]
    for path in paths:
        with open(path, encoding="utf-8") as part:
            shutil.copyfileobj(part, handle)


def _fasta(genes: list[Gene], sequence: str, make: Callable[..., str]) -> str:
    """FASTA of every coding transcript's protein or CDS (``make``), 60 letters a line."""
    lines = []
    for gene in genes:
        for transcript in gene.transcripts:
            if transcript.kind != CODING_KIND or not transcript.cds:
                continue
            text = make(transcript, sequence)
            lines.append(f">{transcript.id} gene={gene.id} {_location(transcript)}")
            lines.extend(text[i : i + _FASTA_WIDTH] for i in range(0, len(text), _FASTA_WIDTH))
    return "\n".join(lines) + "\n" if lines else ""


def _location(transcript: Transcript) -> str:
    return f"{transcript.seqid}:{transcript.start + 1}-{transcript.end}({transcript.strand})"
