"""Benchmark sweep figures and the results explorer, on small hand-made results tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from synthmed import plots
from synthmed.paper_results import LABEL, paper_values


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def results(benchmark: str = "classes", settings=(20, 2), seeds=(0, 1), modalities=("chest", "brain")) -> pd.DataFrame:
    """Real AUROC 0.8 + seed/100; cpD-GAN 0.1 below it, prog-GAN 0.2 below; CIs +/- 0.05."""
    rows = []
    for modality in modalities:
        for setting in settings:
            for seed in seeds:
                real = 0.8 + seed / 100 + (0.05 if setting == min(settings) else 0)
                for generator, drop in (("cpD-GAN", 0.1), ("prog-GAN", 0.2)):
                    rows.append(
                        dict(
                            modality=modality,
                            benchmark=benchmark,
                            setting=setting,
                            generator=generator,
                            seed=seed,
                            auc_real=real,
                            auc_real_low=real - 0.05,
                            auc_real_high=real + 0.05,
                            auc_synthetic=real - drop,
                            auc_synthetic_low=real - drop - 0.05,
                            auc_synthetic_high=real - drop + 0.05,
                            gap=drop,
                            gap_low=drop - 0.02,
                            gap_high=drop + 0.02,
                        )
                    )
    return pd.DataFrame(rows)


def test_curve_table_counts_the_shared_real_classifier_once_per_seed() -> None:
    table = plots.curve_table(results(modalities=("chest",)))
    real = table[(table["series"] == "real") & (table["setting"] == 20)].iloc[0]
    assert real["n_seeds"] == 2 and real["auc"] == pytest.approx(0.805)
    assert real["seed_sd"] == pytest.approx(np.std([0.80, 0.81], ddof=1))
    cpd = table[(table["series"] == "cpD-GAN") & (table["setting"] == 2)].iloc[0]
    assert cpd["auc"] == pytest.approx(0.755) and cpd["gap"] == pytest.approx(0.1)
    assert cpd["ci_low"] == pytest.approx(0.705) and cpd["gap_high"] == pytest.approx(0.12)
    assert np.isnan(real["gap"])
    with pytest.raises(ValueError, match="lack columns \\['gap'\\]"):
        plots.curve_table(results().drop(columns="gap"))


def test_benchmark_curves_draw_each_series_in_the_papers_order() -> None:
    fig = plots.benchmark_curves(results(settings=(2, 20, 6)), title="ours")
    assert len(fig.axes) == 4  # chest and brain, AUROC and gap
    auc_ax, gap_ax = fig.axes[0], fig.axes[1]
    assert auc_ax.get_title() == "chest" and gap_ax.get_title() == "chest: gap"
    assert [t.get_text() for t in auc_ax.get_xticklabels()] == ["20", "6", "2"]  # most combinations first
    lines = {line.get_label(): line for line in auc_ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"real", "cpD-GAN", "prog-GAN"}
    np.testing.assert_allclose(lines["real"].get_ydata(), [0.805, 0.805, 0.855])
    np.testing.assert_allclose(lines["prog-GAN"].get_ydata(), [0.605, 0.605, 0.655])
    gap_lines = {line.get_label(): line for line in gap_ax.get_lines() if not line.get_label().startswith("_")}
    assert set(gap_lines) == {"cpD-GAN", "prog-GAN"}
    np.testing.assert_allclose(gap_lines["cpD-GAN"].get_ydata(), [0.1, 0.1, 0.1])

    resolution = plots.benchmark_curves(results("resolution", settings=(64, 32)), gap=False)
    assert len(resolution.axes) == 2
    assert [t.get_text() for t in resolution.axes[0].get_xticklabels()] == ["32", "64"]
    with pytest.raises(ValueError, match="one benchmark"):
        plots.benchmark_curves(pd.concat([results(), results("samples", settings=(5950, 200))]))


def test_paper_curves_draw_the_published_values_on_their_own_ground() -> None:
    values = paper_values(benchmark="classes")
    fig = plots.paper_curves(values, LABEL)
    assert fig._suptitle.get_text() == LABEL
    chest = fig.axes[0]
    assert chest.get_title() == "chest"
    real = next(line for line in chest.get_lines() if line.get_label() == "real")
    expected = values[(values["modality"] == "chest") & (values["series"] == "real")]
    np.testing.assert_allclose(real.get_ydata(), expected.sort_values("setting", ascending=False)["auc"])
    assert chest.get_facecolor() != fig.axes[0].figure.get_facecolor()
    with pytest.raises(ValueError, match="no published values"):
        plots.paper_curves(paper_values(benchmark="resolution"), LABEL)


def label_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, run in table.iterrows():
        keys = {k: run[k] for k in ("modality", "benchmark", "setting", "generator", "seed")}
        for trained_on, auc in (("real", run["auc_real"]), (run["generator"], run["auc_synthetic"])):
            rows.append({**keys, "trained_on": trained_on, "label": "mean", "auc": auc, "ci_low": 0, "ci_high": 1})
            rows.append({**keys, "trained_on": trained_on, "label": "Edema", "auc": auc / 2, "ci_low": 0, "ci_high": 1})
    return pd.DataFrame(rows)


def test_per_label_results_pair_each_runs_real_and_synthetic_auc() -> None:
    table = results(modalities=("chest",), seeds=(0,))
    edema = plots.per_label_results(label_table(table), "Edema")
    assert len(edema) == len(table)
    row = edema[(edema["setting"] == 20) & (edema["generator"] == "prog-GAN")].iloc[0]
    assert row["auc_real"] == pytest.approx(0.4) and row["auc_synthetic"] == pytest.approx(0.3)
    assert row["gap"] == pytest.approx(0.1) and np.isnan(row["gap_low"])
    with pytest.raises(ValueError, match="no rows for label 'Fracture'"):
        plots.per_label_results(label_table(table), "Fracture")



def test_ours_beside_the_paper_pairs_each_modality_and_says_where_the_paper_published_nothing() -> None:
    from synthmed.paper_results import paper_as_results

    tables = {"classes": results("classes", (20, 2)), "resolution": results("resolution", (32, 64))}
    paper = {b: paper_as_results(benchmark=b) for b in tables}
    fig = plots.ours_beside_paper(tables, paper)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["ours: chest classes", "paper: chest classes", "ours: brain classes", "paper: brain classes",
                      "ours: chest resolution", "paper: chest resolution", "ours: brain resolution",
                      "paper: brain resolution"]
    chest_paper = fig.axes[1]
    assert {line.get_label() for line in chest_paper.get_lines()} >= {"real", "cpD-GAN", "prog-GAN"}
    # The paper's classes curve holds its published points at our settings and beyond (20 ... 2).
    assert max(len(line.get_xdata()) for line in chest_paper.get_lines()) == len(set(paper["classes"].query(
        "modality == 'chest'")["setting"]))
    resolution_paper = fig.axes[5]
    assert not resolution_paper.get_lines()
    assert [t.get_text() for t in resolution_paper.texts] == ["no published values"]
