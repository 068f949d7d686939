"""One benchmark point end to end: subset -> image arrays -> real classifier -> generator -> synthetic
splits -> synthetic classifier -> result row. Every step is cached by the step it calls."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

import synthmed
from synthmed import generators, profiles
from synthmed.config import stable_hash
from synthmed.data import benchmarks, store
from synthmed.experiments.datasets import Source, check_paper_ready, load_source
from synthmed.experiments.panels import inception_extractor, point_panels
from synthmed.features import real_classifier_features

log = logging.getLogger(__name__)

# Latent seeds of the synthetic splits: run seed + offset (test.py draws all three from one seed).
SYNTHETIC_SEED_OFFSET = {"train": 0, "val": 1, "test": 2}


def synthetic_seed(seed: int, split: str) -> int:
    """The latent seed of a run's synthetic `split` ("train", "val" or "test"): every user of a synthetic
    split (run_point, the machine reader) draws it from here, so no two splits share latents."""
    if split not in SYNTHETIC_SEED_OFFSET:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SYNTHETIC_SEED_OFFSET)}")
    return int(seed) + SYNTHETIC_SEED_OFFSET[split]


@dataclass(frozen=True)
class RunSpec:
    """What every run of a sweep shares besides its point: the profile and the machine-side options.

    classifier_weights ("imagenet", "none" or a local state dict) and precision ("fp32" or "bf16", for
    the generator and both classifiers): None = the profile's.
    """

    profile: str
    data_root: str | None = None
    device: str = "auto"
    classifier_weights: str | None = None
    precision: str | None = None

    def options(self) -> dict:
        """The keyword arguments of `run_point` and `classify_point` this spec sets."""
        return {"data_root": self.data_root, "device": self.device,
                "classifier_weights": self.classifier_weights, "precision": self.precision}


def point_resolution(point: benchmarks.BenchmarkPoint, profile: str) -> int:
    return profiles.get(profile).point_resolution(point.benchmark, point.setting)


def classifier_config(
    profile: str, seed: int = 0, device: str = "auto", classifier_weights: str | None = None,
    precision: str | None = None,
):
    """The profile's `ClassifierConfig` for a run; `classifier_weights` ("imagenet", "none" or a state
    dict's path) and `precision` ("fp32" or "bf16") replace the profile's when given (not None or "")."""
    return profiles.get(profile).classifier_config(seed=seed, device=device, weights=classifier_weights,
                                                   precision=precision)


def generator_config(generator: str, profile: str, resolution: int, n_labels: int, precision: str | None = None,
                     *, shared: bool = False):
    """The registered generator's config at `profile` (`shared`: the chapters' shared points' schedule);
    `precision` ("fp32" or "bf16") replaces fp32 when given."""
    return generators.get(generator).config(profile, resolution, n_labels, precision, shared=shared)


def point_configs(
    generator: str, profile: str, resolution: int, n_labels: int, seed: int = 0, *, device: str = "auto",
    classifier_weights: str | None = None, precision: str | None = None, shared: bool = False,
    generator_overrides: Mapping[str, object] | None = None, classifier_overrides: Mapping[str, object] | None = None,
) -> tuple[object, object]:
    """A run's classifier config and generator config, as `run_point` trains them (the overrides applied)."""
    clf_config = classifier_config(profile, seed, device, classifier_weights, precision)
    clf_config = dataclasses.replace(clf_config, **(classifier_overrides or {}))
    config = generator_config(generator, profile, resolution, n_labels, precision, shared=shared)
    return clf_config, dataclasses.replace(config, **(generator_overrides or {}))


def config_hash(clf_config, config, seed: int, source: Source) -> str:
    """A result row's ``config_hash``: the configs, the seed and the dataset's scale and size (not its pixels)."""
    return stable_hash(clf_config.key_fields(), config.to_dict(), seed, source.scale, source.train_scale,
                       len(source.index))


def point_config_hash(
    modality: str, benchmark: str, setting: int, generator: str, profile: str, seed: int = 0, *, source: Source,
    subset: benchmarks.Subset | None = None, **options,
) -> str:
    """The ``config_hash`` `run_point` would give this run now, without training anything: the subset's labels
    (`subset`, else built from `source`'s index; `benchmarks.TooFewCombinations` where it cannot be) and
    the configs. `options`: `point_configs`' keywords (device, classifier_weights, precision, shared and
    the overrides), as given to `run_point`."""
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    if subset is None:
        subset = benchmarks.build_point(source.index, point, scale=source.scale, train_scale=source.train_scale)
    clf_config, config = point_configs(generator, profile, point_resolution(point, profile), len(subset.labels), seed,
                                       **options)
    return config_hash(clf_config, config, seed, source)


