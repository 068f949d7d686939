"""Building blocks shared by prog-GAN and cpD-GAN.

Equalised learning rate (Karras et al. 2018, "Progressive Growing of GANs", §4.1): weights are stored
as N(0, 1) samples and multiplied at run time by ``gain * lr_multiplier / sqrt(fan_in)``, so Adam's
per-parameter step size is the same for every layer whatever its fan-in. Also here: cpD-GAN's fused
up-sampling and down-sampling convs, pixel norm, conditional pixel norm (cpD-GAN), minibatch standard
deviation, leaky ReLU 0.2, 2x nearest-neighbour up-sampling and box-average down-sampling, the
channel-width rule and the discriminator's output record.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2  # paper-spec §3.2: leaky ReLU 0.2 (both GANs)
LRELU_GAIN = math.sqrt(2.0)  # He gain for ReLU-like activations: PGGAN's default weight gain
PIXEL_NORM_EPS = 1e-8  # PGGAN's pixelnorm_epsilon
MBSTD_EPS = 1e-8  # PGGAN's minibatch_stddev_layer epsilon

# ----------------------------------------------------------------------------


class DiscriminatorOutput(NamedTuple):
    """What both discriminators return, so one loss and one training loop serve both."""

    score: torch.Tensor  # [N] critic score (WGAN: higher = more real)
    label_logits: torch.Tensor | None  # [N, L] auxiliary-classifier logits (prog-GAN); None for cpD-GAN


def stage_channels(stage: int, fmap_base: int, fmap_max: int) -> int:
    """Feature maps at a stage: ``min(fmap_base / 2**stage, fmap_max)``, at least 1.

    PGGAN and StyleGAN2 both use this rule (``nf(stage)``); the block working at 2**r x 2**r
    pixels has ``nf(r - 1)`` channels, so 4x4 has nf(1), 8x8 nf(2), 32x32 nf(4).
    """
    return max(1, min(int(fmap_base / 2.0**stage), fmap_max))


def leaky_relu(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Leaky ReLU with slope 0.2, times ``gain``.

    Both GANs use gain 1 (PGGAN's and cpD-GAN's ``leaky_relu``); StyleGAN2 would multiply by sqrt(2).
    """
    x = F.leaky_relu(x, LRELU_SLOPE)
    return x * gain if gain != 1.0 else x


# ----------------------------------------------------------------------------


class EqualizedLinear(nn.Module):
    """Dense layer with equalised learning rate: [N, in_features] -> [N, out_features]."""

    def __init__(
        self,
        in_features: int,  # Input features.
        out_features: int,  # Output features.
        *,
        bias: bool = True,  # Add a learned bias; False = no bias.
        bias_init: float = 0.0,  # Initial value of the bias as seen at run time.
        gain: float = LRELU_GAIN,  # Run-time weight scale is gain / sqrt(in_features) (PGGAN default sqrt 2).
        lr_multiplier: float = 1.0,  # Learning-rate multiplier; 1 = the optimiser's rate.
    ) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"EqualizedLinear needs positive sizes, got {in_features} -> {out_features}")
        self.in_features = in_features
        self.out_features = out_features
        # Stored as N(0, 1) / lr_multiplier; the run-time scale brings it back to N(0, gain^2 / fan_in).
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], bias_init / lr_multiplier)) if bias else None
        self.weight_gain = gain * lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        return F.linear(x, w, b)  # [N, out_features]

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, wgain={self.weight_gain:.4g}"


