"""Tests for synthmed.classify.metrics: AUC, the paper's variant, bootstrap CIs, DeLong, utility gap."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from synthmed.classify import metrics

LABELS3 = ["a", "b", "c"]


def binormal(rng: np.random.Generator, n: int, shifts: np.ndarray, prevalence: float = 0.5):
    """(N, L) truth and scores: negatives N(0, 1), positives N(shift, 1); true AUC Phi(shift / sqrt 2)."""
    y = rng.random((n, len(shifts))) < prevalence
    return y.astype(int), rng.normal(size=y.shape) + y * shifts


def true_auc(shift: np.ndarray | float) -> np.ndarray:
    return norm.cdf(np.asarray(shift) / math.sqrt(2))


# --- standard AUC ------------------------------------------------------------------------------


def test_auc_equals_sklearn_on_random_data_with_ties():
    rng = np.random.default_rng(1)
    y, s = binormal(rng, 300, np.array([0.0, 0.7, 1.5, -0.5]), prevalence=0.3)
    s = np.round(s, 1)  # many ties, within and across classes
    s[:, 3] = rng.integers(0, 3, size=300)  # heavy ties
    labels = list("wxyz")
    auc = metrics.per_label_auc(y, s, labels)
    expected = [roc_auc_score(y[:, j], s[:, j]) for j in range(4)]
    np.testing.assert_allclose(auc.to_numpy(), expected, rtol=0, atol=1e-12)
    assert list(auc.index) == labels
    assert metrics.mean_auc(y, s, labels) == pytest.approx(np.mean(expected), abs=1e-12)


def test_label_with_one_class_is_nan_and_left_out_of_the_mean():
    rng = np.random.default_rng(2)
    y, s = binormal(rng, 100, np.array([1.0, 1.0, 1.0]))
    y[:, 1] = 0
    auc = metrics.per_label_auc(y, s, LABELS3)
    assert np.isnan(auc["b"]) and not np.isnan(auc["a"])
    assert metrics.mean_auc(y, s, LABELS3) == pytest.approx((auc["a"] + auc["c"]) / 2)
    assert math.isnan(metrics.mean_auc(np.zeros((5, 1)), np.zeros((5, 1)), ["a"]))


# --- the paper's variant -----------------------------------------------------------------------


def test_paper_variant_flips_only_aucs_below_one_half():
    rng = np.random.default_rng(3)
    y, s = binormal(rng, 200, np.array([-1.0, 1.0, 0.0]))
    s[:, 2] = 0.0  # all tied: AUC exactly 0.5, which stays
    standard = metrics.per_label_auc(y, s, LABELS3)
    paper = metrics.paper_per_label_auc(y, s, LABELS3)  # N = 200, no truncation
    assert standard["a"] < 0.5 and paper["a"] == pytest.approx(1 - standard["a"])
    assert standard["b"] > 0.5 and paper["b"] == pytest.approx(standard["b"])
    assert standard["c"] == 0.5 and paper["c"] == 0.5
    assert metrics.paper_auc(y, s, LABELS3) == pytest.approx(paper.mean())


def test_paper_variant_uses_only_the_first_multiple_of_50_rows():
    assert [metrics.paper_test_size(n) for n in (49, 50, 149, 150)] == [0, 50, 100, 150]
    rng = np.random.default_rng(4)
    y, s = binormal(rng, 149, np.array([1.0, 1.0, 1.0]))
    s[100:] = -s[100:]  # the dropped tail would change every AUC
    paper = metrics.paper_per_label_auc(y, s, LABELS3)
    head = metrics.per_label_auc(y[:100], s[:100], LABELS3)
    np.testing.assert_allclose(paper.to_numpy(), head.to_numpy())
    assert not np.allclose(paper.to_numpy(), metrics.per_label_auc(y, s, LABELS3).to_numpy())
    assert math.isnan(metrics.paper_auc(y[:49], s[:49], LABELS3))


def test_paper_variant_skips_a_label_whose_positives_fall_in_the_dropped_rows():
    rng = np.random.default_rng(5)
    y, s = binormal(rng, 120, np.array([1.0, 1.0, 1.0]))
    y[:, 2] = 0
    y[110:, 2] = 1  # positives only after row 100
    paper = metrics.paper_per_label_auc(y, s, LABELS3)
    assert np.isnan(paper["c"]) and not np.isnan(metrics.per_label_auc(y, s, LABELS3)["c"])
    assert metrics.paper_auc(y, s, LABELS3) == pytest.approx(paper[["a", "b"]].mean())


# --- bootstrap ---------------------------------------------------------------------------------


def test_bootstrap_replicates_equal_sklearn_on_the_resampled_rows(monkeypatch):
    monkeypatch.setattr(metrics, "_CHUNK_CELLS", 250)  # several chunks of 3 replicates
    rng = np.random.default_rng(6)
    y, s = binormal(rng, 80, np.array([0.5, 1.0, 2.0]), prevalence=0.2)
    s = np.round(s, 1)
    replicates = metrics.bootstrap_auc_replicates(y, s, LABELS3, n_boot=10, seed=7)
    indices = metrics.bootstrap_indices(80, 10, seed=7)
    assert replicates.shape == (10, 3) and indices.shape == (10, 80)
    for b in range(10):
        for j in range(3):
            rows = indices[b]
            if len(set(y[rows, j])) < 2:
                assert np.isnan(replicates[b, j])
            else:
                assert replicates[b, j] == pytest.approx(roc_auc_score(y[rows, j], s[rows, j]), abs=1e-12)
    again = metrics.bootstrap_auc_replicates(y, s, LABELS3, n_boot=10, seed=7)
    np.testing.assert_array_equal(replicates, again)


def test_bootstrap_ci_covers_the_true_auc_at_about_the_nominal_rate():
    shifts = np.array([0.5, 1.0, 1.8])
    rng = np.random.default_rng(8)
    label_hits, mean_hits = [], []
    for dataset in range(100):
        y, s = binormal(rng, 150, shifts)
        table = metrics.bootstrap_auc(y, s, LABELS3, seed=dataset, n_boot=400, ci=0.95)
        truth = np.r_[true_auc(shifts), true_auc(shifts).mean()]
        hits = (table["ci_low"] <= truth) & (truth <= table["ci_high"])
        label_hits.extend(hits.iloc[:3])
        mean_hits.append(hits.iloc[3])
    assert 0.85 <= np.mean(label_hits) <= 1.0
    assert 0.85 <= np.mean(mean_hits) <= 1.0


def test_bootstrap_table_rows_and_validity_counts():
    rng = np.random.default_rng(9)
    y, s = binormal(rng, 60, np.array([1.0, 1.0, 1.0]), prevalence=0.5)
    y[:, 2] = 0
    y[0, 2] = 1  # a single positive: many replicates lose it
    table = metrics.bootstrap_auc(y, s, LABELS3, seed=0, n_boot=200)
    assert list(table.index) == [*LABELS3, metrics.MEAN_ROW]
    assert table.loc["a", "n_boot_valid"] == 200
    assert 0 < table.loc["c", "n_boot_valid"] < 200
    assert (table["ci_low"] <= table["ci_high"]).all()


# --- DeLong ------------------------------------------------------------------------------------


def pairwise_delong_variance(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Textbook DeLong (1988) with explicit m x n comparison matrices: var(AUC_a), var(AUC_b), cov."""
    components = []
    for s in (a, b):
        psi = (s[y][:, None] > s[~y][None, :]) + 0.5 * (s[y][:, None] == s[~y][None, :])
        components.append((psi.mean(axis=1), psi.mean(axis=0)))
    m, n = y.sum(), (~y).sum()
    s10 = np.cov(np.stack([components[0][0], components[1][0]]))
    s01 = np.cov(np.stack([components[0][1], components[1][1]]))
    cov = s10 / m + s01 / n
    return cov[0, 0], cov[1, 1], cov[0, 1]


