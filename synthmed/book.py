"""The book pipeline: execute each notebook in `_toc.yml` with papermill for a profile, then build.

Sources are jupytext py:percent files (`notebooks/NAME.py`); the executed `notebooks/NAME.ipynb`
beside each is a build product. An executed notebook records what it was made from (source
digest, parameters, package digest) under `metadata.synthmed`; when all three still match, the
notebook is not executed again.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import synthmed

log = logging.getLogger(__name__)

# Per cell: the generators chapter's first cell trains the cpu shared point's four long GANs, two at a
# time, about 35 minutes on a free 2-core machine and over an hour beside other work (a cpu rebuild hit
# 3,600 s there); a sweep cell runs up to about half an hour. The bound only ends a cell that would never
# end; papermill's lost widget messages have their own short timeout (WIDGET_TIMEOUT_S).
EXECUTION_TIMEOUT_S = 3 * 3600
# A cell tagged "widget" waits at most this long for its reply. Widget cells are quick, but
# nbclient now and then misses the reply to one and, with no timeout, waits forever; with one,
# the wait ends at the timeout and the reply is read (book-stack.md §4.3). A short timeout on
# widget cells alone keeps that stall short without limiting long training cells.
WIDGET_TIMEOUT_S = 30
RETRIES = 1  # a timed-out or dead kernel is retried once; a cell that raises is not
VENDOR_DIR = "_vendor"  # vendored widget JS; not `_static`, which Jupyter Book injects into every page
WIDGET_FILES = {  # node_modules path -> path under _vendor/widgets
    "requirejs/require.js": "require.js",
    "@jupyter-widgets/html-manager/dist/embed-amd.js": "embed-amd.js",
}


class NotebookFailed(RuntimeError):
    """A notebook raised in a cell; the message names the notebook and carries the traceback."""


@dataclass(frozen=True)
class NotebookRun:
    name: str
    executed: bool  # False when the previous execution was still valid
    seconds: float


# ---------------------------------------------------------------------------------------------
# Inputs: the table of contents, parameter files and fingerprints.


def toc_notebooks(root: Path) -> list[Path]:
    """The jupytext sources of every `notebooks/...` entry in `_toc.yml`, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    sources = []
    for entry in files:
        stem = Path(entry).with_suffix("") if entry.endswith(".ipynb") else Path(entry)
        source = root / stem.with_suffix(".py")
        if source.exists():
            sources.append(source)
        elif not (root / stem.with_suffix(".md")).exists():
            raise FileNotFoundError(f"_toc.yml lists {entry!r} but neither {source} nor a .md page exists")
    return sources


