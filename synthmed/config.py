"""Settings shared by every step: the run directory, a stable config hash and the data settings' shape
(each profile's values: `synthmed.profiles`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    """The run directory holding every cached step.

    `SYNTHMED_HOME` wins; otherwise `.synthmed/` at the root of the checkout that holds the
    working directory (so notebooks run from `notebooks/` share the root cache), else
    `~/.cache/synthmed`.
    """
    env = os.environ.get("SYNTHMED_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists() and (folder / "synthmed").is_dir():
            return folder / ".synthmed"
    return Path.home() / ".cache" / "synthmed"


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def stable_hash(*parts: Any, length: int = 16) -> str:
    """A hash of configs and inputs that is the same across processes and machines."""
    payload = json.dumps([_jsonable(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


# ---------------------------------------------------------------------------------------------
# Data settings per profile.

# Size of the real source datasets, to say what fraction of them a phantom set is.
REAL_SOURCE_IMAGES = {
    "chest": 223_414,  # rows of CheXpert-v1.0-small train.csv (frontal and lateral)
    "brain": 752_803,  # images in RSNA ICH stage 2 train ("over 750,000" slices; Kaggle CSV rows / 6, less duplicates)
}


@dataclass(frozen=True)
class DataConfig:
    """Phantom sizes and the benchmark factors of a profile (`synthmed.data.benchmarks` module doc).

    `*_scale` is the size of the dataset against the real one. It multiplies every count and
    frequency threshold of the paper's benchmarks (per-class train/val/test counts, the
    256/7,400/110 thresholds, the ~4,000 val/test, the brain balance), so a small dataset keeps the
    paper's structure. `*_train_scale` shrinks only training sets whose size is not a benchmark's
    axis (classes per-class train counts, the resolution benchmark's train split): evaluation splits
    and the samples benchmark's per-class counts stay at `*_scale` times the paper's.
    """

    chest_patients: int  # phantom patients written as CheXpert-v1.0-small (about 3.5 images each)
    brain_patients: int  # phantom patients written as RSNA stage 2 (12-20 CT slices each)
    chest_scale: float  # benchmark counts x this (1.0: the paper's numbers)
    brain_scale: float
    chest_train_scale: float = 1.0  # training sets that are not an axis x this (1.0: the paper's)
    brain_train_scale: float = 1.0
    chest_short_side: int = 320  # phantom films' short side in pixels (CheXpert-small: about 320)
    brain_matrix: int = 512  # phantom CT slices' rows and columns (RSNA: 512)
    seed: int = 0  # phantom content; the paper's split seeds are fixed in synthmed.data.benchmarks
    chest_label_source: str = "auto"  # "auto": CheXpert's real label rows when torchxrayvision is installed

    def scale(self, modality: str) -> float:
        return {"chest": self.chest_scale, "brain": self.brain_scale}[modality]

    def train_scale(self, modality: str) -> float:
        return {"chest": self.chest_train_scale, "brain": self.brain_train_scale}[modality]
