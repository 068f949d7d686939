"""Training images/s of both GANs: synthmed's loop next to a bare forward/backward loop, same process.

    .venv/bin/python benchmarks/gan_throughput.py cpu            # the cpu profile at 32x32 and 64x64
    .venv/bin/python benchmarks/gan_throughput.py tiny --kimg 0.5 --threads 2
    .venv/bin/python benchmarks/gan_throughput.py cpu --threads 2 --precision bf16   # bf16 autocast

For each GAN and resolution this trains the profile's networks for ``--kimg`` thousand images twice:

- loop: ``synthmed.gan.train.train_gan`` as a run uses it (data order, EMA, per-tick statistics and
  log records, image grids and checkpoints, with ticks every kimg/8 and a grid and checkpoint
  every kimg/2, more often than a real run, so the overhead is not flattered);
- bare: the same networks, optimisers, losses and minibatch, D step then G step on random images,
  with no EMA, statistics, logging, grids or checkpoints.

Both count images shown to D per second of wall time; the loop's figure includes its setup. prog-GAN
is measured at full resolution (no growing), where a run spends most of its images. The goal is
bare/loop <= 1.5, i.e. our loop costs at most 1.5x the bare loop. Figures on a shared machine are
noisy; ``--repeats`` keeps each side's best.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import numpy as np
import torch

from synthmed import profiles
from synthmed.gan.config import GANConfig, build
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.losses import discriminator_loss, generator_loss
from synthmed.gan.train import train_gan

N_LABELS = 14  # CheXpert's findings
N_IMAGES = 2048
DEFAULT_KIMG = {"tiny": 1.0, "cpu": 1.0, "paper": 10.0}


def benchmark_config(profile: str, arch: str, resolution: int, kimg: float) -> GANConfig:
    """The profile's config at full resolution from the start, stopping at ``kimg``, no Fréchet distance."""
    config = profiles.get(profile).gan_config(arch, resolution, N_LABELS)
    changes: dict[str, object] = {"total_kimg": kimg, "min_fid_kimg": kimg * 10, "fid_every_kimg": kimg * 10}
    if config.grows:
        changes["lod_initial_resolution"] = resolution  # no growing: every image at full resolution
        changes["minibatch"] = {resolution: config.minibatch[resolution]}
    return dataclasses.replace(config, **changes)


def data(resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (N_IMAGES, resolution, resolution), dtype=np.uint8)
    labels = (rng.random((N_IMAGES, N_LABELS)) < 0.2).astype(np.float32)
    return images, labels


def loop_images_per_second(config: GANConfig, images: np.ndarray, labels: np.ndarray, device: str) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        kimg = config.total_kimg
        result = train_gan(config, images, labels, run_dir, seed=0, extractor=DownsampledPixels(4),
                           device=device, tick_kimg=kimg / 8, checkpoint_every_kimg=kimg / 2,
                           grid_every_kimg=kimg / 2)
    return result.images_per_second  # images shown to D / wall time of the whole call


def bare_images_per_second(config: GANConfig, images: np.ndarray, labels: np.ndarray, device: str) -> float:
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    amp = config.precision == "bf16"  # as train_gan
    G, D = (m.to(dev) for m in build(config, seed=0))
    opt_G = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
    opt_D = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
    batch = config.minibatch[config.resolution]
    reals_all = torch.from_numpy(images).to(dev)[:, None].float() / 127.5 - 1  # [N, 1, R, R]
    labels_all = torch.from_numpy(labels).to(dev)

    def D_amp(x: torch.Tensor, y: torch.Tensor, lod: float = 0.0):
        # As train_gan: D under autocast, except on the gradient penalty's fp32 interpolates.
        with torch.autocast(dev.type, torch.bfloat16, enabled=amp and not (x.is_leaf and x.requires_grad)):
            return D(x, y, lod=lod)

    def step(i: int) -> None:
        index = torch.arange(i * batch, (i + 1) * batch, device=dev) % len(reals_all)
        reals, y = reals_all[index], labels_all[index]
        with torch.no_grad(), torch.autocast(dev.type, torch.bfloat16, enabled=amp):
            fakes = G(torch.randn(batch, config.latent, device=dev), y, 0.0)
        loss_D, _ = discriminator_loss(D_amp, reals, fakes, y, ac_weight=config.ac_weight)
        opt_D.zero_grad(set_to_none=True)
        loss_D.mean().backward()
        opt_D.step()
        with torch.autocast(dev.type, torch.bfloat16, enabled=amp):
            fakes = G(torch.randn(batch, config.latent, device=dev), y, 0.0)
        loss_G, _ = generator_loss(D_amp, fakes, y, ac_weight=config.ac_weight)
        opt_G.zero_grad(set_to_none=True)
        loss_G.mean().backward()
        opt_G.step()

    step(0)  # warm-up (allocations, kernels)
    steps = max(1, round(config.total_kimg * 1000 / batch))
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=sorted(DEFAULT_KIMG), help="GANConfig profile: tiny, cpu or paper")
    parser.add_argument("--kimg", type=float, default=None, help="thousand images per measurement")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=1, help="measure each side this often, keep the best")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="GANConfig.precision: fp32 (the profiles' default) or bf16 autocast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kimg = args.kimg if args.kimg is not None else DEFAULT_KIMG[args.profile]

    print(f"profile {args.profile}, {args.threads} thread(s), device {args.device}, "
          f"{kimg} kimg per measurement, precision {args.precision}")
    print(f"{'arch':8} {'res':>4} {'batch':>5} {'bare img/s':>11} {'loop img/s':>11} {'bare/loop':>9}")
    warmed = False
    for resolution in args.resolutions:
        images, labels = data(resolution)
        for arch in ("progan", "cpdgan"):
            config = dataclasses.replace(benchmark_config(args.profile, arch, resolution, kimg),
                                         precision=args.precision)
            if not warmed:  # first optimiser and first train_gan call pay one-off imports
                warm_up = dataclasses.replace(config, total_kimg=0.01)
                loop_images_per_second(warm_up, images, labels, args.device)
                warmed = True
            bare = loop = 0.0
            for _ in range(args.repeats):
                bare = max(bare, bare_images_per_second(config, images, labels, args.device))
                loop = max(loop, loop_images_per_second(config, images, labels, args.device))
            batch = config.minibatch[resolution]
            print(f"{arch:8} {resolution:>4} {batch:>5} {bare:>11.1f} {loop:>11.1f} {bare / loop:>8.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
