"""Evaluation of gene annotations against a reference with the GENATATOR paper's metrics."""

from __future__ import annotations

from genatator.evaluation.metrics import LENGTH_EDGES, RULES, SINGLE_EXON_OVERLAP, TOLERANCES
from genatator.evaluation.report import Evaluation, evaluate, evaluate_paths, format_text
from genatator.evaluation.scope import CLASSES, SCORED_KINDS

__all__ = [
    "CLASSES",
    "LENGTH_EDGES",
    "RULES",
    "SCORED_KINDS",
    "SINGLE_EXON_OVERLAP",
    "TOLERANCES",
    "Evaluation",
    "evaluate",
    "evaluate_paths",
    "format_text",
]
