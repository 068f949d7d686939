"""One training loop for prog-GAN and cpD-GAN: schedule, EMA, Fréchet early stopping, checkpoints, resume.

The loop follows PGGAN's ``train_progressive_gan``, which the paper forks for both GANs (paper-spec
§3), written as one flat function in the style of stylegan2-ada's ``training_loop``:

- Adam (beta1 0, beta2 0.99, eps 1e-8) with the config's learning rate; reals [0, 255] -> [-1, 1].
- A schedule step runs ``minibatch_repeats`` (4) minibatches, each ``d_repeats`` (1) D steps and one
  G step; the level of detail and minibatch size are chosen once per schedule step from the kimg
  reached (paper-spec §3.1, §3.2). prog-GAN fades the reals like its networks (``fade_reals``) and
  resets both optimisers' moments whenever a level starts or finishes fading in (PGGAN's default
  ``reset_opt_for_new_lod=True``).
- The D step gives G the real batch's labels; the G step draws its labels uniformly from the
  training label rows, i.e. from the empirical label distribution (paper-spec §3.1).
- ``G_ema`` follows G with ``ema_beta`` after every G step and is used for evaluation and sampling.
- Progress is counted in images shown to D (kimg). Every tick appends one JSON line of mean losses
  and timings to ``log.jsonl``; image grids of ``G_ema`` are saved as PNGs.
- Early stopping as the paper (paper-spec §3.1): only at full resolution (lod 0), from
  ``min_fid_kimg`` on, every ``fid_every_kimg``, the Fréchet distance between ``fd_images`` real
  training images and as many ``G_ema`` images generated with those reals' labels; ``best.pt``
  keeps the best; training stops after ``patience`` evaluations without improvement, or at
  ``total_kimg``. ``monitors`` add further Fréchet distances (other feature spaces) on the same
  images to each evaluation's log record; they never steer the run.
- Which network is sampled (:attr:`TrainResult.checkpoint`), as the original's ``network-final.pkl``
  that its ``test.py`` samples: the best one (``best.pt``) when the patience ran out, and the last
  one (``last.pt``) when the run reached ``total_kimg`` with patience to spare. The original counts
  patience at every evaluation, the last one included, so a run whose final evaluation at
  ``total_kimg`` exhausts it also gets the best. An unfinished run (paused at ``max_kimg``) gets
  the best so far, the file the original's ``network-final.pkl`` holds mid-run.
- The evaluation's reals and latents. The original draws both afresh at every evaluation (the next
  10,000 images of its shuffled training stream and new latents); ``fd_reals="fresh"`` does the
  same, seeded by the evaluation's number. The default ``"fixed"`` keeps one seeded draw for the
  whole run, so that successive distances differ only because G changed: with the CPU profiles'
  few evaluation images (256 at tiny, 2,000 at cpu, against the paper's 10,000) the spread between
  two independent draws is of the order of the improvements the patience rule compares, and fresh
  draws would stop or prolong runs by chance. The paper profile draws afresh.

Exact resume. Every random draw comes from explicit generators: ``noise`` (latents, G's labels,
the gradient penalty's mixing factors) is checkpointed; the data order is a seeded permutation per
epoch, so the number of reals drawn (= images shown) fixes it; the Fréchet evaluation draws its
reals and latents from generators of its own, seeded by the run's seed (and, when fresh, the
number of the evaluation, which the checkpoint holds). Torch's global CPU RNG and Python's
``random`` are seeded for the run, checkpointed and handed back to the caller afterwards (the
networks draw nothing from them; this guards layers that might); NumPy's global RNG is not used.
A checkpoint holds G, D, G_ema, both optimisers, these RNG states, the schedule position and the
config, is written atomically, and a run restarted after being killed at any point continues
from it and, on the CPU, reaches the same weights as an uninterrupted run.

Trust. Checkpoints carry a manifest (``synthmed.cache``: size and BLAKE2b hash), checked before a
resume and by ``load_checkpoint``: a run whose last.pt or best.pt fails it is reported and starts
over, never trains on. A half-written last line of log.jsonl is dropped with a warning. One process
trains a run directory at a time (a file lock beside it): a second call on the same run waits, then
resumes or returns it, so the log never holds a record twice.

Nothing here is global: each call owns its networks, optimisers and generators, so running one
call per process (data-parallel ranks, say) needs no rewrite of the loop.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from synthmed import cache, run_folder
from synthmed import config as settings
from synthmed.gan.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from synthmed.gan.checkpoint import load_generator as load_generator  # re-exported: callers load through train
from synthmed.gan.config import GANConfig, build
from synthmed.gan.frechet import (
    FeatureStatistics,
    extractor_name,
    feature_statistics,
    frechet_distance,
)
from synthmed.gan.layers import DiscriminatorOutput
from synthmed.gan.losses import discriminator_loss, generator_loss
from synthmed.gan.progan import fade_reals
from synthmed.gan.sample import generate_uint8
from synthmed.gan.shard import Shard
from synthmed.run_folder import TrainResult as TrainResult  # re-exported: callers read results from here
from synthmed.run_folder import append_jsonl as _append_record
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

CACHE_VERSION = 2  # part of train_gan_cached's key: bump when a change here changes what a run produces
PAPER_FD_IMAGES = 10_000  # paper-spec §3.1: FID on 10,000 real train images vs 10,000 fakes
_DEVICE_DATA_BYTES = 2 << 30  # on a GPU the uint8 training set moves to device memory when at most this large

Extractor = Callable[[np.ndarray], np.ndarray]


# ----------------------------------------------------------------------------
# Small helpers (the run folder's are synthmed.run_folder's).


def _derived_seed(seed: int, purpose: str, index: int = 0) -> int:
    return derived_seed("gan-train", seed, purpose, index)


def _discard_run(run_dir: Path) -> None:
    discard_run(run_dir, "fakes-*.png")


def _check_data(images: np.ndarray, labels: np.ndarray, config: GANConfig) -> tuple[np.ndarray, np.ndarray]:
    return run_folder.check_training_data(images, labels, resolution=config.resolution, n_labels=config.n_labels,
                                          channels=config.channels, who="GANConfig:train_gan")


def _reset_adam(optimizer: torch.optim.Optimizer) -> None:
    optimizer.state.clear()  # PGGAN's reset_optimizer_state: moments and step counts start afresh


@torch.no_grad()
def _update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for parameters; buffers are copied."""
    ema_params, params = list(G_ema.parameters()), list(G.parameters())
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for ema_buffer, buffer in zip(G_ema.buffers(), G.buffers(), strict=True):
        ema_buffer.copy_(buffer)


