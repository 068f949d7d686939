"""Publishing (issue 14, item 4): the workflows, the Binder environment, the launch buttons' configuration,
the notebooks' install cell and the launch notebooks that synthmed.publish writes.

The workflows cannot run here, so actionlint checks them, and is shown to fail on a broken copy.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import tomllib
import yaml

from synthmed import book, publish

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # PyYAML reads a bare `on:` key as True
    return on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on)}


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _actionlint() -> str:
    exe = Path(sys.executable).with_name("actionlint")
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    assert found, "actionlint is not installed: `pip install -e .[test]` (make does this)"
    return found


def _lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", *map(str, files)], capture_output=True, text=True, cwd=ROOT)


# ---------------------------------------------------------------------------------------------
# Workflows


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["book.yml", "test.yml"]
    result = _lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path: Path) -> None:
    broken = (WORKFLOWS / "book.yml").read_text()
    broken = broken.replace("steps.deployment.outputs.page_url", "steps.deploy.outputs.page_url")  # no such step
    broken = broken.replace("timeout-minutes: 240", "timeout-minutes: soon")
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "book.yml").write_text(broken)
    result = _lint(folder / "book.yml")
    assert result.returncode != 0
    assert "deploy" in result.stdout and "timeout-minutes" in result.stdout, result.stdout


def test_book_workflow_builds_the_cpu_book_with_a_cache_and_deploys_to_pages() -> None:
    wf = _workflow("book.yml")
    assert _triggers(wf)["push"]["branches"] == ["main"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert build["timeout-minutes"] >= 180  # a cpu build from nothing takes 1.5-2 hours on 2 cores
    runs = [s.get("run", "") for s in build["steps"]]
    assert any("make book" in r and "PROFILE=cpu" in r for r in runs)
    cache = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/cache@"))
    assert ".synthmed" in cache["with"]["path"].split()
    key = cache["with"]["key"]
    assert "steps.version.outputs.version" in key  # the package version
    for settings in ("synthmed/**", "params/**", "pyproject.toml", "constraints.txt"):
        assert f"'{settings}'" in key, settings
    uses = [s.get("uses", "") for s in build["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_book_workflow_fills_the_downloadable_notebooks_before_uploading_the_site() -> None:
    steps = _workflow("book.yml")["jobs"]["build"]["steps"]
    order = [s.get("run", s.get("uses", "")) for s in steps]
    fill = next(i for i, r in enumerate(order) if "synthmed.publish" in r and "--downloads _build/html" in r)
    build = next(i for i, r in enumerate(order) if "make book" in r)
    upload = next(i for i, r in enumerate(order) if r.startswith("actions/upload-pages-artifact@"))
    assert build < fill < upload


def test_book_workflow_pushes_the_launch_notebooks_to_the_configured_branch() -> None:
    job = _workflow("book.yml")["jobs"]["launch-notebooks"]
    assert job["permissions"] == {"contents": "write"}
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "python -m synthmed.publish --branch" in script  # the branch comes from _config.yml
    assert 'python -m synthmed.publish --ref "$GITHUB_SHA"' in script
    assert 'git push -f origin "$branch"' in script


def test_test_workflow_runs_make_test_on_push_and_pull_request() -> None:
    wf = _workflow("test.yml")
    assert {"push", "pull_request"} <= set(_triggers(wf))
    assert any(s.get("run", "").strip() == "bash .ci/run" for s in _steps(wf))
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# ---------------------------------------------------------------------------------------------
# Binder and the launch buttons


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;@]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_binder_installs_the_package_with_cpu_torch_consistent_with_pyproject() -> None:
    project = _pyproject()["project"]
    lines = [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    assert f"--extra-index-url {CPU_INDEX}" in lines
    # The package itself, editable from the repository root: every runtime dependency of pyproject.toml,
    # plus extras that pyproject.toml defines.
    package = [ln for ln in lines if ln.startswith("-e .")]
    assert len(package) == 1, lines
    extras = re.fullmatch(r"-e \.(?:\[([\w,-]+)\])?", package[0]).group(1)
    extras = extras.split(",") if extras else []
    assert set(extras) <= set(project["optional-dependencies"]), extras
    assert "labels" in extras  # the chest phantoms' label table
    # Anything named beside it asks for the range pyproject.toml declares (runtime or book extra).
    declared = {_requirement_name(d): d for d in project["dependencies"]}
    declared.update({_requirement_name(d): d for d in project["optional-dependencies"]["book"]})
    named = [ln for ln in lines if not ln.startswith("-")]
    assert {_requirement_name(ln) for ln in named} >= {"torch", "torchvision"}
    for spec in named:
        assert spec == declared[_requirement_name(spec)], (spec, declared.get(_requirement_name(spec)))
    # Python: the version the project pins and tests (constraints.txt is a freeze of Python 3.11).
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == "python-3.11"
    assert project["requires-python"] == ">=3.10"
    post = ROOT / "binder" / "postBuild"
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert "python -m synthmed.publish --keep-existing" in post.read_text()


def test_launch_buttons_and_repository_buttons_are_configured_from_one_repository_url() -> None:
    config = _config()
    url, branch = publish.repository(ROOT)
    assert url == config["repository"]["url"] and branch == config["repository"]["branch"]
    assert config["html"]["use_repository_button"] and config["html"]["use_issues_button"]
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert buttons["jupyterhub_url"].startswith("https://")
    # One place: no other tracked file spells the repository URL (the README says where to set it).
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    spelled = [f for f in tracked if f != "_config.yml" and (ROOT / f).is_file()
               and url.split("://", 1)[1] in (ROOT / f).read_text(errors="ignore")]
    assert not spelled, spelled
    readme = (ROOT / "README.md").read_text()
    assert "repository.url" in readme and "_config.yml" in readme


# ---------------------------------------------------------------------------------------------
# The install cell and the launch notebooks


class _Shell:
    """Stands in for IPython's `get_ipython()`: records the magics a cell runs."""

    def __init__(self) -> None:
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        self.magics.append((name, line))


