"""The real-or-synthetic quiz as one HTML output that works in the published, static page: no kernel.

`page_quiz(items)` turns `synthmed.reader.quiz.make_items`'s items into a `PageQuiz`, an object whose
`_repr_html_` is the whole quiz: the images as inline PNG data URIs, Real / Synthetic buttons with the
confidence the responses schema asks for, and, after the last answer, the reader's accuracy with its
Clopper-Pearson interval and exact binomial p-value against chance, computed in the browser
(`synthmed.reader.page_quiz_js`, our own JavaScript: the numbers equal `synthmed.reader.study.chance_test`
on the same answers, and the strings equal `shown_result`), and a button that downloads the answers as a
responses CSV (`synthmed.reader.responses`) that `read_responses` loads. Displayed in a notebook, myst-nb
writes the HTML into the built page as it is, so its inline script runs there; in Jupyter it runs in
trusted output. Nothing is requested from any host. `PageQuiz.save` writes it as a page of its own.

How the truth is hidden: the page never holds an image's truth as text. Each item carries a truth code,
`truth_code(salt, image_id, truth)`: a 32-bit keyed hash of the quiz's salt, the image's opaque id and
its truth, as 8 hex digits. Codes differ from image to image, and the same truth gives unrelated codes,
so neither the page's text nor its source shows which images are real. After the last answer the script
hashes both possible truths for each image and keeps the one that matches. This keeps the answer out of
sight, not out of reach: the salt and the script are in the page, and a reader who runs the hash by hand
can recover every truth. A static page without a server cannot do better, and a reader study that needs
more runs the kernel quiz (`synthmed.reader.quiz.Quiz`), whose truth never leaves Python.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed.data import MODALITIES
from synthmed.reader.page_quiz_js import APP_JS, STATS_JS
from synthmed.reader.quiz import QuizItem, png_bytes
from synthmed.reader.responses import CONFIDENCE_RANGE, RESPONSE_COLUMNS, TRUTH_VALUES
from synthmed.reader.study import DEFAULT_ALPHA, ChanceTest

# How the page shows each number (Python format specs; the page's script formats the same way).
SHOWN_FORMATS = {"accuracy": ".3f", "low": ".3f", "high": ".3f", "p_value": ".3g"}
MAX_DISPLAY_SIZE = 2048


def shown_result(test: ChanceTest) -> dict[str, str]:
    """The strings the page shows for `test` (accuracy, the interval's ends, the p-value)."""
    return {name: format(getattr(test, name), spec) for name, spec in SHOWN_FORMATS.items()}


def truth_code(salt: str, image_id: str, truth: str) -> str:
    """The page's code for an image's truth: a 32-bit keyed hash as 8 hex digits (see the module's doc).

    FNV-1a over the UTF-8 bytes of salt, id and truth (newline-separated), then a final avalanche; the
    page's `sqTruthCode` computes the same."""
    h = 0x811C9DC5
    for byte in f"{salt}\n{image_id}\n{truth}".encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return f"{h:08x}"


@dataclass(frozen=True)
class PageQuiz:
    """The quiz as HTML. Display it in a notebook (`_repr_html_`) or `save` it as a page of its own.

    `settings`: the (modality, resolution, generator) of its images, each once, in order of first use."""

    html: str
    n_items: int
    settings: tuple[tuple[str, int, str], ...]
    alpha: float
    display_size: int

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        shown = ", ".join(f"{m} {r}px {g}" for m, r, g in self.settings)
        return f"PageQuiz({self.n_items} images: {shown}; alpha {self.alpha:g}; needs a browser with JavaScript)"

    def standalone(self, title: str = "Real or synthetic?") -> str:
        """A complete HTML document holding the quiz and nothing else (no favicon request either)."""
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n'
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f"{self.html}\n</body>\n</html>\n"
        )

    def save(self, path: str | Path, title: str = "Real or synthetic?") -> Path:
        path = Path(path)
        path.write_text(self.standalone(title), encoding="utf-8")
        return path


