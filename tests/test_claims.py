"""The claims give the right verdict, in both directions, on hand-made results tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from synthmed import claims
from synthmed.paper_results import paper_as_results, paper_values


def table(points: list[tuple], benchmark: str = "classes", modality: str = "chest") -> pd.DataFrame:
    """Rows from (setting, generator, seed, auc_real, auc_synthetic[, gap_low, gap_high])."""
    rows = []
    for point in points:
        setting, generator, seed, real, synthetic, *ci = point
        row = {
            "modality": modality,
            "benchmark": benchmark,
            "setting": setting,
            "generator": generator,
            "seed": seed,
            "auc_real": real,
            "auc_synthetic": synthetic,
            "gap": real - synthetic,
        }
        if ci:
            row["gap_low"], row["gap_high"] = ci
        rows.append(row)
    return pd.DataFrame(rows)


def both(setting: int, real: float, cpd: float, prog: float, seed: int = 0) -> list[tuple]:
    return [(setting, "cpD-GAN", seed, real, cpd), (setting, "prog-GAN", seed, real, prog)]


# -- T6 ---------------------------------------------------------------------------------------


def with_ddim(setting: int, real: float, cpd: float, prog: float, ddim: float) -> list[tuple]:
    return both(setting, real, cpd, prog) + [(setting, "DDIM", 0, real, ddim)]


def test_t6_counts_a_tie_as_not_below_and_needs_most_points() -> None:
    # DDIM above at 20, tied at 6, below at 2: not below at 2 of 3 points.
    results = table(with_ddim(20, 0.8, 0.70, 0.6, 0.72) + with_ddim(6, 0.8, 0.70, 0.6, 0.70)
                    + with_ddim(2, 0.8, 0.70, 0.6, 0.65))
    verdict = claims.t6_diffusion_not_below_cpd(results)
    assert verdict.holds and (verdict.numbers["first_ahead"], verdict.numbers["points"]) == (2, 3)
    assert "DDIM's AUROC is not below cpD-GAN's at 2 of 3 points" in verdict.text
    worse = table(with_ddim(20, 0.8, 0.70, 0.6, 0.60) + with_ddim(6, 0.8, 0.70, 0.6, 0.70))
    assert not claims.t6_diffusion_not_below_cpd(worse).holds  # 1 of 2 is not most


def test_t6_is_checked_only_where_the_diffusion_model_ran() -> None:
    gans = table(both(20, 0.8, 0.7, 0.6) + both(2, 0.9, 0.8, 0.7))
    assert "T6" not in {v.claim for v in claims.check_benchmark(gans, "classes")}
    three = table(with_ddim(20, 0.8, 0.7, 0.6, 0.75) + with_ddim(2, 0.9, 0.8, 0.7, 0.85))
    verdicts = claims.check_benchmark(three, "classes")
    t6 = [v for v in verdicts if v.claim == "T6"]
    assert len(t6) == 1 and t6[0].holds and t6[0].scope == "chest classes"
    matrix = claims.claims_matrix(claims.side_by_side(verdicts, {}))
    assert ("T6", "DDIM vs cpD-GAN") in matrix.index and ("T1", "cpD-GAN vs prog-GAN") in matrix.index


# -- T1 ---------------------------------------------------------------------------------------


def test_t1_holds_when_cpd_wins_most_points() -> None:
    results = table(both(20, 0.8, 0.75, 0.70) + both(6, 0.85, 0.80, 0.82) + both(2, 0.9, 0.88, 0.85))
    verdict = claims.t1_cpd_above_prog(results)
    assert verdict.holds and verdict.decided and verdict.status == "holds"
    assert (verdict.numbers["first_ahead"], verdict.numbers["points"]) == (2, 3)
    assert "2 of 3 points" in verdict.text


def test_t1_fails_when_cpd_wins_half_or_fewer() -> None:
    results = table(both(20, 0.8, 0.75, 0.70) + both(6, 0.85, 0.80, 0.82))  # 1 of 2: not "most"
    verdict = claims.t1_cpd_above_prog(results)
    assert not verdict.holds and verdict.status == "does not hold"
    assert claims.why_may_differ(verdict, "cpu").startswith("This may differ")


def test_t1_averages_seeds_first() -> None:
    # cpD loses seed 1 but wins on the mean over seeds; counting runs would give 1 of 2.
    results = table(both(20, 0.8, 0.80, 0.70, seed=0) + both(20, 0.8, 0.70, 0.72, seed=1))
    verdict = claims.t1_cpd_above_prog(results)
    assert verdict.numbers["points"] == 1 and verdict.holds
    assert verdict.numbers["mean_difference"] == pytest.approx(0.04)


def test_t1_per_modality_and_undecided_without_both_generators() -> None:
    chest = table(both(20, 0.8, 0.75, 0.70))
    brain = table(both(10, 0.8, 0.60, 0.70), modality="brain")
    results = pd.concat([chest, brain])
    assert claims.t1_cpd_above_prog(results, "chest").holds
    assert not claims.t1_cpd_above_prog(results, "brain").holds
    only_cpd = results[results["generator"] == "cpD-GAN"]
    verdict = claims.t1_cpd_above_prog(only_cpd)
    assert not verdict.decided and not verdict.holds and verdict.status == "undecided"


# -- T2 ---------------------------------------------------------------------------------------


def test_t2_holds_when_the_gap_shrinks_with_fewer_combinations() -> None:
    results = table(
        [
            (20, "cpD-GAN", 0, 0.80, 0.70, 0.07, 0.13),
            (6, "cpD-GAN", 0, 0.85, 0.80, 0.0, 0.1),
            (2, "cpD-GAN", 0, 0.95, 0.94, 0.0, 0.02),
        ]
    )
    verdict = claims.t2_fewer_classes_smaller_gap(results, "chest")
    assert verdict.holds
    assert verdict.numbers["setting_low"] == 2 and verdict.numbers["setting_high"] == 20
    assert verdict.numbers["gap_low"] == pytest.approx(0.01) and verdict.numbers["gap_high"] == pytest.approx(0.10)
    assert verdict.numbers["resolved"] is True  # [0, 0.02] and [0.07, 0.13] are disjoint


def test_t2_fails_when_the_gap_grows_with_fewer_combinations() -> None:
    results = table([(20, "cpD-GAN", 0, 0.80, 0.78, -0.02, 0.06), (2, "cpD-GAN", 0, 0.95, 0.85, 0.0, 0.15)])
    verdict = claims.t2_fewer_classes_smaller_gap(results, "chest")
    assert not verdict.holds
    assert verdict.numbers["resolved"] is False
    assert "overlap" in claims.why_may_differ(verdict)


def test_t2_uses_the_requested_generator_and_needs_two_settings() -> None:
    results = table(
        [
            (20, "cpD-GAN", 0, 0.8, 0.7),
            (2, "cpD-GAN", 0, 0.9, 0.89),
            (20, "prog-GAN", 0, 0.8, 0.79),
            (2, "prog-GAN", 0, 0.9, 0.7),
        ]
    )
    assert claims.t2_fewer_classes_smaller_gap(results, generator="cpD-GAN").holds
    assert not claims.t2_fewer_classes_smaller_gap(results, generator="prog-GAN").holds
    single = claims.t2_fewer_classes_smaller_gap(results[results["setting"] == 20])
    assert not single.decided


# -- T3 ---------------------------------------------------------------------------------------


def samples_table(real: list[float], synthetic: list[float]) -> pd.DataFrame:
    settings = [5950, 1000, 200]
    return table(
        [(s, "cpD-GAN", 0, r, y) for s, r, y in zip(settings, real, synthetic, strict=True)], benchmark="samples"
    )


def test_t3_holds_when_synthetic_falls_earlier() -> None:
    # Over the upper half (5950 -> 1000) synthetic loses 0.08, real 0.01; over the whole range real loses more.
    verdict = claims.t3_synthetic_falls_earlier(samples_table([0.90, 0.89, 0.70], [0.85, 0.77, 0.70]))
    assert verdict.holds and verdict.numbers["earlier"] and not verdict.numbers["faster"]
    assert verdict.numbers["setting_middle"] == 1000


def test_t3_holds_when_synthetic_falls_faster() -> None:
    verdict = claims.t3_synthetic_falls_earlier(samples_table([0.90, 0.85, 0.80], [0.85, 0.81, 0.60]))
    assert verdict.holds and verdict.numbers["faster"] and not verdict.numbers["earlier"]


def test_t3_fails_when_real_falls_earlier_and_faster() -> None:
    verdict = claims.t3_synthetic_falls_earlier(samples_table([0.90, 0.80, 0.60], [0.85, 0.84, 0.80]))
    assert not verdict.holds and not verdict.numbers["earlier"] and not verdict.numbers["faster"]
    assert verdict.numbers["real_drop_all"] == pytest.approx(0.30)


# -- T4 ---------------------------------------------------------------------------------------


def test_t4_holds_when_the_gap_does_not_grow_with_resolution() -> None:
    results = table([(32, "cpD-GAN", 0, 0.8, 0.70), (64, "cpD-GAN", 0, 0.85, 0.80)], benchmark="resolution")
    assert claims.t4_resolution_gap_not_larger(results).holds
    equal = table([(32, "cpD-GAN", 0, 0.8, 0.75), (64, "cpD-GAN", 0, 0.85, 0.80)], benchmark="resolution")
    assert claims.t4_resolution_gap_not_larger(equal).holds  # "not larger": equal gaps hold


def test_t4_fails_when_the_gap_grows_with_resolution() -> None:
    results = table([(32, "cpD-GAN", 0, 0.8, 0.78), (64, "cpD-GAN", 0, 0.85, 0.70)], benchmark="resolution")
    verdict = claims.t4_resolution_gap_not_larger(results)
    assert not verdict.holds and verdict.numbers["gap_high"] == pytest.approx(0.15)


# -- Tables -----------------------------------------------------------------------------------


def test_check_benchmark_covers_modalities_and_generators() -> None:
    results = pd.concat(
        [
            table(both(20, 0.8, 0.75, 0.7) + both(2, 0.9, 0.89, 0.8)),
            table(both(10, 0.8, 0.7, 0.6) + both(2, 0.9, 0.86, 0.85), modality="brain"),
        ]
    )
    verdicts = claims.check_benchmark(results, "classes")
    assert [v.claim for v in verdicts] == ["T1", "T1", "T2", "T2", "T2", "T2"]
    frame = claims.verdict_table(verdicts, "cpu")
    assert list(frame["status"]) == ["holds"] * 6
    assert (frame["why it may differ"] == "").all()
    with pytest.raises(ValueError, match="unknown benchmark"):
        claims.check_benchmark(results, "colours")


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="auc_synthetic"):
        claims.seed_means(
            pd.DataFrame(
                {"modality": ["chest"], "setting": [2], "generator": ["cpD-GAN"], "auc_real": [0.9], "gap": [0.1]}
            )
        )


def test_paper_values_support_the_papers_own_t1_and_t2() -> None:
    # paper-spec §6 trends 1 and 2: cpD-GAN above prog-GAN at every point; fewer classes, smaller gap.
    for benchmark in ("classes", "samples"):
        verdicts = claims.paper_verdicts(benchmark)
        t1 = [v for v in verdicts.values() if v.claim == "T1"]
        assert len(t1) == 2 and all(v.holds and v.numbers["share"] == 1.0 for v in t1)
    assert all(v.holds for v in claims.paper_verdicts("classes").values())
    assert claims.paper_verdicts("resolution") == {}
    values = paper_values()
    assert set(values["series"]) == {"real", "cpD-GAN", "prog-GAN"}
    results = paper_as_results("chest", "classes")
    assert len(results) == 2 * 6 and not results["gap"].map(math.isnan).any()


def test_paper_verdicts_can_be_restricted_to_our_settings() -> None:
    # The paper's chest prog-GAN gaps: 0.086 at 20 combinations, 0.046 at 6, 0.013 at 2 (paper-spec §6).
    restricted = claims.paper_verdicts("classes", settings={"chest": (20, 6)})
    t2 = restricted["T2", "chest classes, prog-GAN"]
    assert (t2.numbers["setting_low"], t2.numbers["setting_high"]) == (6, 20)
    assert t2.numbers["gap_low"] == pytest.approx(0.046)
    assert not any(scope.startswith("brain") for _, scope in restricted)


def test_markdown_and_side_by_side_show_status_numbers_and_reasons() -> None:
    results = table(both(20, 0.8, 0.75, 0.7) + both(2, 0.9, 0.7, 0.85))  # T2 fails for cpD-GAN, holds for prog
    verdicts = claims.check_benchmark(results, "classes")
    paper = claims.paper_verdicts("classes", settings={"chest": (20, 2)})
    text = claims.verdicts_markdown(verdicts, "cpu", paper)
    assert "- chest classes, cpD-GAN: **does not hold**." in text
    assert "- chest classes, prog-GAN: **holds**." in text
    assert "On the paper's published values it holds" in text
    assert text.count("This may differ from the paper") == 2  # T1 (1 of 2 points) and T2 for cpD-GAN
    assert "phantoms" in text and "phantoms" not in claims.verdicts_markdown(verdicts, "cpu", paper, real_data=True)
    frame = claims.side_by_side(verdicts, paper)
    assert list(frame["ours"]) == ["does not hold", "does not hold", "holds"]
    assert list(frame["paper"]) == ["holds", "holds", "holds"]
    assert claims.side_by_side(verdicts, {})["paper"].eq("no published values").all()


def test_synthetic_signal_counts_runs_above_chance_per_generator() -> None:
    results = table(both(20, 0.8, 0.70, 0.52) + both(2, 0.9, 0.60, 0.49))
    results["auc_synthetic_low"] = results["auc_synthetic"] - 0.05  # 0.65, 0.47 | 0.55, 0.44
    signal = claims.synthetic_signal(results)
    cpd, prog = signal.loc[("chest", "cpD-GAN")], signal.loc[("chest", "prog-GAN")]
    assert cpd["runs"] == 2 and cpd["runs above chance"] == 2
    assert prog["runs above chance"] == 0 and prog["synthetic AUROC (max)"] == 0.52
    assert math.isclose(cpd["real AUROC (mean)"], 0.85) and math.isclose(cpd["synthetic AUROC (mean)"], 0.65)
    with pytest.raises(ValueError, match="auc_synthetic_low"):
        claims.synthetic_signal(table(both(20, 0.8, 0.7, 0.6)))


def test_the_claims_matrix_puts_ours_beside_the_paper_per_benchmark_modality_and_generator() -> None:
    side = pd.DataFrame([
        {"claim": "T1", "scope": "chest classes", "ours": "holds", "paper": "does not hold"},
        {"claim": "T2", "scope": "chest classes, cpD-GAN", "ours": "undecided", "paper": "holds"},
        {"claim": "T2", "scope": "brain classes, prog-GAN", "ours": "does not hold", "paper": "holds"},
        {"claim": "T4", "scope": "chest resolution, cpD-GAN", "ours": "holds", "paper": "no published values"},
    ])
    matrix = claims.claims_matrix(side)
    assert list(matrix.index) == [("T1", "cpD-GAN vs prog-GAN"), ("T2", "cpD-GAN"), ("T2", "prog-GAN"),
                                  ("T4", "cpD-GAN")]
    assert matrix.loc[("T1", "cpD-GAN vs prog-GAN"), ("classes", "chest")] == "✓ / ✗"
    assert matrix.loc[("T2", "cpD-GAN"), ("classes", "chest")] == "? / ✓"
    assert matrix.loc[("T2", "prog-GAN"), ("classes", "brain")] == "✗ / ✓"
    assert matrix.loc[("T4", "cpD-GAN"), ("resolution", "chest")] == "✓ / –"
    assert matrix.loc[("T2", "cpD-GAN"), ("classes", "brain")] == ""  # not checked there
