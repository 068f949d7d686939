"""A Sphinx extension for the book (listed in `_config.yml` under `sphinx: extra_extensions`).

It removes the second copy of every inline `<script>` that Sphinx 7.4 writes twice on each page. An
extension's inline script, `app.add_js_file(None, body=...)`, registered after the HTML builder has started
(sphinx-thebe's `const THEBE_JS_URL = ...`, sphinx-togglebutton's selector) is stored once with the file
name `None` and again, when writing starts, with the file name `""`; the two compare unequal, so both are
written. A repeated `const` is a SyntaxError in the browser ("Identifier 'THEBE_JS_URL' has already been
declared") on every page. Sphinx 7.4 is what jupyter-book 1.x allows (`sphinx~=7.0`).

Nothing here imports Sphinx, so the package imports without the book extra.
"""

from __future__ import annotations

from typing import Any

__all__ = ["drop_repeated_inline_scripts", "setup"]


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""  # None and "" are the same inline script
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def drop_repeated_inline_scripts(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """`html-page-context`: keep the first of several identical inline scripts; files are left as they are."""
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if not key[0] and key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept  # in place: the builder restores its own list after each page


def setup(app) -> dict[str, Any]:
    # After every other handler (default priority 500), so scripts added for this page are seen too.
    app.connect("html-page-context", drop_repeated_inline_scripts, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
