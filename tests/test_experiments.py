"""The experiment runner caches every step, resumes after an interruption, re-runs only what a change
touches, skips points that cannot be built, and writes tables that validate against the schema.

Runs at the tiny profile on a small chest phantom set (80 patients) made once for the module; each
test gets its own SYNTHMED_HOME, so its caches start empty. Training is counted by wrapping
`synthmed.classify.train.train_classifier` and `synthmed.gan.train.train_gan`; a cached GAN run still
passes through `train_gan`, which returns at once with `from_cache` set, so a GAN counts as trained
only when that flag is False.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from synthmed import experiments, generators, profiles
from synthmed.classify import train as classify_train
from synthmed.gan import train as gan_train

POINT = ("chest", "classes", 20)  # the most val/test images of this small set: every AUC is defined


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> experiments.Source:
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHMED_HOME", str(tmp_path_factory.mktemp("phantom-home")))
        patch.setenv("TQDM_DISABLE", "1")
        return experiments.load_source("chest", profiles.get("tiny").data_config(chest_patients=80))


class Counter:
    """Wraps the two training functions; `fail_synthetic` raises in the first classifier trained after a GAN."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_synthetic: bool = False) -> None:
        self.classifiers = 0
        self.gans = 0
        self.gan_seen = False
        self.fail_synthetic = fail_synthetic
        real_classifier, real_gan = classify_train.train_classifier, gan_train.train_gan

        def train_classifier(*args, **kwargs):
            if self.fail_synthetic and self.gan_seen:
                self.fail_synthetic = False
                raise KeyboardInterrupt("interrupted while training the synthetic classifier")
            self.classifiers += 1
            return real_classifier(*args, **kwargs)

        def train_gan(*args, **kwargs):
            self.gan_seen = True
            result = real_gan(*args, **kwargs)
            self.gans += not result.from_cache
            return result

        monkeypatch.setattr(classify_train, "train_classifier", train_classifier)
        monkeypatch.setattr(gan_train, "train_gan", train_gan)

    def reset(self) -> tuple[int, int]:
        counts = (self.classifiers, self.gans)
        self.classifiers = self.gans = 0
        self.gan_seen = False
        return counts


