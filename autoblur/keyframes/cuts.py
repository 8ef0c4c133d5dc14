"""Hard scene-cut detection from colour histograms of consecutive frames."""

from __future__ import annotations

import cv2
import numpy as np

from autoblur.config import SceneCutConfig

ANALYSIS_WIDTH = 160  # frames are compared at this width


class SceneCutDetector:
    """Flags a frame whose colour histogram differs sharply from the previous frame's.

    Args:
        config: the threshold on the Bhattacharyya distance (0 = same, 1 = disjoint).
    """

    def __init__(self, config: SceneCutConfig) -> None:
        self.config = config
        self._previous: np.ndarray | None = None
        self.last_distance = 0.0

    def is_cut(self, rgb: np.ndarray) -> bool:
        """Whether (H, W, 3) uint8 RGB ``rgb`` starts a new shot (frames must come in order)."""
        histogram = _histogram(rgb)
        previous, self._previous = self._previous, histogram
        if previous is None or not self.config.enabled:
            return False
        self.last_distance = float(cv2.compareHist(previous, histogram, cv2.HISTCMP_BHATTACHARYYA))
        return self.last_distance > self.config.threshold


def _histogram(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = min(1.0, ANALYSIS_WIDTH / width)
    small = cv2.resize(
        rgb,
        (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [12, 6, 6], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, hist, 1.0, 0.0, cv2.NORM_L1)
