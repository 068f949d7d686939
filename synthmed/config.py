"""Settings shared by every step: the run directory, profile names and a stable config hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

PROFILES = ("tiny", "cpu", "paper")


def home() -> Path:
    """The run directory holding every cached step.

    `SYNTHMED_HOME` wins; otherwise `.synthmed/` at the root of the checkout that holds the
    working directory (so notebooks run from `notebooks/` share the root cache), else
    `~/.cache/synthmed`.
    """
    env = os.environ.get("SYNTHMED_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").exists() and (folder / "synthmed").is_dir():
            return folder / ".synthmed"
    return Path.home() / ".cache" / "synthmed"


def check_profile(name: str) -> str:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return name


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def stable_hash(*parts: Any, length: int = 16) -> str:
    """A hash of configs and inputs that is the same across processes and machines."""
    payload = json.dumps([_jsonable(p) for p in parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:length]
