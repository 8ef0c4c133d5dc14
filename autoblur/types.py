"""The data that flows between stages: region masks, detections and brand cues."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Action = Literal["inpaint", "blur", "pixelate", "fill", "keep"]
ACTIONS: tuple[str, ...] = ("inpaint", "blur", "pixelate", "fill", "keep")


@dataclass(frozen=True)
class RegionMask:
    """A binary mask stored cropped to its bounding box.

    A dense mask per frame would cost ``H*W`` bytes for every object and frame; a cropped
    one costs only its box.

    Attributes:
        x0: column of the crop's top-left pixel in the frame.
        y0: row of the crop's top-left pixel in the frame.
        bitmap: (h, w) bool array, True inside the mask.
        frame_hw: (height, width) of the frame the mask lives in.
    """

    x0: int
    y0: int
    bitmap: np.ndarray
    frame_hw: tuple[int, int]

    @classmethod
    def from_dense(cls, mask: np.ndarray) -> RegionMask | None:
        """Crop a dense (H, W) mask (bool or uint8, non-zero inside); None when empty."""
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            return None
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        return cls(x0, y0, mask[y0:y1, x0:x1].astype(bool), (mask.shape[0], mask.shape[1]))

    @classmethod
    def from_polygon(cls, polygon_xy: np.ndarray, frame_hw: tuple[int, int]) -> RegionMask | None:
        """Rasterise a polygon given as (K, 2) float x, y frame coordinates; None if off-frame."""
        poly = np.asarray(polygon_xy, dtype=np.float64)
        h, w = frame_hw
        x0, y0 = (int(v) for v in np.floor(poly.min(axis=0)))
        x1, y1 = (int(v) + 1 for v in np.ceil(poly.max(axis=0)))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            return None
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts = np.round((poly - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
        return cls.from_crop(x0, y0, canvas, frame_hw)

    @classmethod
    def from_crop(
        cls, x0: int, y0: int, bitmap: np.ndarray, frame_hw: tuple[int, int]
    ) -> RegionMask | None:
        """A mask from a crop whose top-left pixel is (x0, y0), trimmed to its content."""
        pixels = np.ascontiguousarray(bitmap, dtype=bool).view(np.uint8)
        bx0, by0, w, h = cv2.boundingRect(pixels)  # of the non-zero pixels
        if w == 0:
            return None
        box = bitmap[by0 : by0 + h, bx0 : bx0 + w].astype(bool)
        return cls(x0 + bx0, y0 + by0, box, frame_hw)

    @property
    def xyxy(self) -> np.ndarray:
        """Bounding box as float32 [x0, y0, x1, y1] in frame pixels (x1, y1 exclusive)."""
        h, w = self.bitmap.shape
        return np.array([self.x0, self.y0, self.x0 + w, self.y0 + h], np.float32)

    @property
    def area(self) -> int:
        """Number of pixels inside the mask."""
        return int(self.bitmap.sum())

    def to_dense(self) -> np.ndarray:
        """The (H, W) bool mask of the whole frame."""
        dense = np.zeros(self.frame_hw, bool)
        self.paste_into(dense)
        return dense

    def paste_into(self, dense: np.ndarray) -> None:
        """OR this mask into a dense (H, W) bool array in place."""
        h, w = self.bitmap.shape
        dense[self.y0 : self.y0 + h, self.x0 : self.x0 + w] |= self.bitmap

    def crop(self, xyxy: tuple[int, int, int, int]) -> np.ndarray:
        """The bool mask inside box ``xyxy`` (x1, y1 exclusive), without making a dense frame."""
        x0, y0, x1, y1 = xyxy
        out = np.zeros((y1 - y0, x1 - x0), bool)
        h, w = self.bitmap.shape
        ax0, ay0 = max(self.x0, x0), max(self.y0, y0)
        ax1, ay1 = min(self.x0 + w, x1), min(self.y0 + h, y1)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = self.bitmap[
                ay0 - self.y0 : ay1 - self.y0, ax0 - self.x0 : ax1 - self.x0
            ]
        return out

    def warp(
        self, homography: np.ndarray, frame_hw: tuple[int, int] | None = None
    ) -> RegionMask | None:
        """Map the mask through a 3x3 homography; None if nothing of it lands in the frame.

        Args:
            homography: maps this mask's frame coordinates (x, y) to the target frame's.
            frame_hw: the target frame's (height, width); by default this mask's frame.
        """
        h, w = self.bitmap.shape
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) + (self.x0, self.y0)
        warped = cv2.perspectiveTransform(corners[None], homography)[0]
        frame_hw = frame_hw or self.frame_hw
        fh, fw = frame_hw
        if not np.all(np.isfinite(warped)):
            return None
        x0, y0 = (int(v) for v in np.floor(warped.min(axis=0)))
        x1, y1 = (int(v) + 1 for v in np.ceil(warped.max(axis=0)))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
        if x1 <= x0 or y1 <= y0:
            return None
        shift_in = np.array([[1, 0, self.x0], [0, 1, self.y0], [0, 0, 1]], np.float64)
        shift_out = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        local = shift_out @ homography @ shift_in
        out = cv2.warpPerspective(
            self.bitmap.astype(np.uint8), local, (x1 - x0, y1 - y0), flags=cv2.INTER_NEAREST
        )
        return self.from_crop(x0, y0, out, frame_hw)

    def dilate(self, radius_px: int) -> RegionMask:
        """Grow the mask by ``radius_px`` pixels (an elliptic kernel), clipped to the frame."""
        if radius_px <= 0:
            return self
        fh, fw = self.frame_hw
        h, w = self.bitmap.shape
        x0, y0 = max(self.x0 - radius_px, 0), max(self.y0 - radius_px, 0)
        x1, y1 = min(self.x0 + w + radius_px, fw), min(self.y0 + h + radius_px, fh)
        canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
        canvas[self.y0 - y0 : self.y0 - y0 + h, self.x0 - x0 : self.x0 - x0 + w] = self.bitmap
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1,) * 2)
        return RegionMask(x0, y0, cv2.dilate(canvas, kernel).astype(bool), self.frame_hw)


def box_iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """IoU between every box of (N, 4) ``a_xyxy`` and every box of (M, 4) ``b_xyxy``: (N, M)."""
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)[None]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


@dataclass
class Detections:
    """What every detector returns and every later stage takes.

    Attributes:
        xyxy: (N, 4) float32 boxes in original-frame pixels.
        confidence: (N,) float32 scores in [0, 1].
        brand: (N,) brand names.
        source: (N,) detector names (``logo``, ``text``, ``grounding_dino``).
        cue: (N,) what found it: a reference image path, a word or a prompt.
        masks: N region masks, or None where a detector gave only a box.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    brand: list[str]
    source: list[str]
    cue: list[str]
    masks: list[RegionMask | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, np.float32).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, np.float32).reshape(-1)
        n = len(self.xyxy)
        if not self.masks:
            self.masks = [None] * n
        for name in ("confidence", "brand", "source", "cue", "masks"):
            got = len(getattr(self, name))
            if got != n:
                raise ValueError(f"Detections.{name}: expected {n} entries, got {got}")

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), [], [], [], [])

    @classmethod
    def concat(cls, parts: Sequence[Detections]) -> Detections:
        """Join the detections of several detectors into one."""
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            [b for p in parts for b in p.brand],
            [s for p in parts for s in p.source],
            [c for p in parts for c in p.cue],
            [m for p in parts for m in p.masks],
        )

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, keep: Sequence[int] | np.ndarray) -> Detections:
        """The detections at the given indices, in that order."""
        idx = list(np.asarray(keep, int).reshape(-1))
        return Detections(
            self.xyxy[idx],
            self.confidence[idx],
            [self.brand[i] for i in idx],
            [self.source[i] for i in idx],
            [self.cue[i] for i in idx],
            [self.masks[i] for i in idx],
        )

    def shifted(self, dx: int, dy: int, frame_hw: tuple[int, int]) -> Detections:
        """These detections, found on a crop whose top-left pixel is (dx, dy), in a frame.

        Args:
            dx: the crop's left column in the frame.
            dy: the crop's top row in the frame.
            frame_hw: the frame's (height, width).
        """
        return Detections(
            self.xyxy + np.array([dx, dy, dx, dy], np.float32),
            self.confidence,
            list(self.brand),
            list(self.source),
            list(self.cue),
            [
                None if m is None else RegionMask(m.x0 + dx, m.y0 + dy, m.bitmap, frame_hw)
                for m in self.masks
            ],
        )

    def mask_or_box(self, i: int, frame_hw: tuple[int, int]) -> RegionMask | None:
        """The mask of detection ``i``, or its box rasterised when it has none."""
        if self.masks[i] is not None:
            return self.masks[i]
        h, w = frame_hw
        x0, y0 = (max(0, int(np.floor(v))) for v in self.xyxy[i, :2])
        x1, y1 = min(w, int(np.ceil(self.xyxy[i, 2]))), min(h, int(np.ceil(self.xyxy[i, 3])))
        if x1 <= x0 or y1 <= y0:
            return None
        return RegionMask(x0, y0, np.ones((y1 - y0, x1 - x0), bool), frame_hw)


@dataclass(frozen=True)
class BrandCue:
    """Everything known about one brand to remove.

    Attributes:
        name: the brand's name, as reports show it.
        action: what to do with its pixels.
        logos: reference logo images.
        text: wordmarks to read in the picture.
        prompts: open-vocabulary text prompts.
    """

    name: str
    action: str
    logos: tuple[Path, ...] = ()
    text: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()


def union_mask(masks: Sequence[RegionMask]) -> RegionMask | None:
    """The union of region masks of one frame; None when there are none."""
    if not masks:
        return None
    boxes = np.stack([m.xyxy for m in masks]).astype(int)
    x0, y0 = boxes[:, :2].min(axis=0)
    x1, y1 = boxes[:, 2:].max(axis=0)
    canvas = np.zeros((y1 - y0, x1 - x0), bool)
    for m in masks:
        h, w = m.bitmap.shape
        canvas[m.y0 - y0 : m.y0 - y0 + h, m.x0 - x0 : m.x0 - x0 + w] |= m.bitmap
    return RegionMask(int(x0), int(y0), canvas, masks[0].frame_hw)