def test_point_caches_resumes_and_reruns_only_dependent_steps(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    count = Counter(monkeypatch, fail_synthetic=True)

    # Interrupted in the synthetic classifier: the real classifier and the GAN are done and cached.
    with pytest.raises(KeyboardInterrupt):
        experiments.run_point(*POINT, "cpD-GAN", "tiny", source=source)
    assert count.reset() == (1, 1)

    # Resumed: only the synthetic classifier trains; the GAN is not retrained.
    first = experiments.run_point(*POINT, "cpD-GAN", "tiny", source=source)
    assert count.reset() == (1, 0)
    assert first.trained.stop_reason in ("total_kimg", "patience")  # finished, loaded from the cache

    # The same point again: nothing trains, and the row is the same.
    again = experiments.run_point(*POINT, "cpD-GAN", "tiny", source=source)
    assert count.reset() == (0, 0)
    assert again.row["auc_real"] == first.row["auc_real"]
    assert again.row["auc_synthetic"] == first.row["auc_synthetic"]

    # Another generator: a new GAN and synthetic classifier; the real classifier is reused.
    other = experiments.run_point(*POINT, "prog-GAN", "tiny", source=source)
    assert count.reset() == (1, 1)
    assert other.row["auc_real"] == first.row["auc_real"]
    np.testing.assert_array_equal(other.scores_real, first.scores_real)

    assert list(first.row) == list(experiments.RESULT_COLUMNS)  # the schema names every column of a row
    # The synthetic test split, as the original's test.py: one image per real test label vector, from the
    # sampled network (best at a patience stop, else the last) with the run's seed + 2.
    from synthmed.gan.sample import sample

    x_test, y_test = first.arrays["test"]
    assert set(first.synthetic) == {"train", "val", "test"} and first.synthetic["test"].shape == x_test.shape
    np.testing.assert_array_equal(first.synthetic["test"], sample(first.trained.model, y_test, seed=2, device="cpu"))
    assert first.row["sampled_kimg"] == first.trained.sampled_kimg
    # The original samples the best network at a patience stop, else the last.
    sampled_at = first.row["best_kimg"] if first.row["stop_reason"] == "patience" else first.row["train_kimg"]
    assert first.row["sampled_kimg"] == sampled_at
    assert first.row["stop_metric"] == "fd_domain"  # at tiny the in-domain distance stops the run
    assert first.row["fd_domain"] == first.row["stop_value"]
    table = experiments.validate_results(pd.DataFrame([first.row, other.row]))
    assert list(table.columns) == list(experiments.RESULT_COLUMNS)
    assert table["generator"].tolist() == ["cpD-GAN", "prog-GAN"]


def fake_run_point(calls: list):
    """A stand-in for `run_point` that records its calls and returns hand-made rows (no training)."""

    def run_point(modality, benchmark, setting, generator, profile, seed=0, **kwargs):
        calls.append((setting, generator, seed, kwargs["source"]))
        real, synthetic = 0.8, 0.7 if generator == "cpD-GAN" else 0.6
        row = good_row(
            modality=modality,
            benchmark=benchmark,
            setting=setting,
            generator=generator,
            seed=seed,
            profile=profile,
            auc_real=real,
            auc_synthetic=synthetic,
            gap=real - synthetic,
        )
        evaluation = pd.DataFrame(
            {
                "label": ["Edema", "mean", "Edema", "mean"],
                "n_pos": [3, None, 3, None],
                "auc": [0.8, 0.8, 0.7, 0.7],
                "ci_low": 0.5,
                "ci_high": 0.9,
                "trained_on": ["real", "real", generator, generator],
            }
        )
        return SimpleNamespace(row=row, evaluation=evaluation)

    return run_point


def test_sweep_runs_every_point_once_and_saves_a_valid_table(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    results = experiments.run_sweep(
        "chest", "classes", "tiny", settings=(20, 6), seeds=(0, 1), progress=False, source=source
    )
    assert [(s, g, seed) for s, g, seed, _ in calls] == [
        (s, g, seed) for s in (20, 6) for seed in (0, 1) for g in generators.book_names()
    ]
    assert all(src is source for *_, src in calls)  # the source is loaded once and passed on
    runs = 4 * len(generators.book_names())  # the book's generators by default
    assert len(results) == runs and results.attrs["skipped"] == []
    assert results.dtypes.astype(str).to_dict() == experiments.RESULT_COLUMNS

    path = experiments.results_path("chest", "classes", "tiny")
    assert path == tmp_path / "results" / "chest-classes-tiny.csv"
    pd.testing.assert_frame_equal(experiments.load_results("chest", "classes", "tiny"), results)
    labels = experiments.load_results("chest", "classes", "tiny", per_label=True)
    assert len(labels) == runs * 4 and set(labels["trained_on"]) == {"real", *generators.book_names()}

    # The profile's settings and seeds by default; the rows replace the saved rows of the same runs only.
    calls.clear()
    again = experiments.run_sweep("chest", "classes", "tiny", generators=("cpD-GAN",), progress=False, source=source)
    assert [(s, seed) for s, _, seed, _ in calls] == [
        (s, 0) for s in profiles.get("tiny").settings["chest", "classes"]
    ]
    assert len(again) == len(calls)
    saved = experiments.load_results("chest", "classes", "tiny")
    assert len(saved) == runs + len(set(profiles.get("tiny").settings["chest", "classes"]) - {20, 6})


def test_a_corrupt_saved_table_is_named(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no saved chest classes sweep"):
        experiments.load_results("chest", "classes", "tiny")
    path = experiments.results_path("chest", "classes", "tiny")
    path.parent.mkdir(parents=True)
    pd.DataFrame([good_row(auc_real=1.5, gap=0.8)]).to_csv(path, index=False)
    with pytest.raises(ValueError, match="chest-classes-tiny.csv: results row 0 .*'auc_real' is 1.5"):
        experiments.load_results("chest", "classes", "tiny")


def test_sweep_skips_settings_that_cannot_be_built(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 80 patients give no label combination above the samples benchmark's scaled threshold.
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    count = Counter(monkeypatch)
    results = experiments.run_sweep("chest", "samples", "tiny", progress=False, source=source)
    assert results.empty and count.reset() == (0, 0)
    skipped = results.attrs["skipped"]
    assert [s["setting"] for s in skipped] == list(profiles.get("tiny").settings["chest", "samples"])
    assert all("no label combination" in s["reason"] for s in skipped)
    assert experiments.load_results("chest", "samples", "tiny").empty


def test_sweep_refuses_unknown_inputs(source: experiments.Source) -> None:
    with pytest.raises(ValueError, match="unknown generator 'dcgan'"):
        experiments.run_sweep("chest", "classes", "tiny", generators=("dcgan",), source=source)
    with pytest.raises(ValueError, match="source is a chest dataset"):
        experiments.run_sweep("brain", "classes", "tiny", source=source)
    with pytest.raises(ValueError, match="unknown profile"):
        experiments.run_sweep("chest", "classes", "huge", source=source)


def test_sweep_settings_cover_every_benchmark_within_the_papers_range() -> None:
    from synthmed.data.benchmarks import SETTINGS

    for profile, table in ((p.name, p.settings) for p in profiles.PROFILES.values()):
        assert set(table) == set(SETTINGS), profile
        for (modality, benchmark), settings in table.items():
            paper = SETTINGS[modality, benchmark]
            if benchmark != "resolution":
                assert set(settings) <= set(paper), (profile, modality, benchmark)
            if profile == "cpu" and benchmark != "resolution":
                assert len(settings) >= 3 and max(settings) == max(paper) and min(settings) == min(paper)
    assert all(profiles.get("cpu").settings[m, "resolution"] == (32, 64) for m in ("chest", "brain"))


# -- The schema, on hand-made rows (no training). ---------------------------------------------


def good_row(**changes) -> dict:
    row = {
        name: (0 if dtype == "int64" else 0.5 if dtype == "float64" else "x")
        for name, dtype in experiments.RESULT_COLUMNS.items()
    }
    row.update(
        modality="chest",
        benchmark="classes",
        setting=20,
        generator="cpD-GAN",
        profile="tiny",
        stop_metric="fd_domain",
        n_train=10,
        n_val=2,
        n_test=2,
        n_labels=3,
        auc_real=0.8,
        auc_synthetic=0.7,
        gap=0.1,
    )
    row.update(changes)
    return row


def test_validate_results_accepts_good_rows_and_nan_metrics() -> None:
    table = experiments.validate_results(pd.DataFrame([good_row(), good_row(seed=1, stop_value=None)]))
    assert np.isnan(table.loc[1, "stop_value"]) and table["seed"].dtype == np.int64


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"auc_real": 1.2, "gap": 0.5}, "row 1 .*column 'auc_real' is 1.2; expected an AUC in \\[0, 1\\]"),
        ({"gap": 0.3}, "row 1 .*column 'gap' is 0.3; expected auc_real - auc_synthetic"),
        ({"generator": "dcgan"}, "row 1 .*column 'generator' is 'dcgan'; expected one of"),
        ({"setting": 2.5}, "row 1 .*column 'setting' is 2.5; expected an integer"),
        ({"n_test": "many"}, "row 1 .*column 'n_test' is 'many'; expected an integer"),
        ({"seed": 0}, "row 1 .*a second row for the same"),
        ({"config_hash": None}, "row 1 .*column 'config_hash' is (None|nan); expected a string"),
    ],
)
def test_validate_results_names_the_bad_row_and_column(changes: dict, message: str) -> None:
    rows = [good_row(seed=0), good_row(**{"seed": 5, **changes})]
    with pytest.raises(ValueError, match=message):
        experiments.validate_results(pd.DataFrame(rows))


