"""The detector interface, its registry, and which cue kind each detector reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from autoblur.config import PipelineConfig
from autoblur.registry import Registry
from autoblur.types import BrandCue, Detections


class Detector(Protocol):
    """Finds brands on one keyframe."""

    name: str

    def detect(self, rgb: np.ndarray) -> Detections:
        """Detections on an (H, W, 3) uint8 RGB frame, boxes in its pixel coordinates."""
        ...


def detect_crop(detector: Detector, crop: np.ndarray, frame_hw: tuple[int, int]) -> Detections:
    """What ``detector`` finds on a crop of a frame, looked at as it looks at the whole frame.

    A detector may have ``detect_crop(crop, frame_hw)``: it then works on the crop at the
    pixel scale it would use for a frame of ``frame_hw`` (a crop is not enlarged to its
    working size, which would cost as much as the whole frame). Others get the crop as a
    picture of its own.

    Args:
        detector: the detector.
        crop: (h, w, 3) uint8 RGB part of a frame.
        frame_hw: the whole frame's (height, width).

    Returns:
        Detections in the crop's pixel coordinates.
    """
    method = getattr(detector, "detect_crop", None)
    return method(crop, frame_hw) if method is not None else detector.detect(crop)


DetectorBuilder = Callable[[Sequence[BrandCue], PipelineConfig], Detector]
DETECTORS: Registry[Detector] = Registry("detector")

# Detectors that find boxes without masks: only runs with them need a segmentation model.
BOX_ONLY_DETECTORS = frozenset({"grounding_dino"})
# The cue field of a brand that each detector reads, in the order the pipeline runs them.
CUE_FIELDS: dict[str, str] = {"logo": "logos", "text": "text", "grounding_dino": "prompts"}


def detector_sources(detector: Detector) -> tuple[str, ...]:
    """The ``source`` names ``detector`` gives its detections (its name, unless it says more)."""
    return tuple(getattr(detector, "sources", (detector.name,)))


def detector_brands(
    detectors: Sequence[Detector], cues: Sequence[BrandCue]
) -> dict[str, frozenset[str]]:
    """Per detector name, the brands it was given cues for (all, where its cue kind is unknown)."""
    return {
        d.name: frozenset(
            c.name for c in cues if d.name not in CUE_FIELDS or getattr(c, CUE_FIELDS[d.name])
        )
        for d in detectors
    }
