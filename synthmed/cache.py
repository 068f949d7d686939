"""Cache entries the program owns: written atomically with a manifest, checked on load, built by one process.

Every cache (image store, classifiers, GAN runs, phantom datasets, results tables) goes through here:

- `atomic_write(path, write, meta=...)`: `write(temp)` fills a temporary file beside `path`; it is flushed
  to disk and renamed over `path`, and `<path>.manifest.json` records its byte size, BLAKE2b hash and
  `meta` (shape, dtype, ...). A write that fails leaves the old entry as it was and no temporary file.
- `verify(path, meta=...)`: True when `path` matches its manifest. A mismatch is logged at WARNING with
  the path and what differs, an entry without a manifest (written before manifests existed) at INFO;
  either way the caller recomputes the entry and never uses it.
- `atomic_folder(path, build)` and `verify_folder(path)`: the same for a folder of many files.
- `locked(path)`: a file lock per entry, so that one process computes an entry while the others wait
  for it and then read it. The holder writes its pid and host beside the lock; a wait longer than the
  timeout (`SYNTHMED_LOCK_TIMEOUT` seconds, default a day) raises `LockTimeout` naming them.
- `clean_stale(folder)`: removes temporary files and folders left there by processes that died.

Corrupt input the user owns (their CSV, their DICOM files) is not handled here: that stays an error
naming the file. Only what the program wrote and can write again is checked and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import filelock

log = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".manifest.json"
FILE_FORMAT = "synthmed.cache.file/1"
FOLDER_FORMAT = "synthmed.cache.folder/1"
DEFAULT_LOCK_TIMEOUT = 24 * 3600.0  # seconds; long enough for any one GAN run on the cpu profile
_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
# Temporary names: ".<name>.tmp-<host>-<pid>-<nonce>", so a later run can tell whose they were.
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<host>[A-Za-z0-9_.-]+)-(?P<pid>\d+)-[0-9a-f]+$")
# Files in a folder entry written this close to its manifest are rehashed on every check: file times
# are coarse (a clock tick), so a rewrite within that tick would keep the recorded time.
_FRESH_NS = 2 * 10**9


class LockTimeout(TimeoutError):
    """Another process held a cache entry's lock for longer than the timeout."""


# ---------------------------------------------------------------------------------------------
# Paths and hashes


def manifest_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + MANIFEST_SUFFIX)


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside `path` that records this host and process."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}-{os.urandom(4).hex()}")


def file_digest(path: str | os.PathLike, digest_size: int = 16) -> str:
    digest = hashlib.blake2b(digest_size=digest_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened and synced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _dump_json(path: Path, data: Any, indent: int | None = 1) -> Path:
    """`data` as JSON at `path`, synced to disk; the file is removed if writing fails."""
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _write_json(path: Path, data: Any, indent: int | None = 1) -> None:
    """`data` as JSON at `path`, through a synced temporary file (no manifest of its own)."""
    temp = _dump_json(temp_path(path), data, indent)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Files


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], Any] | bytes | str,
    *,
    meta: dict[str, Any] | None = None,
    manifest: bool = True,
) -> Path:
    """Write `path` atomically: `write(temp)` fills a temporary file beside it (or `write` is the
    bytes or text itself), which is synced and renamed over `path`. With `manifest` (the default),
    `<path>.manifest.json` records the size, BLAKE2b hash and `meta` for `verify`. Returns `path`.

    A write that raises leaves the previous file and manifest as they were and no temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp, temp_manifest = temp_path(path), None
    try:
        if isinstance(write, bytes | str):
            data = write.encode("utf-8") if isinstance(write, str) else write
            temp.write_bytes(data)
        else:
            write(temp)
        if not temp.is_file():
            raise FileNotFoundError(f"{temp}: the writer for {path} created no file")
        _fsync_file(temp)
        if manifest:
            record = {"format": FILE_FORMAT, "name": path.name, "bytes": temp.stat().st_size,
                      "blake2b": file_digest(temp), "meta": meta or {}, "written": time.time()}
            temp_manifest = _dump_json(temp_path(manifest_path(path)), record)
            # Everything is on disk before the old entry is touched. The old manifest goes first: a
            # crash between the renames leaves an entry without a manifest (rebuilt), never a file
            # under another file's manifest.
            manifest_path(path).unlink(missing_ok=True)
            os.replace(temp, path)
            os.replace(temp_manifest, manifest_path(path))
        else:
            os.replace(temp, path)
        _fsync_dir(path.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        if temp_manifest is not None:
            temp_manifest.unlink(missing_ok=True)
        raise
    return path


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    record = _read_json(manifest_path(path))
    return record if isinstance(record, dict) else None


def check(path: str | os.PathLike, meta: dict[str, Any] | None = None) -> str | None:
    """None when `path` matches its manifest (and `meta`, where given); else what is wrong, in words."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    record = read_manifest(path)
    if record is None:
        return "no manifest"
    if record.get("format") != FILE_FORMAT:
        return f"manifest of unknown format {record.get('format')!r}"
    size = path.stat().st_size
    if size != record.get("bytes"):
        return f"{size} bytes, but its manifest says {record.get('bytes')} (truncated or overwritten)"
    for key, value in (meta or {}).items():
        if _jsonable(value) != record.get("meta", {}).get(key):
            return f"{key} {record.get('meta', {}).get(key)!r} in its manifest, expected {_jsonable(value)!r}"
    if file_digest(path) != record.get("blake2b"):
        return "content differs from its manifest's BLAKE2b hash (corrupted)"
    return None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def verify(path: str | os.PathLike, meta: dict[str, Any] | None = None, *, what: str = "cache entry") -> bool:
    """True when `path` is a complete entry matching its manifest; otherwise log why and return False.

    A missing entry is silent; one written without a manifest is logged at INFO (it is rebuilt once);
    one that fails its check at WARNING with its path. The caller recomputes the entry.
    """
    return _accepted(check(path, meta), path, what)


