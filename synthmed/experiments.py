"""Experiments end to end: source data -> benchmark subset -> image arrays -> classifiers -> results.

Every step is cached by the step it calls (phantoms, image store, classifiers, generators), so
running a function again only computes what is missing or changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synthmed.config import DataConfig, benchmark_scale, data_config
from synthmed.data import benchmarks, labels_for, sources, store

log = logging.getLogger(__name__)


@dataclass
class Source:
    """A modality's dataset as the experiments use it."""

    modality: str
    root: Path
    index: pd.DataFrame  # the paper index: one row per kept image, 0/1 label columns
    n_source_images: int  # rows of the source table before the paper's rules (for the scale)
    real_data: bool

    @property
    def scale(self) -> float:
        return benchmark_scale(self.modality, self.n_source_images, self.real_data)


def load_source(modality: str, data: DataConfig, data_root: str | None = None) -> Source:
    """Locate or make the dataset, read it, and apply the paper's label rules."""
    root = sources.source_root(modality, data, data_root)
    raw = sources.read_raw_index(modality, root)
    return Source(modality, root, sources.to_paper_index(modality, raw), len(raw), bool(data_root))


def load_sources(profile: str, modalities, data_root: str | None = None, **overrides) -> dict[str, Source]:
    data = data_config(profile, **overrides)
    return {m: load_source(m, data, data_root) for m in modalities}


def whole_split(source: Source) -> benchmarks.Subset:
    """Every image of the source in the paper's patient-level 80/10/10 split, no subsetting.

    Label columns with no positive in train are dropped, as the benchmarks do. Used to measure how
    hard a dataset is, outside any benchmark.
    """
    seed = benchmarks.PAPER_PARAMS[source.modality].split_seed
    train, val, test = benchmarks.patient_split(source.index, seed)
    labels = tuple(label for label in labels_for(source.modality) if train[label].any())
    return benchmarks.Subset(None, 1.0, train, val, test, labels, ())


def real_baseline(
    source: Source,
    subset: benchmarks.Subset,
    resolution: int,
    profile: str,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    progress: bool = False,
) -> tuple[pd.DataFrame, object]:
    """Train (or load) a classifier on the real train split of `subset`, test it on the real test split.

    Returns the per-label evaluation table (`synthmed.classify.metrics.evaluate`) and the history.
    """
    from synthmed.classify.metrics import evaluate
    from synthmed.classify.models import ClassifierConfig
    from synthmed.classify.train import predict, train_cached

    arrays = store.split_arrays(subset, source.modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    config = ClassifierConfig.for_profile(profile, seed=seed)
    model, history = train_cached(x_train, y_train, x_val, y_val, config, progress=progress)
    scores = predict(model, x_test)
    table = evaluate(y_test.astype(np.int8), scores, list(subset.labels), seed=seed, n_boot=n_boot)
    return table, history
