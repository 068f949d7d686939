"""A training run's folder, as the generators' training loops keep it (`synthmed.gan.train`,
`synthmed.diffusion.train`): the result record, atomic checkpoints, the JSON-lines log (a half-written last
line dropped, records past the last checkpoint truncated on resume), seeded global RNGs, the training
data's digest, seeds derived from the run's, and sample grids; and what both loops do around their steps:
checked options, the progress record, resume checks, evaluations with the paper's patience, the
housekeeping schedule and its timing, and cache keys. A leaf below both loops."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from synthmed import cache
from synthmed import config as settings
from synthmed.gan.frechet import extractor_name
from synthmed.torch_utils import multi_hot

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """Where a run is and what it reached."""

    run_dir: Path
    last_checkpoint: Path  # last.pt: the full training state (resume from it)
    best_checkpoint: Path | None  # best.pt: G_ema at the best Fréchet distance; None before an evaluation
    log_path: Path  # log.jsonl
    best_fd: float | None  # best Fréchet distance so far; None before any evaluation
    best_kimg: float | None  # kimg of best.pt
    kimg: float  # images shown to D, in thousands, when this call returned
    finished: bool  # True when the run stopped for good (total_kimg or patience)
    stop_reason: str  # "total_kimg", "patience", or "max_kimg" (paused; call again to continue)
    wall_seconds: float  # this call, start to end
    images_per_second: float  # images shown to D in this call / wall_seconds (0 when nothing was trained)
    train_seconds: float  # time in training steps (housekeeping excluded), all calls on this run together
    device: str
    from_cache: bool = False  # the run had already finished: nothing was trained
    sampled: str = "last"  # which network `checkpoint` is: "best" or "last" (see the module docstring)
    sampled_kimg: float = 0.0  # kimg at which that network was saved
    monitors_at_best: dict[str, float] = dataclasses.field(default_factory=dict)  # monitors at best.pt's evaluation

    @property
    def checkpoint(self) -> Path:
        """The checkpoint to sample from, as the original's network-final.pkl: best.pt when the patience ran
        out (or the run is unfinished), last.pt when the run reached total_kimg before, or no evaluation ran."""
        return self.best_checkpoint if self.sampled == "best" and self.best_checkpoint else self.last_checkpoint


def derived_seed(namespace: str, seed: int, purpose: str, index: int = 0) -> int:
    """An independent 63-bit seed for one use of a run's seed (an epoch's data order, evaluation, grids);
    `namespace` names the training loop, so two loops never share a stream."""
    return int(settings.stable_hash(namespace, seed, purpose, index), 16) % (2**63)


def atomic_save(payload: Any, path: Path) -> None:
    """torch.save through synthmed.cache: atomic, with a manifest that load_checkpoint checks."""
    cache.atomic_write(path, lambda temp: torch.save(payload, temp))


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().to("cpu", copy=True) for name, value in module.state_dict().items()}


def data_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """Hash of the training arrays (dtype, shape, bytes): a run belongs to exactly this data."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (images, labels):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


@contextlib.contextmanager
def run_global_rngs(seed: int, saved: dict[str, Any] | None) -> Iterator[None]:
    """Seed torch's CPU RNG and Python's ``random`` for a run (or restore a checkpoint's); restore after."""
    outer_torch, outer_python = torch.get_rng_state(), random.getstate()
    try:
        if saved is None:
            torch.default_generator.manual_seed(seed)
            random.seed(seed)
        else:
            torch.set_rng_state(saved["torch_global"])
            random.setstate(_python_state(saved["python"]))
        yield
    finally:
        torch.set_rng_state(outer_torch)
        random.setstate(outer_python)


