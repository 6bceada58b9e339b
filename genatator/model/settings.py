"""Annotation settings a trained model directory carries: window, splice table, decoding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genatator.errors import ModelError

SETTINGS_FILE = "inference.json"
SETTINGS_FORMAT = 1


@dataclass(frozen=True)
class InferenceSettings:
    """What ``genatator annotate`` should know about a model beyond its weights.

    Attributes:
        window: nucleotides per window the model was trained on (``None``: unknown, measured
            from the input at annotation time).
        splice_table: the training annotation's exon-boundary dinucleotide counts, as
            :meth:`genatator.postprocess.splice.SpliceTable.to_dict` writes them (``None``: the
            annotator falls back to the canonical splice motifs).
        decode: post-processing defaults chosen for this model on held-out data, as
            ``DecodeOptions.to_dict`` writes them (``None``: the defaults). The pipeline checks
            the keys and values when it builds the options; the command line overrides them.
    """

    window: int | None = None
    splice_table: dict[str, Any] | None = None
    decode: dict[str, Any] | None = None

    def save(self, directory: str | Path) -> None:
        values = {
            "format": SETTINGS_FORMAT,
            "window": self.window,
            "splice_table": self.splice_table,
        }
        if self.decode is not None:
            values["decode"] = self.decode
        path = Path(directory) / SETTINGS_FILE
        path.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> InferenceSettings:
        """The settings of a model directory; empty settings when it has none (an untrained model).

        Raises:
            ModelError: the file exists but is not valid settings.
        """
        path = Path(directory) / SETTINGS_FILE
        if not path.is_file():
            return cls()
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            if values.get("format") != SETTINGS_FORMAT:
                raise ValueError(f"unknown format {values.get('format')!r}")
            window = values.get("window")
            if window is not None and (not isinstance(window, int) or window < 1):
                raise ValueError(f"window must be a positive integer, not {window!r}")
            table = values.get("splice_table")
            if table is not None and not isinstance(table, dict):
                raise ValueError("splice_table must be an object")
            decode = values.get("decode")
            if decode is not None and not isinstance(decode, dict):
                raise ValueError("decode must be an object")
        except (ValueError, AttributeError, TypeError) as exc:  # JSONDecodeError: a ValueError
            raise ModelError(f"{path}: not valid annotation settings ({exc})") from None
        return cls(window=window, splice_table=table, decode=decode)
