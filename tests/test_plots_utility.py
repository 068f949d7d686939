"""Utility and memorisation figures show what they claim; the paper-variant steps and query choice behave."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from synthmed import plots
from synthmed.analysis.neighbours import Memorisation, example_queries
from synthmed.classify.metrics import MEAN_ROW, paper_per_label_auc, paper_variant_steps, per_label_auc


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _evaluation() -> pd.DataFrame:
    rows = []
    for name, shift in (("real", 0.0), ("cpD-GAN", -0.1)):
        rows += [
            {"label": "A", "auc": 0.8 + shift, "ci_low": 0.7 + shift, "ci_high": 0.9 + shift, "trained_on": name},
            {"label": "B", "auc": np.nan, "ci_low": np.nan, "ci_high": np.nan, "trained_on": name},
            {"label": "mean", "auc": 0.8 + shift, "ci_low": 0.75 + shift, "ci_high": 0.85 + shift, "trained_on": name},
        ]
    return pd.DataFrame(rows)


def test_auc_bars_draw_each_auc_with_its_interval_and_mark_missing_labels() -> None:
    fig = plots.auc_bars(_evaluation(), title="chest")
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == [0.0, 0.0, 0.7, 0.7, 0.8, 0.8]  # NaN AUC -> empty bar
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "mean"]
    assert sum(t.get_text() == "n/a" for t in ax.texts) == 2
    # One error bar per defined AUC, spanning its CI.
    segments = np.concatenate([c.get_segments() for c in ax.collections])
    spans = sorted(round(s[1, 0] - s[0, 0], 6) for s in segments if s[0, 1] == s[1, 1])
    assert spans == [0.1, 0.1, 0.2, 0.2]
    with pytest.raises(ValueError, match="ci_low"):
        plots.auc_bars(_evaluation().drop(columns="ci_low"))


def test_roc_curves_have_a_panel_per_two_class_label_and_report_sklearns_auc() -> None:
    rng = np.random.default_rng(0)
    y = np.zeros((40, 3), dtype=int)
    y[:, 0] = rng.integers(0, 2, 40)
    y[:, 2] = rng.integers(0, 2, 40)  # label 1 has no positive
    scores = {"real": y + rng.normal(scale=0.8, size=y.shape), "prog-GAN": rng.random(y.shape)}
    fig = plots.roc_curves(y, scores, ["a", "b", "c"], ncols=4)
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title().split(" (")[0] for ax in panels] == ["a", "c"]
    assert "b" in fig._suptitle.get_text()
    legend = [t.get_text() for t in panels[0].get_legend().get_texts()]
    assert legend[0] == f"real {roc_auc_score(y[:, 0], scores['real'][:, 0]):.2f}"
    curve = panels[0].get_lines()[0]
    assert (curve.get_xdata()[-1], curve.get_ydata()[-1]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="prog-GAN"):
        plots.roc_curves(y, {"prog-GAN": scores["real"][:5]}, ["a", "b", "c"])


def test_utility_gaps_place_each_gap_and_print_its_p_value() -> None:
    columns = ["modality", "generator", "gap", "gap_low", "gap_high", "delong_p"]
    rows = pd.DataFrame(
        [("chest", "cpD-GAN", 0.1, 0.0, 0.2, 0.03), ("brain", "prog-GAN", -0.05, -0.1, 0.0, 0.5)], columns=columns
    )
    ax = plots.utility_gaps(rows).axes[0]
    points = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    assert points == [0.1, -0.05]
    assert [t.get_text() for t in ax.texts] == ["p = 0.03", "p = 0.5"]


def test_neighbour_pairs_put_each_synthetic_image_beside_its_neighbour() -> None:
    q = np.full((3, 8, 8), 10, dtype=np.uint8)
    n = np.full((3, 8, 8), 200, dtype=np.uint8)
    fig = plots.neighbour_pairs(q, n, np.array([0.01, 0.2, 0.5]), ncols=2, titles=["x", "y", "z"])
    shown = [ax for ax in fig.axes if ax.images]
    assert [int(ax.images[0].get_array()[0, 0]) for ax in shown] == [10, 200] * 3
    assert [ax.get_title() for ax in shown][:2] == ["x", "nearest real\nd = 0.01"]
    with pytest.raises(ValueError, match="one distance per pair"):
        plots.neighbour_pairs(q, n, np.array([0.1]))


def test_distance_histograms_show_both_distributions_and_the_threshold() -> None:
    rng = np.random.default_rng(1)
    m = Memorisation(rng.random(50) * 0.1, rng.random(30), 0.05, 0.4, 0.05, 0.2)
    fig = plots.distance_histograms({"chest, cpD-GAN": m, "brain, prog-GAN": m})
    ax = fig.axes[0]
    assert ax.get_legend_handles_labels()[1] == ["real test -> train", "synthetic -> train"]
    assert ax.get_lines()[0].get_xdata()[0] == 0.05
    assert "40% of synthetic" in ax.get_title()


def test_attribution_pairs_share_one_colour_scale_per_row() -> None:
    images = np.zeros((2, 8, 8), dtype=np.uint8)
    real = np.ones((2, 8, 8)) * np.array([1.0, 3.0])[:, None, None]
    syn = np.ones((2, 8, 8)) * 0.5
    fig = plots.attribution_pairs(images, {"real": real, "cpD-GAN": syn}, titles=["one", "two"])
    axes = np.array(fig.axes).reshape(2, 3)
    for i, top in enumerate((1.0, 3.0)):
        assert [ax.images[-1].get_clim() for ax in axes[i, 1:]] == [(0, top), (0, top)]
    assert axes[1, 0].get_title() == "two"
    with pytest.raises(ValueError, match="cpD-GAN"):
        plots.attribution_pairs(images, {"cpD-GAN": syn[:1]})


def test_paper_variant_steps_separate_truncation_from_the_flip() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=(130, 3))
    s = rng.normal(size=(130, 3)) + y * np.array([1.0, -1.0, 0.0])  # label b is anti-correlated
    steps = paper_variant_steps(y, s, ["a", "b", "c"])
    standard = per_label_auc(y, s, ["a", "b", "c"])
    np.testing.assert_allclose(steps.loc[["a", "b", "c"], "auc"], standard)
    np.testing.assert_allclose(steps.loc[["a", "b", "c"], "auc_flipped"], np.maximum(standard, 1 - standard))
    np.testing.assert_allclose(
        steps.loc[["a", "b", "c"], "auc_truncated"], per_label_auc(y[:100], s[:100], ["a", "b", "c"])
    )
    np.testing.assert_allclose(steps.loc[["a", "b", "c"], "auc_paper"], paper_per_label_auc(y, s, ["a", "b", "c"]))
    assert steps.loc["b", "auc"] < 0.5 < steps.loc["b", "auc_flipped"]
    np.testing.assert_allclose(steps.loc[MEAN_ROW], steps.drop(index=MEAN_ROW).mean())
    # Under 50 test images the paper's evaluation keeps none: truncated and paper columns are NaN.
    short = paper_variant_steps(y[:40], s[:40], ["a", "b", "c"])
    assert short[["auc_truncated", "auc_paper"]].isna().all().all()
    assert short[["auc", "auc_flipped"]].notna().all().all()


def test_example_queries_are_the_closest_and_a_seeded_draw_from_the_rest() -> None:
    distances = np.array([0.5, 0.1, 0.9, 0.05, 0.3, 0.7, 0.2])
    picked = example_queries(distances, 2, seed=3)
    assert picked["closest"].tolist() == [3, 1]
    assert len(picked["random"]) == 2 and not set(picked["random"]) & {3, 1}
    again = example_queries(distances, 2, seed=3)
    assert picked["random"].tolist() == again["random"].tolist()
    draws = {tuple(example_queries(distances, 2, seed=k)["random"]) for k in range(20)}
    assert len(draws) > 1, "the draw must depend on the seed"
    few = example_queries(distances, 5, seed=0)
    assert len(few["closest"]) == 5 and len(few["random"]) == 2
    with pytest.raises(ValueError, match="distances"):
        example_queries(distances[:, None], 2, seed=0)
