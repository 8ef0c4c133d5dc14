"""The ``flow`` tracker: sparse optical flow inside each mask, fitted with a homography.

Each object is followed by pyramidal Lucas-Kanade on corners inside its mask, predicted with
the previous step's motion (so fast motion stays inside the search window), checked
forward-backward, and fitted with a RANSAC homography. The start mask is warped by the
accumulated homography (no resampling drift). An object is lost when too little of it stays in
frame or when its warped first look no longer matches the frame (normalised correlation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from autoblur.config import PipelineConfig, TrackConfig
from autoblur.track.base import PROPAGATORS
from autoblur.types import RegionMask

_LK = {
    "winSize": (21, 21),
    "maxLevel": 4,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
}
# Flow runs on the frames cropped to the points and where they are expected, plus this
# margin: pyramids of a crop cost a fraction of the whole frame's, and the points move by the
# same amount to within 0.01 px.
_FLOW_MARGIN_PX = 128
_FB_MAX_ERROR_PX = 1.5
_MIN_POINTS_HOMOGRAPHY = 10
_MIN_POINTS_AFFINE = 4
_FLAT_STD = 3.0
_MAX_AREA_STEP = 1.3  # a frame-to-frame change of the visible area beyond this is a bad fit


def masked_similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Normalised cross-correlation of two gray patches over ``mask``'s pixels, in [-1, 1].

    Flat patches (no texture to correlate) compare by mean brightness instead.
    """
    va = a[mask].astype(np.float32)
    vb = b[mask].astype(np.float32)
    if va.size < 16:
        return -1.0
    sa, sb = va.std(), vb.std()
    if sa < _FLAT_STD or sb < _FLAT_STD:
        return 1.0 if abs(va.mean() - vb.mean()) < 12 and max(sa, sb) < 3 * _FLAT_STD else 0.0
    return float(((va - va.mean()) * (vb - vb.mean())).mean() / (sa * sb))


def _warp_patch(
    gray: np.ndarray, box: tuple[int, int, int, int], homography: np.ndarray, target: RegionMask
) -> np.ndarray:
    """Warp ``gray[box]`` by ``homography`` (frame to frame coords) onto ``target``'s crop."""
    x0, y0, x1, y1 = box
    h, w = target.bitmap.shape
    shift_in = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    shift_out = np.array([[1, 0, -target.x0], [0, 1, -target.y0], [0, 0, 1]], np.float64)
    return cv2.warpPerspective(
        gray[y0:y1, x0:x1], shift_out @ homography @ shift_in, (w, h), flags=cv2.INTER_LINEAR
    )


class _ObjectTrack:
    """State of one object while it is followed through a sequence."""

    def __init__(self, gray: np.ndarray, mask: RegionMask, config: TrackConfig) -> None:
        self.config = config
        self.start_gray = gray
        self.start_mask = mask
        self.start_box = tuple(int(v) for v in mask.xyxy)
        self.start_area = mask.area
        self.start_points = self._corners(gray, mask)
        self.total = np.eye(3)
        self.last_step = np.eye(3)
        self.mask = mask

    def step(self, prev_gray: np.ndarray, gray: np.ndarray) -> RegionMask | None:
        """Follow the object into ``gray``; None when it is lost.

        Points are tracked from the start frame itself (no drift), seeded by the motion
        predicted from the last step; when that fit fails the checks, from the previous frame.
        """
        for total in self._candidates(prev_gray, gray):
            mask = self._checked_mask(total, gray)
            if mask is not None:
                self.last_step = total @ np.linalg.inv(self.total)
                self.total, self.mask = total, mask
                return mask
        return None

    def _candidates(self, prev_gray: np.ndarray, gray: np.ndarray) -> Iterator[np.ndarray]:
        predicted = self.last_step @ self.total
        total = self._fit(self.start_gray, gray, self.start_points, predicted)
        if total is not None:
            yield total
        step = self._fit(prev_gray, gray, self._corners(prev_gray, self.mask), self.last_step)
        if step is not None:
            yield step @ self.total

    def _checked_mask(self, total: np.ndarray, gray: np.ndarray) -> RegionMask | None:
        """The start mask moved by ``total``, if it is still in frame and still looks right."""
        mask = self.start_mask.warp(total)
        if mask is None or mask.area < self.config.min_visible * self.start_area:
            return None
        growth = mask.area / max(self.mask.area, 1)
        if not 1 / _MAX_AREA_STEP < growth < _MAX_AREA_STEP:
            return None
        look = _warp_patch(self.start_gray, self.start_box, total, mask)
        h, w = mask.bitmap.shape
        crop = gray[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w]
        if masked_similarity(look, crop, mask.bitmap) < self.config.min_similarity:
            return None
        return mask

    @staticmethod
    def _corners(gray: np.ndarray, mask: RegionMask) -> np.ndarray | None:
        h, w = mask.bitmap.shape
        crop = gray[mask.y0 : mask.y0 + h, mask.x0 : mask.x0 + w]
        max_corners = int(np.clip(mask.area / 60, 40, 300))
        corners = cv2.goodFeaturesToTrack(
            crop, max_corners, 0.01, 4, mask=mask.bitmap.astype(np.uint8), blockSize=5
        )
        if corners is None or len(corners) < _MIN_POINTS_AFFINE:
            return None
        return corners.reshape(-1, 2) + np.float32([mask.x0, mask.y0])

    @staticmethod
    def _fit(
        from_gray: np.ndarray,
        to_gray: np.ndarray,
        points: np.ndarray | None,
        guess: np.ndarray,
    ) -> np.ndarray | None:
        """The homography taking (N, 2) ``points`` on ``from_gray`` to ``to_gray``, or None.

        ``guess`` is the expected homography; the search starts where it puts the points.
        """
        if points is None:
            return None
        start = points.reshape(-1, 1, 2)
        expected = cv2.perspectiveTransform(start.astype(np.float64), guess).astype(np.float32)
        x0, y0, x1, y1 = _flow_window(np.vstack([points, expected.reshape(-1, 2)]), to_gray.shape)
        offset = np.float32([x0, y0])
        crop_from, crop_to = from_gray[y0:y1, x0:x1], to_gray[y0:y1, x0:x1]
        start = start - offset
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            crop_from,
            crop_to,
            start,
            expected - offset,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            **_LK,
        )
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(
            crop_to, crop_from, moved, start.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **_LK
        )
        moved, back = moved + offset, back + offset
        fb_error = np.linalg.norm(back.reshape(-1, 2) - points, axis=1)
        good = (status.ravel() == 1) & (status_back.ravel() == 1) & (fb_error < _FB_MAX_ERROR_PX)
        src, dst = points[good], moved.reshape(-1, 2)[good]
        if len(src) >= _MIN_POINTS_HOMOGRAPHY:
            homography, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
            if homography is not None and inliers.sum() >= _MIN_POINTS_HOMOGRAPHY * 0.6:
                return homography
        if len(src) >= _MIN_POINTS_AFFINE:
            affine, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC)
            if affine is not None and inliers.sum() >= _MIN_POINTS_AFFINE:
                return np.vstack([affine, [0, 0, 1]])
        return None