def test_delong_covariance_matches_the_textbook_pairwise_form():
    rng = np.random.default_rng(10)
    y, a = binormal(rng, 120, np.array([1.0, 0.3]), prevalence=0.3)
    b = np.round(a + rng.normal(size=a.shape), 1)  # correlated, with ties
    aucs, cov = metrics.delong_covariance(y, [a, b], ["p", "q"])
    for j in range(2):
        var_a, var_b, cov_ab = pairwise_delong_variance(y[:, j].astype(bool), a[:, j], b[:, j])
        assert cov[0, j, 0, j] == pytest.approx(var_a, rel=1e-10)
        assert cov[1, j, 1, j] == pytest.approx(var_b, rel=1e-10)
        assert cov[0, j, 1, j] == pytest.approx(cov_ab, rel=1e-10)
        assert aucs[1, j] == pytest.approx(roc_auc_score(y[:, j], b[:, j]))


def test_delong_p_value_is_roughly_uniform_under_the_null():
    # 200 independent labels = 200 simulated null datasets in one call: equal true AUCs, correlated scores.
    rng = np.random.default_rng(11)
    y = rng.random((200, 200)) < 0.4
    shared = rng.normal(size=y.shape) + 1.0 * y
    a = shared + rng.normal(size=y.shape)
    b = shared + rng.normal(size=y.shape)
    table = metrics.delong_test(y, a, b, [f"l{j}" for j in range(200)])
    p = table["p"].drop(metrics.MEAN_ROW).to_numpy()
    assert 0.01 <= np.mean(p < 0.05) <= 0.12
    assert 0.35 <= np.mean(p < 0.5) <= 0.65


