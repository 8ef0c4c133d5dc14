"""Segmenters: turn detection boxes into precise masks on keyframes."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from autoblur.config import PipelineConfig
from autoblur.registry import Registry
from autoblur.types import Detections


class Segmenter(Protocol):
    """Fills in (or refines) the masks of a keyframe's detections."""

    name: str

    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """Detections on the (H, W, 3) uint8 RGB keyframe, each with a mask where possible."""
        ...


SEGMENTERS: Registry[Segmenter] = Registry("segmenter")


class DetectorMasks:
    """Keeps each detector's own mask (a warped logo silhouette, say); a box where none."""

    name = "none"

    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """See :class:`Segmenter`."""
        frame_hw = rgb.shape[:2]
        detections.masks = [detections.mask_or_box(i, frame_hw) for i in range(len(detections))]
        return detections


@SEGMENTERS.register("none")
def build_detector_masks(config: PipelineConfig) -> DetectorMasks:
    """No segmentation model: detector masks as they are."""
    return DetectorMasks()


def build_segmenter(config: PipelineConfig) -> Segmenter:
    """The segmenter the config names; ``auto`` picks the best one available."""
    name = "none" if config.segmenter == "auto" else config.segmenter
    return SEGMENTERS.build(name, config)
