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

from synthmed.config import DataConfig, data_config
from synthmed.data import benchmarks, labels_for, sources, store

log = logging.getLogger(__name__)


@dataclass
class Source:
    """A modality's dataset as the experiments use it."""

    modality: str
    root: Path
    index: pd.DataFrame  # the paper index: one row per kept image, 0/1 label columns
    n_source_images: int  # rows of the source table before the paper's rules
    real_data: bool
    scale: float  # the profile's benchmark scale for this modality (synthmed.config.DataConfig)


def load_source(modality: str, data: DataConfig, data_root: str | None = None) -> Source:
    """Locate or make the dataset, read it, and apply the paper's label rules."""
    root = sources.source_root(modality, data, data_root)
    raw = sources.read_raw_index(modality, root)
    index = sources.to_paper_index(modality, raw)
    return Source(modality, root, index, len(raw), bool(data_root), data.scale(modality))


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


# ---------------------------------------------------------------------------------------------
# One benchmark point end to end, and sweeps over points.

GENERATORS = {"cpD-GAN": "cpdgan", "prog-GAN": "progan"}  # the paper's names -> GANConfig arch
FD_IMAGES = {"tiny": 256, "cpu": 2000, "paper": 10_000}  # paper-spec §3.1: FID on 10,000 images
N_BOOT = {"tiny": 200, "cpu": 1000, "paper": 1000}
# The classes and samples benchmarks run at 32x32 (paper-spec §1.3); tiny runs them at 16x16.
CLASSES_RESOLUTION = {"tiny": 16, "cpu": 32, "paper": 32}


def point_resolution(point: benchmarks.BenchmarkPoint, profile: str) -> int:
    return int(point.setting) if point.benchmark == "resolution" else CLASSES_RESOLUTION[profile]


def gan_config(generator: str, profile: str, resolution: int, n_labels: int):
    from synthmed.gan.config import GANConfig

    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; expected one of {', '.join(GENERATORS)}")
    make = {"paper": GANConfig.paper, "cpu": GANConfig.cpu, "tiny": GANConfig.tiny}[profile]
    return make(GENERATORS[generator], resolution, n_labels)


class ClassifierFeatures:
    """The real-trained classifier's pooled features as the Fréchet-distance extractor.

    The paper used Inception features; none can be downloaded here, so the distance is computed in
    an in-domain feature space: the point's own real-trained classifier, trained on the same real
    training split the GAN learns from.
    """

    def __init__(self, model, key: str) -> None:
        self.model = model
        self.name = f"real-classifier-{key}"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from synthmed.classify.train import extract_features

        return extract_features(self.model, images)


@dataclass
class PointRun:
    """What `run_point` computed, for notebooks that show more than the result row."""

    row: dict
    subset: benchmarks.Subset
    arrays: dict  # real split -> (images, labels)
    synthetic: dict  # split -> synthetic images with the real split's labels (train, val)
    real_model: object
    synthetic_model: object
    scores_real: np.ndarray  # real-trained classifier on the real test split (N, L)
    scores_synthetic: np.ndarray  # synthetic-trained classifier on the same images
    gan: object  # synthmed.gan.train.TrainResult
    evaluation: pd.DataFrame  # per-label AUCs of both classifiers, tidy


