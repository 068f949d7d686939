"""The denoising network: a small U-Net that predicts the noise in an image, given its timestep and label vector.

In the family of Ho et al. 2020 (DDPM, their appendix B): residual blocks with group norm and SiLU at
each resolution, a sinusoidal timestep embedding through a two-layer MLP added into every block,
self-attention at chosen resolutions and in the middle, and skip connections from each level of the
down path to the same level of the up path. Written for this project (one grayscale channel, any
power-of-two size from 8 px); the conditioning is ours:

- The multi-hot label vector y (L,) enters through a learned linear projection ``W y + b`` of the
  embedding's width, so any combination of findings can be asked for, including combinations never
  seen in training and the all-zero "no finding" vector (it embeds to ``b``).
- A separate learned vector ``null`` stands for "no label", the unconditional model of classifier-free
  guidance (Ho & Salimans 2022): rows with ``uncond`` set use it instead of ``W y + b``.
- Timestep and label embeddings are summed and reach every residual block as a per-channel bias.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer sinusoids of integer timesteps t (B,) -> (B, dim): cos in the first half, sin in the second."""
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.float()[:, None] * frequencies[None]
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    return F.pad(embedding, (0, 1)) if dim % 2 else embedding


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)  # as many groups as divide the channels


class ResBlock(nn.Module):
    """norm-SiLU-conv, + embedding bias, norm-SiLU-dropout-conv (zero-initialised), + skip (1x1 conv if widths
    differ)."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, dropout: float, groups: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(in_ch, groups), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2, self.conv2 = _norm(out_ch, groups), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity: a deep net trains from step 0
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, residual, output projection zero-initialised."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, C, H * W).transpose(-1, -2).unbind(1)  # each (B, HW, C)
        h = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]  # (B, HW, C)
        return x + self.out(h.transpose(-1, -2).reshape(B, C, H, W))


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): noise prediction [B, C, R, R] for noisy images x_t [B, C, R, R] at timesteps t (B,).

    ``labels`` (B, L) multi-hot floats; ``uncond`` (B,) bool marks rows that get the "no label"
    embedding instead (None: none do). ``labels=None`` is the unconditional model for every row.
    """

    def __init__(
        self,
        *,
        resolution: int,
        n_labels: int,
        channels: int = 1,
        width: int = 64,  # channels at full resolution
        channel_mult: tuple[int, ...] = (1, 2, 2),  # width multiplier per level, full resolution first
        res_blocks: int = 2,  # residual blocks per level on the way down (one more on the way up)
        attention_resolutions: tuple[int, ...] = (),  # self-attention after the blocks at these sizes
        dropout: float = 0.0,
        norm_groups: int = 32,
    ) -> None:
        super().__init__()
        if resolution % 2 ** (len(channel_mult) - 1):
            raise ValueError(f"UNet: {resolution} px does not halve {len(channel_mult) - 1} times")
        self.resolution, self.n_labels, self.channels = resolution, n_labels, channels
        self.width = width
        emb_dim = 4 * width
        self.time_mlp = nn.Sequential(nn.Linear(width, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_proj = nn.Linear(n_labels, emb_dim)  # W y + b
        self.null = nn.Parameter(torch.zeros(emb_dim))  # "no label" (classifier-free guidance), learned

        self.input = nn.Conv2d(channels, width, 3, padding=1)
        self.down = nn.ModuleList()
        skips, ch, size = [width], width, resolution
        for level, mult in enumerate(channel_mult):
            for _ in range(res_blocks):
                self.down.append(ResBlock(ch, width * mult, emb_dim, dropout, norm_groups))
                ch = width * mult
                if size in attention_resolutions:
                    self.down.append(Attention(ch, norm_groups))
                skips.append(ch)
            if level < len(channel_mult) - 1:
                self.down.append(Downsample(ch))
                size //= 2
                skips.append(ch)
        self.middle = nn.ModuleList([ResBlock(ch, ch, emb_dim, dropout, norm_groups), Attention(ch, norm_groups),
                                     ResBlock(ch, ch, emb_dim, dropout, norm_groups)])
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), width * mult, emb_dim, dropout, norm_groups))
                ch = width * mult
                if size in attention_resolutions:
                    self.up.append(Attention(ch, norm_groups))
            if level > 0:
                self.up.append(Upsample(ch))
                size *= 2
        self.output = nn.Sequential(_norm(ch, norm_groups), nn.SiLU(), nn.Conv2d(ch, channels, 3, padding=1))
        nn.init.zeros_(self.output[-1].weight)  # predicts zero noise at initialisation
        nn.init.zeros_(self.output[-1].bias)

    def embed_labels(self, labels: torch.Tensor | None, uncond: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, emb_dim): ``W y + b`` per row, or ``null`` where ``uncond`` (every row when labels is None)."""
        null = self.null[None].expand(batch, -1)
        if labels is None:
            return null
        projected = self.label_proj(labels.to(self.null.dtype))
        return projected if uncond is None else torch.where(uncond[:, None], null, projected)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None,
                uncond: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_mlp(timestep_embedding(t, self.width)) + self.embed_labels(labels, uncond, len(x))
        h = self.input(x)
        hs = [h]
        for module in self.down:
            if isinstance(module, ResBlock):
                h = module(h, emb)
                hs.append(h)
            elif isinstance(module, Attention):
                h = module(h)
                hs[-1] = h  # the skip leaves after the level's attention
            else:
                h = module(h)
                hs.append(h)
        for module in self.middle:
            h = module(h, emb)
        for module in self.up:
            if isinstance(module, ResBlock):
                h = module(torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = module(h)
        return self.output(h)
