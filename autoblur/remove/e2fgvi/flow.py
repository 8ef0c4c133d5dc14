"""SPyNet flow estimation and flow warping, as E2FGVI's flow completion uses them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 6


def flow_warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp (N, C, H, W) features by a (N, H, W, 2) pixel flow (x, y), bilinear, corners aligned."""
    _, _, h, w = x.shape
    grid_y, grid_x = torch.meshgrid(
        torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij"
    )
    grid = torch.stack((grid_x, grid_y), 2).type_as(x) + flow
    norm_x = 2.0 * grid[..., 0] / max(w - 1, 1) - 1.0
    norm_y = 2.0 * grid[..., 1] / max(h - 1, 1) - 1.0
    return F.grid_sample(
        x,
        torch.stack((norm_x, norm_y), dim=3),
        mode="bilinear",
        padding_mode=padding_mode,
        align_corners=True,
    )


class ConvModule(nn.Module):
    """A convolution with bias and an optional ReLU (the layout of mmcv's ``ConvModule``)."""

    def __init__(self, cin: int, cout: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, padding=3)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve (then ReLU)."""
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class SPyNetBasicModule(nn.Module):
    """One pyramid level: [reference, warped support, flow] (8 channels) -> flow residue."""

    def __init__(self) -> None:
        super().__init__()
        widths = [8, 32, 64, 32, 16, 2]
        self.basic_module = nn.Sequential(
            *(ConvModule(widths[i], widths[i + 1], relu=i < 4) for i in range(5))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The flow residue at this level."""
        return self.basic_module(x)


class SPyNet(nn.Module):
    """SPyNet (6 levels, no batch norm): optical flow from ``ref`` to ``supp``."""

    def __init__(self) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList(SPyNetBasicModule() for _ in range(_LEVELS))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        n, _, h, w = ref.shape
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(_LEVELS - 1):
            refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
            supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
        refs, supps = refs[::-1], supps[::-1]
        flow = refs[0].new_zeros(n, 2, h // 32, w // 32)
        for level in range(_LEVELS):
            if level == 0:
                up = flow
            else:
                up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supps[level], up.permute(0, 2, 3, 1), padding_mode="border")
            flow = up + self.basic_module[level](torch.cat([refs[level], warped, up], 1))
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """(N, 2, H, W) flow for (N, 3, H, W) images in [0, 1]; sizes padded to 32 inside."""
        h, w = ref.shape[2:]
        h_up, w_up = -(-h // 32) * 32, -(-w // 32) * 32
        ref = F.interpolate(ref, size=(h_up, w_up), mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=(h_up, w_up), mode="bilinear", align_corners=False)
        flow = F.interpolate(
            self._flow(ref, supp), size=(h, w), mode="bilinear", align_corners=False
        )
        flow[:, 0] *= float(w) / float(w_up)
        flow[:, 1] *= float(h) / float(h_up)
        return flow
