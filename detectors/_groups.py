"""A mark's colour as one shape: the convex hull of all its pixels of that colour.

The flat matcher's hypotheses pair up the mark's coloured parts. A mark drawn in one colour
as many small pieces (a ring of dots, a broken circle round a keyhole, a row of letters) has
no large part, and at 40-60 px its pieces blur into each other or break apart, so no pair of
frame regions agrees with a pair of reference parts. The hull of every piece of one colour
does not care: its area, centroid and principal axis barely change when thin strokes thin,
merge or break. In the frame, pieces are grouped by closing the colour's mask at a few
sizes; each group's hull stands for one possible copy of the mark.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SHARE = 0.3  # a colour with at least this share of the silhouette's pixels has a group
_CLOSE_PX = (3, 7, 15)  # closing diameters that group a colour's pieces in the frame
_MIN_SIDE_PX = 12  # frame groups: the longest side of their box at least
_PER_SIZE = 24  # frame groups kept per closing size, the largest first
_SQUARE_FILL = 0.88  # a square's (or rectangle's) hull fills its smallest rectangle (a disc 0.79)


def square_angle(points_xy: np.ndarray) -> float:
    """The turn (radians, 0 to pi/2) of the smallest rectangle round (N, 1, 2) points.

    A square part's principal axis says nothing of its turn; its bounding rectangle's does,
    up to quarter turns. NaN unless the points' hull fills ``_SQUARE_FILL`` of that rectangle
    (a disc's rectangle turns at random).
    """
    (_, _), (w, h), angle = cv2.minAreaRect(points_xy)
    if cv2.contourArea(cv2.convexHull(points_xy)) < _SQUARE_FILL * w * h:
        return float("nan")
    return float(np.radians(angle) % (np.pi / 2))


def hull_shape(
    points_xy: np.ndarray,
) -> tuple[float, float, float, float, float, float] | None:
    """(area, centroid x, y, axis angle, elongation, square angle) of the hull of (N, 1, 2) points.

    The angle (radians) and elongation (0 for a disc or a square, towards 1 for a line) come
    from the hull's second-order central moments, as ``detectors.flat._components`` gives
    them for a part's outline, and the square angle from :func:`square_angle`. None for fewer
    than three points or a flat hull.
    """
    if points_xy is None or len(points_xy) < 3:
        return None
    hull = cv2.convexHull(points_xy)
    moments = cv2.moments(hull)
    if moments["m00"] <= 0:
        return None
    mu20, mu02, mu11 = moments["mu20"], moments["mu02"], moments["mu11"]
    elongation = np.hypot(mu20 - mu02, 2 * mu11) / max(mu20 + mu02, 1e-9)
    return (
        moments["m00"],
        moments["m10"] / moments["m00"],
        moments["m01"] / moments["m00"],
        0.5 * np.arctan2(2 * mu11, mu20 - mu02),
        elongation,
        square_angle(hull),
    )


def reference_groups(labels: np.ndarray) -> np.ndarray:
    """The hull shape of each large colour of a (h, w) int16 label map (-1 outside).

    Returns:
        (G, 7) float64 colour, hull area, centroid x, y, axis angle, elongation, square angle
        of each colour
        that covers at least ``MIN_SHARE`` of the map's labelled pixels.
    """
    total = max(int((labels >= 0).sum()), 1)
    groups = []
    for colour in range(int(labels.max()) + 1):
        own = (labels == colour).astype(np.uint8)
        if own.sum() < MIN_SHARE * total:
            continue
        shape = hull_shape(cv2.findNonZero(own))
        if shape is not None:
            groups.append((colour, *shape))
    return np.array(groups, np.float64).reshape(-1, 7)


def frame_groups(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hull areas (N,), centroids (N, 2) and shapes (N, 3) of the groups of a colour's pieces.

    Args:
        mask: (H, W) uint8 frame mask of one colour (255 where a pixel shows it).

    Returns:
        As ``detectors.flat._components`` returns regions: the hull of each group's own
        pixels (not of the closing's), at every closing size, repeats dropped. A group that
        the frame's edge cuts is left out: its hull is a part's, and would put a smaller mark
        inside the one leaving the frame (the pairs of parts find that one).
    """
    areas, centres, shapes = [], [], []
    seen: set[tuple[int, int, int, int]] = set()
    for size in _CLOSE_PX:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        height, width = mask.shape
        x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
        cut = (x0 == 0) | (y0 == 0) | (x1 == width) | (y1 == height)
        large = [
            i
            for i in range(1, count)
            if max(stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]) >= _MIN_SIDE_PX
            and not cut[i]
        ]
        large.sort(key=lambda i: -stats[i, cv2.CC_STAT_AREA])
        for i in large[:_PER_SIZE]:
            x, y, w, h = (int(v) for v in stats[i, :4])
            key = (x // 3, y // 3, w // 3, h // 3)
            if key in seen:
                continue
            seen.add(key)
            own = ((labels[y : y + h, x : x + w] == i) & (mask[y : y + h, x : x + w] > 0)).astype(
                np.uint8
            )
            shape = hull_shape(cv2.findNonZero(own))
            if shape is None:
                continue
            area, cx, cy, *rest = shape
            areas.append(area)
            centres.append((cx + x, cy + y))
            shapes.append(rest)
    return (
        np.array(areas, np.float64),
        np.array(centres, np.float64).reshape(-1, 2),
        np.array(shapes, np.float64).reshape(-1, 3),
    )
