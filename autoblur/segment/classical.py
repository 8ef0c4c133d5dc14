"""Segmenters without a neural model: the detector's own mask, or GrabCut inside the box."""

from __future__ import annotations

import cv2
import numpy as np

from autoblur.config import PipelineConfig
from autoblur.segment.base import SEGMENTERS
from autoblur.types import Detections, RegionMask

_GRABCUT_ITERATIONS = 4
_GRABCUT_MIN_SHARE = 0.1  # a GrabCut mask smaller than this share of its box is not trusted


class DetectorMasks:
    """Keeps each detector's own mask (a warped logo silhouette, say); a box where none."""

    name = "none"

    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """See :class:`autoblur.segment.base.Segmenter`."""
        frame_hw = rgb.shape[:2]
        detections.masks = [detections.mask_or_box(i, frame_hw) for i in range(len(detections))]
        return detections


def grabcut_box(rgb: np.ndarray, xyxy: np.ndarray) -> RegionMask | None:
    """The foreground GrabCut finds inside a box of an (H, W, 3) RGB frame; None if it fails.

    GrabCut runs on a crop around the box (the box plus a quarter of its size on each side),
    so its cost depends on the box, not the frame.
    """
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in xyxy)
    pad_x, pad_y = max(2, (x1 - x0) // 4), max(2, (y1 - y0) // 4)
    cx0, cy0 = max(0, x0 - pad_x), max(0, y0 - pad_y)
    cx1, cy1 = min(w, x1 + pad_x), min(h, y1 + pad_y)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1, ::-1])
    labels = np.zeros(crop.shape[:2], np.uint8)
    rect = (x0 - cx0, y0 - cy0, x1 - x0, y1 - y0)
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(
            crop, labels, rect, background, foreground, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_RECT
        )
    except cv2.error:
        return None
    inside = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if inside.sum() < _GRABCUT_MIN_SHARE * (x1 - x0) * (y1 - y0):
        return None
    dense = np.zeros((h, w), bool)
    dense[cy0:cy1, cx0:cx1] = inside
    return RegionMask.from_dense(dense)


class GrabCutMasks(DetectorMasks):
    """The detector's own mask where it has one; GrabCut inside the box otherwise."""

    name = "grabcut"

    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """See :class:`autoblur.segment.base.Segmenter`."""
        for index, mask in enumerate(detections.masks):
            if mask is None:
                detections.masks[index] = grabcut_box(rgb, detections.xyxy[index])
        return super().segment(rgb, detections)


@SEGMENTERS.register("none")
def build_detector_masks(config: PipelineConfig) -> DetectorMasks:
    """No segmentation: detector masks as they are, boxes where there are none."""
    return DetectorMasks()


@SEGMENTERS.register("grabcut")
def build_grabcut(config: PipelineConfig) -> GrabCutMasks:
    """Classical box-to-mask segmentation with GrabCut."""
    return GrabCutMasks()
