"""The parity fixtures' deterministic weight rule (``../shared/parity/README.md``, section 1)."""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Mapping

import numpy as np
import torch


def rule_tensor(name: str, like: torch.Tensor, kept: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The value the rule gives the state_dict entry ``name`` shaped and typed like ``like``."""
    if name in kept:
        return kept[name].clone()
    if not like.dtype.is_floating_point:
        return torch.zeros_like(like)
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))
    u = torch.rand(tuple(like.shape), generator=generator, dtype=torch.float64) * 2 - 1
    if name.endswith("running_mean"):
        value = 0.1 * u
    elif name.endswith("running_var"):
        value = 1 + 0.1 * u.abs()
    elif like.dim() >= 2:
        value = u * math.sqrt(3.0 / math.prod(like.shape[1:]))
    elif name.endswith("weight"):
        value = 1 + 0.1 * u
    else:
        value = 0.1 * u
    return value.to(like.dtype)


def rule_state_dict(
    model: torch.nn.Module, kept: Mapping[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """Rule weights for every entry of ``model.state_dict()``; ``kept`` entries stay as built."""
    kept = kept or {}
    return {name: rule_tensor(name, t, kept) for name, t in model.state_dict().items()}


def tensor_sha256(tensor: torch.Tensor) -> str:
    """sha256 of a tensor's raw little-endian C-contiguous bytes, as the manifests record."""
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def assert_stats_close(actual: torch.Tensor, stats: np.ndarray, rel: float = 1e-5) -> None:
    """Check a tensor against a fixture's ``stats__`` entry: [sum, sum|x|, sum x^2, min, max, n].

    Sums are compared relative to the sum of magnitudes (a signed sum can be near zero).
    """
    x = actual.double()
    mine = np.array(
        [x.sum(), x.abs().sum(), (x * x).sum(), x.min(), x.max(), x.numel()], np.float64
    )
    scale = np.array([stats[1], stats[1], stats[2], abs(stats[3]), abs(stats[4]), 1.0])
    assert np.all(np.abs(mine - stats) <= rel * np.maximum(scale, 1e-12)), (mine, stats)
