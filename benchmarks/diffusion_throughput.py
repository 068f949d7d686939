"""The diffusion model's training and sampling images/s at a profile, beside cpD-GAN's in the same process.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/diffusion_throughput.py cpu             # 32x32
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/diffusion_throughput.py cpu --resolution 64
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/diffusion_throughput.py tiny --resolution 16

Training: ``synthmed.diffusion.train.train_diffusion`` on random images with the profile's config for
``--kimg`` (no Fréchet evaluation, no grids), images per second of training steps. Sampling:
``synthmed.diffusion.sample.sample`` of ``--images`` images at the config's DDIM steps and guidance,
and at guidance 1 (one network pass per step instead of two). The same for cpD-GAN at the profile
(``train_gan``, no evaluation; one generator pass per image), so the two compare on the same machine
under the same load. Then what one run costs at those rates: its training images plus its Fréchet
evaluations (each samples ``fd_images`` images), and what sampling a benchmark point's splits costs per
10,000 images (chest classes-20 at cpu draws about 14,500: train, val and test). Printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time

import numpy as np
import torch

from synthmed import profiles
from synthmed.diffusion.config import DiffusionConfig, build
from synthmed.diffusion.sample import sample
from synthmed.diffusion.train import fd_count, train_diffusion
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.sample import sample as gan_sample
from synthmed.gan.train import train_gan

N_LABELS = 14  # CheXpert's findings
N_IMAGES = 2048
DEFAULT_KIMG = {"tiny": 0.5, "cpu": 1.0, "cpu_long": 1.0, "paper": 20.0}


def data(resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (N_IMAGES, resolution, resolution), dtype=np.uint8)
    labels = (rng.random((N_IMAGES, N_LABELS)) < 0.2).astype(np.float32)
    return images, labels


def train_rate(config, images, labels, kimg: float, device: str, gan: bool) -> float:
    """Training images per second of training steps (housekeeping excluded), after a short warm-up run."""
    never = 100 * kimg
    if gan:
        config = dataclasses.replace(config, total_kimg=kimg, min_fid_kimg=never, fid_every_kimg=never)
    else:
        config = dataclasses.replace(config, total_kimg=kimg, min_fd_kimg=never, fd_every_kimg=never)
    run = train_gan if gan else train_diffusion
    with tempfile.TemporaryDirectory() as run_dir:
        result = run(config, images, labels, run_dir, seed=0, extractor=DownsampledPixels(4), device=device,
                     grid_every_kimg=0, checkpoint_every_kimg=never)
    return result.kimg * 1000 / result.train_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=profiles.NAMES)
    parser.add_argument("--preset", default=None, help="DiffusionConfig preset (default: the profile's gan_preset)")
    parser.add_argument("--resolution", type=int, default=None, help="default: the profile's classes resolution")
    parser.add_argument("--kimg", type=float, default=None, help="thousand training images per measurement")
    parser.add_argument("--images", type=int, default=128, help="images sampled per measurement")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-gan", action="store_true", help="skip the cpD-GAN reference")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = profiles.get(args.profile)
    preset = args.preset or settings.gan_preset
    resolution = args.resolution or settings.classes_resolution
    kimg = args.kimg if args.kimg is not None else DEFAULT_KIMG[preset]
    config = DiffusionConfig.preset(preset, resolution, N_LABELS)
    images, labels = data(resolution)
    n_params = sum(p.numel() for p in build(config).parameters())
    print(f"profile {args.profile}, preset {preset}, {resolution}x{resolution}, {args.threads} thread(s), "
          f"device {args.device}; U-Net width {config.width} x {config.channel_mult}, {n_params:,} parameters; "
          f"DDIM {config.sample_steps} steps, guidance {config.guidance}")

    train_rate(config, images, labels, 0.05, args.device, gan=False)  # one-off imports and allocations
    rates = {"train": train_rate(config, images, labels, kimg, args.device, gan=False)}
    with tempfile.TemporaryDirectory() as run_dir:
        checkpoint = train_diffusion(dataclasses.replace(config, total_kimg=0.01, min_fd_kimg=1, fd_every_kimg=1),
                                     images, labels, run_dir, seed=0, extractor=DownsampledPixels(4),
                                     device=args.device, grid_every_kimg=0).checkpoint
        for name, guidance in (("sample", config.guidance), ("sample w=1", 1.0)):
            sample(checkpoint, labels[:8], seed=0, guidance=guidance, device=args.device)  # warm-up
            start = time.perf_counter()
            sample(checkpoint, labels[: args.images], seed=0, guidance=guidance, device=args.device)
            rates[name] = args.images / (time.perf_counter() - start)
    print(f"diffusion: train {rates['train']:.0f} img/s; sample {rates['sample']:.1f} img/s "
          f"(guidance 1: {rates['sample w=1']:.1f} img/s)")

    n_fd = fd_count(config, settings.fd_images, 10**9)
    first = math.ceil(config.min_fd_kimg / config.fd_every_kimg - 1e-9) * config.fd_every_kimg
    evaluations = max(0, math.floor((config.total_kimg - first) / config.fd_every_kimg + 1e-9) + 1)
    if evaluations and first + (evaluations - 1) * config.fd_every_kimg < config.total_kimg - 1e-9:
        evaluations += 1  # and one at total_kimg
    train_s = config.total_kimg * 1000 / rates["train"]
    eval_s = evaluations * n_fd / rates["sample"]
    print(f"one {preset} run: {config.total_kimg:g} kimg = {train_s:.0f} s of training + {evaluations} Fréchet "
          f"evaluations of {n_fd} samples = {eval_s:.0f} s, {train_s + eval_s:.0f} s in all (without early stop); "
          f"sampling 10,000 images: {1e4 / rates['sample']:.0f} s")

    if not args.no_gan:
        gan_config = settings.gan_config("cpdgan", resolution, N_LABELS) if preset == settings.gan_preset else \
            settings.gan_config("cpdgan", resolution, N_LABELS, shared=True)
        gan_train = train_rate(gan_config, images, labels, kimg, args.device, gan=True)
        with tempfile.TemporaryDirectory() as run_dir:
            quick = dataclasses.replace(gan_config, total_kimg=0.01, min_fid_kimg=1, fid_every_kimg=1)
            checkpoint = train_gan(quick, images, labels, run_dir, seed=0, extractor=DownsampledPixels(4),
                                   device=args.device, grid_every_kimg=0).checkpoint
            gan_sample(checkpoint, labels[:8], seed=0, device=args.device)
            start = time.perf_counter()
            gan_sample(checkpoint, labels, seed=0, device=args.device)
            gan_rate = len(labels) / (time.perf_counter() - start)
        print(f"cpD-GAN ({preset}): train {gan_train:.0f} img/s; sample {gan_rate:.0f} img/s; one run "
              f"{gan_config.total_kimg:g} kimg = {gan_config.total_kimg * 1000 / gan_train:.0f} s of training")


if __name__ == "__main__":
    main()
