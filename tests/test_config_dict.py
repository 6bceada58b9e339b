"""One reader for every settings dataclass: unknown keys named, bad values one error type."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from genatator.config_dict import dataclass_from_dict
from genatator.decode.options import HmmOptions, ThresholdOptions
from genatator.errors import ConfigError
from genatator.model.config import UNetConfig
from genatator.splice.models import SpliceModelConfig
from genatator.splice.training import SpliceTrainConfig
from genatator.training.config import TrainConfig


@dataclass
class _Pair:
    first: int
    second: int = 2

    def __post_init__(self) -> None:
        if self.first < 0:
            raise ValueError(f"first must be >= 0, got {self.first}")


def test_known_keys_build_and_left_out_keys_keep_their_defaults() -> None:
    assert dataclass_from_dict(_Pair, {"first": 1}, "pair") == _Pair(1, 2)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"first": 1, "zeta": 0, "alpha": 0}, r"^unknown pair setting\(s\): alpha, zeta$"),
        ({"first": -1}, r"^invalid pair settings: first must be >= 0, got -1$"),
        ({}, r"^invalid pair settings: .*missing 1 required positional argument: 'first'"),
        ([1, 2], r"^pair settings must be an object, not list$"),
    ],
)
def test_bad_settings_are_one_error_type_with_one_message_shape(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        dataclass_from_dict(_Pair, values, "pair")
    assert issubclass(ConfigError, ValueError)  # code that checks values catches it as one


@pytest.mark.parametrize(
    ("read", "what"),
    [
        (UNetConfig.from_dict, "unet"),
        (TrainConfig.from_dict, "training"),
        (SpliceModelConfig.from_dict, "splice model"),
        (SpliceTrainConfig.from_dict, "splice training"),
        (ThresholdOptions.from_dict, "decode"),
        (HmmOptions.from_dict, "hmm"),
        (lambda values: HmmOptions.from_dict({"weights": values}), "hmm weight"),
    ],
)
def test_every_settings_reader_names_unknown_keys_alike(read, what) -> None:
    with pytest.raises(ConfigError, match=rf"^unknown {what} setting\(s\): colour$"):
        read({"colour": 1})
