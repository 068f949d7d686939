"""Sweeps: a benchmark's settings x generators x seeds as one validated results table, in one process or
in a pool of them, and the chapters' preparation of data and shared points."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from synthmed import generators as registry
from synthmed import profiles
from synthmed.config import DataConfig
from synthmed.data import benchmarks
from synthmed.experiments.datasets import Source, check_paper_ready, load_source, whole_split
from synthmed.experiments.point import PointRun, RunSpec, real_baseline, run_point
from synthmed.experiments.pool import in_processes, sweep_workers
from synthmed.experiments.results import (
    LABEL_COLUMNS,
    RESULT_COLUMNS,
    RESULT_KEY,
    CorruptTable,
    label_rows,
    load_results,
    results_path,
    save_merged,
    validate_label_results,
    validate_results,
)

log = logging.getLogger(__name__)


def run_sweep(
    modality: str,
    benchmark: str,
    profile: str,
    settings=None,
    generators=None,
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

    settings: None = the profile's (`Profile.settings`); seeds: None = the profile's (`Profile.seeds`);
    generators: None = the profile's book generators (`synthmed.generators.book_names(profile)`);
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
    chosen = profiles.get(profile)
    if (modality, benchmark) not in chosen.settings:
        raise ValueError(
            f"no sweep for modality {modality!r} and benchmark {benchmark!r}; expected one of "
            f"{sorted(chosen.settings)}"
        )
    settings = tuple(chosen.settings[modality, benchmark] if settings is None else settings)
    seeds = tuple(chosen.seeds if seeds is None else seeds)
    generators = tuple(registry.book_names(profile) if generators is None else generators)
    for generator in generators:
        registry.get(generator)  # an unknown name fails before the dataset is loaded
    if not settings or not seeds or not generators:
        raise ValueError("run_sweep needs at least one setting, one seed and one generator")
    for setting in settings:  # a bad setting fails before the dataset is loaded
        benchmarks.BenchmarkPoint(modality, benchmark, setting)
    check_paper_ready(profile, source.root if source is not None and source.real_data else data_root, device,
                      (modality,), classifier_weights)
    spec = RunSpec(profile, data_root, device, classifier_weights, precision)
    if source is None:
        source = load_source(modality, chosen.data, data_root)
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
        runs, labels, skip = _setting_runs(spec, modality, benchmark, setting, seeds, generators, source)
        rows += runs
        label_tables += labels
        skipped += [skip] if skip else []
        bar.update(len(seeds) * len(generators))
    bar.close()
    return _finish_sweep(modality, benchmark, profile, rows, label_tables, skipped)


def _setting_runs(spec: RunSpec, modality: str, benchmark: str, setting: int, seeds: tuple[int, ...],
                  generators: tuple[str, ...], source: Source) -> tuple[list, list, dict | None]:
    """One setting of a sweep: its result rows and per-label tables, or a skip entry when its subset
    cannot be built (`benchmarks.TooFewCombinations`)."""
    rows, labels = [], []
    try:
        for seed in seeds:
            for generator in generators:
                run = run_point(modality, benchmark, setting, generator, spec.profile, seed, source=source,
                                **spec.options())
                rows.append(run.row)
                labels.append(label_rows(run))
    except benchmarks.TooFewCombinations as err:
        log.warning("%s %s setting %s skipped: %s", modality, benchmark, setting, err)
        return [], [], {"modality": modality, "benchmark": benchmark, "setting": setting, "reason": str(err)}
    return rows, labels, None


def _finish_sweep(modality, benchmark, profile, rows, label_tables, skipped) -> pd.DataFrame:
    """Validate a sweep's rows, merge them into both saved tables (`results_path`) and return the results table."""
    results = validate_results(pd.DataFrame(rows, columns=list(RESULT_COLUMNS)))
    labels = pd.concat(label_tables, ignore_index=True) if label_tables else pd.DataFrame(columns=list(LABEL_COLUMNS))
    labels = validate_label_results(labels)
    save_merged(results, labels, modality, benchmark, profile)
    results.attrs["skipped"] = skipped
    return results


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
    """The runs of a sweep at the profile's settings (`Profile.settings`) for `seeds` (None: the profile's)
    and `generators` (None: both), from the saved table; runs it lacks are computed with `run_sweep`
    (from the caches where they hold them) and merged into it.

    Returns exactly the asked-for runs that exist, in settings, seed, generator order. attrs:
    "computed", the (setting, seed, generator) this call ran; "missing", a dict (setting, seed,
    generator, reason) per asked-for run that has no row, such as a setting whose subset cannot be
    built; "skipped", as `run_sweep`'s. With `run_missing=False` a lacking run raises LookupError naming them.
    classifier_weights, precision: as `run_point` (None: the profile's).
    """
    settings = profiles.get(profile).settings[modality, benchmark]
    seeds = tuple(profiles.get(profile).seeds if seeds is None else seeds)
    generators = tuple(registry.book_names(profile) if generators is None else generators)
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


