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

from synthmed import cache
from synthmed.config import DataConfig, data_config
from synthmed.data import benchmarks, labels_for, sources, store
from synthmed.features import real_classifier_features

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
    train_scale: float = 1.0  # the profile's training-set factor for this modality (DataConfig)


def load_source(modality: str, data: DataConfig, data_root: str | None = None) -> Source:
    """Locate or make the dataset, read it, and apply the paper's label rules."""
    root = sources.source_root(modality, data, data_root)
    raw = sources.read_raw_index(modality, root)
    index = sources.to_paper_index(modality, raw)
    return Source(modality, root, index, len(raw), bool(data_root), data.scale(modality), data.train_scale(modality))


class NotReady(RuntimeError):
    """A `paper` run asked of a machine that lacks what it needs (the datasets, a CUDA GPU, the weights)."""


def check_paper_ready(
    profile: str,
    data_root: str | None,
    device: str = "auto",
    modalities=("chest", "brain"),
    classifier_weights: str | None = None,
) -> None:
    """At profile `paper`, raise NotReady with one line naming what is missing, before any work.

    The paper profile runs on the real CheXpert and RSNA downloads (`data_root`; phantoms at paper
    scale would take days to write and prove nothing), on a CUDA GPU (a DenseNet-121 at 224 px and
    the paper-width GANs on a CPU would take months), and, with ImageNet classifier weights (its
    default), on torchvision's weights file, which this fetches into torchvision's cache (or says
    where to place it); likewise the FID Inception's weights (`synthmed.gan.inception`). Other
    profiles pass unchecked.
    """
    if profile != "paper":
        return
    if not data_root:
        raise NotReady("profile paper needs the real datasets: set data_root (params/paper.yaml or --data-root) to "
                       "the folder holding CheXpert-v1.0-small/ and stage_2_train.csv; phantoms run at profile cpu")
    for modality in modalities:
        sources.source_root(modality, data_config(profile), data_root)  # names the missing file
    import torch

    chosen = torch.device("cuda" if device == "auto" else device)
    if chosen.type != "cuda" or not torch.cuda.is_available():
        found = "no CUDA GPU is visible" if not torch.cuda.is_available() else f"device is {device!r}"
        raise NotReady(f"profile paper needs a CUDA GPU and {found}; use device auto or cuda on a GPU machine, "
                       "or profile cpu here")
    from synthmed.classify.models import IMAGENET, ClassifierConfig, fetch_imagenet_weights

    if ClassifierConfig.for_profile(profile, weights=classifier_weights).weights == IMAGENET:
        fetch_imagenet_weights()
    if FD_FEATURES[profile] == "inception":
        from synthmed.gan.inception import inception_extractor

        inception_extractor(device="cpu")  # loads (or downloads) it once; InceptionUnavailable names the file


def classifier_config(
    profile: str, seed: int = 0, device: str = "auto", classifier_weights: str | None = None,
    precision: str | None = None,
):
    """The profile's `ClassifierConfig` for a run; `classifier_weights` ("imagenet", "none" or a state
    dict's path) and `precision` ("fp32" or "bf16") replace the profile's when given (not None or "")."""
    from synthmed.classify.models import ClassifierConfig

    return ClassifierConfig.for_profile(profile, seed=seed, device=device, weights=classifier_weights,
                                        precision=precision)


def load_sources(profile: str, modalities, data_root: str | None = None, **overrides) -> dict[str, Source]:
    check_paper_ready(profile, data_root, modalities=tuple(modalities))
    data = data_config(profile, **overrides)
    return {m: load_source(m, data, data_root) for m in modalities}