# ----------------------------------------------------------------------------
# The loop.


def train_gan(
    config: GANConfig,  # Model, loss and schedule settings (GANConfig.paper / cpu / tiny).
    images: np.ndarray,  # uint8 (N, R, R): the real training split at the config's resolution.
    labels: np.ndarray,  # 0/1 (N, L): each image's multi-hot label vector.
    run_dir: str | Path,  # Folder of the run; an unfinished run found there is resumed.
    *,
    seed: int = 0,  # Initial weights, data order, latents, evaluation samples: everything random.
    extractor: Extractor,  # Features for the Fréchet distance (gan.frechet.FeatureExtractor), e.g. synthmed.features.
    device: str = "auto",  # "auto" = CUDA when present, else CPU.
    progress: bool = False,  # Show a tqdm bar (kimg, losses, images/s).
    max_kimg: float | None = None,  # Pause (checkpoint, unfinished) once past this; None = run to the end.
    fd_images: int = PAPER_FD_IMAGES,  # Real and generated images per Fréchet distance; at most N.
    tick_kimg: float | None = None,  # kimg per log record; None = fid_every_kimg / 4 (paper: FID = 4 ticks)
    checkpoint_every_kimg: float | None = None,  # last.pt this often (kimg) and at the end; None = fid_every
    grid_every_kimg: float | None = None,  # Fakes PNG this often (kimg); None = checkpoint_every; 0 = never
    grid_size: tuple[int, int] = (8, 8),  # Grid rows (most frequent label vectors) x columns (latents).
    fd_reals: str = "fixed",  # "fixed": one draw of reals and latents; "fresh": new ones per evaluation.
    monitors: dict[str, Extractor] | None = None,  # Further Fréchet distances, logged; they do not steer.
    shard: Shard | None = None,  # This process's rank among data-parallel ranks (synthmed.gan.shard); None: alone.
) -> TrainResult:
    """Train (or resume, or return a finished) GAN run in ``run_dir``; see the module docstring.

    Files in run_dir: last.pt (full state), best.pt (G_ema at the best Fréchet distance),
    log.jsonl (records "start", "resume", "tick", "fd", "checkpoint", "stop"; each with ``nimg`` and
    ``kimg``), reals.png and fakes-<kimg>.png (grids), run.json (settings, for people).
    """
    call_start = time.perf_counter()

    # Check the inputs and settings.
    images, labels = _check_data(images, labels, config)
    digest = data_digest(images, labels)
    monitors = dict(monitors or {})
    every = run_folder.check_options(
        fd_every_kimg=config.fid_every_kimg, max_kimg=max_kimg, fd_images=fd_images, fd_reals=fd_reals,
        tick_kimg=tick_kimg, checkpoint_every_kimg=checkpoint_every_kimg, grid_every_kimg=grid_every_kimg,
        grid_default_kimg=None, grid_size=grid_size)
    run_dir = Path(run_dir)
    shard = shard or Shard()
    main = shard.main  # rank 0 (or the one process) reads and writes the run folder; the others follow it
    # One process (or one set of ranks, through rank 0) trains a run; the others wait, then reuse it.
    with cache.locked(run_dir, what="GAN run") if main else contextlib.nullcontext():
        run_dir.mkdir(parents=True, exist_ok=True)
        if main:
            cache.clean_stale(run_dir)  # a checkpoint's temporary file from a process killed while saving
        last_path, best_path, log_path = run_dir / "last.pt", run_dir / "best.pt", run_dir / "log.jsonl"
        dev = resolve_device(device)
        amp = config.precision == "bf16"  # GANConfig.precision: bf16 autocast only when asked (the original: fp32)
        N = len(images)

        # Construct networks and optimisers.
        G, D = build(config, seed)
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        G, D, G_ema = G.to(dev), D.to(dev), G_ema.to(dev)
        if dev.type == "cuda":
            G, D, G_ema = (m.to(memory_format=torch.channels_last) for m in (G, D, G_ema))
        opt_G = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
        opt_D = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas, eps=config.eps)
        noise = torch.Generator().manual_seed(_derived_seed(seed, "noise"))  # latents, G's labels, GP mixing
        # Evaluations fall on multiples of fid_every_kimg (PGGAN: every 4 ticks), from min_fid_kimg on.
        # prev_lod: the lod of the previous schedule step (PGGAN's optimiser reset).
        state = run_folder.new_progress(config.min_fid_kimg, config.fid_every_kimg, prev_lod=-1.0)
        saved_rngs = None

        # Resume from the run's last checkpoint, when it and best.pt match their manifests.
        checkpoint = None
        if main and last_path.exists():
            checkpoint = run_folder.usable_checkpoint(
                last_path, best_path, lambda path: load_checkpoint(path, config), "GAN checkpoint")
            if checkpoint is None:
                _discard_run(run_dir)  # a checkpoint that fails its check is never trained on
        resumed = checkpoint is not None
        if checkpoint is not None:  # load_checkpoint refused another architecture or resolution
            run_folder.check_same_run(checkpoint, GANConfig.from_dict(checkpoint["config"]), config, seed, digest,
                                      last_path)
            G.load_state_dict(checkpoint["G"])
            D.load_state_dict(checkpoint["D"])
            G_ema.load_state_dict(checkpoint["G_ema"])
            opt_G.load_state_dict(checkpoint["opt_G"])
            opt_D.load_state_dict(checkpoint["opt_D"])
            noise.set_state(checkpoint["rng"]["noise"])
            saved_rngs = checkpoint["rng"]
            state.update(checkpoint["progress"])
            del checkpoint
            _truncate_log(log_path, state["nimg"])
        elif main and log_path.exists():
            log_path.unlink()  # a run that died before its first checkpoint starts over
        if shard.world > 1:  # every rank starts from rank 0's networks, optimisers, random state and progress
            synced = shard.broadcast({
                "G": _cpu_state(G), "D": _cpu_state(D), "G_ema": _cpu_state(G_ema), "opt_G": opt_G.state_dict(),
                "opt_D": opt_D.state_dict(), "noise": noise.get_state(), "state": dict(state),
                "saved_rngs": saved_rngs, "resumed": resumed} if main else None)
            if not main:
                G.load_state_dict(synced["G"])
                D.load_state_dict(synced["D"])
                G_ema.load_state_dict(synced["G_ema"])
                opt_G.load_state_dict(synced["opt_G"])
                opt_D.load_state_dict(synced["opt_D"])
                noise.set_state(synced["noise"])
                state.update(synced["state"])
                saved_rngs, resumed = synced["saved_rngs"], synced["resumed"]
            del synced

        def _append_jsonl(path: Path, record: dict) -> None:  # the log is rank 0's
            if main:
                _append_record(path, record)

        def result(from_cache: bool, images_trained: int) -> TrainResult:
            return run_folder.train_result(state, run_dir=run_dir, patience=config.patience, call_start=call_start,
                                           images_trained=images_trained, device=str(dev), from_cache=from_cache)

        if state["done"]:
            log.info("GAN run %s finished before (%s at %.1f kimg)", run_dir, state["stop_reason"],
                     state["nimg"] / 1000)
            return result(from_cache=True, images_trained=0)

        # Load the training set (onto the GPU when it fits).
        images_t = torch.from_numpy(images if images.flags.writeable else images.copy())  # [N, R, R] uint8
        labels_t = torch.from_numpy(labels)  # [N, L] float
        if dev.type == "cuda" and images_t.numel() <= _DEVICE_DATA_BYTES:
            images_t, labels_t = images_t.to(dev), labels_t.to(dev)
        data_order = run_folder.EpochOrder(N, lambda epoch: _derived_seed(seed, "data", epoch))

        def autocast(enabled: bool) -> contextlib.AbstractContextManager[Any]:
            return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp and enabled)

        def D_call(x: torch.Tensor, y: torch.Tensor, lod: float = 0.0) -> DiscriminatorOutput:
            # The gradient penalty's interpolates are the only leaf inputs that require grad: keep them in fp32.
            with autocast(not (x.is_leaf and x.requires_grad)):
                return D(x, y, lod=lod)

        def reals_batch(index: torch.Tensor, lod: float) -> torch.Tensor:
            x = images_t[index.to(images_t.device)].to(dev, non_blocking=True)[:, None].float()  # [B, 1, R, R]
            x = x / 127.5 - 1.0  # paper-spec §3.1: [0, 255] -> [-1, 1]
            if config.grows:
                x = fade_reals(x, lod)  # D sees reals at the fakes' level of detail
            return x.contiguous(memory_format=torch.channels_last) if dev.type == "cuda" else x

        # Set up the Fréchet evaluation: reals, their labels and latents (paper-spec §3.1), drawn once
        # ("fixed") or per evaluation ("fresh"; draw 0 is the fixed one).
        fd_count = min(fd_images, N)
        real_stats: dict[str, FeatureStatistics] = {}  # per feature space, for the current draw
        drawn: int | None = None

        def fd_draw(draw: int) -> tuple[np.ndarray, torch.Tensor]:
            index = torch.randperm(N, generator=torch.Generator().manual_seed(_derived_seed(seed, "fd-reals", draw)))
            latents = torch.randn(fd_count, config.latent,
                                  generator=torch.Generator().manual_seed(_derived_seed(seed, "fd-z", draw)))
            return index[:fd_count].numpy(), latents

        def evaluate_fd() -> tuple[float, dict[str, float]]:
            """The stopping distance, and each monitor's, on one draw of reals and latents."""
            nonlocal drawn
            draw = state["evals"] if fd_reals == "fresh" else 0
            fd_index, fd_latents = fd_draw(draw)
            if drawn != draw:
                real_stats.clear()
                drawn = draw
            fd_labels = torch.from_numpy(labels[fd_index])
            fakes = generate_uint8(G_ema, fd_latents, fd_labels, batch_size=max(config.minibatch.values()))
            distances = {}
            for key, features in {"": extractor, **monitors}.items():
                if key not in real_stats:
                    real_stats[key] = feature_statistics(features(images[fd_index]))
                distances[key] = frechet_distance(real_stats[key], feature_statistics(features(fakes)))
            return distances.pop(""), distances

        # Set up the image grids: rows of the most frequent label vectors, fixed latents per column.
        grid_rows_labels = _grid_label_rows(labels, grid_size[0])
        grid_rows, grid_cols = len(grid_rows_labels), grid_size[1]
        grid_labels = torch.from_numpy(np.repeat(grid_rows_labels, grid_cols, axis=0))  # [rows * cols, L]
        grid_latents = torch.randn(grid_rows * grid_cols, config.latent,
                                   generator=torch.Generator().manual_seed(_derived_seed(seed, "grid")))

        def save_fakes(name: str, lod: float) -> None:
            if not main:
                return
            fakes = generate_uint8(G_ema, grid_latents, grid_labels, lod=lod, batch_size=grid_rows * grid_cols)
            _save_png(_image_grid(fakes, grid_rows, grid_cols), run_dir / name)

        if main and not (run_dir / "reals.png").exists():
            run_folder.save_reals_grid(images, labels, grid_rows_labels, grid_cols, _derived_seed(seed, "grid-reals"),
                                       run_dir / "reals.png")
        if main:
            cache.atomic_write(run_dir / "run.json", json.dumps(
                {"config": config.to_dict(), "seed": seed, "data_digest": digest, "images": N, "device": str(dev),
                 "precision": config.precision, "extractor": extractor_name(extractor), "fd_images": fd_count,
                 **({"ranks": shard.world} if shard.world > 1 else {})},
                indent=1, default=str), manifest=False)

        images_trained = 0
        target_kimg = config.total_kimg if max_kimg is None else min(max_kimg, config.total_kimg)
        with _run_global_rngs(seed, saved_rngs):
            nimg = state["nimg"]
            _append_jsonl(log_path, {"kind": "resume" if resumed else "start", "nimg": nimg, "kimg": nimg / 1000,
                                     "device": str(dev), "precision": config.precision, "seed": seed})
            if not resumed and every.grid_every_kimg > 0:
                save_fakes("fakes-init.png", config.lod(0.0))

            sums: dict[str, torch.Tensor] = {}
            counts: dict[str, int] = {}
            housekeeping = run_folder.Housekeeping(state, every)
            bar = tqdm(total=round(target_kimg, 3), initial=round(nimg / 1000, 3), desc=config.arch,
                       disable=not progress, leave=False,
                       bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}{postfix}]")

            def save_last() -> None:
                if not main:
                    return
                _atomic_save({
                    "format": CHECKPOINT_FORMAT, "kind": "last", "config": config.to_dict(), "seed": seed,
                    "data_digest": digest, "G": _cpu_state(G), "D": _cpu_state(D), "G_ema": _cpu_state(G_ema),
                    "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
                    "rng": {"noise": noise.get_state(), "torch_global": torch.get_rng_state(),
                            "python": random.getstate()},
                    "progress": dict(state),
                }, last_path)
                _append_jsonl(log_path, {"kind": "checkpoint", "nimg": nimg, "kimg": nimg / 1000,
                                         "path": last_path.name})

            # Train.
            paused = max_kimg is not None and nimg >= max_kimg * 1000
            if paused and not resumed:
                save_last()  # a run paused before its first step still leaves a checkpoint to resume from
            while not paused:
                # Choose the level of detail and minibatch for this schedule step (PGGAN: per minibatch_repeats).
                lod = config.lod(nimg / 1000)
                batch = config.minibatch_at(lod)  # the total over the ranks; each trains on its share
                shard.check(batch, config.mbstd_group)
                prev_lod = state["prev_lod"]
                if math.floor(lod) != math.floor(prev_lod) or math.ceil(lod) != math.ceil(prev_lod):
                    _reset_adam(opt_G)  # a level starts or ends fading in (PGGAN: reset_opt_for_new_lod)
                    _reset_adam(opt_D)
                state["prev_lod"] = lod

                # Execute training phases: D_repeats D steps, then one G step, minibatch_repeats times.
                for _ in range(config.minibatch_repeats):
                    for _ in range(config.d_repeats):
                        real_index = shard.take(data_order.take(nimg, batch))
                        reals = reals_batch(real_index, lod)
                        real_labels = labels_t[real_index.to(labels_t.device)].to(dev)  # also the fakes' labels
                        z = shard.take(torch.randn(batch, config.latent, generator=noise)).to(dev)
                        with torch.no_grad(), autocast(True):  # the D step never updates G
                            fakes = G(z, real_labels, lod)
                        loss_D, stats_D = discriminator_loss(
                            D_call, reals, fakes, real_labels, lod=lod, gp_lambda=config.gp_lambda,
                            gp_target=config.gp_target, drift_weight=config.drift_weight,
                            ac_weight=config.ac_weight, generator=noise, shard=(shard.rank, shard.world))
                        opt_D.zero_grad(set_to_none=True)
                        loss_D.mean().backward()
                        shard.average_gradients(D)
                        opt_D.step()
                        nimg += batch
                        for name, value in stats_D.items():
                            sums[name] = sums[name] + value if name in sums else value
                            counts[name] = counts.get(name, 0) + 1

                    # G step: labels drawn uniformly from the training label rows (paper-spec §3.1).
                    z = shard.take(torch.randn(batch, config.latent, generator=noise)).to(dev)
                    g_index = shard.take(torch.randint(N, (batch,), generator=noise))
                    g_labels = labels_t[g_index.to(labels_t.device)].to(dev)
                    with autocast(True):
                        fakes = G(z, g_labels, lod)
                    D.requires_grad_(False)  # gradients flow through D into G, none are kept for D
                    loss_G, stats_G = generator_loss(D_call, fakes, g_labels, lod=lod, ac_weight=config.ac_weight)
                    opt_G.zero_grad(set_to_none=True)
                    loss_G.mean().backward()
                    shard.average_gradients(G)
                    opt_G.step()
                    D.requires_grad_(True)
                    for name, value in stats_G.items():
                        sums[name] = sums[name] + value if name in sums else value
                        counts[name] = counts.get(name, 0) + 1

                    # Update G_ema.
                    _update_ema(G_ema, G, config.ema_beta)
                    state["step"] += 1

                images_trained += config.minibatch_repeats * config.d_repeats * batch
                state["nimg"] = nimg
                bar.update(round(nimg / 1000, 3) - bar.n)
                if nimg >= config.total_kimg * 1000:
                    state["done"], state["stop_reason"] = True, "total_kimg"
                paused = not state["done"] and max_kimg is not None and nimg >= max_kimg * 1000
                if not housekeeping.due(nimg, paused):
                    continue  # the common case: no housekeeping due

                # Perform housekeeping.
                housekeeping.begin()
                kimg = nimg / 1000
                record: dict[str, Any] = {"nimg": nimg, "kimg": kimg}

                # Evaluate the Fréchet distance (full resolution only, past min_fid_kimg, every fid_every_kimg).
                evaluate = lod == 0.0 and run_folder.evaluation_due(state, nimg, kimg, config.min_fid_kimg)
                if evaluate:
                    eval_start = time.perf_counter()
                    fd, monitored = shard.broadcast(evaluate_fd() if main else None)
                    improved = run_folder.note_evaluation(state, fd, monitored, nimg=nimg,
                                                          fd_every_kimg=config.fid_every_kimg, patience=config.patience)
                    if improved and main:  # paper-spec §3.1: save at the first evaluation and at every improvement
                        _atomic_save({"format": CHECKPOINT_FORMAT, "kind": "best", "config": config.to_dict(),
                                      "seed": seed, "data_digest": digest, "G_ema": _cpu_state(G_ema),
                                      "progress": {"nimg": nimg, "kimg": kimg, "fd": fd}}, best_path)
                    _append_jsonl(log_path, run_folder.evaluation_record(
                        state, fd, improved, monitored if monitors else None, fd_images=fd_count, extractor=extractor,
                        seconds=time.perf_counter() - eval_start))
                    log.info("kimg %.1f: Fréchet distance %.4g (best %.4g at %.1f kimg)", kimg, fd,
                             state["best_fd"], state["best_kimg"])

                # Update logs: one record per tick, with each statistic's mean over the tick.
                if housekeeping.tick_due(nimg, paused):
                    tick_record = {"kind": "tick", **record, "step": state["step"], "lod": lod,
                                   "minibatch": batch}
                    tick_record.update({name: float(shard.mean(total)) / counts[name] for name, total in sums.items()})
                    tick_record.update(housekeeping.tick_timing(nimg))
                    _append_jsonl(log_path, tick_record)
                    bar.set_postfix_str(f"D {tick_record['Loss/D/loss']:.3f} G {tick_record['Loss/G/loss']:.3f} "
                                        f"{tick_record['Timing/img_per_sec']:.0f} img/s lod {lod:.2f}"
                                        + (f" FD {state['best_fd']:.3g}" if state["best_fd"] is not None else ""))
                    sums, counts = {}, {}

                # Save an image grid and a checkpoint.
                if housekeeping.grid_due(nimg):
                    save_fakes(f"fakes-{kimg:010.3f}kimg.png", lod)
                if housekeeping.checkpoint_due(nimg, evaluate, paused):
                    save_last()
                housekeeping.end()
                if state["done"]:
                    break

            bar.close()
            if paused and not state["done"]:
                state["stop_reason"] = "max_kimg"
            _append_jsonl(log_path, run_folder.stop_record(state))
        log.info("GAN run %s: %s at %.2f kimg, best FD %s", run_dir, state["stop_reason"], nimg / 1000,
                 state["best_fd"])
        return result(from_cache=False, images_trained=images_trained)