class EqualizedConv2d(nn.Module):
    """2-D convolution with equalised learning rate and 'same' padding: [N, Cin, H, W] -> [N, Cout, H, W]."""

    def __init__(
        self,
        in_channels: int,  # Input channels.
        out_channels: int,  # Output channels.
        kernel_size: int,  # Square kernel, odd (1 or 3 here) so 'same' padding is symmetric.
        *,
        bias: bool = True,  # Add a learned bias; False = no bias.
        bias_init: float = 0.0,  # Initial value of the bias as seen at run time.
        gain: float = LRELU_GAIN,  # Run-time weight scale is gain / sqrt(Cin * k * k).
        lr_multiplier: float = 1.0,  # Learning-rate multiplier; 1 = the optimiser's rate.
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"EqualizedConv2d needs an odd kernel for 'same' padding, got {kernel_size}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_channels], bias_init / lr_multiplier)) if bias else None
        self.weight_gain = gain * lr_multiplier / math.sqrt(in_channels * kernel_size * kernel_size)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        return F.conv2d(x, w, b, padding=self.padding)  # [N, Cout, H, W]

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, "
            f"bias={self.bias is not None}, wgain={self.weight_gain:.4g}"
        )


# ----------------------------------------------------------------------------
# cpD-GAN's fused resampling convs: the original's upscale2d_conv2d and conv2d_downscale2d.


def shift_sum_kernel(w: torch.Tensor) -> torch.Tensor:
    """[..., k, k] -> [..., k + 1, k + 1]: zero-pad by 1 pixel and add the four 1-pixel shifts.

    Each tap of the result is the sum of the (up to four) taps of ``w`` within one 2x2 window. A
    stride-2 conv with this kernel is a conv with ``w`` whose output is summed over 2x2 blocks; a
    stride-2 transposed conv with it is a transposed conv with ``w`` on a nearest-up-sampled grid.
    """
    p = F.pad(w, [1, 1, 1, 1])
    return p[..., 1:, 1:] + p[..., :-1, 1:] + p[..., 1:, :-1] + p[..., :-1, :-1]


