"""Torch-side model plumbing: device choice and strict, safe checkpoint loading.

Imports torch, so only the neural backends import this module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from autoblur.errors import CheckpointError
from autoblur.models.manifest import ModelEntry
from autoblur.models.store import expected_sha256, sha256_file

log = logging.getLogger(__name__)
_WRAPPER_KEYS = ("state_dict", "model")
_SHOWN_KEYS = 8


def resolve_device(requested: str) -> torch.device:
    """The device for ``requested`` (``auto``: CUDA, then Apple MPS, then CPU).

    Raises:
        CheckpointError: a device was asked for by name and is not available here.
    """
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("--device cuda: no CUDA device is available; use --device cpu")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise CheckpointError("--device mps: Apple MPS is not available; use --device cpu")
    return torch.device(requested)


def read_state_dict(path: Path, entry: ModelEntry | None = None) -> dict[str, torch.Tensor]:
    """Load a checkpoint file as a plain state dict, on the CPU, with ``weights_only=True``.

    Accepts the layouts official loaders accept: a bare state dict, or one under a
    ``state_dict`` or ``model`` key, with or without a ``module.`` prefix (DataParallel).

    Args:
        path: the checkpoint file.
        entry: the manifest entry it should be, to name the model and its checksum in errors.

    Raises:
        CheckpointError: the file cannot be read as a PyTorch checkpoint; the message says so
            in our own words (never PyTorch's advice to load it unsafely) with the file's sha256
            against the expected one, and how to get a good copy.
    """
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises pickle, zip and runtime errors alike
        raise CheckpointError(_unreadable_message(path, entry)) from None
    for key in _WRAPPER_KEYS:
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    if not isinstance(loaded, Mapping):
        raise CheckpointError(f"{path}: holds a {type(loaded).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def _unreadable_message(path: Path, entry: ModelEntry | None) -> str:
    """One line: the file is no valid checkpoint, its sha256 against the expected, the fix."""
    actual = sha256_file(path)
    if entry is None:
        return (
            f"{path}: not a readable PyTorch checkpoint (sha256 {actual}); the file is damaged "
            "or of another kind: replace it with a good copy"
        )
    expected = expected_sha256(entry, path)
    versus = f", expected {expected}" if expected and expected != actual else ""
    return (
        f"{path}: not a readable PyTorch checkpoint for the {entry.name} model (sha256 "
        f"{actual}{versus}); delete it and run `autoblur models download {entry.name}`"
    )


def _key_list(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else "")


def load_checkpoint(
    model: nn.Module,
    path: Path,
    entry: ModelEntry | None = None,
    state: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """Load ``path`` into ``model`` with ``strict=True``, checking it against the manifest.

    A file whose sha256 differs from the manifest's (a fine-tuned checkpoint, say) is loaded
    with one warning, as long as it loads strictly. ``state`` is the file's contents when the
    caller has already read them with :func:`read_state_dict`.

    Raises:
        CheckpointError: the file does not fit the model, with the missing and unexpected keys
            (and mismatched shapes) in the message.
    """
    state = read_state_dict(path) if state is None else state
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong_shape:
        parts = [
            f"{label}: {_key_list(keys)}"
            for label, keys in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("wrong shapes", wrong_shape),
            )
            if keys
        ]
        raise CheckpointError(
            f"{path}: does not load strictly into {type(model).__name__} ({'; '.join(parts)})"
        )
    model.load_state_dict(state, strict=True)
    if entry is not None:
        expected = expected_sha256(entry, path)
        if expected is not None and sha256_file(path) != expected:
            log.warning(
                "%s: sha256 differs from the manifest's %s entry (a fine-tuned checkpoint?); "
                "it loads strictly, so it is used",
                path,
                entry.name,
            )
    return model
