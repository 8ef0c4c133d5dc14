"""Before/after crops of each occurrence, taken while a render runs, for the review sheet."""

from __future__ import annotations

import cv2
import numpy as np

from autoblur.io.reader import VideoFrame
from autoblur.remove import MaskedFrame
from autoblur.track.manager import FrameMasks
from autoblur.types import union_mask

_MAX_SIDE = 240  # longest side of a crop's JPEG


def _jpeg(rgb: np.ndarray) -> bytes:
    scale = min(1.0, _MAX_SIDE / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    return encoded.tobytes() if ok else b""


class BeforeAfter:
    """Crops each occurrence's region at the middle of its span, before and after removal.

    Args:
        occurrences: the scan report's ``occurrences`` entries (``id``, ``track_ids``,
            ``start_frame``, ``end_frame``).
        context: picture kept around the region, as a share of its size.
    """

    def __init__(self, occurrences: list[dict], context: float = 0.5) -> None:
        self.context = context
        self._tracks = {o["id"]: set(o["track_ids"]) for o in occurrences}
        self._pending = {o["id"]: (o["start_frame"] + o["end_frame"]) // 2 for o in occurrences}
        self._boxes: dict[int, list[tuple[str, tuple[int, int, int, int]]]] = {}
        self.before: dict[str, bytes] = {}
        self.after: dict[str, bytes] = {}

    def take_before(self, frame: VideoFrame, track_masks: FrameMasks) -> None:
        """Crop the occurrences due on ``frame`` (untouched pixels, frames in order)."""
        for occ_id, target in list(self._pending.items()):
            parts = [m for tid, m in track_masks.items() if tid in self._tracks[occ_id]]
            if frame.index < target or not parts:
                continue
            x0, y0, x1, y1 = (int(v) for v in union_mask(parts).xyxy)
            pad_x, pad_y = round((x1 - x0) * self.context), round((y1 - y0) * self.context)
            height, width = frame.rgb.shape[:2]
            box = (
                max(x0 - pad_x, 0),
                max(y0 - pad_y, 0),
                min(x1 + pad_x, width),
                min(y1 + pad_y, height),
            )
            self.before[occ_id] = _jpeg(frame.rgb[box[1] : box[3], box[0] : box[2]])
            self._boxes.setdefault(frame.index, []).append((occ_id, box))
            del self._pending[occ_id]

    def take_after(self, item: MaskedFrame) -> None:
        """Crop the same boxes from the frame once the removers are done with it."""
        for occ_id, (x0, y0, x1, y1) in self._boxes.pop(item.frame.index, []):
            self.after[occ_id] = _jpeg(item.frame.rgb[y0:y1, x0:x1])