class _FusedResampleConv2d(nn.Module):
    """What the two fused resampling convs share: an odd k x k weight with equalised learning rate
    (gain / sqrt(fan_in)), a bias starting at 0, and (k - 1) / 2 padding. Subclasses give the
    weight's layout and fan-in, and the forward pass."""

    direction = ""  # "up" or "down", for repr and errors

    def __init__(
        self,
        in_channels: int,  # Input channels.
        out_channels: int,  # Output channels.
        kernel_size: int,  # Square kernel before fusing, odd (3 here).
        *,
        bias: bool,
        gain: float,
        weight_shape: tuple[int, int],  # the weight's first two dims (its layout)
        fan_in_channels: int,  # fan_in = kernel_size**2 * this
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1 or in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"{type(self).__name__} needs positive channels and an odd kernel, got {in_channels} -> "
                f"{out_channels}, k={kernel_size}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.padding = (kernel_size - 1) // 2
        self.weight = nn.Parameter(torch.randn(*weight_shape, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.fan_in = fan_in_channels * kernel_size * kernel_size
        self.weight_gain = gain / math.sqrt(self.fan_in)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, k={self.kernel_size}, {self.direction}=2, "
            f"bias={self.bias is not None}, wgain={self.weight_gain:.4g}"
        )


class EqualizedUpConv2d(_FusedResampleConv2d):
    """Fused 2x nearest-neighbour up-sampling and conv: [N, Cin, H, W] -> [N, Cout, 2H, 2W].

    The original's ``upscale2d_conv2d``: a stride-2 transposed conv whose (k + 1) x (k + 1) kernel
    is :func:`shift_sum_kernel` of the k x k weight, padding (k - 1) / 2 (TF 'SAME' for these
    shapes). The result equals nearest-neighbour up-sampling followed by a k x k conv with the
    weight mirrored, at 16 instead of 36 multiply-adds per input pixel and channel pair (k = 3).
    The weight is stored as [Cin, Cout, k, k], conv_transpose2d's layout, which is the original's TF
    shape [k, k, Cout, Cin] transposed with no mirroring. Its run-time scale is gain / sqrt(fan_in)
    with fan_in = k * k * Cout, as ``get_weight`` computes it from that TF shape (``prod(shape[:-1])``;
    the true fan-in would use Cin). Only odd k.
    """

    direction = "up"

    def __init__(
        self,
        in_channels: int,  # Input channels.
        out_channels: int,  # Output channels.
        kernel_size: int,  # Square kernel before fusing, odd (3 here).
        *,
        bias: bool = True,  # Add a learned bias (starting at 0); False = no bias.
        gain: float = LRELU_GAIN,  # Run-time weight scale is gain / sqrt(k * k * Cout); the original's default sqrt 2.
    ) -> None:
        # fan-in from Cout: get_weight's prod(shape[:-1]) of the TF shape [k, k, Cout, Cin]
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, gain=gain,
                         weight_shape=(in_channels, out_channels), fan_in_channels=out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = shift_sum_kernel(self.weight * self.weight_gain)  # [Cin, Cout, k + 1, k + 1]
        return F.conv_transpose2d(x, w, self.bias, stride=2, padding=self.padding)  # [N, Cout, 2H, 2W]


class EqualizedDownConv2d(_FusedResampleConv2d):
    """Fused conv and 2x2 box-average down-sampling: [N, Cin, H, W] -> [N, Cout, H/2, W/2] (H, W even).

    The original's ``conv2d_downscale2d``: a stride-2 conv whose (k + 1) x (k + 1) kernel is
    :func:`shift_sum_kernel` of the k x k weight times 1/4, padding (k - 1) / 2 (TF 'SAME' for
    these shapes). The result equals a k x k 'same' conv followed by the 2x2 mean, at 16 instead
    of 36 multiply-adds per output pixel and channel pair (k = 3). The weight is stored as
    [Cout, Cin, k, k], conv2d's layout (the TF shape [k, k, Cin, Cout] transposed), with the true
    fan-in k * k * Cin. Only odd k.
    """

    direction = "down"

    def __init__(
        self,
        in_channels: int,  # Input channels.
        out_channels: int,  # Output channels.
        kernel_size: int,  # Square kernel before fusing, odd (3 here).
        *,
        bias: bool = True,  # Add a learned bias (starting at 0); False = no bias.
        gain: float = LRELU_GAIN,  # Run-time weight scale is gain / sqrt(k * k * Cin); the original's default sqrt 2.
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, gain=gain,
                         weight_shape=(out_channels, in_channels), fan_in_channels=in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = shift_sum_kernel(self.weight * (self.weight_gain * 0.25))  # [Cout, Cin, k + 1, k + 1]
        return F.conv2d(x, w, self.bias, stride=2, padding=self.padding)  # [N, Cout, H/2, W/2]


# ----------------------------------------------------------------------------


def pixel_norm(x: torch.Tensor, eps: float = PIXEL_NORM_EPS) -> torch.Tensor:
    """Scale each pixel's feature vector to unit root-mean-square over dim 1 (channels or features).

    x: [N, C] or [N, C, H, W]; same shape out. Statistics in float32 so bf16 autocast is safe.
    """
    scale = torch.rsqrt(x.float().square().mean(dim=1, keepdim=True) + eps)
    return x * scale.to(x.dtype)


class ConditionalPixelNorm(nn.Module):
    """cpD-GAN's conditional pixel norm: ``pixel_norm(x) * gamma + beta`` (paper-spec §3.3).

    As ``conditional_pixel_norm`` in the original ``GAN_cpd/networks.py``: gamma and beta ([N, C],
    one per channel) are separate dense layers (equalised LR, gain 1, bias starting at 0) applied
    to the conditioning vector, which is the RAW concatenation [z ⊕ y] (``combo_in``), not its
    pixel-normalised form. Both therefore start as zero-mean random projections: with z ~ N(0, I)
    each of gamma and beta starts at about 0 ± 1 per sample and channel. gamma does not start
    at 1 (StyleGAN2's style layers would), so the initial scale of each layer's output is random.
    """

    def __init__(
        self,
        channels: int,  # Feature maps being normalised (C).
        cond_features: int,  # Length of the conditioning vector, latent + n_labels.
    ) -> None:
        super().__init__()
        self.channels = channels
        self.gamma = EqualizedLinear(cond_features, channels, bias_init=0.0, gain=1.0)
        self.beta = EqualizedLinear(cond_features, channels, bias_init=0.0, gain=1.0)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        N, C, _, _ = x.shape
        if C != self.channels or cond.shape[0] != N:
            raise ValueError(
                f"ConditionalPixelNorm expected x [N, {self.channels}, H, W] and cond [N, F]; "
                f"got {list(x.shape)} and {list(cond.shape)}"
            )
        # cond: [N, F], the raw [z ⊕ y].
        gamma = self.gamma(cond)[:, :, None, None]  # [N, C, 1, 1]
        beta = self.beta(cond)[:, :, None, None]  # [N, C, 1, 1]
        return pixel_norm(x) * gamma + beta


class MinibatchStddev(nn.Module):
    """Append the average standard deviation across a group of samples as extra feature maps.

    [N, C, H, W] -> [N, C + num_features, H, W] (PGGAN §3; paper-spec §3.2/§3.3: group 4, 1 feature).
    Samples are grouped as PGGAN's ``reshape([G, M, ...])`` does: with M = ceil(N / G) groups,
    sample i belongs to group i % M. When G divides N this is exactly PGGAN's layer; otherwise
    the groups have G or G - 1 members instead of failing (a lone sample gets std sqrt(eps)).
    """

    def __init__(
        self,
        group_size: int = 4,  # Samples per group (at most N); PGGAN's mbstd_group_size.
        num_features: int = 1,  # Extra feature maps; the channels are split into this many parts.
    ) -> None:
        super().__init__()
        if group_size < 1 or num_features < 1:
            raise ValueError(f"MinibatchStddev needs group_size, num_features >= 1, got {group_size}, {num_features}")
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        nf = self.num_features
        if C % nf != 0:
            raise ValueError(f"MinibatchStddev: {C} channels do not split into {nf} features")
        groups = math.ceil(N / min(self.group_size, N))  # M
        member = torch.arange(N, device=x.device) % groups  # [N] group of each sample
        onehot = F.one_hot(member, groups).float()  # [N, M]
        counts = onehot.sum(dim=0)  # [M]
        y = x.float().reshape(N, nf, C // nf, H, W)  # [N, F, c, H, W]
        mean = torch.einsum("nm,nfchw->mfchw", onehot, y) / counts[:, None, None, None, None]
        dev2 = (y - mean[member]).square()  # [N, F, c, H, W]
        var = torch.einsum("nm,nfchw->mfchw", onehot, dev2) / counts[:, None, None, None, None]
        std = torch.sqrt(var + MBSTD_EPS).mean(dim=(2, 3, 4))  # [M, F]
        feature = std[member][:, :, None, None].expand(N, nf, H, W).to(x.dtype)  # [N, F, H, W]
        return torch.cat([x, feature], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_features={self.num_features}"


# ----------------------------------------------------------------------------
# 2x resampling: PGGAN's upscale2d (nearest neighbour) and downscale2d (box average). cpD-GAN's
# original uses the same two (its fused convs above equal nearest-up then conv and conv then box-down).


def upsample_nearest(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H*factor, W*factor] by repeating pixels (PGGAN's upscale2d)."""
    if factor == 1:
        return x
    if factor > 1 and factor & (factor - 1) == 0:
        # For a power of two, 1 / factor is exact in floating point, so interpolate's source index
        # floor(i / factor) is exact and the result is bit-identical to repeating pixels.
        return F.interpolate(x, scale_factor=factor, mode="nearest")
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def downsample_box(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H/factor, W/factor] by averaging factor x factor blocks (PGGAN's downscale2d)."""
    if factor == 1:
        return x
    return F.avg_pool2d(x, factor)
