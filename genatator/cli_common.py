"""Command-line options shared by several commands: verbosity and CPU threads."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click

from genatator import threads as cpu_threads

__all__ = ["apply_threads", "threads_option", "verbosity_options"]


def threads_option():  # type: ignore[no-untyped-def]
    """``--threads N``: torch's CPU threads, at least 1 (default: the idle usable CPUs)."""
    return click.option(
        "--threads",
        type=click.IntRange(min=1, max=4096),
        help="CPU threads for torch [default: the CPUs this process may use (affinity mask, "
        "cgroup quota) that are idle when the run starts].",
    )


def apply_threads(threads: int | None) -> int:
    """Resolve ``--threads`` (None: the idle usable CPUs, see
    :func:`genatator.threads.default_threads`) and set torch to it; returns the count."""
    if threads is None:
        threads = cpu_threads.default_threads()
        usable = cpu_threads.usable_cpus()
        if threads < usable:
            logging.getLogger("genatator").info(
                "%d of %d usable CPUs are busy with other work: using %d thread%s (--threads "
                "to choose)",
                usable - threads,
                usable,
                threads,
                "" if threads == 1 else "s",
            )
    return cpu_threads.use_threads(threads)


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