def page_quiz(
    items: Sequence[QuizItem],
    *,
    alpha: float = DEFAULT_ALPHA,
    display_size: int = 256,
    salt: str | None = None,
) -> PageQuiz:
    """The quiz over `items` (in their order) as a `PageQuiz`; see the module's doc.

    Each item's modality, resolution and generator go into the CSV rows as the item holds them. `alpha`:
    the level of the test and of the 1 - alpha interval shown. `display_size`: pixels on screen, each
    image enlarged with nearest-neighbour (`png_bytes`). `salt`: the truth codes' key; None derives one
    from the items' ids and pixels (never their truth), so the same items give the same page.
    Raises ValueError naming what is wrong with the input.
    """
    items = list(items)
    _check(items, alpha, display_size)
    alpha, display_size = float(alpha), int(display_size)
    if salt is None:
        digest = hashlib.sha256()
        for item in items:
            digest.update(item.image_id.encode())
            digest.update(np.ascontiguousarray(item.image).tobytes())
        salt = digest.hexdigest()[:16]
    if not isinstance(salt, str) or not salt:
        raise ValueError(f"salt must be a non-empty string; got {salt!r}")
    records = []
    for item in items:
        codes = {truth: truth_code(salt, item.image_id, truth) for truth in TRUTH_VALUES}
        if len(set(codes.values())) < len(codes):  # a 1 in 2**32 chance per image
            raise ValueError(f"image {item.image_id!r}: both truths hash to one code with salt {salt!r}; pass another")
        records.append({
            "id": item.image_id,
            "modality": item.modality,
            "resolution": int(item.resolution),
            "generator": item.generator,
            "code": codes[item.truth],
            "src": "data:image/png;base64," + base64.b64encode(png_bytes(item.image, display_size)).decode("ascii"),
        })
    settings = tuple(dict.fromkeys((r["modality"], r["resolution"], r["generator"]) for r in records))
    level = f"{100 * (1 - alpha):.10g}%"
    data = {
        "salt": salt,
        "alpha": float(alpha),
        "columns": list(RESPONSE_COLUMNS),
        "truth_values": list(TRUTH_VALUES),
        "confidence_range": list(CONFIDENCE_RANGE),
        "verdicts": {
            "above": f"At level {alpha:g} you tell real from synthetic better than chance.",
            "below": f"At level {alpha:g} you did worse than chance: you called real images synthetic, or "
            "synthetic images real, more often than not.",
            "chance": f"At level {alpha:g} this does not show that you tell real from synthetic better than "
            "chance (nor that you cannot: a few answers decide little).",
        },
        "items": records,
    }
    identity = json.dumps([salt, [r["id"] for r in records], alpha, display_size])  # never the truth codes
    quiz_id = "synthmed-quiz-" + hashlib.sha256(identity.encode()).hexdigest()[:12]
    page = _HTML.format(
        id=quiz_id,
        size=display_size,
        first=records[0]["src"],
        what=html.escape(_describe(records, settings)),
        level=html.escape(level),
        alpha=html.escape(f"{alpha:g}"),
        low=CONFIDENCE_RANGE[0],
        high=CONFIDENCE_RANGE[1],
        data=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
        script="(function () {\n'use strict';\n"
        "const root = (document.currentScript && document.currentScript.parentElement)"
        f" || document.getElementById('{quiz_id}');\n"
        f"{STATS_JS}\n{APP_JS}\n}})();",
    )
    return PageQuiz(page, len(items), settings, float(alpha), display_size)


def _describe(records: list[dict], settings: tuple[tuple[str, int, str], ...]) -> str:
    shown = "; ".join(f"{m} at {r}x{r} pixels, synthetic images from {g}" for m, r, g in settings)
    return f"{len(records)} images ({shown})"


