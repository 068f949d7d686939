"""prog-GAN: the progressive GAN generator and discriminator as the paper conditions them.

Architecture of PGGAN (Karras et al. 2018, NVIDIA's progressive_growing_of_gans, ``G_paper`` /
``D_paper``), which the paper forks (paper-spec §3.2): equalised LR, pixel norm, leaky ReLU 0.2,
minibatch stddev (group 4) in D, nearest-neighbour up- and box down-sampling. Conditioning is
AC-GAN: G gets the multi-hot label vector concatenated to z, pixel-normalised together; D returns
1 + L logits, a critic score and L label logits.

Growing. Both networks hold every level from 4x4 to the target resolution, each with its own
toRGB (G) or fromRGB (D). ``lod`` (level of detail) is the number of levels below full resolution:
lod 0 uses every level, lod 1 stops one level short, and a fractional lod blends the finest
running level with the one below it, weight ``lod - floor(lod)`` on the coarser path (PGGAN's
fade-in). Images enter and leave at full resolution whatever the lod (coarse images are
upsampled by pixel repetition), and only the levels the lod needs are computed, as PGGAN's
'recursive' structure. :func:`lod_at` gives the paper's schedule; :func:`fade_reals` treats the
real images the same way so that D sees reals and fakes at the same level of detail.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthmed.gan.layers import (
    DiscriminatorOutput,
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    downsample_box,
    leaky_relu,
    pixel_norm,
    stage_channels,
    upsample_nearest,
)

# PGGAN's tick length by current resolution; paper-spec §3.1: FID runs every 4 ticks.
TICK_KIMG = {4: 160, 8: 140, 16: 120, 32: 100, 64: 80, 128: 60, 256: 40, 512: 30, 1024: 20}


def _log2_exact(value: int, what: str) -> int:
    log2 = int(round(math.log2(value))) if value > 0 else -1
    if value < 4 or 2**log2 != value:
        raise ValueError(f"{what} must be a power of two >= 4, got {value}")
    return log2


# ----------------------------------------------------------------------------
# The growing schedule.


def lod_at(
    kimg: float,  # Thousands of real images shown to D so far.
    resolution: int,  # Target (full) resolution, a power of two.
    train_kimg: float,  # kimg spent training each level before the next fades in (PGGAN lod_training_kimg).
    transition_kimg: float,  # kimg over which the next level fades in (PGGAN lod_transition_kimg).
    initial_resolution: int = 8,  # Resolution at kimg 0 (paper-spec §3.2: growing starts at 8x8).
) -> float:
    """The level of detail at ``kimg``, exactly as PGGAN's ``TrainingSchedule`` computes it.

    Training alternates phases of ``train_kimg`` at a fixed level and ``transition_kimg`` in which
    lod falls linearly by 1; it starts at lod = log2(resolution / initial_resolution) and stays at 0
    once reached. Paper (32x32, 1400/1400 kimg, from 8x8): lod 2 until 1400 kimg, 1.5 at 2100,
    1 from 2800 to 4200, 0 from 5600 kimg on (paper-spec §3.2 table: "full res reached at").
    """
    if kimg < 0:
        raise ValueError(f"kimg must be >= 0, got {kimg}")
    if train_kimg < 0 or transition_kimg < 0 or train_kimg + transition_kimg <= 0:
        raise ValueError(
            f"train_kimg and transition_kimg must be >= 0 with a positive sum, got {train_kimg}, {transition_kimg}"
        )
    full_log2 = _log2_exact(resolution, "resolution")
    initial_log2 = _log2_exact(initial_resolution, "initial_resolution")
    if initial_log2 > full_log2:
        raise ValueError(f"initial_resolution {initial_resolution} is above the resolution {resolution}")
    phase_kimg_total = train_kimg + transition_kimg
    phase = math.floor(kimg / phase_kimg_total)
    kimg_in_phase = kimg - phase * phase_kimg_total
    lod = float(full_log2 - initial_log2 - phase)
    if transition_kimg > 0:
        lod -= max(kimg_in_phase - train_kimg, 0.0) / transition_kimg
    return max(lod, 0.0)


def full_resolution_kimg(
    resolution: int, train_kimg: float, transition_kimg: float, initial_resolution: int = 8
) -> float:
    """The kimg at which :func:`lod_at` first reaches 0 (paper: 5600 at 32x32, 6000 at 64, 8000 at 128)."""
    levels = _log2_exact(resolution, "resolution") - _log2_exact(initial_resolution, "initial_resolution")
    return max(levels, 0) * (train_kimg + transition_kimg)


def resolution_at(lod: float, resolution: int) -> int:
    """Resolution of the finest level running at ``lod`` (during a fade-in, the new level's).

    As PGGAN's schedule: ``2 ** (log2(resolution) - floor(lod))``; it keys the minibatch size.
    """
    if lod < 0:
        raise ValueError(f"lod must be >= 0, got {lod}")
    return resolution // 2 ** math.floor(lod)


def fade_reals(images: torch.Tensor, lod: float) -> torch.Tensor:
    """Real images at the level of detail ``lod``, returned at full resolution.

    images: [N, C, R, R] -> [N, C, R, R]. PGGAN's ``process_reals``: box-average to the level's
    resolution, blend with the next coarser level by ``lod - floor(lod)`` (the fade-in weight G and
    D also use), then repeat pixels back to R x R.
    """
    level = math.floor(lod)
    alpha = lod - level
    x = downsample_box(images, 2**level)  # [N, C, R / 2**level, ...]
    if alpha > 0:
        coarser = upsample_nearest(downsample_box(x, 2), 2)
        x = torch.lerp(x, coarser, alpha)
    return upsample_nearest(x, 2**level)  # [N, C, R, R]


# ----------------------------------------------------------------------------
# Generator.


class ProGInputBlock(nn.Module):
    """4x4 level: [N, latent + L] (already pixel-normed) -> dense -> [N, C4, 4, 4] -> conv 3x3."""

    def __init__(self, in_features: int, channels: int) -> None:
        super().__init__()
        self.channels = channels
        # PGGAN overrides the gain to sqrt(2)/4 here "to match the original Theano implementation".
        self.dense = EqualizedLinear(in_features, channels * 16, gain=math.sqrt(2) / 4)
        self.conv = EqualizedConv2d(channels, channels, 3)

    def forward(self, combo: torch.Tensor) -> torch.Tensor:
        x = self.dense(combo).view(-1, self.channels, 4, 4)  # [N, C4, 4, 4]
        x = pixel_norm(leaky_relu(x))
        return pixel_norm(leaky_relu(self.conv(x)))  # [N, C4, 4, 4]


class ProGBlock(nn.Module):
    """One level up: [N, Cin, r, r] -> nearest 2x -> conv 3x3 -> conv 3x3 -> [N, Cout, 2r, 2r]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # Upsample-then-conv equals PGGAN's fused upscale2d_conv2d (a stride-2 transposed conv).
        self.conv0 = EqualizedConv2d(in_channels, out_channels, 3)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(leaky_relu(self.conv0(upsample_nearest(x))))
        return pixel_norm(leaky_relu(self.conv1(x)))


class ProGenerator(nn.Module):
    """prog-GAN generator: (z [N, latent], labels [N, L], lod) -> images [N, channels, R, R], linear output.

    Reals are scaled to [-1, 1] (paper-spec §3.1); the output is not clipped, as PGGAN's.
    """

    grows = True

    def __init__(
        self,
        *,
        resolution: int,  # Output resolution R, a power of two >= 8.
        n_labels: int,  # Length L of the multi-hot label vector, >= 1.
        channels: int = 1,  # Image channels (1: the paper's grayscale images).
        latent: int = 512,  # Length of z (paper-spec §3.2: 512).
        fmap_base: int = 8192,  # Width rule nf(stage) = min(fmap_base / 2**stage, fmap_max) (paper 8192).
        fmap_max: int = 512,  # Widest feature map (paper 512).
    ) -> None:
        super().__init__()
        log2 = _log2_exact(resolution, "resolution")
        if resolution < 8 or n_labels < 1 or channels < 1 or latent < 1:
            raise ValueError(
                f"ProGenerator needs resolution >= 8 and positive n_labels, channels, latent; got "
                f"resolution={resolution}, n_labels={n_labels}, channels={channels}, latent={latent}"
            )
        self.resolution = resolution
        self.n_labels = n_labels
        self.channels = channels
        self.latent = latent
        self.max_lod = log2 - 2  # lod at which only the 4x4 level runs

        def nf(stage: int) -> int:
            return stage_channels(stage, fmap_base, fmap_max)

        # Level k works at 4 * 2**k pixels with nf(k + 1) channels (PGGAN: res 2**r has nf(r - 1)).
        blocks: list[nn.Module] = [ProGInputBlock(latent + n_labels, nf(1))]
        blocks += [ProGBlock(nf(k), nf(k + 1)) for k in range(1, self.max_lod + 1)]
        self.blocks = nn.ModuleList(blocks)
        self.to_rgb = nn.ModuleList(EqualizedConv2d(nf(k + 1), channels, 1, gain=1.0) for k in range(self.max_lod + 1))

    def forward(self, z: torch.Tensor, labels: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        N = z.shape[0]
        if z.shape != (N, self.latent) or labels.shape != (N, self.n_labels):
            raise ValueError(
                f"ProGenerator expected z [N, {self.latent}] and labels [N, {self.n_labels}]; "
                f"got {list(z.shape)} and {list(labels.shape)}"
            )
        _check_lod(lod, self.max_lod)
        level = math.floor(lod)
        alpha = lod - level  # weight of the coarser path during a fade-in
        top = self.max_lod - level  # finest level to run

        x = pixel_norm(torch.cat([z, labels.to(z.dtype)], dim=1))  # [N, latent + L]
        before_top = x
        for k in range(top + 1):
            before_top = x
            x = self.blocks[k](x)  # [N, nf(k + 1), 4 * 2**k, 4 * 2**k]
        images = self.to_rgb[top](x)  # [N, channels, r, r], r = R / 2**level
        if alpha > 0:  # fade-in: alpha > 0 implies level < max_lod, so top >= 1
            coarser = upsample_nearest(self.to_rgb[top - 1](before_top))  # [N, channels, r, r]
            images = torch.lerp(images, coarser, alpha)
        return upsample_nearest(images, 2**level)  # [N, channels, R, R]


# ----------------------------------------------------------------------------
# Discriminator.


class ProDBlock(nn.Module):
    """One level down: [N, Cin, r, r] -> conv 3x3 -> conv 3x3 -> 2x2 box average -> [N, Cout, r/2, r/2]."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        # Conv-then-average equals PGGAN's fused conv2d_downscale2d.
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky_relu(self.conv0(x))
        return downsample_box(leaky_relu(self.conv1(x)))


class ProDOutputBlock(nn.Module):
    """4x4 level: [N, C4, 4, 4] -> minibatch stddev -> conv 3x3 -> dense -> dense -> [N, 1 + L]."""

    def __init__(self, in_channels: int, hidden: int, n_outputs: int, mbstd_group: int) -> None:
        super().__init__()
        self.mbstd = MinibatchStddev(mbstd_group, 1)
        self.conv = EqualizedConv2d(in_channels + 1, in_channels, 3)
        self.dense0 = EqualizedLinear(in_channels * 16, hidden)
        self.dense1 = EqualizedLinear(hidden, n_outputs, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky_relu(self.conv(self.mbstd(x)))  # [N, C4, 4, 4]
        x = leaky_relu(self.dense0(x.flatten(1)))  # [N, hidden]
        return self.dense1(x)  # [N, 1 + L]


class ProDiscriminator(nn.Module):
    """prog-GAN discriminator: (images [N, channels, R, R], lod) -> score [N] and label logits [N, L].

    ``labels`` is accepted so both discriminators share one call signature, and ignored: this D
    predicts the labels (auxiliary classifier) rather than reading them.
    """

    grows = True

    def __init__(
        self,
        *,
        resolution: int,  # Input resolution R, a power of two >= 8.
        n_labels: int,  # Length L of the label vector = number of label logits, >= 1.
        channels: int = 1,  # Image channels.
        fmap_base: int = 8192,  # Width rule as the generator's (paper 8192).
        fmap_max: int = 512,  # Widest feature map (paper 512).
        mbstd_group: int = 4,  # Minibatch-stddev group size (paper-spec §3.2: 4).
    ) -> None:
        super().__init__()
        log2 = _log2_exact(resolution, "resolution")
        if resolution < 8 or n_labels < 1 or channels < 1:
            raise ValueError(
                f"ProDiscriminator needs resolution >= 8 and positive n_labels, channels; got "
                f"resolution={resolution}, n_labels={n_labels}, channels={channels}"
            )
        self.resolution = resolution
        self.n_labels = n_labels
        self.channels = channels
        self.max_lod = log2 - 2

        def nf(stage: int) -> int:
            return stage_channels(stage, fmap_base, fmap_max)

        # Level k reads 4 * 2**k pixels with nf(k + 1) channels and hands nf(k) channels down.
        blocks: list[nn.Module] = [ProDOutputBlock(nf(1), nf(0), 1 + n_labels, mbstd_group)]
        blocks += [ProDBlock(nf(k + 1), nf(k)) for k in range(1, self.max_lod + 1)]
        self.blocks = nn.ModuleList(blocks)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(channels, nf(k + 1), 1) for k in range(self.max_lod + 1))

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor | None = None, lod: float = 0.0
    ) -> DiscriminatorOutput:
        R = self.resolution
        if images.ndim != 4 or images.shape[1:] != (self.channels, R, R):
            raise ValueError(
                f"ProDiscriminator expected images [N, {self.channels}, {R}, {R}]; got {list(images.shape)}"
            )
        _check_lod(lod, self.max_lod)
        level = math.floor(lod)
        alpha = lod - level
        top = self.max_lod - level

        level_images = downsample_box(images, 2**level)  # [N, channels, r, r]
        x = self.blocks[top](leaky_relu(self.from_rgb[top](level_images)))
        if alpha > 0:  # fade-in: blend with the coarser level's fromRGB of the 2x smaller image
            coarser = leaky_relu(self.from_rgb[top - 1](downsample_box(level_images)))
            x = torch.lerp(x, coarser, alpha)
        for k in range(top - 1, -1, -1):
            x = self.blocks[k](x)
        # x: [N, 1 + L]
        return DiscriminatorOutput(score=x[:, 0], label_logits=x[:, 1:])


def _check_lod(lod: float, max_lod: int) -> None:
    if not 0.0 <= lod <= max_lod:
        raise ValueError(f"lod must lie in [0, {max_lod}] (0 = full resolution, {max_lod} = 4x4), got {lod}")
