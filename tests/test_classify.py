"""The classifiers and their training schedule (synthmed.classify.models, synthmed.classify.train)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from synthmed import profiles
from synthmed.classify import models, train
from synthmed.classify.models import ClassifierConfig, build_classifier, compact_cnn, densenet121
from synthmed.classify.train import extract_features, predict, train_cached, train_classifier, validation_auc
from tests.racing import race

torch.set_num_threads(1)

RESOLUTION = 16


def quadrant_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, 16, 16) noise images; label k (of 4) means a bright blob somewhere in quadrant k."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, 4)) < 0.4).astype(np.uint8)
    images = rng.normal(80, 25, (n, RESOLUTION, RESOLUTION))
    half = RESOLUTION // 2
    rows, cols = np.mgrid[:RESOLUTION, :RESOLUTION]
    for k in range(4):
        top, left = (k // 2) * half, (k % 2) * half
        cy = rng.integers(top + 2, top + half - 2, n)[:, None, None]
        cx = rng.integers(left + 2, left + half - 2, n)[:, None, None]
        blob = 120 * np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / 4.0)
        images += labels[:, k, None, None] * blob
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def blobs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"train": quadrant_blobs(600, 0), "val": quadrant_blobs(200, 1), "test": quadrant_blobs(300, 2)}


def tiny_config(**overrides: object) -> ClassifierConfig:
    return ClassifierConfig.tiny(**{"max_epochs": 5, **overrides})


@pytest.fixture(scope="module")
def trained(blobs):
    return train_classifier(*blobs["train"], *blobs["val"], tiny_config())


def scripted_auc(monkeypatch: pytest.MonkeyPatch, values: list[float]) -> list[dict[str, torch.Tensor]]:
    """Make validation return `values` in turn; returns the model weights seen at each validation."""
    seen: list[dict[str, torch.Tensor]] = []

    def fake(model, images, labels, batch_size):
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return values[len(seen) - 1]

    monkeypatch.setattr(train, "validation_auc", fake)
    return seen


# ---------------------------------------------------------------------------------------------
# Models


def test_densenet_forward_offline_gives_logits_and_1024_features(monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    model = densenet121(n_labels=5).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        logits, features = model(x), model.features(x)
    assert logits.shape == (2, 5)
    assert features.shape == (2, 1024)
    assert torch.isfinite(logits).all()
    # The preprocessing block takes the stored images: it resizes to the paper's 224 and tiles to RGB.
    assert model.preprocess(x).shape == (2, 3, 224, 224)


def test_densenet_loads_local_weights_and_rejects_other_files(tmp_path):
    reference = torchvision.models.densenet121(weights=None)
    state = reference.state_dict()
    good = tmp_path / "densenet121.pth"
    # torchvision's original checkpoint files load as well: keys "norm.1.weight", no num_batches_tracked.
    old_names = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
                 for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_names
    torch.save(old_names, good)
    model = densenet121(n_labels=3, weights=good)
    torch.testing.assert_close(model.body.features.conv0.weight, reference.features.conv0.weight)
    torch.testing.assert_close(model.body.features.denseblock4.denselayer16.conv2.weight,
                               reference.features.denseblock4.denselayer16.conv2.weight)
    assert model.head.out_features == 3  # ImageNet's 1000-way classifier replaced

    wrong_shape = dict(state)
    wrong_shape["features.conv0.weight"] = torch.zeros(64, 1, 7, 7)
    torch.save(wrong_shape, tmp_path / "wrong_shape.pth")
    with pytest.raises(ValueError, match=r"wrong_shape\.pth.*wrong shape.*conv0"):
        densenet121(n_labels=3, weights=tmp_path / "wrong_shape.pth")
    torch.save(compact_cnn(3, RESOLUTION, width=4).state_dict(), tmp_path / "compact.pth")
    with pytest.raises(ValueError, match=r"compact\.pth.*not a torchvision densenet121.*missing"):
        densenet121(n_labels=3, weights=tmp_path / "compact.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"garbage\.pth"):
        densenet121(n_labels=3, weights=tmp_path / "garbage.pth")


def test_compact_cnn_shapes_and_resolution_check():
    model = compact_cnn(n_labels=4, resolution=32, width=8).eval()
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (3, 4)
        assert model.features(x).shape == (3, model.feature_dim)
        # uint8 input means the stored images, scaled by 1/255 on the way in
        stored = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
        torch.testing.assert_close(model(stored), model(stored.float() / 255))
    assert model.feature_dim == 8 * 2**3  # 32 -> 4 in three halvings
    larger = compact_cnn(n_labels=4, resolution=64, width=8).eval()  # a strided stem brings 64 px to 32
    with torch.no_grad():
        assert larger.features(torch.rand(1, 1, 64, 64)).shape == (1, 64)
    with pytest.raises(ValueError, match="expected 32x32"):
        model(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\(N, 1, R, R\)"):
        model(torch.rand(1, 3, 32, 32))


def test_profiles_and_bad_config():
    assert ClassifierConfig.paper().arch == "densenet121"
    assert (ClassifierConfig.paper().lr, ClassifierConfig.paper().batch) == (1e-4, 48)
    assert profiles.get("cpu").classifier_config(seed=3, lr=None) == ClassifierConfig.cpu(seed=3)
    with pytest.raises(ValueError, match="arch"):
        ClassifierConfig(arch="resnet")
    with pytest.raises(ValueError, match="unknown profile"):
        profiles.get("huge")


# ---------------------------------------------------------------------------------------------
# Training


def test_learns_a_simple_finding_well_above_chance(blobs, trained):
    model, history = trained
    test_images, test_labels = blobs["test"]
    assert validation_auc(model, test_images, test_labels, batch_size=100) > 0.8
    scores = predict(model, test_images)
    assert scores.shape == (300, 4)
    assert ((scores > 0) & (scores < 1)).all()
    assert extract_features(model, test_images[:5]).shape == (5, model.feature_dim)
    # the returned model holds the best epoch's weights
    val_images, val_labels = blobs["val"]
    assert validation_auc(model, val_images, val_labels, 64) == pytest.approx(history.best_val_auc, abs=1e-6)
    assert history.best_val_auc == max(e.val_auc for e in history.epochs)
    assert [e.images_seen for e in history.epochs] == [480 * k for k in range(1, len(history.epochs) + 1)]


def test_lr_drops_tenfold_after_two_flat_epochs_and_stops_after_three(blobs, monkeypatch):
    aucs = [0.60, 0.70, 0.65, 0.69, 0.71, 0.70, 0.70, 0.70, 0.99]
    seen = scripted_auc(monkeypatch, aucs)
    config = tiny_config(lr=1e-3, epoch_images=48, max_epochs=20)
    model, history = train_classifier(*blobs["train"], *blobs["val"], config)
    # improvements at epochs 1, 2, 5; drops after epochs 4 and 7; the third flat epoch (8) stops it
    assert [e.lr for e in history.epochs] == pytest.approx([1e-3] * 4 + [1e-4] * 3 + [1e-5])
    assert (len(history.epochs), history.stop_reason, history.best_epoch) == (8, "early_stop", 5)
    for name, tensor in model.state_dict().items():  # best weights restored, not the last epoch's
        torch.testing.assert_close(tensor, seen[4][name])
    assert any(not torch.equal(seen[7][k], seen[4][k]) for k in seen[4])


def test_lr_never_drops_below_its_floor(blobs, monkeypatch):
    scripted_auc(monkeypatch, [0.5] * 10)
    config = tiny_config(lr=1e-3, min_lr=5e-4, epoch_images=48, max_epochs=20)
    _, history = train_classifier(*blobs["train"], *blobs["val"], config)
    assert [e.lr for e in history.epochs] == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
    assert history.best_epoch == 1


def test_same_seed_same_weights_other_seed_other_weights(blobs):
    config = tiny_config(epoch_images=96, max_epochs=2)
    first, _ = train_classifier(*blobs["train"], *blobs["val"], config)
    again, _ = train_classifier(*blobs["train"], *blobs["val"], config)
    other_seed = tiny_config(epoch_images=96, max_epochs=2, seed=1)
    other, _ = train_classifier(*blobs["train"], *blobs["val"], other_seed)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert any(not torch.equal(t, other.state_dict()[k]) for k, t in first.state_dict().items())


def test_bad_inputs_name_what_was_expected(blobs):
    (images, labels), (val_images, val_labels) = blobs["train"], blobs["val"]
    config = tiny_config()
    bad_labels = labels.astype(np.float32)
    bad_labels[7, 2] = -1  # an uncertain CheXpert label that was never mapped
    with pytest.raises(ValueError, match=r"train_labels row 7, column 2: expected 0 or 1"):
        train_classifier(images, bad_labels, val_images, val_labels, config)
    with pytest.raises(ValueError, match="train_images: expected dtype uint8"):
        train_classifier(images / 255.0, labels, val_images, val_labels, config)
    with pytest.raises(ValueError, match="val_images: expected 16x16"):
        train_classifier(images, labels, np.zeros((4, 8, 8), np.uint8), val_labels[:4], config)
    with pytest.raises(ValueError, match="val_labels: no label has both classes"):
        train_classifier(images, labels, val_images, np.zeros_like(val_labels), config)


# ---------------------------------------------------------------------------------------------
# Cache


def test_cache_returns_the_trained_model_without_training_again(blobs, tmp_path, monkeypatch):
    calls = []
    real_train = train.train_classifier

    def counting(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train, "train_classifier", counting)
    config = tiny_config(epoch_images=96, max_epochs=2)
    data = (*blobs["train"], *blobs["val"])
    model, history = train_cached(*data, config, cache_dir=tmp_path)
    cached, cached_history = train_cached(*data, config, cache_dir=tmp_path)
    assert len(calls) == 1
    assert (history.from_cache, cached_history.from_cache) == (False, True)
    assert cached_history.epochs == history.epochs
    test_images = blobs["test"][0]
    np.testing.assert_array_equal(predict(cached, test_images), predict(model, test_images))
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json", "history.json", "history.json.manifest.json", "model.pt", "model.pt.manifest.json",
        "train.log",
    ]
    assert len((run / "train.log").read_text().splitlines()) == len(history.epochs)

    train_cached(*data, tiny_config(epoch_images=96, max_epochs=2, seed=5), cache_dir=tmp_path)
    labels_changed = blobs["train"][1].copy()
    labels_changed[0, 0] ^= 1
    train_cached(blobs["train"][0], labels_changed, *blobs["val"], config, cache_dir=tmp_path)
    assert len(calls) == 3  # another seed, other labels: trained again


def counting_trainer(monkeypatch) -> list[int]:
    calls: list[int] = []
    real_train = train.train_classifier

    def counting(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train, "train_classifier", counting)
    return calls


def damage(path: Path, how: str) -> None:
    """Truncate the file, or flip bits in the middle of it (same size)."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        middle = len(data) // 2
        data[middle : middle + 16] = bytes(b ^ 0x5A for b in data[middle : middle + 16])
        path.write_bytes(data)


