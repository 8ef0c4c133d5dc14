"""DeAOT inference: memories of reference and past frames, as the official engine keeps them.

Follows ``DeAOTEngine`` of the official code for up to 10 objects: a reference frame (with
its label map) is encoded and attends to itself; every later frame attends to the long-term
memory (reference frames and every ``long_term_gap``-th frame) and the short-term memory (the
previous frame), then its decided labels are fused into its memory. Unlike the official
engine the long-term memory is capped, so memory stays bounded on any length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autoblur.track.deaot.model import MAX_OBJECTS, DeAOT, LayerMemory, one_hot_labels

_UNUSED_LOGIT = -1e10


def _concat(newer: list[LayerMemory], older: list[LayerMemory]) -> list[LayerMemory]:
    return [
        LayerMemory(torch.cat([n.k, o.k]), torch.cat([n.v, o.v]), torch.cat([n.id_v, o.id_v]))
        for n, o in zip(newer, older, strict=True)
    ]


def _keep(memory: list[LayerMemory], start: int, stop: int) -> list[LayerMemory]:
    return [LayerMemory(m.k[start:stop], m.v[start:stop], m.id_v[start:stop]) for m in memory]


class DeAOTEngine:
    """Tracks up to 10 objects of one shot with a :class:`DeAOT` model.

    Args:
        model: the network, in eval mode, on its device.
        long_term_gap: a frame joins the long-term memory every this many frames.
        max_long_term_frames: frames the long-term memory holds at most (None: no cap, as the
            official engine); the shot's first frame is kept, the oldest others are dropped.
    """

    def __init__(
        self, model: DeAOT, long_term_gap: int = 5, max_long_term_frames: int | None = None
    ) -> None:
        self.model = model
        self.long_term_gap = long_term_gap
        self.max_long_term_frames = max_long_term_frames
        self.frame_step = 0
        self.last_memory_step = -1
        self.object_count = 0
        self.long_term: list[LayerMemory] | None = None
        self.short_term: list[LayerMemory] | None = None
        self.reference_tokens = 0  # tokens of the shot's first frame (never dropped), at the end
        self.features: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.memories: list[LayerMemory] = []

    @property
    def long_term_length(self) -> int:
        """Tokens in the long-term memory."""
        return 0 if self.long_term is None else self.long_term[0].length

    @torch.inference_mode()
    def add_reference(
        self,
        image: torch.Tensor | None,
        labels: torch.Tensor,
        object_count: int,
        features: list[torch.Tensor] | None = None,
    ) -> None:
        """A frame whose labels are known (0 background, 1..10 objects): it joins the memory.

        The first call starts the shot (that frame stays in the long-term memory for good);
        later calls (new objects, refreshed masks) add the frame to the long-term memory
        without dropping what is there. ``features`` are the frame's encoder features when
        already computed (then ``image`` is not needed).
        """
        if not 0 <= object_count <= MAX_OBJECTS:
            raise ValueError(f"DeAOT tracks at most {MAX_OBJECTS} objects, got {object_count}")
        self.object_count = object_count
        self.features = self.model.encode_image(image) if features is None else features
        id_emb = self.model.identity_embedding(one_hot_labels(labels))
        self.outputs, memories = self.model.propagate(self.features, None, None, id_emb)
        if self.long_term is None:
            self.long_term = memories
            self.reference_tokens = memories[0].length
        else:
            self.long_term = _concat(memories, self.long_term)
        self.short_term = memories
        self.last_memory_step = self.frame_step
        self._cap()

    @torch.inference_mode()
    def step(self, image: torch.Tensor | None, features: list[torch.Tensor] | None = None) -> None:
        """Match and propagate the next frame (or its precomputed features) against the memories."""
        if self.long_term is None:
            raise RuntimeError("add a reference frame first")
        self.frame_step += 1
        self.features = self.model.encode_image(image) if features is None else features
        self.outputs, self.memories = self.model.propagate(
            self.features, self.long_term, self.short_term
        )

    @torch.inference_mode()
    def logits(self, output_size: tuple[int, int] | None = None) -> torch.Tensor:
        """The current frame's identity logits (N, 11, h, w), unused identities at -1e10."""
        logits = self.model.decode(self.outputs, self.features)
        logits[:, self.object_count + 1 :] = _UNUSED_LOGIT
        if output_size is not None:
            logits = F.interpolate(logits, size=output_size, mode="bilinear", align_corners=True)
        return logits

    @torch.inference_mode()
    def update_memory(self, labels: torch.Tensor) -> None:
        """Fuse the current frame's decided labels (N, 1, H, W) into its memory."""
        id_emb = self.model.identity_embedding(one_hot_labels(labels))
        fused = [
            LayerMemory(m.k, m.v, layer.fuse_identity(m.id_v, id_emb))
            for m, layer in zip(self.memories, self.model.LSTT.layers, strict=True)
        ]
        self.short_term = fused
        if self.frame_step - self.last_memory_step >= self.long_term_gap:
            self.long_term = _concat(fused, self.long_term)
            self.last_memory_step = self.frame_step
            self._cap()

    def _cap(self) -> None:
        if self.max_long_term_frames is None or self.long_term is None:
            return
        per_frame = self.short_term[0].length
        limit = self.max_long_term_frames * per_frame
        if self.long_term_length <= limit:
            return
        recent = max(limit - self.reference_tokens, per_frame)
        total = self.long_term_length
        kept_recent = _keep(self.long_term, 0, recent)
        references = _keep(self.long_term, total - self.reference_tokens, total)
        self.long_term = _concat(kept_recent, references)
