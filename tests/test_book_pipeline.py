"""The book pipeline on a tiny fixture notebook: parameters, caching, failures, parameter files."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from synthmed import book

FIXTURE = Path(__file__).parent / "fixtures" / "pipeline_demo.py"


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline_demo.py"
    shutil.copy(FIXTURE, path)
    return path


def _stdout(notebook_path: Path) -> str:
    nb = nbformat.read(notebook_path, as_version=4)
    return "".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )


def test_parameters_reach_the_notebook_and_unchanged_runs_are_skipped(source: Path) -> None:
    out = source.with_suffix(".ipynb")
    first = book.execute_notebook(source, out, {"n_points": 5}, timeout=120)
    assert first.executed
    assert "n_points=5 sum=30" in _stdout(out)
    meta = nbformat.read(out, as_version=4).metadata["synthmed"]
    assert meta["status"] == "ok" and meta["parameters"] == {"n_points": 5}

    again = book.execute_notebook(source, out, {"n_points": 5}, timeout=120)
    assert not again.executed

    changed = book.execute_notebook(source, out, {"n_points": 4}, timeout=120)
    assert changed.executed
    assert "n_points=4 sum=14" in _stdout(out)

    source.write_text(source.read_text().replace("sum=", "total="))
    assert not book.is_current(out, book.fingerprint(source, {"n_points": 4}))


def test_a_failing_cell_fails_with_the_notebook_name_and_traceback(source: Path) -> None:
    out = source.with_suffix(".ipynb")
    with pytest.raises(book.NotebookFailed) as err:
        book.execute_notebook(source, out, {"fail": True}, timeout=120)
    message = str(err.value)
    assert "'pipeline_demo'" in message
    assert "ValueError" in message and "the fixture was asked to fail" in message
    # A failed run is never taken for a finished one.
    assert not book.is_current(out, book.fingerprint(source, {"fail": True}))


def test_cells_tagged_widget_get_the_short_timeout(source: Path) -> None:
    out = source.with_suffix(".ipynb")
    with pytest.raises(book.NotebookFailed, match="pipeline_demo"):
        book.execute_notebook(source, out, {"widget_seconds": 5}, timeout=60, widget_timeout=1, retries=0)


def test_parameter_files_merge_common_and_per_notebook_values(tmp_path: Path) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("profile: tiny\nseed: 1\nnotebooks:\n  data:\n    seed: 7\n    n: 3\n")
    assert book.load_parameters(params, "data") == {"profile": "tiny", "seed": 7, "n": 3}
    assert book.load_parameters(params, "other") == {"profile": "tiny", "seed": 1}


def test_toc_lists_sources_in_reading_order_and_rejects_missing_files(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    for name in ("b", "a"):
        (tmp_path / "notebooks" / f"{name}.py").write_text("# %%\n")
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: notebooks/b\n- file: notebooks/a\n"
    )
    assert [p.stem for p in book.toc_notebooks(tmp_path)] == ["b", "a"]
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n- file: notebooks/zz\n")
    with pytest.raises(FileNotFoundError, match="zz"):
        book.toc_notebooks(tmp_path)


def _notebook_parameters(source: Path) -> set[str]:
    """The names the `parameters` cell of a jupytext source assigns."""
    import ast

    cell = source.read_text().split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    return {t.id for node in ast.parse(cell).body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)}


def test_every_params_file_names_its_profile_and_holds_only_parameters_every_notebook_takes() -> None:
    from synthmed import profiles

    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "params").glob("*.yaml"))
    assert [f.stem for f in files] == sorted(profiles.NAMES)  # one file per profile, no stray ones
    notebooks = {source.stem: _notebook_parameters(source) for source in book.toc_notebooks(root)}
    assert notebooks and all(notebooks.values())
    for path in files:
        for name, taken in notebooks.items():
            params = book.load_parameters(path, name)
            assert profiles.get(params["profile"]).name == path.stem
            # A reader's overrides only: a key no notebook takes would be dropped by papermill unseen, and
            # a profile's own settings belong to synthmed.profiles.
            assert set(params) <= taken, (path.name, name, set(params) - taken)


def test_present_for_reading_drops_the_injected_cell_states_the_values_once_and_collapses_code() -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\nprofile = "tiny"\n', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("import synthmed"),
        nbformat.v4.new_code_cell("plot()", metadata={"tags": ["show-input"]}),
        nbformat.v4.new_code_cell("explorer", metadata={"tags": ["widget", "remove-input"]}),
    ]
    out = book.present_for_reading(nb, {"profile": "tiny", "seed": 1})
    sources = [c.source for c in out.cells]
    assert not any(s.startswith("# Parameters") for s in sources)
    note = out.cells[1]
    assert note.cell_type == "markdown" and "`profile = 'tiny'`" in note.source and "`seed = 1`" in note.source
    assert out.cells[2].metadata["tags"] == ["parameters", "hide-input"]  # the defaults stay, collapsed
    assert out.cells[3].metadata["tags"] == ["hide-input"]  # plumbing collapsed
    assert out.cells[4].metadata["tags"] == ["show-input"]  # a cell's own choice wins
    assert out.cells[5].metadata["tags"] == ["widget", "remove-input"]
    assert [c.cell_type for c in out.cells].count("markdown") == 2
