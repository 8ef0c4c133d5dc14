"""E2FGVI's InpaintGenerator (CVPR 2022) and its HQ variant, loading the official checkpoints.

Same state_dict names and shapes as ``E2FGVI-CVPR22.pth`` / ``E2FGVI-HQ-CVPR22.pth``; same
numbers as the official code (checked against ``../shared/parity/e2fgvi*`` by the tests).
Input: masked frames in [-1, 1], the local (neighbour) frames first, then reference frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autoblur.remove.e2fgvi.flow import SPyNet
from autoblur.remove.e2fgvi.propagation import BidirectionalPropagation
from autoblur.remove.e2fgvi.transformer import SoftComp, SoftSplit, TemporalFocalTransformerBlock

CHANNEL = 256
HIDDEN = 512
DEPTH = 8
_GROUPS = [1, 2, 4, 8, 1]


class Encoder(nn.Module):
    """Nine 3x3 convolutions to 1/4 scale; the last five fuse with layer 4's output in groups."""

    def __init__(self) -> None:
        super().__init__()
        specs = [
            (3, 64, 2, 1), (64, 64, 1, 1), (64, 128, 2, 1), (128, 256, 1, 1), (256, 384, 1, 1),
            (640, 512, 1, 2), (768, 384, 1, 4), (640, 256, 1, 8), (512, 128, 1, 1),
        ]  # fmt: skip
        layers: list[nn.Module] = []
        for cin, cout, stride, groups in specs:
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, groups=groups), nn.LeakyReLU(0.2)]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 128, H/4, W/4)."""
        bt = x.shape[0]
        h, w = x.shape[2] // 4, x.shape[3] // 4
        out, x0 = x, x
        for i, layer in enumerate(self.layers):
            if i == 8:
                x0 = out
            if i > 8 and i % 2 == 0:
                g = _GROUPS[(i - 8) // 2]
                fused = torch.cat([x0.view(bt, g, -1, h, w), out.view(bt, g, -1, h, w)], 2)
                out = fused.view(bt, -1, h, w)
            out = layer(out)
        return out


class Deconv(nn.Module):
    """Bilinear x2 upsampling (corners aligned), then a 3x3 convolution."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upsample and convolve."""
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


class InpaintGenerator(nn.Module):
    """E2FGVI: flow completion, feature propagation, focal transformer, decoder.

    Args:
        hq: the HQ variant (input rows a multiple of 60, columns of 108), else the CVPR model
            (240x432 only).
    """

    def __init__(self, hq: bool = False) -> None:
        super().__init__()
        self.hq = hq
        self.encoder = Encoder()
        self.decoder = nn.Sequential(
            Deconv(CHANNEL // 2, 128),
            nn.LeakyReLU(0.2),
            nn.Conv2d(128, 64, 3, 1, 1),
            nn.LeakyReLU(0.2),
            Deconv(64, 64),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 3, 3, 1, 1),
        )
        self.feat_prop_module = BidirectionalPropagation(CHANNEL // 2)
        self.ss = SoftSplit(CHANNEL // 2, HIDDEN)
        self.sc = SoftComp(CHANNEL // 2, HIDDEN, hq)
        self.transformer = nn.ModuleList(
            TemporalFocalTransformerBlock(HIDDEN) for _ in range(DEPTH)
        )
        self.update_spynet = SPyNet()

    def flows(self, local_frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward flows (B, L-1, 2, H/4, W/4) of local frames in [0, 1]."""
        b, lt, c, h, w = local_frames.shape
        small = F.interpolate(
            local_frames.reshape(-1, c, h, w),
            scale_factor=1 / 4,
            mode="bilinear",
            align_corners=True,
            recompute_scale_factor=True,
        ).view(b, lt, c, h // 4, w // 4)
        first = small[:, :-1].reshape(-1, c, h // 4, w // 4)
        second = small[:, 1:].reshape(-1, c, h // 4, w // 4)
        forward = self.update_spynet(first, second).view(b, lt - 1, 2, h // 4, w // 4)
        backward = self.update_spynet(second, first).view(b, lt - 1, 2, h // 4, w // 4)
        return forward, backward

    def forward(
        self, masked_frames: torch.Tensor, num_local_frames: int
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(B, T, 3, H, W) masked frames in [-1, 1] -> (B*T, 3, H, W) in [-1, 1], and flows."""
        lt = num_local_frames
        b, t, c, h, w = masked_frames.shape
        flows = self.flows((masked_frames[:, :lt] + 1) / 2)
        enc = self.encoder(masked_frames.view(b * t, c, h, w))
        _, fc, fh, fw = enc.shape
        enc = enc.view(b, t, fc, fh, fw)
        # The official generator hands the forward flows to the "backward" branch: kept so.
        local = self.feat_prop_module(enc[:, :lt], flows[0], flows[1])
        enc = torch.cat((local, enc[:, lt:]), dim=1)
        tokens = self.ss(enc.view(-1, fc, fh, fw), b)
        for block in self.transformer:
            tokens = block(tokens, (fh, fw))
        enc = enc + self.sc(tokens, t, (fh, fw)).view(b, t, -1, fh, fw)
        out = self.decoder(enc.view(b * t, fc, fh, fw))
        return torch.tanh(out), flows