def test_delong_p_value_is_small_for_a_clearly_better_classifier():
    rng = np.random.default_rng(12)
    y = rng.random((300, 3)) < 0.4
    better = rng.normal(size=y.shape) + 2.0 * y
    worse = rng.normal(size=y.shape) + 0.3 * y
    table = metrics.delong_test(y, better, worse, LABELS3)
    assert (table["diff"] > 0).all()
    assert (table["p"] < 1e-4).all()
    assert table.loc[metrics.MEAN_ROW, "diff"] == pytest.approx(table["diff"].iloc[:3].mean())


def test_delong_variance_matches_a_bootstrap_variance():
    # A shared per-image factor correlates the labels and both classifiers' scores, so the mean and
    # the paired gap depend on the cross-label and cross-classifier covariance terms (ignoring the
    # pairing would overstate the gap variance by about 1.5x here).
    rng = np.random.default_rng(13)
    image = rng.normal(size=(400, 1))
    y = ((2 * image + rng.normal(size=(400, 3))) > 1.0).astype(int)
    real = 1.2 * y + 2 * image + 0.6 * rng.normal(size=y.shape)
    synthetic = 1.0 * y + 2 * image + 0.9 * rng.normal(size=y.shape)
    _, cov = metrics.delong_covariance(y, [real], LABELS3)
    boot = metrics.bootstrap_auc(y, real, LABELS3, seed=14, n_boot=2000)
    for j, label in enumerate(LABELS3):
        assert cov[0, j, 0, j] == pytest.approx(boot.loc[label, "se_boot"] ** 2, rel=0.2)
    mean_var = cov[0, :, 0, :].mean()  # var of a mean over labels: average of the covariance
    assert mean_var == pytest.approx(boot.loc[metrics.MEAN_ROW, "se_boot"] ** 2, rel=0.15)
    gap = metrics.utility_gap(y, real, synthetic, LABELS3, seed=15, n_boot=2000)
    assert gap["delong_se"] ** 2 == pytest.approx(gap["gap_se_boot"] ** 2, rel=0.15)


@pytest.mark.parametrize("lone", [1, 0])
def test_delong_is_nan_with_a_reason_when_a_class_has_one_test_image(lone: int):
    # One image of class `lone` in "q": classifier a ranks it first, b last, so both DeLong
    # variances of "q" are 0 and the old test read the difference as certain (p = 0).
    rng = np.random.default_rng(18)
    y = np.zeros((40, 2), dtype=int)
    y[:, 0] = rng.random(40) < 0.5
    y[:, 1] = 1 - lone
    y[7, 1] = lone
    a = rng.normal(size=y.shape) + y
    b = a.copy()
    a[:, 1] = np.where(y[:, 1] == 1, 5.0, rng.normal(size=40))
    b[:, 1] = np.where(y[:, 1] == 1, -5.0, rng.normal(size=40))
    table = metrics.delong_test(y, a, b, ["p", "q"])
    assert abs(table.loc["q", "diff"]) == 1.0
    assert np.isnan(table.loc["q", ["se", "z", "p"]].astype(float)).all()
    assert "q: " in table.loc["q", "reason"] and "at least 2 of each" in table.loc["q", "reason"]
    assert table.loc["p", "p"] == 1.0 and table.loc["p", "reason"] == ""  # the other label is tested as before
    assert np.isnan(table.loc[metrics.MEAN_ROW, "p"]) and "q" in table.loc[metrics.MEAN_ROW, "reason"]
    gap = metrics.utility_gap(y, a, b, ["p", "q"], seed=0, n_boot=50)
    assert np.isnan(gap["delong_p"]) and "fewer than 2" in gap["delong_reason"]
    assert gap["gap"] == pytest.approx(table.loc[metrics.MEAN_ROW, "diff"])  # the gap itself is still reported


