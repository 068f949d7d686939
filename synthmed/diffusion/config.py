"""Settings for one diffusion run: the network, the noise schedule, training, sampling and early stopping.

Presets have the GAN presets' names (``paper``, ``cpu``, ``tiny``), so a profile's ``gan_preset``
selects both (`DiffusionConfig.preset`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from synthmed.diffusion.unet import UNet

PRESETS = ("paper", "cpu", "cpu_long", "tiny")  # the GANConfig presets' names
PRECISIONS = ("fp32", "bf16")  # bf16: autocast for the U-Net's forward passes (training and sampling)
BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}  # ours -> diffusers' beta_schedule
PAPER_RESOLUTIONS = (32, 64, 128)
# Width multipliers per level of the improved-diffusion / guided-diffusion U-Nets (Nichol & Dhariwal
# 2021, Dhariwal & Nichol 2021, script_util.create_model); 32 is also Ho et al.'s CIFAR-10 U-Net.
PAPER_CHANNEL_MULT = {32: (1, 2, 2, 2), 64: (1, 2, 3, 4), 128: (1, 1, 2, 3, 4)}


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything that decides a diffusion run. kimg = thousands of training images (one per noisy sample)."""

    resolution: int  # image size R (R x R), a power of two >= 8
    n_labels: int  # length L of the multi-hot label vector
    width: int  # U-Net channels at full resolution
    channel_mult: tuple[int, ...]  # width multiplier per level, full resolution first (len - 1 halvings)
    res_blocks: int  # residual blocks per level
    attention_resolutions: tuple[int, ...]  # self-attention at these feature-map sizes (and always in the middle)
    dropout: float  # in every residual block
    timesteps: int  # T, the diffusion's training steps
    beta_schedule: str  # "linear" (Ho et al. 2020) or "cosine" (Nichol & Dhariwal 2021)
    p_uncond: float  # probability that a training image's labels are replaced by "no label"
    guidance: float  # sampling's guidance scale w: eps_u + w (eps_c - eps_u); 0 unconditional, 1 conditional
    sample_steps: int  # DDIM steps per sample (and per evaluation sample)
    batch: int  # training minibatch
    lr: float  # Adam learning rate after warm-up
    warmup_steps: int  # linear learning-rate warm-up from 0 over this many optimiser steps
    grad_clip: float  # global gradient-norm clip (0: none)
    ema_decay: float  # EMA weights: decay min(ema_decay, (1 + step) / (10 + step)) after every step
    total_kimg: float  # stop here at the latest
    min_fd_kimg: float  # no Fréchet evaluation (early stopping) before this
    fd_every_kimg: float  # evaluate every this many kimg from min_fd_kimg on
    patience: int = 2  # stop after this many evaluations without improvement (as the GANs: paper-spec §3.1)
    max_fd_images: int | None = None  # sample at most this many images per Fréchet evaluation (None: the caller's)
    beta_start: float = 1e-4  # linear schedule only (Ho et al. 2020)
    beta_end: float = 0.02
    channels: int = 1  # grayscale, as the paper
    norm_groups: int = 32  # group norm groups (fewer where the channels do not divide)
    adam_betas: tuple[float, float] = (0.9, 0.999)  # Adam defaults, as Ho et al.
    precision: str = "fp32"

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ValueError(f"DiffusionConfig.{name} = {getattr(self, name)!r}: expected {expected}")

        if not (self.resolution >= 8 and self.resolution & (self.resolution - 1) == 0):
            fail("resolution", "a power of two >= 8")
        for name in ("n_labels", "width", "res_blocks", "timesteps", "sample_steps", "batch", "patience",
                     "channels", "norm_groups"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                fail(name, "an integer >= 1")
        if not self.channel_mult or any(not (isinstance(m, int) and m >= 1) for m in self.channel_mult):
            fail("channel_mult", "a non-empty tuple of integers >= 1")
        if self.resolution >> (len(self.channel_mult) - 1) < 4:
            fail("channel_mult", f"at most {int(math.log2(self.resolution)) - 1} levels, so that the "
                                 f"smallest feature map of a {self.resolution} px image is at least 4 px")
        if self.beta_schedule not in BETA_SCHEDULES:
            fail("beta_schedule", f"one of {', '.join(BETA_SCHEDULES)}")
        if not 0 < self.beta_start < self.beta_end < 1:
            fail("beta_end", "0 < beta_start < beta_end < 1")
        if self.sample_steps > self.timesteps:
            fail("sample_steps", f"at most timesteps ({self.timesteps})")
        if not 0 <= self.p_uncond < 1:
            fail("p_uncond", "a probability in [0, 1)")
        if self.guidance != 1 and self.p_uncond == 0:
            fail("guidance", "1 when p_uncond is 0 (no unconditional model is trained)")
        if not (math.isfinite(self.guidance) and self.guidance >= 0):
            fail("guidance", "a number >= 0")
        if not 0 <= self.dropout < 1:
            fail("dropout", "a number in [0, 1)")
        for name in ("lr", "total_kimg", "fd_every_kimg"):
            if not getattr(self, name) > 0:
                fail(name, "a number > 0")
        for name in ("warmup_steps", "grad_clip", "min_fd_kimg"):
            if getattr(self, name) < 0:
                fail(name, "a number >= 0")
        if not 0 <= self.ema_decay < 1:
            fail("ema_decay", "a number in [0, 1)")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            fail("adam_betas", "two numbers in [0, 1)")
        if self.max_fd_images is not None and not (isinstance(self.max_fd_images, int) and self.max_fd_images >= 2):
            fail("max_fd_images", "None or an integer >= 2")
        if self.precision not in PRECISIONS:
            fail("precision", f"one of {', '.join(PRECISIONS)}")

    # -- the noise schedule (diffusers) ---------------------------------------------

    def scheduler_kwargs(self) -> dict[str, Any]:
        """The arguments of diffusers' DDPMScheduler and DDIMScheduler that fix the forward process."""
        kwargs: dict[str, Any] = {"num_train_timesteps": self.timesteps,
                                  "beta_schedule": BETA_SCHEDULES[self.beta_schedule],
                                  "prediction_type": "epsilon", "clip_sample": True, "clip_sample_range": 1.0}
        if self.beta_schedule == "linear":
            kwargs.update(beta_start=self.beta_start, beta_end=self.beta_end)
        return kwargs

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, for JSON, the cache key and checkpoints loaded with ``weights_only=True``."""
        data = dataclasses.asdict(self)
        for name in ("channel_mult", "attention_resolutions", "adam_betas"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiffusionConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"DiffusionConfig.from_dict: unknown fields {unknown}")
        values = dict(data)
        for name in ("channel_mult", "attention_resolutions", "adam_betas"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    # -- presets ------------------------------------------------------------------------

    @classmethod
    def preset(cls, name: str, resolution: int, n_labels: int) -> DiffusionConfig:
        """The preset called ``name`` (a profile's ``gan_preset`` or ``shared_gan_preset``)."""
        if name not in PRESETS:
            raise ValueError(f"unknown diffusion preset {name!r}; expected one of {', '.join(PRESETS)}")
        return getattr(cls, name)(resolution, n_labels)

    @classmethod
    def paper(cls, resolution: int, n_labels: int) -> DiffusionConfig:
        """Settings from the diffusion literature at 32-128 px, for a GPU; presets for 32, 64 and 128.

        - Network: width 128, 2 residual blocks per level, self-attention at 16x16, dropout 0.1: Ho et
          al. 2020 (DDPM), appendix B, their CIFAR-10 (32x32) model; width multipliers per level
          (1, 2, 2, 2) at 32, (1, 2, 3, 4) at 64 and (1, 1, 2, 3, 4) at 128 as Nichol & Dhariwal 2021
          and Dhariwal & Nichol 2021 (improved- and guided-diffusion's ``create_model``).
        - T = 1000 timesteps (Ho et al. 2020) on the cosine schedule of Nichol & Dhariwal 2021 (§3.2:
          at 32-64 px the linear schedule of Ho et al., betas 1e-4..0.02, wastes its last steps on
          nearly pure noise); ``beta_schedule="linear"`` gives Ho et al.'s.
        - Adam, lr 2e-4 at 32 px and 1e-4 at 64 and 128 px (Ho et al. 2020: 2e-4 on CIFAR-10; Nichol &
          Dhariwal 2021: 1e-4 at 64 px), batch 128, 5,000 warm-up steps, gradient clip 1.0 and EMA
          0.9999 (all Ho et al. 2020). No flips: chest films and head CT are not mirror-symmetric.
        - Classifier-free guidance (Ho & Salimans 2022): labels dropped with p_uncond 0.1 (they found
          0.1 and 0.2 equally good, 0.5 worse); guidance w 1.3 in our convention, their w = 0.3
          (theirs is ours - 1), in the range where their FID is best (0.1-0.3) while guidance still
          sharpens the label.
        - DDIM, 50 deterministic steps (Song et al. 2021: FID near the 1000-step sampler's at 50 steps),
          with "trailing" timesteps so the first step starts at t = T - 1 (Lin et al. 2024).
        - Length: at most 800k steps (Ho et al. 2020, CIFAR-10) = 102,400 kimg; the Fréchet distance
          from 12,800 kimg (100k steps) every 6,400 kimg (50k steps), patience 2 as the paper's GANs.
        """
        if resolution not in PAPER_RESOLUTIONS:
            raise ValueError(f"diffusion paper presets exist for resolutions {PAPER_RESOLUTIONS}, not {resolution}")
        return cls(resolution=resolution, n_labels=n_labels, width=128, channel_mult=PAPER_CHANNEL_MULT[resolution],
                   res_blocks=2, attention_resolutions=(16,), dropout=0.1, timesteps=1000, beta_schedule="cosine",
                   p_uncond=0.1, guidance=1.3, sample_steps=50, batch=128, lr=2e-4 if resolution == 32 else 1e-4,
                   warmup_steps=5000, grad_clip=1.0, ema_decay=0.9999, total_kimg=102_400, min_fd_kimg=12_800,
                   fd_every_kimg=6_400, patience=2)

    @classmethod
    def cpu(cls, resolution: int, n_labels: int) -> DiffusionConfig:
        """A narrow U-Net trained briefly, for the book's `cpu` profile (one thread per run, as its GANs).

        Sized so that one run costs about what a cpu GAN run does (`GANConfig.cpu`: 8 kimg at 32x32, about
        100 s on a free thread; ``benchmarks/diffusion_throughput.py`` measures both side by side):

        - Width 16 at full resolution, doubled once and kept down to 8x8 ((1, 2, 2) at 32 px, (1, 2, 2, 2)
          at 64), one residual block per level, attention only in the middle: 0.27 M parameters at 32 px.
          Batch 32, Adam lr 1e-3 after 50 warm-up steps (a small net on a short run takes a larger rate
          than Ho et al.'s 2e-4), gradient clip 1.0, EMA 0.995 (the warm-up (1 + step) / (10 + step) keeps
          it below 0.98 in a run this short), cosine schedule over T = 1000, p_uncond 0.1, no dropout.
        - 12 kimg (375 steps) at 32x32. The Fréchet distance at 8 and 12 kimg, on at most 500 samples
          (``max_fd_images``): a diffusion sample costs 20 network passes where a GAN's costs one, so the
          profile's 2,000 would cost more than the training; fewer images bias the distance upward, so it
          is comparable between this model's evaluations, not with the GANs' at 2,000.
        - Sampling: guidance 2 (Ho & Salimans' w' = 1) and 10 DDIM steps, below the 20-50 of the
          literature because sampling, not training, is what a cpu point pays for (one image per real
          train, val and test label vector: about 14,500 at chest classes-20).

        Measured on chest classes-20 at 32x32 (real-trained mean AUROC 0.92), a 10-kimg run (84 s on a
        loaded core), one classifier (the cpu profile's) trained on 2,000 samples with 600 for
        validation, tested on the real test split: mean AUROC 0.639 at guidance 1 and 20 steps, 0.649
        at guidance 1 and 10 steps, 0.665 at guidance 2 and 20 steps, 0.675 at guidance 2 and 10 steps
        and 0.672 at guidance 3 and 20 steps (95% intervals about +-0.01): ten steps lose nothing
        measurable, guidance 2 gains about 0.03 over 1 and 3 gains nothing over 2.
        The cpu GANs reach 0.555 (cpD-GAN) and 0.444 (prog-GAN) at 8 kimg (``book/reproduce.md``).
        """
        return cls._small(resolution, n_labels, width=16, bottom=8, res_blocks=1, batch=32, lr=1e-3,
                          warmup_steps=50, ema_decay=0.995, total_kimg=12.0, min_fd_kimg=8.0, fd_every_kimg=4.0,
                          max_fd_images=500, sample_steps=10, guidance=2.0)

    @classmethod
    def cpu_long(cls, resolution: int, n_labels: int) -> DiffusionConfig:
        """`cpu`'s network on 8x the images (96 kimg, 3,000 steps at 32x32), for the point the cpu book's
        generators, utility and memorisation chapters share, as `GANConfig.cpu_long` is for the GANs (the
        benchmark sweeps keep `cpu`). The Fréchet distance from 7/12 of the run (56 kimg), as the paper's
        GANs, every 1/12 (8 kimg): six evaluations of 500 samples, with the paper's patience 2.
        """
        base = cls.cpu(resolution, n_labels)
        total = 8 * base.total_kimg
        return dataclasses.replace(base, total_kimg=total, min_fd_kimg=total * 7 / 12, fd_every_kimg=total / 12)

    @classmethod
    def tiny(cls, resolution: int, n_labels: int) -> DiffusionConfig:
        """Smallest useful networks for tests and CI (the `tiny` profile, 8-16 px): every code path in seconds.

        Width 8, one residual block per level, halving down to 4x4; minibatch 32, lr 2e-3 after 20
        warm-up steps, EMA 0.9; 1 kimg (about 30 steps), the Fréchet distance from 0.5 kimg every
        0.25; 10 DDIM steps (below the 20-50 of the literature: tiny models only run the code paths).
        """
        return cls._small(resolution, n_labels, width=8, bottom=4, res_blocks=1, batch=32, lr=2e-3,
                          warmup_steps=20, ema_decay=0.9, total_kimg=1.0, min_fd_kimg=0.5, fd_every_kimg=0.25,
                          sample_steps=10, guidance=2.0)

    @classmethod
    def _small(cls, resolution: int, n_labels: int, *, width: int, bottom: int, **values: Any) -> DiffusionConfig:
        """A CPU-sized config: width doubled once, then constant, down to ``bottom`` px; attention in the middle."""
        levels = max(1, int(math.log2(max(resolution // bottom, 1))) + 1)
        return cls(resolution=resolution, n_labels=n_labels, width=width, channel_mult=(1, *(2,) * (levels - 1)),
                   attention_resolutions=(), dropout=0.0, timesteps=1000, beta_schedule="cosine", p_uncond=0.1,
                   grad_clip=1.0, patience=2, norm_groups=8, **values)


def build(config: DiffusionConfig, seed: int = 0) -> UNet:
    """The U-Net for ``config``, initialised from ``seed`` (the global RNG is left as it was); ``model.config``
    is ``config``, so a network alone can be sampled."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = UNet(resolution=config.resolution, n_labels=config.n_labels, channels=config.channels,
                     width=config.width, channel_mult=config.channel_mult, res_blocks=config.res_blocks,
                     attention_resolutions=config.attention_resolutions, dropout=config.dropout,
                     norm_groups=config.norm_groups)
    model.config = config
    return model
