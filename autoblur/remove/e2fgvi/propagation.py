"""E2FGVI's bidirectional second-order deformable feature propagation (from BasicVSR++).

The modulated deformable convolution is ``torchvision.ops.deform_conv2d``, the same function
as mmcv's ``modulated_deform_conv2d`` with the same offset and mask layout.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import deform_conv2d

from autoblur.remove.e2fgvi.flow import flow_warp

_DIRECTIONS = ("backward_", "forward_")


class SecondOrderDeformableAlignment(nn.Module):
    """DCNv2 (3x3, 16 deform groups) whose offsets are predicted around two flows."""

    def __init__(self, cin: int, cout: int, deform_groups: int = 16, max_residue: float = 10):
        super().__init__()
        self.max_residue = max_residue
        self.weight = nn.Parameter(torch.zeros(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.conv_offset = nn.Sequential(
            nn.Conv2d(3 * cout + 4, cout, 3, 1, 1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(cout, cout, 3, 1, 1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(cout, cout, 3, 1, 1),
            nn.LeakyReLU(0.1),
            nn.Conv2d(cout, 27 * deform_groups, 3, 1, 1),
        )

    def forward(
        self, x: torch.Tensor, extra: torch.Tensor, flow_1: torch.Tensor, flow_2: torch.Tensor
    ) -> torch.Tensor:
        """Align ``x`` (two stacked neighbour features) to the current frame."""
        out = self.conv_offset(torch.cat([extra, flow_1, flow_2], dim=1))
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = self.max_residue * torch.tanh(torch.cat((o1, o2), dim=1))
        offset_1, offset_2 = torch.chunk(offset, 2, dim=1)
        offset_1 = offset_1 + flow_1.flip(1).repeat(1, offset_1.size(1) // 2, 1, 1)
        offset_2 = offset_2 + flow_2.flip(1).repeat(1, offset_2.size(1) // 2, 1, 1)
        return deform_conv2d(
            x,
            torch.cat([offset_1, offset_2], dim=1),
            self.weight,
            self.bias,
            padding=(1, 1),
            mask=torch.sigmoid(mask),
        )


class BidirectionalPropagation(nn.Module):
    """Propagate local-frame features backward then forward through the window."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.channel = channel
        self.deform_align = nn.ModuleDict(
            {d: SecondOrderDeformableAlignment(2 * channel, channel) for d in _DIRECTIONS}
        )
        self.backbone = nn.ModuleDict(
            {
                d: nn.Sequential(
                    nn.Conv2d((2 + i) * channel, channel, 3, 1, 1),
                    nn.LeakyReLU(0.1),
                    nn.Conv2d(channel, channel, 3, 1, 1),
                )
                for i, d in enumerate(_DIRECTIONS)
            }
        )
        self.fusion = nn.Conv2d(2 * channel, channel, 1, 1, 0)

    def forward(
        self, x: torch.Tensor, flows_backward: torch.Tensor, flows_forward: torch.Tensor
    ) -> torch.Tensor:
        """(B, T, C, H, W) features and (B, T-1, 2, H, W) flows -> propagated features.

        Mirrors the official loop exactly, including its flow indexing in the backward pass.
        """
        b, t, _, h, w = x.shape
        spatial = [x[:, i] for i in range(t)]
        done: dict[str, list[torch.Tensor]] = {}
        for direction in _DIRECTIONS:
            flows = flows_backward if direction == "backward_" else flows_forward
            order = list(range(t))[::-1] if direction == "backward_" else list(range(t))
            props: list[torch.Tensor] = []
            feat_prop = x.new_zeros(b, self.channel, h, w)
            for i, idx in enumerate(order):
                current = spatial[idx]
                if i > 0:
                    flow_n1 = flows[:, i - 1]
                    cond_n1 = flow_warp(feat_prop, flow_n1.permute(0, 2, 3, 1))
                    feat_n2 = torch.zeros_like(feat_prop)
                    flow_n2 = torch.zeros_like(flow_n1)
                    cond_n2 = torch.zeros_like(cond_n1)
                    if i > 1:
                        feat_n2 = props[-2]
                        flow_n2 = flows[:, i - 2]
                        flow_n2 = flow_n1 + flow_warp(flow_n2, flow_n1.permute(0, 2, 3, 1))
                        cond_n2 = flow_warp(feat_n2, flow_n2.permute(0, 2, 3, 1))
                    cond = torch.cat([cond_n1, current, cond_n2], dim=1)
                    feat_prop = self.deform_align[direction](
                        torch.cat([feat_prop, feat_n2], dim=1), cond, flow_n1, flow_n2
                    )
                others = [done[k][idx] for k in done]
                feat = torch.cat([current, *others, feat_prop], dim=1)
                feat_prop = feat_prop + self.backbone[direction](feat)
                props.append(feat_prop)
            done[direction] = props[::-1] if direction == "backward_" else props
        outputs = [self.fusion(torch.cat([done[d][i] for d in _DIRECTIONS], 1)) for i in range(t)]
        return torch.stack(outputs, dim=1) + x
