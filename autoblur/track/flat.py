"""Following flat marks between keyframes with the flat-mark matcher, not with optical flow.

Solid shapes give optical flow little to hold on to (corners only where shapes meet the
background, which moves differently), and fast motion or turning loses them. The flat-mark
matcher (``detectors.flat``) already knows each mark's colours and silhouette: each frame's
homography is the previous one, moved by the last frame-to-frame step, refined by ECC on the
colour-membership maps and checked against the colour layout; where ECC loses it or its fit
is doubtful (a small mark moving far, a blurred spin), the matcher also searches the
neighbourhood of the prediction and the better-scoring fit wins.
A mark less than half in the frame is followed by a rigid motion only (its sliver cannot pin
down a perspective; under ``_SLIVER`` of it, by a shift only) and its mask is the grown
silhouette (a fit on a sliver is less exact, and the margin removal adds cannot reach past
the frame edge); when even that fails, its last mask, grown, is held for up to
``_COAST_FRAMES`` frames while the mark's colours still fill part of it, so its last visible
pixels are masked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from autoblur.track.base import MaskPropagator, PropagatorWrapper, wrap_with_matcher
from autoblur.types import RegionMask, union_mask
from detectors.base import Detector
from detectors.flat import FlatMatcher, FlatReference, outline

_BLUR_PX = 4.0  # a half step moving a corner further than this smears the mark
_SURE_SCORE = 0.85  # a followed fit scoring less is checked against a search around it
_SEARCH_PAD = 0.8  # a mark ECC loses is searched for this share of its size around
_PARTIAL = 0.5  # below this share of it in frame, a mark is followed by move and turn only
_SLIVER = 0.08  # below this share, by move only
_COAST_FRAMES = 12
_COAST_EVIDENCE = 0.05  # share of a held mask's pixels in the mark's colours to keep it
_KEEP_MARGIN = 0.05  # a followed fit kept over a keyframe's fresh one scores this much more


def _similarity_step(before_xy: np.ndarray, after_xy: np.ndarray) -> np.ndarray:
    """The 3x3 similarity (move, turn, scale) that best takes (4, 2) corners to the next.

    Predicting with a similarity keeps a bad perspective of one frame out of the next ones.
    """
    fitted, _ = cv2.estimateAffinePartial2D(before_xy, after_xy, method=cv2.LMEDS)
    return np.eye(3) if fitted is None else np.vstack([fitted, [0, 0, 1]])


@dataclass
class _Followed:
    """One flat mark being followed.

    Attributes:
        ref: its reference.
        homography: from the reference's work size to the last frame.
        step: the last frame-to-frame similarity.
        coasted: frames followed on the prediction alone.
    """

    ref: FlatReference
    homography: np.ndarray
    step: np.ndarray = field(default_factory=lambda: np.eye(3))
    coasted: int = 0

    def full_area(self, homography: np.ndarray) -> float:
        """The silhouette's area in frame pixels under ``homography``, frame edges ignored."""
        quad = outline(self.ref, homography).astype(np.float32)
        share = self.ref.silhouette.bitmap.mean()  # of the reference's rectangle
        return float(cv2.contourArea(quad)) * share