def _accepted(problem: str | None, path: str | os.PathLike, what: str) -> bool:
    """True for no problem; else log it as `verify` describes (missing: silent) and return False."""
    if problem is None:
        return True
    if problem == "no manifest":
        log.info("%s %s has no manifest (written by an older version, or interrupted): rebuilding it", what, path)
    elif problem != "missing":
        log.warning("%s %s is corrupt: %s; rebuilding it", what, path, problem)
    return False


def discard(path: str | os.PathLike) -> None:
    """Remove an entry and its manifest (the manifest first: a half-removed entry is never trusted)."""
    path = Path(path)
    manifest_path(path).unlink(missing_ok=True)
    _remove(path)


# ---------------------------------------------------------------------------------------------
# Folders


def _walk(folder: str | os.PathLike, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """(relative path with "/", stat) of every file under `folder`, in sorted order."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, prefix + entry.name + "/")
        else:
            yield prefix + entry.name, entry.stat(follow_symlinks=False)


def _folder_record(folder: Path) -> dict[str, Any]:
    entries = {rel: [st.st_size, st.st_mtime_ns, file_digest(folder / rel, 8)] for rel, st in _walk(folder)}
    return {"format": FOLDER_FORMAT, "files": len(entries), "bytes": sum(e[0] for e in entries.values()),
            "written_ns": time.time_ns(), "entries": entries}


def atomic_folder(path: str | os.PathLike, build: Callable[[Path], Any]) -> Path:
    """Create the folder `path` atomically: `build(temp)` fills a temporary folder beside it, which is
    renamed into place, and `<path>.manifest.json` records each file's size, time and hash.

    Call it holding `locked(path)`: an existing `path` (one that failed `verify_folder`) is replaced.
    A build that raises leaves no temporary folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(path)
    try:
        build(temp)
        if not temp.is_dir():
            raise FileNotFoundError(f"{temp}: the builder for {path} created no folder")
        record = _folder_record(temp)
        manifest_path(path).unlink(missing_ok=True)
        if path.exists():  # moved aside first: a folder cannot be renamed over a non-empty one
            doomed = temp_path(path)
            os.replace(path, doomed)
            _remove(doomed)
        os.replace(temp, path)
        _write_json(manifest_path(path), record, indent=None)  # one line per folder: it may list 10^5 files
        _fsync_dir(path.parent)
    except BaseException:
        _remove(temp)
        raise
    return path


def check_folder(path: str | os.PathLike) -> str | None:
    """None when the folder matches its manifest; else what is wrong, in words.

    Files are compared by size and modification time, and by content where the time moved or lies
    close to when the manifest was written: rehashing gigabytes of phantoms on every start would
    cost more than the rebuild it guards against.
    """
    path = Path(path)
    if not path.is_dir():
        return "missing"
    record = _read_json(manifest_path(path))
    if not isinstance(record, dict):
        return "no manifest"
    if record.get("format") != FOLDER_FORMAT:
        return f"manifest of unknown format {record.get('format')!r}"
    expected: dict[str, list[Any]] = record.get("entries", {})
    fresh_after = record.get("written_ns", 0) - _FRESH_NS
    seen = 0
    for rel, st in _walk(path):
        seen += 1
        entry = expected.get(rel)
        if entry is None:
            return f"{rel} is not in its manifest"
        size, mtime_ns, digest = entry
        if st.st_size != size:
            return f"{rel} has {st.st_size} bytes, its manifest says {size} (truncated or overwritten)"
        if (st.st_mtime_ns != mtime_ns or mtime_ns >= fresh_after) and file_digest(path / rel, 8) != digest:
            return f"{rel}: content differs from its manifest's hash (corrupted)"
    if seen != len(expected):
        return f"{len(expected) - seen} of its {len(expected)} files are missing"
    return None


def verify_folder(path: str | os.PathLike, *, what: str = "cache folder") -> bool:
    """`verify` for a folder written by `atomic_folder`."""
    return _accepted(check_folder(path), path, what)


# ---------------------------------------------------------------------------------------------
# Locks and stale temporaries


def lock_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _owner_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".owner")


