"""R50-DeAOT-L: our implementation of DeAOT (NeurIPS 2022) that loads the official checkpoint.

Same state_dict names and shapes as ``R50_DeAOTL_PRE_YTB_DAV.pth``; same numbers as the
official code (checked against ``../shared/parity/deaot_r50_l`` by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from autoblur.track.deaot.layers import (
    FPNHead,
    GatedPropagation,
    GroupNorm1D,
    LocalGatedPropagation,
    ResNet50Trunk,
    seq_to_2d,
)

MAX_OBJECTS = 10  # identities of the official model (plus background)
EMBED_DIM = 256
LSTT_LAYERS = 3
STRIDE = 16
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass
class LayerMemory:
    """One LSTT layer's keys and values of some frames, as sequences (L, N, C).

    ``id_v`` is None until the frame's identities are known (after its mask is decided).
    """

    k: torch.Tensor
    v: torch.Tensor
    id_v: torch.Tensor | None

    @property
    def length(self) -> int:
        """Number of positions (tokens) held."""
        return self.k.shape[0]


class GatedPropagationModule(nn.Module):
    """One layer of DeAOT's dual-branch LSTT (a visual and an identity branch)."""

    def __init__(self, layer_index: int, d_model: int = EMBED_DIM) -> None:
        super().__init__()
        expand = 2 * d_model
        self.d_model = d_model
        self.d_att = d_model // 2
        self.first = layer_index == 0
        self.norm1 = nn.LayerNorm(d_model)
        self.linear_QV = nn.Linear(d_model, self.d_att + expand)
        self.linear_U = nn.Linear(d_model, expand)
        if self.first:
            self.linear_ID_V = nn.Linear(d_model, expand)
        else:
            self.id_norm1 = nn.LayerNorm(d_model)
            self.linear_ID_V = nn.Linear(2 * d_model, expand)
            self.linear_ID_U = nn.Linear(d_model, expand)
        self.long_term_attn = GatedPropagation(d_model, 2 * d_model, self.d_att, use_linear=False)
        self.short_term_attn = LocalGatedPropagation(2 * d_model, self.d_att)
        self.norm2 = nn.LayerNorm(d_model)
        self.id_norm2 = nn.LayerNorm(d_model)
        self.self_attn = GatedPropagation(2 * d_model, 2 * d_model, self.d_att, use_linear=True)

    def fuse_identity(self, id_value: torch.Tensor | None, id_emb: torch.Tensor) -> torch.Tensor:
        """The identity values of a frame from its identity embedding (and the ID branch)."""
        if id_value is None:
            return F.silu(self.linear_ID_V(id_emb))
        return F.silu(self.linear_ID_V(torch.cat([id_value, id_emb], dim=2)))

    def forward(
        self,
        tgt: torch.Tensor,
        tgt_id: torch.Tensor | None,
        long_term: LayerMemory | None,
        short_term: LayerMemory | None,
        id_emb: torch.Tensor | None,
        size_2d: tuple[int, int],
    ) -> tuple[torch.Tensor, torch.Tensor, LayerMemory]:
        """One layer; with ``id_emb`` the frame attends to itself (a reference frame).

        Returns:
            The visual and identity outputs, and this frame's memory (``id_v`` filled in only
            for a reference frame; otherwise the identity branch's value, to fuse later).
        """
        normed = self.norm1(tgt)
        q, v = torch.split(self.linear_QV(normed), [self.d_att, 2 * self.d_model], dim=2)
        v = F.silu(v)
        u = self.linear_U(normed)
        if tgt_id is None:
            gate = torch.cat([F.silu(u), torch.ones_like(u)], dim=-1)
            id_value = None
        else:
            id_value = self.id_norm1(tgt_id)
            gate = F.silu(torch.cat([u, self.linear_ID_U(id_value)], dim=-1))
        if id_emb is not None:
            fused = self.fuse_identity(id_value, id_emb)
            long_term = short_term = LayerMemory(q, v, fused)
        assert long_term is not None and short_term is not None
        long_v = torch.cat([long_term.v, long_term.id_v], dim=-1)
        short_v = seq_to_2d(torch.cat([short_term.v, short_term.id_v], dim=-1), size_2d)
        out_long = self.long_term_attn(q, long_term.k, long_v, gate, size_2d)
        out_short = self.short_term_attn(
            seq_to_2d(q, size_2d), seq_to_2d(short_term.k, size_2d), short_v, gate, size_2d
        )
        delta = out_long + out_short
        tgt = tgt + delta[..., : self.d_model]
        tgt_id = delta[..., self.d_model :] + (0 if tgt_id is None else tgt_id)
        both = torch.cat([self.norm2(tgt), self.id_norm2(tgt_id)], dim=-1)
        delta = self.self_attn(both, both, both, both, size_2d)
        tgt = tgt + delta[..., : self.d_model]
        tgt_id = tgt_id + delta[..., self.d_model :]
        memory = LayerMemory(q, v, fused if id_emb is not None else id_value)
        return tgt, tgt_id, memory


