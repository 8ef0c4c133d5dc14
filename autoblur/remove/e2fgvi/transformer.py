"""E2FGVI's token stages: soft split/composition and temporal focal transformer blocks.

Tokens are (B, T, h, w, C) on a grid of 7x7 patches with stride 3 over the 1/4-scale
features. Attention runs in 5x9 token windows over all frames, each window also attending to
its rolled neighbours and to window-pooled (level-1) tokens of the whole frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KERNEL, STRIDE, PADDING = (7, 7), (3, 3), (3, 3)
WINDOW = (5, 9)
HEADS = 4
MLP_HIDDEN = 1960
_MASKED = -100.0


def token_grid(feature_hw: tuple[int, int]) -> tuple[int, int]:
    """Token rows and columns of the soft split of a feature map of this size."""
    return tuple(
        (side + 2 * p - (k - 1) - 1) // s + 1
        for side, k, s, p in zip(feature_hw, KERNEL, STRIDE, PADDING, strict=True)
    )


class SoftSplit(nn.Module):
    """Overlapping 7x7 patches of the features -> tokens (Linear 6272 -> hidden)."""

    def __init__(self, channel: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Linear(KERNEL[0] * KERNEL[1] * channel, hidden)

    def forward(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        """(B*T, C, H, W) -> (B, T, h, w, hidden)."""
        rows, cols = token_grid(x.shape[-2:])
        feat = F.unfold(x, KERNEL, stride=STRIDE, padding=PADDING).permute(0, 2, 1)
        feat = self.embedding(feat)
        return feat.view(batch, -1, rows, cols, feat.size(2))


class SoftComp(nn.Module):
    """Tokens -> overlapping patches folded back into features, plus a bias.

    The CVPR model adds a learned fixed (C, 60, 108) bias (so it only takes 240x432 input);
    the HQ model passes the folded map through a 3x3 convolution instead (any size).
    """

    def __init__(self, channel: int, hidden: int, hq: bool) -> None:
        super().__init__()
        self.embedding = nn.Linear(hidden, KERNEL[0] * KERNEL[1] * channel)
        self.hq = hq
        if hq:
            self.bias_conv = nn.Conv2d(channel, channel, 3, 1, 1)
        else:
            self.bias = nn.Parameter(torch.zeros(channel, 60, 108))

    def forward(self, x: torch.Tensor, frames: int, feature_hw: tuple[int, int]) -> torch.Tensor:
        """(B, T, h, w, hidden) -> (B*T, C, H, W)."""
        feat = self.embedding(x.reshape(x.shape[0], -1, x.shape[-1]))
        feat = feat.view(x.shape[0] * frames, -1, feat.shape[-1]).permute(0, 2, 1)
        folded = F.fold(feat, feature_hw, KERNEL, stride=STRIDE, padding=PADDING)
        if self.hq:
            return self.bias_conv(folded)
        return folded + self.bias[None]


class FusionFeedForward(nn.Module):
    """F3N: Linear to 1960, overlap-averaged through fold/unfold, GELU, Linear back."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Linear(dim, MLP_HIDDEN))
        self.conv2 = nn.Sequential(nn.GELU(), nn.Linear(MLP_HIDDEN, dim))

    def forward(self, x: torch.Tensor, tokens: int, feature_hw: tuple[int, int]) -> torch.Tensor:
        """(B, T*tokens, dim) -> same shape."""
        x = self.conv1(x)
        b, n, c = x.shape
        patches = KERNEL[0] * KERNEL[1]
        ones = x.new_ones(b, n, patches).view(-1, tokens, patches).permute(0, 2, 1)
        fold = {"kernel_size": KERNEL, "stride": STRIDE, "padding": PADDING}
        summed = F.fold(x.view(-1, tokens, c).permute(0, 2, 1), feature_hw, **fold)
        counts = F.fold(ones, feature_hw, **fold)
        x = F.unfold(summed / counts, **fold).permute(0, 2, 1).contiguous().view(b, n, c)
        return self.conv2(x)


