"""Reading a reference logo and judging where it lands: shared by every reference detector.

The SIFT detector (``detectors.logo``), the flat-mark detector (``detectors.flat``), the mask
refiner and the compositor read reference images the same way and take the same silhouette of
them; both detectors judge a projected outline by the same rule.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from autoblur.errors import ConfigError

_BORDER_STD_FOR_FULL_RECT = 24.0


def read_logo(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a logo as (H, W, 3) uint8 RGB plus its (H, W) uint8 alpha, or None without one.

    Raises:
        ConfigError: the file is missing or not an image.
    """
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConfigError(f"{path}: cannot read logo image (missing or not an image file)")
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), None
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB), image[:, :, 3]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None


def silhouette_of(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The logo's own pixels as an (H, W) bool mask.

    The alpha channel where there is one; else the pixels that differ from a uniform border
    colour (holes filled); else, on a busy border, the whole image.
    """
    if alpha is not None:  # half the most opaque pixel's alpha: a translucent bug keeps its shape
        return alpha > max(int(alpha.max()) // 2, 1)
    height, width = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    if border.std(axis=0).max() > _BORDER_STD_FOR_FULL_RECT:
        return np.ones((height, width), bool)
    distance = np.abs(rgb.astype(np.float32) - np.median(border, axis=0)).max(axis=2)
    foreground = (distance > 40).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    foreground = cv2.morphologyEx(foreground, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(foreground, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(foreground)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    share = filled.mean()
    if share < 0.02 or share > 0.97:
        return np.ones((height, width), bool)
    return filled.astype(bool)


_MAX_CORNER_DEG = 150.0


def plausible_quad(quad_xy: np.ndarray, min_side_px: float = 8.0) -> bool:
    """Whether a projected (4, 2) reference outline is a convex, unflipped, not-too-thin quad.

    No corner may open wider than ``_MAX_CORNER_DEG``: a flat rectangle seen so obliquely is
    a near-triangle reaching far past the frame (SIFT's fit to 15 stray matches in foliage
    made a 256 px red mark cover the whole picture), not a mark anyone could read.
    """
    edges = np.roll(quad_xy, -1, axis=0) - quad_xy
    cross = edges[:, 0] * np.roll(edges[:, 1], -1) - edges[:, 1] * np.roll(edges[:, 0], -1)
    if not (np.all(cross > 0) or np.all(cross < 0)):
        return False
    lengths = np.linalg.norm(edges, axis=1)
    if lengths.min() < min_side_px or lengths.min() < 0.15 * lengths.max():
        return False
    # The corner between edge i and edge i+1 opens by 180 degrees less their turn.
    following = np.roll(edges, -1, axis=0)
    turn = np.degrees(np.arccos(np.clip(
        (edges * following).sum(axis=1) / (lengths * np.roll(lengths, -1)), -1.0, 1.0
    )))  # fmt: skip
    if np.any(180.0 - turn > _MAX_CORNER_DEG):
        return False
    # Image coordinates have y down: a reference seen unflipped keeps clockwise corners.
    return bool(np.all(cross > 0))
