"""What a model directory gives the decoders besides the network: its settings, splice table,
gene model and default decoding, and which splice-site model a run uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from genatator.decode.content import CodonModel
from genatator.decode.counting import has_gene_model, load_gene_model
from genatator.decode.hmm import HmmDecoder
from genatator.decode.options import (
    DecodeOverrides,
    Decoding,
    HmmOptions,
    missing_gene_model,
)
from genatator.decode.parameters import GeneModelParameters
from genatator.decode.sites import SiteMatrices
from genatator.errors import ConfigError
from genatator.model.files import resolve_model_dir
from genatator.model.settings import SETTINGS_FILE, InferenceSettings
from genatator.postprocess import SpliceTable

__all__ = [
    "DecoderParts",
    "load_decoder_parts",
    "model_decoding",
    "model_splice_table",
    "splice_model_directory",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecoderParts:
    """What a model directory gives the decoders besides the network.

    Attributes:
        directory: the model directory.
        settings: its ``inference.json``.
        splice_table: its legal splice sites (else the canonical motifs).
        parameters: its gene-model parameters (``None``: no gene-model files, or not loaded).
        codon_model: its codon model (``None`` likewise).
        site_matrices: its splice-site matrices (``None``: none, or not loaded).
    """

    directory: Path
    settings: InferenceSettings
    splice_table: SpliceTable
    parameters: GeneModelParameters | None = None
    codon_model: CodonModel | None = None
    site_matrices: SiteMatrices | None = None

    def default_decoding(self, overrides: DecodeOverrides | None = None) -> Decoding:
        """The model's decoder and options (:func:`model_decoding`)."""
        return model_decoding(self.settings, self.directory, overrides or DecodeOverrides())

    def hmm_decoder(self, options: HmmOptions) -> HmmDecoder:
        """The gene-model decoder with ``options``.

        Raises:
            ConfigError: the directory has no gene-model files.
        """
        if self.parameters is None or self.codon_model is None:
            raise ConfigError(missing_gene_model(str(self.directory)))
        return HmmDecoder(
            self.parameters, self.splice_table, options, self.codon_model, self.site_matrices
        )


def load_decoder_parts(
    directory: str | Path,
    *,
    settings: InferenceSettings | None = None,
    gene_model: bool | None = None,
) -> DecoderParts:
    """A model directory's settings, splice table and (when present) gene model.

    Args:
        directory: the model directory.
        settings: its settings, when already loaded.
        gene_model: load the gene-model files (``None``: when present; True: they must be).

    Raises:
        ModelError: a malformed settings or gene-model file.
    """
    directory = Path(directory)
    settings = settings if settings is not None else InferenceSettings.load(directory)
    parameters = codon_model = matrices = None
    if gene_model or (gene_model is None and has_gene_model(directory)):
        parameters, codon_model, matrices = load_gene_model(directory)
    table = model_splice_table(settings)
    return DecoderParts(directory, settings, table, parameters, codon_model, matrices)


def model_decoding(
    settings: InferenceSettings, directory: Path, overrides: DecodeOverrides
) -> Decoding:
    """A model's decoder and decoding defaults (its ``inference.json``) with ``overrides`` on top.

    The decoder is ``overrides.decoder``, else the model's, else ``hmm`` when the model
    directory has gene-model files (``genatator gene-model count``), else ``threshold``.

    Raises:
        ModelError: the model's ``decode``, ``hmm`` or ``decoder`` entry is bad, or its default
            decoder is hmm but the gene-model files are missing.
        ConfigError: ``--decoder hmm`` without the gene-model files, or a bad override.
    """
    return Decoding.resolve(
        decode=settings.decode,
        hmm=settings.hmm,
        decoder=settings.decoder,
        overrides=overrides,
        gene_model=has_gene_model(directory),
        source=str(directory / SETTINGS_FILE),
        directory=str(directory),
    )


def splice_model_directory(
    settings: InferenceSettings, directory: Path, requested: str | None, use_default: bool
) -> Path | None:
    """The splice-site model directory a run uses: ``requested`` (``--splice-model``), else
    the model's default (unless ``use_default`` is False: ``--no-splice-model``), else none.

    A relative path in the model's settings is read from the model directory first.

    Raises:
        ModelError: the splice model cannot be found.
    """
    if requested is not None:
        return resolve_model_dir(requested)
    if not use_default or settings.splice_model is None:
        return None
    beside = directory / settings.splice_model
    return beside if beside.is_dir() else resolve_model_dir(settings.splice_model)


def model_splice_table(settings: InferenceSettings) -> SpliceTable:
    """The model's legal splice sites (its ``inference.json``), else the canonical motifs."""
    if settings.splice_table is None:
        logger.info("the model records no splice-site table; using canonical GT/GC/AT-AG/AC")
        return SpliceTable.canonical()
    try:
        return SpliceTable.from_dict(settings.splice_table)
    except ValueError as exc:
        raise ConfigError(f"the model's splice-site table is malformed: {exc}") from None
