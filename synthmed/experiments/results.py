"""The results schema (one row per run, one per-label row per run, classifier and label), its validation,
and the tables' CSV input and output: atomic, merged by run key under a lock, recomputed when corrupt."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from synthmed import cache, generators, profiles
from synthmed.config import home
from synthmed.data import benchmarks
from synthmed.experiments.panels import PANEL_COLUMNS
from synthmed.experiments.point import PointRun

log = logging.getLogger(__name__)

# The result table's columns (the keys of `PointRun.row`) and their dtypes. Floats may be NaN
# (an AUC is undefined on a test set where no label has both classes; no Fréchet distance when
# a generator never reached an evaluation); the other columns may not be missing.
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
    "stop_metric": "object",  # the distance that stopped the generator: "fid" (paper) or "fd_domain"
    "stop_value": "float64",  # its best value (NaN: the run never reached an evaluation)
    "fd_domain": "float64",  # the in-domain Fréchet distance at that evaluation
    "best_kimg": "float64",
    "sampled_kimg": "float64",  # the sampled network: best at a patience stop, else the last (train_kimg)
    "train_kimg": "float64",  # where training stopped
    "stop_reason": "object",
    "real_epochs": "int64",
    "synthetic_epochs": "int64",
    "data_s": "float64",
    "real_classifier_s": "float64",
    "generator_s": "float64",
    "synthetic_classifier_s": "float64",
    "generator_train_s": "float64",
    "config_hash": "object",
    "version": "object",
    # The fidelity and privacy panels (`synthmed.experiments.panels`; the Inception fidelity columns NaN where
    # the profile has none), then the seconds they took.
    **PANEL_COLUMNS,
    "panels_s": "float64",
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
    "mia_auc",
    "mia_auc_low",
    "mia_auc_high",
    "mia_auc_control",
    "mia_tpr_at_1fpr",
    "precision",
    "recall",
    "coverage",
    "precision_inception",
    "recall_inception",
    "coverage_inception",
)

_CHOICES = {
    "modality": ("chest", "brain"),
    "benchmark": benchmarks.BENCHMARKS,
    "profile": profiles.NAMES,
    "stop_metric": ("fid", "fd_domain"),
}


def _choices(column: str) -> tuple | None:
    """The values a column may take; a generator is any registered one (`synthmed.generators`)."""
    return generators.names() if column == "generator" else _CHOICES.get(column)


def results_path(modality: str, benchmark: str, profile: str, *, per_label: bool = False) -> Path:
    """Where `run_sweep` saves a sweep's table: home()/results/{modality}-{benchmark}-{profile}.csv
    (and ...-labels.csv for the per-label AUCs)."""
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
            choices = _choices(column)
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


def label_rows(run: PointRun) -> pd.DataFrame:
    keys = {name: run.row[name] for name in RESULT_KEY}
    table = run.evaluation.assign(**keys)
    return table[list(LABEL_COLUMNS)]


def save_csv(table: pd.DataFrame, path: Path) -> None:
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


def save_merged(results: pd.DataFrame, labels: pd.DataFrame, modality: str, benchmark: str, profile: str) -> None:
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
        save_csv(merged, path)
        save_csv(merged_labels, label_path)


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
