"""The files of a model directory: where it is, its tagged ``config.json``, its weights.

Every model class (the annotator, the splice-site models) reads and writes its directory through
these, so they sit below all of them: nothing here imports a model.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors.torch import save
from torch import nn

from genatator import __version__
from genatator._io import atomic_output
from genatator.bundles import DEFAULT_BUNDLE, find_bundle
from genatator.errors import ModelError

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "load_strict",
    "read_tagged_config",
    "resolve_model_dir",
    "write_config_and_weights",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A local directory, a bundled model's name, or a hub id downloaded into the local cache.

    A local directory wins over a bundle of the same name (``genatator models list``).

    Raises:
        ModelError: the path is not a directory, or the hub id cannot be fetched (offline,
            unknown repository); the message says what to do instead.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"{path}: a model must be a directory, not a file")
    name = str(name_or_path)
    bundle = find_bundle(name)
    if bundle is not None:
        return bundle.path
    if name == DEFAULT_BUNDLE:
        raise ModelError(
            f"{name}: the default bundled model is not installed with this genatator; "
            "pass --model with a model directory"
        )
    if not _HUB_ID.match(name) or name.startswith((".", "/", "~")):
        raise ModelError(f"{name}: no such model directory")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        raise ModelError(
            f"{name}: not a local directory, and huggingface_hub is not installed to download it"
        ) from None
    try:
        local = snapshot_download(
            repo_id=name,
            allow_patterns=["*.json", "*.safetensors", "pytorch_model.bin", "*.md", "*.txt"],
        )
    except Exception as exc:  # the hub client raises many types (offline, 404, auth, HTTP)
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        reason = "HF_HUB_OFFLINE is set" if offline else type(exc).__name__
        raise ModelError(
            f"{name}: not a local directory and could not be downloaded from the Hugging Face "
            f"hub ({reason}); download it on a machine with internet access "
            f"(huggingface-cli download {name} --local-dir DIR) and pass DIR instead"
        ) from None
    return Path(local)


def write_config_and_weights(
    directory: str | Path, model_type: str, config: dict, module: nn.Module
) -> None:
    """Write ``config.json`` tagged with ``model_type`` and ``model.safetensors``, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"model_type": model_type, "genatator_version": __version__, **config}
    with atomic_output(directory / CONFIG_NAME) as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    with atomic_output(directory / WEIGHTS_NAME, binary=True) as handle:
        handle.write(save(state, metadata={"format": "pt"}))


def read_tagged_config(
    directory: Path, model_type: str, hints: dict[str, str] | None = None
) -> tuple[Path, dict]:
    """``config.json`` of ``directory``, checked to carry ``model_type``, without its tags.

    Args:
        directory: the model directory.
        model_type: the ``model_type`` the file must name.
        hints: text appended to the error for a given wrong ``model_type``.

    Returns:
        ``(path of config.json, its fields without model_type and genatator_version)``.

    Raises:
        ModelError: the file is missing, not JSON, or names another model type.
    """
    if not directory.is_dir():
        raise ModelError(f"{directory}: no such model directory")
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ModelError(f"{directory}: not a model directory (no {CONFIG_NAME})")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    found = values.get("model_type") if isinstance(values, dict) else None
    if found != model_type:
        hint = (hints or {}).get(found, "")
        raise ModelError(f"{path}: model_type is {found!r}, not {model_type!r}{hint}")
    return path, {k: v for k, v in values.items() if k not in ("model_type", "genatator_version")}


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], *, source: str) -> None:
    """``load_state_dict(strict=True)`` naming missing, unexpected and misshapen keys."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if misshapen:
        problems.append(
            "shape mismatch "
            + _few(
                [f"{k} {tuple(state[k].shape)} vs {tuple(expected[k].shape)}" for k in misshapen]
            )
        )
    if problems:
        raise ModelError(f"{source}: weights do not match the model: {'; '.join(problems)}")
    module.load_state_dict(state, strict=True)


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
