"""Settings for one GAN run, with the paper's values and two narrow CPU profiles, and the model factory."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from synthmed.gan.cpdgan import CpdDiscriminator, CpdGenerator
from synthmed.gan.progan import (
    TICK_KIMG,
    ProDiscriminator,
    ProGenerator,
    full_resolution_kimg,
    lod_at,
    resolution_at,
)

ARCHS = ("progan", "cpdgan")
PRECISIONS = ("fp32", "bf16")  # fp32: the original's arithmetic; bf16: autocast for G and D
PAPER_RESOLUTIONS = (32, 64, 128)  # paper-spec §1.3: GAN presets exist only for these


@dataclass(frozen=True)
class GANConfig:
    """Everything that decides a GAN run's models, losses and schedule. kimg = thousands of real images."""

    arch: str  # "progan" (progressive, AC-GAN) or "cpdgan" (conditional pixel norm, projection D)
    resolution: int  # Final image size R (R x R), a power of two
    n_labels: int  # Length L of the multi-hot label vector
    latent: int  # Length of z
    fmap_base: int  # Width rule nf(stage) = min(fmap_base / 2**stage, fmap_max); level 2**r has nf(r - 1)
    fmap_max: int  # Widest feature map
    lr: float  # Adam learning rate for G and D
    minibatch: dict[int, int]  # Minibatch size by current resolution (prog-GAN grows through several)
    total_kimg: float  # Stop here at the latest
    min_fid_kimg: float  # No Fréchet-distance evaluation (early stopping) before this
    fid_every_kimg: float  # Evaluate every this many kimg once at full resolution and past min_fid_kimg
    lod_train_kimg: float = 0.0  # prog-GAN: kimg at each level before the next fades in; 0 for cpD-GAN
    lod_transition_kimg: float = 0.0  # prog-GAN: kimg of each fade-in; 0 for cpD-GAN
    lod_initial_resolution: int = 8  # prog-GAN: resolution at kimg 0 (paper-spec §3.2: 8x8)
    ac_weight: float = 0.0  # Auxiliary-classifier loss weight; 0 = no AC term (cpD-GAN)
    channels: int = 1  # Image channels (paper: grayscale)
    mbstd_group: int = 4  # Minibatch-stddev group (paper-spec §3.2, §3.3)
    betas: tuple[float, float] = (0.0, 0.99)  # Adam (beta1, beta2) (paper-spec §3.1)
    eps: float = 1e-8  # Adam epsilon (paper-spec §3.1)
    ema_beta: float = 0.999  # G_ema <- beta * G_ema + (1 - beta) * G after every G step (paper-spec §3.1)
    d_repeats: int = 1  # D steps per G step (paper-spec §3.1: D_repeats 1)
    minibatch_repeats: int = 4  # Minibatches per schedule step (paper-spec §3.1: 4)
    gp_lambda: float = 10.0  # WGAN-GP weight (paper-spec §3.1)
    gp_target: float = 1.0  # WGAN-GP target gradient norm (paper-spec §3.1)
    drift_weight: float = 0.001  # Weight of D(real)^2 (paper-spec §3.1)
    patience: int = 2  # Stop after this many evaluations without improvement (paper-spec §3.1: fid_patience 2)
    precision: str = "fp32"  # "fp32" (the original's) or "bf16": autocast for G and D, gradient penalty in fp32

    def __post_init__(self) -> None:
        def fail(name: str, expected: str) -> None:
            raise ValueError(f"GANConfig.{name} = {getattr(self, name)!r}: expected {expected}")

        if self.arch not in ARCHS:
            fail("arch", f"one of {', '.join(ARCHS)}")
        if self.precision not in PRECISIONS:
            fail("precision", f"one of {', '.join(PRECISIONS)}")
        if not _is_power_of_two(self.resolution) or not 8 <= self.resolution <= 1024:
            fail("resolution", "a power of two from 8 to 1024")
        for name in (
            "n_labels",
            "latent",
            "fmap_base",
            "fmap_max",
            "channels",
            "mbstd_group",
            "d_repeats",
            "minibatch_repeats",
            "patience",
        ):
            if getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("lr", "total_kimg", "fid_every_kimg", "gp_target", "eps"):
            if not getattr(self, name) > 0:
                fail(name, "a number > 0")
        for name in ("min_fid_kimg", "lod_train_kimg", "lod_transition_kimg", "ac_weight", "gp_lambda", "drift_weight"):
            if getattr(self, name) < 0:
                fail(name, "a number >= 0")
        if not 0.0 <= self.ema_beta < 1.0:
            fail("ema_beta", "a number in [0, 1)")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            fail("betas", "two numbers in [0, 1)")
        if self.arch == "progan":
            if not _is_power_of_two(self.lod_initial_resolution) or not (
                4 <= self.lod_initial_resolution <= self.resolution
            ):
                fail("lod_initial_resolution", f"a power of two from 4 to resolution {self.resolution}")
            if self.lod_train_kimg + self.lod_transition_kimg <= 0:
                fail("lod_train_kimg", "lod_train_kimg + lod_transition_kimg > 0 for prog-GAN")
        elif self.ac_weight > 0:
            fail("ac_weight", "0 for cpD-GAN (its D has no label logits)")
        for res in self.resolutions():
            if self.minibatch.get(res, 0) < 1:
                fail("minibatch", f"a positive size for every resolution trained, {self.resolutions()}")

    # -- schedule --------------------------------------------------------------

    @property
    def grows(self) -> bool:
        return self.arch == "progan"

    def resolutions(self) -> list[int]:
        """Resolutions trained at, coarse to fine."""
        if not self.grows:
            return [self.resolution]
        first = int(math.log2(self.lod_initial_resolution))
        return [2**r for r in range(first, int(math.log2(self.resolution)) + 1)]

    def lod(self, kimg: float) -> float:
        """Level of detail at ``kimg`` (prog-GAN's schedule, :func:`synthmed.gan.progan.lod_at`); 0 for cpD-GAN."""
        if not self.grows:
            return 0.0
        return lod_at(kimg, self.resolution, self.lod_train_kimg, self.lod_transition_kimg, self.lod_initial_resolution)

    def minibatch_at(self, lod: float) -> int:
        """Minibatch size at ``lod``, looked up by the finest level running (PGGAN's schedule)."""
        return self.minibatch[resolution_at(lod, self.resolution)]

    def full_resolution_kimg(self) -> float:
        """kimg at which training reaches full resolution (0 for cpD-GAN)."""
        if not self.grows:
            return 0.0
        return full_resolution_kimg(
            self.resolution, self.lod_train_kimg, self.lod_transition_kimg, self.lod_initial_resolution
        )

    # -- serialisation ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, for JSON and for checkpoints loaded with ``weights_only=True``.

        ``precision`` appears only when it is not fp32, so the cache keys and checkpoints of runs made
        before the option existed (all fp32 on the CPU) still hold; :meth:`from_dict` reads it back.
        """
        data = dataclasses.asdict(self)
        if data["precision"] == "fp32":
            del data["precision"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        """Inverse of :meth:`to_dict`; also accepts JSON's string keys in ``minibatch``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"GANConfig.from_dict: unknown fields {unknown}")
        values = dict(data)
        values["minibatch"] = {int(k): int(v) for k, v in values["minibatch"].items()}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    # -- profiles -----------------------------------------------------------------

    @classmethod
    def paper(cls, arch: str, resolution: int, n_labels: int) -> GANConfig:
        """The paper's settings (paper-spec §3.1-§3.3); presets exist for 32, 64 and 128.

        prog-GAN: fmap_base 8192, fmap_max 512, latent 512, lr 0.001, minibatch 8:256, 16:128, 32:64,
        64:32, 128:16; lod train/transition 1400/1400 kimg at 32, 1000/1000 at 64 and 128.
        cpD-GAN: fmap_base 16384, fmap_max 512, latent 512, lr 0.005, minibatch 256.
        Both: total 12,000 / 14,000 / 16,000 kimg, minimum-FID kimg 7,000 / 7,000 / 9,000, FID every
        4 ticks (400 / 320 / 240 kimg).
        """
        if resolution not in PAPER_RESOLUTIONS:
            raise ValueError(f"the paper has GAN presets for resolutions {PAPER_RESOLUTIONS}, not {resolution}")
        total = {32: 12_000, 64: 14_000, 128: 16_000}[resolution]  # paper-spec §3.2/§3.3 tables
        min_fid = {32: 7_000, 64: 7_000, 128: 9_000}[resolution]
        fid_every = 4 * TICK_KIMG[resolution]  # paper-spec §3.1: fid_snapshot_ticks=4
        if arch == "progan":
            lod_kimg = 1400 if resolution == 32 else 1000  # paper-spec §3.2 table
            minibatch = {8: 256, 16: 128, 32: 64, 64: 32, 128: 16}  # paper-spec §3.2 table
            return cls(
                arch=arch,
                resolution=resolution,
                n_labels=n_labels,
                latent=512,
                fmap_base=8192,
                fmap_max=512,
                lr=0.001,
                minibatch={r: b for r, b in minibatch.items() if r <= resolution},
                total_kimg=total,
                min_fid_kimg=min_fid,
                fid_every_kimg=fid_every,
                lod_train_kimg=lod_kimg,
                lod_transition_kimg=lod_kimg,
                ac_weight=1.0,
            )
        if arch == "cpdgan":  # paper-spec §3.3
            return cls(
                arch=arch,
                resolution=resolution,
                n_labels=n_labels,
                latent=512,
                fmap_base=16384,
                fmap_max=512,
                lr=0.005,
                minibatch={resolution: 256},
                total_kimg=total,
                min_fid_kimg=min_fid,
                fid_every_kimg=fid_every,
            )
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")

    @classmethod
    def cpu(cls, arch: str, resolution: int, n_labels: int) -> GANConfig:
        """Narrow networks trained briefly, for the book's default `cpu` profile on 2 CPU cores.

        Both archs: latent 64, fmap_base 256, fmap_max 64, so 64 channels at 4x4 and 8x8, 32 at
        16x16, 16 at 32x32 and 8 at 64x64. The paper gives cpD-GAN twice prog-GAN's fmap_base, which
        changes nothing up to 32x32 where both reach fmap_max; we use one width for both so the two
        differ in architecture only. Learning rates are the paper's.

        Steps, not images: minibatch 16 at every resolution (paper: 64-256), because a short run is
        starved of steps, not of images: at minibatch 64 the earlier 3.5 kimg schedule made about
        55 G steps. prog-GAN grows from 8x8 with 0.75 kimg per level and per fade-in (full
        resolution at 3 kimg for 32x32, 4.5 for 64x64); both GANs stop at full-resolution kimg + 5
        at the latest (8 kimg at 32x32, 9.5 at 64x64: 500-600 G steps), with the Fréchet distance
        every 1.5 kimg from full resolution + 2. Training takes 94-117 s per 32x32 run and 186-234 s
        per 64x64 run on one thread, which is what the cpu book's budget affords for 32 GANs; the
        paper trains about 1,500 times longer. EMA beta 0.995 (half-life 138 G steps, about 2 kimg):
        the paper's 0.999 (half-life 693 steps) would average over more steps than a run has.
        This is still far too short: in the cpu book's generators chapter prog-GAN draws blurred
        chest and head outlines that barely change with the latent or the label, and cpD-GAN
        (whose nearest-neighbour skip path, as in the original, starts out blocky) draws 4x4-block
        textures; `benchmarks/gan_learning_curve.py` measures how both improve with longer runs
        (`book/reproduce.md`).
        """
        return cls._small(
            arch,
            resolution,
            n_labels,
            latent=64,
            fmap_base=256,
            fmap_max=64,
            minibatch=dict.fromkeys((8, 16, 32, 64, 128), 16),
            grow_kimg=0.75,
            after_full_kimg=5,
            first_fd_after_kimg=2,
            fid_every_kimg=1.5,
            ema_beta=0.995,
        )

    @classmethod
    def cpu_long(cls, arch: str, resolution: int, n_labels: int) -> GANConfig:
        """`cpu`'s networks trained on 8x the images in 16x the G steps, for the point the cpu book's generators,
        utility and memorisation chapters share (the benchmark sweeps keep `cpu`, which their budget affords).

        Measured with `benchmarks/gan_learning_curve.py` on chest classes-20 at 32x32 (`book/reproduce.md`):
        the label information a classifier can learn from synthetic images comes with G steps. cpD-GAN's
        synthetic-trained AUROC recovers half the real classifier's margin over chance at about 6,000 G steps
        (minibatch 16 at 96 kimg: 0.53; minibatch 8 at 48 kimg: 0.50), and prog-GAN's is above chance from
        about 2,000 steps at minibatch 16. So: minibatch 8 at every resolution (the most steps per image
        that still trained as well per step) and 64 kimg, 8,000 G steps, about 15 minutes per 32x32 run on
        one thread. The Fréchet distance is evaluated in the paper's proportions of a run: from 7/12 of it
        (the paper: 7,000 of 12,000 kimg) every 1/30 of it (the paper: 400 kimg), with the paper's patience
        2, so a plateau early in the run does not end it. Widths, growth, learning rates and EMA beta are
        `cpu`'s.
        """
        total = 64.0
        base = cls.cpu(arch, resolution, n_labels)
        return dataclasses.replace(
            base,
            minibatch=dict.fromkeys(base.minibatch, 8),
            total_kimg=total,
            min_fid_kimg=max(base.min_fid_kimg, total * 7 / 12),
            fid_every_kimg=total / 30,
        )

    @classmethod
    def tiny(cls, arch: str, resolution: int, n_labels: int) -> GANConfig:
        """Smallest useful networks for tests and CI (the `tiny` profile: 16x16 or 32x32, seconds).

        latent 32, fmap_base 128, fmap_max 32: 32 channels at 4x4 and 8x8, 16 at 16x16, 8 at 32x32.
        Minibatch 32 (16 at 64x64 and up). prog-GAN: 0.25 kimg per level and per fade-in (full
        resolution at 0.5 kimg for 16x16, 1 for 32x32). Both stop at full-resolution kimg + 1 (about
        30 steps), evaluate from full-resolution kimg + 0.5, every 0.5 kimg. EMA beta 0.9. Only enough
        to run every code path in seconds; tiny GANs learn little.
        """
        minibatch = {8: 32, 16: 32, 32: 32, 64: 16, 128: 16}
        return cls._small(
            arch,
            resolution,
            n_labels,
            latent=32,
            fmap_base=128,
            fmap_max=32,
            minibatch=minibatch,
            grow_kimg=0.25,
            after_full_kimg=1,
            first_fd_after_kimg=0.5,
            fid_every_kimg=0.5,
            ema_beta=0.9,
        )

    @classmethod
    def _small(
        cls,
        arch: str,
        resolution: int,
        n_labels: int,
        *,
        latent: int,
        fmap_base: int,
        fmap_max: int,
        minibatch: dict[int, int],
        grow_kimg: float,  # prog-GAN's kimg per level and per fade-in
        after_full_kimg: float,  # both GANs stop this long after prog-GAN reaches full resolution
        first_fd_after_kimg: float,  # the first Fréchet evaluation, after full resolution
        fid_every_kimg: float,
        ema_beta: float,
    ) -> GANConfig:
        """A CPU-sized config; both archs share one schedule length, as in the paper (same total kimg)."""
        full_kimg = full_resolution_kimg(resolution, grow_kimg, grow_kimg) if _is_power_of_two(resolution) else 0
        common = dict(
            arch=arch,
            resolution=resolution,
            n_labels=n_labels,
            latent=latent,
            fmap_base=fmap_base,
            fmap_max=fmap_max,
            total_kimg=full_kimg + after_full_kimg,
            min_fid_kimg=full_kimg + first_fd_after_kimg,
            fid_every_kimg=fid_every_kimg,
            ema_beta=ema_beta,
        )
        if arch == "progan":
            return cls(
                **common,
                lr=0.001,
                minibatch={r: b for r, b in minibatch.items() if r <= resolution},
                lod_train_kimg=grow_kimg,
                lod_transition_kimg=grow_kimg,
                ac_weight=1.0,
            )
        if arch == "cpdgan":
            return cls(**common, lr=0.005, minibatch={resolution: minibatch.get(resolution, 16)})
        raise ValueError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")


