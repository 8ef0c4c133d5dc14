"""Following flat marks between keyframes with the flat-mark matcher, not with optical flow.

Solid shapes give optical flow little to hold on to (corners only where shapes meet the
background, which moves differently), and fast motion or turning loses them. The flat-mark
matcher (``detectors.flat``) already knows each mark's colours and silhouette: each frame's
homography is the previous one, moved by the last frame-to-frame step, refined by ECC on the
colour-membership maps and checked against the colour layout. A cut-off mark is followed until
its last few visible pixels leave the frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from autoblur.track.base import MaskPropagator
from autoblur.types import RegionMask
from detectors.base import Detector
from detectors.flat import FlatMatcher, FlatReference


class FlatFollower:
    """A propagator that follows flat marks itself and hands other objects to ``inner``.

    Args:
        inner: the propagator for objects that are not flat marks.
        matcher: the flat-mark matcher with the run's flat references.
    """

    def __init__(self, inner: MaskPropagator, matcher: FlatMatcher) -> None:
        self.inner = inner
        self.matcher = matcher
        self.name = inner.name

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)  # the inner backend's device and settings

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """See :class:`autoblur.track.base.MaskPropagator`.

        Each start mask that outlines a flat mark (found again around it on the first frame)
        is followed here; the rest go to the inner propagator.
        """
        if not start_masks or len(frames_rgb) < 2:
            return self.inner.propagate(frames_rgb, start_masks, continues)
        lab = cv2.cvtColor(frames_rgb[0], cv2.COLOR_RGB2LAB)
        followed: dict[int, tuple[FlatReference, np.ndarray, np.ndarray]] = {}
        rest: dict[int, RegionMask] = {}
        for obj, mask in start_masks.items():
            fit = self.matcher.locate(lab, mask)
            if fit is None:
                rest[obj] = mask
            else:
                followed[obj] = (fit[0], fit[1], np.eye(3))
        results = self.inner.propagate(frames_rgb, rest, continues)
        for index, rgb in enumerate(frames_rgb[1:]):
            if not followed:
                break
            lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
            frame_hw = lab.shape[:2]
            for obj, (ref, homography, step) in list(followed.items()):
                found = self.matcher.follow(ref, lab, step @ homography)
                if found is None and not np.allclose(step, np.eye(3)):
                    found = self.matcher.follow(ref, lab, homography)
                mask = None if found is None else self.matcher.mask_of(ref, found, frame_hw)
                if mask is None:
                    del followed[obj]
                    continue
                followed[obj] = (ref, found, found @ np.linalg.inv(homography))
                results[index][obj] = mask
        return results

    def reset(self) -> None:
        """Forget the inner propagator's memory (nothing is kept here between calls)."""
        self.inner.reset()


def follow_flat_marks(propagator: MaskPropagator, detectors: Sequence[Detector]) -> MaskPropagator:
    """``propagator``, wrapped to follow flat marks when a detector has flat references."""
    for detector in detectors:
        matcher = getattr(detector, "flat", None)
        if isinstance(matcher, FlatMatcher) and matcher.references:
            return FlatFollower(propagator, matcher)
    return propagator
