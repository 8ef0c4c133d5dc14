"""The ``e2fgvi`` and ``e2fgvi-hq`` inpainters: E2FGVI on a sliding window of frame crops.

Beyond the reference design's limits:

- any length: windows of ``local_frames`` frames step by ``stride`` through the stream
  (overlapping predictions are averaged), with ``reference_frames`` earlier output frames as
  context; only the current window and a few reference crops are held, so memory does not
  grow with video length;
- native resolution: each window inpaints a crop around its masks (plus ``context``), scaled
  to the model's working size (240x432 for the CVPR model; at most ``max_side`` for HQ,
  mirror-padded to multiples of 60x108), and only the masked pixels are pasted back into the
  full-resolution frame, with a feathered edge.

The checkpoints' licence (CC BY-NC 4.0) forbids commercial use; ``models list`` says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from autoblur.config import E2fgviConfig, PipelineConfig
from autoblur.models import load_manifest, require_checkpoint
from autoblur.models.extra import require_modules
from autoblur.remove.base import INPAINTERS, MaskedFrame
from autoblur.remove.spatial import paste_replacement

require_modules("the e2fgvi inpainter", "torch", "torchvision")

import torch  # noqa: E402

from autoblur.models.torch_io import load_checkpoint, resolve_device  # noqa: E402
from autoblur.remove.e2fgvi.model import InpaintGenerator  # noqa: E402

CVPR_SIZE = (240, 432)
HQ_UNIT = (60, 108)
_ACTION = "inpaint"


@dataclass
class _Pending:
    """A frame waiting for every window that covers it."""

    item: MaskedFrame
    position: int
    region: tuple[int, int, int, int] | None = None  # the mask's box plus the feather
    total: np.ndarray | None = None  # summed predictions over ``region``, (h, w, 3) float32
    weights: np.ndarray | None = None  # how many predictions each pixel of ``region`` got
    windows: int = 0  # windows that predicted this frame


def working_size(crop_hw: tuple[int, int], hq: bool, max_side: int) -> tuple[int, int]:
    """The model input size for a crop: 240x432 (CVPR) or the crop scaled to ``max_side``."""
    if not hq:
        return CVPR_SIZE
    scale = min(1.0, max_side / max(crop_hw))
    return tuple(max(8, round(side * scale / 4) * 4) for side in crop_hw)


def padded_size(size_hw: tuple[int, int]) -> tuple[int, int]:
    """The HQ model's input size: each side up to a multiple of 60 (rows) or 108 (columns)."""
    return tuple(-(-side // unit) * unit for side, unit in zip(size_hw, HQ_UNIT, strict=True))


def crop_box(
    boxes: list[np.ndarray], frame_hw: tuple[int, int], context: float, aspect: float | None
) -> tuple[int, int, int, int]:
    """A box around all mask boxes plus ``context`` of their size, widened toward ``aspect``."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    w, h = x1 - x0, y1 - y0
    grow = max(16.0, context * max(w, h))
    w, h = w + 2 * grow, h + 2 * grow
    if aspect is not None:  # width / height
        w, h = max(w, h * aspect), max(h, w / aspect)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    fh, fw = frame_hw
    w, h = min(w, fw), min(h, fh)
    left = int(round(min(max(cx - w / 2, 0), fw - w)))
    top = int(round(min(max(cy - h / 2, 0), fh - h)))
    return left, top, left + int(round(w)), top + int(round(h))


class E2fgviInpainter:
    """Video inpainting with E2FGVI over a sliding window.

    Args:
        config: the pipeline config (``remove.e2fgvi``, ``remove.feather_px``, ``device``).
        hq: the HQ model (any size) instead of the CVPR one (240x432 working size).
        model: an already-loaded network (tests); by default the checkpoint is loaded strictly.

    Raises:
        CheckpointError: the checkpoint is missing (with the command that fetches it) or does
            not load strictly.
    """

    action = _ACTION

    def __init__(
        self, config: PipelineConfig, hq: bool, model: InpaintGenerator | None = None
    ) -> None:
        self.settings: E2fgviConfig = config.remove.e2fgvi
        self.feather_px = config.remove.feather_px
        self.hq = hq
        self.device = resolve_device(config.device)
        if model is None:
            entry = load_manifest().get("e2fgvi_hq" if hq else "e2fgvi")
            model = load_checkpoint(InpaintGenerator(hq), require_checkpoint(entry), entry)
        self.model = model.to(self.device).eval()
        self.half = self.device.type == "cuda"
        if self.half:
            self.model = self.model.half()

    def __call__(self, frames: Iterator[MaskedFrame]) -> Iterator[MaskedFrame]:
        """See :class:`autoblur.remove.base.Remover`; output lags input by one window."""
        pending: deque[_Pending] = deque()
        references: deque[np.ndarray] = deque(maxlen=self.settings.reference_frames)
        next_start, position = 0, 0
        length, stride = self.settings.local_frames, self.settings.stride
        for item in frames:
            pending.append(_Pending(item, position))
            position += 1
            while position >= next_start + length:
                self._window(pending, next_start, length, references)
                next_start += stride
                yield from self._release(pending, next_start, references)
        while pending:
            self._window(pending, next_start, length, references)
            next_start += stride
            yield from self._release(pending, next_start, references)

    def _release(
        self, pending: deque[_Pending], next_start: int, references: deque[np.ndarray]
    ) -> Iterator[MaskedFrame]:
        """Finish and yield the frames no later window covers."""
        while pending and pending[0].position < next_start:
            done = pending.popleft()
            self._paste(done)
            if done.position % self.settings.reference_step == 0:
                references.append(done.item.frame.rgb.copy())
            yield done.item

    def _window(
        self, pending: deque[_Pending], start: int, length: int, references: deque[np.ndarray]
    ) -> None:
        chosen = [p for p in pending if start <= p.position < start + length]
        masked = [p for p in chosen if p.item.masks.get(_ACTION) is not None]
        if not masked:
            return
        frame_hw = chosen[0].item.frame.rgb.shape[:2]
        aspect = None if self.hq else CVPR_SIZE[1] / CVPR_SIZE[0]
        boxes = [p.item.masks[_ACTION].xyxy for p in masked]
        x0, y0, x1, y1 = crop_box(boxes, frame_hw, self.settings.context, aspect)
        size = working_size((y1 - y0, x1 - x0), self.hq, self.settings.max_side)
        crops, holes = [], []
        for p in chosen:
            crops.append(_resize(p.item.frame.rgb[y0:y1, x0:x1], size, cv2.INTER_AREA))
            mask = p.item.masks.get(_ACTION)
            hole = (
                np.zeros((y1 - y0, x1 - x0), bool) if mask is None else mask.crop((x0, y0, x1, y1))
            )
            holes.append(_resize(hole.astype(np.uint8), size, cv2.INTER_NEAREST) > 0)
        for rgb in references:
            crops.append(_resize(rgb[y0:y1, x0:x1], size, cv2.INTER_AREA))
            holes.append(np.zeros(size, bool))
        local = len(chosen)
        if local == 1:  # flows need two local frames: give the lone frame twice
            crops.insert(1, crops[0])
            holes.insert(1, holes[0])
            local = 2
        predicted = self._predict(crops, holes, local)
        for p, crop in zip(chosen, predicted, strict=False):
            self._accumulate(p, crop, (x0, y0, x1, y1))

    @torch.inference_mode()
    def _predict(self, crops: list[np.ndarray], holes: list[np.ndarray], local: int):
        frames = torch.from_numpy(np.stack(crops)).to(self.device).permute(0, 3, 1, 2)
        frames = frames.float() / 255 * 2 - 1
        hole = torch.from_numpy(np.stack(holes)).to(self.device)[:, None].float()
        masked = (frames * (1 - hole))[None]
        h, w = frames.shape[-2:]
        if self.hq:
            ph, pw = padded_size((h, w))
            masked = _mirror_pad(masked, ph, pw)
        if self.half:
            masked = masked.half()
        output, _ = self.model(masked, local)
        output = output[:local, :, :h, :w].float()
        output = ((output + 1) / 2 * 255).clamp(0, 255)
        return list(output.permute(0, 2, 3, 1).cpu().numpy())

    def _accumulate(self, p: _Pending, crop: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Add one window's prediction of a frame, over its mask's region, to the running sum."""
        mask = p.item.masks.get(_ACTION)
        if mask is None:
            return
        if p.region is None:
            height, width = p.item.frame.rgb.shape[:2]
            mx0, my0, mx1, my1 = (int(v) for v in mask.xyxy)
            pad = self.feather_px + 2
            p.region = (max(mx0 - pad, 0), max(my0 - pad, 0), min(mx1 + pad, width),
                        min(my1 + pad, height))  # fmt: skip
            rw, rh = p.region[2] - p.region[0], p.region[3] - p.region[1]
            p.total = np.zeros((rh, rw, 3), np.float32)
            p.weights = np.zeros((rh, rw), np.float32)
        x0, y0, x1, y1 = box
        rx0, ry0, rx1, ry1 = p.region
        ix0, iy0, ix1, iy1 = max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)
        if ix1 <= ix0 or iy1 <= iy0:
            return
        native = cv2.resize(crop, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
        p.total[iy0 - ry0 : iy1 - ry0, ix0 - rx0 : ix1 - rx0] += native[
            iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0
        ]
        p.weights[iy0 - ry0 : iy1 - ry0, ix0 - rx0 : ix1 - rx0] += 1
        p.windows += 1

    def _paste(self, p: _Pending) -> None:
        """Blend the averaged prediction into the frame's masked pixels (feathered edge)."""
        mask = p.item.masks.get(_ACTION)
        if mask is None or p.total is None:
            return
        rx0, ry0 = p.region[:2]
        average = p.total / np.maximum(p.weights, 1)[..., None]
        covered = p.weights > 0

        def replace(crop: np.ndarray, crop_mask: np.ndarray, xyxy) -> np.ndarray:
            cx0, cy0, cx1, cy1 = xyxy
            out = crop.astype(np.float32)
            rows, cols = slice(cy0 - ry0, cy1 - ry0), slice(cx0 - rx0, cx1 - rx0)
            ok = covered[rows, cols]
            out[ok] = average[rows, cols][ok]
            return out

        pad = self.feather_px + 2
        changed = paste_replacement(p.item.frame.rgb, mask, pad, self.feather_px, replace)
        p.item.mark_changed(changed)


def _resize(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    h, w = size
    return cv2.resize(image, (w, h), interpolation=interpolation)


def _mirror_pad(frames: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pad (B, T, C, h, w) at the bottom and right to (height, width) by mirroring, as test.py."""
    b, t, c, h, w = frames.shape
    flat = frames.view(b * t, c, h, w)
    while flat.shape[-2] < height:
        flat = torch.cat([flat, torch.flip(flat, [2])], 2)
    while flat.shape[-1] < width:
        flat = torch.cat([flat, torch.flip(flat, [3])], 3)
    return flat[:, :, :height, :width].reshape(b, t, c, height, width)


@INPAINTERS.register("e2fgvi")
def build_e2fgvi(config: PipelineConfig) -> E2fgviInpainter:
    """E2FGVI (CVPR 2022) from ``E2FGVI-CVPR22.pth``; non-commercial licence."""
    return E2fgviInpainter(config, hq=False)


@INPAINTERS.register("e2fgvi-hq")
def build_e2fgvi_hq(config: PipelineConfig) -> E2fgviInpainter:
    """E2FGVI-HQ from ``E2FGVI-HQ-CVPR22.pth``; non-commercial licence."""
    return E2fgviInpainter(config, hq=True)
