"""Shared fixtures. The whole book is built once per session, at the tiny profile, in a copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK_FILES = ["_config.yml", "_toc.yml", "references.bib", "book", "notebooks", "params", "_css"]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the whole book at the tiny profile in a scratch copy; return its root."""
    from synthmed import book

    root = tmp_path_factory.mktemp("book")
    for name in BOOK_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        else:
            shutil.copy2(src, root / name)
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    os.environ.setdefault("MPLBACKEND", "Agg")
    old = os.environ.get("SYNTHMED_HOME")
    os.environ["SYNTHMED_HOME"] = str(root / ".synthmed")
    try:
        book.build(root, "tiny", timeout=600)
    finally:
        if old is None:
            os.environ.pop("SYNTHMED_HOME", None)
        else:
            os.environ["SYNTHMED_HOME"] = old
    return root
