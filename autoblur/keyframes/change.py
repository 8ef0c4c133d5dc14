"""Change-triggered keyframes: a new object appearing between keyframes is a reason to look.

The detectors run on keyframes only; a brand on screen for fewer frames than the keyframe
interval, between two keyframes, would never be seen. This trigger compares each frame's
small grey preview with the previous one and fires where a compact region changed that did
not change on the frame before (an appearance: a mark cut in, faded in, or entering), as
opposed to the steady change of something already moving, of a camera move (most of the
picture changes) or of sensor noise (too small).
"""

from __future__ import annotations

import cv2
import numpy as np

_DIFF_LEVEL = 28  # grey-level change (0-255) that counts
_MIN_SHARE = 0.0015  # a new changed region covers at least this share of the preview
_MAX_SHARE = 0.3  # more of the picture changed: a camera move or a light change, not an object
_NEW_OVERLAP = 0.4  # a region is new when at most this share of it changed on the last frame


class ChangeTrigger:
    """Says on which frames something new appeared.

    Args:
        min_gap: frames between a keyframe and a triggered one at least; a trigger inside the
            gap waits for its end (an appearance lasting that long is still on screen).
    """

    def __init__(self, min_gap: int) -> None:
        self.min_gap = max(1, min_gap)
        self._previous: np.ndarray | None = None
        self._changed: np.ndarray | None = None
        self._pending = False

    def wants_keyframe(self, preview_rgb: np.ndarray, since_keyframe: int) -> bool:
        """Whether this frame should be a keyframe because something new appeared.

        Args:
            preview_rgb: (h, w, 3) uint8 RGB small copy of the frame (frames in order).
            since_keyframe: frames since the last keyframe.
        """
        grey = cv2.GaussianBlur(cv2.cvtColor(preview_rgb, cv2.COLOR_RGB2GRAY), (3, 3), 0)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            self._changed = None
            return False
        changed = (cv2.absdiff(grey, previous) > _DIFF_LEVEL).astype(np.uint8)
        before, self._changed = self._changed, changed
        if before is not None and self._appeared(changed, before):
            self._pending = True
        if self._pending and since_keyframe >= self.min_gap:
            self._pending = False
            return True
        return False

    def keyframe(self) -> None:
        """Tell the trigger a keyframe was taken (a pending trigger is served by it)."""
        self._pending = False

    @staticmethod
    def _appeared(changed: np.ndarray, before: np.ndarray) -> bool:
        """Whether ``changed`` holds a compact region that ``before`` (last frame's) did not."""
        area = changed.size
        share = changed.sum() / area
        if share < _MIN_SHARE or share > _MAX_SHARE:
            return False
        count, labels, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
        large = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= _MIN_SHARE * area]
        if not large:
            return False
        near_before = cv2.dilate(before, np.ones((5, 5), np.uint8)).astype(bool)
        for i in large:
            region = labels == i
            if near_before[region].mean() <= _NEW_OVERLAP:
                return True
        return False
