"""synthmed.cache: atomic writes with manifests, checks on load, locks, stale temporaries; phantom folders.

The other caches' corruption tests live beside their code: test_store, test_classify, test_gan_train.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from synthmed import cache
from synthmed.config import DataConfig
from tests.racing import race

PHANTOM_PATIENTS = 40  # about 140 small films: enough that two builders overlap


def litter(folder: Path) -> list[str]:
    """Temporary files or folders left anywhere under `folder`."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---------------------------------------------------------------------------------------------
# Files and their manifests


def test_an_entry_is_written_with_a_manifest_that_verify_accepts(tmp_path):
    path = cache.atomic_write(tmp_path / "entry.bin", b"x" * 1000, meta={"shape": [10, 100]})
    record = cache.read_manifest(path)
    assert record["bytes"] == 1000 and record["blake2b"] == cache.file_digest(path)
    assert record["meta"] == {"shape": [10, 100]}
    assert cache.verify(path, {"shape": (10, 100)})
    assert cache.check(path, {"shape": (10, 99)}) == "shape [10, 100] in its manifest, expected [10, 99]"
    assert litter(tmp_path) == []


@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_a_damaged_entry_fails_its_check_with_a_warning_naming_it(tmp_path, caplog, how):
    path = cache.atomic_write(tmp_path / "entry.bin", bytes(range(256)) * 40)
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(data[:-100])
    else:
        data[5000:5100] = bytes(100)
        path.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="synthmed"):
        assert not cache.verify(path, what="test entry")
    assert f"test entry {path} is corrupt" in caplog.text
    assert ("truncated" in caplog.text) == (how == "truncate")


def test_an_entry_without_manifest_is_unverified_and_logged_at_info(tmp_path, caplog):
    path = tmp_path / "old.bin"
    path.write_bytes(b"from an older version")
    with caplog.at_level(logging.INFO, logger="synthmed"):
        assert not cache.verify(path)
        assert not cache.verify(tmp_path / "missing.bin")  # a missing entry is simply computed
    assert [r.levelno for r in caplog.records] == [logging.INFO] and str(path) in caplog.text


# ---------------------------------------------------------------------------------------------
# Fault injection: a write that raises halfway leaves the old entry and no temporary behind.


class Explodes:
    """Pickling it raises: torch.save has written the tensors before it by then."""

    def __reduce__(self):
        raise OSError("disk full (injected)")


def _store_entry(path: Path, fail: bool) -> None:
    from synthmed.data import store

    def fill(out: np.ndarray) -> None:
        out[:5] = 1 if fail else 2
        if fail:
            raise OSError("disk full (injected)")
        out[5:] = 2

    store._write_atomic(path, (10, 8, 8), fill)


def _checkpoint(path: Path, fail: bool) -> None:
    import torch

    from synthmed.gan.train import _atomic_save

    payload = {"weights": torch.arange(10_000.0), **({"then": Explodes()} if fail else {})}
    _atomic_save(payload, path)


def _bytes(path: Path, fail: bool) -> None:
    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            handle.write(b"new" * 1000)
            if fail:
                raise OSError("disk full (injected)")

    cache.atomic_write(path, write if fail else b"old" * 1000)


