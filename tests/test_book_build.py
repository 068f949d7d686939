"""The whole book builds at the tiny profile, and every page in the table of contents is there."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

# The session fixture builds the whole tiny book (every chapter) inside the first test that asks.
pytestmark = [pytest.mark.book, pytest.mark.timeout(3600)]


def toc_pages(root: Path) -> list[str]:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return pages


def test_every_toc_page_is_built(built_book: Path) -> None:
    html = built_book / "_build" / "html"
    assert (html / "index.html").exists()
    for page in toc_pages(built_book):
        assert (html / f"{page}.html").exists(), page
    assert (html / "_static" / "widgets" / "embed-amd.js").exists(), "vendored widget JS missing"


def test_executed_notebooks_record_the_tiny_profile(built_book: Path) -> None:
    for page in toc_pages(built_book):
        if not page.startswith("notebooks/"):
            continue
        nb = nbformat.read(built_book / f"{page}.ipynb", as_version=4)
        meta = nb.metadata["synthmed"]
        assert meta["status"] == "ok"
        assert meta["parameters"]["profile"] == "tiny"
        tags = [cell.metadata.get("tags", []) for cell in nb.cells]
        # One parameters cell (collapsed), papermill's injected one gone, the values that ran stated once.
        assert sum("parameters" in t for t in tags) == 1 and not any("injected-parameters" in t for t in tags)
        note = next(c for c in nb.cells if "parameters-note" in c.metadata.get("tags", []))
        assert "`profile = 'tiny'`" in note.source, page
        assert all("hide-input" in c.metadata["tags"] or "widget" in c.metadata["tags"] or
                   set(c.metadata["tags"]) & {"show-input", "remove-input", "remove-cell", "hide-cell"}
                   for c in nb.cells if c.cell_type == "code"), page


def test_no_page_shows_papermill_s_parameters_cell_or_uncollapsed_plumbing(built_book: Path) -> None:
    html = built_book / "_build" / "html"
    for page in toc_pages(built_book):
        if not page.startswith("notebooks/"):
            continue
        text = (html / f"{page}.html").read_text()
        assert "# Parameters" not in text, page  # papermill's injected cell starts with this comment
        assert "This page ran with" in text, page
        assert "tag_hide-input" in text, page  # MyST-NB's class for a collapsed cell


def test_no_page_references_another_host(built_book: Path) -> None:
    html = built_book / "_build" / "html"
    for page in toc_pages(built_book):
        text = (html / f"{page}.html").read_text()
        assert "cdn.jsdelivr.net" not in text and "cdnjs.cloudflare.com" not in text, page
