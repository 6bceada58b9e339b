"""File helpers shared by readers and writers: compression sniffing, stdin, atomic output.

Private because the rest of the package reaches files only through the readers and writers.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from genatator.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def display_name(path: str | Path) -> str:
    """How a path is named in messages ('-' is standard input)."""
    return "<stdin>" if str(path) == "-" else str(path)


class _Prefixed(io.RawIOBase):
    """A raw stream that yields ``prefix`` and then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = (
            self._stream.read1(len(buffer))
            if hasattr(self._stream, "read1")
            else self._stream.read(len(buffer))
        )
        buffer[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def open_text(path: str | Path) -> Iterator[IO[str]]:
    """Open a plain, gzip or bgzip text file (or '-' for stdin), detecting gzip by magic bytes.

    Raises:
        InputError: the file does not exist, is a directory or cannot be read.
    """
    if str(path) == "-":
        raw: IO[bytes] = sys.stdin.buffer
        owned = False
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise InputError("no such file", path=path) from None
        except IsADirectoryError:
            raise InputError("is a directory, not a file", path=path) from None
        except PermissionError:
            raise InputError("permission denied", path=path) from None
        owned = True
    # peek() on a pipe may return a single byte, so read the magic and put it back in front.
    magic = raw.read(2)
    buffered = io.BufferedReader(_Prefixed(magic, raw))
    try:
        binary: IO[bytes] = gzip.GzipFile(fileobj=buffered) if magic == GZIP_MAGIC else buffered
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline=None)
        try:
            yield text
        finally:
            text.detach()
            if binary is not buffered:
                binary.close()
    finally:
        if owned:
            raw.close()


@contextlib.contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    ``-`` writes to stdout directly. On an exception the temporary file is removed, so a crash never
    leaves a half-written file that looks whole.
    """
    if str(path) == "-":
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp creates 0600; give outputs the usual mode
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
