"""Holding translucent overlays still between keyframes instead of following the picture.

A channel's bug stays where it is while the picture behind it moves; optical flow inside it
follows the picture and drags the mask away. The overlay matcher (``detectors.overlay``)
remembers its recent hits: an object that starts from one of them keeps that mask on every
frame, forwards and backwards. The next keyframe looks again, so a bug that goes away ends
like any other track.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autoblur.track.base import MaskPropagator, PropagatorWrapper, wrap_with_matcher
from autoblur.types import RegionMask
from detectors.base import Detector
from detectors.overlay import OverlayMatcher


class OverlayHolder(PropagatorWrapper):
    """A propagator that holds overlays still and hands every other object to ``inner``.

    Args:
        inner: the propagator for the other objects.
        matcher: the overlay matcher of the run's logo detector.
    """

    def __init__(self, inner: MaskPropagator, matcher: OverlayMatcher) -> None:
        super().__init__(inner)
        self.matcher = matcher

    def holds_still(self, mask: RegionMask) -> bool:
        """Whether ``mask`` is an overlay this holder keeps still (a fixed bug, cuts or not)."""
        return self.matcher.holds(mask)

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """See :class:`autoblur.track.base.MaskPropagator`."""
        held = {obj: mask for obj, mask in start_masks.items() if self.matcher.holds(mask)}
        rest = {obj: mask for obj, mask in start_masks.items() if obj not in held}
        results = self.inner.propagate(frames_rgb, rest, continues)
        for masks in results:
            masks.update(held)
        return results


def hold_overlays(propagator: MaskPropagator, detectors: Sequence[Detector]) -> MaskPropagator:
    """``propagator``, wrapped to hold overlays still when a detector looks for them."""
    return wrap_with_matcher(propagator, detectors, "overlay", OverlayMatcher, OverlayHolder)