def whole_split(source: Source) -> benchmarks.Subset:
    """The source's images in the paper's patient-level 80/10/10 split, outside any benchmark.

    With a training-set factor below 1 (`Source.train_scale`) train keeps that fraction of its rows,
    and val and test at most the resolution benchmark's ~4,000 each (times the data scale): random
    rows, seeded, in index order. Label columns with no positive in train are dropped, as the
    benchmarks do. Used to measure how hard a dataset is.
    """
    params = benchmarks.PAPER_PARAMS[source.modality]
    seed = params.split_seed
    train, val, test = benchmarks.patient_split(source.index, seed)
    if source.train_scale < 1:
        cap = params.scaled(source.scale).resolution_val_test
        train = train.sample(frac=source.train_scale, random_state=seed).sort_index()
        val, test = (part.sample(n=min(cap, len(part)), random_state=seed + 1).sort_index() for part in (val, test))
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
    device: str = "auto",
    progress: bool = False,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> tuple[pd.DataFrame, object]:
    """Train (or load) a classifier on the real train split of `subset`, test it on the real test split.

    classifier_weights, precision: None = the profile's (`classifier_config`). Returns the per-label
    evaluation table (`synthmed.classify.metrics.evaluate`) and the history.
    """
    from synthmed.classify.metrics import evaluate
    from synthmed.classify.train import predict, train_cached

    arrays = store.split_arrays(subset, source.modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    config = classifier_config(profile, seed, device, classifier_weights, precision)
    model, history = train_cached(x_train, y_train, x_val, y_val, config, progress=progress)
    scores = predict(model, x_test)
    table = evaluate(y_test.astype(np.int8), scores, list(subset.labels), seed=seed, n_boot=n_boot)
    return table, history


# ---------------------------------------------------------------------------------------------
# One benchmark point end to end, and sweeps over points.

GENERATORS = {"cpD-GAN": "cpdgan", "prog-GAN": "progan"}  # the paper's names -> GANConfig arch
FD_IMAGES = {"tiny": 256, "cpu": 2000, "paper": 10_000}  # paper-spec §3.1: FID on 10,000 images
# Early stopping's feature space: the paper's TTUR Inception pool_3 (FID) at paper, where the in-domain
# distance is logged beside it; the point's real classifier at the CPU profiles (no Inception weights
# here, and phantoms are far from ImageNet). Reals and latents per evaluation: fresh as the original
# at paper, fixed at the CPU profiles (the reason: synthmed.gan.train's docstring).
FD_FEATURES = {"tiny": "domain", "cpu": "domain", "paper": "inception"}
FD_REALS = {"tiny": "fixed", "cpu": "fixed", "paper": "fresh"}
# Latent seeds of the synthetic splits: run seed + offset (test.py draws all three from one seed).
SYNTHETIC_SEED_OFFSET = {"train": 0, "val": 1, "test": 2}
N_BOOT = {"tiny": 200, "cpu": 1000, "paper": 1000}
# The classes and samples benchmarks run at 32x32 (paper-spec §1.3); tiny runs them at 16x16.
CLASSES_RESOLUTION = {"tiny": 16, "cpu": 32, "paper": 32}


def point_resolution(point: benchmarks.BenchmarkPoint, profile: str) -> int:
    return int(point.setting) if point.benchmark == "resolution" else CLASSES_RESOLUTION[profile]


def gan_config(generator: str, profile: str, resolution: int, n_labels: int, precision: str | None = None):
    """The profile's GANConfig; `precision` ("fp32" or "bf16") replaces its fp32 when given."""
    import dataclasses

    from synthmed.gan.config import GANConfig

    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; expected one of {', '.join(GENERATORS)}")
    make = {"paper": GANConfig.paper, "cpu": GANConfig.cpu, "tiny": GANConfig.tiny}[profile]
    config = make(GENERATORS[generator], resolution, n_labels)
    return dataclasses.replace(config, precision=precision) if precision else config


def fd_setup(profile: str, domain, *, device: str = "auto") -> dict:
    """train_gan's Fréchet settings at `profile`: {"extractor", "monitors", "fd_reals"} (`FD_FEATURES`).

    `domain` is the in-domain extractor (the point's real classifier); at paper it becomes the
    monitor "domain" beside the Inception FID that stops the run.
    """
    if FD_FEATURES[profile] == "inception":
        from synthmed.gan.inception import inception_extractor

        return {"extractor": inception_extractor(device=device), "monitors": {"domain": domain},
                "fd_reals": FD_REALS[profile]}
    return {"extractor": domain, "monitors": None, "fd_reals": FD_REALS[profile]}


@dataclass
class PointRun:
    """What `run_point` computed, for notebooks that show more than the result row."""

    row: dict
    subset: benchmarks.Subset
    arrays: dict  # real split -> (images, labels)
    synthetic: dict  # split -> synthetic images with the real split's labels (train, val, test)
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
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> PointRun:
    """One benchmark point end to end, every step cached by its config and inputs.

    classifier_weights ("imagenet", "none" or a local state dict) and precision ("fp32" or "bf16", for
    the GAN and both classifiers): None = the profile's. At profile paper the datasets, a CUDA GPU and
    the weights are checked first (`check_paper_ready`).

    Build the subset; train (or load) the real-trained classifier; train (or load) the generator
    with early stopping on a Fréchet distance (`fd_setup`: Inception FID at paper, the real
    classifier's features at the CPU profiles); sample one synthetic image per real train, val and
    test label vector from the network the original samples (`TrainResult.checkpoint`; the paper's
    inference, whose synthetic test split feeds the nearest-neighbour queries); train (or load) the
    synthetic-trained classifier (validated on synthetic val); test both on the real test split.
    """
    import time

    import synthmed
    from synthmed.classify.metrics import evaluate, utility_gap
    from synthmed.classify.train import cache_key, predict, train_cached
    from synthmed.config import stable_hash
    from synthmed.gan.sample import sample
    from synthmed.gan.train import train_gan_cached

    check_paper_ready(profile, source.root if source is not None and source.real_data else data_root, device,
                      (modality,), classifier_weights)
    times = {}
    start = time.perf_counter()
    if source is None:
        source = load_source(modality, data_config(profile), data_root)
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    resolution = point_resolution(point, profile)
    subset = benchmarks.build_point(source.index, point, scale=source.scale, train_scale=source.train_scale)
    arrays = store.split_arrays(subset, modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    labels = list(subset.labels)
    times["data_s"] = time.perf_counter() - start

    # Real-trained classifier (once per point and seed; shared by both generators).
    t = time.perf_counter()
    clf_config = classifier_config(profile, seed, device, classifier_weights, precision)
    real_model, real_history = train_cached(x_train, y_train, x_val, y_val, clf_config, progress=progress)
    scores_real = predict(real_model, x_test)
    times["real_classifier_s"] = time.perf_counter() - t

    # Generator, early-stopped on a Fréchet distance (`fd_setup`: FID at paper, the real classifier's features
    # else); then one synthetic image per real label vector of each split, as the original's test.py.
    t = time.perf_counter()
    config = gan_config(generator, profile, resolution, len(labels), precision)
    domain = real_classifier_features(real_model, cache_key(clf_config, x_train, y_train, x_val, y_val))
    gan = train_gan_cached(
        config,
        x_train,
        y_train,
        seed=seed,
        fd_images=FD_IMAGES[profile],
        device=device,
        progress=progress,
        **fd_setup(profile, domain, device=device),
    )
    synthetic = {
        split: sample(gan.checkpoint, arrays[split][1], seed=seed + offset, device=device)
        for split, offset in SYNTHETIC_SEED_OFFSET.items()
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
    if gap["delong_reason"]:
        point = f"{modality}/{benchmark}/{setting} {generator} seed {seed}"
        log.warning("%s: DeLong p is NaN: %s", point, gap["delong_reason"])
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
        "fd_domain_best": gan.best_fd if FD_FEATURES[profile] == "domain" else gan.monitors_at_best.get("domain"),
        "kimg_best": gan.best_kimg,
        "kimg_sampled": gan.sampled_kimg,
        "kimg_stop": gan.kimg,
        "gan_stop_reason": gan.stop_reason,
        "real_epochs": len(real_history.epochs),
        "synthetic_epochs": len(syn_history.epochs),
        **{k: round(v, 2) for k, v in times.items()},
        "gan_train_s": round(gan.train_seconds, 2),
        "config_hash": stable_hash(
            clf_config.key_fields(), config.to_dict(), seed, source.scale, source.train_scale, len(source.index)
        ),
        "version": synthmed.__version__,
    }
    return PointRun(row, subset, arrays, synthetic, real_model, syn_model, scores_real, scores_syn, gan, per_label)


# ---------------------------------------------------------------------------------------------
# Sweeps: a benchmark's settings x generators x seeds, as one validated results table.

# The settings each profile sweeps, per (modality, benchmark). `paper` runs the paper's full
# settings (paper-spec §2). `cpu` keeps three per benchmark and modality that span the paper's range
# (largest, a middle one, smallest), and resolutions 32 and 64 only; chest classes 20 and 2, brain
# classes 10 and samples 5400 and resolutions 32/64 are also the points other chapters run, so their
# runs are shared through the caches. `tiny` keeps two per benchmark that the tiny phantoms can
# build and train on (every split has both classes of some label); the tiny GANs run the other
# benchmarks at 16x16, so its resolution points are 8 and 16 (prog-GAN starts at 8x8, so at 8 it
# does not grow; tiny only exercises the code paths).
SWEEP_SETTINGS: dict[str, dict[tuple[str, str], tuple[int, ...]]] = {
    "paper": dict(benchmarks.SETTINGS),
    "cpu": {
        ("chest", "classes"): (20, 6, 2),
        ("brain", "classes"): (10, 6, 2),
        ("chest", "samples"): (5950, 1000, 200),
        ("brain", "samples"): (5400, 1000, 100),
        ("chest", "resolution"): (32, 64),
        ("brain", "resolution"): (32, 64),
    },
    "tiny": {
        ("chest", "classes"): (20, 6),
        ("brain", "classes"): (10, 4),
        ("chest", "samples"): (5950, 1500),
        ("brain", "samples"): (5400, 1500),
        ("chest", "resolution"): (8, 16),
        ("brain", "resolution"): (8, 16),
    },
}
# Seeds per point. The paper drew error bars from repeated runs (paper-spec §4: number not found);
# its README's examples use seed 1000. The CPU profiles afford one run per point.
SWEEP_SEEDS: dict[str, tuple[int, ...]] = {"tiny": (0,), "cpu": (0,), "paper": (1000, 1001, 1002)}

# The result table's columns (the keys of `PointRun.row`) and their dtypes. Floats may be NaN
# (an AUC is undefined on a test set where no label has both classes; no Fréchet distance when
# a GAN run never reached an evaluation); the other columns may not be missing.
RESULT_COLUMNS: dict[str, str] = {
    "modality": "object",
    "benchmark": "object",
    "setting": "int64",
    "generator": "object",
    "seed": "int64",
    "profile": "object",
    "resolution": "int64",
    "n_classes": "int64",
    "n_labels": "int64",
    "n_train": "int64",
    "n_val": "int64",
    "n_test": "int64",
    "auc_real": "float64",
    "auc_real_low": "float64",
    "auc_real_high": "float64",
    "auc_synthetic": "float64",
    "auc_synthetic_low": "float64",
    "auc_synthetic_high": "float64",
    "gap": "float64",
    "gap_low": "float64",
    "gap_high": "float64",
    "delong_p": "float64",
    "auc_paper_real": "float64",
    "auc_paper_synthetic": "float64",
    "fd_best": "float64",  # the best value of the distance that stopped the run (FID at paper)
    "fd_domain_best": "float64",  # the in-domain Fréchet distance at that evaluation
    "kimg_best": "float64",
    "kimg_sampled": "float64",  # the sampled network: best at a patience stop, else the last (kimg_stop)
    "kimg_stop": "float64",
    "gan_stop_reason": "object",
    "real_epochs": "int64",
    "synthetic_epochs": "int64",
    "data_s": "float64",
    "real_classifier_s": "float64",
    "gan_s": "float64",
    "synthetic_classifier_s": "float64",
    "gan_train_s": "float64",
    "config_hash": "object",
    "version": "object",
}
RESULT_KEY = ("modality", "benchmark", "setting", "generator", "seed", "profile")
# A saved table is updated by key: a run's row replaces the saved row with the same key and keeps
# the others. A saved row of the same run (RESULT_KEY) under another config hash was computed with
# an older config and is replaced too, so the table keeps one row per run.
MERGE_KEY = (*RESULT_KEY, "config_hash")
# Per-label AUCs of every run, one row per (run, classifier, label); `label` "mean" is the mean row.
LABEL_COLUMNS: dict[str, str] = {
    **{name: RESULT_COLUMNS[name] for name in RESULT_KEY},
    "trained_on": "object",  # "real" or the generator's name
    "label": "object",
    "n_pos": "float64",  # NaN on the mean row
    "auc": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
}
_AUC_COLUMNS = (
    "auc_real",
    "auc_real_low",
    "auc_real_high",
    "auc_synthetic",
    "auc_synthetic_low",
    "auc_synthetic_high",
    "auc_paper_real",
    "auc_paper_synthetic",
)
_CHOICES = {
    "modality": ("chest", "brain"),
    "benchmark": benchmarks.BENCHMARKS,
    "generator": tuple(GENERATORS),
    "profile": ("tiny", "cpu", "paper"),
}


def results_path(modality: str, benchmark: str, profile: str, *, per_label: bool = False) -> Path:
    """Where `run_sweep` saves a sweep's table: home()/results/{modality}-{benchmark}-{profile}.csv
    (and ...-labels.csv for the per-label AUCs)."""
    from synthmed.config import home

    suffix = "-labels" if per_label else ""
    return home() / "results" / f"{modality}-{benchmark}-{profile}{suffix}.csv"


def _show(value: object) -> str:
    """A cell as the error message shows it: numpy scalars as plain Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _row_name(frame: pd.DataFrame, i: int) -> str:
    row = frame.iloc[i]
    parts = [str(row[c]) for c in ("modality", "benchmark", "setting") if c in frame.columns]
    extra = [f"{c} {row[c]}" for c in ("generator", "seed") if c in frame.columns]
    return f"row {i} ({'/'.join(parts)}{', ' if extra else ''}{', '.join(extra)})"


def _validate(frame: pd.DataFrame, columns: dict[str, str], what: str) -> pd.DataFrame:
    """`frame` cast to `columns`' dtypes, in their order; raises ValueError naming the first bad row and column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; expected {list(columns)}")
    frame = frame.reset_index(drop=True)
    out = {}
    for column, dtype in columns.items():
        values = frame[column]
        if dtype == "object":
            bad = values.isna().to_numpy() | ~values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            bad = pd.Series(bad, index=values.index)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(
                    f"{what} {_row_name(frame, i)}: column {column!r} is {_show(values.iloc[i])}; expected a string"
                )
            choices = _CHOICES.get(column)
            if choices is not None and not values.isin(choices).all():
                i = int(np.flatnonzero(~values.isin(choices).to_numpy())[0])
                raise ValueError(
                    f"{what} {_row_name(frame, i)}: column {column!r} is {_show(values.iloc[i])}; "
                    f"expected one of {choices}"
                )
            out[column] = values.astype(object)
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        unparsed = numbers.isna() & values.notna()
        if dtype == "int64":
            bad = numbers.isna() | (numbers != np.round(numbers))
        else:
            bad = unparsed
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            kind = "an integer" if dtype == "int64" else "a number (NaN allowed)"
            raise ValueError(
                f"{what} {_row_name(frame, i)}: column {column!r} is {_show(values.iloc[i])}; expected {kind}"
            )
        out[column] = numbers.astype(dtype)
    return pd.DataFrame(out)


def validate_results(results: pd.DataFrame) -> pd.DataFrame:
    """Check a results table against `RESULT_COLUMNS`; return it typed, columns in schema order.

    Beyond dtypes: identifiers take their known values, AUCs lie in [0, 1], the gap is the real
    minus the synthetic AUC, and each (modality, benchmark, setting, generator, seed, profile)
    occurs once. Raises ValueError naming the first bad row and column and what was expected.
    """
    table = _validate(results, RESULT_COLUMNS, "results")
    for column in _AUC_COLUMNS:
        values = table[column]
        bad = values.notna() & ((values < 0) | (values > 1))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"results {_row_name(table, i)}: column {column!r} is {_show(values.iloc[i])}; "
                "expected an AUC in [0, 1] or NaN"
            )
    expected_gap = table["auc_real"] - table["auc_synthetic"]
    bad = (table["gap"] - expected_gap).abs() > 1e-6
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"results {_row_name(table, i)}: column 'gap' is {_show(table['gap'].iloc[i])}; expected "
            f"auc_real - auc_synthetic = {_show(expected_gap.iloc[i])}"
        )
    for column in ("n_train", "n_val", "n_test", "n_labels"):
        bad = table[column] < 1
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"results {_row_name(table, i)}: column {column!r} is {table[column].iloc[i]}; expected at least 1"
            )
    duplicated = table.duplicated(list(RESULT_KEY))
    if duplicated.any():
        i = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise ValueError(
            f"results {_row_name(table, i)}: a second row for the same "
            f"{', '.join(RESULT_KEY)}; expected one row per run"
        )
    return table


