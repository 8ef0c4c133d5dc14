"""How much a clip's revealed background can give: fills made by an oracle that knows the truth.

The inpainting target (+4 dB in-mask PSNR over a spatial inpaint) is for clips where the
background behind the logo is revealed. This module measures that for a composited clip: it
fills each hidden pixel from the clean frames of the window that show it (the logo does not
cover it there), aligned by the camera motion fitted on the whole clean frames, so neither the
logo nor a motion estimate disturbed by it spoils the fill. No remover can do better by
bringing the background in from other frames than these fills do by much; where they are not
4 dB above the spatial inpaint, what hides behind the logo is not background that other frames
reveal (people walking behind it, objects moving with it).
"""

from __future__ import annotations

import cv2
import numpy as np

from autoblur.types import RegionMask

_SHOWN_MARGIN_PX = 3  # a frame shows a pixel when its logo, grown by this, does not cover it
_MIN_INLIERS = 40


def clean_motions(clean: list[np.ndarray]) -> list[np.ndarray | None]:
    """Homography from each clean frame to the next (None where it cannot be fitted: a cut).

    Args:
        clean: the clean (logo-free) RGB frames.
    """
    motions: list[np.ndarray | None] = []
    grays = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in clean]
    for earlier, later in zip(grays, grays[1:], strict=False):
        points = cv2.goodFeaturesToTrack(earlier, 2000, 0.005, 5)
        homography = None
        if points is not None:
            moved, status, _ = cv2.calcOpticalFlowPyrLK(earlier, later, points, None)
            tracked = status.ravel() == 1
            if tracked.sum() >= _MIN_INLIERS:
                fit, inliers = cv2.findHomography(points[tracked], moved[tracked], cv2.RANSAC, 1.0)
                if fit is not None and inliers.sum() >= _MIN_INLIERS:
                    homography = fit
        motions.append(homography)
    return motions


def _onto(
    motions: list[np.ndarray | None], index: int, window: int
) -> list[tuple[int, np.ndarray]]:
    """Frames of the window nearest first, each with its homography onto frame ``index``."""
    found: list[tuple[int, np.ndarray]] = []
    back, ahead = np.eye(3), np.eye(3)
    back_open = ahead_open = True
    for distance in range(1, window + 1):
        earlier, later = index - distance, index + distance
        back_open = back_open and earlier >= 0 and motions[earlier] is not None
        if back_open:
            back = back @ motions[earlier]
            found.append((earlier, back))
        ahead_open = ahead_open and later <= len(motions) and motions[later - 1] is not None
        if ahead_open:
            ahead = ahead @ np.linalg.inv(motions[later - 1])
            found.append((later, ahead))
    return found


def revealed_fills(
    clean: list[np.ndarray],
    masks: list[RegionMask | None],
    fallback: list[np.ndarray],
    window: int = 30,
) -> dict[str, list[np.ndarray]]:
    """The oracle's two fills of every frame: ``nearest`` and ``median``.

    Each hidden pixel takes the clean frame nearest in time that shows it (``nearest``) or the
    median of all frames of the window that show it (``median``); pixels that no frame shows
    keep ``fallback``'s value (the spatial inpaint), since nothing reveals them.

    Args:
        clean: the clean frames.
        masks: per frame, the logo's true region (None where it is off screen).
        fallback: per frame, a spatial inpaint of the hidden pixels.
        window: frames looked at on each side.
    """
    motions = clean_motions(clean)
    shown_masks = [None if m is None else m.dilate(_SHOWN_MARGIN_PX) for m in masks]
    fills: dict[str, list[np.ndarray]] = {"nearest": [], "median": []}
    for index, region in enumerate(masks):
        if region is None:
            fills["nearest"].append(fallback[index])
            fills["median"].append(fallback[index])
            continue
        box = tuple(int(v) for v in region.xyxy)
        hidden = region.crop(box)
        views = _views(clean, shown_masks, motions, index, box, hidden, window)
        seen = ~np.isnan(views[..., 0])
        revealed = seen.any(axis=0)
        nearest = views[seen.argmax(axis=0), np.arange(views.shape[1])][revealed]
        median = np.nanmedian(views[:, revealed], axis=0)
        filled = hidden.copy()
        filled[hidden] = revealed
        x0, y0, x1, y1 = box
        for name, values in (("nearest", nearest), ("median", median)):
            frame = fallback[index].copy()
            frame[y0:y1, x0:x1][filled] = np.clip(values + 0.5, 0, 255).astype(np.uint8)
            fills[name].append(frame)
    return fills


def _views(
    clean: list[np.ndarray],
    shown_masks: list[RegionMask | None],
    motions: list[np.ndarray | None],
    index: int,
    box: tuple[int, int, int, int],
    hidden: np.ndarray,
    window: int,
) -> np.ndarray:
    """(K, N, 3) views of the N ``hidden`` pixels of ``box`` from other frames, NaN unseen."""
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    height, width = clean[index].shape[:2]
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    views = []
    for source, homography in _onto(motions, index, window):
        onto_crop = shift @ homography
        warped = cv2.warpPerspective(clean[source], onto_crop, size, flags=cv2.INTER_LINEAR)
        inside = cv2.warpPerspective(
            np.ones((height, width), np.uint8), onto_crop, size, flags=cv2.INTER_NEAREST
        ).astype(bool)
        if shown_masks[source] is not None:
            covered = shown_masks[source].warp(homography)
            if covered is not None:
                inside &= ~covered.crop(box)
        view = warped.astype(np.float32)
        view[~inside] = np.nan
        views.append(view[hidden])
    return np.stack(views) if views else np.full((1, hidden.sum(), 3), np.nan, np.float32)
