"""Each track's worst frame: where the remover was least sure of its fill.

The removers put a confidence on each region they fill (``MaskedFrame.fill_confidence``).
This keeps, per track, the frame where that confidence was lowest, and, for the HTML report,
a before/after picture of the track there, so that a person can look at the weakest result of
every track without opening an editor. The verification pass checks these frames too.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np

from autoblur.remove.base import MaskedFrame
from autoblur.types import RegionMask

_PAD_SHARE = 0.25  # picture around the track's box in the before/after crop
_CROP_HEIGHT = 200
_UNJUDGED = 1.0  # confidence of a frame whose remover does not judge its fill (blur, ...)


@dataclass
class _Pending:
    """A frame on its way through the removers: each track's action, box and pixels before."""

    actions: dict[int, str]
    boxes: dict[int, tuple[int, int, int, int]]
    before: dict[int, np.ndarray]


@dataclass
class Worst:
    """A track's worst frame so far.

    Attributes:
        frame_idx: the frame's index.
        time_s: its presentation time.
        confidence: the fill confidence of the track's region there.
        jpeg: before | after side by side, JPEG bytes (empty unless pictures are kept).
        box: the pictures' (x0, y0, x1, y1) box in the frame.
        before: (h, w, 3) uint8 RGB crop of the box before removal (None unless kept).
    """

    frame_idx: int
    time_s: float
    confidence: float
    jpeg: bytes = b""
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    before: np.ndarray | None = None


def _picture(worst: Worst, item: MaskedFrame) -> bytes:
    """The before | after JPEG of a worst frame, the after from ``item``'s finished pixels."""
    x0, y0, x1, y1 = worst.box
    return before_after_jpeg(worst.before, item.frame.rgb[y0:y1, x0:x1])


def _box(mask: RegionMask) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
    pad = round(_PAD_SHARE * max(x1 - x0, y1 - y0))
    fh, fw = mask.frame_hw
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, fw), min(y1 + pad, fh)


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def before_after_jpeg(before: np.ndarray, after: np.ndarray) -> bytes:
    """Two (h, w, 3) uint8 RGB crops side by side as a JPEG, ``_CROP_HEIGHT`` pixels tall."""
    scale = _CROP_HEIGHT / before.shape[0]
    pair = [
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        for image in (before, after)
    ]
    gap = np.full((pair[0].shape[0], 4, 3), 255, np.uint8)
    joined = np.hstack([pair[0], gap, pair[1]])
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(joined, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    return encoded.tobytes() if ok else b""


class WorstFrames:
    """Follows the fill confidence of every track through a run.

    Args:
        pictures: keep a before/after JPEG of each track's worst frame.
    """

    def __init__(self, pictures: bool) -> None:
        self.pictures = pictures
        self.worst: dict[int, Worst] = {}
        self._pending: dict[int, _Pending] = {}

    def before(
        self, frame_idx: int, rgb: np.ndarray, masks: dict[int, tuple[str, RegionMask]]
    ) -> None:
        """Note the tracks' boxes (and pixels) on a frame before it goes to the removers.

        Args:
            frame_idx: the frame's index.
            rgb: (H, W, 3) uint8 RGB frame, not yet edited.
            masks: track id to its action and mask on the frame (tracks that are removed).
        """
        actions = {track_id: action for track_id, (action, _) in masks.items()}
        boxes = {track_id: _box(mask) for track_id, (_, mask) in masks.items()}
        before = {}
        if self.pictures:
            before = {t: rgb[y0:y1, x0:x1].copy() for t, (x0, y0, x1, y1) in boxes.items()}
        self._pending[frame_idx] = _Pending(actions, boxes, before)

    def after(self, item: MaskedFrame) -> None:
        """Score a frame that the removers have finished with."""
        pending = self._pending.pop(item.frame.index, None)
        if pending is None:
            return
        for track_id, box in pending.boxes.items():
            action = pending.actions[track_id]
            scores = [
                c
                for by, region, c in item.fill_confidence
                if by == action and _overlaps(region, box)
            ]
            confidence = min(scores, default=_UNJUDGED)
            known = self.worst.get(track_id)
            if known is not None and known.confidence <= confidence:
                continue
            worst = Worst(item.frame.index, item.frame.time_s, confidence, box=box)
            if self.pictures:
                worst.before = pending.before[track_id]
                worst.jpeg = _picture(worst, item)
            self.worst[track_id] = worst

    def refresh(self, item: MaskedFrame) -> None:
        """Take a worst frame's picture again from a frame that a repair wrote again."""
        for worst in self.worst.values():
            if worst.frame_idx == item.frame.index and worst.before is not None:
                worst.jpeg = _picture(worst, item)

    def report_entries(self) -> dict[int, dict]:
        """Per track id, what the report adds to its entry."""
        return {
            track_id: {
                "worst_frame": {
                    "frame": worst.frame_idx,
                    "time_s": round(worst.time_s, 6),
                    "fill_confidence": round(worst.confidence, 3),
                },
                **(
                    {"before_after_jpeg_base64": base64.b64encode(worst.jpeg).decode("ascii")}
                    if worst.jpeg
                    else {}
                ),
            }
            for track_id, worst in self.worst.items()
        }
