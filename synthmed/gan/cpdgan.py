"""cpD-GAN: a non-growing conditional GAN with conditional pixel norm and a projection-style D.

paper-spec §3.3. The layers follow the paper's TensorFlow code, ``GAN_cpd/networks.py`` of
AugustDS/synthetic-medical-benchmark (read at commit d2a29fa), itself adapted from Karras et al.'s
code; the names below are that file's functions and variable scopes. Our PyTorch is written anew.

Conventions (``get_weight``, ``dense_layer``, ``conv2d_layer``, ``apply_bias``, ``leaky_relu``): every
weight has an equalised learning rate, scaled at run time by gain / sqrt(fan_in) with
``fan_in = prod(shape[:-1])`` of the TF weight; every bias starts at 0; leaky ReLU has slope 0.2 and
NO sqrt(2) gain. The gain is 1 for the ordinary convs, the dense layers, toRGB and fromRGB, and
sqrt(2) (the default of ``upscale2d_conv2d`` and ``conv2d_downscale2d``, which ``conv2d_layer`` does not
override) for the up- and down-sampling convs. Resampling is nearest-neighbour up (``upscale2d``)
and 2x2 box-average down (``downscale2d``), fused into the convs as the original does; there is no
[1, 3, 3, 1] filter.

Generator (``G_paper``, architecture 'skip'; no mapping network, modulation or noise):

* ``combo_in`` = [z ⊕ y]. Only the input of the first dense layer is pixel-normalised
  (``normalize_latents``); ``conditional_pixel_norm`` (our :class:`ConditionalPixelNorm`, one per
  layer) computes its gamma and beta from the RAW ``combo_in`` and returns
  ``pixel_norm(x) * gamma + beta``.
* '4x4': 'Dense' = ``dense_layer`` to nf(1) * 16 (gain 1, no bias), reshaped to [nf(1), 4, 4], then
  one bias per channel, lrelu, conditional pixel norm; 'Conv' = 3x3 conv + bias, lrelu, conditional
  pixel norm; then ``torgb``.
* ``block`` (:class:`CpdConvLayer` twice): 'Conv0_up' = ``conv2d_layer(up=True)`` =
  ``upscale2d_conv2d`` (our :class:`~synthmed.gan.layers.EqualizedUpConv2d`), computed as there: a
  stride-2 transposed conv, padding 1, whose 4x4 kernel is the 3x3 kernel zero-padded and summed
  over its four 1-pixel shifts. It equals nearest-neighbour 2x up-sampling followed by a 3x3 conv
  with the kernel mirrored, at 16 instead of 36 multiply-adds per input pixel and channel pair.
  Its weight is stored as the TF weight [k, k, fmaps_out, fmaps_in] transposed ([C_in, C_out, 3, 3]),
  its gain is sqrt(2), and it has a quirk we reproduce: ``get_weight`` takes fan_in from that
  shape, 9 * C_out instead of 9 * C_in. 'Conv1' = 3x3 conv, gain 1. Each is followed by bias,
  lrelu and conditional pixel norm.
* ``torgb`` = 1x1 conv + bias, gain 1, no activation, at every resolution from 4x4; the image sum
  is carried up with ``upscale2d`` (nearest): ``y = upscale2d(y) + torgb(x)``.

Discriminator (``D_paper``, architecture 'resnet'):

* ``fromrgb`` once, at full resolution: 1x1 conv + bias, lrelu.
* ``block`` (:class:`CpdResBlock`), full resolution down to 8x8: 'Conv0' = 3x3 conv + bias, lrelu;
  'Conv1_down' = ``conv2d_layer(down=True)`` = ``conv2d_downscale2d`` (our
  :class:`~synthmed.gan.layers.EqualizedDownConv2d`), computed as there: a stride-2 conv, padding 1,
  whose 4x4 kernel is the 3x3 kernel zero-padded and averaged over its four 1-pixel shifts. It
  equals a 3x3 conv at full resolution then a 2x2 box average, at 16 instead of 36 multiply-adds
  per output pixel and channel pair; gain sqrt(2), fan_in 9 * C_in; + bias, lrelu. 'Skip' =
  ``conv2d_downscale2d`` with kernel 1, whose fused kernel is the 1x1 weight over a 2x2 window
  times 1/4, i.e. a 1x1 conv (gain sqrt(2), no bias) and a 2x2 box average; we average first and
  then apply the 1x1 conv, the same map at a quarter of the multiplies. The sum is scaled by
  1/sqrt(2).
* '4x4': ``minibatch_stddev_layer`` (group 4, 1 feature); 'Conv' = 3x3 conv + bias, lrelu; 'Dense0' =
  dense to nf(0) + bias, lrelu. 'Output' = dense (with bias) to one value per label; the score is
  their sum weighted by the multi-hot labels (Mescheder et al. 2018, "Which Training Methods for
  GANs do actually Converge?"), with no unconditional term.

Widths: ``nf(stage) = clip(fmap_base / 2**stage, 1, fmap_max)`` as there (:func:`stage_channels`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthmed.gan.layers import (
    ConditionalPixelNorm,
    DiscriminatorOutput,
    EqualizedConv2d,
    EqualizedDownConv2d,
    EqualizedLinear,
    EqualizedUpConv2d,
    MinibatchStddev,
    downsample_box,
    leaky_relu,
    pixel_norm,
    stage_channels,
    upsample_nearest,
)

# Weight gain of the up- and down-sampling convs: the default gain of the original's
# upscale2d_conv2d and conv2d_downscale2d. Every other cpD-GAN layer has gain 1.
RESAMPLE_GAIN = math.sqrt(2.0)


def _levels(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else -1
    if resolution < 8 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    return log2 - 2  # levels above 4x4


# ----------------------------------------------------------------------------
# Generator.


class CpdConvLayer(nn.Module):
    """[N, Cin, r, r] -> conv 3x3 (fused with a nearest 2x up if ``up``) + bias -> lrelu -> conditional pixel norm.

    G_paper's 'Conv0_up' (``up=True``: ``upscale2d_conv2d``, out [N, Cout, 2r, 2r]) or
    'Conv1'/'4x4/Conv' (``up=False``).
    """

    def __init__(self, in_channels: int, out_channels: int, cond_features: int, *, up: bool) -> None:
        super().__init__()
        self.up = up
        self.conv: EqualizedUpConv2d | EqualizedConv2d
        if up:
            # upscale2d_conv2d: a stride-2 transposed conv, gain sqrt(2), fan_in 9 * C_OUT (the original's quirk).
            self.conv = EqualizedUpConv2d(in_channels, out_channels, 3, gain=RESAMPLE_GAIN)
        else:
            self.conv = EqualizedConv2d(in_channels, out_channels, 3, gain=1.0)
        self.norm = ConditionalPixelNorm(out_channels, cond_features)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # cond: [N, latent + L], the raw [z ⊕ y].
        return self.norm(leaky_relu(self.conv(x)), cond)  # [N, Cout, 2r (up) or r, ...]


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

        # 4x4 'Dense': pixel_norm([z ⊕ y]) -> dense (gain 1) -> [C4, 4, 4] + per-channel bias -> lrelu -> CPN.
        self.c4 = nf(1)
        self.dense = EqualizedLinear(cond, self.c4 * 16, bias=False, gain=1.0)
        self.dense_bias = nn.Parameter(torch.zeros(self.c4))  # apply_bias after the reshape: one per channel
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
        # combo_in: conditional pixel norm reads it raw; only the dense layer's input is pixel-normed.
        cond = torch.cat([z, labels.to(z.dtype)], dim=1)  # [N, latent + L]

        x = self.dense(pixel_norm(cond)).view(N, self.c4, 4, 4)  # [N, C4, 4, 4]
        x = self.dense_norm(leaky_relu(x + self.dense_bias.to(x.dtype)[:, None, None]), cond)  # bf16-safe
        x = self.conv4(x, cond)
        images = self.to_rgb[0](x)  # [N, channels, 4, 4]
        for k, (conv0, conv1) in enumerate(self.blocks, start=1):
            x = conv1(conv0(x, cond), cond)  # [N, nf(k + 1), 4 * 2**k, 4 * 2**k]
            images = upsample_nearest(images) + self.to_rgb[k](x)  # skip: sum of every level's toRGB
        return images  # [N, channels, R, R]


# ----------------------------------------------------------------------------
# Discriminator.


class CpdResBlock(nn.Module):
    """[N, Cin, r, r] -> [N, Cout, r/2, r/2]: D_paper's ``block`` ('Conv0', 'Conv1_down', 'Skip').

    conv 3x3 -> lrelu -> fused conv 3x3 and 2x2 mean (stride-2 4x4 conv, gain sqrt 2) -> lrelu, plus a
    1x1 skip (gain sqrt 2, no bias) of the 2x2 mean; the sum is scaled by 1/sqrt(2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, gain=1.0)
        self.conv1 = EqualizedDownConv2d(in_channels, out_channels, 3, gain=RESAMPLE_GAIN)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=RESAMPLE_GAIN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # 'Skip' is conv2d_downscale2d with kernel 1: a 1x1 conv and the 2x2 mean. Both are linear and
        # per pixel/per channel, so they commute, and averaging first costs a quarter of the multiplies.
        skip = self.skip(downsample_box(x))  # [N, Cout, r/2, r/2]
        x = leaky_relu(self.conv0(x))  # [N, Cin, r, r]
        x = leaky_relu(self.conv1(x))  # 'Conv1_down', conv2d_downscale2d: [N, Cout, r/2, r/2]
        return (x + skip) * (1 / math.sqrt(2))  # keeps unit variance


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

        self.from_rgb = EqualizedConv2d(channels, nf(levels + 1), 1, gain=1.0)  # fromrgb, full resolution only
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
        x = leaky_relu(self.from_rgb(images))  # [N, nf(levels + 1), R, R]
        for block in self.blocks:
            x = block(x)  # halves the resolution down to [N, nf(1), 4, 4]
        x = leaky_relu(self.conv4(self.mbstd(x)))  # [N, nf(1), 4, 4]
        x = leaky_relu(self.dense(x.flatten(1)))  # [N, nf(0)]
        per_label = self.out(x)  # [N, L]
        score = (per_label * labels.to(per_label.dtype)).sum(dim=1)  # [N]; projection, no unconditional term
        return DiscriminatorOutput(score=score, label_logits=None)