@pytest.mark.parametrize("how", ["truncate", "garble"])
@pytest.mark.parametrize("name", ["model.pt", "history.json"])
def test_a_corrupt_cached_run_is_reported_and_trained_again(blobs, tmp_path, monkeypatch, caplog, name, how):
    calls = counting_trainer(monkeypatch)
    config = tiny_config(epoch_images=96, max_epochs=2)
    data = (*blobs["train"], *blobs["val"])
    model, history = train_cached(*data, config, cache_dir=tmp_path)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    damage(run / name, how)
    with pytest.raises(ValueError, match=re.escape(str(run / name))):
        train.load_cached(run, config, 4, RESOLUTION)
    with caplog.at_level(logging.WARNING, logger="synthmed"):
        again, again_history = train_cached(*data, config, cache_dir=tmp_path)
    assert f"{run / name} is corrupt" in caplog.text
    assert len(calls) == 2 and not again_history.from_cache
    test_images = blobs["test"][0]
    np.testing.assert_array_equal(predict(again, test_images), predict(model, test_images))
    assert len((run / "train.log").read_text().splitlines()) == len(history.epochs)
    assert train_cached(*data, config, cache_dir=tmp_path)[1].from_cache and len(calls) == 2


def _train_in_child(cache_dir: str, start, results) -> None:
    torch.set_num_threads(1)
    data = (*quadrant_blobs(600, 0), *quadrant_blobs(200, 1))
    start.wait()  # both processes find the cache empty
    try:
        _, history = train_cached(*data, tiny_config(epoch_images=96, max_epochs=2), cache_dir=Path(cache_dir))
        results.put(("ok", history.from_cache))
    except BaseException as error:  # noqa: BLE001 - reported to the test
        results.put(("error", f"{type(error).__name__}: {error}"))


