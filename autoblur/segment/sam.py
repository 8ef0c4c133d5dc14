"""Box-prompted Segment Anything: precise masks for detection boxes on keyframes.

Uses the official ``segment-anything`` code and checkpoints. The image embedding is computed
once per keyframe for all of its boxes; of SAM's three candidate masks the one with the best
predicted IoU that stays inside its (padded) box is kept, and a box whose every candidate
leaks out falls back to the classical mask. Detections that bring their own exact mask (a
warped logo silhouette, an OCR quadrilateral) keep it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from autoblur.config import PipelineConfig, SamConfig
from autoblur.errors import CheckpointError
from autoblur.models import load_manifest, require_checkpoint
from autoblur.models.extra import require_modules
from autoblur.segment.base import SEGMENTERS
from autoblur.segment.classical import GrabCutMasks
from autoblur.types import Detections, RegionMask

require_modules("the sam segmenter", "torch", "segment_anything")

import torch  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402
from segment_anything.build_sam import _build_sam  # noqa: E402

from autoblur.models.torch_io import load_checkpoint, read_state_dict, resolve_device  # noqa: E402

log = logging.getLogger(__name__)

_ENCODER = "image_encoder."
_GLOBAL_REL_POS = 2 * (1024 // 16) - 1  # rel-pos table length of a global-attention block
_BOX_PAD = 0.1  # a mask may reach this share of the box size beyond the box without leaking


def sam_architecture(state: dict[str, torch.Tensor]) -> dict:
    """The image-encoder settings of a SAM state dict (vit_b, vit_l, vit_h or any other).

    The official checkpoints differ only in the image encoder, whose width, depth, heads and
    global-attention blocks can all be read off the tensors' shapes.

    Raises:
        CheckpointError: the state dict is not a SAM model's.
    """
    try:
        embed_dim = state[f"{_ENCODER}patch_embed.proj.weight"].shape[0]
        depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith(f"{_ENCODER}blocks."))
        rel_pos = [state[f"{_ENCODER}blocks.{i}.attn.rel_pos_h"] for i in range(depth)]
    except (KeyError, ValueError):
        raise CheckpointError("not a Segment Anything checkpoint (no ViT image encoder)") from None
    return {
        "encoder_embed_dim": embed_dim,
        "encoder_depth": depth,
        "encoder_num_heads": embed_dim // rel_pos[0].shape[1],
        "encoder_global_attn_indexes": [
            i for i, table in enumerate(rel_pos) if table.shape[0] == _GLOBAL_REL_POS
        ],
    }


def load_sam(path: Path, device: torch.device, entry=None) -> torch.nn.Module:
    """Build the SAM model a checkpoint describes and load it strictly (``weights_only``)."""
    state = read_state_dict(path, entry)
    try:
        architecture = sam_architecture(state)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    model = _build_sam(**architecture, checkpoint=None)
    load_checkpoint(model, path, entry, state=state)
    return model.to(device).eval()


def leak_share(mask: np.ndarray, xyxy: np.ndarray) -> float:
    """Share of a dense (H, W) bool mask's pixels outside its box padded by ``_BOX_PAD``."""
    total = int(mask.sum())
    if total == 0:
        return 1.0
    x0, y0, x1, y1 = xyxy
    pad_x, pad_y = _BOX_PAD * (x1 - x0), _BOX_PAD * (y1 - y0)
    h, w = mask.shape
    inside = mask[
        max(0, int(y0 - pad_y)) : min(h, int(np.ceil(y1 + pad_y))),
        max(0, int(x0 - pad_x)) : min(w, int(np.ceil(x1 + pad_x))),
    ].sum()
    return 1.0 - inside / total


class SamSegmenter:
    """Segment Anything prompted with each detection box.

    Args:
        config: the pipeline config (``segment.sam`` and ``device``).

    Raises:
        CheckpointError: the checkpoint is missing (saying how to fetch it) or does not load.
    """

    name = "sam"

    def __init__(self, config: PipelineConfig) -> None:
        self.settings: SamConfig = config.segment.sam
        entry = load_manifest().get(f"sam_{self.settings.variant}")
        if self.settings.checkpoint is not None:
            path = Path(self.settings.checkpoint).expanduser()
            if not path.is_file():
                raise CheckpointError(f"{path}: SAM checkpoint (segment.sam.checkpoint) not found")
        else:
            path = require_checkpoint(entry)
        self.device = resolve_device(config.device)
        self.predictor = SamPredictor(load_sam(path, self.device, entry))
        self.fallback = GrabCutMasks()

    @torch.inference_mode()
    def segment(self, rgb: np.ndarray, detections: Detections) -> Detections:
        """See :class:`autoblur.segment.base.Segmenter`.

        Only boxes without a mask of their own are segmented: a warped logo silhouette or an
        OCR quadrilateral is already exact, so it is kept.
        """
        boxes_only = [i for i, mask in enumerate(detections.masks) if mask is None]
        if not boxes_only:
            return self.fallback.segment(rgb, detections)
        self.predictor.set_image(rgb)
        boxes = torch.as_tensor(detections.xyxy[boxes_only], device=self.device)
        boxes = self.predictor.transform.apply_boxes_torch(boxes, rgb.shape[:2])
        candidates, predicted_iou, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=boxes, multimask_output=True
        )
        candidates = candidates.cpu().numpy()
        predicted_iou = predicted_iou.float().cpu().numpy()
        for row, index in enumerate(boxes_only):
            for choice in np.argsort(-predicted_iou[row]):
                mask = candidates[row, choice]
                if leak_share(mask, detections.xyxy[index]) <= self.settings.max_leak:
                    detections.masks[index] = RegionMask.from_dense(mask)
                    break
        return self.fallback.segment(rgb, detections)


@SEGMENTERS.register("sam")
def build_sam_segmenter(config: PipelineConfig) -> SamSegmenter:
    """Box-prompted SAM from the model folder (or ``segment.sam.checkpoint``)."""
    return SamSegmenter(config)
