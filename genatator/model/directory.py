"""Complete model directories (weights, config, tokenizer, model card): create and load."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch

from genatator import __version__
from genatator.errors import ConfigError, ModelError
from genatator.model.checkpoints import init_from_gena, read_gena_checkpoint
from genatator.model.config import preset_config
from genatator.model.files import resolve_model_dir
from genatator.model.genatator import GenatatorModel
from genatator.model.settings import InferenceSettings
from genatator.tokenizer import TOKENIZER_FILE, DnaTokenizer

#: Tokenizer used by ``model init`` when neither --tokenizer nor --backbone names one.
BUNDLED_TOKENIZER = "dmel_bpe_4096.json"


def bundled_tokenizer() -> DnaTokenizer:
    """The packaged 4096-entry BPE tokenizer trained on D. melanogaster chr2R."""
    with resources.as_file(resources.files("genatator.resources") / BUNDLED_TOKENIZER) as path:
        return DnaTokenizer.from_file(path)


def load_tokenizer(source: str | Path) -> DnaTokenizer:
    """A tokenizer from a ``tokenizer.json`` file or a directory holding one."""
    path = Path(source)
    if path.is_file():
        return DnaTokenizer.from_file(path)
    return DnaTokenizer.from_pretrained(resolve_model_dir(source))


def load_model_directory(directory: str | Path) -> tuple[GenatatorModel, DnaTokenizer]:
    """Load a model directory's model and tokenizer, checking that they belong together.

    ``directory`` is a directory; a bundle's name or a hub id is resolved by the caller, once
    (:func:`genatator.model.files.resolve_model_dir`).

    Raises:
        ModelError: either part is missing or their vocabularies or special ids disagree.
    """
    directory = Path(directory)
    model = GenatatorModel.from_pretrained(directory)
    tokenizer = DnaTokenizer.from_pretrained(directory)
    check_compatible(model, tokenizer, source=str(directory))
    return model, tokenizer


def check_compatible(model: GenatatorModel, tokenizer: DnaTokenizer, *, source: str) -> None:
    config = model.config
    if tokenizer.vocab_size != config.encoder.vocab_size:
        raise ModelError(
            f"{source}: tokenizer has {tokenizer.vocab_size} entries but the model "
            f"expects {config.encoder.vocab_size}"
        )
    ids = (tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id)
    if ids != (config.cls_token_id, config.sep_token_id, config.pad_token_id):
        raise ModelError(f"{source}: tokenizer CLS/SEP/PAD ids {ids} differ from the model's")


@dataclasses.dataclass
class NewModel:
    """A freshly initialised model with its tokenizer and where they came from (for the card)."""

    model: GenatatorModel
    tokenizer: DnaTokenizer
    preset: str
    tokenizer_source: str
    backbone: str | Path | None
    seed: int

    def card(self) -> str:
        return _model_card(
            self.model,
            preset=self.preset,
            tokenizer_source=self.tokenizer_source,
            backbone=self.backbone,
            seed=self.seed,
        )


def create_model(
    *,
    preset: str,
    tokenizer: str | Path | None = None,
    backbone: str | Path | None = None,
    seed: int = 0,
) -> NewModel:
    """A model of ``preset`` with random weights, or with a GENA-LM encoder from ``backbone``.

    With a backbone, the encoder's shape comes from the checkpoint and the preset supplies the
    memory, U-Net and window settings; the tokenizer defaults to the backbone's own.

    Raises:
        ModelError: the tokenizer or backbone cannot be loaded or do not fit together.
    """
    if tokenizer is not None:
        tok = load_tokenizer(tokenizer)
        tokenizer_source = str(tokenizer)
    elif backbone is not None:
        tok = DnaTokenizer.from_pretrained(resolve_model_dir(backbone))
        tokenizer_source = f"the backbone {backbone}"
    else:
        tok = bundled_tokenizer()
        tokenizer_source = f"bundled {BUNDLED_TOKENIZER}"

    config = preset_config(preset, vocab_size=tok.vocab_size)
    if backbone is not None:
        encoder_config, _ = read_gena_checkpoint(backbone)
        if encoder_config.vocab_size != tok.vocab_size:
            raise ModelError(
                f"{backbone}: backbone vocabulary {encoder_config.vocab_size} differs "
                f"from the tokenizer's {tok.vocab_size}"
            )
        # replace() re-validates, e.g. the segment size against the backbone's positions.
        config = dataclasses.replace(config, encoder=encoder_config)
    torch.manual_seed(seed)
    model = GenatatorModel(config)
    if backbone is not None:
        init_from_gena(model, backbone)
    return NewModel(model, tok, preset, tokenizer_source, backbone, seed)


def write_model_directory(
    target: str | Path,
    model: GenatatorModel,
    tokenizer: DnaTokenizer,
    card: str,
    *,
    replace: bool = False,
    settings: InferenceSettings | None = None,
    extra: Callable[[Path], object] | None = None,
) -> Path:
    """Write config, weights, tokenizer, model card (and settings) as one directory, all or nothing.

    The directory is assembled beside ``target`` and renamed into place, so a failure (or a
    kill) leaves either the old directory or the new one, never a mixture. ``extra(staging)``
    may add more files to the directory before it is renamed into place.

    Raises:
        ConfigError: ``target`` exists, is not empty and ``replace`` is false.
    """
    target = Path(target)
    if target.exists() and not replace and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target}: already exists and is not an empty directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "README.md").write_text(card, encoding="utf-8")
        if settings is not None:
            settings.save(staging)
        if extra is not None:
            extra(staging)
        if target.exists():
            # Move the old one aside first: os.replace cannot replace a non-empty directory.
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def init_model_directory(
    output: str | Path,
    *,
    preset: str,
    tokenizer: str | Path | None = None,
    backbone: str | Path | None = None,
    seed: int = 0,
) -> Path:
    """Create a model directory with random weights, or with a GENA-LM encoder from ``backbone``.

    Raises:
        ConfigError: ``output`` exists and is not an empty directory.
        ModelError: the tokenizer or backbone cannot be loaded or do not fit together.
    """
    target = Path(output)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target}: already exists and is not an empty directory")
    new = create_model(preset=preset, tokenizer=tokenizer, backbone=backbone, seed=seed)
    return write_model_directory(target, new.model, new.tokenizer, new.card())


def _model_card(
    model: GenatatorModel,
    *,
    preset: str,
    tokenizer_source: str,
    backbone: str | Path | None,
    seed: int,
) -> str:
    config = model.config
    params = sum(p.numel() for p in model.parameters())
    encoder = config.encoder
    weights = (
        f"encoder initialised from the GENA-LM checkpoint `{backbone}`; memory, U-Net and "
        "classifier random"
        if backbone
        else f"random (seed {seed})"
    )
    return f"""# genatator model: `{preset}` preset, untrained

**Predictions of this model are structurally valid but biologically meaningless until it is
trained** (`genatator train`).

| | |
|---|---|
| created by | genatator {__version__} `model init --preset {preset}` |
| weights | {weights} |
| parameters | {params:,} |
| encoder | {encoder.num_hidden_layers} layers, hidden {encoder.hidden_size}, \
{encoder.num_attention_heads} heads, final LayerNorm: {encoder.last_layer_norm} |
| recurrent memory | {config.memory.num_mem_tokens} memory tokens, segments of \
{config.memory.segment_size} tokens |
| window | up to {config.max_tokens} BPE tokens |
| U-Net | channels {list(config.unet.resolved_channels(encoder.hidden_size))}, \
{config.unet.cycles} cycle(s), chunks of {config.unet.chunk_size} nt |
| classes | {", ".join(config.labels)} |
| tokenizer | {tokenizer_source}, {encoder.vocab_size} entries (`{TOKENIZER_FILE}`) |
"""
