"""Removers that work on each frame alone: blur, pixelate, solid fill and spatial inpainting.

They share one frame loop: crop the mask's box with some context, let the remover produce
replacement pixels for the crop, and blend them in with a soft edge that grows outwards from
the mask, so every masked pixel is fully replaced and the seam fades into the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

from autoblur.config import PipelineConfig, RemoveConfig
from autoblur.remove.base import INPAINTERS, REMOVERS, MaskedFrame
from autoblur.types import RegionMask


def feather_alpha(mask: np.ndarray, feather_px: int) -> np.ndarray:
    """Blend weights for an (h, w) bool mask: 1 inside, falling to 0 over ``feather_px`` outside."""
    if feather_px <= 0:
        return mask.astype(np.float32)
    outside = (~mask).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    return np.clip(1.0 - distance / float(feather_px + 1), 0.0, 1.0).astype(np.float32)


def mask_short_side(mask: np.ndarray) -> int:
    """The shorter side of the box around an (h, w) bool mask's pixels (the mask is not empty)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(min(cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1))


class SpatialRemover:
    """Base of the per-frame removers.

    Subclasses set ``action`` and implement :meth:`replace` (and may widen
    :meth:`context_px`).

    Args:
        config: the pipeline config; its ``remove`` section sets margins and strengths.
    """

    action = ""

    def __init__(self, config: PipelineConfig) -> None:
        self.config: RemoveConfig = config.remove

    def context_px(self, short_side: int) -> int:
        """Pixels of picture around the mask that :meth:`replace` gets to see."""
        return self.config.feather_px + 8

    def replace(self, crop_rgb: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        """Replacement pixels for an (h, w, 3) uint8 RGB crop whose (h, w) bool mask is set."""
        raise NotImplementedError

    def __call__(self, frames: Iterator[MaskedFrame]) -> Iterator[MaskedFrame]:
        """See :class:`autoblur.remove.base.Remover`."""
        for item in frames:
            mask = item.masks.get(self.action)
            if mask is not None:
                item.mark_changed(self.apply(item.frame.rgb, mask))
            yield item

    def apply(self, rgb: np.ndarray, mask: RegionMask) -> tuple[int, int, int, int]:
        """Remove ``mask`` from the (H, W, 3) uint8 RGB frame in place; return the edited box."""
        x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
        pad = self.context_px(max(1, min(x1 - x0, y1 - y0)))
        return paste_replacement(
            rgb,
            mask,
            pad,
            self.config.feather_px,
            lambda crop, crop_mask, _: self.replace(crop, crop_mask),
        )


Replacement = Callable[[np.ndarray, np.ndarray, tuple[int, int, int, int]], np.ndarray]


def paste_replacement(
    rgb: np.ndarray, mask: RegionMask, pad: int, feather_px: int, replace: Replacement
) -> tuple[int, int, int, int]:
    """Replace ``mask``'s pixels of an (H, W, 3) uint8 RGB frame in place, with a soft edge.

    Args:
        rgb: the frame, edited in place.
        mask: the pixels to replace.
        pad: picture around the mask's box to include in the crop.
        feather_px: width of the fade outside the mask.
        replace: given the crop, its (h, w) bool mask and the crop's box (x0, y0, x1, y1) in
            the frame, returns the crop's (h, w, 3) replacement pixels (uint8, or float in
            0-255).

    Returns:
        The edited box (x0, y0, x1, y1, exclusive).
    """
    x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
    height, width = rgb.shape[:2]
    cx0, cy0 = max(x0 - pad, 0), max(y0 - pad, 0)
    cx1, cy1 = min(x1 + pad, width), min(y1 + pad, height)
    crop = rgb[cy0:cy1, cx0:cx1]
    crop_mask = np.zeros(crop.shape[:2], bool)
    crop_mask[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = mask.bitmap
    replaced = replace(crop, crop_mask, (cx0, cy0, cx1, cy1))
    if replaced.dtype != np.uint8:
        replaced = np.clip(replaced + 0.5, 0, 255).astype(np.uint8)
    # Only the mask's box and its feathered edge take new pixels (the rest of the crop was
    # context for ``replace``), but the whole crop is reported as edited, as before: the
    # encoder sees the same patch whichever way the blend is cut.
    reach = feather_px + 1
    bx0, by0 = max(x0 - reach, cx0) - cx0, max(y0 - reach, cy0) - cy0
    bx1, by1 = min(x1 + reach, cx1) - cx0, min(y1 + reach, cy1) - cy0
    alpha = feather_alpha(crop_mask[by0:by1, bx0:bx1], feather_px)
    crop[by0:by1, bx0:bx1] = cv2.blendLinear(
        np.ascontiguousarray(replaced[by0:by1, bx0:bx1]),
        np.ascontiguousarray(crop[by0:by1, bx0:bx1]),
        alpha,
        1 - alpha,
    )
    return cx0, cy0, cx1, cy1


class BlurRemover(SpatialRemover):
    """A strong Gaussian blur, its radius set by the mask's size."""

    action = "blur"

    def _sigma(self, short_side: int) -> float:
        return max(4.0, self.config.blur_fraction * short_side)

    def context_px(self, short_side: int) -> int:
        """Blur needs picture around the mask to average with."""
        return max(super().context_px(short_side), int(2 * self._sigma(short_side)))

    def replace(self, crop_rgb: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        """The crop blurred; see :meth:`SpatialRemover.replace`."""
        sigma = self._sigma(mask_short_side(crop_mask))
        # Blur a downscaled copy: the same look for a fraction of the cost of a wide kernel.
        factor = max(1.0, sigma / 4.0)
        small = cv2.resize(
            crop_rgb, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA
        )
        small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, crop_rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)


class PixelateRemover(SpatialRemover):
    """Large blocks of the mean colour, the block size set by the mask's size."""

    action = "pixelate"

    def replace(self, crop_rgb: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        """The crop in blocks; see :meth:`SpatialRemover.replace`."""
        block = max(4, round(self.config.pixel_fraction * mask_short_side(crop_mask)))
        h, w = crop_rgb.shape[:2]
        small = cv2.resize(
            crop_rgb, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


class FillRemover(SpatialRemover):
    """One solid colour: the configured one, or the median of the mask's surroundings."""

    action = "fill"

    def replace(self, crop_rgb: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        """The crop in one colour; see :meth:`SpatialRemover.replace`."""
        if self.config.fill_color is not None:
            colour = np.array(self.config.fill_color, np.uint8)
        else:
            ring = cv2.dilate(crop_mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
            ring &= ~crop_mask
            source = crop_rgb[ring] if ring.any() else crop_rgb.reshape(-1, 3)
            colour = np.median(source, axis=0).astype(np.uint8)
        return np.broadcast_to(colour, crop_rgb.shape).copy()


class TeleaInpainter(SpatialRemover):
    """Spatial inpainting (OpenCV Telea) from the mask's border, at a capped working size."""

    action = "inpaint"

    def replace(self, crop_rgb: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        """The crop with its mask filled from the border; see :meth:`SpatialRemover.replace`."""
        h, w = crop_rgb.shape[:2]
        scale = min(1.0, self.config.inpaint_max_side / max(h, w))
        image, hole = crop_rgb, crop_mask.astype(np.uint8)
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            image = cv2.resize(crop_rgb, size, interpolation=cv2.INTER_AREA)
            hole = cv2.dilate(
                cv2.resize(hole, size, interpolation=cv2.INTER_NEAREST), np.ones((3, 3), np.uint8)
            )
        filled = cv2.inpaint(image, hole, 5, cv2.INPAINT_TELEA)
        if scale < 1.0:
            filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)
        return filled


@REMOVERS.register("blur")
def build_blur(config: PipelineConfig) -> BlurRemover:
    """Gaussian blur of the masked pixels."""
    return BlurRemover(config)


@REMOVERS.register("pixelate")
def build_pixelate(config: PipelineConfig) -> PixelateRemover:
    """Mosaic of the masked pixels."""
    return PixelateRemover(config)


@REMOVERS.register("fill")
def build_fill(config: PipelineConfig) -> FillRemover:
    """Solid colour over the masked pixels."""
    return FillRemover(config)


@INPAINTERS.register("spatial")
def build_spatial_inpainter(config: PipelineConfig) -> TeleaInpainter:
    """Per-frame spatial inpainting; needs no weights."""
    return TeleaInpainter(config)
