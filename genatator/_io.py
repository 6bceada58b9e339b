"""File helpers shared by readers and writers: compression sniffing, stdin, atomic output.

Private because the rest of the package reaches files only through the readers and writers.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import shutil
import stat
import sys
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from genatator.errors import InputError, OutputError

GZIP_MAGIC = b"\x1f\x8b"


def display_name(path: str | Path) -> str:
    """How a path is named in messages ('-' is standard input)."""
    return "<stdin>" if str(path) == "-" else str(path)


#: What reading a damaged file raises: a gzip stream cut short (EOFError), a bad gzip header, CRC
#: or trailing garbage (gzip.BadGzipFile, an OSError), a corrupt deflate block (zlib.error) or a
#: failing disk (OSError). Readers turn these into :func:`read_error` rather than a traceback.
READ_ERRORS = (EOFError, OSError, zlib.error)


def read_error(
    exc: BaseException, path: str | Path, *, record: str | None = None, line: int | None = None
) -> InputError:
    """The InputError for ``exc`` (one of READ_ERRORS) raised while reading ``path``."""
    damaged = isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error))
    problem = "the gzip stream is truncated or corrupt" if damaged else "cannot read the file"
    return InputError(f"{problem} ({exc})", path=path, record=record, line=line)


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


def is_special_output(path: str | Path) -> bool:
    """True when ``path`` exists and is, after following links, neither a regular file nor a
    directory: a character device (``/dev/null``), a FIFO or a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:  # missing (or a dangling link): it will be created as a regular file
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def output_target(path: str | Path) -> Path:
    """The regular file an output named ``path`` lands in: a symlink's final target, so that
    renaming a finished file into place replaces the target and keeps the link."""
    return Path(os.path.realpath(path))


def check_output(path: str | Path) -> None:
    """Fail early, before any work, when the output ``path`` could not be written: its directory
    does not exist or is not a directory, or the path is a directory. ``-`` always passes.

    Raises:
        OutputError: naming the path and the problem.
    """
    if str(path) == "-" or is_special_output(path):
        return
    target = output_target(path)
    if target.is_dir():
        raise OutputError("is a directory, not a file", path=path)
    parent = target.parent
    if not parent.exists():
        raise OutputError(f"cannot write here: directory {str(parent)!r} does not exist", path=path)
    if not parent.is_dir():
        raise OutputError(f"cannot write here: {str(parent)!r} is not a directory", path=path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write here: permission denied in {str(parent)!r}", path=path)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    ``-`` writes to stdout directly. On an exception the temporary file is removed, so a crash never
    leaves a half-written file that looks whole. Only regular files are renamed over: a device or
    FIFO is written in place (renaming over ``/dev/null`` would replace the device, and a FIFO's
    reader would never see the data), and a symlink's target is written, keeping the link.

    Raises:
        OutputError: the path cannot be written (see :func:`check_output`).
    """
    if str(path) == "-":
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    if is_special_output(path):
        with open(path, "wb" if binary else "w", encoding=None if binary else "utf-8") as handle:
            yield handle
        return
    check_output(path)
    target = output_target(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


def move_output(source: str | Path, path: str | Path) -> None:
    """Put the finished file ``source`` in place as the output ``path``, as :func:`atomic_output`
    would: renamed onto a regular file or a symlink's target, copied into a device or FIFO."""
    if not is_special_output(path):
        try:
            os.replace(source, output_target(path))
            return
        except OSError as error:
            if error.errno != errno.EXDEV:  # a link to another file system: copy below
                raise
    with open(source, "rb") as finished, atomic_output(path, binary=True) as handle:
        shutil.copyfileobj(finished, handle)
    os.unlink(source)
