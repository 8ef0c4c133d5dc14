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


DetectorBuilder = Callable[[Sequence[BrandCue], PipelineConfig], Detector]
DETECTORS: Registry[Detector] = Registry("detector")

# Detectors that find boxes without masks: only runs with them need a segmentation model.
BOX_ONLY_DETECTORS = frozenset({"grounding_dino"})
# The cue field of a brand that each detector reads, in the order the pipeline runs them.
CUE_FIELDS: dict[str, str] = {"logo": "logos", "text": "text", "grounding_dino": "prompts"}
