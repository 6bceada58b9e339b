"""Command-line options shared by several commands: verbosity and CPU threads."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click

from genatator.threads import usable_cpus, use_threads

__all__ = ["apply_threads", "threads_option", "verbosity_options"]


def threads_option():  # type: ignore[no-untyped-def]
    """``--threads N``: torch's CPU threads, at least 1 (default: the CPUs this process may use)."""
    return click.option(
        "--threads",
        type=click.IntRange(min=1, max=4096),
        help="CPU threads for torch [default: the CPUs this process may use, "
        "its affinity mask and cgroup quota].",
    )


def apply_threads(threads: int | None) -> int:
    """Resolve ``--threads`` (None: :func:`usable_cpus`) and set torch to it; returns it."""
    return use_threads(threads if threads is not None else usable_cpus())


def verbosity_options(command: Callable) -> Callable:
    """``-q/--quiet`` and ``--debug`` after a subcommand's name, as before it.

    ``--debug`` wins over ``-q`` whichever comes first (``main`` also reads it from the
    arguments, for tracebacks).
    """
    command = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_set_level(logging.DEBUG),
        help="Show full tracebacks and debug logs.",
    )(command)
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_set_level(logging.WARNING),
        help="Only print warnings and errors.",
    )(command)


def _set_level(level: int) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        root = logging.getLogger()
        if value and root.level != logging.DEBUG:
            root.setLevel(level)

    return callback
