"""Reader-study statistics and the responses CSV, checked against hand-computed and library values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from synthmed.data import DataError
from synthmed.reader.responses import RESPONSE_COLUMNS, read_responses, write_responses
from synthmed.reader.study import (
    binomial_p_value,
    chance_test,
    chance_tests,
    clopper_pearson,
    fleiss_kappa,
    pooled_accuracy,
    power_of_test,
    rating_table,
    reads_needed,
    simulate_panel,
    summarise,
    tost_p_value,
    wilson,
)

HEADER = ",".join(RESPONSE_COLUMNS)


def _read(reader: str, image: str, truth: str, answer: str, **overrides: object) -> dict[str, object]:
    row = {"reader_id": reader, "reader_experience": "radiologist", "image_id": image, "modality": "chest",
           "resolution": 32, "generator": "prog-GAN", "truth": truth, "answer": answer, "confidence": 3,
           "response_time_s": 2.5}
    return row | overrides


# --- intervals and tests on one proportion ----------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 20), (20, 20), (7, 20), (13, 40), (1, 3), (250, 500)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_intervals_match_statsmodels(k: int, n: int, alpha: float) -> None:
    assert clopper_pearson(k, n, alpha) == pytest.approx(proportion_confint(k, n, alpha, method="beta"), abs=1e-10)
    assert wilson(k, n, alpha) == pytest.approx(proportion_confint(k, n, alpha, method="wilson"), abs=1e-10)


def test_intervals_at_zero_and_all_correct_by_hand() -> None:
    n, alpha = 12, 0.05
    # Clopper-Pearson at k=0 is [0, 1 - (alpha/2)^(1/n)], at k=n it is [(alpha/2)^(1/n), 1].
    edge = (alpha / 2) ** (1 / n)
    assert clopper_pearson(0, n) == pytest.approx((0.0, 1 - edge))
    assert clopper_pearson(n, n) == pytest.approx((edge, 1.0))
    # Wilson at k=0 is [0, z^2 / (n + z^2)].
    z = stats.norm.ppf(0.975)
    assert wilson(0, n) == pytest.approx((0.0, z**2 / (n + z**2)))
    assert wilson(n, n) == pytest.approx((n / (n + z**2), 1.0))


def test_binomial_p_value_by_hand() -> None:
    # Bin(10, 0.5): P(X = 0) = 1/1024; the two-sided test doubles the tail.
    assert binomial_p_value(0, 10) == pytest.approx(2 / 1024)
    assert binomial_p_value(10, 10) == pytest.approx(2 / 1024)
    assert binomial_p_value(2, 10) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert binomial_p_value(5, 10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k=11, n=10"):
        binomial_p_value(11, 10)


def test_tost_by_hand_and_its_decisions() -> None:
    k, n, margin = 530, 1000, 0.1
    lower = stats.binom.sf(k - 1, n, 0.4)  # P(X >= k | p = 0.4)
    upper = stats.binom.cdf(k, n, 0.6)  # P(X <= k | p = 0.6)
    assert tost_p_value(k, n, margin) == pytest.approx(max(lower, upper))
    assert tost_p_value(1000, 2000, margin) < 1e-10  # at exactly 0.5 with many reads: equivalent
    assert tost_p_value(1400, 2000, margin) > 0.5  # at 0.7: not within 0.5 +/- 0.1
    assert tost_p_value(5, 10, margin) > 0.05  # at 0.5 but too few reads to show equivalence
    with pytest.raises(ValueError, match="margin"):
        tost_p_value(5, 10, margin=0.5)


def test_tost_through_summarise_on_panels() -> None:
    at_chance = pd.DataFrame(
        [_read(f"r{r}", f"img{i}", "synthetic" if i % 2 else "real", "synthetic" if i % 4 < 2 else "real")
         for r in range(4) for i in range(500)]
    )
    row = summarise(at_chance).iloc[0]
    assert row["accuracy"] == 0.5 and row["n_reads"] == 2000
    assert bool(row["at_chance"]) and row["p_vs_chance"] == pytest.approx(1.0)

    skilled = simulate_panel(4, 500, 0.7, seed=3)
    row = summarise(skilled).iloc[0]
    assert not row["at_chance"] and row["p_vs_chance"] < 1e-10


# --- "beats chance" at a chosen alpha ---------------------------------------------------------------


def test_beats_chance_flips_with_alpha_and_its_interval_follows() -> None:
    k, n = 60, 100
    # By hand: Bin(100, 0.5) is symmetric, so the two-sided p-value is twice the upper tail P(X >= 60).
    p = 2 * sum(math.comb(n, j) for j in range(k, n + 1)) / 2**n
    assert 0.05 < p < 0.10  # so the decision must differ between these two levels
    strict, loose = chance_test(k, n, alpha=0.05), chance_test(k, n, alpha=0.10)
    assert strict.p_value == pytest.approx(p) and loose.p_value == pytest.approx(p)
    assert not strict.beats_chance and loose.beats_chance
    for result, alpha in ((strict, 0.05), (loose, 0.10)):
        assert result.alpha == alpha and result.accuracy == pytest.approx(0.6)
        # The interval is the exact one at the alpha the decision used, not at the default.
        assert (result.low, result.high) == pytest.approx(proportion_confint(k, n, alpha, method="beta"), abs=1e-10)
    # ... so the printed interval agrees with the decision at each level: it leaves out 0.5 exactly when
    # chance is beaten, and the looser level's interval is the narrower one.
    assert strict.low < 0.5 < loose.low and loose.high < strict.high
    # Significantly *below* chance is not "beats chance".
    below = chance_test(30, 100, alpha=0.05)
    assert below.p_value < 0.05 and not below.beats_chance and below.high < 0.5
    with pytest.raises(ValueError, match="alpha"):
        chance_test(k, n, alpha=0.0)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.2])
def test_beats_chance_is_the_interval_leaving_out_one_half(alpha: float) -> None:
    for n in (1, 7, 20, 61, 200):
        for k in range(n + 1):
            result = chance_test(k, n, alpha)
            assert result.beats_chance == (result.low > 0.5), (k, n, alpha)


def test_chance_tests_on_a_summary_table_use_its_counts_and_the_given_alpha() -> None:
    panel = pd.concat([
        simulate_panel(3, 40, 0.5, seed=1, resolution=32),
        simulate_panel(3, 40, 0.8, seed=2, resolution=64),
    ], ignore_index=True)
    for alpha in (0.01, 0.2):
        table = summarise(panel, by=["resolution"], alpha=alpha)
        verdicts = chance_tests(table, alpha)
        assert verdicts.attrs["alpha"] == alpha and list(verdicts.index) == list(table.index)
        # The same interval as the table the chapter prints at that alpha, and the decision of each row.
        np.testing.assert_allclose(verdicts["low"], table["cp_low"])
        np.testing.assert_allclose(verdicts["high"], table["cp_high"])
        np.testing.assert_allclose(verdicts["p_vs_chance"], table["p_vs_chance"])
        expected = [chance_test(k, n, alpha).beats_chance for k, n in zip(table["n_correct"], table["n_reads"],
                                                                          strict=True)]
        assert verdicts["beats_chance"].tolist() == expected
    # The machine reader's rows count reads as n_test.
    machine = pd.DataFrame({"n_test": [200, 200], "n_correct": [100, 170]}, index=[5, 9])
    verdicts = chance_tests(machine, 0.05, reads="n_test")
    assert verdicts["beats_chance"].tolist() == [False, True] and list(verdicts.index) == [5, 9]
    assert verdicts["accuracy"].tolist() == [0.5, 0.85]
    with pytest.raises(ValueError, match="n_reads"):
        chance_tests(machine, 0.05)


# --- Fleiss' kappa ----------------------------------------------------------------------------------

# The worked example in the Wikipedia article "Fleiss' kappa": 10 subjects, 14 raters, 5 categories,
# kappa = 0.210 to three decimals.
WIKIPEDIA_TABLE = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


def test_fleiss_kappa_on_known_tables() -> None:
    assert fleiss_kappa(WIKIPEDIA_TABLE) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(WIKIPEDIA_TABLE) == pytest.approx(statsmodels_fleiss_kappa(WIKIPEDIA_TABLE))
    # Hand-made, 3 raters: per-item agreement 1, 1, 1/3, 1/3 -> 2/3; shares 1/2, 1/2 -> chance 1/2.
    hand = np.array([[3, 0], [0, 3], [2, 1], [1, 2]])
    assert fleiss_kappa(hand) == pytest.approx(1 / 3)
    assert fleiss_kappa(hand) == pytest.approx(statsmodels_fleiss_kappa(hand))
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)
    assert math.isnan(fleiss_kappa([[3, 0], [3, 0]]))  # one category only: undefined
    with pytest.raises(ValueError, match="same number"):
        fleiss_kappa([[3, 0], [1, 1]])


def test_kappa_uses_only_images_every_reader_read() -> None:
    panel = simulate_panel(3, 40, [0.6, 0.7, 0.8], seed=5)
    skipped = panel.index[(panel["reader_id"] == "sim-reader-02")][:4]
    partial = panel.drop(index=skipped)
    table = rating_table(partial)
    assert len(table) == 36 and (table.sum(axis=1) == 3).all()
    assert set(panel.loc[skipped, "image_id"]).isdisjoint(table.index)
    # Counts agree with the answers.
    image = table.index[0]
    answers = partial.loc[partial["image_id"] == image, "answer"]
    assert table.loc[image, "synthetic"] == (answers == "synthetic").sum()
    row = summarise(partial).iloc[0]
    assert row["kappa_images"] == 36
    assert row["fleiss_kappa"] == pytest.approx(statsmodels_fleiss_kappa(table.to_numpy()))


# --- summary table ----------------------------------------------------------------------------------


def test_summarise_by_hand() -> None:
    reads = pd.DataFrame([
        # reader a: 3 synthetic (2 spotted), 2 real (1 called real)
        _read("a", "s1", "synthetic", "synthetic"), _read("a", "s2", "synthetic", "synthetic"),
        _read("a", "s3", "synthetic", "real"), _read("a", "r1", "real", "real"),
        _read("a", "r2", "real", "synthetic"),
        # reader b: all synthetic missed, all real right
        _read("b", "s1", "synthetic", "real"), _read("b", "s2", "synthetic", "real"),
        _read("b", "s3", "synthetic", "real"), _read("b", "r1", "real", "real"),
        _read("b", "r2", "real", "real"),
    ])
    per_reader = summarise(reads, by=["reader_id"]).set_index("reader_id")
    assert per_reader.loc["a", "accuracy"] == pytest.approx(3 / 5)
    assert per_reader.loc["a", "sensitivity"] == pytest.approx(2 / 3)
    assert per_reader.loc["a", "specificity"] == pytest.approx(1 / 2)
    assert per_reader.loc["b", "sensitivity"] == 0 and per_reader.loc["b", "specificity"] == 1
    assert per_reader.loc["b", "sensitivity_high"] == pytest.approx(1 - 0.025 ** (1 / 3))
    assert math.isnan(per_reader.loc["a", "fleiss_kappa"]) and math.isnan(per_reader.loc["a", "cluster_low"])

    pooled = summarise(reads).iloc[0]
    assert (pooled["n_reads"], pooled["n_correct"], pooled["n_readers"]) == (10, 5, 2)
    assert pooled["p_vs_chance"] == pytest.approx(1.0)
    assert (pooled["cp_low"], pooled["cp_high"]) == pytest.approx(proportion_confint(5, 10, method="beta"))
    # Rating table rows (synthetic, real answers): s1, s2 [1 1]; s3 [0 2] real; r1 [0 2]; r2 [1 1].
    hand = np.array([[1, 1], [1, 1], [2, 0], [2, 0], [1, 1]])
    assert pooled["fleiss_kappa"] == pytest.approx(statsmodels_fleiss_kappa(hand))

    only_synthetic = summarise(reads[reads["truth"] == "synthetic"]).iloc[0]
    assert only_synthetic["n_real"] == 0 and math.isnan(only_synthetic["specificity"])


def test_summarise_groups_by_modality_and_resolution() -> None:
    panel = pd.concat([
        simulate_panel(3, 60, 0.5, seed=1, modality="chest", resolution=32),
        simulate_panel(3, 60, 0.9, seed=2, modality="chest", resolution=128),
        simulate_panel(3, 40, 0.6, seed=3, modality="brain", resolution=32),
    ], ignore_index=True)
    table = summarise(panel, by=["modality", "resolution"])
    assert list(table[["modality", "resolution"]].itertuples(index=False, name=None)) == [
        ("brain", 32), ("chest", 32), ("chest", 128)]
    assert table["n_reads"].tolist() == [120, 180, 180]
    for _, row in table.iterrows():
        part = panel[(panel["modality"] == row["modality"]) & (panel["resolution"] == row["resolution"])]
        assert row["accuracy"] == pytest.approx((part["answer"] == part["truth"]).mean())
    with pytest.raises(ValueError, match="not columns"):
        summarise(panel, by=["site"])


# --- pooled, cluster-robust estimate ----------------------------------------------------------------


def test_pooled_accuracy_by_hand() -> None:
    panel = simulate_panel(5, 80, [0.5, 0.95, 0.6, 0.85, 0.55], seed=11)
    correct = (panel["answer"] == panel["truth"]).to_numpy(dtype=float)
    p, n, clusters = correct.mean(), len(correct), 5
    result = pooled_accuracy(panel)
    assert result.accuracy == pytest.approx(p)
    assert result.naive_se_logit == pytest.approx(1 / math.sqrt(n * p * (1 - p)))
    # CR1 sandwich for an intercept-only logistic model: sum over readers of squared score sums,
    # over the squared information, times G/(G-1) (the (N-1)/(N-K) factor is 1 with one parameter).
    scores = pd.Series(correct - p).groupby(panel["reader_id"].to_numpy()).sum().to_numpy()
    variance = (scores**2).sum() / (n * p * (1 - p)) ** 2 * clusters / (clusters - 1)
    assert result.se_logit == pytest.approx(math.sqrt(variance))
    t = stats.t.ppf(0.975, clusters - 1)
    assert result.low == pytest.approx(1 / (1 + math.exp(-(math.log(p / (1 - p)) - t * math.sqrt(variance)))))
    # Readers differ a lot, so the robust interval is wider than the one treating reads as independent.
    assert result.high - result.low > 2 * (result.naive_high - result.naive_low)
    assert result.low < p < result.high


def test_pooled_accuracy_edge_cases() -> None:
    one_reader = simulate_panel(1, 20, 0.7, seed=0)
    with pytest.raises(ValueError, match="at least 2 readers"):
        pooled_accuracy(one_reader)
    perfect = simulate_panel(3, 20, 1.0, seed=0)
    result = pooled_accuracy(perfect)
    assert result.accuracy == 1.0 and math.isnan(result.low) and "undefined" in result.method


# --- power and sample size --------------------------------------------------------------------------


def test_power_matches_brute_force_over_scipy_binomtest() -> None:
    alpha, accuracy = 0.05, 0.7
    ns = np.arange(1, 61)
    brute = [
        sum(stats.binom.pmf(k, n, accuracy) for k in range(n + 1) if stats.binomtest(k, n, 0.5).pvalue < alpha)
        for n in ns
    ]
    assert power_of_test(ns, accuracy, alpha) == pytest.approx(brute, abs=1e-12)
    assert power_of_test(5, accuracy, alpha) == 0.0  # 5 reads can never give p < 0.05
    assert power_of_test(200, 0.5, alpha) < alpha  # at the null the power is the (exact) size


@pytest.mark.parametrize("accuracy", [0.6, 0.7, 0.35])
def test_reads_needed_is_the_smallest_sufficient_n(accuracy: float) -> None:
    first = reads_needed(accuracy, stable=False)
    stable = reads_needed(accuracy)
    assert power_of_test(first, accuracy) >= 0.8 > power_of_test(first - 1, accuracy)
    assert (power_of_test(np.arange(1, first), accuracy) < 0.8).all()
    assert stable >= first
    assert power_of_test(stable - 1, accuracy) < 0.8
    assert (power_of_test(np.arange(stable, 2 * stable + 1), accuracy) >= 0.8).all()
    # Within 10% of the normal approximation n = ((z_a/2 * 0.5 + z_b * sqrt(p q)) / (p - 0.5))^2.
    z_alpha, z_beta = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    approx = ((z_alpha * 0.5 + z_beta * math.sqrt(accuracy * (1 - accuracy))) / (accuracy - 0.5)) ** 2
    assert first == pytest.approx(approx, rel=0.1)


def test_reads_needed_symmetry_and_errors() -> None:
    assert reads_needed(0.4) == reads_needed(0.6)
    assert reads_needed(0.8, power=0.9) > reads_needed(0.8, power=0.8)
    with pytest.raises(ValueError, match="null hypothesis"):
        reads_needed(0.5)
    with pytest.raises(ValueError, match="do not reach"):
        reads_needed(0.51, n_max=1000)


def test_power_agrees_with_simulation() -> None:
    n, accuracy, alpha, studies = 120, 0.62, 0.05, 20_000
    correct = np.random.default_rng(2024).binomial(n, accuracy, size=studies)
    p_values = {k: stats.binomtest(int(k), n, 0.5).pvalue for k in np.unique(correct)}
    simulated = np.mean([p_values[k] < alpha for k in correct])
    exact = power_of_test(n, accuracy, alpha)
    standard_error = math.sqrt(exact * (1 - exact) / studies)
    assert abs(simulated - exact) < 4 * standard_error


# --- simulated panel --------------------------------------------------------------------------------


def test_simulate_panel_is_marked_balanced_and_seeded() -> None:
    panel = simulate_panel(4, 101, [0.5, 0.6, 0.7, 0.8], seed=7)
    assert panel.attrs["simulated"] is True and panel["simulated"].all()
    assert panel["reader_experience"].str.startswith("SIMULATED").all()
    assert len(panel) == 404 and panel.groupby("reader_id")["image_id"].nunique().eq(101).all()
    per_reader_truth = panel.groupby("reader_id")["truth"].value_counts().unstack()
    assert (per_reader_truth["synthetic"] == 50).all() and (per_reader_truth["real"] == 51).all()
    assert panel.groupby("image_id")["truth"].nunique().eq(1).all()
    pd.testing.assert_frame_equal(panel, simulate_panel(4, 101, [0.5, 0.6, 0.7, 0.8], seed=7))
    assert not panel["answer"].equals(simulate_panel(4, 101, [0.5, 0.6, 0.7, 0.8], seed=8)["answer"])
    many = simulate_panel(2, 4000, [0.55, 0.85], seed=1)
    realised = summarise(many, by=["reader_id"])["accuracy"].to_numpy()
    assert realised == pytest.approx([0.55, 0.85], abs=0.03)
    with pytest.raises(ValueError, match="accuracies"):
        simulate_panel(3, 10, [0.5, 0.6], seed=0)


# --- the responses CSV ------------------------------------------------------------------------------


def test_responses_round_trip(tmp_path) -> None:
    panel = simulate_panel(2, 10, 0.7, seed=0)
    path = write_responses(panel, tmp_path / "reads.csv")
    back = read_responses(path)
    assert list(back.columns) == [*RESPONSE_COLUMNS, "simulated"]
    assert back["resolution"].dtype == "int64" and back["response_time_s"].dtype == "float64"
    for column in ("reader_id", "image_id", "truth", "answer"):
        assert back[column].tolist() == panel[column].tolist()
    assert back["confidence"].tolist() == panel["confidence"].tolist()
    assert back["response_time_s"].to_numpy() == pytest.approx(panel["response_time_s"].to_numpy())


def test_loader_reports_every_bad_row_by_line(tmp_path) -> None:
    lines = [
        HEADER,
        "r1,radiologist,img1,chest,32,prog-GAN,real,real,3,2.0",  # line 2: fine
        "r1,radiologist,img2,knee,32,prog-GAN,real,real,3,2.0",  # line 3: modality
        "r1,radiologist,img3,chest,32,prog-GAN,real,fake,3,2.0",  # line 4: answer
        '"r2","radiologist,\nten years",img1,chest,32,prog-GAN,real,synthetic,3,1.5',  # lines 5-6: fine
        "r2,,img4,brain,64,cpD-GAN,synthetic,real,9,-1",  # line 7: confidence and time
        "r2,,img5,brain,sixty,cpD-GAN,synthetic,real,2,1",  # line 8: resolution
        "r1,radiologist,img1,chest,32,prog-GAN,real,real,3,2.0",  # line 9: r1 read img1 on line 2
        "r3,,img1,chest,32,prog-GAN,synthetic,real,3,2.0",  # line 10: img1 was real on line 2
        "r3,,img6,chest,32,,real,real,3,2.0",  # line 11: generator empty
        "r3,,img7,chest,32,prog-GAN,real",  # line 12: too few fields
    ]
    path = tmp_path / "reads.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_responses(path)
    message = str(caught.value)
    assert str(path) in message and "8 bad row(s)" in message
    expected = {
        3: "modality 'knee'", 4: "answer 'fake'", 7: "confidence '9'", 8: "resolution 'sixty'",
        9: "already read image 'img1' on line 2", 10: "truth 'synthetic' here but 'real' on line 2",
        11: "generator is empty", 12: "7 fields, expected 10",
    }
    reported = {line: text for line, text in (entry.split(": ", 1) for entry in message.split("\n  ")[1:])}
    assert set(reported) == {f"line {n}" for n in expected}
    for line, what in expected.items():
        assert what in reported[f"line {line}"]
    assert "response_time_s '-1'" in reported["line 7"]


def test_loader_rejects_bad_files(tmp_path) -> None:
    path = tmp_path / "reads.csv"
    path.write_text("reader_id,image_id,truth,answer\nr1,img1,real,real\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1 \(header\): missing columns \['reader_experience'"):
        read_responses(path)
    path.write_text(HEADER + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="no reads"):
        read_responses(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty file"):
        read_responses(path)
    with pytest.raises(DataError, match="not found"):
        read_responses(tmp_path / "absent.csv")


def test_writer_refuses_bad_frames_and_writes_nothing(tmp_path) -> None:
    reads = pd.DataFrame([_read("a", "i1", "real", "real"), _read("a", "i2", "real", "maybe", confidence=0)])
    path = tmp_path / "reads.csv"
    with pytest.raises(DataError, match=r"line 3: answer 'maybe'.*confidence '0'"):
        write_responses(reads, path)
    assert not path.exists()
    with pytest.raises(DataError, match="lack columns"):
        write_responses(reads.drop(columns=["truth"]), path)


def test_append_responses_rereads_the_file_and_writes_atomically(tmp_path, monkeypatch) -> None:
    import os

    from synthmed.reader.responses import append_responses

    panel = simulate_panel(n_readers=3, reads_per_reader=4, accuracies=0.7, seed=2)
    path = tmp_path / "reads.csv"
    first = panel[panel["reader_id"] == panel["reader_id"].iloc[0]]
    others = panel[panel["reader_id"] != first["reader_id"].iloc[0]]
    assert append_responses(first, path) == len(first)
    assert append_responses(others, path) == len(others)
    assert len(read_responses(path)) == len(panel)
    with pytest.raises(DataError, match="already read image"):  # a repeated read is refused, file unchanged
        append_responses(first.head(1), path)
    assert append_responses(first.head(1), path, skip_repeated=True) == 0
    assert len(read_responses(path)) == len(panel)

    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("crash before the rename")))
    with pytest.raises(OSError, match="crash"):
        write_responses(panel.head(2), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".reads.csv.lock", "reads.csv"]


def test_simulated_panels_give_each_resolution_and_modality_its_own_seeded_draw() -> None:
    from synthmed.reader.study import simulate_panel, simulate_panels

    panels = simulate_panels(2, 10, [0.5, [0.6, 0.9]], [32, 64], ["chest", "brain"], seed=3, generator="cpD-GAN")
    expected = pd.concat(
        [simulate_panel(2, 10, acc, seed=3000 + 10 * i + j, modality=m, resolution=r, generator="cpD-GAN")
         for i, (r, acc) in enumerate(((32, 0.5), (64, [0.6, 0.9]))) for j, m in enumerate(("chest", "brain"))],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(panels, expected)
    assert panels.groupby(["resolution", "modality"]).size().to_dict() == {
        (32, "brain"): 20, (32, "chest"): 20, (64, "brain"): 20, (64, "chest"): 20}
    chest32 = panels[(panels["resolution"] == 32) & (panels["modality"] == "chest")]
    brain32 = panels[(panels["resolution"] == 32) & (panels["modality"] == "brain")]
    assert chest32["answer"].tolist() != brain32["answer"].tolist()  # not one draw relabelled
    with pytest.raises(ValueError, match="accuracies has 1 rows for 2 resolutions"):
        simulate_panels(2, 10, [0.5], [32, 64], ["chest"], seed=0)
