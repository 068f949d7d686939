"""The fidelity and privacy panels (issue 17): each metric on hand-computed cases (identical sets, disjoint
sets, a known shift), the membership attack's two sanity checks, and the panel columns of a result row."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed.analysis import fidelity, privacy
from synthmed.experiments import panels


def _gaussian(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


# -- KID -----------------------------------------------------------------------------------------


def test_kid_matches_the_hand_computed_unbiased_mmd() -> None:
    # D = 1, so the kernel is (x y + 1)^3. Sets {0, 1} and {0, 1}: k(0,0)=1, k(0,1)=1, k(1,1)=8;
    # (off-diagonal xx + off-diagonal yy) / (m (m - 1)) - 2 sum xy / m^2 = (2 + 2) / 2 - 2 * 11 / 4 = -3.5.
    real = np.array([[0.0], [1.0]])
    assert fidelity.kernel_distance(real, real, subsets=5, subset_size=2) == pytest.approx((-3.5, 0.0))
    # Shifted by one, {1, 2}: off-diagonal yy = 2 k(1,2) = 54, sum xy = 1 + 1 + 8 + 27 = 37: (2 + 54) / 2 - 74 / 4.
    assert fidelity.kernel_distance(real, real + 1, subsets=5, subset_size=2) == pytest.approx((9.5, 0.0))


def test_kid_near_zero_for_one_distribution_and_large_for_disjoint_sets() -> None:
    a, b = _gaussian(600, 16, 0), _gaussian(600, 16, 1)
    same, same_sd = fidelity.kernel_distance(a, b, seed=0)
    assert abs(same) < 3 * same_sd + 1e-3 and same_sd > 0  # half-size subsets differ, so their SD is not 0
    far, _ = fidelity.kernel_distance(a, _gaussian(600, 16, 1, shift=10.0), seed=0)
    near, _ = fidelity.kernel_distance(a, _gaussian(600, 16, 1, shift=0.5), seed=0)
    assert far > near > same + 3 * same_sd  # grows with the shift


def test_kid_is_seeded_and_leaves_torch_s_generator_alone() -> None:
    import torch

    a, b = _gaussian(100, 4, 0), _gaussian(100, 4, 1, shift=0.3)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = fidelity.kernel_distance(a, b, seed=7)
    assert torch.rand(1) == before
    assert fidelity.kernel_distance(a, b, seed=7) == first
    assert fidelity.kernel_distance(a, b, seed=8) != first


# -- precision, recall, density, coverage ------------------------------------------------------


def test_prdc_identical_sets_are_all_one() -> None:
    a = _gaussian(200, 8, 0)
    assert fidelity.precision_recall_density_coverage(a, a.copy()) == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0})


def test_prdc_disjoint_sets_are_all_zero() -> None:
    a = _gaussian(200, 8, 0)
    assert fidelity.precision_recall_density_coverage(a, a + 100.0) == pytest.approx(
        {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0})


def test_prdc_a_known_shift_by_hand(capsys) -> None:
    # Real 0, 1, 2, 3 and fake 1.5, 2.5, 3.5, 4.5 on a line, k = 1: every ball has radius 1.
    # precision: fakes within 1 of a real: 1.5, 2.5, 3.5 (4.5 is 1.5 from 3) -> 3/4.
    # recall: reals within 1 of a fake: 1, 2, 3 (0 is 1.5 from 1.5) -> 3/4.
    # density: real balls holding each fake: 2, 2, 1, 0 -> 5 / 4 / k = 1.25. coverage: reals whose
    # nearest fake is within their radius: 1, 2, 3 -> 3/4.
    real = np.arange(4.0)[:, None]
    found = fidelity.precision_recall_density_coverage(real, real + 1.5, k=1)
    assert found == pytest.approx({"precision": 0.75, "recall": 0.75, "density": 1.25, "coverage": 0.75})
    assert capsys.readouterr().out == ""  # prdc's print is swallowed


def test_fidelity_panel_caps_the_sets_and_orders_a_shift() -> None:
    real = _gaussian(300, 8, 0)
    close = fidelity.fidelity_panel(real, _gaussian(300, 8, 1, shift=0.1), cap=120, seed=0)
    far = fidelity.fidelity_panel(real, _gaussian(300, 8, 1, shift=2.0), cap=120, seed=0)
    assert close.n_real == close.n_fake == 120
    assert far.fd > close.fd and far.kid > close.kid
    assert far.precision < close.precision and far.coverage < close.coverage
    assert fidelity.fidelity_panel(real, real, cap=500, seed=0).fd == pytest.approx(0.0, abs=1e-9)


# -- the membership attack ----------------------------------------------------------------------


def test_auroc_and_tpr_by_hand() -> None:
    assert privacy.auroc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert privacy.auroc([1.0, 2.0], [3.0, 4.0]) == 0.0
    assert privacy.auroc([1.0, 3.0], [2.0, 2.0]) == 0.5
    assert privacy.auroc([2.0], [2.0]) == 0.5  # a tie counts half
    nonmembers = np.arange(100.0)  # 1% of 100: one non-member (99) may be flagged, so the threshold is 98
    assert privacy.tpr_at_fpr([98.5, 99.5, 50.0, 120.0], nonmembers) == 0.75
    assert privacy.tpr_at_fpr([98.5, 99.5], np.arange(50.0)) == 1.0  # 50 non-members: none may be flagged (> 49)
    assert privacy.tpr_at_fpr([49.0, 10.0], np.arange(50.0)) == 0.0


def test_attack_finds_a_generator_that_copies_its_training_images() -> None:
    members, nonmembers = _gaussian(400, 32, 0), _gaussian(400, 32, 1)
    attack = privacy.membership_attack(members, nonmembers, members.copy(), n_boot=200, seed=0)
    assert attack.auc > 0.99 and attack.auc_low > 0.98 and attack.tpr_at_low_fpr > 0.95
    assert attack.n_members == attack.n_nonmembers == 400


def test_attack_is_at_chance_on_fresh_real_images() -> None:
    members, nonmembers, fresh = _gaussian(400, 32, 0), _gaussian(400, 32, 1), _gaussian(400, 32, 2)
    attack = privacy.membership_attack(members, nonmembers, fresh, n_boot=300, seed=0)
    assert attack.auc_low < 0.5 < attack.auc_high and abs(attack.auc - 0.5) < 0.07
    assert attack.tpr_at_low_fpr < 0.05


def test_attack_balances_and_caps_the_groups() -> None:
    attack = privacy.membership_attack(_gaussian(500, 4, 0), _gaussian(80, 4, 1), _gaussian(50, 4, 2), n_boot=10)
    assert attack.n_members == attack.n_nonmembers == 80
    capped = privacy.membership_attack(_gaussian(500, 4, 0), _gaussian(80, 4, 1), _gaussian(50, 4, 2), cap=30,
                                       n_boot=0)
    assert capped.n_members == 30 and np.isnan(capped.auc_low)
    with pytest.raises(ValueError, match="at least 2 members"):
        privacy.membership_attack(_gaussian(1, 4, 0), _gaussian(80, 4, 1), _gaussian(50, 4, 2))


# -- the panel columns ---------------------------------------------------------------------------


def test_panels_of_a_copying_generator_and_of_an_honest_one() -> None:
    train, val, test = _gaussian(300, 16, 0), _gaussian(100, 16, 1), _gaussian(150, 16, 2)
    copies = {"train": train, "val": val, "test": test, "synthetic_train": train.copy(),
              "synthetic_test": train[:150].copy()}
    honest = {**copies, "synthetic_train": _gaussian(300, 16, 3), "synthetic_test": _gaussian(150, 16, 4)}
    copied = panels.compute_panels(copies, cap=200, n_boot=50, seed=0)
    fresh = panels.compute_panels(honest, cap=200, n_boot=50, seed=0)
    assert set(copied) == set(panels.PANEL_COLUMNS) == set(fresh)
    assert copied["mia_auc"] > 0.99 and copied["memorised_fraction"] == 1.0 and copied["memorised_ratio"] == 0.0
    assert abs(fresh["mia_auc"] - 0.5) < 0.1 and fresh["memorised_fraction"] < 0.2
    assert abs(copied["mia_auc_control"] - 0.5) < 0.1  # the control uses real validation images, not the copies
    assert copied["fidelity_images"] == 200 and copied["mia_images"] == 150
    assert copied["fd_synthetic"] < fresh["fd_synthetic"] and copied["kid"] < fresh["kid"]


def test_the_panel_statistics_are_leaves_the_experiments_may_import() -> None:
    """experiments.panels reaches into the analysis layer only for statistics that import nothing above the models."""
    from tests.test_architecture import imports_of

    leaves = {"synthmed.analysis.neighbours", "synthmed.analysis.fidelity", "synthmed.analysis.privacy"}
    for leaf in leaves:
        assert imports_of(leaf) <= leaves | {"synthmed.gan.frechet"}, leaf
    analysis = {m for m in imports_of("synthmed.experiments.panels") if m.startswith("synthmed.analysis")}
    assert analysis <= leaves