class FlatFollower(PropagatorWrapper):
    """A propagator that follows flat marks itself and hands other objects to ``inner``.

    Args:
        inner: the propagator for objects that are not flat marks.
        matcher: the flat-mark matcher with the run's flat references.
    """

    def __init__(self, inner: MaskPropagator, matcher: FlatMatcher) -> None:
        super().__init__(inner)
        self.matcher = matcher
        # Per object, the last mask this follower gave and the state behind it: a call that
        # starts from that very mask (the manager's next stretch) goes on from the state,
        # even where the mark is too far out of the frame to be found again.
        self._last: dict[int, tuple[RegionMask, _Followed]] = {}
        # Objects whose mask outlined no flat mark: a word, a textured logo. They are looked
        # at again only when the flat search itself finds them (a search around each of their
        # masks on every keyframe cost a tenth of a second each, for nothing).
        self._not_flat: set[int] = set()

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """See :class:`autoblur.track.base.MaskPropagator`.

        Each start mask that outlines a flat mark (the last mask given for it, or a mark
        found again around it on the first frame) is followed here; the rest go to the inner
        propagator.
        """
        if not start_masks or len(frames_rgb) < 2:
            return self.inner.propagate(frames_rgb, start_masks, continues)
        if continues:  # objects missing from a continuing call have ended
            self._last = {obj: last for obj, last in self._last.items() if obj in start_masks}
        lab = cv2.cvtColor(frames_rgb[0], cv2.COLOR_RGB2LAB)
        followed: dict[int, _Followed] = {}
        rest: dict[int, RegionMask] = {}
        for obj, mask in start_masks.items():
            last_mask, last_state = self._last.get(obj, (None, None))
            if last_mask is mask and last_state is not None:
                followed[obj] = last_state
                continue
            if obj in self._not_flat and not self.matcher.found(mask):
                rest[obj] = mask
                continue
            fit = self.matcher.locate(lab, mask)
            if fit is None:
                self._not_flat.add(obj)
                rest[obj] = mask
            else:
                self._not_flat.discard(obj)
                # Found again (a keyframe's detection): going on forwards, keep its motion.
                step = last_state.step if continues and last_state is not None else np.eye(3)
                followed[obj] = _Followed(fit[0], fit[1], step=step)
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
                    self._last[obj] = (mask, state)
        return results

    def keyframe_mask(
        self, rgb: np.ndarray, followed: RegionMask, detected: RegionMask
    ) -> RegionMask:
        """The mask a followed mark takes on a keyframe where the search found it again.

        The search's fit, unless this follower's own fit of the same mark on that frame shows
        the reference clearly better (by ``_KEEP_MARGIN``): a hand passing over the mark can
        pull a fresh fit a few pixels off, while the followed one holds.

        Args:
            rgb: the keyframe, (H, W, 3) uint8 RGB.
            followed: the mask this follower gave on it.
            detected: the mask of the detection joined to the same track.
        """
        state = next((st for mask, st in self._last.values() if mask is followed), None)
        found = self.matcher.pose(detected)
        if state is None or found is None or found[0] is not state.ref:
            return detected
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        own = self.matcher.score(state.ref, lab, state.homography)
        fresh = self.matcher.score(state.ref, lab, found[1])
        return followed if own > fresh + _KEEP_MARGIN else detected

    def _step(self, state: _Followed, lab: np.ndarray) -> RegionMask | None:
        """Move one mark into the next frame (updating ``state``); None when it is lost."""
        frame_hw = lab.shape[:2]
        predicted = state.step @ state.homography
        expected = self.matcher.mask_of(state.ref, predicted, frame_hw)
        share = 0.0 if expected is None else expected.area / state.full_area(predicted)
        partial = share < _PARTIAL
        if partial:  # move and turn only; the smallest slivers: move only
            found = self.matcher.follow_rigid(
                state.ref, lab, state.homography, turn=share >= _SLIVER
            )
        else:
            fit = self.matcher.follow(state.ref, lab, predicted)
            if fit is None and not np.allclose(state.step, np.eye(3)):
                fit = self.matcher.follow(state.ref, lab, state.homography)
            if fit is None or fit[1] < _SURE_SCORE:  # lost or doubtful: search around too
                located = self.matcher.locate(lab, expected, pad=_SEARCH_PAD, min_iou=0.05)
                if located is not None and located[0] is state.ref:
                    score = self.matcher.score(state.ref, lab, located[1])
                    if fit is None or score > fit[1]:
                        fit = (located[1], score)
            found = None if fit is None else fit[0]
        if found is None:
            if not partial or state.coasted >= _COAST_FRAMES:
                return None
            # Too little shows to fit: hold the last place, grown, while the mark's colours
            # are still in it (a mark leaving through an edge stays inside it).
            state.coasted += 1
            mask = self.matcher.mask_of(state.ref, state.homography, frame_hw, grown=True)
            if mask is None or self.matcher.colour_share(state.ref, lab, mask) < _COAST_EVIDENCE:
                return None
            return mask
        state.step = _similarity_step(
            outline(state.ref, state.homography), outline(state.ref, found)
        )
        state.homography = found
        # A rigid fit on a sliver is less exact: its mask is grown like a held one.
        return self._swept(state, frame_hw, grown=partial)

    def _swept(self, state: _Followed, frame_hw: tuple[int, int], grown: bool) -> RegionMask | None:
        """The mark's mask, widened to where motion blur smears it.

        A frame's exposure sees the mark from half a step before to half a step after; when
        that moves a corner by more than ``_BLUR_PX``, the mask is the union of the
        silhouettes at those two poses and at the frame's.
        """
        masks = [self.matcher.mask_of(state.ref, state.homography, frame_hw, grown)]
        corners = outline(state.ref, state.homography)
        work = outline(state.ref, np.eye(3)).astype(np.float32)
        for step in (state.step, np.linalg.inv(state.step)):
            ahead = outline(state.ref, step @ state.homography)
            if np.abs(ahead - corners).max() / 2 <= _BLUR_PX:
                continue
            half = cv2.getPerspectiveTransform(work, ((corners + ahead) / 2).astype(np.float32))
            masks.append(self.matcher.mask_of(state.ref, half, frame_hw, grown))
        return union_mask([m for m in masks if m is not None])

    def reset(self) -> None:
        """Forget the states kept between calls and the inner propagator's memory."""
        self._last.clear()
        self._not_flat.clear()
        super().reset()


def follow_flat_marks(propagator: MaskPropagator, detectors: Sequence[Detector]) -> MaskPropagator:
    """``propagator``, wrapped to follow flat marks when a detector has flat references."""
    return wrap_with_matcher(propagator, detectors, "flat", FlatMatcher, FlatFollower)
