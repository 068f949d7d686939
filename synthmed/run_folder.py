"""A training run's folder, as the generators' training loops keep it (`synthmed.gan.train`,
`synthmed.diffusion.train`): the result record, atomic checkpoints, the JSON-lines log (a half-written last
line dropped, records past the last checkpoint truncated on resume), seeded global RNGs, the training
data's digest, seeds derived from the run's, and sample grids. A leaf below both loops."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from synthmed import cache
from synthmed import config as settings

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
