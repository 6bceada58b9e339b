"""Settings dataclasses from JSON-style dicts: one reader, one error, one message."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from genatator.errors import ConfigError

__all__ = ["dataclass_from_dict"]

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """``cls(**values)``, naming unknown keys instead of ignoring them; keys left out keep
    their defaults.

    Args:
        cls: a dataclass.
        values: its fields by name (a parsed JSON object).
        what: what the settings are, for the message ("unknown hmm setting(s): ...").

    Raises:
        ConfigError: ``values`` is not a mapping, names an unknown field, or the dataclass
            refuses a value (its own message follows ``invalid <what> settings:``).
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{what} settings must be an object, not {type(values).__name__}")
    unknown = sorted(set(values) - {field.name for field in dataclasses.fields(cls)})
    if unknown:
        raise ConfigError(f"unknown {what} setting(s): {', '.join(unknown)}")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid {what} settings: {exc}") from None