def validate_label_results(table: pd.DataFrame) -> pd.DataFrame:
    """Check a per-label table against `LABEL_COLUMNS`; return it typed (see `validate_results`)."""
    typed = _validate(table, LABEL_COLUMNS, "per-label results")
    for column in ("auc", "ci_low", "ci_high"):
        bad = typed[column].notna() & ((typed[column] < 0) | (typed[column] > 1))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"per-label results {_row_name(typed, i)}: column {column!r} is "
                f"{_show(typed[column].iloc[i])}; expected an AUC in [0, 1] or NaN"
            )
    return typed


def _label_rows(run: PointRun) -> pd.DataFrame:
    keys = {name: run.row[name] for name in RESULT_KEY}
    table = run.evaluation.assign(**keys)
    return table[list(LABEL_COLUMNS)]


def _save_csv(table: pd.DataFrame, path: Path) -> None:
    """Write through a synced temporary file beside `path`, then rename it over `path`, with a manifest
    (`synthmed.cache`) so that a table damaged later is recognised (`CorruptTable`) and recomputed."""
    cache.atomic_write(path, lambda temp: table.to_csv(temp, index=False))


class CorruptTable(ValueError):
    """A saved results table no longer matches the manifest written with it (truncated or garbled), or an
    earlier synthmed wrote it with fewer columns: either way its runs are recomputed, not used."""