def train_gan_cached(
    config: GANConfig,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    extractor: Extractor,  # Needs a ``name``: it steers early stopping, so the key holds it.
    cache_dir: str | Path | None = None,  # None = synthmed.config.home() / "gans"
    fd_images: int = PAPER_FD_IMAGES,
    fd_reals: str = "fixed",
    monitors: dict[str, Extractor] | None = None,  # Each needs a ``name`` too: the key holds them.
    **options: Any,  # device, progress, max_kimg, tick_kimg, ... as train_gan (not part of the key)
) -> TrainResult:
    """:func:`train_gan` in ``<cache_dir>/<hash>``, the hash of config, seed, data, extractor and evaluation.

    A finished run is returned as it is (``from_cache``); an unfinished one resumes from last.pt.
    ``fd_reals="fresh"`` and the monitors enter the key only when given, so the keys of runs made
    before they existed (fixed reals, no monitors) still hold.
    """
    images, labels = _check_data(images, labels, config)
    evaluation: list[Any] = [] if fd_reals == "fixed" else [fd_reals]
    key = run_folder.run_key("gan", CACHE_VERSION, config.to_dict(), seed, data_digest(images, labels), extractor,
                             min(fd_images, len(images)), evaluation, monitors, "train_gan_cached")
    root = Path(cache_dir) if cache_dir is not None else settings.home() / "gans"
    return train_gan(config, images, labels, root / key, seed=seed, extractor=extractor, fd_images=fd_images,
                     fd_reals=fd_reals, monitors=monitors, **options)
