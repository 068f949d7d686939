"""The `synthmed` command. Each subcommand is a thin wrapper over a package function."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _book(args: argparse.Namespace) -> int:
    from synthmed.book import NotebookFailed, build

    try:
        runs = build(args.root, args.profile, force=args.force, timeout=args.timeout, html=not args.no_html)
    except NotebookFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for run in runs:
        state = f"executed in {run.seconds:.0f} s" if run.executed else "unchanged, kept"
        print(f"{run.name}: {state}")
    if not args.no_html:
        print(f"book: {Path(args.root).resolve() / '_build' / 'html' / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthmed", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute the notebooks for a profile and build the HTML book")
    book.add_argument("--profile", default="cpu", choices=("tiny", "cpu", "paper"))
    book.add_argument("--root", default=".", help="repository root holding _toc.yml (default: .)")
    book.add_argument("--force", action="store_true", help="re-execute notebooks even if unchanged")
    book.add_argument("--timeout", type=int, default=1800, help="per-cell execution timeout in seconds")
    book.add_argument("--no-html", action="store_true", help="execute notebooks only")
    book.set_defaults(func=_book)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
