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
    assert set(copied) == set(panels.DOMAIN_COLUMNS) == set(fresh)
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


# -- the fidelity panel in Inception features (the paper profile's) -----------------------------


def _projection(seed: int, dim: int):
    """A stand-in feature extractor: a fixed random projection of the pixels, uint8 (N, R, R) -> (N, dim)."""

    def extract(images: np.ndarray) -> np.ndarray:
        flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0
        return flat @ np.random.default_rng(seed).normal(size=(flat.shape[1], dim))

    return extract


def _point_images() -> tuple[dict, dict]:
    rng = np.random.default_rng(0)

    def images(n: int, shift: int = 0) -> np.ndarray:
        return np.clip(rng.integers(0, 200, size=(n, 6, 6)) + shift, 0, 255).astype(np.uint8)

    arrays = {split: (images(n), np.zeros((n, 2), np.int8)) for split, n in (("train", 90), ("val", 30), ("test", 40))}
    return arrays, {"train": images(90, shift=30), "test": images(40, shift=30)}


@pytest.fixture
def stand_ins(tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A scratch cache; the classifier's features and the Inception's replaced by pixel projections; returns the
    images each extractor was given."""
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    seen = {"domain": 0, "inception": 0}
    domain, inception = _projection(1, 8), _projection(2, 16)

    def extract_features(model, images):
        seen["domain"] += len(images)
        return domain(images)

    def extractor(device="auto"):
        def extract(images):
            seen["inception"] += len(images)
            return inception(images)

        return extract

    monkeypatch.setattr("synthmed.classify.train.extract_features", extract_features)
    monkeypatch.setattr(panels, "inception_extractor", extractor)
    return seen


def test_inception_columns_are_the_fidelity_panel_in_inception_features(stand_ins, monkeypatch) -> None:
    arrays, synthetic = _point_images()
    found = panels.point_panels(None, arrays, synthetic, cap=60, n_boot=20, seed=3, feature_space="stand-in",
                                inception=True)
    assert list(found) == list(panels.PANEL_COLUMNS)
    inception = _projection(2, 16)
    direct = fidelity.fidelity_panel(inception(arrays["train"][0]), inception(synthetic["train"]), cap=60, seed=3)
    assert [found[c] for c in panels.INCEPTION_COLUMNS] == pytest.approx(
        [direct.fd, direct.kid, direct.kid_std, direct.precision, direct.recall, direct.density, direct.coverage])
    assert stand_ins["inception"] == 2 * 60  # only the images the panel keeps pass through the network
    domain = _projection(1, 8)
    own = fidelity.fidelity_panel(domain(arrays["train"][0]), domain(synthetic["train"]), cap=60, seed=3)
    assert found["fd_synthetic"] == pytest.approx(own.fd) and found["fd_inception"] != pytest.approx(own.fd)

    # Cached per feature space: neither extractor runs again; without the Inception panel its columns are NaN.
    monkeypatch.setattr(panels, "inception_extractor", lambda device="auto": pytest.fail("Inception re-extracted"))
    before = dict(stand_ins)
    assert panels.point_panels(None, arrays, synthetic, cap=60, n_boot=20, seed=3, feature_space="stand-in",
                               inception=True) == pytest.approx(found)
    off = panels.point_panels(None, arrays, synthetic, cap=60, n_boot=20, seed=3, feature_space="stand-in")
    assert stand_ins == before
    assert all(np.isnan(off[c]) for c in panels.INCEPTION_COLUMNS)
    assert {c: off[c] for c in panels.DOMAIN_COLUMNS} == pytest.approx({c: found[c] for c in panels.DOMAIN_COLUMNS})


def test_without_inception_weights_the_panel_names_the_file_before_any_work(tmp_path, monkeypatch) -> None:
    import urllib.error

    import torch

    from synthmed.gan import inception

    def no_download(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    monkeypatch.setattr("synthmed.classify.train.extract_features", lambda *a: pytest.fail("features extracted"))
    inception._pool3_network.cache_clear()
    arrays, synthetic = _point_images()
    try:
        with pytest.raises(inception.InceptionUnavailable, match="pt_inception-2015-12-05-6726825d.pth") as error:
            panels.point_panels(None, arrays, synthetic, cap=60, n_boot=20, seed=3, feature_space="stand-in",
                                inception=True)
    finally:
        inception._pool3_network.cache_clear()
    assert str(inception.weights_path()) in str(error.value)


def test_only_the_paper_profile_adds_inception_panels_and_run_point_asks_for_them_before_training(
        monkeypatch) -> None:
    import dataclasses

    from synthmed import profiles
    from synthmed.experiments import point
    from synthmed.gan.inception import InceptionUnavailable

    assert {name for name in profiles.NAMES if profiles.get(name).inception_panels} == {"paper"}
    monkeypatch.setitem(profiles.PROFILES, "tiny", dataclasses.replace(profiles.TINY, inception_panels=True))
    monkeypatch.setattr(point, "_point_subset", lambda *args: (None, None, None))

    def missing(device="auto"):
        raise InceptionUnavailable("place the file pt_inception-2015-12-05-6726825d.pth")

    monkeypatch.setattr(point, "inception_extractor", missing)
    monkeypatch.setattr(point.store, "split_arrays", lambda *a, **k: pytest.fail("images loaded"))
    with pytest.raises(InceptionUnavailable, match="pt_inception"):
        point.run_point("chest", "classes", 20, "cpD-GAN", "tiny")
