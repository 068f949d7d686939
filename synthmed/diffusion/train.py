"""The diffusion model's training loop: noise prediction, EMA, Fréchet early stopping, checkpoints, exact resume.

One flat function in the GAN loop's style (``synthmed.gan.train``), under the same contract:

- A step draws ``batch`` reals in a seeded per-epoch order, maps [0, 255] to [-1, 1], draws a
  timestep t uniformly from 0..T-1 and Gaussian noise per image, noises the images with diffusers'
  ``DDPMScheduler.add_noise`` and regresses the noise (mean squared error; Ho et al. 2020's "simple"
  loss). Each image's labels are replaced by "no label" with probability ``p_uncond`` (classifier-free
  guidance, Ho & Salimans 2022). Adam with a linear warm-up of the learning rate over
  ``warmup_steps`` and the gradient norm clipped to ``grad_clip``.
- The EMA network follows with decay ``min(ema_decay, (1 + step) / (10 + step))`` after every step
  (the warm-up of TensorFlow's ExponentialMovingAverage, which diffusers' EMAModel also offers), so
  that short runs do not average in their random initialisation. It is evaluated and sampled.
- Progress is counted in training images (kimg). Every tick appends one JSON line with the mean
  loss, the learning rate and timings to ``log.jsonl``.
- Early stopping as the GANs: from ``min_fd_kimg``, every ``fd_every_kimg``, and at ``total_kimg``,
  the Fréchet distance between ``fd_images`` real training images and as many EMA samples with those
  reals' labels (DDIM, the config's steps and guidance, i.e. the sampler the split will be drawn
  with), in the given extractor's features; ``best.pt`` keeps the best EMA network; training stops
  after ``patience`` evaluations without improvement or at ``total_kimg``. ``monitors`` log further
  distances on the same images. Reals and starting noise are one seeded draw ("fixed") or one per
  evaluation ("fresh"), as ``synthmed.gan.train`` explains.
- The sampled network (:attr:`TrainResult.checkpoint`) follows the GANs' rule: best.pt when the
  patience ran out or the run is unfinished, last.pt when it reached total_kimg with patience left.

Exact resume: every draw comes from explicit generators: ``noise`` (timesteps, noise, label drops;
checkpointed), the data order (a seeded permutation per epoch, fixed by the images drawn so far) and
the evaluations' own seeded generators; torch's global RNG (dropout) and Python's ``random`` are
seeded, checkpointed and handed back afterwards. DDIM with eta 0 draws nothing, so evaluations and
grids leave the training stream as it was. last.pt holds the network, its EMA, Adam's state, the RNG
states, the progress and the config, written atomically with a ``synthmed.cache`` manifest; a run
killed at any point continues from it and, on the CPU, reaches the same weights as an uninterrupted
run. A checkpoint that fails its manifest is reported and the run starts over; a half-written last
log line is dropped; one process trains a run directory at a time (a lock beside it).
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from tqdm.auto import tqdm

from synthmed import cache, run_folder
from synthmed import config as settings
from synthmed.diffusion.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from synthmed.diffusion.config import DiffusionConfig, build
from synthmed.diffusion.sample import generate_uint8
from synthmed.gan.frechet import FeatureStatistics, extractor_name, feature_statistics, frechet_distance
from synthmed.run_folder import TrainResult as TrainResult  # re-exported: callers read results from here
from synthmed.run_folder import append_jsonl as _append_jsonl
from synthmed.run_folder import atomic_save as _atomic_save
from synthmed.run_folder import cpu_state as _cpu_state
from synthmed.run_folder import data_digest as data_digest
from synthmed.run_folder import derived_seed, discard_run
from synthmed.run_folder import grid_label_rows as _grid_label_rows
from synthmed.run_folder import image_grid as _image_grid
from synthmed.run_folder import read_log as read_log
from synthmed.run_folder import run_global_rngs as _run_global_rngs
from synthmed.run_folder import save_png as _save_png
from synthmed.run_folder import truncate_log as _truncate_log
from synthmed.torch_utils import resolve_device

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # part of train_diffusion_cached's key: bump when a change here changes what a run produces
_DEVICE_DATA_BYTES = 2 << 30  # on a GPU the uint8 training set moves to device memory when at most this large

Extractor = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------
# Helpers (the run folder's are synthmed.run_folder's).


def _derived_seed(seed: int, purpose: str, index: int = 0) -> int:
    return derived_seed("diffusion-train", seed, purpose, index)


def _discard_run(run_dir: Path) -> None:
    discard_run(run_dir, "samples-*.png")


def _check_data(images: np.ndarray, labels: np.ndarray, config: DiffusionConfig) -> tuple[np.ndarray, np.ndarray]:
    return run_folder.check_training_data(images, labels, resolution=config.resolution, n_labels=config.n_labels,
                                          channels=config.channels, who="DiffusionConfig:train_diffusion")


def fd_count(config: DiffusionConfig, fd_images: int, n: int) -> int:
    """Images per Fréchet evaluation: the caller's ``fd_images``, at most the training set and the config's cap."""
    return min(fd_images, n, config.max_fd_images or fd_images)


# ----------------------------------------------------------------------------
# The loop.


def train_diffusion(
    config: DiffusionConfig,
    images: np.ndarray,  # uint8 (N, R, R): the real training split at the config's resolution
    labels: np.ndarray,  # 0/1 (N, L)
    run_dir: str | Path,  # folder of the run; an unfinished run found there is resumed
    *,
    seed: int = 0,  # initial weights, data order, noise, evaluation samples: everything random
    extractor: Extractor,  # features for the Fréchet distance (gan.frechet.FeatureExtractor)
    device: str = "auto",
    progress: bool = False,  # a tqdm bar
    max_kimg: float | None = None,  # pause (checkpoint, unfinished) once past this; None = run to the end
    fd_images: int = 10_000,  # real and generated images per Fréchet distance; at most N
    fd_reals: str = "fixed",  # "fixed": one draw of reals and noise; "fresh": one per evaluation
    monitors: dict[str, Extractor] | None = None,  # further Fréchet distances, logged; they do not steer
    tick_kimg: float | None = None,  # kimg per log record; None = fd_every_kimg / 4
    checkpoint_every_kimg: float | None = None,  # last.pt this often and at the end; None = fd_every_kimg
    grid_every_kimg: float | None = None,  # a samples PNG this often; None = fd_every_kimg; 0 = never
    grid_size: tuple[int, int] = (8, 8),  # rows (most frequent label vectors) x columns (starting noise)
) -> TrainResult:
    """Train (or resume, or return a finished) diffusion run in ``run_dir``; see the module docstring.

    Files in run_dir: last.pt, best.pt, log.jsonl (records "start", "resume", "tick", "fd",
    "checkpoint", "stop", each with ``nimg`` and ``kimg``), reals.png and samples-<kimg>.png (grids),
    run.json (settings, for people).
    """
    call_start = time.perf_counter()
    images, labels = _check_data(images, labels, config)
    digest = data_digest(images, labels)
    monitors = dict(monitors or {})
    every = run_folder.check_options(
        fd_every_kimg=config.fd_every_kimg, max_kimg=max_kimg, fd_images=fd_images, fd_reals=fd_reals,
        tick_kimg=tick_kimg, checkpoint_every_kimg=checkpoint_every_kimg, grid_every_kimg=grid_every_kimg,
        grid_default_kimg=config.fd_every_kimg, grid_size=grid_size)

    run_dir = Path(run_dir)
    with cache.locked(run_dir, what="diffusion run"):
        run_dir.mkdir(parents=True, exist_ok=True)
        cache.clean_stale(run_dir)
        last_path, best_path, log_path = run_dir / "last.pt", run_dir / "best.pt", run_dir / "log.jsonl"
        dev = resolve_device(device)
        N = len(images)

        # Networks, optimiser, schedule, generators.
        model = build(config, seed).to(dev)
        ema = copy.deepcopy(model).eval().requires_grad_(False)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.adam_betas)
        scheduler = DDPMScheduler(**config.scheduler_kwargs())
        noise = torch.Generator().manual_seed(_derived_seed(seed, "noise"))  # timesteps, noise, label drops
        state = run_folder.new_progress(config.min_fd_kimg, config.fd_every_kimg)
        saved_rngs = None

        # Resume from last.pt when it (and best.pt, once there is one) matches its manifest.
        checkpoint = None
        if last_path.exists():
            checkpoint = run_folder.usable_checkpoint(
                last_path, best_path, lambda path: load_checkpoint(path, config), "diffusion checkpoint")
            if checkpoint is None:
                _discard_run(run_dir)
        resumed = checkpoint is not None
        if checkpoint is not None:  # load_checkpoint refused another network
            run_folder.check_same_run(checkpoint, DiffusionConfig.from_dict(checkpoint["config"]), config, seed,
                                      digest, last_path)
            model.load_state_dict(checkpoint["model"])
            ema.load_state_dict(checkpoint["ema"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            noise.set_state(checkpoint["rng"]["noise"])
            saved_rngs = checkpoint["rng"]
            state.update(checkpoint["progress"])
            del checkpoint
            _truncate_log(log_path, state["nimg"])
        elif log_path.exists():
            log_path.unlink()  # a run that died before its first checkpoint starts over

        def result(from_cache: bool, images_trained: int) -> TrainResult:
            return run_folder.train_result(state, run_dir=run_dir, patience=config.patience, call_start=call_start,
                                           images_trained=images_trained, device=str(dev), from_cache=from_cache)

        if state["done"]:
            log.info("diffusion run %s finished before (%s at %.1f kimg)", run_dir, state["stop_reason"],
                     state["nimg"] / 1000)
            return result(from_cache=True, images_trained=0)

        images_t = torch.from_numpy(images if images.flags.writeable else images.copy())
        labels_t = torch.from_numpy(labels)
        if dev.type == "cuda" and images_t.numel() <= _DEVICE_DATA_BYTES:
            images_t, labels_t = images_t.to(dev), labels_t.to(dev)
        take = run_folder.EpochOrder(N, lambda epoch: _derived_seed(seed, "data", epoch)).take
        bf16 = config.precision == "bf16"
        sample_batch = 256 if dev.type == "cuda" else 16  # small batches run faster on one CPU thread

        # The Fréchet evaluation: reals, their labels and starting noise, one draw or one per evaluation.
        n_fd = fd_count(config, fd_images, N)
        real_stats: dict[str, FeatureStatistics] = {}
        drawn: int | None = None
        shape = (config.channels, config.resolution, config.resolution)

        def evaluate_fd() -> tuple[float, dict[str, float]]:
            nonlocal drawn
            draw = state["evals"] if fd_reals == "fresh" else 0
            index = torch.randperm(N, generator=torch.Generator().manual_seed(_derived_seed(seed, "fd-reals", draw)))
            fd_index = index[:n_fd].numpy()
            start_noise = torch.randn(n_fd, *shape,
                                      generator=torch.Generator().manual_seed(_derived_seed(seed, "fd-noise", draw)))
            if drawn != draw:
                real_stats.clear()
                drawn = draw
            fakes = generate_uint8(ema, start_noise, torch.from_numpy(labels[fd_index]), steps=config.sample_steps,
                                   guidance=config.guidance, batch_size=sample_batch)
            distances = {}
            for key, features in {"": extractor, **monitors}.items():
                if key not in real_stats:
                    real_stats[key] = feature_statistics(features(images[fd_index]))
                distances[key] = frechet_distance(real_stats[key], feature_statistics(features(fakes)))
            return distances.pop(""), distances

        # Image grids: rows of the most frequent label vectors, fixed starting noise per cell.
        grid_rows_labels = _grid_label_rows(labels, grid_size[0])
        grid_rows, grid_cols = len(grid_rows_labels), grid_size[1]
        grid_labels = torch.from_numpy(np.repeat(grid_rows_labels, grid_cols, axis=0))
        grid_noise = torch.randn(grid_rows * grid_cols, *shape,
                                 generator=torch.Generator().manual_seed(_derived_seed(seed, "grid")))

        def save_samples(name: str) -> None:
            fakes = generate_uint8(ema, grid_noise, grid_labels, steps=config.sample_steps, guidance=config.guidance,
                                   batch_size=sample_batch)
            _save_png(_image_grid(fakes, grid_rows, grid_cols), run_dir / name)

        if every.grid_every_kimg > 0 and not (run_dir / "reals.png").exists():
            run_folder.save_reals_grid(images, labels, grid_rows_labels, grid_cols, _derived_seed(seed, "grid-reals"),
                                       run_dir / "reals.png")
        cache.atomic_write(run_dir / "run.json", json.dumps(
            {"config": config.to_dict(), "seed": seed, "data_digest": digest, "images": N, "device": str(dev),
             "extractor": extractor_name(extractor), "fd_images": n_fd}, indent=1, default=str), manifest=False)

        images_trained = 0
        target_kimg = config.total_kimg if max_kimg is None else min(max_kimg, config.total_kimg)
        with _run_global_rngs(seed, saved_rngs):
            nimg = state["nimg"]
            _append_jsonl(log_path, {"kind": "resume" if resumed else "start", "nimg": nimg, "kimg": nimg / 1000,
                                     "device": str(dev), "precision": config.precision, "seed": seed})

            loss_sum, loss_count = torch.zeros(()), 0
            housekeeping = run_folder.Housekeeping(state, every)
            bar = tqdm(total=round(target_kimg, 3), initial=round(nimg / 1000, 3), desc="diffusion",
                       disable=not progress, leave=False,
                       bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}{postfix}]")

            def save_last() -> None:
                _atomic_save({
                    "format": CHECKPOINT_FORMAT, "kind": "last", "config": config.to_dict(), "seed": seed,
                    "data_digest": digest, "model": _cpu_state(model), "ema": _cpu_state(ema),
                    "optimizer": optimizer.state_dict(),
                    "rng": {"noise": noise.get_state(), "torch_global": torch.get_rng_state(),
                            "python": random.getstate()},
                    "progress": dict(state),
                }, last_path)
                _append_jsonl(log_path, {"kind": "checkpoint", "nimg": nimg, "kimg": nimg / 1000,
                                         "path": last_path.name})

            paused = max_kimg is not None and nimg >= max_kimg * 1000
            if paused and not resumed:
                save_last()  # a run paused before its first step still leaves a checkpoint to resume from
            while not paused:
                # One optimiser step.
                index = take(nimg, config.batch)
                x0 = images_t[index.to(images_t.device)].to(dev)[:, None].float() / 127.5 - 1.0  # [B, 1, R, R]
                y = labels_t[index.to(labels_t.device)].to(dev)
                t = torch.randint(config.timesteps, (len(index),), generator=noise).to(dev)
                eps = torch.randn(x0.shape, generator=noise).to(dev)
                uncond = (torch.rand(len(index), generator=noise) < config.p_uncond).to(dev)
                x_t = scheduler.add_noise(x0, eps, t)
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                    prediction = model(x_t, t, y, uncond)
                loss = F.mse_loss(prediction.float(), eps)
                for group in optimizer.param_groups:  # linear warm-up (Ho et al. 2020)
                    group["lr"] = config.lr * min(1.0, (state["step"] + 1) / max(config.warmup_steps, 1))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                with torch.no_grad():
                    decay = min(config.ema_decay, (1 + state["step"]) / (10 + state["step"]))
                    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - decay)
                state["step"] += 1
                nimg += len(index)
                images_trained += len(index)
                loss_sum += loss.detach().cpu()
                loss_count += 1
                state["nimg"] = nimg
                bar.update(round(nimg / 1000, 3) - bar.n)
                if nimg >= config.total_kimg * 1000:
                    state["done"], state["stop_reason"] = True, "total_kimg"
                paused = not state["done"] and max_kimg is not None and nimg >= max_kimg * 1000
                if not housekeeping.due(nimg, paused):
                    continue

                # Housekeeping.
                housekeeping.begin()
                kimg = nimg / 1000
                record: dict[str, Any] = {"nimg": nimg, "kimg": kimg}

                evaluate = run_folder.evaluation_due(state, nimg, kimg, config.min_fd_kimg)
                if evaluate:
                    eval_start = time.perf_counter()
                    fd, monitored = evaluate_fd()
                    improved = run_folder.note_evaluation(state, fd, monitored, nimg=nimg,
                                                          fd_every_kimg=config.fd_every_kimg, patience=config.patience)
                    if improved:
                        _atomic_save({"format": CHECKPOINT_FORMAT, "kind": "best", "config": config.to_dict(),
                                      "seed": seed, "data_digest": digest, "ema": _cpu_state(ema),
                                      "progress": {"nimg": nimg, "kimg": kimg, "fd": fd}}, best_path)
                    _append_jsonl(log_path, run_folder.evaluation_record(
                        state, fd, improved, monitored if monitors else None, fd_images=n_fd, extractor=extractor,
                        seconds=time.perf_counter() - eval_start))
                    log.info("kimg %.2f: Fréchet distance %.4g (best %.4g at %.2f kimg)", kimg, fd,
                             state["best_fd"], state["best_kimg"])

                if housekeeping.tick_due(nimg, paused):
                    tick_record = {"kind": "tick", **record, "step": state["step"],
                                   "loss": float(loss_sum) / max(loss_count, 1),
                                   "lr": optimizer.param_groups[0]["lr"], **housekeeping.tick_timing(nimg)}
                    _append_jsonl(log_path, tick_record)
                    bar.set_postfix_str(f"loss {tick_record['loss']:.4f} {tick_record['Timing/img_per_sec']:.0f} img/s"
                                        + (f" FD {state['best_fd']:.3g}" if state["best_fd"] is not None else ""))
                    loss_sum, loss_count = torch.zeros(()), 0

                if housekeeping.grid_due(nimg):
                    save_samples(f"samples-{kimg:010.3f}kimg.png")
                if housekeeping.checkpoint_due(nimg, evaluate, paused):
                    save_last()
                housekeeping.end()
                if state["done"]:
                    break

            bar.close()
            if paused and not state["done"]:
                state["stop_reason"] = "max_kimg"
            _append_jsonl(log_path, run_folder.stop_record(state))
        log.info("diffusion run %s: %s at %.2f kimg, best FD %s", run_dir, state["stop_reason"], nimg / 1000,
                 state["best_fd"])
        return result(from_cache=False, images_trained=images_trained)


def train_diffusion_cached(
    config: DiffusionConfig,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    extractor: Extractor,  # needs a ``name``: it steers early stopping, so the key holds it
    fd_images: int = 10_000,
    fd_reals: str = "fixed",
    monitors: dict[str, Extractor] | None = None,  # each needs a ``name`` too
    device: str = "auto",
    progress: bool = False,
    cache_dir: str | Path | None = None,  # None = synthmed.config.home() / "diffusion"
    **options: Any,  # max_kimg, tick_kimg, ... as train_diffusion (not part of the key)
) -> TrainResult:
    """:func:`train_diffusion` in ``<cache_dir>/<hash>``, the hash of config, seed, data, extractor and evaluation.

    A finished run is returned as it is (``from_cache``); an unfinished one resumes from last.pt.
    """
    images, labels = _check_data(images, labels, config)
    key = run_folder.run_key("diffusion", CACHE_VERSION, config.to_dict(), seed, data_digest(images, labels), extractor,
                             fd_count(config, fd_images, len(images)), [fd_reals], monitors, "train_diffusion_cached")
    root = Path(cache_dir) if cache_dir is not None else settings.home() / "diffusion"
    return train_diffusion(config, images, labels, root / key, seed=seed, extractor=extractor, fd_images=fd_images,
                           fd_reals=fd_reals, monitors=monitors, device=device, progress=progress, **options)
