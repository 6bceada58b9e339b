"""Write per-nucleotide class probabilities as genome-browser tracks (bigWig or bedGraph)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Literal

import numpy as np

from genatator._io import move_output
from genatator.errors import ConfigError, GenatatorWarning
from genatator.labels import CLASSES

__all__ = ["TrackFormat", "TrackWriter", "default_track_format"]

TrackFormat = Literal["bigwig", "bedgraph"]

_EXTENSIONS: dict[str, str] = {"bigwig": ".bw", "bedgraph": ".bedGraph"}
#: Most decimals kept: bigWig stores float32 (about 7 significant digits).
_MAX_PRECISION = 6
#: Intervals per ``addEntries`` call: bulk calls are fast, bounded ones keep a noisy chromosome's
#: millions of intervals from being loaded at once.
_CHUNK = 1 << 20
#: bigWig coordinates are uint32.
_BIGWIG_MAX_LENGTH = 2**32 - 1
#: One spooled interval; ``end`` is kept so the spool needs no knowledge of the tiling.
_SPOOL = np.dtype([("start", "<u4"), ("end", "<u4"), ("value", "<f4")])


def _import_pybigwig() -> ModuleType:
    """The pyBigWig module, imported on first use because it is an optional dependency.

    Raises:
        ConfigError: pyBigWig is not installed.
    """
    try:
        import pyBigWig
    except ImportError:
        raise ConfigError(
            "bigWig tracks need pyBigWig: pip install pyBigWig, or write bedGraph tracks instead"
        ) from None
    return pyBigWig


def default_track_format() -> TrackFormat:
    """``"bigwig"`` when pyBigWig can be imported, else ``"bedgraph"``."""
    try:
        _import_pybigwig()
    except ConfigError:
        return "bedgraph"
    return "bigwig"


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and values of the runs of equal neighbours in a non-empty 1-D array."""
    starts = np.concatenate(([0], np.flatnonzero(values[1:] != values[:-1]) + 1))
    return starts, values[starts]


class _BedGraphSink:
    """Streams intervals as bedGraph text straight into one file per class."""

    max_length: int | None = None

    def __init__(self, staging: Path, classes: Sequence[str], precision: int) -> None:
        self._scale = 10**precision
        self._precision = precision
        self._labels: dict[int, str] = {}
        self._handles: list[IO[str]] = []
        for name in classes:
            handle = open(staging / f"{name}.bedGraph", "w", encoding="utf-8")  # noqa: SIM115
            self._handles.append(handle)
            # IGV reads name, description and the fixed 0-1 scale from the track line.
            handle.write(
                f'track type=bedGraph name="{name}" description="genatator {name} probability" '
                "visibility=full autoScale=off viewLimits=0:1\n"
            )

    def _label(self, quantised: int) -> str:
        """Shortest exact text of a quantised value (``0``, ``1``, ``0.25``)."""
        label = self._labels.get(quantised)
        if label is None:
            label = f"{quantised / self._scale:.{self._precision}f}"
            if "." in label:
                label = label.rstrip("0").rstrip(".")
            self._labels[quantised] = label
        return label

    def write(
        self, index: int, seqid: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray
    ) -> None:
        if not len(starts):
            return
        # Format each distinct value once, then build all lines with C-level map/join.
        distinct, inverse = np.unique(values, return_inverse=True)
        labels = np.array([self._label(v) for v in distinct.tolist()], dtype=object)[inverse]
        columns = zip(repeat(seqid), map(str, starts.tolist()), map(str, ends.tolist()), labels)
        self._handles[index].write("\n".join(map("\t".join, columns)) + "\n")

    def end_sequence(self, seqid: str, length: int) -> None:
        pass

    def finish(self, staging: Path, classes: Sequence[str]) -> bool:
        """Close the files; True: they are complete."""
        for handle in self._handles:
            handle.close()
        return True

    def discard(self) -> None:
        for handle in self._handles:
            handle.close()


