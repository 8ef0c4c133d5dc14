"""Following flat marks between keyframes with the flat-mark matcher, not with optical flow.

Solid shapes give optical flow little to hold on to (corners only where shapes meet the
background, which moves differently), and fast motion or turning loses them. The flat-mark
matcher (``detectors.flat``) already knows each mark's colours and silhouette: each frame's
homography is the previous one, moved by the last frame-to-frame step, refined by ECC on the
colour-membership maps and checked against the colour layout; where ECC loses it (a small
mark moving far, a blurred spin), the matcher searches the neighbourhood of the prediction. A
mark leaving the frame is followed while enough of it shows to check; after that (less than
``_COAST_VISIBLE`` of it in frame) it keeps its last motion for up to ``_COAST_FRAMES``
frames, so its last visible pixels are masked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from autoblur.track.base import MaskPropagator
from autoblur.types import RegionMask
from detectors.base import Detector
from detectors.flat import FlatMatcher, FlatReference, outline

_SEARCH_PAD = 0.8  # a mark ECC loses is searched for this share of its size around
_COAST_VISIBLE = 0.3
_COAST_FRAMES = 4
_COAST_GROWTH = 0.1


def _similarity_step(before_xy: np.ndarray, after_xy: np.ndarray) -> np.ndarray:
    """The 3x3 similarity (move, turn, scale) that best takes (4, 2) corners to the next.

    Predicting with a similarity keeps a bad perspective of one frame out of the next ones.
    """
    fitted, _ = cv2.estimateAffinePartial2D(before_xy, after_xy, method=cv2.LMEDS)
    return np.eye(3) if fitted is None else np.vstack([fitted, [0, 0, 1]])


@dataclass
class _Followed:
    """One flat mark being followed: its reference, homography, last step, frames coasted."""

    ref: FlatReference
    homography: np.ndarray
    step: np.ndarray = field(default_factory=lambda: np.eye(3))
    coasted: int = 0

    def grown(self) -> np.ndarray:
        """A work-size homography growing the mark by ``_COAST_GROWTH`` about its centre.

        Coasting positions are unchecked: the mark is masked that much larger, including
        its parts just outside the frame that the fit may have placed a little too far out.
        """
        h, w = self.ref.work_hw
        centre = np.array([[1, 0, w / 2], [0, 1, h / 2], [0, 0, 1]])
        scale = np.diag([1 + _COAST_GROWTH, 1 + _COAST_GROWTH, 1.0])
        return centre @ scale @ np.linalg.inv(centre)

    def full_area(self, homography: np.ndarray) -> float:
        """The silhouette's area in frame pixels under ``homography``, frame edges ignored."""
        per_work = abs(np.linalg.det(homography[:2, :2])) / homography[2, 2] ** 2
        return self.ref.silhouette.area * per_work / self.ref.work_to_mask**2


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
        followed: dict[int, _Followed] = {}
        rest: dict[int, RegionMask] = {}
        for obj, mask in start_masks.items():
            fit = self.matcher.locate(lab, mask)
            if fit is None:
                rest[obj] = mask
            else:
                followed[obj] = _Followed(fit[0], fit[1])
        results = self.inner.propagate(frames_rgb, rest, continues)
        for index, rgb in enumerate(frames_rgb[1:]):
            if not followed:
                break
            lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
            for obj, state in list(followed.items()):
                mask = self._step(state, lab)
                if mask is None:
                    del followed[obj]
                else:
                    results[index][obj] = mask
        return results

    def _step(self, state: _Followed, lab: np.ndarray) -> RegionMask | None:
        """Move one mark into the next frame (updating ``state``); None when it is lost."""
        predicted = state.step @ state.homography
        found = self.matcher.follow(state.ref, lab, predicted)
        if found is None and not np.allclose(state.step, np.eye(3)):
            found = self.matcher.follow(state.ref, lab, state.homography)
        mask = self.matcher.mask_of(state.ref, predicted, lab.shape[:2])
        if found is None and mask is not None:
            fit = self.matcher.locate(lab, mask, pad=_SEARCH_PAD, min_iou=0.05)
            found = None if fit is None or fit[0] is not state.ref else fit[1]
        if found is None:
            leaving = mask is not None and mask.area < _COAST_VISIBLE * state.full_area(predicted)
            if not leaving or state.coasted >= _COAST_FRAMES:
                return None
            state.coasted += 1
            found = self._coast(state, lab, predicted)
            mask = self.matcher.mask_of(state.ref, found @ state.grown(), lab.shape[:2])
            if mask is None:
                return None
        else:
            mask = self.matcher.mask_of(state.ref, found, lab.shape[:2])
        state.step = _similarity_step(
            outline(state.ref, state.homography), outline(state.ref, found)
        )
        state.homography = found
        return mask

    def _coast(self, state: _Followed, lab: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """The homography of a mark too far out to check.

        ECC's fit on its visible part when that stays near the prediction (a quarter of the
        mark's size), else the prediction.
        """
        refined = self.matcher.refine(state.ref, lab, predicted)
        if refined is None:
            return predicted
        moved = outline(state.ref, refined) - outline(state.ref, predicted)
        size = np.sqrt(state.full_area(predicted))
        return refined if np.abs(moved).max() < 0.25 * size else predicted

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