class DualBranchLSTT(nn.Module):
    """Three gated propagation layers; the last output is group-normalised for decoding."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(GatedPropagationModule(i) for i in range(LSTT_LAYERS))
        self.decoder_norms = nn.ModuleList([GroupNorm1D(2 * EMBED_DIM, 2)])

    def forward(
        self,
        tgt: torch.Tensor,
        long_term: list[LayerMemory] | None,
        short_term: list[LayerMemory] | None,
        id_emb: torch.Tensor | None,
        size_2d: tuple[int, int],
    ) -> tuple[list[torch.Tensor], list[LayerMemory]]:
        """Per-layer outputs (HW, N, 512) (the last one normalised) and per-layer memories."""
        outputs, memories = [], []
        tgt_id = None
        for index, layer in enumerate(self.layers):
            tgt, tgt_id, memory = layer(
                tgt,
                tgt_id,
                None if long_term is None else long_term[index],
                None if short_term is None else short_term[index],
                id_emb,
                size_2d,
            )
            outputs.append(torch.cat([tgt, tgt_id], dim=2))
            memories.append(memory)
        outputs[-1] = self.decoder_norms[0](outputs[-1])
        return outputs, memories


class DeAOT(nn.Module):
    """R50-DeAOT-L: encoder, identity bank, dual-branch LSTT and FPN decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ResNet50Trunk()
        self.encoder_projector = nn.Conv2d(1024, EMBED_DIM, 1)
        self.LSTT = DualBranchLSTT()
        self.decoder = FPNHead(2 * EMBED_DIM, MAX_OBJECTS + 1, EMBED_DIM, [256, 512, 1024, 1024])
        self.patch_wise_id_bank = nn.Conv2d(
            MAX_OBJECTS + 1, EMBED_DIM, kernel_size=17, stride=STRIDE, padding=8
        )
        self.id_norm = nn.LayerNorm(EMBED_DIM)

    def encode_image(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Encoder features [4x, 8x, 16x, projected 16x] of a normalised (N, 3, H, W) image."""
        features = self.encoder(image)
        features[-1] = self.encoder_projector(features[-1])
        return features

    def identity_embedding(self, one_hot: torch.Tensor) -> torch.Tensor:
        """(N, 11, H, W) one-hot labels -> (HW/256, N, 256) identity embedding."""
        emb = self.patch_wise_id_bank(one_hot)
        emb = self.id_norm(emb.permute(2, 3, 0, 1)).permute(2, 3, 0, 1)
        n, c = emb.shape[:2]
        return emb.reshape(n, c, -1).permute(2, 0, 1)

    def propagate(
        self,
        features: list[torch.Tensor],
        long_term: list[LayerMemory] | None,
        short_term: list[LayerMemory] | None,
        id_emb: torch.Tensor | None = None,
    ) -> tuple[list[torch.Tensor], list[LayerMemory]]:
        """Run the LSTT on a frame's projected 16x features against the memories."""
        n, c, h, w = features[-1].shape
        sequence = features[-1].view(n, c, h * w).permute(2, 0, 1)
        return self.LSTT(sequence, long_term, short_term, id_emb, (h, w))

    def decode(
        self, lstt_outputs: list[torch.Tensor], features: list[torch.Tensor]
    ) -> torch.Tensor:
        """Identity logits (N, 11, H/4, W/4) from the last LSTT output and the shortcuts."""
        n, _, h, w = features[-1].shape
        last = lstt_outputs[-1].view(h, w, n, -1).permute(2, 3, 0, 1)
        return self.decoder(last, features)


def normalise_frame(rgb: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float input, normalised as the official loader does."""
    x = rgb.float() / 255.0
    x = (x - torch.tensor(MEAN, device=x.device)) / torch.tensor(STD, device=x.device)
    return x.permute(2, 0, 1).unsqueeze(0)


def one_hot_labels(labels: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) or (N, H, W) integer label map -> (N, 11, H, W) float one-hot."""
    if labels.dim() == 3:
        labels = labels.unsqueeze(1)
    ids = torch.arange(MAX_OBJECTS + 1, device=labels.device).view(1, -1, 1, 1)
    return (labels == ids).float()