def load_parameters(params_file: Path, notebook: str) -> dict[str, Any]:
    """Parameters for one notebook: the file's top-level values, then its `notebooks: NAME:` block."""
    raw = yaml.safe_load(params_file.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{params_file}: expected a mapping of parameter names to values")
    per_notebook = raw.pop("notebooks", None) or {}
    params = dict(raw)
    params.update(per_notebook.get(notebook, {}) or {})
    return params


def package_digest() -> str:
    """Version plus a digest of the package's source, so a code change re-executes notebooks."""
    h = hashlib.sha256(synthmed.__version__.encode())
    pkg = Path(synthmed.__file__).parent
    for path in sorted(pkg.rglob("*.py")):
        h.update(str(path.relative_to(pkg)).encode())
        h.update(path.read_bytes())
    return f"{synthmed.__version__}+{h.hexdigest()[:12]}"


def fingerprint(source: Path, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "parameters": params,
        "package": package_digest(),
    }


def is_current(executed: Path, expected: dict[str, Any]) -> bool:
    """True when `executed` finished successfully from exactly these inputs."""
    if not executed.exists():
        return False
    import nbformat

    try:
        meta = nbformat.read(executed, as_version=4).metadata.get("synthmed", {})
    except Exception:  # an unreadable old output is simply stale
        return False
    recorded = {k: meta.get(k) for k in expected}
    return meta.get("status") == "ok" and recorded == expected


# ---------------------------------------------------------------------------------------------
# Execution.


def _failure_message(name: str, err: Exception) -> str:
    # PapermillExecutionError carries the cell number and the kernel's traceback lines.
    cell = getattr(err, "exec_count", None)
    tb = getattr(err, "traceback", None)
    text = "\n".join(tb) if tb else str(err)
    text = _strip_ansi(text)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return f"notebook {name!r} failed in {where}:\n{text}"


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _cell_timeout(timeout: int, widget_timeout: int, cell) -> int:
    return widget_timeout if "widget" in cell.get("metadata", {}).get("tags", []) else timeout


def execute_notebook(
    source: Path,
    output: Path,
    params: dict[str, Any],
    *,
    timeout: int = EXECUTION_TIMEOUT_S,
    widget_timeout: int = WIDGET_TIMEOUT_S,
    retries: int = RETRIES,
    force: bool = False,
    env: dict[str, str] | None = None,
) -> NotebookRun:
    """Execute one jupytext source with papermill into `output`, unless its last run is current."""
    import time

    import jupytext
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    name = source.stem
    expected = fingerprint(source, params)
    if not force and is_current(output, expected):
        log.info("%s: unchanged since its last execution, kept", name)
        return NotebookRun(name, executed=False, seconds=0.0)

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    old_env = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    start = time.perf_counter()
    try:
        for attempt in range(retries + 1):
            try:
                papermill.execute_notebook(
                    notebook,
                    str(output),
                    parameters=params,
                    kernel_name="python3",
                    cwd=str(source.parent),
                    execution_timeout=timeout,
                    progress_bar=False,
                    timeout_func=functools.partial(_cell_timeout, timeout, widget_timeout),
                )
                break
            except papermill.PapermillExecutionError as err:
                if err.ename in {"CellTimeoutError", "DeadKernelError"} and attempt < retries:
                    log.warning("%s: %s, retrying once", name, err.ename)
                    continue
                raise NotebookFailed(_failure_message(name, err)) from None
            except (CellTimeoutError, DeadKernelError, TimeoutError) as err:
                if attempt < retries:
                    log.warning("%s: %s, retrying once", name, type(err).__name__)
                    continue
                raise NotebookFailed(_failure_message(name, err)) from None
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - start

    executed = present_for_reading(nbformat.read(output, as_version=4), params)
    executed.metadata["synthmed"] = {**expected, "status": "ok", "seconds": round(seconds, 1)}
    nbformat.write(executed, output)
    return NotebookRun(name, executed=True, seconds=seconds)


READING_TAGS = ("show-input", "hide-input", "remove-input", "remove-cell", "hide-cell")  # a cell's own choice wins


def present_for_reading(notebook, params: dict[str, Any]):
    """An executed notebook arranged for the page: the story first, the code one click away.

    papermill's injected-parameters cell is dropped and the values that ran are stated once, in a short
    note above the `parameters` cell (whose defaults stay, collapsed); every code cell without a tag of
    `READING_TAGS` is collapsed (`hide-input`), so prose, figures and tables lead. Outputs are untouched.
    """
    import nbformat

    cells = [c for c in notebook.cells if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if cell.cell_type == "code" and not set(tags) & set(READING_TAGS):
            tags.append("hide-input")
    where = next((i for i, c in enumerate(cells) if "parameters" in c["metadata"]["tags"]), None)
    if where is not None and params:
        values = ", ".join(f"`{k} = {v!r}`" for k, v in params.items())
        note = nbformat.v4.new_markdown_cell(
            f"*This page ran with {values}; the collapsed cell below lists every parameter and its default.*"
        )
        note.metadata["tags"] = ["parameters-note"]
        cells.insert(where, note)
    notebook.cells = cells
    return notebook


# ---------------------------------------------------------------------------------------------
# The offline widget JavaScript and the HTML build.


# Loaded between require.js and embed-amd.js (`nb_ipywidgets_js` in _config.yml). The html-manager's modules
# are named AMD modules (`@jupyter-widgets/base`, ...`/html-manager/dist/libembed-amd`), and each loads its icon
# fonts from the folder of its module URL, which require.js derives from the module's *name*, relative to the
# page: `notebooks/@jupyter-widgets/html-manager/dist/*.woff2`, a 404. Mapping those names onto this script's
# own folder, where the fonts are copied, makes every font URL `_static/widgets/<hash>.woff2`, on any page.
WIDGET_PATHS_JS = """\
// Written by synthmed.book.vendor_widgets: resolve the widget modules' URLs (and so their icon fonts) here.
(function () {
  var here = new URL(".", document.currentScript.src).href.replace(/\\/$/, "");
  require.config({paths: {"@jupyter-widgets/html-manager/dist": here, "@jupyter-widgets": here}});
})();
"""
WIDGET_FONTS = ("*.woff2", "*.woff")  # what browsers take from the fonts' @font-face lists (ttf/eot/svg: older ones)


def vendor_widgets(root: Path) -> Path:
    """Copy the pinned widget manager, its icon fonts and require.js from node_modules (installed by `npm ci`)."""
    target = root / VENDOR_DIR / "widgets"
    target.mkdir(parents=True, exist_ok=True)
    modules = root / "node_modules"
    for src_rel, dst in WIDGET_FILES.items():
        src = modules / src_rel
        if not src.exists():
            raise FileNotFoundError(f"{src} is missing: run `npm ci` at the repository root (make does this)")
        shutil.copy2(src, target / dst)
    for pattern in WIDGET_FONTS:
        for font in (modules / "@jupyter-widgets/html-manager/dist").glob(pattern):
            shutil.copy2(font, target / font.name)
    (target / "paths.js").write_text(WIDGET_PATHS_JS)
    return target


def build_html(root: Path) -> Path:
    """`jupyter-book build . -W -n --keep-going`: every warning fails the build."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", ".", "-W", "-n", "--keep-going"]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}")
    return root / "_build" / "html"


def build(
    root: Path | str = ".",
    profile: str = "cpu",
    *,
    force: bool = False,
    timeout: int = EXECUTION_TIMEOUT_S,
    html: bool = True,
) -> list[NotebookRun]:
    """Execute every notebook in the table of contents for `profile`, then build the HTML book."""
    from synthmed import profiles

    root = Path(root).resolve()
    params_file = root / "params" / f"{profiles.get(profile).name}.yaml"
    env = {
        "SYNTHMED_HOME": os.environ.get("SYNTHMED_HOME", str(root / ".synthmed")),
        "TQDM_DISABLE": "1",  # progress bars would land in the book as widgets
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    runs = []
    for source in toc_notebooks(root):
        params = load_parameters(params_file, source.stem)
        log.info("executing %s with %s", source.name, params_file.name)
        runs.append(
            execute_notebook(source, source.with_suffix(".ipynb"), params, timeout=timeout, force=force, env=env)
        )
    if html:
        vendor_widgets(root)
        build_html(root)
    return runs