def _run_cell(source: str) -> tuple[_Shell, dict]:
    from IPython.core.inputtransformer2 import TransformerManager

    shell = _Shell()
    namespace = {"get_ipython": lambda: shell}
    exec(TransformerManager().transform_cell(source), namespace)
    return shell, namespace


def _install_cell(notebook) -> tuple[int, object]:
    found = [(i, c) for i, c in enumerate(notebook.cells) if publish.INSTALL_TAG in c.metadata.get("tags", [])]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("source", book.toc_notebooks(ROOT), ids=lambda p: p.stem)
def test_every_notebook_starts_with_the_install_cell_before_its_parameters(source: Path) -> None:
    notebook = jupytext.read(source)
    where, cell = _install_cell(notebook)
    params = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    assert where == 0 and params and where < params[0]
    assert cell.cell_type == "code" and "remove-cell" in cell.metadata["tags"]  # not shown in the book
    assert publish.SOURCE_PLACEHOLDER in cell.source
    assert "%pip install" in cell.source  # jupytext turned the comment-escaped magic back into a magic


def test_install_cell_does_nothing_where_synthmed_is_importable() -> None:
    _, cell = _install_cell(jupytext.read(ROOT / "notebooks" / "data.py"))
    shell, namespace = _run_cell(cell.source)
    assert shell.magics == []
    assert "_source" not in namespace


def test_install_cell_installs_synthmed_where_it_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, cell = _install_cell(jupytext.read(ROOT / "notebooks" / "data.py"))
    monkeypatch.setitem(sys.modules, "synthmed", None)  # `import synthmed` raises ImportError
    # In a clone (Binder, JupyterHub): the clone itself, with the CPU index for torch.
    monkeypatch.chdir(ROOT / "notebooks")
    shell, namespace = _run_cell(cell.source)
    assert [name for name, _ in shell.magics] == ["pip"]
    line = shell.magics[0][1]
    assert f"--extra-index-url {CPU_INDEX}" in line and '"synthmed[labels] @ {_source}"' in line
    assert namespace["_source"] == ROOT.as_uri()
    # Anywhere else (Colab): from GitHub; the source holds the placeholder synthmed.publish fills in.
    monkeypatch.chdir(tmp_path)
    shell, namespace = _run_cell(cell.source)
    assert len(shell.magics) == 1 and namespace["_source"] == publish.SOURCE_PLACEHOLDER


def test_launch_notebooks_run_at_tiny_and_install_from_the_configured_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import nbformat

    url, _ = publish.repository(ROOT)
    written = publish.write_launch_notebooks(ROOT, "0123abc", out=tmp_path)
    assert sorted(p.stem for p in written) == sorted(p.stem for p in book.toc_notebooks(ROOT))
    for path in written:
        assert path.parent == tmp_path / "notebooks"
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        _, cell = _install_cell(notebook)
        assert f'"git+{url}@0123abc"' in cell.source and publish.SOURCE_PLACEHOLDER not in cell.source
        params = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
        assert re.search(r'^profile = "tiny"', params.source, re.MULTILINE), path.name
    # Opened in Colab (no clone around it, no synthmed), the cell installs this commit from GitHub.
    monkeypatch.setitem(sys.modules, "synthmed", None)
    monkeypatch.chdir(tmp_path)
    _, cell = _install_cell(nbformat.read(written[0], as_version=4))
    shell, namespace = _run_cell(cell.source)
    assert len(shell.magics) == 1 and namespace["_source"] == f"git+{url}@0123abc"


def test_publish_keeps_existing_notebooks_and_prints_the_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = publish.write_launch_notebooks(ROOT, "main", out=tmp_path)
    assert publish.write_launch_notebooks(ROOT, "main", out=tmp_path, keep_existing=True) == []
    assert first
    assert publish.main(["--root", str(ROOT), "--branch"]) == 0
    assert capsys.readouterr().out.strip() == _config()["repository"]["branch"]


def test_downloadable_notebooks_get_the_install_source_filled_in(tmp_path: Path) -> None:
    import nbformat

    url, _ = publish.repository(ROOT)
    sources = tmp_path / "_sources" / "notebooks"
    sources.mkdir(parents=True)
    nbformat.write(jupytext.read(ROOT / "notebooks" / "data.py"), sources / "data.ipynb")
    (sources / "intro.md").write_text("# not a notebook")
    assert publish.main(["--root", str(ROOT), "--ref", "feed42", "--downloads", str(tmp_path)]) == 0
    _, cell = _install_cell(nbformat.read(sources / "data.ipynb", as_version=4))
    assert f'"git+{url}@feed42"' in cell.source and publish.SOURCE_PLACEHOLDER not in cell.source
    assert publish.fill_downloads(tmp_path, url, "feed42") == []  # nothing left to fill
