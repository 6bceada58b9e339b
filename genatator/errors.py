"""Exception and warning types shared by every genatator module."""

from __future__ import annotations

import warnings
from pathlib import Path


class GenatatorError(Exception):
    """Base class of every error genatator raises on purpose."""


class InputError(GenatatorError):
    """A user's input file is malformed; the message names the file, record and line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        record: str | None = None,
        line: int | None = None,
    ) -> None:
        self.problem = message
        self.path = None if path is None else str(path)
        self.record = record
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append("<stdin>" if self.path == "-" else self.path)
        if self.record is not None:
            where.append(f"record {self.record!r}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.problem}" if where else self.problem


class OutputError(GenatatorError):
    """An output cannot be written where it was asked for (no such directory, a directory)."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class ConfigError(GenatatorError, ValueError):
    """A configuration value or option combination is invalid (also a ``ValueError``: code
    that checks values catches it as one)."""


class ModelError(GenatatorError):
    """A model directory or checkpoint cannot be loaded or does not match its config."""


class GenatatorWarning(UserWarning):
    """A recoverable oddity in the input (counted and reported, not fatal)."""


def warn(message: str) -> None:
    """Issue a :class:`GenatatorWarning` attributed to the caller of the function calling this."""
    warnings.warn(message, GenatatorWarning, stacklevel=3)
