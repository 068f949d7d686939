"""The diffusion generator (issue 16): training contract, exact resume after a kill, sampling, guidance, the fit
of a two-class toy set, the cache, checkpoints and the registry entry; tiny networks on 16x16 squares."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from synthmed import generators, profiles
from synthmed.diffusion.checkpoint import load_checkpoint, load_model
from synthmed.diffusion.config import DiffusionConfig
from synthmed.diffusion.sample import guided_eps, sample
from synthmed.diffusion.train import read_log, train_diffusion, train_diffusion_cached
from synthmed.gan.frechet import DownsampledPixels

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
R = 16
PIXELS = DownsampledPixels(4)


def squares(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uint8 (n, 16, 16) images on dark noise; label [1]: a bright 6x6 square in the middle, label [0]: none."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 1)) < 0.5).astype(np.float32)
    images = rng.integers(10, 31, (n, R, R))
    images[labels[:, 0] == 1, 5:11, 5:11] += 200
    return images.astype(np.uint8), labels


def quick(**changes: object) -> DiffusionConfig:
    """The tiny preset, changed: the kill test's run (3 evaluations, the 2nd one fatal) by default."""
    base = dict(total_kimg=0.768, min_fd_kimg=0.256, fd_every_kimg=0.256, patience=10)
    return dataclasses.replace(DiffusionConfig.tiny(R, 1), **{**base, **changes})


QUICK = dict(seed=3, device="cpu", fd_images=64, checkpoint_every_kimg=10.0, grid_every_kimg=0)


def state_of(path: Path) -> dict:
    checkpoint = load_checkpoint(path)
    return {key: checkpoint[key] for key in ("model", "ema", "optimizer", "rng", "progress")}


def assert_identical(a: object, b: object, where: str = "") -> None:
    """Exact equality of nested checkpoint contents (tensors bit for bit), wall time aside."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            if key != "train_seconds":
                assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return squares(512)


@pytest.fixture(scope="module")
def spec() -> generators.Generator:
    """The registry's entry (registered on import)."""
    return generators.get("DDIM")


@pytest.fixture(scope="module")
def trained(spec, data, tmp_path_factory: pytest.TempPathFactory):
    """The tiny profile's model through the registry, as a benchmark point trains it, in a fresh cache."""
    images, labels = data
    config = spec.config("tiny", R, 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHMED_HOME", str(tmp_path_factory.mktemp("diffusion-home")))
        result = spec.train(config, images, labels, seed=0, profile="tiny", domain=PIXELS, device="cpu")
        again = spec.train(config, images, labels, seed=0, profile="tiny", domain=PIXELS, device="cpu")
    return config, result, again


# ----------------------------------------------------------------------------
# The registry entry and the training record.


def test_the_registry_has_the_diffusion_model_after_the_paper_s_gans(spec) -> None:
    assert generators.names()[:3] == ("cpD-GAN", "prog-GAN", "DDIM") and not spec.in_paper
    assert "DDIM" not in generators.paper_names()  # the paper's claims still compare its two GANs
    assert "DDIM" in generators.book_names("tiny") and "DDIM" in generators.book_names("paper")
    assert "DDIM" not in generators.book_names("cpu")  # its sampling does not fit the cpu book's budget
    assert "316,000 images" in profiles.get("cpu").left_out_generators["DDIM"]
    config = spec.config("cpu", 32, 14)
    assert config == DiffusionConfig.cpu(32, 14) and spec.config("cpu", 32, 14, shared=True).total_kimg > \
        config.total_kimg  # the shared points' longer schedule, as the GANs'
    assert spec.config("tiny", R, 3, "bf16").precision == "bf16"
    assert spec.config("paper", 64, 14).sample_steps == 50


def test_a_registry_run_returns_its_log_stop_and_checkpoint_and_a_second_call_trains_nothing(trained) -> None:
    config, result, again = trained
    assert result.stop_metric == "fd_domain" and np.isfinite(result.stop_value)
    assert result.fd_domain == result.stop_value and result.train_kimg >= config.min_fd_kimg
    assert result.stop_reason in ("total_kimg", "patience") and result.train_seconds > 0
    records = read_log(result.log_path)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "start" and kinds[-1] == "stop" and "tick" in kinds and "fd" in kinds
    assert all("kimg" in r for r in records) and all(np.isfinite(r["loss"]) for r in records if r["kind"] == "tick")
    fd = [r for r in records if r["kind"] == "fd"]
    assert min(r["fd"] for r in fd) == pytest.approx(result.stop_value)
    assert {r["fd_images"] for r in fd} == {256}  # the tiny profile's Fréchet images
    # The second call found the finished run in the cache: same record, no new log line.
    assert again == result and read_log(again.log_path) == records


def test_checkpoints_load_with_weights_only(trained) -> None:
    _, result, _ = trained
    for path in sorted(Path(result.model).parent.glob("*.pt")):
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        assert checkpoint["format"] == "synthmed.diffusion.checkpoint/1" and "ema" in checkpoint


def test_a_checkpoint_that_needs_unpickling_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "synthmed.diffusion.checkpoint/1", "config": DiffusionConfig}, path)  # a class object
    with pytest.raises(ValueError, match="not a readable synthmed diffusion checkpoint"):
        load_checkpoint(path)


