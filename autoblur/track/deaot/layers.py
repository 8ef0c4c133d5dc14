"""Building blocks of DeAOT: frozen-BN ResNet-50 trunk, FPN head, gated propagation attention.

Module and parameter names follow the official R50-DeAOT-L checkpoint so that it loads with
``strict=True``. Sequences are (HW, batch, channels), the layout of the official code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_MASKED = 1e8  # subtracted from the scores of window positions outside the frame


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine terms, all stored as buffers."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(channels))
        self.register_buffer("bias", torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise with the stored statistics."""
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


class Bottleneck(nn.Module):
    """ResNet bottleneck block (stride on the 3x3 convolution)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = FrozenBatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, dilation=dilation, padding=dilation, bias=False
        )
        self.bn2 = FrozenBatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = FrozenBatchNorm2d(planes * 4)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=False),
                FrozenBatchNorm2d(planes * 4),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block output."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet50Trunk(nn.Module):
    """ResNet-50 up to layer3 (output stride 16): features at 4x, 8x and 16x."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        self.layer1 = self._stage(64, 64, 3, stride=1)
        self.layer2 = self._stage(256, 128, 4, stride=2)
        self.layer3 = self._stage(512, 256, 6, stride=2)

    @staticmethod
    def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [Bottleneck(inplanes, planes, stride)]
        layers += [Bottleneck(planes * 4, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[4x (256 ch), 8x (512), 16x (1024), 16x again], as the official encoder returns."""
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        x4 = self.layer1(x)
        x8 = self.layer2(x4)
        x16 = self.layer3(x8)
        return [x4, x8, x16, x16]


class ConvGN(nn.Module):
    """Convolution then GroupNorm (8 groups)."""

    def __init__(self, indim: int, outdim: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(indim, outdim, kernel, padding=kernel // 2)
        self.gn = nn.GroupNorm(8, outdim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve, then normalise."""
        return self.gn(self.conv(x))


class FPNHead(nn.Module):
    """The FPN segmentation head: LSTT output plus encoder shortcuts to logits at 4x."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, shortcut_dims: list[int]) -> None:
        super().__init__()
        self.conv_in = ConvGN(in_dim, hidden, 1)
        self.conv_16x = ConvGN(hidden, hidden, 3)
        self.conv_8x = ConvGN(hidden, hidden // 2, 3)
        self.conv_4x = ConvGN(hidden // 2, hidden // 2, 3)
        self.adapter_16x = nn.Conv2d(shortcut_dims[-2], hidden, 1)
        self.adapter_8x = nn.Conv2d(shortcut_dims[-3], hidden, 1)
        self.adapter_4x = nn.Conv2d(shortcut_dims[-4], hidden // 2, 1)
        self.conv_out = nn.Conv2d(hidden // 2, out_dim, 1)

    def forward(self, x: torch.Tensor, shortcuts: list[torch.Tensor]) -> torch.Tensor:
        """Logits at 4x from the LSTT map and the encoder shortcuts."""
        x = F.relu(self.conv_in(x))
        x = F.relu(self.conv_16x(self.adapter_16x(shortcuts[-2]) + x))
        x = F.interpolate(x, size=shortcuts[-3].shape[-2:], mode="bilinear", align_corners=True)
        x = F.relu(self.conv_8x(self.adapter_8x(shortcuts[-3]) + x))
        x = F.interpolate(x, size=shortcuts[-4].shape[-2:], mode="bilinear", align_corners=True)
        x = F.relu(self.conv_4x(self.adapter_4x(shortcuts[-4]) + x))
        return self.conv_out(x)


def seq_to_2d(seq: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
    """(HW, N, C) -> (N, C, H, W)."""
    h, w = size_2d
    _, n, c = seq.shape
    return seq.view(h, w, n, c).permute(2, 3, 0, 1).contiguous()


class GroupNorm1D(nn.Module):
    """GroupNorm over the channels of a (HW, N, C) sequence."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.gn = nn.GroupNorm(groups, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise a (HW, N, C) sequence."""
        return self.gn(x.permute(1, 2, 0)).permute(2, 0, 1)


class DWConv2d(nn.Module):
    """5x5 depthwise convolution applied to a (HW, N, C) sequence laid out as an image."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 5, padding=2, groups=channels, bias=False)

    def forward(self, x: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
        """Convolve a (HW, N, C) sequence as an (N, C, H, W) image."""
        h, w = size_2d
        _, n, c = x.shape
        x = self.conv(x.view(h, w, n, c).permute(2, 3, 0, 1))
        return x.reshape(n, c, h * w).permute(2, 0, 1)


class GatedPropagation(nn.Module):
    """Global single-head gated attention (long-term memory and self-propagation).

    Args:
        d_qk: query/key input width (used only with ``use_linear``).
        d_vu: value/gate input width; values and gates are expanded twice as wide.
        d_att: attention width.
        use_linear: project Q/K, V and U here (self-propagation) or take them projected.
    """

    def __init__(self, d_qk: int, d_vu: int, d_att: int, use_linear: bool) -> None:
        super().__init__()
        self.d_att = d_att
        self.d_vu = d_vu
        self.expand_d_vu = 2 * d_vu
        self.use_linear = use_linear
        if use_linear:
            half = self.expand_d_vu // 2
            self.linear_QK = nn.Linear(d_qk, d_att)
            self.linear_V1 = nn.Linear(d_vu // 2, half)
            self.linear_V2 = nn.Linear(d_vu // 2, half)
            self.linear_U1 = nn.Linear(d_vu // 2, half)
            self.linear_U2 = nn.Linear(d_vu // 2, half)
        self.dw_conv = DWConv2d(self.expand_d_vu)
        self.projection = nn.Linear(self.expand_d_vu, d_vu)

    def _expand(self, x: torch.Tensor, first: nn.Linear, second: nn.Linear) -> torch.Tensor:
        a, b = torch.split(x, self.d_vu // 2, dim=-1)
        return F.silu(torch.cat([first(a), second(b)], dim=-1))

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        u: torch.Tensor,
        size_2d: tuple[int, int],
    ) -> torch.Tensor:
        """Sequences (L, N, C) in, (Lq, N, d_vu) out."""
        length, n, _ = q.shape
        if self.use_linear:
            q = k = self.linear_QK(q)
            v = self._expand(v, self.linear_V1, self.linear_V2)
            u = self._expand(u, self.linear_U1, self.linear_U2)
        q = q / self.d_att**0.5
        q = q.view(-1, n, 1, self.d_att).permute(1, 2, 0, 3)
        k = k.view(-1, n, 1, self.d_att).permute(1, 2, 3, 0)
        v = v.view(-1, n, 1, self.expand_d_vu).permute(1, 2, 0, 3)
        attn = torch.softmax(q @ k, dim=-1)
        out = (attn @ v).permute(2, 0, 1, 3).reshape(length, n, -1) * u
        return self.projection(self.dw_conv(out, size_2d))


class LocalGatedPropagation(nn.Module):
    """Short-term gated attention over a 15x15 window around each position (single head).

    The window scores are computed with zero-padded ``unfold`` in pure PyTorch, or with
    ``spatial-correlation-sampler`` when it is installed (same numbers).
    """

    def __init__(self, d_vu: int, d_att: int, max_dis: int = 7) -> None:
        super().__init__()
        self.d_att = d_att
        self.max_dis = max_dis
        self.window = 2 * max_dis + 1
        self.expand_d_vu = 2 * d_vu
        self.relative_emb_k = nn.Conv2d(d_att, self.window * self.window, 1)
        self.dw_conv = DWConv2d(self.expand_d_vu)
        self.projection = nn.Linear(self.expand_d_vu, d_vu)
        self._scatter: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        u: torch.Tensor,
        size_2d: tuple[int, int],
    ) -> torch.Tensor:
        """q, k (N, d_att, H, W), v (N, 2*d_vu, H, W), u (HW, N, 2*d_vu) -> (HW, N, d_vu)."""
        n, _, h, w = v.shape
        relative = self.relative_emb_k(q).view(n, self.window**2, h * w)
        q = q / self.d_att**0.5
        scores = window_scores(q, k, self.max_dis) + relative
        scores = scores - self._outside(h, w, q.device) * _MASKED
        attn = torch.softmax(scores, dim=1)  # (N, window^2, HW)
        dense = self._local_to_global(attn, h, w)  # (N, HW, HW)
        values = v.view(n, self.expand_d_vu, h * w).transpose(1, 2)
        out = (dense @ values).permute(1, 0, 2) * u
        return self.projection(self.dw_conv(out, size_2d))

    def _outside(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        ones = torch.ones((1, 1, h, w), device=device)
        pad = self.max_dis
        inside = F.unfold(F.pad(ones, (pad, pad, pad, pad)), self.window)
        return 1 - inside.view(1, self.window**2, h * w)

    def _local_to_global(self, attn: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """Scatter window weights (N, window^2, HW) into a dense (N, HW, HW) query-key matrix."""
        key = (h, w, str(attn.device))
        if key not in self._scatter:
            dy, dx = torch.meshgrid(
                torch.arange(self.window, device=attn.device) - self.max_dis,
                torch.arange(self.window, device=attn.device) - self.max_dis,
                indexing="ij",
            )
            qy, qx = torch.meshgrid(
                torch.arange(h, device=attn.device),
                torch.arange(w, device=attn.device),
                indexing="ij",
            )
            ky = qy.reshape(1, -1) + dy.reshape(-1, 1)  # (window^2, HW)
            kx = qx.reshape(1, -1) + dx.reshape(-1, 1)
            valid = (ky >= 0) & (ky < h) & (kx >= 0) & (kx < w)
            query = torch.arange(h * w, device=attn.device).expand_as(ky)
            self._scatter = {key: (valid, query[valid] * (h * w) + (ky * w + kx)[valid])}
        valid, flat_index = self._scatter[key]
        dense = attn.new_zeros((attn.shape[0], h * w * h * w))
        dense[:, flat_index] = attn[:, valid]
        return dense.view(attn.shape[0], h * w, h * w)


def _correlation_sampler():
    try:
        from spatial_correlation_sampler import SpatialCorrelationSampler
    except ImportError:
        return None
    return SpatialCorrelationSampler


def window_scores(q: torch.Tensor, k: torch.Tensor, max_dis: int) -> torch.Tensor:
    """Dot products of each query with the keys in a (2*max_dis+1)^2 window: (N, win^2, HW).

    Keys outside the frame count as zeros (the caller masks those positions).
    """
    n, c, h, w = q.shape
    window = 2 * max_dis + 1
    sampler = _correlation_sampler()
    if sampler is not None and q.is_cuda:
        corr = sampler(kernel_size=1, patch_size=window, stride=1, padding=0, dilation_patch=1)
        return corr(q.contiguous(), k.contiguous()).view(n, window * window, h * w)
    unfolded = F.unfold(F.pad(k, (max_dis,) * 4), window).view(n, c, window * window, h * w)
    return (q.view(n, c, 1, h * w) * unfolded).sum(dim=1)