def test_validate_results_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="missing columns \\['gap'\\]"):
        experiments.validate_results(pd.DataFrame([good_row()]).drop(columns="gap"))


def test_sweep_seeds_count_on_from_the_first() -> None:
    assert experiments.sweep_seeds("paper") == profiles.get("paper").seeds == (1000, 1001, 1002)
    assert experiments.sweep_seeds("cpu", 7) == (7,)
    assert experiments.sweep_seeds("tiny", 3, 2) == (3, 4)
    with pytest.raises(ValueError, match="at least one seed"):
        experiments.sweep_seeds("cpu", 0, 0)


def test_benchmark_sweeps_join_the_modalities_sweeps(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda modality, data, root: source)
    results, labels, chosen = experiments.benchmark_sweeps("classes", "tiny", {"chest": None}, seeds=(4,))
    assert chosen == {"chest": profiles.get("tiny").settings["chest", "classes"]}
    assert len(results) == len(generators.book_names()) * len(chosen["chest"]) and set(results["seed"]) == {4}
    assert len(labels) == 4 * len(results) and results.attrs["skipped"] == []
    with pytest.raises(ValueError, match="at least one modality"):
        experiments.benchmark_sweeps("classes", "tiny", {})


def test_sweep_results_reads_a_saved_table_and_runs_a_missing_one(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda modality, data, root: source)
    first = experiments.sweep_results("chest", "resolution", "tiny", seeds=(2,))
    runs = len(generators.book_names()) * len(profiles.get("tiny").settings["chest", "resolution"])
    assert len(calls) == len(first) == runs
    again = experiments.sweep_results("chest", "resolution", "tiny", seeds=(2,))
    assert len(calls) == len(first)  # read from the saved table: nothing ran
    pd.testing.assert_frame_equal(again, first)
    default = experiments.sweep_results("chest", "resolution", "tiny")  # the profile's seed 0 was not there
    assert len(calls) == 2 * len(first) and set(default["seed"]) == {0}