def _describe_owner(lock: Path) -> str:
    owner = _read_json(_owner_path(lock))
    if not isinstance(owner, dict):
        return "a process that has not recorded itself"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner.get("since", 0)))
    return f"pid {owner.get('pid')} on host {owner.get('host')} since {since} ({owner.get('command', '?')})"


def lock_timeout() -> float:
    value = os.environ.get("SYNTHMED_LOCK_TIMEOUT")
    if not value:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"SYNTHMED_LOCK_TIMEOUT={value!r}: expected a number of seconds") from None


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, timeout: float | None = None, what: str = "cache entry") -> Iterator[None]:
    """Hold the lock of the cache entry `path` (the file `.<name>.lock` beside it) for the block.

    Waits while another process or thread holds it, logging who; raises `LockTimeout` naming the
    holder after `timeout` seconds (default `lock_timeout()`). Stale temporary files of this entry
    (left by processes that died) are removed once the lock is held.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = lock_path(path)
    timeout = lock_timeout() if timeout is None else timeout
    lock = filelock.FileLock(lock_file, timeout=timeout)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("waiting for %s %s: %s holds it", what, path, _describe_owner(lock_file))
        try:
            lock.acquire(timeout=timeout, poll_interval=0.1)
        except filelock.Timeout:
            raise LockTimeout(
                f"{path}: waited {timeout:g} s for the lock {lock_file}, held by {_describe_owner(lock_file)}; "
                "wait for that process to finish, stop it, or raise SYNTHMED_LOCK_TIMEOUT (seconds)"
            ) from None
    owner = _owner_path(lock_file)
    try:
        with contextlib.suppress(OSError):  # who holds the lock is for messages only: never fail on it
            _write_json(owner, {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                                "command": " ".join(sys.argv)[:200] or sys.executable})
        clean_stale(path.parent, name=path.name)
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale(folder: str | os.PathLike, *, name: str | None = None) -> list[Path]:
    """Remove temporary files and folders in `folder` left by dead processes on this host; with `name`
    (the caller holds that entry's lock, so no one else writes it) every temporary of that entry."""
    folder = Path(folder)
    removed = []
    try:
        children = list(folder.iterdir())
    except FileNotFoundError:
        return removed
    for child in children:
        match = _TEMP.match(child.name)
        if match is None:
            continue
        mine = name is not None and match["name"] in (name, name + MANIFEST_SUFFIX)
        if match["host"] != _HOST and not mine:
            continue
        pid = int(match["pid"])
        if mine or not pid_alive(pid):
            log.info("removing %s, a temporary left by process %d", child, pid)
            _remove(child)
            removed.append(child)
    return removed
