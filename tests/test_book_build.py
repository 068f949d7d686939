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
        assert ["parameters"] in tags and ["injected-parameters"] in tags


def test_no_page_references_another_host(built_book: Path) -> None:
    html = built_book / "_build" / "html"
    for page in toc_pages(built_book):
        text = (html / f"{page}.html").read_text()
        assert "cdn.jsdelivr.net" not in text and "cdnjs.cloudflare.com" not in text, page