def _python_state(state: Any) -> Any:
    """Python's random state as ``random.setstate`` wants it (tuples), whatever container the file kept."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def image_grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """uint8 (rows * cols, R, R) -> one mosaic (rows * R, cols * R), row-major."""
    R = images.shape[1]
    return images.reshape(rows, cols, R, R).transpose(0, 2, 1, 3).reshape(rows * R, cols * R)


def grid_label_rows(labels: np.ndarray, rows: int) -> np.ndarray:
    """The ``rows`` most frequent label vectors, most frequent first (ties: first seen) -> (rows', L)."""
    unique, first, counts = np.unique(labels, axis=0, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return unique[order[:rows]]


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def log_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(line, record) for each record of a log.jsonl; a line that is not a JSON object (a last line
    half written by a process that died) is dropped with a warning, so it never blocks a resume."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            which = "its half-written last line" if number == len(lines) else f"line {number} (not a JSON record)"
            log.warning("%s: dropping %s", path, which)
            continue
        records.append((line, record))
    return records


def truncate_log(path: Path, nimg: int) -> None:
    """Drop log records written after ``nimg`` images by a run that died before its next checkpoint."""
    if not path.exists():
        return
    kept = "".join(line + "\n" for line, record in log_records(path) if record.get("nimg", 0) <= nimg)
    cache.atomic_write(path, kept, manifest=False)


def save_png(image: np.ndarray, path: Path) -> None:
    cache.atomic_write(path, lambda temp: Image.fromarray(image).save(temp, format="PNG"), manifest=False)


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a run's log.jsonl, in order (a half-written last line is dropped with a warning)."""
    return [record for _, record in log_records(Path(path))]


def discard_run(run_dir: Path, grids: str) -> None:
    """Remove what a run wrote (checkpoints, log, and the sample grids matching ``grids``), so that it starts over."""
    for path in (run_dir / "last.pt", run_dir / "best.pt"):
        cache.discard(path)
    (run_dir / "log.jsonl").unlink(missing_ok=True)
    for grid in run_dir.glob(grids):
        grid.unlink()



def check_training_data(images: np.ndarray, labels: Any, *, resolution: int, n_labels: int, channels: int,
                        who: str) -> tuple[np.ndarray, np.ndarray]:
    """A loop's training arrays checked: uint8 (N, R, R) grayscale images, N >= 2, and their 0/1 labels as a
    multi-hot (N, L) float32 array (`multi_hot`, which names a bad row). ``who``, "Config:loop", names both in
    errors."""
    config_name, loop = who.split(":")
    R = resolution
    images = np.asarray(images)
    if channels != 1:
        raise ValueError(f"{config_name}.channels = {channels}: {loop} takes grayscale images (channels 1)")
    if images.ndim != 3 or images.shape[1:] != (R, R) or images.shape[0] < 2:
        raise ValueError(f"images: expected uint8 (N, {R}, {R}) with N >= 2 for this {R}x{R} config, "
                         f"got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"images: expected dtype uint8 (the image store's), got {images.dtype}")
    return images, multi_hot(labels, n_images=len(images), n_labels=n_labels)


class EpochOrder:
    """Indices of the reals to show, epoch after epoch, each epoch a seeded permutation of the training set.

    Stateless apart from a cache: the reals drawn so far (``cursor``) fix the next batch, so resuming
    at the same image count reproduces the data order.
    """

    def __init__(self, n: int, epoch_seed: Callable[[int], int]) -> None:
        self.n, self.epoch_seed = n, epoch_seed
        self.epoch, self.order = -1, torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self.epoch:
            generator = torch.Generator().manual_seed(self.epoch_seed(epoch))
            self.epoch, self.order = epoch, torch.randperm(self.n, generator=generator)
        return self.order

    def take(self, cursor: int, count: int) -> torch.Tensor:
        """The indices of reals number ``cursor`` to ``cursor + count - 1`` of the stream."""
        parts = []
        while count > 0:
            epoch, position = divmod(cursor, self.n)
            part = self._permutation(epoch)[position : position + count]
            parts.append(part)
            cursor, count = cursor + len(part), count - len(part)
        return torch.cat(parts)


def save_reals_grid(images: np.ndarray, labels: np.ndarray, rows_labels: np.ndarray, cols: int, seed: int,
                    path: Path) -> None:
    """reals.png: for each grid row's label vector, its first ``cols`` reals in a seeded order (repeated when fewer)."""
    reals = []
    for row in rows_labels:
        matches = np.flatnonzero((labels == row).all(axis=1))
        picks = np.random.default_rng(seed).permutation(matches)[:cols]
        reals.append(images[np.resize(picks, cols)])
    save_png(image_grid(np.concatenate(reals), len(rows_labels), cols), path)

# ---------------------------------------------------------------------------------------------
# What both training loops share around their steps: options, progress, resume checks, housekeeping

FD_REALS = ("fixed", "fresh")  # the Fréchet evaluation's reals and noise: one draw, or one per evaluation


@dataclass(frozen=True)
class Intervals:
    """How often a run writes a log record, a checkpoint and a sample grid (kimg; grid 0 = never)."""

    tick_kimg: float
    checkpoint_every_kimg: float
    grid_every_kimg: float


def check_options(*, fd_every_kimg: float, max_kimg: float | None, fd_images: int, fd_reals: str,
                  tick_kimg: float | None, checkpoint_every_kimg: float | None, grid_every_kimg: float | None,
                  grid_default_kimg: float | None, grid_size: tuple[int, int]) -> Intervals:
    """A training call's options checked, with their defaults: a tick every quarter of the Fréchet interval,
    a checkpoint every interval, a grid every ``grid_default_kimg`` (None: every checkpoint)."""
    if max_kimg is not None and max_kimg < 0:
        raise ValueError(f"max_kimg: expected None or a number >= 0, got {max_kimg}")
    if fd_images < 2:
        raise ValueError(f"fd_images: expected at least 2 images per Fréchet distance, got {fd_images}")
    if fd_reals not in FD_REALS:
        raise ValueError(f"fd_reals: expected one of {', '.join(FD_REALS)}, got {fd_reals!r}")
    tick_kimg = fd_every_kimg / 4 if tick_kimg is None else tick_kimg
    checkpoint_every_kimg = fd_every_kimg if checkpoint_every_kimg is None else checkpoint_every_kimg
    if grid_every_kimg is None:
        grid_every_kimg = checkpoint_every_kimg if grid_default_kimg is None else grid_default_kimg
    for name, value in (("tick_kimg", tick_kimg), ("checkpoint_every_kimg", checkpoint_every_kimg)):
        if not value > 0:
            raise ValueError(f"{name}: expected a number > 0, got {value}")
    if grid_every_kimg < 0 or min(grid_size) < 1:
        raise ValueError(f"grid_every_kimg >= 0 and grid_size >= (1, 1) expected, "
                         f"got {grid_every_kimg} and {grid_size}")
    return Intervals(tick_kimg, checkpoint_every_kimg, grid_every_kimg)


def new_progress(min_fd_kimg: float, fd_every_kimg: float, **extra: Any) -> dict[str, Any]:
    """A fresh run's progress record (saved in each checkpoint): evaluations fall on multiples of the
    Fréchet interval, from the first at or past ``min_fd_kimg``."""
    first_fd_kimg = math.ceil(min_fd_kimg / fd_every_kimg - 1e-9) * fd_every_kimg
    return {
        "nimg": 0,  # images trained on
        "step": 0,  # optimiser (G) steps
        **extra,
        "best_fd": None,
        "best_kimg": None,
        "evals": 0,
        "evals_since_best": 0,
        "best_monitors": {},  # the monitors' distances at the best evaluation
        "next_fd_nimg": first_fd_kimg * 1000,
        "done": False,
        "stop_reason": "",
        "train_seconds": 0.0,
    }


def usable_checkpoint(last_path: Path, best_path: Path, load: Callable[[Path], dict], what: str) -> dict | None:
    """last.pt's contents when it and best.pt (once an evaluation made one) match their manifests, else None;
    the caller discards a run whose checkpoint fails, so it is never trained on."""
    if not last_path.exists() or not cache.verify(last_path, what=what):
        return None
    checkpoint = load(last_path)
    problem = cache.check(best_path)
    if checkpoint["progress"]["best_fd"] is not None and problem is not None:
        log.warning("%s %s is %s; the run starts over", what, best_path,
                    "missing" if problem == "missing" else f"corrupt: {problem}")
        return None
    return checkpoint


def check_same_run(checkpoint: dict, saved_config: Any, config: Any, seed: int, digest: str, last_path: Path) -> None:
    """Refuse to resume a checkpoint made with other settings, another seed or other data."""
    if saved_config != config:
        differ = [f.name for f in dataclasses.fields(config)
                  if getattr(saved_config, f.name) != getattr(config, f.name)]
        raise ValueError(f"{last_path}: the run there used other settings ({', '.join(differ)}); "
                         "use another run directory")
    if checkpoint["seed"] != seed or checkpoint["data_digest"] != digest:
        raise ValueError(f"{last_path}: the run there used seed {checkpoint['seed']} and data "
                         f"{checkpoint['data_digest']}, this call seed {seed} and data {digest}; "
                         "use another run directory")


def train_result(state: dict[str, Any], *, run_dir: Path, patience: int, call_start: float, images_trained: int,
                 device: str, from_cache: bool) -> TrainResult:
    """A run's `TrainResult` from its progress. It samples best.pt when the patience ran out (or the run is
    unfinished), last.pt when it reached its length first or never evaluated."""
    wall = time.perf_counter() - call_start
    use_best = state["best_fd"] is not None and (state["evals_since_best"] >= patience or not state["done"])
    return TrainResult(
        run_dir=run_dir,
        last_checkpoint=run_dir / "last.pt",
        best_checkpoint=run_dir / "best.pt" if state["best_fd"] is not None else None,
        log_path=run_dir / "log.jsonl",
        best_fd=state["best_fd"],
        best_kimg=state["best_kimg"],
        kimg=state["nimg"] / 1000,
        finished=state["done"],
        stop_reason=state["stop_reason"],
        wall_seconds=wall,
        images_per_second=images_trained / wall if images_trained else 0.0,
        train_seconds=state["train_seconds"],
        device=device,
        from_cache=from_cache,
        sampled="best" if use_best else "last",
        sampled_kimg=state["best_kimg"] if use_best else state["nimg"] / 1000,
        monitors_at_best=dict(state["best_monitors"]),
    )


def next_multiple(nimg: int, every_kimg: float) -> float:
    """The first multiple of ``every_kimg`` (in images) past ``nimg``."""
    return (math.floor(nimg / (every_kimg * 1000) + 1e-9) + 1) * every_kimg * 1000


class Housekeeping:
    """When a loop's housekeeping (log record, checkpoint, grid, evaluation) falls due, and the split of its
    time into training and housekeeping ("maintenance"), per tick and over the run (``state["train_seconds"]``)."""

    def __init__(self, state: dict[str, Any], intervals: Intervals) -> None:
        self.state, self.intervals = state, intervals
        nimg = state["nimg"]
        self.next_tick = next_multiple(nimg, intervals.tick_kimg)
        self.next_checkpoint = next_multiple(nimg, intervals.checkpoint_every_kimg)
        self.next_grid = next_multiple(nimg, intervals.grid_every_kimg) if intervals.grid_every_kimg > 0 else math.inf
        self.mark = time.perf_counter()  # end of the last housekeeping
        self.tick_start_nimg, self.tick_train_seconds, self.tick_maintenance_seconds = nimg, 0.0, 0.0
        self.maintenance_start = self.mark

    def due(self, nimg: int, paused: bool) -> bool:
        """Whether anything is due after a step: the common answer is no."""
        due = min(self.next_tick, self.next_checkpoint, self.next_grid, self.state["next_fd_nimg"])
        return self.state["done"] or paused or nimg >= due

    def begin(self) -> None:
        """Housekeeping starts: the time since the last one was training."""
        self.maintenance_start = time.perf_counter()
        trained = self.maintenance_start - self.mark
        self.state["train_seconds"] += trained
        self.tick_train_seconds += trained

    def tick_due(self, nimg: int, paused: bool) -> bool:
        return nimg >= self.next_tick or self.state["done"] or paused

    def tick_timing(self, nimg: int) -> dict[str, float]:
        """The tick's timing fields for its log record; the next tick starts here."""
        timing = {
            "Timing/sec_per_tick": self.tick_train_seconds + self.tick_maintenance_seconds,
            "Timing/img_per_sec": (nimg - self.tick_start_nimg) / max(self.tick_train_seconds, 1e-9),
            "Timing/maintenance_sec": self.tick_maintenance_seconds,  # evaluations, grids, checkpoints
            "Timing/train_sec": self.state["train_seconds"],  # all calls on this run together
        }
        self.tick_start_nimg, self.tick_train_seconds, self.tick_maintenance_seconds = nimg, 0.0, 0.0
        self.next_tick = next_multiple(nimg, self.intervals.tick_kimg)
        return timing

    def grid_due(self, nimg: int) -> bool:
        """Whether to save a grid now (and at the end of a run that saves grids); the next one is scheduled."""
        every = self.intervals.grid_every_kimg
        if not (nimg >= self.next_grid or (self.state["done"] and every > 0)):
            return False
        self.next_grid = next_multiple(nimg, every) if every > 0 else math.inf
        return True

    def checkpoint_due(self, nimg: int, evaluated: bool, paused: bool) -> bool:
        """Whether to save last.pt now: on schedule, after an evaluation, at the end and at a pause."""
        if not (nimg >= self.next_checkpoint or evaluated or self.state["done"] or paused):
            return False
        self.next_checkpoint = next_multiple(nimg, self.intervals.checkpoint_every_kimg)
        return True

    def end(self) -> None:
        """Housekeeping ends: training time counts again from here."""
        self.mark = time.perf_counter()
        self.tick_maintenance_seconds += self.mark - self.maintenance_start


def evaluation_due(state: dict[str, Any], nimg: int, kimg: float, min_fd_kimg: float) -> bool:
    """Whether to evaluate the Fréchet distance now: past ``min_fd_kimg``, on schedule or at the run's length."""
    return kimg >= min_fd_kimg and (nimg >= state["next_fd_nimg"] or state["stop_reason"] == "total_kimg")


def note_evaluation(state: dict[str, Any], fd: float, monitored: dict[str, float], *, nimg: int,
                    fd_every_kimg: float, patience: int) -> bool:
    """Record one evaluation in the progress: the best so far, the next evaluation, and a patience stop
    (paper-spec §3.1). Returns whether it improved (the caller then saves best.pt)."""
    state["evals"] += 1
    improved = state["best_fd"] is None or fd < state["best_fd"]
    if improved:
        state["best_fd"], state["best_kimg"], state["evals_since_best"] = fd, nimg / 1000, 0
        state["best_monitors"] = monitored
    else:
        state["evals_since_best"] += 1
    state["next_fd_nimg"] = next_multiple(nimg, fd_every_kimg)
    if state["evals_since_best"] >= patience and not state["done"]:
        state["done"], state["stop_reason"] = True, "patience"
    return improved


def evaluation_record(state: dict[str, Any], fd: float, improved: bool, monitored: dict[str, float] | None, *,
                      fd_images: int, extractor: Any, seconds: float) -> dict[str, Any]:
    """The log record of one evaluation, after `note_evaluation` (``monitored``: None when nothing is monitored)."""
    nimg = state["nimg"]
    return {"kind": "fd", "nimg": nimg, "kimg": nimg / 1000, "fd": fd, "best_fd": state["best_fd"],
            "improved": improved, "evals_since_best": state["evals_since_best"], "fd_images": fd_images,
            "extractor": extractor_name(extractor), **({"monitors": monitored} if monitored is not None else {}),
            "seconds": seconds}


def stop_record(state: dict[str, Any]) -> dict[str, Any]:
    """The log's last record of a call: why it stopped and the best evaluation."""
    nimg = state["nimg"]
    return {"kind": "stop", "nimg": nimg, "kimg": nimg / 1000, "reason": state["stop_reason"],
            "best_fd": state["best_fd"], "best_kimg": state["best_kimg"], "train_seconds": state["train_seconds"]}


def run_key(kind: str, version: int, config: dict[str, Any], seed: int, data: str, extractor: Any, fd_images: int,
            evaluation: list[Any], monitors: dict[str, Any] | None, caller: str) -> str:
    """A cached run's folder name: the hash of what decides it (its extractor steers early stopping, and the
    monitors are logged, so both enter by name; ``evaluation`` is what else the caller's key held)."""
    name = extractor_name(extractor)
    if name is None:
        raise ValueError(f"{caller}: the extractor needs a `name` attribute (a string) so the cache "
                         "key can tell runs with different Fréchet features apart")
    evaluation = list(evaluation)
    if monitors:
        names = {key: extractor_name(monitor) for key, monitor in monitors.items()}
        if None in names.values():
            raise ValueError(f"{caller}: each monitor needs a `name` attribute (a string) for the cache key")
        evaluation.append(sorted(names.items()))
    return settings.stable_hash(kind, version, config, seed, data, name, fd_images, *evaluation)
