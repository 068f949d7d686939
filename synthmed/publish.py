"""The notebooks behind the book's launch buttons (Binder, Colab, JupyterHub).

The launch buttons open `notebooks/NAME.ipynb` on the branch `repository.branch` of `_config.yml`; the
notebooks' sources are jupytext `.py` files, and the executed `.ipynb` beside them is a git-ignored build
product. So `.github/workflows/book.yml` runs this module on every push to main and pushes what it writes
to that branch. Each notebook is its source as written, with two changes:

- the `parameters` cell's `profile` is `"tiny"`, sized for a free Binder or Colab session (the sources
  keep their own default, and papermill's parameters still decide what `make book` runs);
- the install cell (tagged `install`, first in every source) installs synthmed from this repository at
  the published commit, `git+URL@REF`, where the source holds the placeholder `git+REPOSITORY@REF`.
  Opened where synthmed is importable, the cell does nothing.

The book's download button hands out the executed notebooks (`_build/html/_sources/`), whose install cell
still holds the placeholder; `--downloads` fills it in there too, so a downloaded notebook opened in Colab
installs synthmed from the commit the site was built from.

    python -m synthmed.publish --ref COMMIT [--out DIR] [--keep-existing]
    python -m synthmed.publish --ref COMMIT --downloads _build/html
    python -m synthmed.publish --branch          # prints repository.branch

Only PyYAML and jupytext are needed (and the package on the path, as `python -m` from the root gives).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from synthmed.book import toc_notebooks

INSTALL_TAG = "install"
SOURCE_PLACEHOLDER = "git+REPOSITORY@REF"
LAUNCH_PROFILE = "tiny"
_PROFILE_LINE = re.compile(r'^profile\s*=\s*"[^"\n]*"', re.MULTILINE)


def repository(root: Path) -> tuple[str, str]:
    """`_config.yml`'s repository URL (no trailing slash or `.git`) and the launch buttons' branch."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text()) or {}
    repo = config.get("repository") or {}
    url, branch = str(repo.get("url") or ""), str(repo.get("branch") or "")
    if not url.startswith("https://github.com/") or not branch:
        raise ValueError(f"{root}/_config.yml: repository.url must be a https://github.com/ URL and "
                         f"repository.branch a branch, got {url!r} and {branch!r}")
    return url.rstrip("/").removesuffix(".git"), branch


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def launch_notebook(source: Path, url: str, ref: str):
    """One source as the launch buttons' notebook: tiny profile, install cell pointing at `url@ref`."""
    import jupytext

    notebook = jupytext.read(source)
    install = [c for c in notebook.cells if INSTALL_TAG in _tags(c)]
    params = [c for c in notebook.cells if "parameters" in _tags(c)]
    if len(install) != 1 or SOURCE_PLACEHOLDER not in install[0].source:
        raise ValueError(f"{source}: expected one cell tagged {INSTALL_TAG!r} holding {SOURCE_PLACEHOLDER!r}")
    if len(params) != 1:
        raise ValueError(f"{source}: expected one cell tagged 'parameters'")
    install[0].source = install[0].source.replace(SOURCE_PLACEHOLDER, f"git+{url}@{ref}")
    params[0].source, n = _PROFILE_LINE.subn(f'profile = "{LAUNCH_PROFILE}"', params[0].source)
    if n != 1:
        raise ValueError(f'{source}: the parameters cell must set `profile = "..."` on one line')
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.pop("jupytext", None)  # a plain notebook on the launch branch, not paired with the .py
    return notebook


def write_launch_notebooks(root: Path, ref: str, out: Path | None = None, keep_existing: bool = False) -> list[Path]:
    """Write `notebooks/NAME.ipynb` under `out` (default: `root`) for every notebook in the table of contents."""
    import nbformat

    root = Path(root)
    url, _ = repository(root)
    written = []
    for source in toc_notebooks(root):
        target = Path(out or root) / source.relative_to(root).with_suffix(".ipynb")
        if keep_existing and target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(launch_notebook(source, url, ref), target)
        written.append(target)
    return written


def fill_downloads(html: Path, url: str, ref: str) -> list[Path]:
    """Fill the install cell's source in every notebook under `html/_sources` (the download button's files)."""
    import nbformat

    filled = []
    for path in sorted((Path(html) / "_sources").rglob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells = [c for c in notebook.cells if INSTALL_TAG in _tags(c) and SOURCE_PLACEHOLDER in c.source]
        for cell in cells:
            cell.source = cell.source.replace(SOURCE_PLACEHOLDER, f"git+{url}@{ref}")
        if cells:
            nbformat.write(notebook, path)
            filled.append(path)
    return filled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthmed.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: .)")
    parser.add_argument("--ref", default="main", help="the commit or branch the install cell installs (default: main)")
    parser.add_argument("--out", type=Path, default=None, help="write under this folder (default: the root)")
    parser.add_argument("--keep-existing", action="store_true", help="leave notebooks that already exist alone")
    parser.add_argument("--downloads", type=Path, default=None, metavar="HTML",
                        help="fill the install cell of the built book's downloadable notebooks instead")
    parser.add_argument("--branch", action="store_true", help="print repository.branch of _config.yml and stop")
    args = parser.parse_args(argv)
    if args.branch:
        print(repository(args.root)[1])
        return 0
    if args.downloads is not None:
        for path in fill_downloads(args.downloads, repository(args.root)[0], args.ref):
            print(path)
        return 0
    for path in write_launch_notebooks(args.root, args.ref, args.out, args.keep_existing):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
