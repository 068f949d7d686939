"""Settings shared by every step: the run directory, profile names and a stable config hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILES = ("tiny", "cpu", "paper")


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


def check_profile(name: str) -> str:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return name


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

    cpu: the chest phantoms draw every patient of CheXpert's real label table (scale 1), so every
    chest test and validation split and the samples axis are the paper's own; training sets of the
    classes and resolution benchmarks are a quarter of the paper's. Films are rendered at 160 px on
    the short side (CheXpert-small: about 320), which is indistinguishable after the 256 -> 32/64
    downsampling the benchmarks use and halves the rendering time of 223,414 images. The brain
    phantoms are 16,500 patients (264,000 slices), the smallest phantom whose label combinations
    admit every brain subset at the paper's sizes (scale 1; `synthmed.data.phantoms.brain` says why
    its prevalence is higher than RSNA's); training sets are a quarter of the paper's as for the
    chest. Their slices are 128x128 DICOM matrices over RSNA's field of view (`brain_matrix`; RSNA:
    512x512, which the reader averages down to the paper's 128 anyway): 33 KB and about 2 ms a slice
    against 0.5 MB and 4-6 ms, 9 GB instead of 135 GB.
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


DATA_PROFILES = {
    "tiny": DataConfig(
        chest_patients=260, brain_patients=80, chest_scale=0.004, brain_scale=0.0017, brain_matrix=128
    ),
    "cpu": DataConfig(
        chest_patients=64_540,
        brain_patients=16_500,
        chest_scale=1.0,
        brain_scale=1.0,
        chest_train_scale=0.25,
        brain_train_scale=0.25,
        chest_short_side=160,
        brain_matrix=128,
    ),
    # paper: the paper's numbers. The phantom sizes are used only when no data_root is given;
    # CheXpert-small has 64,540 patients, RSNA about 25,000 exams (Flanders et al. 2020).
    "paper": DataConfig(chest_patients=64_540, brain_patients=19_000, chest_scale=1.0, brain_scale=1.0),
}


def data_config(profile: str, **overrides: Any) -> DataConfig:
    """The profile's data settings, with any non-None override (notebook parameters) applied."""
    base = DATA_PROFILES[check_profile(profile)]
    return dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
