"""Refine tracked masks from the picture, so that every pixel of the mark is covered.

A tracked mask is the keyframe's mask moved by the tracker: a part of the logo that was cut
by the frame edge on that keyframe stays missing when the logo moves in, and a fit that is a
few pixels off leaves a rim. The refiner learns each track's own colours (those common inside
its mask and rare just around it) and lets the pixels next to the mask that have those
colours join it; the margin grows with the track's speed (motion blur, tracking lag); and the
share of the mask that still shows the learnt colours is a cheap per-frame check of the
tracked position: where it drops, the frame is flagged for the verification pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from autoblur.errors import ConfigError
from autoblur.track.manager import Track
from autoblur.types import RegionMask
from detectors.reference import read_logo, silhouette_of

_LEVELS = 16  # colour levels per channel of the histograms
_SHIFT = 4  # 256 / _LEVELS == 2 ** _SHIFT (and _bins packs the levels as 4-bit fields)
_RING_SHARE = 0.15  # ring around the mask that shows the background, x the mask's size
_MIN_RING_PX = 6
_MIN_SHARE = 0.002  # a colour must be at least this common in the mask to be the mark's
_MIN_REFERENCE_SHARE = 0.01  # ...or this common in the reference image
_CONTRAST = 3.0  # ...and this many times more common inside than around it
_GROW_SHARE = 0.4  # pixels join within this x the mask's larger side
_MIN_GROW_PX = 8
_MAX_GROWTH = 1.8  # a mask grown beyond this x its area grows by _MIN_GROW_PX at most
_SPEED_MARGIN = 1.0  # extra margin per pixel per frame of motion
_DRIFT_RATIO = 0.6  # agreement below this x the learnt one flags the frame
_REFERENCE_PIXELS = 20000


@dataclass
class _Palette:
    """The colours of one track's mark.

    Attributes:
        mark: (_LEVELS,) * 3 bool, colour bins of the mark.
        agreement: share of the mask's pixels in ``mark`` where it was learnt.
    """

    mark: np.ndarray
    agreement: float


def _bins(rgb: np.ndarray) -> np.ndarray:
    """Flat colour-bin index of each pixel of an (..., 3) uint8 RGB array."""
    q = rgb >> _SHIFT  # 16-bit arithmetic: _LEVELS ** 3 bins fit, at half the memory traffic
    return (q[..., 0].astype(np.uint16) << 8) | (q[..., 1].astype(np.uint16) << 4) | q[..., 2]


def _box(mask: RegionMask, pad: int) -> tuple[int, int, int, int]:
    fh, fw = mask.frame_hw
    x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
    return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, fw), min(y1 + pad, fh)


def _grow(bitmap: np.ndarray, radius: int) -> np.ndarray:
    """The pixels within ``radius`` of an (h, w) bool bitmap.

    A distance transform: a wide dilation kernel would cost radius squared per pixel.
    """
    distance = cv2.distanceTransform((~bitmap).astype(np.uint8), cv2.DIST_L2, 3)
    return distance <= radius


def learn_palette(
    rgb: np.ndarray, mask: RegionMask, reference: np.ndarray | None = None
) -> _Palette | None:
    """The colours common inside ``mask`` and rare in a ring around it; None if none are.

    Args:
        rgb: (H, W, 3) uint8 RGB frame the mask is right on.
        mask: the mark's pixels on it.
        reference: (N, 3) uint8 RGB pixels of the whole mark (its reference image), which
            also name the colours of parts that the frame does not show; None without one.
    """
    side = int(max(mask.xyxy[2:] - mask.xyxy[:2]))
    ring_px = max(_MIN_RING_PX, round(_RING_SHARE * side))
    box = _box(mask, ring_px + 2)
    x0, y0, x1, y1 = box
    inside = mask.crop(box)
    ring = _grow(inside, ring_px) & ~_grow(inside, 2)
    bins = _bins(rgb[y0:y1, x0:x1])
    size = _LEVELS**3
    hist_out = np.bincount(bins[ring], minlength=size) / max(int(ring.sum()), 1)
    if reference is not None and len(reference):
        # The reference's own colours: the frame's edge pixels mix the mark with its ground.
        hist_in = np.bincount(_bins(reference), minlength=size) / len(reference)
        mark = (hist_in >= _MIN_REFERENCE_SHARE) & (hist_in > hist_out)
    else:
        core = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        core = core if core.sum() >= 16 else inside
        hist_in = np.bincount(bins[core], minlength=size) / max(int(core.sum()), 1)
        mark = (hist_in >= _MIN_SHARE) & (hist_in > _CONTRAST * hist_out)
    if not mark.any():
        return None
    cube = mark.reshape((_LEVELS,) * 3)
    # Neighbouring levels too (codec noise moves colours across a level), without wrapping
    # round from the darkest level to the brightest.
    padded = np.pad(cube, 1)
    grown = cube.copy()
    for axis in range(3):
        for step in (-1, 1):
            grown |= np.roll(padded, step, axis)[1:-1, 1:-1, 1:-1]
    grown &= ~(hist_out > hist_in).reshape((_LEVELS,) * 3) | cube  # ...not onto the ground's
    return _Palette(grown.reshape(-1), float(grown.reshape(-1)[bins[inside]].mean()))


@lru_cache(maxsize=32)
def reference_pixels(path: Path) -> np.ndarray | None:
    """(N, 3) uint8 RGB pixels of a reference logo's silhouette; None if it cannot be read."""
    try:
        rgb, alpha = read_logo(path)
    except ConfigError:
        return None
    pixels = rgb[silhouette_of(rgb, alpha)]
    return pixels[:: max(1, len(pixels) // _REFERENCE_PIXELS)]


class MaskRefiner:
    """Per-track refinement of the masks of a stream of frames, in frame order.

    Args:
        margin_px: the configured margin; the refined mask is grown by it plus the speed term.
    """

    def __init__(self, margin_px: int) -> None:
        self.margin_px = margin_px
        self._palettes: dict[int, _Palette | None] = {}
        self._centres: dict[int, tuple[int, np.ndarray]] = {}
        self.low_confidence: dict[int, set[int]] = {}  # track id -> frames flagged

    def refine_track(
        self, rgb: np.ndarray, frame_idx: int, track: Track, mask: RegionMask
    ) -> RegionMask:
        """:meth:`refine` for a track of the manager: fresh where it was detected on this frame.

        A track found by the logo detector also learns from its reference image.
        """
        fresh = any(record["frame"] == frame_idx for record in track.keyframes)
        reference = reference_pixels(Path(track.cue)) if track.source == "logo" else None
        return self.refine(rgb, frame_idx, track.track_id, mask, fresh, reference)

    def refine(
        self,
        rgb: np.ndarray,
        frame_idx: int,
        track_id: int,
        mask: RegionMask,
        fresh: bool,
        reference: np.ndarray | None = None,
    ) -> RegionMask:
        """The track's mask on this frame, completed from the picture and grown by the margin.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
            frame_idx: its index (frames must come in order).
            track_id: the track the mask belongs to.
            mask: the tracked (or detected) mask on this frame.
            fresh: the mask comes from a detection on this frame: learn the colours anew.
            reference: (N, 3) uint8 RGB pixels of the track's reference image, if it has one.
        """
        if fresh or track_id not in self._palettes:
            self._palettes[track_id] = learn_palette(rgb, mask, reference)
        palette = self._palettes[track_id]
        speed = self._speed(track_id, frame_idx, mask)
        if palette is not None:
            mask = self._complete(rgb, mask, palette, frame_idx, track_id, fresh)
        return mask.dilate(self.margin_px + round(_SPEED_MARGIN * speed))

    def _speed(self, track_id: int, frame_idx: int, mask: RegionMask) -> float:
        """Pixels per frame the mask's box centre moved since the track's last frame."""
        centre = (mask.xyxy[:2] + mask.xyxy[2:]) / 2
        last = self._centres.get(track_id)
        self._centres[track_id] = (frame_idx, centre)
        if last is None or frame_idx <= last[0]:
            return 0.0
        return float(np.linalg.norm(centre - last[1]) / (frame_idx - last[0]))

    def _complete(
        self,
        rgb: np.ndarray,
        mask: RegionMask,
        palette: _Palette,
        frame_idx: int,
        track_id: int,
        fresh: bool,
    ) -> RegionMask:
        """Join the mark-coloured pixels connected to ``mask`` within the growth radius."""
        side = int(max(mask.xyxy[2:] - mask.xyxy[:2]))
        radius = max(_MIN_GROW_PX, round(_GROW_SHARE * side))
        box = _box(mask, radius)
        x0, y0, x1, y1 = box
        inside = mask.crop(box)
        coloured = palette.mark[_bins(rgb[y0:y1, x0:x1])]
        if not fresh and coloured[inside].mean() < _DRIFT_RATIO * palette.agreement:
            self.low_confidence.setdefault(track_id, set()).add(frame_idx)
        reach = _grow(inside, radius)
        candidates = (coloured & reach) | inside
        count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
        touching = np.zeros(count, bool)
        touching[labels[inside]] = True
        joined = touching[labels]
        if joined.sum() > _MAX_GROWTH * inside.sum():
            # The mark's colours run on into the picture: growing there would cover it.
            joined = inside | (joined & _grow(inside, _MIN_GROW_PX))
        # Close small gaps between joined pieces (anti-aliased edges, thin strokes).
        joined = cv2.morphologyEx(
            joined.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)
        ).astype(bool)
        return RegionMask.from_crop(x0, y0, joined, mask.frame_hw) or mask