def _log(path: Path, fail: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmed.gan.train import _truncate_log

    if not fail:
        path.write_text('{"kind": "start", "nimg": 0}\n{"kind": "tick", "nimg": 64}\n')
        return
    with monkeypatch.context() as patch:
        patch.setattr(cache, "_fsync_file", lambda p: (_ for _ in ()).throw(OSError("disk full (injected)")))
        _truncate_log(path, 0)


def _png(path: Path, fail: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmed.gan.train import _save_png

    with monkeypatch.context() as patch:
        if fail:
            patch.setattr(cache, "_fsync_file", lambda p: (_ for _ in ()).throw(OSError("disk full (injected)")))
        _save_png(np.full((8, 8), 200 if fail else 100, dtype=np.uint8), path)


def _folder(path: Path, fail: bool) -> None:
    def build(temp: Path) -> None:
        (temp / "sub").mkdir(parents=True)
        (temp / "sub" / "a.txt").write_text("new" if fail else "old")
        if fail:
            raise OSError("disk full (injected)")
        (temp / "b.txt").write_text("old")

    with cache.locked(path):
        cache.atomic_folder(path, build)


WRITERS = {
    "bytes": (_bytes, "entry.bin"),
    "image store": (_store_entry, "store.npy"),
    "GAN checkpoint": (_checkpoint, "last.pt"),
    "GAN log rewrite": (_log, "log.jsonl"),
    "PNG grid": (_png, "fakes.png"),
    "phantom folder": (_folder, "chest-0123"),
}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_write_that_fails_halfway_keeps_the_old_entry_and_leaves_no_temporary(tmp_path, monkeypatch, kind):
    writer, name = WRITERS[kind]
    path = tmp_path / name
    extra = (monkeypatch,) if kind in ("GAN log rewrite", "PNG grid") else ()
    writer(path, False, *extra)
    if path.is_dir():
        before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    else:
        before = path.read_bytes()
    had_manifest = cache.manifest_path(path).exists()
    with pytest.raises(OSError, match="injected"):
        writer(path, True, *extra)
    if path.is_dir():
        assert {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()} == before
        assert cache.check_folder(path) is None
    else:
        assert path.read_bytes() == before
        assert cache.check(path) is None if had_manifest else True
    assert litter(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Locks and stale temporaries


def test_a_lock_held_too_long_names_its_holder(tmp_path):
    entry = tmp_path / "entry.bin"
    errors: list[BaseException] = []

    def other() -> None:
        try:
            with cache.locked(entry, timeout=0.2):
                pass
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            errors.append(error)

    with cache.locked(entry):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    (error,) = errors
    assert isinstance(error, cache.LockTimeout)
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in str(error) and str(entry) in str(error)
    with cache.locked(entry, timeout=0):  # released: free again, and no owner record is left
        pass
    assert not (tmp_path / ".entry.bin.lock.owner").exists()


def test_one_thread_computes_an_entry_while_the_other_waits_then_reads_it(tmp_path):
    entry = tmp_path / "entry.bin"
    computed = []

    def get() -> bytes:
        if not cache.verify(entry):
            with cache.locked(entry):
                if cache.check(entry) is not None:
                    computed.append(threading.get_ident())
                    cache.atomic_write(entry, b"value" * 1000)
        return entry.read_bytes()

    threads = [threading.Thread(target=get) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1 and entry.read_bytes() == b"value" * 1000


def test_temporaries_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    host = cache._HOST
    dead = tmp_path / f".a.bin.tmp-{host}-{dead_pid()}-00ff"
    alive = tmp_path / f".b.bin.tmp-{host}-{os.getpid()}-00ff"
    elsewhere = tmp_path / f".c.bin.tmp-otherhost-{dead_pid()}-00ff"
    folder = tmp_path / f".d.tmp-{host}-{dead_pid()}-00ff"
    for path in (dead, alive, elsewhere):
        path.write_bytes(b"partial")
    (folder / "x").mkdir(parents=True)
    assert sorted(cache.clean_stale(tmp_path)) == sorted([dead, folder])
    assert alive.exists() and elsewhere.exists()
    with cache.locked(tmp_path / "c.bin"):  # the entry's lock holder removes all of that entry's temporaries
        assert not elsewhere.exists() and alive.exists()


# ---------------------------------------------------------------------------------------------
# Phantom folders


def phantom_config(patients: int = PHANTOM_PATIENTS) -> DataConfig:
    return DataConfig(chest_patients=patients, brain_patients=4, chest_scale=1.0, brain_scale=1.0,
                      chest_short_side=64, chest_label_source="synthetic")


def _phantoms_in_child(home: str, start, results) -> None:
    os.environ["SYNTHMED_HOME"] = home
    from synthmed.data.sources import phantom_root

    start.wait()  # both processes find the cache empty
    try:
        results.put(("ok", str(phantom_root("chest", phantom_config()))))
    except BaseException as error:  # noqa: BLE001 - reported to the test
        results.put(("error", f"{type(error).__name__}: {error}"))


def test_two_first_runs_on_an_empty_cache_both_finish_with_one_phantom_copy(tmp_path):
    outcomes = race(_phantoms_in_child, str(tmp_path), timeout=300)
    assert [status for status, _ in outcomes] == ["ok", "ok"], outcomes
    assert outcomes[0][1] == outcomes[1][1]
    phantoms, name = tmp_path / "phantoms", Path(outcomes[0][1]).name
    visible = sorted(p.name for p in phantoms.iterdir() if not p.name.endswith((".lock", ".owner")))
    assert visible == [name, name + ".manifest.json"]  # one copy; no temporary copy left behind
    assert litter(phantoms) == [] and cache.check_folder(outcomes[0][1]) is None


@pytest.fixture
def phantom_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_a_damaged_phantom_folder_is_reported_and_rebuilt(phantom_home, caplog, how):
    from synthmed.data.sources import phantom_root

    root = phantom_root("chest", phantom_config(8))
    films = sorted(root.rglob("*.jpg"))
    original = {p: p.read_bytes() for p in films}
    victim = films[len(films) // 2]
    data = bytearray(original[victim])
    if how == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    else:
        data[-200:-100] = bytes(b ^ 0xFF for b in data[-200:-100])
        victim.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="synthmed"):
        again = phantom_root("chest", phantom_config(8))
    assert again == root and f"phantom dataset {root} is corrupt" in caplog.text
    assert victim.relative_to(root).as_posix() in caplog.text
    assert {p: p.read_bytes() for p in sorted(root.rglob("*.jpg"))} == original  # rebuilt byte for byte
    assert cache.check_folder(root) is None and litter(phantom_home) == []


def test_temporary_phantom_folders_of_dead_processes_are_removed_on_the_next_run(phantom_home):
    from synthmed.data.sources import phantom_root

    phantoms = phantom_home / "phantoms"
    old_style = phantoms / f"chest-0123456789abcdef.tmp{dead_pid()}"  # left by a version before synthmed.cache
    new_style = phantoms / f".brain-0123456789abcdef.tmp-{cache._HOST}-{dead_pid()}-00ff"
    for folder in (old_style, new_style):
        (folder / "CheXpert-v1.0-small").mkdir(parents=True)
    root = phantom_root("chest", phantom_config(4))
    assert root.is_dir() and not old_style.exists() and not new_style.exists()
    assert litter(phantom_home) == []