def _is_power_of_two(value: int) -> bool:
    return isinstance(value, int) and value > 0 and value & (value - 1) == 0


def build(config: GANConfig, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The generator and discriminator for ``config``, initialised from ``seed`` (global RNG untouched).

    Both share one call signature: ``G(z, labels, lod) -> images [N, channels, R, R]`` and
    ``D(images, labels, lod) -> DiscriminatorOutput``; ``G.grows`` says whether lod may be above 0.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.arch == "progan":
            G: nn.Module = ProGenerator(
                resolution=config.resolution,
                n_labels=config.n_labels,
                channels=config.channels,
                latent=config.latent,
                fmap_base=config.fmap_base,
                fmap_max=config.fmap_max,
            )
            D: nn.Module = ProDiscriminator(
                resolution=config.resolution,
                n_labels=config.n_labels,
                channels=config.channels,
                fmap_base=config.fmap_base,
                fmap_max=config.fmap_max,
                mbstd_group=config.mbstd_group,
            )
        else:
            G = CpdGenerator(
                resolution=config.resolution,
                n_labels=config.n_labels,
                channels=config.channels,
                latent=config.latent,
                fmap_base=config.fmap_base,
                fmap_max=config.fmap_max,
            )
            D = CpdDiscriminator(
                resolution=config.resolution,
                n_labels=config.n_labels,
                channels=config.channels,
                fmap_base=config.fmap_base,
                fmap_max=config.fmap_max,
                mbstd_group=config.mbstd_group,
            )
    return G, D