# --- utility gap and evaluate ------------------------------------------------------------------


def test_gap_of_a_classifier_with_itself_is_zero_with_a_zero_width_paired_ci():
    rng = np.random.default_rng(16)
    y, s = binormal(rng, 200, np.array([0.5, 1.0, 1.5]))
    gap = metrics.utility_gap(y, s, s.copy(), LABELS3, seed=0, n_boot=300)
    assert gap["gap"] == 0.0
    assert gap["gap_ci_low"] <= 0.0 <= gap["gap_ci_high"]
    assert gap["gap_ci_high"] - gap["gap_ci_low"] == 0.0  # paired: both see the same resampled rows
    assert gap["delong_p"] == 1.0 and gap["gap_paper"] == 0.0


def test_gap_is_positive_and_significant_when_real_training_is_clearly_better():
    rng = np.random.default_rng(17)
    y = rng.random((300, 3)) < 0.4
    real = rng.normal(size=y.shape) + 2.0 * y
    synthetic = rng.normal(size=y.shape) + 0.5 * y
    gap = metrics.utility_gap(y, real, synthetic, LABELS3, seed=1, n_boot=300)
    expected = metrics.mean_auc(y, real, LABELS3) - metrics.mean_auc(y, synthetic, LABELS3)
    assert gap["gap"] == pytest.approx(expected)
    assert 0 < gap["gap_ci_low"] < gap["gap"] < gap["gap_ci_high"]
    assert gap["delong_p"] < 1e-4
    assert gap["n_test"] == 300 and gap["n_test_paper"] == 300 and gap["n_labels"] == 3


def test_evaluate_gives_one_tidy_row_per_label_and_the_mean():
    rng = np.random.default_rng(18)
    y, s = binormal(rng, 130, np.array([-0.8, 1.0, 1.5]))
    table = metrics.evaluate(y, s, LABELS3, seed=2, n_boot=200)
    assert list(table["label"]) == [*LABELS3, metrics.MEAN_ROW]
    assert list(table["n_pos"].iloc[:3]) == list(y.sum(axis=0))
    assert pd.isna(table["n_pos"].iloc[3])
    assert table["auc"].iloc[3] == pytest.approx(metrics.mean_auc(y, s, LABELS3))
    assert table["auc_paper"].iloc[0] == pytest.approx(1 - metrics.per_label_auc(y[:100], s[:100], LABELS3)["a"])
    assert (table["n_test"] == 130).all() and (table["n_test_paper"] == 100).all()
    assert (table["ci_low"] <= table["auc"]).all() and (table["auc"] <= table["ci_high"]).all()
    plain = metrics.evaluate(y, s, LABELS3, seed=2, n_boot=0)
    assert plain["ci_low"].isna().all()
    np.testing.assert_allclose(plain["auc"], table["auc"])


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_names_the_row_and_label():
    y = np.zeros((4, 3))
    y[:, 0] = [0, 1, 0, 1]
    s = np.zeros((4, 3))
    bad_y = y.copy()
    bad_y[2, 1] = 2
    with pytest.raises(ValueError, match=r"y_true row 2, label 'b': expected 0 or 1"):
        metrics.per_label_auc(bad_y, s, LABELS3)
    bad_s = s.copy()
    bad_s[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"scores_synthetic row 3, label 'c': expected a finite number"):
        metrics.utility_gap(y, s, bad_s, LABELS3, seed=0, n_boot=10)
    with pytest.raises(ValueError, match=r"expected shape \(4, 3\)"):
        metrics.per_label_auc(y, s[:, :2], LABELS3)
    with pytest.raises(ValueError, match="labels: expected 3 names"):
        metrics.per_label_auc(y, s, ["a", "b"])
    with pytest.raises(ValueError, match="reserved"):
        metrics.per_label_auc(y, s, ["a", "b", metrics.MEAN_ROW])
    with pytest.raises(ValueError, match="n_boot"):
        metrics.bootstrap_auc(y, s, LABELS3, seed=0, n_boot=0)


def test_importing_the_metrics_does_not_import_torch():
    code = "import sys, synthmed.classify.metrics; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
