"""A benchmark chapter's shared steps: its points table, notes, claims and how it calls the sweeps."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed import chapters, experiments, generators, profiles


def results(gap_cpd: dict[int, float], gap_prog: dict[int, float]) -> pd.DataFrame:
    """A chest classes table: three settings, both generators, real AUROC 0.8 everywhere."""
    rows = []
    for generator, gaps in (("cpD-GAN", gap_cpd), ("prog-GAN", gap_prog)):
        for setting, gap in gaps.items():
            rows.append(
                {
                    "modality": "chest",
                    "benchmark": "classes",
                    "setting": setting,
                    "generator": generator,
                    "seed": 0,
                    "n_classes": setting,
                    "n_labels": min(setting, 9),
                    "n_train": 30 * setting,
                    "n_val": 50,
                    "n_test": 40 + setting,
                    "resolution": 32,
                    "auc_real": 0.8,
                    "auc_synthetic": 0.8 - gap,
                    "gap": gap,
                }
            )
    table = pd.DataFrame(rows)
    table.attrs["skipped"] = [{"modality": "brain", "benchmark": "classes", "setting": 6, "reason": "too few"}]
    return table


def chapter(table: pd.DataFrame, real_data: bool = False) -> chapters.BenchmarkChapter:
    return chapters.BenchmarkChapter("classes", "cpu", (0,), {"chest": (20, 6, 2)}, table, pd.DataFrame(), real_data)


def test_points_table_has_one_row_per_setting_with_images_per_combination() -> None:
    points = chapter(results({20: 0.2, 6: 0.1, 2: 0.05}, {20: 0.3, 6: 0.2, 2: 0.1})).points()
    assert list(points.index) == [("chest", 20), ("chest", 6), ("chest", 2)]
    assert points.index.names == ["modality", "combinations"]
    assert (points["train_per_combination"] == 30).all()
    assert list(points["n_test"]) == [60, 46, 42]


def test_title_and_notes_say_what_data_and_what_was_skipped() -> None:
    table = results({20: 0.2, 2: 0.05}, {20: 0.3, 2: 0.1})
    assert "phantom data, profile cpu, 1 run(s)" in chapter(table).title
    assert chapter(table, real_data=True).title.startswith("ours: real data")
    assert chapter(table).skipped_notes() == ["Skipped brain at 6 combinations: too few."]


def test_claims_follow_the_results_in_both_directions() -> None:
    shrinking = chapter(results({20: 0.2, 6: 0.1, 2: 0.05}, {20: 0.3, 6: 0.2, 2: 0.1}))
    growing = chapter(results({20: 0.05, 6: 0.1, 2: 0.2}, {20: 0.01, 6: 0.05, 2: 0.3}))
    assert [v.holds for v in shrinking.verdicts()] == [True, True, True]  # T1, T2 per generator
    assert [v.holds for v in growing.verdicts()] == [False, False, False]
    assert shrinking.precision_note("170").startswith("On our phantom data 3 of 3 checks hold.")
    assert "0 of 3 checks hold" in growing.precision_note("170")
    assert "42 to 60 images (the paper's: 170)" in growing.precision_note("170")
    assert "**does not hold**" in growing.claims_markdown() and "**holds**" not in growing.claims_markdown()
    side = shrinking.side_by_side()
    assert side.index.names == ["claim", "scope"] and set(side["ours"]) == {"holds"}
    # The paper's own values at our settings sit beside ours (classes has published values).
    assert (side["paper"] != "no published values").all()


def test_benchmark_chapter_runs_every_asked_point_with_the_chapter_s_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The chapter's parameters reach every run (settings, seeds, data root, weights, precision) through the
    real sweeps, and the chapter holds exactly the runs it asked for (run_point stands in: no training)."""
    from types import SimpleNamespace

    from tests.test_experiments import fake_run_point

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    fake = fake_run_point(calls)
    options: list = []

    def run_point(modality, benchmark, setting, generator, profile, seed=0, **kwargs):
        options.append({k: kwargs[k] for k in ("data_root", "classifier_weights", "precision")})
        return fake(modality, benchmark, setting, generator, profile, seed, **kwargs)

    monkeypatch.setattr(experiments.sweeps, "run_point", run_point)
    monkeypatch.setattr(experiments.sweeps, "load_source",
                        lambda modality, data, root: SimpleNamespace(modality=modality, root=root, real_data=False))
    made = chapters.benchmark_chapter("classes", "tiny", seed=3, n_seeds=2, chest_settings=[20], brain_settings=None,
                                      data_root="", workers=1, classifier_weights="none", precision="bf16")
    brain = profiles.get("tiny").settings["brain", "classes"]
    asked = {("chest", 20)} | {("brain", s) for s in brain}
    expected = {(m, s, g, seed) for m, s in asked for g in generators.book_names() for seed in (3, 4)}
    ran = {(r["modality"], r["setting"], r["generator"], r["seed"]) for _, r in made.results.iterrows()}
    assert ran == expected and len(made.results) == len(expected)
    assert len(calls) == len(expected)  # each run once
    assert all(o == {"data_root": None, "classifier_weights": "none", "precision": "bf16"} for o in options)
    assert made.seeds == (3, 4) and made.settings == {"chest": (20,), "brain": brain} and not made.real_data
    # The profile's seeds and settings when the chapter leaves them out.
    calls.clear()
    default = chapters.benchmark_chapter("classes", "tiny", workers=1)
    assert default.seeds == profiles.get("tiny").seeds
    assert default.settings == {m: profiles.get("tiny").settings[m, "classes"] for m in ("chest", "brain")}
