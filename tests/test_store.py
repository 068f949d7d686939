"""The image store: cached, memory-mapped uint8 arrays, rebuilt exactly when their inputs change."""

from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthmed.cache import check, manifest_path
from synthmed.data import BRAIN_LABELS, DataError, store
from synthmed.data import benchmarks as bm

BASE = 16


class CountingLoader:
    """A fake loader over 16x16 .npy images that counts its calls; `offset` changes its output."""

    def __init__(self, offset: int = 0, fail_on: str | None = None) -> None:
        self.calls = 0
        self.offset = offset
        self.fail_on = fail_on

    def __call__(self, path: str, resolution: int, offset: int | None = None) -> np.ndarray:
        self.calls += 1
        offset = self.offset if offset is None else offset
        if self.fail_on and path.endswith(self.fail_on):
            raise DataError(f"{path}: not a valid image (test)")
        if resolution != BASE:
            raise AssertionError(f"the store asked for {resolution}, not the base {BASE}")
        return (np.load(path).astype(np.int16) + offset).clip(0, 255).astype(np.uint8)


@pytest.fixture
def images(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for i in range(6):
        path = folder / f"img{i}.npy"
        np.save(path, rng.integers(0, 256, size=(BASE, BASE), dtype=np.uint8))
        paths.append(str(path))
    return paths


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "store"


def files(folder: Path) -> list[str]:
    """What a folder holds besides lock files (which stay so that waiting processes share them)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_builds_once_then_memory_maps_the_cache(images, cache):
    loader = CountingLoader()
    first = store.image_array(images, loader, BASE, cache_dir=cache, progress=False)
    assert loader.calls == len(images)
    assert isinstance(first, np.memmap) and first.dtype == np.uint8 and first.shape == (6, BASE, BASE)
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, np.stack([np.load(p) for p in images]))
    again = store.image_array(images, loader, BASE, cache_dir=cache, progress=False)
    assert loader.calls == len(images)  # a cache hit never calls the loader
    np.testing.assert_array_equal(again, first)
    (npy,) = [name for name in files(cache) if name.endswith(".npy")]
    assert files(cache) == [npy, npy + ".manifest.json"]


def test_changed_file_or_settings_rebuild(images, cache):
    loader = CountingLoader()
    store.image_array(images, loader, BASE, cache_dir=cache, progress=False)
    stat = os.stat(images[2])
    os.utime(images[2], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    store.image_array(images, loader, BASE, cache_dir=cache, progress=False)
    assert loader.calls == 2 * len(images)

    replaced = np.full((BASE, BASE), 7, dtype=np.uint8)
    np.save(images[0], replaced)  # same size; new mtime and content
    os.utime(images[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    out = store.image_array(images, loader, BASE, cache_dir=cache, progress=False)
    np.testing.assert_array_equal(out[0], replaced)

    calls = loader.calls
    store.image_array(images, loader, BASE, cache_dir=cache, key_extra={"window": "subdural"}, progress=False)
    assert loader.calls == calls + len(images)
    calls = loader.calls
    bound = functools.partial(loader, offset=10)  # arguments bound with partial are part of the key
    shifted = store.image_array(images, bound, BASE, cache_dir=cache, progress=False)
    assert loader.calls == calls + len(images)
    assert int(shifted[1].astype(int).sum()) > int(out[1].astype(int).sum())


def test_lower_resolutions_are_box_averages_of_the_base(images, cache):
    loader = CountingLoader()
    base = np.stack([np.load(p) for p in images]).astype(np.float64)
    half = store.image_array(images, loader, 8, base_resolution=BASE, cache_dir=cache, progress=False)
    quarter = store.image_array(images, loader, 4, base_resolution=BASE, cache_dir=cache, progress=False)
    assert loader.calls == len(images)  # the base is read once; both lower resolutions derive from it
    assert isinstance(half, np.memmap) and half.shape == (6, 8, 8)
    expected_half = np.rint(base.reshape(6, 8, 2, 8, 2).mean(axis=(2, 4)))
    expected_quarter = np.rint(base.reshape(6, 4, 4, 4, 4).mean(axis=(2, 4)))
    np.testing.assert_array_equal(half, expected_half)
    np.testing.assert_array_equal(quarter, expected_quarter)
    # The original's way (paper-spec §1.1): repeated float32 2x2 averages, quantised only at the end.
    x = base.astype(np.float32)
    for _ in range(2):
        x = (x[:, 0::2, 0::2] + x[:, 0::2, 1::2] + x[:, 1::2, 0::2] + x[:, 1::2, 1::2]) * 0.25
    np.testing.assert_array_equal(quarter, np.rint(x).clip(0, 255).astype(np.uint8))
    with pytest.raises(ValueError, match="power of two"):
        store.image_array(images, loader, 6, base_resolution=BASE, cache_dir=cache, progress=False)


def test_box_downsample_rounds_half_to_even():
    images = np.array([[[0, 1], [0, 1]], [[1, 2], [2, 2]], [[1, 2], [1, 2]]], dtype=np.uint8)
    assert store.box_downsample(images, 2).ravel().tolist() == [0, 2, 2]  # 0.5 -> 0, 1.75 -> 2, 1.5 -> 2


def test_loader_error_names_the_file_and_leaves_no_cache(images, cache):
    with pytest.raises(DataError, match="img3.npy"):
        store.image_array(images, CountingLoader(fail_on="img3.npy"), BASE, cache_dir=cache, progress=False)
    assert files(cache) == []

    def crashing(path: str, resolution: int) -> np.ndarray:
        raise OSError("truncated file")

    with pytest.raises(DataError, match=r"img0\.npy.*truncated file"):
        store.image_array(images, crashing, BASE, cache_dir=cache, progress=False)

    def wrong_shape(path: str, resolution: int) -> np.ndarray:
        return np.zeros((resolution, resolution + 1), dtype=np.uint8)

    with pytest.raises(DataError, match=r"img0\.npy.*expected uint8 of shape \(16, 16\)"):
        store.image_array(images, wrong_shape, BASE, cache_dir=cache, progress=False)
    with pytest.raises(DataError, match="missing.npy"):
        store.image_array(
            [*images, str(Path(images[0]).with_name("missing.npy"))], CountingLoader(), BASE, cache_dir=cache
        )
    assert files(cache) == []


def test_threads_and_parallel_builders_agree(images, tmp_path):
    serial = store.image_array(images, CountingLoader(), BASE, cache_dir=tmp_path / "a", progress=False)
    threaded = store.image_array(
        images, CountingLoader(), BASE, cache_dir=tmp_path / "b", progress=False, workers=3
    )
    np.testing.assert_array_equal(serial, threaded)
    with pytest.raises(DataError, match="img4.npy"):
        store.image_array(
            images, CountingLoader(fail_on="img4.npy"), BASE, cache_dir=tmp_path / "c", workers=3
        )
    assert files(tmp_path / "c") == []
    # Two builders of the same key at once: both succeed, one complete file remains.
    shared = CountingLoader()
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda _: store.image_array(images, shared, 8, base_resolution=BASE, cache_dir=tmp_path / "d"),
                range(2),
            )
        )
    np.testing.assert_array_equal(results[0], results[1])
    assert shared.calls == len(images)  # one built it while the other waited for its lock, then read it
    # The base and the 8x8 array with their manifests, no temporary files.
    assert len(files(tmp_path / "d")) == 4 and not [n for n in files(tmp_path / "d") if ".tmp" in n]


def damage(path: Path, how: str) -> None:
    """Truncate the file, or overwrite some of its last bytes with others (same size)."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        data[-40:-8] = bytes(b ^ 0x5A for b in data[-40:-8])
        path.write_bytes(data)


@pytest.mark.parametrize("how", ["truncate", "garble"])
@pytest.mark.parametrize("resolution", [BASE, 8])
def test_a_corrupt_store_file_is_reported_and_rebuilt(images, cache, caplog, how, resolution):
    loader = CountingLoader()
    first = np.array(store.image_array(images, loader, resolution, base_resolution=BASE, cache_dir=cache))
    (target,) = cache.glob(f"*-r{resolution}.npy")
    damage(target, how)
    calls = loader.calls
    with caplog.at_level(logging.WARNING, logger="synthmed"):
        again = store.image_array(images, loader, resolution, base_resolution=BASE, cache_dir=cache)
    assert f"{target} is corrupt" in caplog.text
    np.testing.assert_array_equal(again, first)
    assert check(target) is None
    # The base is read from the images again; a derived array from the intact base.
    assert loader.calls == calls + (len(images) if resolution == BASE else 0)


def test_a_store_file_without_manifest_is_rebuilt_once(images, cache, caplog):
    loader = CountingLoader()
    store.image_array(images, loader, BASE, cache_dir=cache)
    (target,) = cache.glob("*.npy")
    manifest_path(target).unlink()  # as an older version left it
    with caplog.at_level(logging.INFO, logger="synthmed"):
        store.image_array(images, loader, BASE, cache_dir=cache)
        store.image_array(images, loader, BASE, cache_dir=cache)
    assert loader.calls == 2 * len(images)
    assert caplog.text.count("has no manifest") == 1


def test_empty_path_list_gives_an_empty_array(cache):
    out = store.image_array([], CountingLoader(), 8, base_resolution=BASE, cache_dir=cache)
    assert out.shape == (0, 8, 8) and out.dtype == np.uint8


def test_split_arrays_pairs_images_with_kept_labels(images, cache):
    labels = pd.DataFrame(
        [[0, 0, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]] * 2, columns=BRAIN_LABELS, dtype=np.int8
    )
    frame = pd.concat(
        [pd.DataFrame({"path": images, "patient": [f"p{i}" for i in range(6)]}), labels], axis=1
    )
    kept = ("intraparenchymal", "subdural", "no_finding")
    subset = bm.Subset(
        point=bm.BenchmarkPoint("brain", "resolution", 8),
        scale=1.0,
        train=frame.iloc[:4].drop(columns=["epidural", "intraventricular", "subarachnoid"]),
        val=frame.iloc[4:5].drop(columns=["epidural", "intraventricular", "subarachnoid"]),
        test=frame.iloc[5:].drop(columns=["epidural", "intraventricular", "subarachnoid"]),
        labels=kept,
        classes=("no_finding", "intraparenchymal", "subdural"),
    )
    loader = CountingLoader()
    out = store.split_arrays(
        subset, "brain", 8, loader=loader, base_resolution=BASE, cache_dir=cache, progress=False
    )
    assert set(out) == {"train", "val", "test"}
    x, y = out["train"]
    assert x.shape == (4, 8, 8) and y.dtype == np.float32 and y.shape == (4, 3)
    np.testing.assert_array_equal(y, frame.iloc[:4][list(kept)].to_numpy(np.float32))
    np.testing.assert_array_equal(out["test"][0][0], store.box_downsample(np.load(images[5])[None], 2)[0])
    assert loader.calls == 6
    with pytest.raises(ValueError, match="not a chest subset"):
        store.split_arrays(subset, "chest", 8, loader=loader, cache_dir=cache)
