"""The segmenter interface and its registry."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from autoblur.registry import Registry
from autoblur.types import Detections


class Segmenter(Protocol):
    """Fills in (or refines) the masks of a keyframe's detections."""

    name: str

    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """Detections on the (H, W, 3) uint8 RGB keyframe, each with a mask where possible."""
        ...


SEGMENTERS: Registry[Segmenter] = Registry("segmenter")