# ----------------------------------------------------------------------------
# Sampling and guidance.


def test_sampling_is_one_image_per_label_vector_deterministic_for_a_seed_and_batch_independent(
    spec, trained, data
) -> None:
    _, result, _ = trained
    labels = data[1][:24]
    first = spec.sample(result, labels, seed=5, device="cpu")
    assert first.shape == (24, R, R) and first.dtype == np.uint8
    np.testing.assert_array_equal(spec.sample(result, labels, seed=5, device="cpu"), first)
    assert not np.array_equal(spec.sample(result, labels, seed=6, device="cpu"), first)
    model = load_model(result.model, device="cpu")
    for batch_size in (1, 7):  # the same images up to a grey level where float rounding tips it
        other = sample(model, labels, seed=5, batch_size=batch_size).astype(int)
        assert np.abs(other - first).max() <= 1 and (other != first).mean() < 0.01
    # One image per row also for a single row.
    assert spec.sample(result, labels[:1], seed=5, device="cpu").shape == (1, R, R)


def test_guidance_zero_ignores_the_labels_and_one_is_the_conditional_prediction(trained) -> None:
    _, result, _ = trained
    model = load_model(result.model, device="cpu")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, R, R, generator=generator)
    t = torch.tensor([999, 800, 500, 300, 100, 10])
    ones, zeros = torch.ones(6, 1), torch.zeros(6, 1)
    with torch.no_grad():
        conditional, unconditional = model(x, t, ones), model(x, t, None)
        assert not torch.allclose(conditional, unconditional, atol=1e-4)  # the labels matter to this model
        assert torch.equal(guided_eps(model, x, t, ones, 1.0), conditional)
        assert torch.equal(guided_eps(model, x, t, ones, 0.0), guided_eps(model, x, t, zeros, 0.0))
        assert torch.equal(guided_eps(model, x, t, ones, 0.0), unconditional)
        # Between and beyond: eps_u + w (eps_c - eps_u), with both predictions in one batch.
        for w in (0.5, 2.5):
            expected = unconditional + w * (conditional - unconditional)
            torch.testing.assert_close(guided_eps(model, x, t, ones, w), expected, rtol=1e-4, atol=1e-5)
    # End to end: at w = 0 the images do not depend on the labels, at w = 1 they do.
    kwargs = dict(seed=2, steps=10)
    np.testing.assert_array_equal(sample(model, np.ones((8, 1)), guidance=0, **kwargs),
                                  sample(model, np.zeros((8, 1)), guidance=0, **kwargs))
    assert not np.array_equal(sample(model, np.ones((8, 1)), guidance=1, **kwargs),
                              sample(model, np.zeros((8, 1)), guidance=1, **kwargs))


def test_a_tiny_model_fits_the_two_class_toy_set_well_enough_to_train_a_classifier(trained, data) -> None:
    """A logistic regression on the pixels of samples drawn for labels [1] and [0], scored on real held-out images.

    The toy's classes differ so much that any classifier tilted either way scores an AUROC near 0 or 1, so
    beating chance alone could be luck. The control: the same samples drawn for the opposite labels (each
    still labelled as asked before) must train a classifier that is as wrong as the first is right. A model
    that ignored the labels would draw the same images both times and score the same both times.
    """
    _, result, _ = trained
    held_out, truth = squares(400, seed=99)  # real images the generator never saw
    wanted = (np.random.default_rng(1).random((400, 1)) < 0.5).astype(np.float32)

    def auroc(drawn_for: np.ndarray) -> float:
        fakes = sample(result.model, drawn_for, seed=11, device="cpu").reshape(len(wanted), -1) / 255.0
        classifier = LogisticRegression(max_iter=2000).fit(fakes, wanted[:, 0])
        return roc_auc_score(truth[:, 0], classifier.predict_proba(held_out.reshape(len(held_out), -1) / 255.0)[:, 1])

    right, swapped = auroc(wanted), auroc(1 - wanted)
    assert right > 0.9 and swapped < 0.1, f"AUROC {right:.3f} (samples for the labels), {swapped:.3f} (swapped)"


# ----------------------------------------------------------------------------
# Resume, cache, refusals.