def _check(items: list, alpha: float, display_size: int) -> None:
    if not items:
        raise ValueError("the quiz needs at least one item")
    not_items = [i for i, item in enumerate(items) if not isinstance(item, QuizItem)]
    if not_items:
        raise ValueError(f"items {not_items} are not QuizItems (synthmed.reader.quiz.make_items makes them)")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha {alpha!r} must lie in (0, 1)")
    if isinstance(display_size, bool) or not isinstance(display_size, (int, np.integer)) or not (
        1 <= display_size <= MAX_DISPLAY_SIZE
    ):
        raise ValueError(f"display_size {display_size!r} must be an integer from 1 to {MAX_DISPLAY_SIZE}")
    seen: set[str] = set()
    for position, item in enumerate(items):
        where = f"item {position} ({item.image_id!r})"
        if not isinstance(item.image_id, str) or not item.image_id.strip():
            raise ValueError(f"item {position}: image_id must be non-empty text")
        if item.image_id in seen:
            raise ValueError(f"{where}: image_id repeated; a reader reads each image once")
        seen.add(item.image_id)
        if any(truth in item.image_id.lower() for truth in TRUTH_VALUES):
            raise ValueError(f"{where}: the id names a truth value; ids must be opaque")
        if item.truth not in TRUTH_VALUES:
            raise ValueError(f"{where}: truth {item.truth!r} is not one of {list(TRUTH_VALUES)}")
        if item.modality not in MODALITIES:
            raise ValueError(f"{where}: modality {item.modality!r} is not one of {list(MODALITIES)}")
        if not isinstance(item.generator, str) or not item.generator.strip():
            raise ValueError(f"{where}: generator must be non-empty text")
        image = np.asarray(item.image)
        if image.ndim != 2 or image.shape[0] != image.shape[1] or image.dtype != np.uint8:
            raise ValueError(f"{where}: image must be a square uint8 (R, R) array; got {image.dtype} {image.shape}")
        if isinstance(item.resolution, bool) or not isinstance(item.resolution, (int, np.integer)) or (
            item.resolution != image.shape[0]
        ):
            raise ValueError(f"{where}: resolution {item.resolution!r} is not the image's side {image.shape[0]}")


# The quiz's markup. Before its script runs only the note shows (a page without JavaScript, or an untrusted
# notebook, gets no dead buttons); the truth is nowhere in it.
_HTML = """<div class="synthmed-quiz" id="{id}">
<style>
#{id} {{ border: 1px solid rgba(128, 128, 128, 0.5); border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }}
#{id} .sq-image {{ display: block; width: {size}px; max-width: 100%; height: auto; margin: 0.5em 0;
  image-rendering: pixelated; background: #000; }}
#{id} button {{ font: inherit; padding: 0.3em 1.2em; margin-right: 0.5em; border-radius: 4px; cursor: pointer;
  border: 1px solid rgba(128, 128, 128, 0.7); background: rgba(128, 128, 128, 0.12); color: inherit; }}
#{id} .sq-fields input[type=text] {{ font: inherit; width: 14em; margin-right: 1em; }}
#{id} .sq-confidence label {{ margin-right: 0.6em; }}
#{id} .sq-result p {{ margin: 0.4em 0; }}
</style>
<p class="sq-what">Real or synthetic? {what}. Answer each image; your score appears after the last one.</p>
<p class="sq-noscript-note"><em>This quiz runs in your browser and needs JavaScript.</em></p>
<div class="sq-ask" hidden>
<p class="sq-fields"><label>Your pseudonym <input type="text" class="sq-reader"></label>
<label>Your training (optional) <input type="text" class="sq-experience" placeholder="e.g. radiologist, 8 years">
</label></p>
<p class="sq-progress" aria-live="polite"></p>
<img class="sq-image" alt="" src="{first}">
<p class="sq-confidence">Confidence ({low} guess to {high} certain): </p>
<p><button type="button" class="sq-real">Real</button><button type="button" class="sq-synthetic">Synthetic</button></p>
</div>
<div class="sq-result" hidden aria-live="polite">
<p><strong>You answered <span class="sq-k"></span> of <span class="sq-n"></span> correctly</strong>: accuracy
<span class="sq-accuracy"></span>, {level} Clopper-Pearson interval <span class="sq-low"></span> to
<span class="sq-high"></span>; exact two-sided binomial test against chance (0.5): p = <span class="sq-p"></span>
(level {alpha}).</p>
<p class="sq-verdict"></p>
<p>Real images called real: <span class="sq-real-right"></span> of <span class="sq-real-n"></span>; synthetic images
called synthetic: <span class="sq-synthetic-right"></span> of <span class="sq-synthetic-n"></span>.</p>
<p><button type="button" class="sq-download">Download my answers (CSV)</button> in synthmed's responses format, one
row per answer, to analyse or to contribute; nothing is sent anywhere.</p>
</div>
<script type="application/json" class="sq-data">{data}</script>
<script>
{script}
</script>
</div>"""
