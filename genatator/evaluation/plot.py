"""Render an evaluation report as one PNG summary figure (needs the optional matplotlib)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import IO, TYPE_CHECKING, Any

from genatator._io import atomic_output
from genatator.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGSIZE = (13.0, 5.0)
DPI = 120
MISSING_MATPLOTLIB = "--plot needs matplotlib: pip install 'genatator[plot]'"

CLASSES = (("coding", "coding"), ("noncoding", "non-coding"))
CLASS_COLOURS = {"coding": "#3b75af", "noncoding": "#ef8636"}
RULES = (("exon_chain", "exon chain"), ("intron_chain", "intron chain"), ("cds_chain", "CDS chain"))
RULE_STYLES = {
    "exon_chain": ("#2ca02c", "o"),
    "intron_chain": ("#9467bd", "s"),
    "cds_chain": ("#8c564b", "^"),
}
MAX_TITLE_REGIONS = 3


def write_plot(report: Mapping[str, Any], path: str | Path) -> None:
    """Write a one-figure PNG summary of an evaluation ``report`` to ``path`` atomically.

    The left panel shows headline scores (exon and CDS F1, gene recall per matching rule,
    transcript precision), coding beside non-coding; the right panel shows the fraction of
    reference transcripts found per reference transcript length bin. Missing numbers (``None``)
    are drawn as "n/a" or left out rather than as zero. ``path`` ``-`` writes to stdout.

    Raises:
        ConfigError: matplotlib is not installed.
    """
    figure_class, canvas_class = _import_matplotlib()
    figure = figure_class(figsize=FIGSIZE, dpi=DPI)
    canvas_class(figure)
    _draw(figure, report)
    with atomic_output(path, binary=True) as handle:
        _save(figure, handle)


def _import_matplotlib() -> tuple[type, type]:
    """The matplotlib Figure and Agg canvas classes, imported without touching pyplot's state."""
    try:
        import matplotlib  # noqa: F401 - fails first when matplotlib is absent
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError(MISSING_MATPLOTLIB) from None
    return Figure, FigureCanvasAgg


def _save(figure: Figure, handle: IO[bytes]) -> None:
    figure.savefig(handle, format="png", dpi=DPI)


def _draw(figure: Figure, report: Mapping[str, Any]) -> None:
    left, right = figure.subplots(1, 2)
    figure.subplots_adjust(left=0.05, right=0.985, top=0.84, bottom=0.2, wspace=0.16)
    _draw_headline(left, report)
    _draw_by_length(right, report.get("by_length"))
    figure.suptitle(_title(report), fontsize=13, y=0.975)
    figure.text(0.5, 0.015, _footer(report), ha="center", va="bottom", fontsize=9, color="0.3")


def _draw_headline(ax: Axes, report: Mapping[str, Any]) -> None:
    """Grouped bars: one group per headline number, coding and non-coding side by side."""
    groups: list[tuple[str, dict[str, float | None]]] = [
        (
            "exon F1",
            {cls: _number(report, "exon", cls, "f1") for cls, _ in CLASSES},
        ),
        ("CDS F1", {"coding": _number(report, "cds", "coding", "f1")}),
    ]
    for rule, name in RULES:
        classes = ("coding",) if rule == "cds_chain" else ("coding", "noncoding")
        groups.append(
            (
                f"gene recall\n{name}",
                {cls: _number(report, "gene", rule, "recall", cls, "fraction") for cls in classes},
            )
        )
    groups.append(
        (
            "transcript\nprecision\nintron chain",
            {
                cls: _number(report, "gene", "intron_chain", "precision", cls, "fraction")
                for cls, _ in CLASSES
            },
        )
    )

    width = 0.38
    for index, (_, values) in enumerate(groups):
        offsets = [-width / 2, width / 2] if len(values) == 2 else [0.0]
        for offset, (cls, value) in zip(offsets, values.items()):
            x = index + offset
            if value is None:
                ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=7, color="0.45")
                continue
            ax.bar(x, value, width, color=CLASS_COLOURS[cls])
            ax.text(x, value + 0.01, f"{value:.2f}", ha="center", va="bottom", fontsize=7.5)

    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([label for label, _ in groups], fontsize=8.5)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylim(0.0, 1.08)
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("score")
    ax.set_title("Headline scores", loc="left", fontsize=11)
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    from matplotlib.patches import Patch

    handles = [Patch(color=CLASS_COLOURS[cls], label=label) for cls, label in CLASSES]
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=2,
        frameon=False,
        fontsize=9,
        borderaxespad=0.2,
    )


