"""The GENATATOR model: GENA-LM encoder, recurrent memory, nucleotide U-Net head, save/load."""

from genatator.model.config import (
    CLASSES,
    PRESETS,
    EncoderConfig,
    GenatatorConfig,
    MemoryConfig,
    UNetConfig,
    preset_config,
)
from genatator.model.encoder import GenaEncoder
from genatator.model.genatator import GenatatorModel, ModelInputs, ModelOutput
from genatator.model.rmt import RecurrentMemoryEncoder, balanced_chunks
from genatator.model.unet import UNet1D

__all__ = [
    "CLASSES",
    "PRESETS",
    "EncoderConfig",
    "GenaEncoder",
    "GenatatorConfig",
    "GenatatorModel",
    "MemoryConfig",
    "ModelInputs",
    "ModelOutput",
    "RecurrentMemoryEncoder",
    "UNet1D",
    "UNetConfig",
    "balanced_chunks",
    "preset_config",
]