def sweep_seeds(profile: str, first: int | None = None, n: int | None = None) -> tuple[int, ...]:
    """The seeds of a sweep: `first`, first + 1, ... (`n` of them). None takes the profile's
    (`Profile.seeds`): its first seed and its number of seeds."""
    default = profiles.get(profile).seeds
    first = default[0] if first is None else int(first)
    n = len(default) if n is None else int(n)
    if n < 1:
        raise ValueError(f"sweep_seeds: expected at least one seed, got n={n}")
    return tuple(range(first, first + n))


_WORKER_SOURCES: dict = {}  # a pool process loads each dataset once, whatever number of points it runs


def _worker_source(spec: RunSpec, modality: str) -> Source:
    key = (modality, spec.profile, spec.data_root)
    if key not in _WORKER_SOURCES:
        _WORKER_SOURCES[key] = load_source(modality, profiles.get(spec.profile).data, spec.data_root)
    return _WORKER_SOURCES[key]


def _setting_task(key: tuple[str, int], spec: RunSpec, benchmark: str, seeds: tuple[int, ...],
                  generators: tuple[str, ...]):
    modality, setting = key
    return _setting_runs(spec, modality, benchmark, setting, seeds, generators, _worker_source(spec, modality))


def _points_task(modality: str, spec: RunSpec, points: list[tuple[str, int]], seed: int, shared: bool) -> str:
    source = load_source(modality, profiles.get(spec.profile).data, spec.data_root)
    for benchmark, setting in points:
        for generator in registry.book_names(spec.profile):
            run_point(modality, benchmark, setting, generator, spec.profile, seed, source=source, shared=shared,
                      **spec.options())
    return modality


def _data_task(modality: str, spec: RunSpec, data: DataConfig, seed: int, difficulty_resolution: int | None) -> str:
    source = load_source(modality, data, spec.data_root)
    if difficulty_resolution:
        real_baseline(source, whole_split(source), difficulty_resolution, spec.profile, seed=seed, device=spec.device,
                      classifier_weights=spec.classifier_weights, precision=spec.precision)
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
    spec = RunSpec(profile, data_root, device, classifier_weights, precision)
    arguments = {m: (spec, data, seed, difficulty_resolution) for m in modalities}
    in_processes(_data_task, arguments, sweep_workers(profile, device, workers))


