"""A benchmark chapter's shared steps: its points table, notes, claims and how it calls the sweeps."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed import chapters, experiments


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


def test_benchmark_chapter_passes_parameters_to_the_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_sweeps(benchmark, profile, settings, seeds, data_root, device, progress, workers, **options):
        calls.append((benchmark, profile, settings, seeds, data_root, device, workers, options))
        return results({20: 0.2, 2: 0.1}, {20: 0.3, 2: 0.2}), pd.DataFrame(), {"chest": (20, 2)}

    monkeypatch.setattr(experiments, "benchmark_sweeps", fake_sweeps)
    made = chapters.benchmark_chapter(
        "classes", "cpu", seed=3, n_seeds=2, chest_settings=[20, 2], data_root="", workers=1
    )
    no_options = {"classifier_weights": None, "precision": None}  # None: the profile's
    assert calls == [("classes", "cpu", {"chest": [20, 2], "brain": None}, (3, 4), None, "auto", 1, no_options)]
    chapters.benchmark_chapter("classes", "paper", classifier_weights="none", precision="bf16")
    assert calls[-1][-1] == {"classifier_weights": "none", "precision": "bf16"}
    assert made.seeds == (3, 4) and not made.real_data and made.settings == {"chest": (20, 2)}
    chapters.benchmark_chapter("samples", "tiny", data_root="/data")
    assert calls[-1][3] == experiments.SWEEP_SEEDS["tiny"] and calls[-1][4] == "/data"
