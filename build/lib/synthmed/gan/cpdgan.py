"""cpD-GAN: a non-growing conditional GAN with conditional pixel norm and a projection-style D.

paper-spec §3.3. Generator: StyleGAN2's 'skip' synthesis network (every resolution has a toRGB whose
output is upsampled and summed into the image) without mapping network, modulation or noise
inputs; its input [z ⊕ y] is pixel-normalised and a dense layer makes the 4x4 feature map.
After every conv (and the dense) comes conditional pixel norm, ``pixel_norm(x) * gamma + beta``
with per-channel gamma and beta projected from the same normalised [z ⊕ y].

Discriminator: StyleGAN2's 'resnet' D (residual blocks whose sum is scaled by 1/sqrt(2)), minibatch
stddev (group 4, 1 feature), and the output of Mescheder et al. 2018 ("Which Training Methods for
GANs do actually Converge?"): a dense layer gives one value per label and the score is their
inner product with the multi-hot label vector, with no unconditional term.

Layers follow StyleGAN2's conventions: equalised weights with gain 1 and leaky ReLU followed by a
sqrt(2) gain; resampling with the [1, 3, 3, 1] filter. Our down-sampling convs filter and
subsample first, then convolve at the lower resolution (StyleGAN2 filters, then convolves with
stride 2); the two differ only in where the 3x3 taps sit relative to the 2x2 pixel pairs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthmed.gan.layers import (
    LRELU_GAIN,
    ConditionalPixelNorm,
    DiscriminatorOutput,
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    downsample_fir,
    leaky_relu,
    pixel_norm,
    stage_channels,
    upsample_fir,
)


def _levels(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else -1
    if resolution < 8 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return log2 - 2  # levels above 4x4


# ----------------------------------------------------------------------------
# Generator.


class CpdConvLayer(nn.Module):
    """[N, Cin, r, r] -> (2x FIR upsample if ``up``) -> conv 3x3 -> lrelu * sqrt 2 -> conditional pixel norm."""

    def __init__(self, in_channels: int, out_channels: int, cond_features: int, *, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv = EqualizedConv2d(in_channels, out_channels, 3, gain=1.0)
        self.norm = ConditionalPixelNorm(out_channels, cond_features)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = upsample_fir(x)  # [N, Cin, 2r, 2r]
        return self.norm(leaky_relu(self.conv(x), LRELU_GAIN), cond)  # [N, Cout, r or 2r, ...]


class CpdGenerator(nn.Module):
    """cpD-GAN generator: (z [N, latent], labels [N, L]) -> images [N, channels, R, R], linear output."""

    grows = False

    def __init__(
        self,
        *,
        resolution: int,  # Output resolution R, a power of two >= 8.
        n_labels: int,  # Length L of the multi-hot label vector, >= 1.
        channels: int = 1,  # Image channels (1: the paper's grayscale images).
        latent: int = 512,  # Length of z (paper-spec §3.3: 512).
        fmap_base: int = 16384,  # Width rule nf(stage) = min(fmap_base / 2**stage, fmap_max) (paper 16384).
        fmap_max: int = 512,  # Widest feature map (paper 512).
    ) -> None:
        super().__init__()
        levels = _levels(resolution)
        if n_labels < 1 or channels < 1 or latent < 1:
            raise ValueError(
                f"CpdGenerator needs positive n_labels, channels, latent; got "
                f"n_labels={n_labels}, channels={channels}, latent={latent}"
            )
        self.resolution = resolution
        self.n_labels = n_labels
        self.channels = channels
        self.latent = latent
        self.max_lod = 0  # no growing
        cond = latent + n_labels

        def nf(stage: int) -> int:
            return stage_channels(stage, fmap_base, fmap_max)

        # 4x4: dense from [z ⊕ y] (StyleGAN2 'Dense' gain 1, lrelu * sqrt 2), then a 3x3 conv.
        self.c4 = nf(1)
        self.dense = EqualizedLinear(cond, self.c4 * 16, gain=1.0)
        self.dense_norm = ConditionalPixelNorm(self.c4, cond)
        self.conv4 = CpdConvLayer(self.c4, self.c4, cond, up=False)
        # Level k (k >= 1) works at 4 * 2**k pixels with nf(k + 1) channels.
        self.blocks = nn.ModuleList(
            nn.ModuleList(
                [CpdConvLayer(nf(k), nf(k + 1), cond, up=True), CpdConvLayer(nf(k + 1), nf(k + 1), cond, up=False)]
            )
            for k in range(1, levels + 1)
        )
        self.to_rgb = nn.ModuleList(EqualizedConv2d(nf(k + 1), channels, 1, gain=1.0) for k in range(levels + 1))

    def forward(self, z: torch.Tensor, labels: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        N = z.shape[0]
        if z.shape != (N, self.latent) or labels.shape != (N, self.n_labels):
            raise ValueError(
                f"CpdGenerator expected z [N, {self.latent}] and labels [N, {self.n_labels}]; "
                f"got {list(z.shape)} and {list(labels.shape)}"
            )
        if lod != 0:
            raise ValueError(f"cpD-GAN does not grow: lod must be 0, got {lod}")
        cond = pixel_norm(torch.cat([z, labels.to(z.dtype)], dim=1))  # [N, latent + L]

        x = self.dense(cond).view(N, self.c4, 4, 4)  # [N, C4, 4, 4]
        x = self.dense_norm(leaky_relu(x, LRELU_GAIN), cond)
        x = self.conv4(x, cond)
        images = self.to_rgb[0](x)  # [N, channels, 4, 4]
        for k, (conv0, conv1) in enumerate(self.blocks, start=1):
            x = conv1(conv0(x, cond), cond)  # [N, nf(k + 1), 4 * 2**k, 4 * 2**k]
            images = upsample_fir(images) + self.to_rgb[k](x)  # skip: sum of every level's toRGB
        return images  # [N, channels, R, R]


# ----------------------------------------------------------------------------
# Discriminator.


class CpdResBlock(nn.Module):
    """[N, Cin, r, r] -> [N, Cout, r/2, r/2]: conv, down + conv, plus a 1x1 skip; sum scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, gain=1.0)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, gain=1.0)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(downsample_fir(x))  # [N, Cout, r/2, r/2]
        x = leaky_relu(self.conv0(x), LRELU_GAIN)  # [N, Cin, r, r]
        x = leaky_relu(self.conv1(downsample_fir(x)), LRELU_GAIN)  # [N, Cout, r/2, r/2]
        return (x + skip) * (1 / math.sqrt(2))  # keeps unit variance (StyleGAN2 'resnet')