class _BigWigSink:
    """Spools intervals to binary files and converts them to bigWig once all lengths are known.

    A bigWig header must list every sequence and its length before the first entry, but
    sequences stream in one after another and their lengths are known only at the end, so the
    intervals wait in a compact binary spool (12 bytes each) until :meth:`finish`.
    """

    max_length: int | None = _BIGWIG_MAX_LENGTH

    def __init__(self, staging: Path, classes: Sequence[str], precision: int) -> None:
        self._pybigwig = _import_pybigwig()
        self._scale = 10**precision
        self._spools: list[IO[bytes]] = []
        for name in classes:
            self._spools.append(open(staging / f"{name}.spool", "wb"))  # noqa: SIM115
        self._counts = [0] * len(classes)
        self._sequences: list[tuple[str, int, list[int]]] = []  # seqid, length, counts per class

    def write(
        self, index: int, seqid: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray
    ) -> None:
        if not len(starts):
            return
        records = np.empty(len(starts), dtype=_SPOOL)
        records["start"], records["end"] = starts, ends
        records["value"] = values / self._scale
        records.tofile(self._spools[index])
        self._counts[index] += len(records)

    def end_sequence(self, seqid: str, length: int) -> None:
        self._sequences.append((seqid, length, self._counts))
        self._counts = [0] * len(self._counts)

    def finish(self, staging: Path, classes: Sequence[str]) -> bool:
        """Convert the spools to bigWig files; False when no sequence has bases to hold."""
        for spool in self._spools:
            spool.close()
        # Empty sequences are left out (genome tools reject zero-size chromosomes).
        header = [(seqid, length) for seqid, length, _ in self._sequences if length > 0]
        if not header:
            return False  # libBigWig cannot write a file without sequences
        for index, name in enumerate(classes):
            spool_path = staging / f"{name}.spool"
            track = self._pybigwig.open(str(staging / f"{name}.bw"), "w")
            if track is None:
                raise OSError(f"pyBigWig cannot create {staging / name}.bw")
            try:
                track.addHeader(header, maxZooms=10)
                with open(spool_path, "rb") as spool:
                    for seqid, _, counts in self._sequences:
                        self._convert(track, spool, seqid, counts[index])
            finally:
                track.close()
            spool_path.unlink()
        return True

    @staticmethod
    def _convert(track: object, spool: IO[bytes], seqid: str, count: int) -> None:
        """Move one sequence's ``count`` spooled intervals into the open bigWig, in bulk."""
        while count:
            chunk = np.fromfile(spool, dtype=_SPOOL, count=min(count, _CHUNK))
            if not len(chunk):
                raise OSError("track spool file is shorter than written")
            track.addEntries(  # type: ignore[attr-defined]
                [seqid] * len(chunk),
                np.ascontiguousarray(chunk["start"]),
                ends=np.ascontiguousarray(chunk["end"]),
                values=np.ascontiguousarray(chunk["value"]),
            )
            count -= len(chunk)

    def discard(self) -> None:
        for spool in self._spools:
            spool.close()


