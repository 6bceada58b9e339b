"""genatator: de novo gene annotation with a DNA language model."""

__version__ = "0.1.0"