def _flow_window(points_xy: np.ndarray, frame_hw: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1, exclusive) around (N, 2) points plus the flow margin, in frame."""
    points_xy = points_xy[np.isfinite(points_xy).all(axis=1)]
    low = np.floor(points_xy.min(axis=0)) - _FLOW_MARGIN_PX
    high = np.ceil(points_xy.max(axis=0)) + _FLOW_MARGIN_PX + 1
    x0, y0 = (int(max(v, 0)) for v in low)
    x1, y1 = int(min(high[0], frame_hw[1])), int(min(high[1], frame_hw[0]))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _working_gray(rgb: np.ndarray, work_hw: tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 RGB frame as grey at the tracking size (H', W')."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if gray.shape[:2] == work_hw:
        return gray
    return cv2.resize(gray, (work_hw[1], work_hw[0]), interpolation=cv2.INTER_CUBIC)


class FlowPropagator:
    """Tracks each object independently with sparse flow and a homography.

    Args:
        config: the pipeline config; its ``track`` section sets the loss thresholds.
    """

    name = "flow"

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config.track

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """See :class:`autoblur.track.base.MaskPropagator` (each call starts afresh).

        Frames whose longest side is below ``track.min_side`` (archive QCIF and CIF) are
        tracked enlarged to it: a mark a few dozen pixels wide then has corners enough to
        follow. The masks come back at the frames' own size.
        """
        if not start_masks or len(frames_rgb) < 2:
            return [{} for _ in frames_rgb[1:]]
        frame_hw = frames_rgb[0].shape[:2]
        scale = max(1.0, self.config.min_side / max(frame_hw))
        work_hw = (round(frame_hw[0] * scale), round(frame_hw[1] * scale))
        to_work, to_frame = np.diag([scale, scale, 1.0]), np.diag([1 / scale, 1 / scale, 1.0])
        prev_gray = _working_gray(frames_rgb[0], work_hw)
        live = {}
        for obj, mask in start_masks.items():
            work_mask = mask if scale == 1.0 else mask.warp(to_work, work_hw)
            if work_mask is not None:
                live[obj] = _ObjectTrack(prev_gray, work_mask, self.config)
        results: list[dict[int, RegionMask]] = []
        for rgb in frames_rgb[1:]:
            gray = _working_gray(rgb, work_hw)
            masks = {}
            for obj, track in list(live.items()):
                mask = track.step(prev_gray, gray)
                if mask is not None and scale != 1.0:
                    mask = mask.warp(to_frame, frame_hw)
                if mask is None:
                    del live[obj]
                else:
                    masks[obj] = mask
            results.append(masks)
            prev_gray = gray
        return results

    def reset(self) -> None:
        """Nothing is kept between calls."""


@PROPAGATORS.register("flow")
def build_flow(config: PipelineConfig) -> FlowPropagator:
    """The classical tracker: needs no weights, runs on any CPU."""
    return FlowPropagator(config)
