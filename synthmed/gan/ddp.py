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
``--cache-dir`` instead of ``--run-dir`` trains in the folder `train_gan_cached` keys under it, so a
process that calls `train_gan_cached` with the same data, config, seed and Fréchet settings afterwards
finds the run finished. The process group is NCCL on CUDA and gloo on the CPU (``--device cpu``, or no
GPU); without torchrun this trains in one process.

The Fréchet distance that early-stops the run uses downsampled pixels unless ``--fd-setup`` names a file
that `torch.save` wrote of ``{"extractor": ..., "monitors": {...} or None}``: any picklable extractors with
a ``name`` (a benchmark point's real classifier, `synthmed.features`; the Inception network), loaded onto
each rank's device. `torchrun` (the function) is how a benchmark point's GAN gets here
(`synthmed.generators`, `run_point(gan_ranks=N)`, a cluster job with ``--gpus-per-job N``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthmed.gan.config import GANConfig
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.shard import Shard
from synthmed.gan.train import PAPER_FD_IMAGES, train_gan, train_gan_cached

DEVICES = ("auto", "cuda", "cpu")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m synthmed.gan.ddp", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help=".npz with images (uint8 [N, R, R]) and labels ([N, L])")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--run-dir", help="the run folder")
    where.add_argument("--cache-dir", help="train in the folder train_gan_cached keys under this one")
    parser.add_argument("--fd-setup", default=None,
                        help="torch.save'd {'extractor': ..., 'monitors': ...}; default: downsampled pixels")
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="auto: a GPU per rank when there are GPUs (NCCL), else CPU processes (gloo)")
    parser.add_argument("--progress", action="store_true", help="a progress bar on rank 0")
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
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is visible")
    cuda = args.device != "cpu" and torch.cuda.is_available()
    device = "cpu" if args.device == "cpu" else "auto"
    if distributed:
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    shard = Shard.from_process_group()
    extractor, monitors = DownsampledPixels(4), None
    if args.fd_setup:
        where = device if device.startswith("cuda:") else ("cuda" if cuda else "cpu")
        fd = torch.load(args.fd_setup, map_location=where, weights_only=False)
        extractor, monitors = fd["extractor"], fd.get("monitors")
    options = {"seed": args.seed, "extractor": extractor, "monitors": monitors, "device": device,
               "progress": args.progress and shard.main, "fd_images": args.fd_images, "fd_reals": args.fd_reals,
               "max_kimg": args.max_kimg, "tick_kimg": args.tick_kimg,
               "checkpoint_every_kimg": args.checkpoint_every_kimg, "grid_every_kimg": args.grid_every_kimg,
               "shard": shard}
    try:
        if args.cache_dir:
            result = train_gan_cached(config, images, labels, cache_dir=args.cache_dir, **options)
        else:
            result = train_gan(config, images, labels, args.run_dir, **options)
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    if shard.main:
        print(json.dumps({"ranks": shard.world, "kimg": result.kimg, "stop_reason": result.stop_reason,
                          "best_fd": result.best_fd, "run_dir": str(result.run_dir)}), flush=True)
    return 0


class RanksFailed(RuntimeError):
    """A data-parallel training's torchrun ended with an error; the message names each rank's log."""


