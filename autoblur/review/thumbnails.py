"""The JPEG thumbnail of a track's first detection, its box drawn, for the report and review."""

from __future__ import annotations

import cv2
import numpy as np


def thumbnail_jpeg(rgb: np.ndarray, xyxy: list[float], max_side: int = 320) -> bytes:
    """A small JPEG of an (H, W, 3) uint8 RGB frame with a box drawn around ``xyxy``."""
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = (round(v * scale) for v in xyxy)
    cv2.rectangle(small, (x0, y0), (x1, y1), (255, 40, 40), 2)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    return encoded.tobytes() if ok else b""
