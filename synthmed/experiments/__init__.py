"""Experiments end to end: source data -> benchmark subset -> image arrays -> classifiers -> results.

One job per module:

- `datasets`: a modality's source and paper index; the `paper` profile's readiness check;
- `point`: one benchmark point end to end (`run_point`), the real baseline, `RunSpec`;
- `results`: the results schema, its validation, and the tables' CSV input and output;
- `sweeps`: a benchmark's settings x generators x seeds, and the chapters' preparation steps;
- `pool`: worker processes.

Every step is cached by the step it calls (phantoms, image store, classifiers, generators), so
running a function again only computes what is missing or changed. The names below are the API the
notebooks, the CLI and the benchmarks use.
"""

from synthmed.experiments.datasets import (
    NotReady,
    Source,
    check_paper_ready,
    load_source,
    load_sources,
    whole_split,
)
from synthmed.experiments.point import (
    SYNTHETIC_SEED_OFFSET,
    PointRun,
    RunSpec,
    classifier_config,
    classify_point,
    generator_config,
    point_resolution,
    real_baseline,
    run_point,
    synthetic_seed,
)
from synthmed.experiments.pool import in_processes, sweep_workers
from synthmed.experiments.results import (
    LABEL_COLUMNS,
    MERGE_KEY,
    RESULT_COLUMNS,
    RESULT_KEY,
    CorruptTable,
    load_results,
    results_path,
    validate_label_results,
    validate_results,
)
from synthmed.experiments.sweeps import (
    benchmark_sweeps,
    prepare_data,
    prepare_points,
    run_sweep,
    shared_point_runs,
    sweep_results,
    sweep_seeds,
)

__all__ = [
    "LABEL_COLUMNS", "MERGE_KEY", "RESULT_COLUMNS", "RESULT_KEY", "SYNTHETIC_SEED_OFFSET", "CorruptTable",
    "NotReady", "PointRun", "RunSpec", "Source", "benchmark_sweeps", "check_paper_ready", "classifier_config",
    "classify_point", "generator_config", "in_processes", "load_results", "load_source", "load_sources",
    "point_resolution", "prepare_data", "prepare_points", "real_baseline", "results_path", "run_point",
    "run_sweep", "shared_point_runs", "sweep_results", "sweep_seeds", "sweep_workers", "synthetic_seed",
    "validate_label_results", "validate_results", "whole_split",
]