def run_point(
    modality: str,
    benchmark: str,
    setting: int,
    generator: str,
    profile: str,
    seed: int = 0,
    *,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = False,
    source: Source | None = None,
) -> PointRun:
    """One benchmark point end to end, every step cached by its config and inputs.

    Build the subset; train (or load) the real-trained classifier; train (or load) the generator
    with early stopping on a Fréchet distance in the real classifier's feature space; sample one
    synthetic image per real train and val label vector (the paper's inference); train (or load)
    the synthetic-trained classifier (validated on synthetic val); test both on the real test split.
    """
    import time

    import synthmed
    from synthmed.classify.metrics import evaluate, utility_gap
    from synthmed.classify.models import ClassifierConfig
    from synthmed.classify.train import cache_key, predict, train_cached
    from synthmed.config import stable_hash
    from synthmed.gan.sample import sample
    from synthmed.gan.train import train_gan_cached

    times = {}
    start = time.perf_counter()
    if source is None:
        source = load_source(modality, data_config(profile), data_root)
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    resolution = point_resolution(point, profile)
    subset = benchmarks.build_point(source.index, point, scale=source.scale)
    arrays = store.split_arrays(subset, modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    labels = list(subset.labels)
    times["data_s"] = time.perf_counter() - start

    # Real-trained classifier (once per point and seed; shared by both generators).
    t = time.perf_counter()
    clf_config = ClassifierConfig.for_profile(profile, seed=seed, device=device)
    real_model, real_history = train_cached(x_train, y_train, x_val, y_val, clf_config, progress=progress)
    scores_real = predict(real_model, x_test)
    times["real_classifier_s"] = time.perf_counter() - t

    # Generator, early-stopped on the Fréchet distance in the real classifier's features.
    t = time.perf_counter()
    config = gan_config(generator, profile, resolution, len(labels))
    extractor = ClassifierFeatures(real_model, cache_key(clf_config, x_train, y_train, x_val, y_val))
    gan = train_gan_cached(
        config,
        x_train,
        y_train,
        seed=seed,
        extractor=extractor,
        fd_images=FD_IMAGES[profile],
        device=device,
        progress=progress,
    )
    synthetic = {
        "train": sample(gan.checkpoint, y_train, seed=seed, device=device),
        "val": sample(gan.checkpoint, y_val, seed=seed + 1, device=device),
    }
    times["gan_s"] = time.perf_counter() - t

    # Synthetic-trained classifier, validated on synthetic val, tested on the real test split.
    t = time.perf_counter()
    syn_model, syn_history = train_cached(
        synthetic["train"], y_train, synthetic["val"], y_val, clf_config, progress=progress
    )
    scores_syn = predict(syn_model, x_test)
    times["synthetic_classifier_s"] = time.perf_counter() - t

    y_true = y_test.astype(np.int8)
    gap = utility_gap(y_true, scores_real, scores_syn, labels, seed=seed, n_boot=N_BOOT[profile])
    per_label = pd.concat(
        [
            evaluate(y_true, scores_real, labels, seed=seed, n_boot=N_BOOT[profile]).assign(trained_on="real"),
            evaluate(y_true, scores_syn, labels, seed=seed, n_boot=N_BOOT[profile]).assign(trained_on=generator),
        ],
        ignore_index=True,
    )
    real_mean = per_label[(per_label["label"] == "mean") & (per_label["trained_on"] == "real")].iloc[0]
    syn_mean = per_label[(per_label["label"] == "mean") & (per_label["trained_on"] == generator)].iloc[0]
    row = {
        "modality": modality,
        "benchmark": benchmark,
        "setting": setting,
        "generator": generator,
        "seed": seed,
        "profile": profile,
        "resolution": resolution,
        "n_classes": len(subset.classes),
        "n_labels": len(labels),
        "n_train": len(x_train),
        "n_val": len(x_val),
        "n_test": len(x_test),
        "auc_real": gap["mean_auc_real"],
        "auc_real_low": real_mean["ci_low"],
        "auc_real_high": real_mean["ci_high"],
        "auc_synthetic": gap["mean_auc_synthetic"],
        "auc_synthetic_low": syn_mean["ci_low"],
        "auc_synthetic_high": syn_mean["ci_high"],
        "gap": gap["gap"],
        "gap_low": gap["gap_ci_low"],
        "gap_high": gap["gap_ci_high"],
        "delong_p": gap["delong_p"],
        "auc_paper_real": gap["auc_paper_real"],
        "auc_paper_synthetic": gap["auc_paper_synthetic"],
        "fd_best": gan.best_fd,
        "kimg_best": gan.best_kimg,
        "kimg_stop": gan.kimg,
        "gan_stop_reason": gan.stop_reason,
        "real_epochs": len(real_history.epochs),
        "synthetic_epochs": len(syn_history.epochs),
        **{k: round(v, 2) for k, v in times.items()},
        "gan_train_s": round(gan.train_seconds, 2),
        "config_hash": stable_hash(clf_config, config.to_dict(), seed, source.scale, len(source.index)),
        "version": synthmed.__version__,
    }
    return PointRun(row, subset, arrays, synthetic, real_model, syn_model, scores_real, scores_syn, gan, per_label)