def _rank_option(spec: generators.Generator, gan_ranks: int) -> dict:
    """`Generator.train`'s ``ranks`` keyword where more than one is asked and the generator can use them."""
    if isinstance(gan_ranks, bool) or not isinstance(gan_ranks, int) or gan_ranks < 1:
        raise ValueError(f"gan_ranks: expected a whole number of processes, at least 1, got {gan_ranks!r}")
    if gan_ranks == 1:
        return {}
    if not spec.data_parallel:
        log.warning("%s trains in one process (it has no data-parallel training); gan_ranks %d not used",
                    spec.name, gan_ranks)
        return {}
    return {"ranks": gan_ranks}


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
    trained: generators.Trained  # the generator's training: its model, log and early stop
    evaluation: pd.DataFrame  # per-label AUCs of both classifiers, tidy


def _point_subset(modality: str, benchmark: str, setting: int, profile: str, source: Source | None,
                  data_root: str | None, device: str, classifier_weights: str | None,
                  ) -> tuple[Source, benchmarks.BenchmarkPoint, benchmarks.Subset]:
    """A point's dataset (`source`, or the profile's loaded from `data_root`) and subset, after the `paper`
    readiness check."""
    check_paper_ready(profile, source.root if source is not None and source.real_data else data_root, device,
                      (modality,), classifier_weights)
    if source is None:
        source = load_source(modality, profiles.get(profile).data, data_root)
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    subset = benchmarks.build_point(source.index, point, scale=source.scale, train_scale=source.train_scale)
    return source, point, subset


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
    shared: bool = False,
    generator_overrides: Mapping[str, object] | None = None,
    classifier_overrides: Mapping[str, object] | None = None,
    gan_ranks: int = 1,
) -> PointRun:
    """One benchmark point end to end, every step cached by its config and inputs.

    classifier_weights ("imagenet", "none" or a local state dict) and precision ("fp32" or "bf16", for
    the GAN and both classifiers): None = the profile's. At profile paper the datasets, a CUDA GPU and
    the weights are checked first (`check_paper_ready`). `shared`: train the generator on the schedule of
    the point the generators, utility and memorisation chapters share (`Profile.shared_gan_preset`;
    at cpu longer than the sweeps'), a run of its own that no results table holds. `generator_overrides` and
    `classifier_overrides`: fields that replace the configs' (`dataclasses.replace`; the playground's
    training length and epochs), cached under the configs they make. `gan_ranks` > 1: a generator that trains
    data-parallel (`Generator.data_parallel`, the GANs) trains over that many processes through torchrun
    (`synthmed.gan.ddp`: one per GPU, or gloo processes on the CPU at device "cpu") into the same cached run
    folder, which is then loaded as a one-process run's; other generators train in this process.

    Build the subset; train (or load) the real-trained classifier; train (or load) the generator
    registered as `generator` (`synthmed.generators`), early-stopped on the profile's Fréchet distance
    (Inception FID at paper, the real classifier's features at the CPU profiles); sample one synthetic
    image per real train, val and test label vector (the paper's inference, whose synthetic test split
    feeds the nearest-neighbour queries); train (or load) the synthetic-trained classifier (validated on
    synthetic val); test both on the real test split.
    """
    from synthmed.classify.metrics import evaluate, utility_gap  # torch: on the first run, not on import
    from synthmed.classify.train import cache_key, predict, train_cached

    spec = generators.get(generator)
    settings = profiles.get(profile)

    times = {}
    start = time.perf_counter()
    source, point, subset = _point_subset(modality, benchmark, setting, profile, source, data_root, device,
                                          classifier_weights)
    if settings.inception_panels:  # its weights before any training: InceptionUnavailable names a missing file
        inception_extractor(device)
    resolution = point_resolution(point, profile)
    arrays = store.split_arrays(subset, modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    labels = list(subset.labels)
    times["data_s"] = time.perf_counter() - start

    # Real-trained classifier (once per point and seed; shared by both generators).
    t = time.perf_counter()
    clf_config, config = point_configs(generator, profile, resolution, len(labels), seed, device=device,
                                       classifier_weights=classifier_weights, precision=precision, shared=shared,
                                       generator_overrides=generator_overrides,
                                       classifier_overrides=classifier_overrides)
    real_model, real_history = train_cached(x_train, y_train, x_val, y_val, clf_config, progress=progress)
    scores_real = predict(real_model, x_test)
    times["real_classifier_s"] = time.perf_counter() - t

    # Generator, early-stopped on a Fréchet distance; then one synthetic image per real label vector of
    # each split, as the original's test.py.
    t = time.perf_counter()
    domain = real_classifier_features(real_model, cache_key(clf_config, x_train, y_train, x_val, y_val))
    trained = spec.train(config, x_train, y_train, seed=seed, profile=profile, domain=domain, device=device,
                         progress=progress, **_rank_option(spec, gan_ranks))
    synthetic = {
        split: spec.sample(trained, arrays[split][1], seed=synthetic_seed(seed, split), device=device)
        for split in SYNTHETIC_SEED_OFFSET
    }
    times["generator_s"] = time.perf_counter() - t

    # The fidelity and privacy panels (experiments.panels), in the real classifier's features (and the fidelity
    # panel in Inception features where the profile asks), cached.
    t = time.perf_counter()
    panels = point_panels(real_model, arrays, synthetic, cap=settings.fd_images, n_boot=settings.n_boot, seed=seed,
                          feature_space=domain.name, inception=settings.inception_panels, device=device)
    panels_s = time.perf_counter() - t

    # Synthetic-trained classifier, validated on synthetic val, tested on the real test split.
    t = time.perf_counter()
    syn_model, syn_history = train_cached(
        synthetic["train"], y_train, synthetic["val"], y_val, clf_config, progress=progress
    )
    scores_syn = predict(syn_model, x_test)
    times["synthetic_classifier_s"] = time.perf_counter() - t

    y_true = y_test.astype(np.int8)
    gap = utility_gap(y_true, scores_real, scores_syn, labels, seed=seed, n_boot=settings.n_boot)
    if gap["delong_reason"]:
        point = f"{modality}/{benchmark}/{setting} {generator} seed {seed}"
        log.warning("%s: DeLong p is NaN: %s", point, gap["delong_reason"])
    per_label = pd.concat(
        [
            evaluate(y_true, scores_real, labels, seed=seed, n_boot=settings.n_boot).assign(trained_on="real"),
            evaluate(y_true, scores_syn, labels, seed=seed, n_boot=settings.n_boot).assign(trained_on=generator),
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
        "stop_metric": trained.stop_metric,
        "stop_value": trained.stop_value,
        "fd_domain": trained.fd_domain,
        "best_kimg": trained.best_kimg,
        "sampled_kimg": trained.sampled_kimg,
        "train_kimg": trained.train_kimg,
        "stop_reason": trained.stop_reason,
        "real_epochs": len(real_history.epochs),
        "synthetic_epochs": len(syn_history.epochs),
        **{k: round(v, 2) for k, v in times.items()},
        "generator_train_s": round(trained.train_seconds, 2),
        "config_hash": config_hash(clf_config, config, seed, source),
        "version": synthmed.__version__,
        **panels,
        "panels_s": round(panels_s, 2),
    }
    return PointRun(row, subset, arrays, synthetic, real_model, syn_model, scores_real, scores_syn, trained,
                    per_label)


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
    from synthmed.classify.metrics import evaluate  # torch: on the first run, not on import
    from synthmed.classify.train import predict, train_cached

    arrays = store.split_arrays(subset, source.modality, resolution, progress=progress)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    config = classifier_config(profile, seed, device, classifier_weights, precision)
    model, history = train_cached(x_train, y_train, x_val, y_val, config, progress=progress)
    scores = predict(model, x_test)
    table = evaluate(y_test.astype(np.int8), scores, list(subset.labels), seed=seed, n_boot=n_boot)
    return table, history


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
    settings = profiles.get(profile)
    source, point, subset = _point_subset(modality, benchmark, setting, profile, source, data_root, device,
                                          classifier_weights)
    return real_baseline(
        source, subset, point_resolution(point, profile), profile, seed=seed, n_boot=settings.n_boot, device=device,
        progress=progress, classifier_weights=classifier_weights, precision=precision,
    )
