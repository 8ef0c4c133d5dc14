"""The ``deaot`` tracker backend: DeAOT carries every object's mask through the shot.

Frames are tracked at a working size (longest side ``track.deaot.max_side``, sides 16k+1 as
the model needs) and each object's mask is scaled back to the native frame size. In the
forward pass of the track manager the memory lives on from keyframe to keyframe: each
keyframe joins it as a reference with the current masks (re-seeding known objects, adding
new ones without restarting the others), the long-term memory is capped, and a scene cut
resets it. Objects are split over engines of at most 10 identities; an engine never reuses
an identity, so old memory frames cannot confuse a new object with an ended one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from autoblur.config import DeaotConfig, PipelineConfig
from autoblur.models import load_manifest, require_checkpoint
from autoblur.models.extra import require_modules
from autoblur.track.base import PROPAGATORS
from autoblur.types import RegionMask

require_modules("the deaot tracker", "torch")

import torch  # noqa: E402

from autoblur.models.torch_io import load_checkpoint, resolve_device  # noqa: E402
from autoblur.track.deaot.engine import DeAOTEngine  # noqa: E402
from autoblur.track.deaot.model import MAX_OBJECTS, STRIDE, DeAOT, normalise_frame  # noqa: E402

MANIFEST_NAME = "deaot_r50_l"


def working_size(frame_hw: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(h, w) no larger than ``max_side`` on the long side, keeping the aspect, each 16k+1."""
    h, w = frame_hw
    scale = min(1.0, max_side / max(h, w))
    return tuple(max(1, round((side * scale - 1) / STRIDE)) * STRIDE + 1 for side in (h, w))


@dataclass
class _Group:
    """One engine and the objects it tracks (track id -> identity label 1..10)."""

    engine: DeAOTEngine
    labels: dict[int, int] = field(default_factory=dict)
    used: int = 0  # identities ever given out by this engine

    def free_label(self) -> int | None:
        return self.used + 1 if self.used < MAX_OBJECTS else None


