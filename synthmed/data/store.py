"""Preprocessed images as uint8 arrays, built once per list of files and resolution, cached on disk.

`image_array(paths, loader, resolution)` returns an (N, R, R) uint8 array, memory-mapped from an
`.npy` file under the store directory (default `synthmed.config.home() / "store"`). The file name
is a stable hash of everything that decides its content: the loader (its qualified name, bound
arguments and optional `cache_version` attribute), the base resolution, `key_extra` (modality,
window, ...), and every image path with its file size and modification time. Touching or
replacing an image, or changing a setting, builds a new file; anything else reuses it.

As in the paper (paper-spec §1.1), images are prepared once at a base resolution (chest 256,
brain 128) and every lower resolution is derived from that by 2x2 box averaging, rounded at the
end; derived arrays are cached too. Files are written through `synthmed.cache`: atomically, with a
manifest (shape, dtype, size, BLAKE2b hash) checked on every load, so a truncated or corrupted file
is reported at WARNING and rebuilt, never used. A lock per file lets one process build it while
parallel builders of the same file wait and then read it.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from synthmed import cache
from synthmed.config import home, stable_hash
from synthmed.data import DataError
from synthmed.data.resample import box_downsample

log = logging.getLogger(__name__)

# loader(path, resolution) -> (resolution, resolution) uint8 image
Loader = Callable[[str, int], np.ndarray]

# paper-spec §1.1 / §1.2: chest images are prepared at 256x256, brain slices at 128x128.
BASE_RESOLUTION = {"chest": 256, "brain": 128}

_STORE_VERSION = 1  # bump when the file layout or derivation changes
_CHUNK = 2048  # images per block when deriving lower resolutions (bounds memory)


def default_cache_dir() -> Path:
    return home() / "store"


def _loader_id(loader: Loader) -> dict[str, Any]:
    """What identifies a loader in the cache key (functools.partial layers unwrapped)."""
    func, args, kwargs = loader, (), {}
    while isinstance(func, functools.partial):
        args, kwargs, func = func.args + args, {**func.keywords, **kwargs}, func.func
    name = getattr(func, "__qualname__", type(func).__qualname__)
    return {
        "loader": f"{getattr(func, '__module__', '?')}.{name}",
        "args": [repr(a) for a in args],
        "kwargs": {k: repr(v) for k, v in sorted(kwargs.items())},
        "version": getattr(func, "cache_version", None),
    }


def _file_stats(paths: Sequence[str]) -> list[list[Any]]:
    stats = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as err:
            raise DataError(f"{path}: image file cannot be read ({err.strerror or err})") from err
        stats.append([path, st.st_size, st.st_mtime_ns])
    return stats


def _check_resolutions(resolution: int, base: int) -> int:
    if (
        resolution < 1
        or base < resolution
        or base % resolution
        or (base // resolution) & (base // resolution - 1)
    ):
        raise ValueError(
            f"resolution {resolution} must be the base resolution {base} divided by a power of two"
        )
    return base // resolution


def _write_atomic(target: Path, shape: tuple[int, ...], fill: Callable[[np.ndarray], None]) -> None:
    """Create `target` as a uint8 .npy of `shape`, filled by `fill`, with its manifest; or leave nothing."""

    def write(temp: Path) -> None:
        out = np.lib.format.open_memmap(temp, mode="w+", dtype=np.uint8, shape=shape)
        fill(out)
        out.flush()
        del out

    cache.atomic_write(target, write, meta=_meta(shape))


def _meta(shape: tuple[int, ...]) -> dict[str, Any]:
    return {"shape": list(shape), "dtype": "uint8"}


def _load_verified(target: Path, shape: tuple[int, ...], quiet: bool = False) -> np.ndarray | None:
    """The cached array, memory-mapped read-only, when `target` matches its manifest; else None
    (logged unless `quiet`)."""
    if quiet:
        if cache.check(target, _meta(shape)) is not None:
            return None
    elif not cache.verify(target, _meta(shape), what="image store file"):
        return None
    array = np.load(target, mmap_mode="r")
    if array.shape != shape or array.dtype != np.uint8:  # a manifest that lies about its file
        log.warning("image store file %s holds %s %s, expected uint8 %s; rebuilding it",
                    target, array.dtype, array.shape, shape)
        return None
    return array


def _load_checked(loader: Loader, path: str, resolution: int) -> np.ndarray:
    try:
        image = loader(path, resolution)
    except DataError as err:
        if path in str(err):
            raise
        raise DataError(f"{path}: {err}") from err
    except Exception as err:
        raise DataError(f"{path}: could not load image ({type(err).__name__}: {err})") from err
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.shape != (resolution, resolution):
        raise DataError(
            f"{path}: loader returned a {image.dtype} array of shape {image.shape}; "
            f"expected uint8 of shape ({resolution}, {resolution})"
        )
    return image


def _loaded(loader: Loader, paths: Sequence[str], resolution: int, workers: int) -> Iterator[np.ndarray]:
    """Images in `paths` order; threads help where decoding releases the GIL (JPEG, zlib)."""
    if workers <= 1:
        for path in paths:
            yield _load_checked(loader, path, resolution)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield from pool.map(lambda p: _load_checked(loader, p, resolution), paths)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def image_array(
    paths: Sequence[str | os.PathLike],
    loader: Loader,
    resolution: int,
    *,
    base_resolution: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    key_extra: Any = None,
    progress: bool = True,
    workers: int = 1,
) -> np.ndarray:
    """The images at `paths` as an (N, resolution, resolution) uint8 array, memory-mapped read-only.

    `loader(path, base_resolution)` is called once per image, only when no cached array exists;
    `resolution` below `base_resolution` (default: equal) is derived by box averaging. Settings
    that change the loader's output but are not bound into it (with functools.partial) belong in
    `key_extra`. A loader error raises `DataError` naming the file, and leaves no cache file.
    """
    base = resolution if base_resolution is None else base_resolution
    factor = _check_resolutions(resolution, base)
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return np.zeros((0, resolution, resolution), dtype=np.uint8)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = stable_hash(_STORE_VERSION, _loader_id(loader), base, key_extra, _file_stats(paths))
    target = root / f"{key}-r{resolution}.npy"
    shape = (len(paths), resolution, resolution)
    cached = _load_verified(target, shape)
    if cached is not None:
        return cached
    with cache.locked(target, what="image store file"):
        cached = _load_verified(target, shape, quiet=True)  # built by another process while we waited?
        if cached is not None:
            return cached
        _build(target, shape, paths, loader, resolution, base, factor, root, key_extra, progress, workers)
    return np.load(target, mmap_mode="r")


def _build(target: Path, shape: tuple[int, ...], paths: list[str], loader: Loader, resolution: int, base: int,
           factor: int, root: Path, key_extra: Any, progress: bool, workers: int) -> None:
    if factor == 1:

        def fill(out: np.ndarray) -> None:
            with tqdm(total=len(paths), desc=f"images at {base}px", unit="img", disable=not progress) as bar:
                for i, image in enumerate(_loaded(loader, paths, base, workers)):
                    out[i] = image
                    bar.update()

        log.info("preparing %d images at %dx%d into %s", len(paths), base, base, target)
    else:
        source = image_array(
            paths, loader, base, cache_dir=root, key_extra=key_extra, progress=progress, workers=workers
        )

        def fill(out: np.ndarray) -> None:
            for start in range(0, len(source), _CHUNK):
                out[start : start + _CHUNK] = box_downsample(
                    np.asarray(source[start : start + _CHUNK]), factor
                )

        log.info("deriving %d images at %dx%d from %dx%d", len(paths), resolution, resolution, base, base)
    _write_atomic(target, shape, fill)


def default_loader(modality: str, **loader_kwargs: Any) -> Loader:
    """The project's reader for a modality: chest `chexpert.load_image`, brain `rsna.load_image`
    (e.g. `window=` for the brain window), with `loader_kwargs` bound."""
    if modality == "chest":
        from synthmed.data.chexpert import load_image
    elif modality == "brain":
        from synthmed.data.rsna import load_image
    else:
        raise ValueError(f"unknown modality {modality!r}; expected 'chest' or 'brain'")
    return functools.partial(load_image, **loader_kwargs) if loader_kwargs else load_image


def split_arrays(
    subset: Any,
    modality: str,
    resolution: int,
    *,
    loader: Loader | None = None,
    loader_kwargs: dict[str, Any] | None = None,
    base_resolution: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images and labels of a `benchmarks.Subset`: split name -> (uint8 (N, R, R), float32 (N, L)).

    Labels are the subset's kept label columns in order. Images come from `image_array` with the
    modality's paper base resolution (`BASE_RESOLUTION`, or `resolution` if higher) unless
    `base_resolution` is given; `loader` defaults to `default_loader(modality, **loader_kwargs)`.
    """
    if getattr(subset, "point", None) is not None and subset.point.modality != modality:
        raise ValueError(f"subset {subset.point.name} is not a {modality} subset")
    if loader is None:
        loader = default_loader(modality, **(loader_kwargs or {}))
    base = base_resolution if base_resolution is not None else max(resolution, BASE_RESOLUTION[modality])
    key_extra = {
        "modality": modality,
        "loader_kwargs": {k: repr(v) for k, v in (loader_kwargs or {}).items()},
    }
    out = {}
    for name in ("train", "val", "test"):
        frame = getattr(subset, name)
        images = image_array(
            frame["path"].tolist(),
            loader,
            resolution,
            base_resolution=base,
            cache_dir=cache_dir,
            key_extra=key_extra,
            progress=progress,
            workers=workers,
        )
        labels = frame[list(subset.labels)].to_numpy(dtype=np.float32)
        out[name] = (images, labels)
    return out