def torchrun(
    ranks: int,
    config: GANConfig,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    cache_dir: str | Path,
    work_root: str | Path,
    seed: int = 0,
    extractor: Any,
    monitors: dict[str, Any] | None = None,
    fd_images: int = PAPER_FD_IMAGES,
    fd_reals: str = "fixed",
    device: str = "auto",
    progress: bool = False,
) -> Path:
    """`train_gan_cached(config, images, labels, cache_dir=cache_dir, ...)` over `ranks` processes: torchrun
    (``--standalone``) runs this module's `main` with the same data, config, seed and Fréchet settings, and
    this process waits for it. Returns the run folder, finished; `train_gan_cached` with the same arguments
    then returns it from the cache.

    The ranks take the GPUs this process sees, one each (``device`` "auto" or "cuda"), or are gloo processes on
    the CPU (``device`` "cpu", or no GPU). Their inputs go to a new folder under `work_root` (the data as .npz,
    the config as JSON, the extractors through `torch.save`), their output to its ``logs`` (each rank's stdout
    and stderr, torchrun's layout, also copied to this process's); the folder is removed when the ranks
    succeed. A failure raises `RanksFailed` with the failing rank's last error line and every rank's log path
    (the folder keeps the logs). If this process is stopped while waiting (a preempted job), the ranks are
    stopped too and the folder removed; the run folder's last checkpoint holds their progress.
    """
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 2:
        raise ValueError(f"torchrun: expected at least 2 ranks, got {ranks!r} (one process: train_gan_cached)")
    if device not in DEVICES:
        raise ValueError(f"torchrun: device {device!r}: the ranks take the GPUs one each; give one of "
                         f"{', '.join(DEVICES)}")
    work_root = Path(work_root)
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=work_root)).resolve()
    np.savez(work / "data.npz", images=images, labels=labels)
    (work / "config.json").write_text(json.dumps(config.to_dict()))
    torch.save({"extractor": extractor, "monitors": monitors}, work / "fd.pt")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
               "--log-dir", str(work / "logs"), "--tee", "3", "-m", "synthmed.gan.ddp",
               "--data", str(work / "data.npz"), "--config", str(work / "config.json"), "--fd-setup",
               str(work / "fd.pt"), "--cache-dir", str(Path(cache_dir).resolve()), "--seed", str(seed),
               "--fd-images", str(fd_images), "--fd-reals", fd_reals, "--device", device,
               *(["--progress"] if progress else [])]
    package_root = str(Path(__file__).resolve().parents[2])  # synthmed importable in the ranks as it is here
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))}
    env.setdefault("OMP_NUM_THREADS", str(max(1, torch.get_num_threads() // ranks)))  # this process's cores
    process = subprocess.Popen(command, env=env, cwd=work)
    try:
        code = process.wait()
    except BaseException:  # stopped while waiting (submitit's SystemExit on preemption): stop the ranks too
        if process.poll() is None:
            process.terminate()  # torchrun passes SIGTERM on to the ranks and waits for them
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)  # the next call starts afresh; the run folder keeps the progress
        raise
    logs = {rank: sorted((work / "logs").glob(f"*/attempt_*/{rank}/stderr.log")) for rank in range(ranks)}
    if code != 0:
        for name in ("data.npz", "fd.pt"):
            (work / name).unlink(missing_ok=True)
        raise RanksFailed(_failure(ranks, code, logs))
    stdout = sorted((work / "logs").glob("*/attempt_*/0/stdout.log"))
    reported = [json.loads(line) for path in stdout for line in path.read_text().splitlines()
                if line.startswith("{") and '"run_dir"' in line]
    if not reported:
        raise RanksFailed(f"torchrun ended without rank 0's result line; logs: {stdout}")
    shutil.rmtree(work, ignore_errors=True)
    return Path(reported[-1]["run_dir"])


def _failure(ranks: int, code: int, logs: dict[int, list[Path]]) -> str:
    """The message of a failed torchrun: the first failing rank's last error line, then every rank's stderr log."""
    reason = ""
    for rank, paths in logs.items():
        text = paths[-1].read_text(errors="replace") if paths else ""
        if "Traceback" in text or (paths and paths[-1].with_name("error.json").exists()):
            lines = [line for line in text.splitlines() if line.strip()]
            last = re.sub(r"^\[rank\d+\]:\s*", "", lines[-1].strip()) if lines else "failed"  # torch's prefix
            reason = f"rank {rank}: {last}; "
            break
    named = ", ".join(f"rank {rank} {paths[-1] if paths else '(no log)'}" for rank, paths in logs.items())
    return (f"one GAN over {ranks} ranks (torchrun) failed with exit code {code}: {reason}rank logs (stderr; "
            f"stdout beside each): {named}")


if __name__ == "__main__":
    raise SystemExit(main())