def _worker_pid(modality: str, value: int) -> tuple[str, int, int]:
    import os

    import torch

    return modality, value * value, os.getpid(), torch.get_num_threads()


def _worker_fails(modality: str) -> str:
    if modality == "brain":
        raise ValueError(f"{modality}: bad input")
    return modality


def test_in_processes_runs_each_task_in_a_pool_process_when_asked() -> None:
    import os

    inline = experiments.in_processes(_worker_pid, {"chest": (2,), "brain": (3,)}, workers=1)
    assert {m: r[:2] for m, r in inline.items()} == {"chest": ("chest", 4), "brain": ("brain", 9)}
    assert {r[2] for r in inline.values()} == {os.getpid()}
    pooled = experiments.in_processes(_worker_pid, {"chest": (2,), "brain": (3,)}, workers=2)
    assert list(pooled) == ["chest", "brain"] and pooled["brain"][1] == 9
    assert os.getpid() not in {r[2] for r in pooled.values()}
    assert {r[3] for r in pooled.values()} == {max(1, (os.cpu_count() or 1) // 2)}  # the cores shared out
    with pytest.raises(ValueError, match="brain: bad input"):
        experiments.in_processes(_worker_fails, {"chest": (), "brain": ()}, workers=2)


def test_sweep_workers_follow_the_profile_and_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert experiments.sweep_workers("tiny", "cpu") == 1
    assert experiments.sweep_workers("cpu", "cpu") == 2  # the cpu profile: two one-thread processes
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert experiments.sweep_workers("cpu", "cpu") == 1  # never more processes than cores
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert experiments.sweep_workers("cpu", "cpu") == 1
    assert experiments.sweep_workers("cpu", "cuda") == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert experiments.sweep_workers("cpu", "auto") == 1  # one process keeps a GPU busy
    assert experiments.sweep_workers("tiny", "cuda", workers=3) == 3
    with pytest.raises(ValueError, match="at least 1"):
        experiments.sweep_workers("cpu", "cpu", workers=0)


def test_prepare_data_builds_each_source_and_its_difficulty_classifier(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run for real at tiny: the phantom datasets are written and the difficulty classifier lands in the
    cache, so the data chapter's own call loads it instead of training; without a resolution none trains."""
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    data = profiles.get("tiny").data_config(chest_patients=80)
    experiments.prepare_data(["chest"], data, None, "tiny", workers=1)
    assert not (tmp_path / "classifiers").exists()  # no difficulty classifier unless asked
    experiments.prepare_data(["chest", "brain"], data, None, "tiny", difficulty_resolution=16, workers=1)
    for modality in ("chest", "brain"):
        source = experiments.load_source(modality, data)
        assert not source.real_data and len(source.index) > 0 and source.root.is_dir()
        table, history = experiments.real_baseline(source, experiments.whole_split(source), 16, "tiny")
        assert history.from_cache, modality  # prepare_data trained exactly this classifier
        assert table.loc[table["label"] == "mean", "auc"].notna().all()

def test_parallel_sweeps_run_costliest_points_first_and_save_what_run_sweep_saves(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda modality, data, root: source)
    sequential, seq_labels, chosen = experiments.benchmark_sweeps("resolution", "tiny", {"chest": (8, 16)}, workers=1)
    order = []

    def inline(task, arguments, workers):  # the pool, run here so the fakes apply; records the order
        order.extend(arguments)
        return {key: task(key, *args) for key, args in arguments.items()}

    monkeypatch.setattr(experiments.sweeps, "in_processes", inline)
    pooled, pooled_labels, _ = experiments.benchmark_sweeps("resolution", "tiny", {"chest": (8, 16)}, workers=2)
    assert order == [("chest", 16), ("chest", 8)]  # the larger images first
    pd.testing.assert_frame_equal(pooled, sequential)  # rows in the settings' order, as run_sweep gives them
    pd.testing.assert_frame_equal(pooled_labels, seq_labels)
    pd.testing.assert_frame_equal(experiments.load_results("chest", "resolution", "tiny"), sequential)
    assert len(calls) == 2 * 2 * len(generators.book_names()) and pooled.attrs["skipped"] == []


# -- Saved tables: merged by run, read with a named error, written atomically under a lock. ----


def _keys(table: pd.DataFrame) -> list[tuple]:
    return sorted(zip(table["setting"], table["seed"], table["generator"], strict=True))


def test_a_partial_run_merges_into_the_saved_table(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))

    def sweep(generator: str, seeds=(0,)) -> pd.DataFrame:
        return experiments.run_sweep(
            "chest", "classes", "tiny", (20, 6), generators=(generator,), seeds=seeds, progress=False, source=source
        )

    sweep("prog-GAN", seeds=(0, 1))
    sweep("cpD-GAN")
    saved = experiments.load_results("chest", "classes", "tiny")
    both = [(s, 0, g) for s in (6, 20) for g in ("cpD-GAN", "prog-GAN")] + [(6, 1, "prog-GAN"), (20, 1, "prog-GAN")]
    assert _keys(saved) == sorted(both)
    labels = experiments.load_results("chest", "classes", "tiny", per_label=True)
    assert len(labels) == 4 * len(saved)

    # A rerun of one run under a new config replaces its row (with a warning) and keeps the others.
    real = fake_run_point(calls)

    def changed(*args, **kwargs):
        run = real(*args, **kwargs)
        run.row.update(config_hash="new", auc_synthetic=0.65, gap=0.8 - 0.65)
        return run

    monkeypatch.setattr(experiments.sweeps, "run_point", changed)
    with caplog.at_level("WARNING", logger="synthmed.experiments"):
        experiments.run_sweep(
            "chest", "classes", "tiny", (6,), generators=("prog-GAN",), seeds=(1,), progress=False, source=source
        )
    assert "computed with config x by config new" in caplog.text
    saved = experiments.load_results("chest", "classes", "tiny")
    assert _keys(saved) == sorted(both)
    row = saved[(saved["setting"] == 6) & (saved["seed"] == 1)].iloc[0]
    assert (row["config_hash"], row["auc_synthetic"]) == ("new", 0.65)
    assert (saved["config_hash"] == "new").sum() == 1
    labels = experiments.load_results("chest", "classes", "tiny", per_label=True)
    assert len(labels) == 4 * len(saved)


def test_the_merge_holds_the_tables_lock_and_a_failed_write_keeps_the_saved_table(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    from filelock import FileLock, Timeout

    from synthmed import cache

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point([]))
    path = experiments.results_path("chest", "classes", "tiny")
    held = []
    real_save = experiments.results.save_csv

    def save(table, target):  # another thread (a second writer) cannot take the lock while this one merges
        def probe() -> None:
            try:
                with FileLock(cache.lock_path(path)).acquire(timeout=0):
                    held.append(False)
            except Timeout:
                held.append(True)

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        real_save(table, target)

    monkeypatch.setattr(experiments.results, "save_csv", save)
    experiments.run_sweep("chest", "classes", "tiny", (20,), seeds=(0,), progress=False, source=source)
    assert held == [True, True]
    before = path.read_bytes()

    def crash(*args) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        experiments.run_sweep("chest", "classes", "tiny", (6,), seeds=(0,), progress=False, source=source)
    assert path.read_bytes() == before
    assert not [p.name for p in path.parent.iterdir() if ".tmp" in p.name]  # no temporary left behind


def test_empty_and_header_only_tables_are_reported(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    path = experiments.results_path("chest", "classes", "tiny")
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(ValueError, match=f"{path}: empty file"):
        experiments.load_results("chest", "classes", "tiny")
    path.write_text(",".join(experiments.RESULT_COLUMNS) + "\n")
    with caplog.at_level("WARNING", logger="synthmed.experiments"):
        assert experiments.load_results("chest", "classes", "tiny").empty
    assert f"{path}: the table has a header but no runs" in caplog.text

    # A run does not merge into an unreadable table: it moves it aside, named, and saves its rows.
    path.write_text("")
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point([]))
    caplog.clear()
    with caplog.at_level("WARNING", logger="synthmed.experiments"):
        experiments.run_sweep("chest", "classes", "tiny", (20,), seeds=(0,), progress=False, source=source)
    assert f"moved it to {path}.unreadable" in caplog.text
    assert len(experiments.load_results("chest", "classes", "tiny")) == len(generators.book_names())


@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_a_damaged_saved_table_is_reported_and_recomputed_not_used(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda *args, **kwargs: source)
    monkeypatch.setitem(profiles.get("tiny").settings, ("chest", "classes"), (20,))
    first = experiments.sweep_results("chest", "classes", "tiny")
    path = experiments.results_path("chest", "classes", "tiny")
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[:-10])
    else:  # same size: an AUROC's digit changed, which would still parse and validate
        i = data.index(b"0.", len(data) // 2)
        data[i + 2] = ord("9") if data[i + 2] != ord("9") else ord("1")
        path.write_bytes(data)
    with pytest.raises(experiments.CorruptTable, match=str(path)):
        experiments.load_results("chest", "classes", "tiny")
    with caplog.at_level("WARNING", logger="synthmed.experiments"):
        again = experiments.sweep_results("chest", "classes", "tiny")
    assert f"{path}: " in caplog.text and "recomputing its runs" in caplog.text
    assert len(calls) == 2 * len(first)  # every run computed again (from the caches in a real build)
    pd.testing.assert_frame_equal(again, first, check_like=True)


def test_a_table_saved_by_an_earlier_synthmed_with_fewer_columns_is_recomputed(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from synthmed import cache

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda *args, **kwargs: source)
    monkeypatch.setitem(profiles.get("tiny").settings, ("chest", "classes"), (20,))
    first = experiments.sweep_results("chest", "classes", "tiny")
    path = experiments.results_path("chest", "classes", "tiny")
    older = pd.read_csv(path).drop(columns=["sampled_kimg"])  # as saved before the sampled network had a column
    cache.atomic_write(path, lambda temp: older.to_csv(temp, index=False))
    with pytest.raises(experiments.CorruptTable, match=r"earlier synthmed, without columns \['sampled_kimg'\]"):
        experiments.load_results("chest", "classes", "tiny")
    with caplog.at_level("WARNING", logger="synthmed.experiments"):
        again = experiments.sweep_results("chest", "classes", "tiny")
    assert "recomputing its runs" in caplog.text and len(calls) == 2 * len(first)
    pd.testing.assert_frame_equal(again, first, check_like=True)
    # A hand-made table (no manifest) lacking a column is reported, not silently recomputed.
    cache.discard(path)
    older.to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing columns"):
        experiments.load_results("chest", "classes", "tiny")


def test_sweep_results_returns_the_runs_asked_for(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(experiments.sweeps, "run_point", fake_run_point(calls))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda modality, data, root: source)
    settings = profiles.get("tiny").settings["chest", "classes"]
    # A chapter ran prog-GAN only, at seeds 0 and 1; the other registered generators lack seed 0.
    others = [g for g in generators.book_names() if g != "prog-GAN"]
    experiments.run_sweep("chest", "classes", "tiny", generators=("prog-GAN",), seeds=(0, 1), source=source)
    with pytest.raises(LookupError, match=rf"lacks {len(settings) * len(others)} asked-for runs .*'cpD-GAN'"):
        experiments.sweep_results("chest", "classes", "tiny", seeds=(0,), run_missing=False)
    calls.clear()
    table = experiments.sweep_results("chest", "classes", "tiny", seeds=(0,))
    lacked = [(s, g, 0) for s in settings for g in others]
    assert [(s, g, seed) for s, g, seed, _ in calls] == lacked  # only what lacked
    assert _keys(table) == sorted((s, 0, g) for s in settings for g in generators.book_names())
    assert table.attrs["computed"] == [(s, 0, g) for s, g, _ in lacked] and table.attrs["missing"] == []
    again = experiments.sweep_results("chest", "classes", "tiny", seeds=(0,))
    assert len(calls) == len(lacked) and again.attrs["computed"] == []
    pd.testing.assert_frame_equal(again, table)
    assert _keys(experiments.sweep_results("chest", "classes", "tiny", seeds=(1,), generators=("prog-GAN",))) == [
        (s, 1, "prog-GAN") for s in sorted(settings)
    ]


def test_sweep_results_names_runs_it_cannot_make(
    source: experiments.Source, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No setting of the samples benchmark can be built from 80 patients: every asked-for run is missing.
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setattr(experiments.sweeps, "load_source", lambda modality, data, root: source)
    count = Counter(monkeypatch)
    table = experiments.sweep_results("chest", "samples", "tiny", generators=("cpD-GAN",))
    assert count.reset() == (0, 0)
    settings = profiles.get("tiny").settings["chest", "samples"]
    assert table.empty
    assert [(m["setting"], m["seed"], m["generator"]) for m in table.attrs["missing"]] == [
        (s, 0, "cpD-GAN") for s in settings
    ]
    assert all("no label combination" in m["reason"] for m in table.attrs["missing"])


def test_each_synthetic_split_has_its_own_latent_seed() -> None:
    seeds = {split: experiments.synthetic_seed(7, split) for split in ("train", "val", "test")}
    assert len(set(seeds.values())) == 3 and seeds["train"] == 7  # the run's seed draws the training images
    with pytest.raises(ValueError, match="unknown split 'holdout'"):
        experiments.synthetic_seed(7, "holdout")
