"""T7 and T8 (issue 17): rank correlations of the fidelity and privacy panels with the utility gap, on hand-made
tables, both ways, and in the claims matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthmed import claims


def table(gaps, fds, attacks, modality="chest", seeds=(0,)) -> pd.DataFrame:
    rows = []
    for i, (gap, fd, attack) in enumerate(zip(gaps, fds, attacks, strict=True)):
        for seed in seeds:
            rows.append({"modality": modality, "benchmark": "classes" if i % 2 else "samples", "setting": 10 + i,
                         "generator": "cpD-GAN" if i % 3 else "prog-GAN", "seed": seed, "auc_real": 0.8,
                         "auc_synthetic": 0.8 - gap, "gap": gap, "fd_synthetic": fd, "mia_auc": attack})
    return pd.DataFrame(rows)


GAPS = np.linspace(0.02, 0.3, 12)


def test_t7_and_t8_hold_when_the_ranks_agree() -> None:
    results = table(GAPS, fds=10 * GAPS + 1, attacks=0.9 - GAPS)
    t7, t8 = claims.t7_fidelity_tracks_gap(results, "chest"), claims.t8_useful_sets_leak_more(results, "chest")
    assert t7.holds and t7.decided and t7.numbers["rho"] == pytest.approx(1.0) and t7.numbers["points"] == 12
    assert t8.holds and t8.numbers["rho"] == pytest.approx(-1.0) and t8.numbers["rho_high"] < 0
    assert "+1.00" in t7.text and "-1.00" in t8.text
    assert t7.scope == "chest all benchmarks, all generators"


def test_t7_and_t8_fail_when_the_ranks_go_the_other_way() -> None:
    results = table(GAPS, fds=5 - 10 * GAPS, attacks=0.5 + GAPS)
    t7, t8 = claims.t7_fidelity_tracks_gap(results, "chest"), claims.t8_useful_sets_leak_more(results, "chest")
    assert t7.decided and not t7.holds and t7.numbers["rho"] == pytest.approx(-1.0)
    assert t8.decided and not t8.holds and t8.numbers["rho"] == pytest.approx(1.0)


def test_a_rho_whose_interval_includes_zero_does_not_hold() -> None:
    rng = np.random.default_rng(0)
    results = table(GAPS, fds=rng.permutation(GAPS), attacks=rng.permutation(GAPS))
    t7 = claims.t7_fidelity_tracks_gap(results, "chest")
    assert t7.decided and t7.numbers["rho_low"] < 0 < t7.numbers["rho_high"] and not t7.holds
    assert "includes 0" in claims.why_may_differ(t7)


def test_seeds_are_averaged_and_too_few_points_are_undecided() -> None:
    results = table(GAPS[:3], fds=[1.0, 2.0, 3.0], attacks=[0.6, 0.55, 0.5], seeds=(0, 1))
    means = claims.point_means(results, ["fd_synthetic"])
    assert len(means) == 3 and (means["n_seeds"] == 2).all()
    two = table(GAPS[:2], fds=[1.0, 2.0], attacks=[0.6, 0.5])
    assert claims.t7_fidelity_tracks_gap(two, "chest").status == "undecided"
    old = table(GAPS, fds=GAPS, attacks=GAPS).drop(columns=["fd_synthetic", "mia_auc"])
    assert "no 'mia_auc' column" in claims.t8_useful_sets_leak_more(old, "chest").text


def test_spearman_interval_by_hand() -> None:
    found = claims.spearman_interval([1, 2, 3, 4], [1, 3, 2, 4], n_boot=200)
    assert found["rho"] == pytest.approx(0.8) and found["n"] == 4  # 1 - 6 * 2 / (4 * 15)
    assert found["low"] <= 0.8 <= found["high"]
    assert np.isnan(claims.spearman_interval([1, 1, 1], [1, 2, 3])["rho"])


def test_t7_t8_in_the_claims_matrix() -> None:
    results = table(GAPS, fds=10 * GAPS + 1, attacks=0.9 - GAPS)
    verdicts = [claims.t7_fidelity_tracks_gap(results, "chest"), claims.t8_useful_sets_leak_more(results, "chest")]
    matrix = claims.claims_matrix(claims.side_by_side(verdicts, {}))
    assert matrix.loc[("T7", "all generators"), ("all benchmarks", "chest")] == "✓ / –"
    assert matrix.loc[("T8", "all generators"), ("all benchmarks", "chest")] == "✓ / –"