def window_partition(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """(B, T, H, W, C) -> (B*windows, T*wh*ww, C), windows in row-major order."""
    b, t, h, w, c = x.shape
    x = x.view(b, t, h // window[0], window[0], w // window[1], window[1], c)
    return x.permute(0, 2, 4, 1, 3, 5, 6).contiguous().view(-1, t * window[0] * window[1], c)


def window_reverse(windows: torch.Tensor, window: tuple[int, int], t: int, h: int, w: int):
    """(B*windows, T, wh, ww, C) -> (B, T, H, W, C)."""
    b = int(windows.shape[0] / (h * w / window[0] / window[1]))
    x = windows.view(b, h // window[0], w // window[1], t, window[0], window[1], -1)
    return x.permute(0, 3, 1, 4, 2, 5, 6).contiguous().view(b, t, h, w, -1)


def _rolled_indices(window: tuple[int, int], expand: tuple[int, int]) -> torch.Tensor:
    """Positions of the four rolled copies of a window that lie outside the window itself."""
    masks = []
    for rows, cols in (
        (slice(None, -expand[0]), slice(None, -expand[1])),
        (slice(None, -expand[0]), slice(expand[1], None)),
        (slice(expand[0], None), slice(None, -expand[1])),
        (slice(expand[0], None), slice(expand[1], None)),
    ):
        mask = torch.ones(window)
        mask[rows, cols] = 0
        masks.append(mask)
    return torch.stack(masks, 0).flatten(0).nonzero(as_tuple=False).view(-1)


class WindowAttention(nn.Module):
    """Temporal focal window attention (focal level 2, "fc" pooling)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.expand = tuple(i // 2 for i in WINDOW)
        self.scale = (dim // HEADS) ** -0.5
        self.register_buffer("valid_ind_rolled", _rolled_indices(WINDOW, self.expand))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, windows: torch.Tensor, t: int) -> torch.Tensor:
        c = self.dim
        area = WINDOW[0] * WINDOW[1]
        return windows.view(-1, t, area, HEADS, c // HEADS)

    def forward(self, x: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """X (B, T, H, W, C) tokens, pooled (B, nWh, nWw, T, C) -> (B*windows, T*area, C)."""
        b, t, _, _, c = x.shape
        hd = c // HEADS
        area = WINDOW[0] * WINDOW[1]
        q, k, v = self.qkv(x).reshape(*x.shape[:4], 3, c).permute(4, 0, 1, 2, 3, 5).contiguous()
        q_win, k_win, v_win = (
            self._heads(window_partition(z, WINDOW), t)
            .permute(0, 3, 1, 2, 4)
            .contiguous()
            .view(-1, HEADS, t * area, hd)
            for z in (q, k, v)
        )
        ey, ex = self.expand
        shifts = ((-ey, -ex), (-ey, ex), (ey, -ex), (ey, ex))
        k_rolled, v_rolled = (
            torch.cat((own, self._rolled(z, shifts, t)), 2) for own, z in ((k_win, k), (v_win, v))
        )
        k_pool, v_pool, pool_mask = self._pooled(pooled, b, t)
        k_all = torch.cat([k_rolled, k_pool], 2)
        v_all = torch.cat([v_rolled, v_pool], 2)
        attn = (q_win * self.scale) @ k_all.transpose(-2, -1)
        span = t * area
        pooled_keys = slice(k_rolled.shape[2], k_rolled.shape[2] + span)
        per_window = pool_mask[:, :, None, None, :].repeat(
            attn.shape[0] // pool_mask.shape[1], 1, 1, 1, 1
        )
        attn[:, :, :span, pooled_keys] = attn[:, :, :span, pooled_keys] + per_window.view(
            -1, 1, 1, pool_mask.shape[-1]
        )
        attn = torch.softmax(attn, dim=-1)
        out = (attn @ v_all).transpose(1, 2).reshape(attn.shape[0], span, c)
        return self.proj(out)

    def _rolled(self, z: torch.Tensor, shifts, t: int) -> torch.Tensor:
        """Keys (or values) of the four rolled neighbours of each window, outside the window."""
        hd = self.dim // HEADS
        parts = [
            self._heads(window_partition(torch.roll(z, s, dims=(2, 3)), WINDOW), t) for s in shifts
        ]
        cat = torch.cat(parts, 2).permute(0, 3, 1, 2, 4).contiguous()
        cat = cat[:, :, :, self.valid_ind_rolled]
        return cat.view(-1, HEADS, t * cat.shape[3], hd)

    def _pooled(self, pooled: torch.Tensor, b: int, t: int):
        """Keys and values of the pooled tokens around each window, and their padding mask."""
        c = self.dim
        hd = c // HEADS
        tokens = pooled.permute(0, 3, 1, 2, 4).contiguous()  # B, T, nWh, nWw, C
        n_wh, n_ww = tokens.shape[2:4]
        kernel = WINDOW
        padding = tuple(i // 2 for i in kernel)
        ones = tokens.new_ones(t, 1, n_wh, n_ww)
        mask = F.unfold(ones, kernel, padding=padding).view(1, t, *kernel, -1)
        mask = mask.permute(4, 1, 2, 3, 0).contiguous().view(n_wh * n_ww, -1, 1)
        mask = mask.flatten(1).unsqueeze(0)
        mask = mask.masked_fill(mask == 0, _MASKED).masked_fill(mask > 0, 0.0)
        qkv = self.qkv(tokens).reshape(b, t, n_wh, n_ww, 3, c).permute(4, 0, 1, 5, 2, 3)
        qkv = qkv.reshape(3, -1, c, n_wh, n_ww).contiguous()
        out = []
        for z in (qkv[1], qkv[2]):
            z = F.unfold(z, kernel, padding=padding).view(b, t, c, *kernel, -1)
            z = z.permute(0, 5, 1, 3, 4, 2).contiguous()
            z = z.view(-1, t, kernel[0] * kernel[1], HEADS, hd).permute(0, 3, 1, 2, 4)
            out.append(z.contiguous().view(-1, HEADS, t * kernel[0] * kernel[1], hd))
        return out[0], out[1], mask


class TemporalFocalTransformerBlock(nn.Module):
    """Focal window attention over all frames, then the F3N feed-forward."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pool_layers = nn.ModuleList([nn.Linear(WINDOW[0] * WINDOW[1], 1)])
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = FusionFeedForward(dim)

    def forward(self, x: torch.Tensor, feature_hw: tuple[int, int]) -> torch.Tensor:
        """(B, T, h, w, C) tokens -> same shape."""
        b, t, h, w, c = x.shape
        normed = self.norm1(x)
        pooled = self.pool_layers[0](self._level_windows(normed)).flatten(-2)
        attended = self.attn(normed, pooled).view(-1, t, WINDOW[0], WINDOW[1], c)
        x = x + window_reverse(attended, WINDOW, t, h, w)
        y = self.norm2(x)
        return x + self.mlp(y.view(b, t * h * w, c), h * w, feature_hw).view(b, t, h, w, c)

    @staticmethod
    def _level_windows(x: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, C) zero-padded (centred) to whole windows -> (B, nWh, nWw, T, C, area)."""
        b, t, h, w, c = x.shape
        h_pool = -(-h // WINDOW[0]) * WINDOW[0]
        w_pool = -(-w // WINDOW[1]) * WINDOW[1]
        top, left = (h_pool - h) // 2, (w_pool - w) // 2
        x = F.pad(x, (0, 0, left, w_pool - w - left, top, h_pool - h - top))
        n_wh, n_ww = h_pool // WINDOW[0], w_pool // WINDOW[1]
        x = x.contiguous().view(b, t, n_wh, WINDOW[0], n_ww, WINDOW[1], c)
        x = x.permute(0, 2, 4, 1, 3, 5, 6).contiguous()
        return x.view(b, n_wh, n_ww, t, WINDOW[0] * WINDOW[1], c).transpose(4, 5)
