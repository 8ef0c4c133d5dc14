"""The mask-propagation interface and its registry."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autoblur.config import PipelineConfig
from autoblur.registry import Registry, build_preferred
from autoblur.types import RegionMask

log = logging.getLogger(__name__)


class MaskPropagator(Protocol):
    """Carries object masks from one frame through the frames that follow it."""

    name: str

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """Track objects from ``frames_rgb[0]``, where ``start_masks`` hold, onwards.

        Args:
            frames_rgb: (H, W, 3) uint8 RGB frames in the order to track them (reverse them to
                track backwards).
            start_masks: object id to its mask on ``frames_rgb[0]``.
            continues: ``frames_rgb[0]`` is the last frame of the previous continuing call, in
                the same shot: a tracker with a memory may keep it (new ids are new objects,
                known ids get their masks refreshed, missing ids have ended).

        Returns:
            One dict per frame of ``frames_rgb[1:]``: the masks of the objects still tracked.
            An object missing from a frame's dict is lost from then on.
        """
        ...

    def reset(self) -> None:
        """Forget any memory kept between calls (a scene cut)."""
        ...


class PropagatorWrapper:
    """A propagator that follows some objects itself and hands the others to ``inner``.

    Subclasses implement ``propagate``; the inner backend's name, device and settings show
    through, and a reset reaches it.
    """

    def __init__(self, inner: MaskPropagator) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)  # the inner backend's device and settings

    def reset(self) -> None:
        """Forget the inner propagator's memory (a scene cut)."""
        self.inner.reset()


def wrap_with_matcher(
    propagator: MaskPropagator,
    detectors: Sequence[object],
    attribute: str,
    kind: type,
    wrapper: Callable[[MaskPropagator, Any], MaskPropagator],
) -> MaskPropagator:
    """``propagator`` wrapped by the matcher of the first detector that has one with references.

    Args:
        propagator: the propagator to wrap.
        detectors: the run's detectors.
        attribute: the detector attribute that holds the matcher.
        kind: the matcher's class.
        wrapper: builds the wrapper from (propagator, matcher).
    """
    for detector in detectors:
        matcher = getattr(detector, attribute, None)
        if isinstance(matcher, kind) and matcher.references:
            return wrapper(propagator, matcher)
    return propagator


PROPAGATORS: Registry[MaskPropagator] = Registry("tracker")
_MODULES = {"flow": "autoblur.track.flow", "deaot": "autoblur.track.deaot.propagator"}
_CLASSICAL = "flow"


def build_propagator(config: PipelineConfig, notices: list[str]) -> MaskPropagator:
    """The tracker backend the config names.

    ``auto`` uses DeAOT when its extra, its checkpoint and a GPU are there (on a CPU it is
    too slow for long videos), and the flow tracker otherwise.

    Raises:
        CheckpointError: ``deaot`` was asked for and cannot run (extra or checkpoint missing).
        ConfigError: unknown backend name.
    """
    importlib.import_module(_MODULES[_CLASSICAL])
    return build_preferred(
        PROPAGATORS,
        config.track.backend,
        "deaot",
        _CLASSICAL,
        _MODULES["deaot"],
        config,
        notices,
        worth_trying=lambda: _gpu_present(config.device),
    )


def _gpu_present(requested: str) -> bool:
    """Whether neural models would run on a GPU (False without torch or with --device cpu).

    Imports torch (seconds) only where a GPU can exist: an NVIDIA driver or a Mac.
    """
    if requested == "cpu" or importlib.util.find_spec("torch") is None:
        return False
    if not (Path("/dev/nvidiactl").exists() or sys.platform == "darwin"):
        return False
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()