def test_two_processes_on_one_run_train_it_once_and_log_each_epoch_once(tmp_path):
    outcomes = race(_train_in_child, str(tmp_path))
    assert sorted(outcomes) == [("ok", False), ("ok", True)], outcomes
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    epochs = [json.loads(line)["epoch"] for line in (run / "train.log").read_text().splitlines()]
    assert epochs == sorted(set(epochs))  # each epoch once


def test_two_threads_on_one_run_train_it_once_and_log_each_epoch_once(blobs, tmp_path, monkeypatch):
    calls = counting_trainer(monkeypatch)
    config = tiny_config(epoch_images=96, max_epochs=2)
    data = (*blobs["train"], *blobs["val"])
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: train_cached(*data, config, cache_dir=tmp_path), range(2)))
    assert len(calls) == 1 and sorted(h.from_cache for _, h in results) == [False, True]
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (run / "train.log").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [r.epoch for r in results[0][1].epochs]


# ---------------------------------------------------------------------------------------------
# Initial weights (issue 13): imagenet | none | PATH; nothing is ever downloaded in these tests.


@pytest.fixture
def torch_home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An empty torchvision cache, and a download that fails as it does offline."""
    import urllib.error

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch"


def test_imagenet_weights_offline_name_the_file_to_place_and_where(torch_home) -> None:
    from synthmed.classify.models import WeightsUnavailable, fetch_imagenet_weights, imagenet_weights_file

    url = torchvision.models.DenseNet121_Weights.IMAGENET1K_V1.url
    expected = torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[1]  # where torchvision looks
    assert imagenet_weights_file() == expected
    with pytest.raises(WeightsUnavailable) as caught:
        densenet121(n_labels=2, weights="imagenet")
    message = str(caught.value)
    assert "\n" not in message
    assert f"place {url} at {expected}" in message and "no internet" in message
    assert "local densenet121 state dict" in message and "'none'" in message
    with pytest.raises(WeightsUnavailable):
        fetch_imagenet_weights()


def test_imagenet_weights_load_from_torchvisions_cache_without_a_download(torch_home, monkeypatch) -> None:
    from synthmed.classify.models import imagenet_weights_file

    reference = torchvision.models.densenet121(weights=None)
    imagenet_weights_file().parent.mkdir(parents=True)
    torch.save(reference.state_dict(), imagenet_weights_file())
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("a download was attempted"))
    model = build_classifier(ClassifierConfig.paper(), n_labels=3, resolution=RESOLUTION)
    torch.testing.assert_close(model.body.features.conv0.weight, reference.features.conv0.weight)
    torch.testing.assert_close(model.body.features.norm5.running_var, reference.features.norm5.running_var)
    scratch = build_classifier(ClassifierConfig.paper(weights="none"), n_labels=3, resolution=RESOLUTION)
    assert not torch.equal(scratch.body.features.conv0.weight, reference.features.conv0.weight)


def test_grey_images_meet_the_imagenet_first_conv_tiled_to_rgb(tmp_path) -> None:
    """DenseNetPreprocess's docstring: tiling and per-channel normalisation before the unchanged RGB conv0
    equal, away from the zero-padded border, a 1-channel conv with the kernel summed over RGB / std."""
    reference = torchvision.models.densenet121(weights=None).eval()
    path = tmp_path / "densenet121.pth"
    torch.save(reference.state_dict(), path)
    model = build_classifier(ClassifierConfig.paper(weights=str(path)), n_labels=2, resolution=RESOLUTION).eval()
    assert model.body.features.conv0.in_channels == 3
    grey = torch.rand(2, 1, RESOLUTION, RESOLUTION)
    rgb = F.interpolate(grey, size=(224, 224), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (models.IMAGENET_MEAN, models.IMAGENET_STD))
    normalised = (rgb - mean) / std
    with torch.no_grad():
        torch.testing.assert_close(model.preprocess(grey), normalised)
        expected = torch.flatten(F.adaptive_avg_pool2d(F.relu(reference.features(normalised)), 1), 1)
        torch.testing.assert_close(model.features(grey), expected, rtol=1e-4, atol=1e-5)
        weight = reference.features.conv0.weight  # (64, 3, 7, 7), stride 2, padding 3
        tiled = F.conv2d(normalised, weight, stride=2, padding=3)
        folded_kernel = (weight / std.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        constant = (weight * (mean / std).view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
        folded = F.conv2d(rgb[:, :1], folded_kernel, stride=2, padding=3) - constant.view(1, -1, 1, 1)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # outputs whose 7x7 window is inside
    torch.testing.assert_close(folded[inner], tiled[inner], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(folded[..., 0, 0], tiled[..., 0, 0], atol=1e-3)  # the border is where they differ


def test_weights_option_is_checked_and_enters_the_cache_key(tmp_path) -> None:
    from synthmed.config import stable_hash

    assert ClassifierConfig.paper().weights == "imagenet" and ClassifierConfig.paper().precision == "fp32"
    assert ClassifierConfig.cpu().weights == ClassifierConfig.tiny().weights == "none"
    assert profiles.get("paper").classifier_config(weights="", precision="").weights == "imagenet"
    assert profiles.get("paper").classifier_config(weights="none").weights == "none"
    with pytest.raises(ValueError, match="compact CNN has no pretrained weights"):
        ClassifierConfig.cpu(weights="imagenet")
    with pytest.raises(ValueError, match="precision"):
        ClassifierConfig.cpu(precision="fp16")

    images, labels = quadrant_blobs(40, seed=1)
    config = ClassifierConfig.tiny()
    # At the defaults the key is the one runs cached before the options existed were stored under.
    old_fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                  if f.name not in ("weights", "precision")}
    old_fields["weights_path"] = None
    data = train._array_digest(images, labels, images, labels)
    assert train.cache_key(config, images, labels, images, labels) == stable_hash(
        "classifier", train.CACHE_VERSION, old_fields, data, None)
    variants = (config, ClassifierConfig.tiny(precision="bf16"), ClassifierConfig.paper(),
                ClassifierConfig.paper(weights="none"))
    keys = {train.cache_key(c, images, labels, images, labels) for c in variants}
    assert len(keys) == 4
    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    torch.save({"x": torch.zeros(1)}, first)
    torch.save({"x": torch.ones(1)}, second)
    by_file = {train.cache_key(ClassifierConfig.paper(weights=str(p)), images, labels, images, labels)
               for p in (first, second)}
    assert len(by_file) == 2  # the file's contents, not only its name
    with pytest.raises(FileNotFoundError, match=r"absent\.pth: classifier weights file not found"):
        train.cache_key(ClassifierConfig.paper(weights=str(tmp_path / "absent.pth")), images, labels, images, labels)


def test_bf16_precision_runs_the_body_in_bf16_and_the_scores_in_fp32() -> None:
    images, labels = quadrant_blobs(48, seed=2)
    dtypes = {}
    for precision in ("fp32", "bf16"):
        config = ClassifierConfig.tiny(precision=precision, max_epochs=1, epoch_images=48, device="cpu")
        model, _ = train.train_classifier(images, labels, images, labels, config)
        assert model.precision == precision
        seen: list[torch.dtype] = []
        hook = model.body.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out.dtype))
        scores = train.predict(model, images[:8])
        hook.remove()
        dtypes[precision] = seen[0]
        assert scores.dtype == np.float32 and np.isfinite(scores).all()
    assert dtypes == {"fp32": torch.float32, "bf16": torch.bfloat16}