class TrackWriter:
    """Writes one probability track per class into a directory, all or nothing.

    Probabilities are rounded to ``precision`` decimals and run-length encoded: consecutive
    bases with the same rounded value become one interval, also across the blocks passed to
    :meth:`add`. Zero-valued runs are written too, as IGV and JBrowse users expect: the browser
    shows 0 where the model is sure a class is absent, and a gap only where nothing was predicted
    (bases between blocks). Intervals are 0-based half-open (bedGraph) and sequences appear in
    the order they were written. bedGraph files are streamed; bigWig files are converted from a
    binary spool on :meth:`close` (see :class:`_BigWigSink`).

    Files are built in a hidden staging folder inside ``directory`` and moved to
    ``directory/<class>.bw`` (or ``.bedGraph``) only when :meth:`close` succeeds; on an exception
    inside ``with`` or :meth:`abort` the staging folder is removed and no new file appears
    (existing files of the same names are left alone; a folder created here is removed again
    when empty). Each file is replaced whole, one after the other. A bigWig cannot be empty: when
    no sequence of non-zero length was ended, no bigWig file is written and a
    :class:`~genatator.errors.GenatatorWarning` says so.

    Example:
        >>> with TrackWriter("tracks", "bedgraph") as writer:  # doctest: +SKIP
        ...     writer.add("chr1", 0, probabilities)  # (m, 5) float32
        ...     writer.end_sequence("chr1", len(probabilities))
    """

    def __init__(
        self,
        directory: str | Path,
        format: TrackFormat = "bigwig",
        classes: Sequence[str] = CLASSES,
        precision: int = 3,
    ) -> None:
        """Create the staging folder (and ``directory`` if needed).

        Args:
            directory: where the track files go.
            format: ``"bigwig"`` (needs pyBigWig) or ``"bedgraph"``.
            classes: channel names, in the order of the probability columns; each names a file.
            precision: decimals kept, 0 to 6.

        Raises:
            ConfigError: bigWig was asked for but pyBigWig is not installed.
            ValueError: unknown format, bad precision, or empty, repeated or path-like class names.
        """
        if format not in _EXTENSIONS:
            raise ValueError(f"track format must be 'bigwig' or 'bedgraph', not {format!r}")
        if not 0 <= precision <= _MAX_PRECISION:
            raise ValueError(f"precision must be between 0 and {_MAX_PRECISION}, not {precision}")
        classes = tuple(classes)
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(f"class names must be distinct and at least one: {classes}")
        for name in classes:
            if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
                raise ValueError(f"class name {name!r} cannot be a file name")
        if format == "bigwig":
            _import_pybigwig()  # fail before any folder is made
        self.directory = Path(directory)
        self.format: TrackFormat = format
        self.classes = classes
        self.precision = precision
        self._scale = 10**precision
        self._created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=".genatator-tracks.", dir=self.directory))
        try:
            sink = _BigWigSink if format == "bigwig" else _BedGraphSink
            self._sink: _BedGraphSink | _BigWigSink = sink(self._staging, classes, precision)
        except BaseException:
            self._remove_staging()
            raise
        self._seqid: str | None = None  # the sequence being written
        self._position = 0  # next expected start on it
        self._finished: set[str] = set()
        # The last run of each class stays open until the next block shows whether it goes on.
        self._open_start = np.zeros(len(classes), dtype=np.int64)
        self._open_value = np.zeros(len(classes), dtype=np.int64)
        self._runs_open = False
        self._closed = False

    def __enter__(self) -> TrackWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def add(self, seqid: str, start: int, probabilities: np.ndarray) -> None:
        """Add the probabilities of bases ``[start, start + m)`` of ``seqid``.

        Blocks of one sequence come in order, usually contiguous from 0; bases in a gap between
        blocks (a run restricted to regions) get no interval, so browsers show them as missing.
        A sequence ends with :meth:`end_sequence` before the next one starts.

        Args:
            seqid: sequence name.
            start: 0-based position of the block's first base.
            probabilities: array of shape ``(m, len(classes))`` with values in [0, 1].

        Raises:
            ValueError: wrong shape, values outside [0, 1] or NaN, a block before the end of the
                previous one, a sequence already ended or another still open, a sequence too
                long for bigWig, or a writer already closed.
        """
        self._check_open()
        block = np.asarray(probabilities)
        if block.ndim != 2 or block.shape[1] != len(self.classes):
            raise ValueError(
                f"probabilities must have shape (m, {len(self.classes)}), not {block.shape}"
            )
        if seqid != self._seqid:
            if self._seqid is not None:
                raise ValueError(f"sequence {self._seqid!r} was not ended before {seqid!r} began")
            if seqid in self._finished:
                raise ValueError(f"sequence {seqid!r} was already ended")
            self._seqid, self._position = seqid, 0
        if start < self._position:
            raise ValueError(
                f"block of {seqid!r} starts at {start}, before the end {self._position} of the "
                "previous one: blocks must be in order and not overlap"
            )
        if not len(block):
            return
        end = start + len(block)
        if self._sink.max_length is not None and end > self._sink.max_length:
            raise ValueError(f"sequence {seqid!r} is longer than bigWig allows ({end:,} bases)")
        if not np.all((block >= 0) & (block <= 1)):  # also catches NaN
            raise ValueError(f"probabilities of {seqid!r} at {start}-{end} are not all in [0, 1]")
        if start > self._position:
            self._close_runs(self._position)  # a gap: its bases stay without intervals
        # Integers make run detection exact; float64 so rounding matches np.round(x, precision).
        quantised = np.rint(block.astype(np.float64) * self._scale).astype(np.int64)
        for index in range(len(self.classes)):
            offsets, values = _runs(quantised[:, index])
            starts = offsets + start
            if self._runs_open:
                if values[0] == self._open_value[index]:
                    starts[0] = self._open_start[index]  # the open run goes on
                else:
                    starts = np.concatenate(([self._open_start[index]], starts))
                    values = np.concatenate(([self._open_value[index]], values))
            self._sink.write(index, seqid, starts[:-1], starts[1:], values[:-1])
            self._open_start[index], self._open_value[index] = starts[-1], values[-1]
        self._runs_open = True
        self._position = end

    def end_sequence(self, seqid: str, length: int) -> None:
        """Finish ``seqid``, a sequence of ``length`` bases.

        A sequence needs no :meth:`add` (it then has no intervals); one of length 0 is left out
        of the tracks.

        Raises:
            ValueError: blocks reach past ``length``, another sequence is open, ``seqid`` was
                already ended, the sequence is too long for bigWig, or the writer is closed.
        """
        self._check_open()
        if seqid in self._finished:
            raise ValueError(f"sequence {seqid!r} was already ended")
        if self._seqid is not None and seqid != self._seqid:
            raise ValueError(f"sequence {self._seqid!r} is still open; cannot end {seqid!r}")
        if self._position > length:
            raise ValueError(
                f"probabilities of {seqid!r} reach {self._position}, past its length {length}"
            )
        if self._sink.max_length is not None and length > self._sink.max_length:
            raise ValueError(f"sequence {seqid!r} is longer than bigWig allows ({length:,} bases)")
        self._close_runs(self._position)
        self._sink.end_sequence(seqid, length)
        self._finished.add(seqid)
        self._seqid, self._position = None, 0

    def _close_runs(self, end: int) -> None:
        """Write each class's open run of the current sequence, ending at ``end``."""
        if not self._runs_open:
            return
        assert self._seqid is not None
        ends = np.array([end])
        for index in range(len(self.classes)):
            run = slice(index, index + 1)
            self._sink.write(index, self._seqid, self._open_start[run], ends, self._open_value[run])
        self._runs_open = False

    def close(self) -> None:
        """Finish the files and move them into ``directory``; a no-op when already closed.

        On any error nothing new is left in ``directory`` and the error is raised.

        Raises:
            ValueError: a sequence was not ended.
        """
        if self._closed:
            return
        try:
            if self._seqid is not None:
                raise ValueError(f"sequence {self._seqid!r} was not ended (call end_sequence)")
            complete = self._sink.finish(self._staging, self.classes)
            if not complete:
                # A shard that got no sequence, say: no reason to fail the whole run.
                warnings.warn(
                    "no sequence reached the bigWig tracks, so none was written",
                    GenatatorWarning,
                    stacklevel=2,
                )
            extension = _EXTENSIONS[self.format]
            for name in self.classes if complete else ():
                move_output(
                    self._staging / f"{name}{extension}", self.directory / f"{name}{extension}"
                )
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._remove_staging(keep_directory=True)

    def abort(self) -> None:
        """Discard everything written; nothing new is left in ``directory``."""
        if self._closed:
            return
        self._closed = True
        self._sink.discard()
        self._remove_staging()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the track writer is closed")

    def _remove_staging(self, *, keep_directory: bool = False) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)
        if self._created and not keep_directory:
            with contextlib.suppress(OSError):  # not empty: someone else wrote there meanwhile
                self.directory.rmdir()