def prepare_points(
    points: dict[str, tuple[str, int]],
    profile: str,
    seed: int = 0,
    data_root: str | None = None,
    device: str = "auto",
    workers: int | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
    shared: bool = False,
) -> None:
    """Fill the caches of one benchmark point per modality (`points`: modality -> (benchmark, setting)), the
    profile's book generators (`generators.book_names(profile)`), the modalities in parallel processes
    (`sweep_workers`). A chapter then calls `run_point` with the same options (`shared` included), which loads
    everything it needs from the caches."""
    check_paper_ready(profile, data_root, device, tuple(points), classifier_weights)
    spec = RunSpec(profile, data_root, device, classifier_weights, precision)
    arguments = {m: (spec, [point], seed, shared) for m, point in points.items()}
    in_processes(_points_task, arguments, sweep_workers(profile, device, workers))


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

    settings: modality -> its settings, or None for the profile's (`Profile.settings`); None = both
    modalities with the profile's settings. workers: processes that run the modalities' sweeps at
    once (`sweep_workers`; None: the profile's). Returns the results of all modalities in one table
    (`attrs["skipped"]` joined), their per-label table, and the settings each modality ran.
    classifier_weights, precision: as `run_point` (None: the profile's).
    """
    if settings is None:
        settings = dict.fromkeys(("chest", "brain"))
    chosen = {m: tuple(s) if s else profiles.get(profile).settings[m, benchmark] for m, s in settings.items()}
    if not chosen:
        raise ValueError("benchmark_sweeps: expected at least one modality in settings")
    check_paper_ready(profile, data_root, device, tuple(chosen), classifier_weights)
    spec = RunSpec(profile, data_root, device, classifier_weights, precision)
    workers = sweep_workers(profile, device, workers)
    if workers <= 1:
        sweeps = [
            run_sweep(m, benchmark, profile, chosen[m], seeds=seeds, progress=progress, **spec.options())
            for m in chosen
        ]
    else:
        sweeps = _parallel_sweeps(spec, benchmark, chosen, seeds, workers)
    results = validate_results(pd.concat(sweeps, ignore_index=True))
    results.attrs["skipped"] = [s for sweep in sweeps for s in sweep.attrs["skipped"]]
    labels = pd.concat([load_results(m, benchmark, profile, per_label=True) for m in chosen], ignore_index=True)
    labels = labels.merge(results[list(RESULT_KEY)], on=list(RESULT_KEY))  # the saved table may hold other runs
    return results, labels, chosen


def _parallel_sweeps(spec: RunSpec, benchmark: str, chosen: dict[str, tuple[int, ...]], seeds, workers: int,
                     ) -> list[pd.DataFrame]:
    """Every (modality, setting) of the chosen sweeps as one task in a pool of `workers` processes,
    the costliest first (the resolution benchmark's largest images) so the processes finish together;
    then each modality's table assembled in its settings' order and saved as `run_sweep` saves it."""
    profile = spec.profile
    seeds = tuple(profiles.get(profile).seeds if seeds is None else seeds)
    keys = [(m, setting) for m in chosen for setting in chosen[m]]
    if benchmark == "resolution":
        keys.sort(key=lambda key: -key[1])  # a 64x64 point costs about twice a 32x32 one
    arguments = {key: (spec, benchmark, seeds, registry.book_names(profile)) for key in keys}
    done = in_processes(_setting_task, arguments, workers)
    sweeps = []
    for m in chosen:
        parts = [done[m, setting] for setting in chosen[m]]
        rows = [row for runs, _, _ in parts for row in runs]
        labels = [table for _, tables, _ in parts for table in tables]
        skipped = [skip for _, _, skip in parts if skip]
        sweeps.append(_finish_sweep(m, benchmark, profile, rows, labels, skipped))
    return sweeps


def shared_point_runs(
    profile: str,
    seed: int = 0,
    points: dict[str, tuple[str, int] | None] | None = None,
    data_root: str | None = None,
    *,
    classifier_weights: str | None = None,
    precision: str | None = None,
    prepare: bool = True,
) -> dict[tuple[str, str], PointRun]:
    """Every registered generator's `run_point` at one point per modality: the point the generators,
    utility and memorisation chapters share. `points`: modality -> (benchmark, setting), a modality
    mapped to None (or `points` None) takes the profile's (`Profile.shared_points`). The generators train
    on the shared points' schedule (`run_point`'s `shared`; at cpu longer than the sweeps'). With `prepare`,
    the caches are filled first in the profile's worker processes (`prepare_points`). Returns
    (modality, generator) -> PointRun, modalities in `points` order, generators in registry order."""
    shared = profiles.get(profile).shared_points
    points = dict.fromkeys(shared) if points is None else points
    chosen = {m: tuple(p) if p else shared[m] for m, p in points.items()}
    if prepare:
        prepare_points(chosen, profile, seed, data_root, classifier_weights=classifier_weights, precision=precision,
                       shared=True)
    sources = {m: load_source(m, profiles.get(profile).data, data_root) for m in chosen}
    return {
        (m, generator): run_point(m, benchmark, setting, generator, profile, seed, source=sources[m],
                                  data_root=data_root, classifier_weights=classifier_weights, precision=precision,
                                  shared=True)
        for m, (benchmark, setting) in chosen.items()
        for generator in registry.book_names(profile)
    }
