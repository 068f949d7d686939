"""GAN training loop, Fréchet distance, checkpoints, resume and sampling, on a tiny square phantom."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from synthmed import cache
from synthmed.features import domain_feature_extractor
from synthmed.gan.config import GANConfig, build
from synthmed.gan.frechet import (
    DownsampledPixels,
    feature_statistics,
    frechet_distance,
    module_feature_extractor,
)
from synthmed.gan.sample import sample
from synthmed.gan.train import (
    TrainResult,
    load_checkpoint,
    load_generator,
    read_log,
    train_gan,
    train_gan_cached,
)
from tests.racing import race

torch.set_num_threads(1)

R = 16
N_LABELS = 4
PIXELS = DownsampledPixels(4)  # 16-d features: fast, and they see where the square is
Data = tuple[np.ndarray, np.ndarray]  # uint8 images (N, R, R), 0/1 labels (N, L)
Trained = tuple[GANConfig, TrainResult]


def squares(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 images (n, 16, 16): a bright 6x6 square in the quadrant its one-hot label names, dark noise."""
    rng = np.random.default_rng(seed)
    labels = np.eye(N_LABELS, dtype=np.float32)[rng.integers(0, N_LABELS, n)]
    images = rng.integers(10, 31, (n, R, R))
    for i, k in enumerate(labels.argmax(axis=1)):
        top, left = (k // 2) * R // 2 + 1, (k % 2) * R // 2 + 1
        images[i, top : top + 6, left : left + 6] += 200
    return images.astype(np.uint8), labels


def narrow(arch: str, **changes: object) -> GANConfig:
    """The tiny profile made narrower and faster for tests: 16 channels, latent 16, minibatch 16."""
    base = GANConfig.tiny(arch, R, N_LABELS)
    minibatch = {res: 16 for res in base.minibatch}
    return dataclasses.replace(base, fmap_base=64, fmap_max=16, latent=16, minibatch=minibatch, **changes)


def state_dicts(path: Path) -> dict[str, object]:
    checkpoint = load_checkpoint(path)
    return {name: checkpoint[name] for name in ("G", "D", "G_ema", "opt_G", "opt_D", "rng", "progress")}


def assert_identical(a: object, b: object, where: str = "") -> None:
    """Exact equality of nested checkpoint contents (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            if key != "train_seconds":  # wall time, the only thing allowed to differ
                assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def data() -> Data:
    return squares(384)


# ----------------------------------------------------------------------------
# Fréchet distance.


def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_shifted_copy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))  # correlated features
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-9)


def test_frechet_distance_matches_the_sqrtm_formula() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8)) + 0.3
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    trace_sqrt = np.trace(scipy.linalg.sqrtm(cov_a @ cov_b).real)
    expected = (mu_a - mu_b) @ (mu_a - mu_b) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(feature_statistics(a), b) == frechet_distance(a, b)


def test_frechet_distance_refuses_mismatched_or_too_few_features() -> None:
    with pytest.raises(ValueError, match="differ in dimension: 3 and 4"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"N >= 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_a_local_feature_module_sees_tiled_resized_normalised_images() -> None:
    # Stand-in for a local Inception: 2x2 average pooling per channel -> 12 features.
    module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    extract = module_feature_extractor(module, name="pool", input_size=8, batch_size=3, device="cpu")
    images = np.zeros((5, R, R), np.uint8)
    images[:, :, R // 2 :] = 255  # right half white
    features = extract(images).reshape(5, 3, 2, 2)  # (N, channel, row, column)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    white, black = ((1 - mean) / std)[:, None], (-mean / std)[:, None]  # (3, 1): per channel
    np.testing.assert_allclose(features[:, :, :, 1], np.broadcast_to(white, (5, 3, 2)), rtol=1e-5)
    np.testing.assert_allclose(features[:, :, :, 0], np.broadcast_to(black, (5, 3, 2)), rtol=1e-5)


def test_domain_feature_extractor_trains_once_and_returns_features(tmp_path: Path) -> None:
    from synthmed.classify.models import ClassifierConfig

    images, labels = squares(160, seed=3)
    config = ClassifierConfig.tiny(max_epochs=1, epoch_images=96)
    first = domain_feature_extractor(images, labels, R, tmp_path, seed=0, config=config, device="cpu")
    second = domain_feature_extractor(images, labels, R, tmp_path, seed=0, config=config, device="cpu")
    features = first(images[:10])
    assert features.ndim == 2 and features.shape[0] == 10 and np.isfinite(features).all()
    np.testing.assert_array_equal(second(images[:10]), features)  # the cached classifier, same features
    assert first.name == second.name and len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1
    with pytest.raises(ValueError, match="expected 32x32 images, got 16x16"):
        domain_feature_extractor(images, labels, 32, tmp_path, seed=0, config=config)


# ----------------------------------------------------------------------------
# A short cpD-GAN run shared by several tests.


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data: Data) -> Trained:
    images, labels = data
    config = dataclasses.replace(GANConfig.tiny("cpdgan", R, N_LABELS), total_kimg=1.0, min_fid_kimg=0.25,
                                 fid_every_kimg=0.25, patience=10)
    run_dir = tmp_path_factory.mktemp("cpdgan")
    result = train_gan(config, images, labels, run_dir, seed=0, extractor=PIXELS, device="cpu", fd_images=256)
    return config, result


def test_training_lowers_the_frechet_distance(trained: Trained, data: Data) -> None:
    config, result = trained
    images, labels = data
    assert result.finished and result.stop_reason == "total_kimg" and result.kimg >= config.total_kimg
    G_init, _ = build(config, seed=0)  # the run's initial generator (G_ema starts as a copy)
    real = PIXELS(images)
    fd_start = frechet_distance(real, PIXELS(sample(G_init, labels, seed=5)))
    fd_end = frechet_distance(real, PIXELS(sample(result.best_checkpoint, labels, seed=5, device="cpu")))
    assert fd_end < 0.75 * fd_start, (fd_start, fd_end)  # 0.33-0.67 over six seeds
    fd_records = [r for r in read_log(result.log_path) if r["kind"] == "fd"]
    assert result.best_fd == min(r["fd"] for r in fd_records)


def test_the_log_has_start_ticks_distances_checkpoints_and_stop(trained: Trained) -> None:
    config, result = trained
    records = read_log(result.log_path)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "stop" and records[-1]["reason"] == "total_kimg"
    ticks = [r for r in records if r["kind"] == "tick"]
    assert len(ticks) >= 4 and all(r["kimg"] > 0 for r in ticks)
    for name in ("Loss/D/loss", "Loss/D/gp", "Loss/D/drift", "Loss/G/loss", "Timing/img_per_sec"):
        assert all(np.isfinite(r[name]) for r in ticks), name
    assert "Loss/D/ac_real" not in ticks[0]  # cpD-GAN has no auxiliary classifier
    fd_kimg = [r["kimg"] for r in records if r["kind"] == "fd"]
    assert fd_kimg == sorted(fd_kimg) and fd_kimg[0] >= config.min_fid_kimg and len(fd_kimg) == 4
    assert [r["kimg"] for r in ticks] == sorted(r["kimg"] for r in ticks)
    assert records[-2]["kind"] == "checkpoint"  # the final state is always saved
    grid = Image.open(result.run_dir / "reals.png")
    assert grid.size == (8 * R, N_LABELS * R)  # one row per label vector present (4), 8 columns
    assert len(list(result.run_dir.glob("fakes-*kimg.png"))) >= 4


def test_sampling_gives_one_image_per_label_vector_deterministically(trained: Trained, data: Data) -> None:
    config, result = trained
    _, labels = data
    wanted = labels[:37]
    first = sample(result.checkpoint, wanted, seed=7, batch_size=8, device="cpu")
    assert first.shape == (37, R, R) and first.dtype == np.uint8
    again = sample(result.checkpoint, wanted, seed=7, batch_size=8, device="cpu")
    np.testing.assert_array_equal(again, first)
    other_batch = sample(result.checkpoint, wanted, seed=7, batch_size=64, device="cpu")
    assert np.abs(other_batch.astype(int) - first).max() <= 1  # same latents; only float rounding may differ
    assert not np.array_equal(sample(result.checkpoint, wanted, seed=8, device="cpu"), first)
    G_ema, _ = load_generator(result.checkpoint, device="cpu")
    np.testing.assert_array_equal(sample(G_ema, wanted, seed=7, batch_size=8), first)  # module == its file
    with pytest.raises(ValueError, match=r"expected a non-empty array \(N, 4\)"):
        sample(G_ema, labels[:, :3], seed=0)
    with pytest.raises(ValueError, match="row 0, column 1: expected 0 or 1"):
        sample(G_ema, np.array([[1, 0.5, 0, 0]]), seed=0)


def test_a_checkpoint_of_another_model_or_resolution_is_refused(
    trained: Trained, data: Data, tmp_path: Path
) -> None:
    config, result = trained
    images, labels = data
    run_dir = tmp_path / "copy"
    shutil.copytree(result.run_dir, run_dir)
    progan = dataclasses.replace(GANConfig.tiny("progan", R, N_LABELS), total_kimg=1.0)
    with pytest.raises(ValueError, match=r"holds a cpdgan 16x16.* model, but this run is progan 16x16"):
        train_gan(progan, images, labels, run_dir, extractor=PIXELS, device="cpu")
    bigger = GANConfig.tiny("cpdgan", 32, N_LABELS)
    with pytest.raises(ValueError, match=r"cpdgan 16x16.* but this run is cpdgan 32x32.*in resolution"):
        load_generator(result.best_checkpoint, config=bigger)
    other_lr = dataclasses.replace(config, lr=0.001)
    with pytest.raises(ValueError, match=r"used other settings \(lr\)"):
        train_gan(other_lr, images, labels, run_dir, extractor=PIXELS, device="cpu")


# ----------------------------------------------------------------------------
# Resume, early stopping, caching, input checks.


class ExplodingExtractor:
    """PIXELS, except that call number ``fail_at`` raises, as a process killed mid-evaluation would stop."""

    name = PIXELS.name

    def __init__(self, fail_at: int) -> None:
        self.calls, self.fail_at = 0, fail_at

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt("killed")
        return PIXELS(images)


def test_kill_and_resume_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path: Path, data: Data) -> None:
    images, labels = data
    # prog-GAN from 8x8: fade-in from 64 to 128 images, full resolution after; 32 G steps in all.
    config = narrow("progan", lod_train_kimg=0.064, lod_transition_kimg=0.064, total_kimg=0.512,
                    min_fid_kimg=0.128, fid_every_kimg=0.128, patience=10)
    options = dict(seed=3, device="cpu", fd_images=128, checkpoint_every_kimg=10.0, grid_every_kimg=0)
    whole = train_gan(config, images, labels, tmp_path / "whole", extractor=PIXELS, **options)

    run_dir = tmp_path / "interrupted"
    paused = train_gan(config, images, labels, run_dir, extractor=PIXELS, max_kimg=0.1, **options)
    assert not paused.finished and paused.stop_reason == "max_kimg" and paused.kimg == pytest.approx(0.128)
    assert paused.best_checkpoint is None and paused.checkpoint == paused.last_checkpoint  # no evaluation yet
    with pytest.raises(KeyboardInterrupt):  # dies at its 2nd evaluation, 64 images past its last checkpoint
        train_gan(config, images, labels, run_dir, extractor=ExplodingExtractor(fail_at=3), **options)
    assert load_checkpoint(run_dir / "last.pt")["progress"]["nimg"] == 192
    resumed = train_gan(config, images, labels, run_dir, extractor=PIXELS, **options)

    assert resumed.finished and resumed.kimg == whole.kimg and resumed.best_fd == whole.best_fd
    assert_identical(state_dicts(whole.last_checkpoint), state_dicts(resumed.last_checkpoint))
    best = [load_checkpoint(r.best_checkpoint)["G_ema"] for r in (whole, resumed)]
    assert_identical(best[0], best[1])
    distances = [[(r["kimg"], r["fd"]) for r in read_log(path) if r["kind"] == "fd"]
                 for path in (whole.log_path, resumed.log_path)]
    assert distances[0] == distances[1] and len(distances[0]) == 4  # records of the dead run were dropped
    again = train_gan(config, images, labels, run_dir, extractor=PIXELS, **options)
    assert again.from_cache and again.images_per_second == 0.0


class WorseningExtractor:
    """Features whose mean moves further from the reals' at every evaluation: the distance never improves."""

    name = "worsening"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        features = PIXELS(images)
        return features if self.calls == 1 else features + 10.0 * self.calls  # call 1: the reals


def test_early_stopping_after_patience_evaluations_without_improvement(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = narrow("cpdgan", total_kimg=2.0, min_fid_kimg=0.064, fid_every_kimg=0.064, patience=2)
    options = dict(seed=0, cache_dir=tmp_path, device="cpu", fd_images=64)
    result = train_gan_cached(config, images, labels, extractor=WorseningExtractor(), **options)
    fd = [r for r in read_log(result.log_path) if r["kind"] == "fd"]
    assert result.finished and result.stop_reason == "patience"
    assert [r["improved"] for r in fd] == [True, False, False]
    assert result.kimg == pytest.approx(3 * 0.064) and result.best_kimg == pytest.approx(0.064)
    assert load_checkpoint(result.best_checkpoint)["progress"]["nimg"] == 64
    # Stopped by the patience: the best network is sampled (the original's network-final.pkl).
    assert result.sampled == "best" and result.checkpoint == result.best_checkpoint
    assert result.sampled_kimg == pytest.approx(0.064)
    # The same call again finds the finished run in the cache and trains nothing.
    again = train_gan_cached(config, images, labels, extractor=WorseningExtractor(), **options)
    assert again.from_cache and again.run_dir == result.run_dir and again.best_fd == result.best_fd
    with pytest.raises(ValueError, match="needs a `name` attribute"):
        train_gan_cached(config, images, labels, extractor=lambda x: PIXELS(x), cache_dir=tmp_path)


def test_bad_training_data_is_refused(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = narrow("cpdgan")
    with pytest.raises(ValueError, match=r"images: expected uint8 \(N, 16, 16\)"):
        train_gan(config, images[:, :8, :8], labels, tmp_path, extractor=PIXELS)
    with pytest.raises(ValueError, match=r"labels: expected a non-empty array \(384, 4\)"):
        train_gan(config, images, labels[:10], tmp_path, extractor=PIXELS)
    bad = labels.copy()
    bad[5, 2] = -1
    with pytest.raises(ValueError, match="labels row 5, column 2: expected 0 or 1"):
        train_gan(config, images, bad, tmp_path, extractor=PIXELS)


# ----------------------------------------------------------------------------
# Corrupt checkpoints and logs, and two trainers on one run.


def quick(**changes: object) -> GANConfig:
    """A cpD-GAN that evaluates twice and stops at 0.256 kimg."""
    return narrow("cpdgan", **{"total_kimg": 0.256, "min_fid_kimg": 0.128, "fid_every_kimg": 0.128,
                               "patience": 5, **changes})


QUICK = dict(seed=1, device="cpu", fd_images=64, grid_every_kimg=0)


def damage(path: Path, how: str) -> None:
    """Truncate the file, or overwrite 4 KB in its middle with random bytes (same size)."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[: len(data) - 4096])
    else:
        middle = len(data) // 2
        data[middle : middle + 4096] = np.random.default_rng(0).bytes(4096)
        path.write_bytes(data)


@pytest.mark.parametrize("how", ["truncate", "garble"])
@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_a_corrupt_checkpoint_is_reported_and_the_run_trained_again(
    tmp_path: Path, data: Data, caplog: pytest.LogCaptureFixture, name: str, how: str
) -> None:
    images, labels = data
    config = quick()
    first = train_gan(config, images, labels, tmp_path / "run", extractor=PIXELS, **QUICK)
    weights = state_dicts(first.last_checkpoint)
    damage(tmp_path / "run" / name, how)
    with pytest.raises(ValueError, match=f"{tmp_path / 'run' / name}: not a usable GAN checkpoint"):
        load_checkpoint(tmp_path / "run" / name)
    with caplog.at_level("WARNING", logger="synthmed"):
        again = train_gan(config, images, labels, tmp_path / "run", extractor=PIXELS, **QUICK)
    assert str(tmp_path / "run" / name) in caplog.text and "corrupt" in caplog.text
    assert not again.from_cache and again.finished and again.best_fd == first.best_fd
    assert_identical(weights, state_dicts(again.last_checkpoint))
    assert [r["kind"] for r in read_log(again.log_path)].count("start") == 1  # the old log went with it


def test_a_half_written_last_log_line_is_dropped_on_resume(
    tmp_path: Path, data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    images, labels = data
    config = quick()
    run_dir = tmp_path / "run"
    train_gan(config, images, labels, run_dir, extractor=PIXELS, max_kimg=0.1, **QUICK)
    with open(run_dir / "log.jsonl", "a") as handle:
        handle.write('{"kind": "tick", "nimg": 1')  # a process killed while appending
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    stale = run_dir / f".last.pt.tmp-{cache._HOST}-{killed.pid}-00ff"  # ... or while saving a checkpoint
    stale.write_bytes(b"partial")
    with caplog.at_level("WARNING", logger="synthmed"):
        resumed = train_gan(config, images, labels, run_dir, extractor=PIXELS, **QUICK)
    assert resumed.finished and f"{run_dir / 'log.jsonl'}: dropping its half-written last line" in caplog.text
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses
    assert [r["kind"] for r in records].count("resume") == 1 and records[-1]["kind"] == "stop"
    assert not stale.exists()


def _train_in_child(cache_dir: str, start, results) -> None:
    torch.set_num_threads(1)
    images, labels = squares(384)
    start.wait()  # both processes find the cache empty
    try:
        result = train_gan_cached(quick(), images, labels, **dict(QUICK, cache_dir=Path(cache_dir), extractor=PIXELS))
        results.put(("ok", result.from_cache, str(result.log_path)))
    except BaseException as error:  # noqa: BLE001 - reported to the test
        results.put(("error", f"{type(error).__name__}: {error}", ""))


def test_two_processes_on_one_run_train_it_once_and_log_each_record_once(tmp_path: Path) -> None:
    """The issue's race between processes (the thread test below is faster and checks more)."""
    outcomes = race(_train_in_child, str(tmp_path))
    assert [status for status, _, _ in outcomes] == ["ok", "ok"], outcomes
    assert sorted(from_cache for _, from_cache, _ in outcomes) == [False, True]
    records = [(r["kind"], r["nimg"]) for r in read_log(Path(outcomes[0][2]))]
    assert len(records) == len(set(records)) and [kind for kind, _ in records].count("start") == 1


def test_two_trainers_on_one_run_train_it_once_and_log_each_record_once(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = quick()
    options = dict(QUICK, cache_dir=tmp_path, extractor=PIXELS)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: train_gan_cached(config, images, labels, **options), range(2)))
    assert sorted(r.from_cache for r in results) == [False, True]  # one trained, the other waited, then read
    assert results[0].run_dir == results[1].run_dir and results[0].best_fd == results[1].best_fd
    records = [(r["kind"], r["nimg"]) for r in read_log(results[0].log_path)]
    assert len(records) == len(set(records)) and [kind for kind, _ in records].count("start") == 1


# ----------------------------------------------------------------------------
# Which network is sampled, and the evaluation's reals.


def test_a_run_that_reaches_total_kimg_with_patience_to_spare_samples_its_last_network(
    trained: Trained, data: Data
) -> None:
    config, result = trained
    _, labels = data
    assert result.stop_reason == "total_kimg" and config.patience == 10  # 4 evaluations cannot spend it
    assert result.sampled == "last" and result.checkpoint == result.last_checkpoint
    assert result.sampled_kimg == result.kimg
    last = sample(result.last_checkpoint, labels[:16], seed=1, device="cpu")
    np.testing.assert_array_equal(sample(result.checkpoint, labels[:16], seed=1, device="cpu"), last)
    if result.best_kimg != result.kimg:  # best.pt is another network: its images differ
        assert not np.array_equal(sample(result.best_checkpoint, labels[:16], seed=1, device="cpu"), last)


@pytest.mark.parametrize(("patience", "sampled"), [(2, "best"), (3, "last")])
def test_patience_spent_at_the_final_evaluation_samples_the_best_network(
    tmp_path: Path, data: Data, patience: int, sampled: str
) -> None:
    # Evaluations at 64, 128 and 192 images, the last at total_kimg: improved, worse, worse. The
    # original counts that last evaluation against the patience: with 2 it stops there on FID and
    # keeps the best network; with 3 it reaches total_kimg and saves the last one.
    images, labels = data
    config = narrow("cpdgan", total_kimg=0.192, min_fid_kimg=0.064, fid_every_kimg=0.064, patience=patience)
    result = train_gan(config, images, labels, tmp_path, extractor=WorseningExtractor(), device="cpu",
                       fd_images=64, grid_every_kimg=0)
    assert [r["improved"] for r in read_log(result.log_path) if r["kind"] == "fd"] == [True, False, False]
    assert result.finished and result.kimg == pytest.approx(0.192)
    assert result.sampled == sampled
    expected = result.best_checkpoint if sampled == "best" else result.last_checkpoint
    assert result.checkpoint == expected
    assert result.sampled_kimg == pytest.approx(0.064 if sampled == "best" else 0.192)


class RecordingExtractor:
    """PIXELS, remembering every batch of images it was given."""

    name = PIXELS.name

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.seen.append(images.copy())
        return PIXELS(images)


def test_fresh_evaluation_reals_are_drawn_anew_each_time_and_fixed_ones_once(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = narrow("cpdgan", total_kimg=0.192, min_fid_kimg=0.064, fid_every_kimg=0.064, patience=10)
    options = dict(device="cpu", fd_images=64, grid_every_kimg=0)
    runs = {}
    for mode in ("fixed", "fresh"):
        extract = RecordingExtractor()
        runs[mode] = (train_gan(config, images, labels, tmp_path / mode, extractor=extract, fd_reals=mode,
                                monitors={"coarse": DownsampledPixels(2)}, **options), extract.seen)
    fixed, fresh = runs["fixed"][1], runs["fresh"][1]
    # fixed: the reals once, then the fakes of each of 3 evaluations; fresh: reals and fakes each time.
    assert len(fixed) == 1 + 3 and len(fresh) == 2 * 3
    reals = [fresh[0], fresh[2], fresh[4]]
    assert all(not np.array_equal(a, b) for a, b in ((reals[0], reals[1]), (reals[1], reals[2])))
    np.testing.assert_array_equal(reals[0], fixed[0])  # draw 0 is the fixed draw
    np.testing.assert_array_equal(fresh[1], fixed[1])  # so the first evaluation is the same
    assert not np.array_equal(fresh[3], fixed[2])  # later ones use new latents too
    # The monitor is logged at every evaluation and kept at the best one; it does not steer the run.
    result = runs["fresh"][0]
    fd = [r for r in read_log(result.log_path) if r["kind"] == "fd"]
    assert all(set(r["monitors"]) == {"coarse"} and r["monitors"]["coarse"] >= 0 for r in fd)
    best = next(r for r in fd if r["kimg"] == result.best_kimg)
    assert result.monitors_at_best == best["monitors"]
    with pytest.raises(ValueError, match="fd_reals: expected one of fixed, fresh"):
        train_gan(config, images, labels, tmp_path / "bad", extractor=PIXELS, fd_reals="new", **options)


def test_fresh_evaluations_resume_exactly(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = narrow("cpdgan", total_kimg=0.256, min_fid_kimg=0.064, fid_every_kimg=0.064, patience=10)
    options = dict(seed=1, device="cpu", fd_images=64, grid_every_kimg=0, fd_reals="fresh")
    whole = train_gan(config, images, labels, tmp_path / "whole", extractor=PIXELS, **options)
    run_dir = tmp_path / "paused"
    paused = train_gan(config, images, labels, run_dir, extractor=PIXELS, max_kimg=0.13, **options)
    assert paused.sampled == "best" and paused.checkpoint == paused.best_checkpoint  # network-final.pkl mid-run
    resumed = train_gan(config, images, labels, run_dir, extractor=PIXELS, **options)
    distances = [[(r["kimg"], r["fd"]) for r in read_log(path) if r["kind"] == "fd"]
                 for path in (whole.log_path, resumed.log_path)]
    assert distances[0] == distances[1] and len(distances[0]) == 4
    assert_identical(state_dicts(whole.last_checkpoint), state_dicts(resumed.last_checkpoint))


def test_the_cache_key_keeps_old_runs_and_tells_fresh_reals_and_monitors_apart(tmp_path: Path, data: Data) -> None:
    images, labels = data
    config = narrow("cpdgan", total_kimg=0.064, min_fid_kimg=0.064, fid_every_kimg=0.064)
    options = dict(cache_dir=tmp_path, device="cpu", fd_images=32, grid_every_kimg=0, extractor=PIXELS)
    plain = train_gan_cached(config, images, labels, **options)
    from synthmed.config import stable_hash
    from synthmed.gan.train import CACHE_VERSION, data_digest

    old_key = stable_hash("gan", CACHE_VERSION, config.to_dict(), 0, data_digest(images, labels), PIXELS.name, 32)
    assert plain.run_dir.name == old_key  # runs cached before these options keep their place
    assert train_gan_cached(config, images, labels, fd_reals="fixed", monitors={}, **options).from_cache
    fresh = train_gan_cached(config, images, labels, fd_reals="fresh", **options)
    monitored = train_gan_cached(config, images, labels, monitors={"coarse": DownsampledPixels(2)}, **options)
    assert len({plain.run_dir, fresh.run_dir, monitored.run_dir}) == 3
    with pytest.raises(ValueError, match="each monitor needs a `name`"):
        train_gan_cached(config, images, labels, monitors={"x": lambda x: PIXELS(x)}, **options)