class DeAOTPropagator:
    """Mask propagation with our DeAOT implementation and the official checkpoint.

    Args:
        config: the pipeline config (``track.deaot`` and ``device``).
        model: an already-loaded network (tests); by default the checkpoint from the model
            folder is loaded strictly.

    Raises:
        CheckpointError: the checkpoint is missing (with the command that fetches it) or
            does not load strictly.
    """

    name = "deaot"

    def __init__(self, config: PipelineConfig, model: DeAOT | None = None) -> None:
        self.settings: DeaotConfig = config.track.deaot
        self.device = resolve_device(config.device)
        if model is None:
            entry = load_manifest().get(MANIFEST_NAME)
            model = load_checkpoint(DeAOT(), require_checkpoint(entry), entry)
        self.model = model.to(self.device).eval()
        self.groups: list[_Group] = []

    def reset(self) -> None:
        """Forget the shot's memory."""
        self.groups = []

    def propagate(
        self,
        frames_rgb: Sequence[np.ndarray],
        start_masks: dict[int, RegionMask],
        continues: bool = False,
    ) -> list[dict[int, RegionMask]]:
        """See :class:`autoblur.track.base.MaskPropagator`."""
        if not start_masks or len(frames_rgb) < 2:
            if not start_masks and continues:
                self.reset()
            return [{} for _ in frames_rgb[1:]]
        frame_hw = frames_rgb[0].shape[:2]
        size = working_size(frame_hw, self.settings.max_side)
        groups = self._arrange(self.groups if continues else [], start_masks)
        if continues:
            self.groups = groups
        with torch.inference_mode():
            features = self.model.encode_image(self._input(frames_rgb[0], size))
            for group in groups:
                labels = self._label_map(group, start_masks, size)
                group.engine.add_reference(None, labels, group.used, features=features)
            results = []
            for rgb in frames_rgb[1:]:
                features = self.model.encode_image(self._input(rgb, size))
                masks: dict[int, RegionMask] = {}
                for group in groups:
                    masks.update(self._step(group, features, size, frame_hw))
                results.append(masks)
        return results

    def _arrange(self, groups: list[_Group], start_masks: dict[int, RegionMask]) -> list[_Group]:
        """Drop ended objects and empty engines; give each new object an unused identity."""
        for group in groups:
            group.labels = {t: lab for t, lab in group.labels.items() if t in start_masks}
        groups = [g for g in groups if g.labels]
        known = {t for g in groups for t in g.labels}
        for track_id in start_masks:
            if track_id in known:
                continue
            group = next((g for g in groups if g.free_label() is not None), None)
            if group is None:
                group = _Group(self._engine())
                groups.append(group)
            label = group.free_label()
            group.labels[track_id] = label
            group.used = label
        return groups

    def _engine(self) -> DeAOTEngine:
        return DeAOTEngine(self.model, self.settings.long_term_gap, self.settings.max_memory_frames)

    def _input(self, rgb: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        h, w = size
        resized = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_CUBIC)
        return normalise_frame(torch.from_numpy(resized).to(self.device))

    def _label_map(
        self, group: _Group, start_masks: dict[int, RegionMask], size: tuple[int, int]
    ) -> torch.Tensor:
        h, w = size
        labels = np.zeros((h, w), np.uint8)
        for track_id, label in group.labels.items():
            dense = cv2.resize(
                start_masks[track_id].to_dense().astype(np.uint8), (w, h), cv2.INTER_NEAREST
            )
            labels[dense > 0] = label
        return torch.from_numpy(labels).to(self.device).float()[None, None]

    def _step(
        self,
        group: _Group,
        features: list[torch.Tensor],
        size: tuple[int, int],
        frame_hw: tuple[int, int],
    ) -> dict[int, RegionMask]:
        engine = group.engine
        engine.step(None, features=features)
        prob = torch.softmax(engine.logits(size), dim=1)[0]
        labels = prob.argmax(dim=0)
        masks: dict[int, RegionMask] = {}
        for track_id, label in list(group.labels.items()):
            inside = labels == label
            area = int(inside.sum())
            confidence = float(prob[label][inside].mean()) if area else 0.0
            mask = _native_mask(inside.cpu().numpy(), frame_hw) if area else None
            if mask is None or confidence < self.settings.min_confidence:
                del group.labels[track_id]  # lost: reported no more, its pixels now background
                labels[inside] = 0
                continue
            masks[track_id] = mask
        engine.update_memory(labels.float()[None, None])
        return masks


def _native_mask(inside: np.ndarray, frame_hw: tuple[int, int]) -> RegionMask | None:
    """Scale a working-size boolean mask to the frame, resizing only around its box."""
    h, w = inside.shape
    fh, fw = frame_hw
    ys, xs = np.nonzero(inside)
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, h)
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, w)
    sy, sx = (fh - 1) / max(h - 1, 1), (fw - 1) / max(w - 1, 1)
    ny0, ny1 = int(np.floor(y0 * sy)), min(int(np.ceil((y1 - 1) * sy)) + 1, fh)
    nx0, nx1 = int(np.floor(x0 * sx)), min(int(np.ceil((x1 - 1) * sx)) + 1, fw)
    # Sample the working mask at the native pixel centres of the crop (align-corners mapping).
    gy = np.arange(ny0, ny1) / sy - y0
    gx = np.arange(nx0, nx1) / sx - x0
    map_x, map_y = np.meshgrid(gx.astype(np.float32), gy.astype(np.float32))
    crop = inside[y0:y1, x0:x1].astype(np.float32)
    native = cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderValue=0) >= 0.5
    return RegionMask.from_crop(nx0, ny0, native, frame_hw)


@PROPAGATORS.register("deaot")
def build_deaot(config: PipelineConfig) -> DeAOTPropagator:
    """DeAOT from the model folder's ``R50_DeAOTL_PRE_YTB_DAV.pth``."""
    return DeAOTPropagator(config)
