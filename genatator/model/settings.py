"""Annotation settings a trained model directory carries: window, splice table, decoding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genatator.errors import ModelError

SETTINGS_FILE = "inference.json"
SETTINGS_FORMAT = 1
#: The decoders ``annotate --decoder`` knows (``genatator.decode.options.DECODERS``).
_DECODERS = ("hmm", "threshold")


@dataclass(frozen=True)
class InferenceSettings:
    """What ``genatator annotate`` should know about a model beyond its weights.

    Attributes:
        window: nucleotides per window the model was trained on (``None``: unknown, measured
            from the input at annotation time).
        splice_table: the training annotation's exon-boundary dinucleotide counts, as
            :meth:`genatator.postprocess.dinucleotides.SpliceTable.to_dict` writes them
            (``None``: the annotator falls back to the canonical splice motifs).
        decode: post-processing defaults chosen for this model on held-out data, as
            ``ThresholdOptions.to_dict`` writes them (``None``: the defaults). The pipeline checks
            the keys and values when it builds the options; the command line overrides them.
        hmm: the gene-model decoder's defaults for this model, as ``HmmOptions.to_dict`` writes
            them (``None``: the defaults); checked like ``decode``.
        decoder: the model's default decoder, ``"hmm"`` or ``"threshold"`` (``None``: hmm when
            the directory has gene-model files, else threshold).
        splice_model: the splice-site model ``annotate`` uses by default: a bundle name, or a
            directory (a relative path is read from the model directory); ``None``: none.
    """

    window: int | None = None
    splice_table: dict[str, Any] | None = None
    decode: dict[str, Any] | None = None
    hmm: dict[str, Any] | None = None
    decoder: str | None = None
    splice_model: str | None = None

    def save(self, directory: str | Path) -> None:
        values = {
            "format": SETTINGS_FORMAT,
            "window": self.window,
            "splice_table": self.splice_table,
        }
        # Optional entries are written only when set, so older genatators read the file.
        for name in ("decode", "hmm", "decoder", "splice_model"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
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
            hmm = values.get("hmm")
            if hmm is not None and not isinstance(hmm, dict):
                raise ValueError("hmm must be an object")
            decoder = values.get("decoder")
            if decoder is not None and decoder not in _DECODERS:
                raise ValueError(f"decoder must be one of {', '.join(_DECODERS)}, not {decoder!r}")
            splice_model = values.get("splice_model")
            if splice_model is not None and (not isinstance(splice_model, str) or not splice_model):
                raise ValueError(f"splice_model must be a non-empty string, not {splice_model!r}")
        except (ValueError, AttributeError, TypeError) as exc:  # JSONDecodeError: a ValueError
            raise ModelError(f"{path}: not valid annotation settings ({exc})") from None
        return cls(
            window=window,
            splice_table=table,
            decode=decode,
            hmm=hmm,
            decoder=decoder,
            splice_model=splice_model,
        )