class CpdDiscriminator(nn.Module):
    """cpD-GAN discriminator: (images [N, channels, R, R], labels [N, L]) -> score [N] = <dense(x), labels>."""

    grows = False

    def __init__(
        self,
        *,
        resolution: int,  # Input resolution R, a power of two >= 8.
        n_labels: int,  # Length L of the multi-hot label vector, >= 1.
        channels: int = 1,  # Image channels.
        fmap_base: int = 16384,  # Width rule as the generator's (paper 16384).
        fmap_max: int = 512,  # Widest feature map (paper 512).
        mbstd_group: int = 4,  # Minibatch-stddev group size (paper-spec §3.3: 4, 1 feature).
    ) -> None:
        super().__init__()
        levels = _levels(resolution)
        if n_labels < 1 or channels < 1:
            raise ValueError(f"CpdDiscriminator needs positive n_labels, channels; got {n_labels}, {channels}")
        self.resolution = resolution
        self.n_labels = n_labels
        self.channels = channels
        self.max_lod = 0

        def nf(stage: int) -> int:
            return stage_channels(stage, fmap_base, fmap_max)

        self.from_rgb = EqualizedConv2d(channels, nf(levels + 1), 1, gain=1.0)
        # From the top level down to 8x8; level k hands nf(k) channels to the level below.
        self.blocks = nn.ModuleList(CpdResBlock(nf(k + 1), nf(k)) for k in range(levels, 0, -1))
        self.mbstd = MinibatchStddev(mbstd_group, 1)
        self.conv4 = EqualizedConv2d(nf(1) + 1, nf(1), 3, gain=1.0)
        self.dense = EqualizedLinear(nf(1) * 16, nf(0), gain=1.0)
        self.out = EqualizedLinear(nf(0), n_labels, gain=1.0)

    def forward(self, images: torch.Tensor, labels: torch.Tensor, lod: float = 0.0) -> DiscriminatorOutput:
        R = self.resolution
        N = images.shape[0]
        if images.ndim != 4 or images.shape[1:] != (self.channels, R, R) or labels.shape != (N, self.n_labels):
            raise ValueError(
                f"CpdDiscriminator expected images [N, {self.channels}, {R}, {R}] and labels "
                f"[N, {self.n_labels}]; got {list(images.shape)} and {list(labels.shape)}"
            )
        if lod != 0:
            raise ValueError(f"cpD-GAN does not grow: lod must be 0, got {lod}")
        x = leaky_relu(self.from_rgb(images), LRELU_GAIN)  # [N, nf(levels + 1), R, R]
        for block in self.blocks:
            x = block(x)  # halves the resolution down to [N, nf(1), 4, 4]
        x = leaky_relu(self.conv4(self.mbstd(x)), LRELU_GAIN)  # [N, nf(1), 4, 4]
        x = leaky_relu(self.dense(x.flatten(1)), LRELU_GAIN)  # [N, nf(0)]
        per_label = self.out(x)  # [N, L]
        score = (per_label * labels.to(per_label.dtype)).sum(dim=1)  # [N]; projection, no unconditional term
        return DiscriminatorOutput(score=score, label_logits=None)
