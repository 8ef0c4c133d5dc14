"""The mask-propagation interface and its registry."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from autoblur.config import PipelineConfig
from autoblur.registry import Registry
from autoblur.types import RegionMask

log = logging.getLogger(__name__)


class MaskPropagator(Protocol):
    """Carries object masks from one frame through the frames that follow it."""

    name: str

    def propagate(
        self, frames_rgb: Sequence[np.ndarray], start_masks: dict[int, RegionMask]
    ) -> list[dict[int, RegionMask]]:
        """Track objects from ``frames_rgb[0]``, where ``start_masks`` hold, onwards.

        Args:
            frames_rgb: (H, W, 3) uint8 RGB frames in the order to track them (reverse them to
                track backwards).
            start_masks: object id to its mask on ``frames_rgb[0]``.

        Returns:
            One dict per frame of ``frames_rgb[1:]``: the masks of the objects still tracked.
            An object missing from a frame's dict is lost from then on.
        """
        ...


PROPAGATORS: Registry[MaskPropagator] = Registry("tracker")
_MODULES = {"flow": "autoblur.track.flow"}


def build_propagator(config: PipelineConfig) -> MaskPropagator:
    """The tracker backend the config names; ``auto`` picks the best one available."""
    for module in _MODULES.values():
        importlib.import_module(module)
    name = config.track.backend
    if name == "auto":
        name = "flow"
    return PROPAGATORS.build(name, config)