class KillingExtractor:
    """PIXELS, except that call number ``kill_at`` kills this process (SIGKILL: no cleanup, no finally)."""

    name = PIXELS.name

    def __init__(self, kill_at: int) -> None:
        self.calls, self.kill_at = 0, kill_at

    def __call__(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return PIXELS(images)


def train_and_die(run_dir: str) -> None:
    """The killed process: the kill test's run, killed in its 2nd evaluation (its 3rd extractor call: the
    1st evaluation extracts the reals and the samples, the 2nd only the samples), after its 1st checkpoint."""
    torch.set_num_threads(1)
    images, labels = squares(512)
    train_diffusion(quick(), images, labels, run_dir, extractor=KillingExtractor(kill_at=3), **QUICK)


def test_a_run_killed_mid_training_resumes_to_the_same_weights_as_an_uninterrupted_run(
    tmp_path: Path, data
) -> None:
    images, labels = data
    whole = train_diffusion(quick(), images, labels, tmp_path / "whole", extractor=PIXELS, **QUICK)

    run_dir = tmp_path / "killed"
    code = f"from tests.test_diffusion import train_and_die; train_and_die({str(run_dir)!r})"
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert load_checkpoint(run_dir / "last.pt")["progress"]["nimg"] == 256  # the 1st evaluation's checkpoint
    assert any(r["kimg"] > 0.256 for r in read_log(run_dir / "log.jsonl"))  # it trained on before it died
    resumed = train_diffusion(quick(), images, labels, run_dir, extractor=PIXELS, **QUICK)

    assert resumed.finished and resumed.kimg == whole.kimg and resumed.best_fd == whole.best_fd
    assert_identical(state_of(whole.last_checkpoint), state_of(resumed.last_checkpoint))
    assert_identical(load_checkpoint(whole.best_checkpoint)["ema"], load_checkpoint(resumed.best_checkpoint)["ema"])
    logs = [read_log(r.log_path) for r in (whole, resumed)]
    pick = [[(r["kind"], r["kimg"], r.get("fd"), r.get("loss")) for r in log if r["kind"] in ("tick", "fd")]
            for log in logs]
    assert pick[0] == pick[1]  # the dead process's records after its checkpoint were dropped
    assert [r["kind"] for r in logs[1]].count("resume") == 1


def test_the_cache_key_holds_config_seed_data_and_extractor(tmp_path: Path, data) -> None:
    images, labels = data
    config = quick(total_kimg=0.064, min_fd_kimg=0.064, fd_every_kimg=0.064)
    options = dict(device="cpu", fd_images=32, cache_dir=tmp_path, grid_every_kimg=0)
    first = train_diffusion_cached(config, images, labels, seed=0, extractor=PIXELS, **options)
    again = train_diffusion_cached(config, images, labels, seed=0, extractor=PIXELS, **options)
    assert not first.from_cache and again.from_cache and again.images_per_second == 0.0
    assert again.run_dir == first.run_dir and again.best_fd == first.best_fd
    others = [
        train_diffusion_cached(config, images, labels, seed=1, extractor=PIXELS, **options).run_dir,
        train_diffusion_cached(dataclasses.replace(config, guidance=3.0), images, labels, seed=0, extractor=PIXELS,
                               **options).run_dir,
        train_diffusion_cached(config, images[::-1].copy(), labels[::-1].copy(), seed=0, extractor=PIXELS,
                               **options).run_dir,
        train_diffusion_cached(config, images, labels, seed=0, extractor=DownsampledPixels(8), **options).run_dir,
    ]
    assert len({first.run_dir, *others}) == 5
    with pytest.raises(ValueError, match="needs a `name`"):
        train_diffusion_cached(config, images, labels, extractor=lambda x: PIXELS(x), **options)


def test_a_bad_label_array_is_refused_naming_its_row_and_column(tmp_path: Path, data, trained) -> None:
    images, labels = data
    bad = labels.copy()
    bad[3, 0] = 2.0
    with pytest.raises(ValueError, match="row 3, column 0"):
        train_diffusion(quick(), images, bad, tmp_path / "run", extractor=PIXELS, **QUICK)
    with pytest.raises(ValueError, match="expected a non-empty array"):
        train_diffusion(quick(), images, labels[:-1], tmp_path / "run", extractor=PIXELS, **QUICK)
    assert not (tmp_path / "run").exists()  # refused before anything was written
    _, result, _ = trained
    with pytest.raises(ValueError, match="row 1, column 0"):
        sample(result.model, np.array([[1.0], [0.5]]), seed=0, device="cpu")
    with pytest.raises(ValueError, match="expected a non-empty array"):
        sample(result.model, np.ones((2, 3)), seed=0, device="cpu")  # 3 labels for a 1-label model


def test_configs_are_validated_and_round_trip_through_their_dict() -> None:
    for preset in ("paper", "cpu", "cpu_long", "tiny"):
        for resolution in ((32, 64, 128) if preset == "paper" else (8, 16, 32, 64)):
            config = DiffusionConfig.preset(preset, resolution, 14)
            assert DiffusionConfig.from_dict(config.to_dict()) == config
            assert config.resolution >> (len(config.channel_mult) - 1) >= 4
    with pytest.raises(ValueError, match="guidance"):
        dataclasses.replace(DiffusionConfig.tiny(R, 1), p_uncond=0.0)  # guidance 2 needs an unconditional model
    with pytest.raises(ValueError, match="sample_steps"):
        dataclasses.replace(DiffusionConfig.tiny(R, 1), sample_steps=2000)
    with pytest.raises(ValueError, match="unknown diffusion preset"):
        DiffusionConfig.preset("huge", 32, 14)
    with pytest.raises(ValueError, match="presets exist for resolutions"):
        DiffusionConfig.paper(16, 14)
