"""One GAN on several GPUs (or CPU processes): ``train_gan`` under torchrun, data-parallel over the ranks.

    torchrun --standalone --nproc_per_node 4 -m synthmed.gan.ddp --data train.npz --run-dir runs/cpd128 \\
        --arch cpdgan --preset paper --resolution 128

``--data``: an .npz with ``images`` (uint8 [N, R, R]) and ``labels`` (0/1 [N, L]), e.g. a benchmark
point's training split (`synthmed.data.store`). The config is the preset's (``GANConfig.paper`` ...) or
a JSON file of ``GANConfig.to_dict()`` (``--config``). The total minibatch is the config's whatever
the number of ranks (`synthmed.gan.shard` says how it is split and what stays per-sample); rank 0
evaluates, logs, keeps G_ema's checkpoints and prints the result as one JSON line. The run folder is
the one-process loop's: a run started with N ranks resumes with any number that splits its minibatch
(the checkpoint holds no rank-dependent state), and one process reads it as usual (`load_generator`).
The process group is NCCL on CUDA and gloo on the CPU; without torchrun this trains in one process.
The Fréchet distance that early-stops the run uses downsampled pixels here (``DownsampledPixels``); a
benchmark point's own features live above this package (`synthmed.features`).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from synthmed.gan.config import GANConfig
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.shard import Shard
from synthmed.gan.train import PAPER_FD_IMAGES, train_gan


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthmed.gan.ddp", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz with images (uint8 [N, R, R]) and labels ([N, L])")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--arch", default="cpdgan", choices=("cpdgan", "progan"))
    parser.add_argument("--preset", default="paper", help="GANConfig preset: paper, cpu, tiny, ...")
    parser.add_argument("--resolution", type=int, default=None, help="default: the images' size")
    parser.add_argument("--config", default=None, help="JSON of GANConfig.to_dict(); replaces --arch/--preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fd-images", type=int, default=PAPER_FD_IMAGES)
    parser.add_argument("--fd-reals", default="fixed", choices=("fixed", "fresh"))
    parser.add_argument("--max-kimg", type=float, default=None, help="pause (checkpointed) once past this")
    parser.add_argument("--tick-kimg", type=float, default=None)
    parser.add_argument("--checkpoint-every-kimg", type=float, default=None)
    parser.add_argument("--grid-every-kimg", type=float, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with np.load(args.data) as stored:
        images, labels = stored["images"], stored["labels"]
    if args.config:
        config = GANConfig.from_dict(json.loads(Path(args.config).read_text()))
    else:
        config = getattr(GANConfig, args.preset)(args.arch, args.resolution or images.shape[-1], labels.shape[1])
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    device = "auto"
    if distributed:
        cuda = torch.cuda.is_available()
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    shard = Shard.from_process_group()
    try:
        result = train_gan(config, images, labels, args.run_dir, seed=args.seed, extractor=DownsampledPixels(4),
                           device=device, fd_images=args.fd_images, fd_reals=args.fd_reals, max_kimg=args.max_kimg,
                           tick_kimg=args.tick_kimg, checkpoint_every_kimg=args.checkpoint_every_kimg,
                           grid_every_kimg=args.grid_every_kimg, shard=shard)
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if shard.main:
        print(json.dumps({"ranks": shard.world, "kimg": result.kimg, "stop_reason": result.stop_reason,
                          "best_fd": result.best_fd, "run_dir": str(result.run_dir)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