def _draw_by_length(ax: Axes, by_length: Any) -> None:
    """Fraction of reference transcripts found per length bin, one line per matching rule."""
    by_length = by_length if isinstance(by_length, Mapping) else {}
    counts = [_as_count(n) for n in _as_list(by_length.get("transcripts"))]
    edges = _as_list(by_length.get("edges"))
    n_bins = len(counts) if counts else max(len(edges) - 1, 0)
    counts += [0] * (n_bins - len(counts))
    labels = _bin_labels(edges, n_bins)

    ax.set_title("Recall by length", loc="left", fontsize=11)
    ax.set_ylim(0.0, 1.05)
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("fraction of reference transcripts found")
    ax.grid(axis="y", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    if n_bins == 0 or not any(counts):
        ax.set_xticks([])
        ax.text(
            0.5,
            0.5,
            "no reference transcripts",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="0.45",
        )
        return

    drawn = False
    for rule, name in RULES:
        fractions = [_fraction(value) for value in _as_list(by_length.get(rule))][:n_bins]
        if all(f is None for f in fractions):
            continue
        # NaN leaves a gap rather than a line drawn across a bin with no value.
        ys = [math.nan if f is None else f for f in fractions]
        colour, marker = RULE_STYLES[rule]
        ax.plot(
            range(len(ys)),
            ys,
            color=colour,
            marker=marker,
            markersize=5,
            linewidth=1.6,
            label=name,
            clip_on=False,
        )
        drawn = True

    ax.set_xticks(range(n_bins))
    ax.set_xticklabels(
        [f"{label}\nn={count:,}" for label, count in zip(labels, counts)], fontsize=8.5
    )
    for tick, count in zip(ax.get_xticklabels(), counts):
        if count == 0:
            tick.set_color("0.6")
    ax.set_xlim(-0.5, n_bins - 0.5)
    ax.set_xlabel("reference transcript length", fontsize=9)
    if drawn:
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=3,
            frameon=False,
            fontsize=9,
            handlelength=1.6,
            columnspacing=1.2,
            borderaxespad=0.2,
        )


def _bin_labels(edges: Sequence[Any], n_bins: int) -> list[str]:
    """Length bin names from their edges in nt: '<1 kb', '1–2 kb', '≥50 kb'."""
    if len(edges) != n_bins + 1:
        return [f"bin {i + 1}" for i in range(n_bins)]
    labels = []
    for low, high in itertools.pairwise(edges):
        if high is None:
            labels.append("all" if not low else f"≥{_kb(low)} kb")
        elif not low:
            labels.append(f"<{_kb(high)} kb")
        else:
            labels.append(f"{_kb(low)}–{_kb(high)} kb")
    return labels


def _kb(nt: Any) -> str:
    try:
        return f"{float(nt) / 1000:g}"
    except (TypeError, ValueError):
        return str(nt)


def _title(report: Mapping[str, Any]) -> str:
    title = f"{_basename(report.get('prediction'), 'prediction')} vs "
    title += _basename(report.get("reference"), "reference")
    regions = report.get("regions")
    regions = [regions] if isinstance(regions, str) else [str(r) for r in _as_list(regions)]
    if regions:
        shown = ", ".join(regions[:MAX_TITLE_REGIONS])
        if len(regions) > MAX_TITLE_REGIONS:
            shown += f" (+{len(regions) - MAX_TITLE_REGIONS} more)"
        title += f" — {shown}"
    return title


def _basename(name: Any, default: str) -> str:
    if name is None or str(name) == "":
        return default
    if str(name) == "-":
        return "<stdin>"
    return PurePath(str(name)).name or str(name)


def _footer(report: Mapping[str, Any]) -> str:
    counts = report.get("counts")
    counts = counts if isinstance(counts, Mapping) else {}
    prediction = counts.get("prediction")
    prediction = prediction if isinstance(prediction, Mapping) else {}
    reference = counts.get("reference")
    reference = reference if isinstance(reference, Mapping) else {}

    predicted = f"predicted: {_count_text(prediction.get('transcripts'))} transcripts"
    predicted += _breakdown(prediction, "")
    ref = (
        f"reference: {_count_text(reference.get('loci'))} loci"
        + _breakdown(reference, "_loci")
        + f", {_count_text(reference.get('transcripts'))} transcripts"
    )
    ignored = _as_count(reference.get("ignored"))
    if ignored:
        ref += f" ({ignored:,} ignored)"
    return f"{predicted}   ·   {ref}"


def _breakdown(counts: Mapping[str, Any], suffix: str) -> str:
    """' (100 coding, 20 non-coding)' with unknown added only when there are any."""
    parts = []
    for key, label in (*CLASSES, ("unknown", "unknown")):
        value = counts.get(f"{key}{suffix}")
        if value is None or (key == "unknown" and not _as_count(value)):
            continue
        parts.append(f"{_count_text(value)} {label}")
    return f" ({', '.join(parts)})" if parts else ""


def _count_text(value: Any) -> str:
    return "?" if value is None else f"{_as_count(value):,}"


def _as_count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return []
    try:
        return list(value)
    except TypeError:
        return []


def _fraction(value: Any) -> float | None:
    """A finite number as float, anything else (None, NaN, missing) as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _number(report: Mapping[str, Any], *keys: str) -> float | None:
    """``report[k1][k2]...`` as a float, or None when any level is missing or not a number."""
    node: Any = report
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return _fraction(node)
