"""Trained model bundles shipped inside the package: finding them and reading their cards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genatator.errors import ModelError

#: Where bundles live: one directory per bundle, named as users pass it to ``--model``.
BUNDLES_DIR = Path(__file__).resolve().parent
CARD_FILE = "MODEL_CARD.md"
#: The bundle ``genatator annotate`` uses without ``--model``.
DEFAULT_BUNDLE = "human"


@dataclass(frozen=True)
class Bundle:
    """A shipped model directory and its card."""

    name: str
    path: Path

    @property
    def card(self) -> str:
        return (self.path / CARD_FILE).read_text(encoding="utf-8")

    @property
    def summary(self) -> str:
        """The card's first line of prose (the line under its title)."""
        for line in self.card.splitlines():
            text = line.strip()
            if text and not text.startswith("#"):
                return text
        return ""


def bundles() -> list[Bundle]:
    """Every shipped bundle, sorted by name (a bundle is a directory with a card and a config)."""
    return [
        Bundle(path.name, path)
        for path in sorted(BUNDLES_DIR.iterdir())
        if (path / CARD_FILE).is_file() and (path / "config.json").is_file()
    ]


def find_bundle(name: str) -> Bundle | None:
    """The bundle called ``name``, or None."""
    return next((bundle for bundle in bundles() if bundle.name == name), None)


def get_bundle(name: str) -> Bundle:
    """The bundle called ``name``.

    Raises:
        ModelError: no bundle has that name (the message lists those that exist).
    """
    bundle = find_bundle(name)
    if bundle is None:
        names = ", ".join(b.name for b in bundles()) or "none"
        raise ModelError(f"{name}: no such bundled model (bundled: {names})")
    return bundle


__all__ = ["BUNDLES_DIR", "CARD_FILE", "Bundle", "bundles", "find_bundle", "get_bundle"]