def _saved_for_merge(path: Path, per_label: bool) -> pd.DataFrame | None:
    """The table saved at `path`, or None when there is none; a table that cannot be read is moved
    aside (WARNING naming both paths) rather than merged into or silently overwritten."""
    if not path.exists():
        return None
    try:
        return _read_table(path, per_label)
    except ValueError as err:
        aside = path.with_name(path.name + ".unreadable")
        path.replace(aside)
        log.warning("%s; moved it to %s and saved this run's rows alone", err, aside)
        return None


def _merge_tables(saved: pd.DataFrame | None, new: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """`saved` without the rows of the runs in `runs` (RESULT_KEY columns), then `new`."""
    if saved is None or saved.empty:
        return new
    replaced = saved[list(RESULT_KEY)].merge(runs[list(RESULT_KEY)].drop_duplicates(), how="left", indicator=True)
    kept = saved[(replaced["_merge"] == "left_only").to_numpy()]
    if kept.empty or new.empty:
        return new if kept.empty else kept.reset_index(drop=True)
    return pd.concat([kept, new], ignore_index=True)


def _save_merged(results: pd.DataFrame, labels: pd.DataFrame, modality: str, benchmark: str, profile: str) -> None:
    """Merge a sweep's rows into its saved tables (`MERGE_KEY`), under the tables' lock, each written atomically."""
    path = results_path(modality, benchmark, profile)
    label_path = results_path(modality, benchmark, profile, per_label=True)
    with cache.locked(path, what="results table"):
        saved = _saved_for_merge(path, per_label=False)
        if saved is not None and len(saved):
            old = saved.merge(results[list(MERGE_KEY)], on=list(RESULT_KEY), suffixes=("", "_new"))
            for _, row in old[old["config_hash"] != old["config_hash_new"]].iterrows():
                log.warning(
                    "%s: replacing %s %s setting %s %s seed %s computed with config %s by config %s",
                    path,
                    *(row[c] for c in ("modality", "benchmark", "setting", "generator", "seed")),
                    row["config_hash"],
                    row["config_hash_new"],
                )
        merged = validate_results(_merge_tables(saved, results, results))
        merged_labels = validate_label_results(
            _merge_tables(_saved_for_merge(label_path, per_label=True), labels, results)
        )
        _save_csv(merged, path)
        _save_csv(merged_labels, label_path)


def run_sweep(
    modality: str,
    benchmark: str,
    profile: str,
    settings=None,
    generators=("cpD-GAN", "prog-GAN"),
    seeds=None,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = True,
    *,
    source: Source | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> pd.DataFrame:
    """Run every point of a benchmark sweep (settings x seeds x generators) with `run_point`.

    classifier_weights, precision: as `run_point` (None: the profile's).

    settings: None = `SWEEP_SETTINGS[profile][(modality, benchmark)]`; seeds: None = `SWEEP_SEEDS[profile]`;
    source: the modality's dataset, None = `load_source` with the profile's data settings and `data_root`.
    The Source is loaded once; one tqdm bar counts points. Every step of a point is cached, so a
    second call computes only what is missing or changed, and an interrupted sweep resumes (a GAN
    from its last checkpoint). A setting whose subset cannot be built
    (`benchmarks.TooFewCombinations`) is skipped with a logged note and an entry in
    `df.attrs["skipped"]` (dicts: modality, benchmark, setting, reason).

    Returns the validated results table of the runs asked for (`RESULT_COLUMNS`, one row per run) and
    merges it into the table saved at `results_path(modality, benchmark, profile)`: its rows replace
    the saved rows of the same runs (`MERGE_KEY`), other saved rows are kept. The per-label AUCs
    (`LABEL_COLUMNS`) are merged likewise into `results_path(..., per_label=True)`.
    """
    from tqdm.auto import tqdm

    from synthmed.config import check_profile

    check_profile(profile)
    if (modality, benchmark) not in SWEEP_SETTINGS[profile]:
        raise ValueError(
            f"no sweep for modality {modality!r} and benchmark {benchmark!r}; expected one of "
            f"{sorted(SWEEP_SETTINGS[profile])}"
        )
    settings = tuple(SWEEP_SETTINGS[profile][modality, benchmark] if settings is None else settings)
    seeds = tuple(SWEEP_SEEDS[profile] if seeds is None else seeds)
    generators = tuple(generators)
    for generator in generators:
        if generator not in GENERATORS:
            raise ValueError(f"unknown generator {generator!r}; expected one of {', '.join(GENERATORS)}")
    if not settings or not seeds or not generators:
        raise ValueError("run_sweep needs at least one setting, one seed and one generator")
    for setting in settings:  # a bad setting fails before the dataset is loaded
        benchmarks.BenchmarkPoint(modality, benchmark, setting)
    check_paper_ready(profile, source.root if source is not None and source.real_data else data_root, device,
                      (modality,), classifier_weights)
    options = {"classifier_weights": classifier_weights, "precision": precision}

    if source is None:
        source = load_source(modality, data_config(profile), data_root)
    elif source.modality != modality:
        raise ValueError(f"run_sweep: source is a {source.modality} dataset, the sweep is for {modality}")
    rows, label_tables, skipped = [], [], []
    bar = tqdm(
        total=len(settings) * len(seeds) * len(generators),
        desc=f"{modality} {benchmark}",
        unit="point",
        disable=not progress,
    )
    for setting in settings:
        bar.set_postfix_str(f"setting {setting}")
        runs, labels, skip = _setting_runs(
            modality, benchmark, setting, profile, seeds, generators, data_root, device, source, options
        )
        rows += runs
        label_tables += labels
        skipped += [skip] if skip else []
        bar.update(len(seeds) * len(generators))
    bar.close()
    return _finish_sweep(modality, benchmark, profile, rows, label_tables, skipped)


def _setting_runs(modality, benchmark, setting, profile, seeds, generators, data_root, device, source, options):
    """One setting of a sweep: its result rows and per-label tables, or a skip entry when its subset
    cannot be built (`benchmarks.TooFewCombinations`)."""
    rows, labels = [], []
    try:
        for seed in seeds:
            for generator in generators:
                run = run_point(
                    modality,
                    benchmark,
                    setting,
                    generator,
                    profile,
                    seed,
                    data_root=data_root,
                    device=device,
                    source=source,
                    **options,
                )
                rows.append(run.row)
                labels.append(_label_rows(run))
    except benchmarks.TooFewCombinations as err:
        log.warning("%s %s setting %s skipped: %s", modality, benchmark, setting, err)
        return [], [], {"modality": modality, "benchmark": benchmark, "setting": setting, "reason": str(err)}
    return rows, labels, None


def _finish_sweep(modality, benchmark, profile, rows, label_tables, skipped) -> pd.DataFrame:
    """Validate a sweep's rows, merge them into both saved tables (`results_path`) and return the results table."""
    results = validate_results(pd.DataFrame(rows, columns=list(RESULT_COLUMNS)))
    labels = pd.concat(label_tables, ignore_index=True) if label_tables else pd.DataFrame(columns=list(LABEL_COLUMNS))
    labels = validate_label_results(labels)
    _save_merged(results, labels, modality, benchmark, profile)
    results.attrs["skipped"] = skipped
    return results


def load_results(modality: str, benchmark: str, profile: str, *, per_label: bool = False) -> pd.DataFrame:
    """A saved sweep table (`results_path`), validated; FileNotFoundError when the sweep has not run,
    ValueError naming the file when it is empty or does not validate. A table with a header and no
    rows (every setting skipped) is returned empty with a WARNING naming the file."""
    path = results_path(modality, benchmark, profile, per_label=per_label)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no saved {modality} {benchmark} sweep for profile {profile!r}; "
            "run `synthmed run` or the benchmark's chapter first"
        )
    table = _read_table(path, per_label)
    if table.empty:
        log.warning("%s: the table has a header but no runs (every setting was skipped, or it was cut short)", path)
    return table


def _read_table(path: Path, per_label: bool) -> pd.DataFrame:
    """The table at `path`, validated; ValueError naming the file otherwise (CorruptTable when it
    fails its manifest's check; a table saved before manifests existed is read as it is)."""
    problem = cache.check(path)
    if problem not in (None, "no manifest", "missing"):
        raise CorruptTable(f"{path}: {problem}")
    columns = LABEL_COLUMNS if per_label else RESULT_COLUMNS
    # Strings stay strings (a hash of digits only must not become a number); only numbers may be NaN.
    try:
        table = pd.read_csv(
            path,
            dtype={c: str for c, dtype in columns.items() if dtype == "object"},
            keep_default_na=False,
            na_values={c: ["", "nan", "NaN", "<NA>"] for c, dtype in columns.items() if dtype != "object"},
        )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path}: empty file, not a results table (no header row); delete it and run the sweep again"
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV table ({err}); delete it and run the sweep again") from None
    missing = [c for c in columns if c not in table.columns]
    if missing and problem is None:  # our own table, intact, from before these columns: its rows are stale
        raise CorruptTable(f"{path}: saved by an earlier synthmed, without columns {missing}")
    try:
        return validate_label_results(table) if per_label else validate_results(table)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def sweep_results(
    modality: str,
    benchmark: str,
    profile: str,
    *,
    seeds=None,
    generators=None,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = False,
    run_missing: bool = True,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> pd.DataFrame:
    """The runs of a sweep at the profile's settings (`SWEEP_SETTINGS`) for `seeds` (None: the profile's)
    and `generators` (None: both), from the saved table; runs it lacks are computed with `run_sweep`
    (from the caches where they hold them) and merged into it.

    Returns exactly the asked-for runs that exist, in settings, seed, generator order. attrs:
    "computed", the (setting, seed, generator) this call ran; "missing", a dict (setting, seed,
    generator, reason) per asked-for run that has no row, such as a setting whose subset cannot be
    built; "skipped", as `run_sweep`'s. With `run_missing=False` a lacking run raises LookupError naming them.
    classifier_weights, precision: as `run_point` (None: the profile's).
    """
    import itertools

    settings = tuple(SWEEP_SETTINGS[profile][modality, benchmark])
    seeds = tuple(SWEEP_SEEDS[profile] if seeds is None else seeds)
    generators = tuple(GENERATORS if generators is None else generators)
    wanted = list(itertools.product(settings, seeds, generators))

    def present(table: pd.DataFrame | None) -> set[tuple]:
        if table is None:
            return set()
        return set(zip(table["setting"], table["seed"], table["generator"], strict=True))

    try:
        saved = load_results(modality, benchmark, profile)
    except FileNotFoundError:
        saved = None
    except CorruptTable as err:  # the program's own table: recomputed from the run caches, never used
        log.warning("%s; recomputing its runs", err)
        saved = None
    lacking = [run for run in wanted if run not in present(saved)]
    skipped: list[dict] = []
    if lacking:
        name = results_path(modality, benchmark, profile)
        if not run_missing:
            raise LookupError(f"{name} lacks {len(lacking)} asked-for runs (setting, seed, generator): {lacking}")
        log.info("%s lacks %d runs: running them", name, len(lacking))
        swept = run_sweep(
            modality,
            benchmark,
            profile,
            settings=sorted({r[0] for r in lacking}, key=settings.index),
            seeds=sorted({r[1] for r in lacking}, key=seeds.index),
            generators=sorted({r[2] for r in lacking}, key=generators.index),
            data_root=data_root,
            device=device,
            progress=progress,
            classifier_weights=classifier_weights,
            precision=precision,
        )
        skipped = swept.attrs["skipped"]
        saved = load_results(modality, benchmark, profile)
    order = {run: i for i, run in enumerate(wanted)}
    runs = zip(saved["setting"], saved["seed"], saved["generator"], strict=True)
    position = np.array([order.get(run, -1) for run in runs], dtype=np.int64)
    chosen = np.flatnonzero(position >= 0)
    table = saved.iloc[chosen[np.argsort(position[chosen], kind="stable")]].reset_index(drop=True)
    reasons = {s["setting"]: s["reason"] for s in skipped}
    table.attrs["computed"] = lacking
    table.attrs["skipped"] = skipped
    table.attrs["missing"] = [
        {"setting": s, "seed": seed, "generator": g, "reason": reasons.get(s, "no row after running it")}
        for s, seed, g in wanted
        if (s, seed, g) not in present(table)
    ]
    if table.attrs["missing"]:
        log.warning(
            "%s %s %s: %d of the %d asked-for runs are missing: %s",
            modality,
            benchmark,
            profile,
            len(table.attrs["missing"]),
            len(wanted),
            table.attrs["missing"],
        )
    return table


def classify_point(
    modality: str,
    benchmark: str,
    setting: int,
    profile: str,
    seed: int = 0,
    *,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = False,
    source: Source | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> tuple[pd.DataFrame, object]:
    """Train (or load) the real-trained classifier of one benchmark point and test it on the real test split.

    The same classifier, config and cache as `run_point`'s real-trained one. Returns the per-label
    evaluation table (`synthmed.classify.metrics.evaluate`, bootstrap CIs) and the training history.
    """
    check_paper_ready(profile, source.root if source is not None and source.real_data else data_root, device,
                      (modality,), classifier_weights)
    if source is None:
        source = load_source(modality, data_config(profile), data_root)
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    subset = benchmarks.build_point(source.index, point, scale=source.scale, train_scale=source.train_scale)
    resolution = point_resolution(point, profile)
    return real_baseline(
        source, subset, resolution, profile, seed=seed, n_boot=N_BOOT[profile], device=device, progress=progress,
        classifier_weights=classifier_weights, precision=precision,
    )


def sweep_seeds(profile: str, first: int | None = None, n: int | None = None) -> tuple[int, ...]:
    """The seeds of a sweep: `first`, first + 1, ... (`n` of them). None takes the profile's
    (`SWEEP_SEEDS`): its first seed and its number of seeds."""
    default = SWEEP_SEEDS[profile]
    first = default[0] if first is None else int(first)
    n = len(default) if n is None else int(n)
    if n < 1:
        raise ValueError(f"sweep_seeds: expected at least one seed, got n={n}")
    return tuple(range(first, first + n))


# Processes that run a chapter's modalities at once. On this project's 2-core CPU machines two
# one-thread processes train the cpu profile's small networks about 1.3x faster than one process
# with two threads (benchmarks/gan_throughput.py --threads 1, two at once); on a GPU, or at tiny
# scale where starting a process costs more than the work, one process runs everything.
WORKERS = {"tiny": 1, "cpu": 2, "paper": 1}


def sweep_workers(profile: str, device: str = "auto", workers: int | None = None) -> int:
    """How many processes run a chapter's modalities: `workers`, else the profile's (`WORKERS`); 1 on CUDA."""
    import os

    if workers is not None:
        if int(workers) < 1:
            raise ValueError(f"workers: expected at least 1, got {workers}")
        return int(workers)
    if device != "cpu":
        import torch

        if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
            return 1
    return max(1, min(WORKERS[profile], os.cpu_count() or 1))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


_WORKER_SOURCES: dict = {}  # a pool process loads each dataset once, whatever number of points it runs


def _setting_task(key, benchmark, profile, seeds, generators, data_root, device, options):
    modality, setting = key
    if (modality, profile, data_root) not in _WORKER_SOURCES:
        _WORKER_SOURCES[modality, profile, data_root] = load_source(modality, data_config(profile), data_root)
    source = _WORKER_SOURCES[modality, profile, data_root]
    return _setting_runs(modality, benchmark, setting, profile, seeds, generators, data_root, device, source, options)


def _points_task(modality, points, profile, seed, data_root, device, options):
    source = load_source(modality, data_config(profile), data_root)
    for benchmark, setting in points:
        for generator in GENERATORS:
            run_point(
                modality,
                benchmark,
                setting,
                generator,
                profile,
                seed,
                data_root=data_root,
                device=device,
                source=source,
                **options,
            )
    return modality


def in_processes(task, arguments: dict, workers: int) -> dict:
    """`task(key, *arguments[key])` for each key, in order: in this process when `workers` is 1,
    else in a pool of that many fresh processes whose CPU threads share this machine's cores.

    Every step a task runs writes its cache atomically, so processes never see each other's half-written
    files, and a task that fails raises here after the others have finished what they could."""
    if workers <= 1 or len(arguments) <= 1:
        return {m: task(m, *args) for m, args in arguments.items()}
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = {m: pool.submit(task, m, *args) for m, args in arguments.items()}
        return {m: future.result() for m, future in futures.items()}


def _data_task(modality, data, data_root, profile, seed, difficulty_resolution, device, options):
    source = load_source(modality, data, data_root)
    if difficulty_resolution:
        real_baseline(source, whole_split(source), difficulty_resolution, profile, seed=seed, device=device,
                      **options)
    return modality


def prepare_data(
    modalities,
    data: DataConfig,
    data_root: str | None,
    profile: str,
    *,
    seed: int = 0,
    difficulty_resolution: int | None = None,
    device: str = "auto",
    workers: int | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> None:
    """Make (or find) each modality's dataset and, with `difficulty_resolution`, train the real
    classifier on its whole split, the modalities in parallel processes (`sweep_workers`). The data
    chapter then loads both from the caches. classifier_weights, precision: None = the profile's."""
    check_paper_ready(profile, data_root, device, tuple(modalities), classifier_weights)
    workers = sweep_workers(profile, device, workers)
    options = {"classifier_weights": classifier_weights, "precision": precision}
    arguments = {m: (data, data_root, profile, seed, difficulty_resolution, device, options) for m in modalities}
    in_processes(_data_task, arguments, workers)


def prepare_points(
    points: dict[str, tuple[str, int]],
    profile: str,
    seed: int = 0,
    data_root: str | None = None,
    device: str = "auto",
    workers: int | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> None:
    """Fill the caches of one benchmark point per modality (`points`: modality -> (benchmark, setting)),
    both generators, the modalities in parallel processes (`sweep_workers`). A chapter then calls
    `run_point` with the same options, which loads everything it needs from the caches."""
    check_paper_ready(profile, data_root, device, tuple(points), classifier_weights)
    workers = sweep_workers(profile, device, workers)
    options = {"classifier_weights": classifier_weights, "precision": precision}
    arguments = {m: ([point], profile, seed, data_root, device, options) for m, point in points.items()}
    in_processes(_points_task, arguments, workers)


def benchmark_sweeps(
    benchmark: str,
    profile: str,
    settings: dict[str, tuple[int, ...] | None] | None = None,
    seeds=None,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = False,
    workers: int | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, tuple[int, ...]]]:
    """`run_sweep` for each modality of one benchmark (a chapter's runs).

    settings: modality -> its settings, or None for the profile's (`SWEEP_SETTINGS`); None = both
    modalities with the profile's settings. workers: processes that run the modalities' sweeps at
    once (`sweep_workers`; None: the profile's). Returns the results of all modalities in one table
    (`attrs["skipped"]` joined), their per-label table, and the settings each modality ran.
    classifier_weights, precision: as `run_point` (None: the profile's).
    """
    if settings is None:
        settings = dict.fromkeys(("chest", "brain"))
    chosen = {m: tuple(s) if s else SWEEP_SETTINGS[profile][m, benchmark] for m, s in settings.items()}
    if not chosen:
        raise ValueError("benchmark_sweeps: expected at least one modality in settings")
    check_paper_ready(profile, data_root, device, tuple(chosen), classifier_weights)
    options = {"classifier_weights": classifier_weights, "precision": precision}
    workers = sweep_workers(profile, device, workers)
    if workers <= 1:
        sweeps = [
            run_sweep(
                m, benchmark, profile, chosen[m], seeds=seeds, data_root=data_root, device=device, progress=progress,
                **options,
            )
            for m in chosen
        ]
    else:
        sweeps = _parallel_sweeps(benchmark, profile, chosen, seeds, data_root, device, workers, options)
    results = validate_results(pd.concat(sweeps, ignore_index=True))
    results.attrs["skipped"] = [s for sweep in sweeps for s in sweep.attrs["skipped"]]
    labels = pd.concat([load_results(m, benchmark, profile, per_label=True) for m in chosen], ignore_index=True)
    labels = labels.merge(results[list(RESULT_KEY)], on=list(RESULT_KEY))  # the saved table may hold other runs
    return results, labels, chosen


def _parallel_sweeps(benchmark, profile, chosen, seeds, data_root, device, workers, options) -> list[pd.DataFrame]:
    """Every (modality, setting) of the chosen sweeps as one task in a pool of `workers` processes,
    the costliest first (the resolution benchmark's largest images) so the processes finish together;
    then each modality's table assembled in its settings' order and saved as `run_sweep` saves it."""
    seeds = tuple(SWEEP_SEEDS[profile] if seeds is None else seeds)
    keys = [(m, setting) for m in chosen for setting in chosen[m]]
    if benchmark == "resolution":
        keys.sort(key=lambda key: -key[1])  # a 64x64 point costs about twice a 32x32 one
    arguments = {key: (benchmark, profile, seeds, tuple(GENERATORS), data_root, device, options) for key in keys}
    done = in_processes(_setting_task, arguments, workers)
    sweeps = []
    for m in chosen:
        parts = [done[m, setting] for setting in chosen[m]]
        rows = [row for runs, _, _ in parts for row in runs]
        labels = [table for _, tables, _ in parts for table in tables]
        skipped = [skip for _, _, skip in parts if skip]
        sweeps.append(_finish_sweep(m, benchmark, profile, rows, labels, skipped))
    return sweeps
