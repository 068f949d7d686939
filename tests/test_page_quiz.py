"""The quiz that runs in the static page (synthmed.reader.page_quiz): its HTML, its JavaScript statistics
against synthmed.reader.study, and a reader's whole session in Debian's Chromium through playwright
(launched as tests/test_book_browser.py does, never `playwright install`).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import http.server
import io
import json
import math
import re
import socketserver
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from synthmed.reader import study
from synthmed.reader.page_quiz import PageQuiz, page_quiz, shown_result, truth_code
from synthmed.reader.page_quiz_js import STATS_JS
from synthmed.reader.quiz import QuizItem, make_items, png_bytes
from synthmed.reader.responses import RESPONSE_COLUMNS, TRUTH_VALUES, read_responses
from tests.test_book_browser import CHROMIUM_ARGS, chromium_path


def _images(n: int, seed: int, side: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, side, side)).astype(np.uint8)


def _items(n_per_class: int = 3, modality: str = "chest", side: int = 16, seed: int = 0) -> list[QuizItem]:
    return make_items(_images(10, seed, side), _images(10, seed + 1, side), n_per_class=n_per_class,
                      modality=modality, generator="cpD-GAN", seed=seed)


def _data(quiz: PageQuiz) -> dict:
    found = re.search(r'<script type="application/json" class="sq-data">(.*?)</script>', quiz.html, re.S)
    assert found, "the quiz's data block is missing"
    return json.loads(found.group(1))


# --- the HTML, in Python ---------------------------------------------------------------------------


def test_the_page_holds_no_plain_text_truth() -> None:
    items = _items(4)
    quiz = page_quiz(items, salt="s1")
    records = _data(quiz)["items"]
    for record in records:  # an item's data names no truth
        assert not any(truth in json.dumps(record) for truth in TRUTH_VALUES)
    # Flipping every truth changes the page only in the truth codes: nothing else depends on the truth.
    flip = {"real": "synthetic", "synthetic": "real"}
    flipped = page_quiz([dataclasses.replace(i, truth=flip[i.truth]) for i in items], salt="s1")
    code = re.compile(r'"code":"[0-9a-f]{8}"')
    assert quiz.html != flipped.html
    assert code.sub("", quiz.html) == code.sub("", flipped.html)
    # Each code is the keyed hash of its own truth, and codes are per image: one truth gives unrelated codes.
    assert [r["code"] for r in records] == [truth_code("s1", i.image_id, i.truth) for i in items]
    for truth in TRUTH_VALUES:
        codes = [r["code"] for r, i in zip(records, items, strict=True) if i.truth == truth]
        assert len(set(codes)) == len(codes) == 4
    # The default salt comes from ids and pixels, never the truth: the same items give the same page.
    assert page_quiz(items).html == page_quiz(items).html
    assert _data(page_quiz(items))["salt"] == _data(page_quiz([dataclasses.replace(i, truth="real") for i in items]))[
        "salt"
    ]


def test_the_page_carries_each_item_s_metadata_and_pixels() -> None:
    items = _items(2, "chest", 16) + _items(1, "brain", 8, seed=5)
    quiz = page_quiz(items, alpha=0.1, display_size=np.int64(48))
    data = _data(quiz)
    assert [(r["id"], r["modality"], r["resolution"], r["generator"]) for r in data["items"]] == [
        (i.image_id, i.modality, i.resolution, i.generator) for i in items
    ]
    assert quiz.settings == (("chest", 16, "cpD-GAN"), ("brain", 8, "cpD-GAN"))
    assert quiz.n_items == 6 and quiz.alpha == 0.1 and quiz.display_size == 48
    assert data["alpha"] == 0.1 and data["columns"] == list(RESPONSE_COLUMNS)
    assert "90% Clopper-Pearson interval" in quiz.html and "6 images" in quiz.html
    assert quiz._repr_html_() == quiz.html and "6 images" in repr(quiz)
    for record, item in zip(data["items"], items, strict=True):
        prefix = "data:image/png;base64,"
        assert record["src"].startswith(prefix)
        png = base64.b64decode(record["src"][len(prefix):])
        assert png == png_bytes(item.image, 48)
        shown = np.asarray(Image.open(io.BytesIO(png)))
        assert shown.shape == (48, 48)
        step = 48 // item.resolution
        assert (shown[::step, ::step] == item.image).all()  # nearest-neighbour: every pixel as it was
    assert "http://" not in quiz.html and "https://" not in quiz.html and "src=\"//" not in quiz.html


def test_shown_result_formats_like_the_page() -> None:
    test = study.chance_test(9, 12, 0.1)
    assert shown_result(test) == {
        "accuracy": "0.750",
        "low": format(test.low, ".3f"),
        "high": format(test.high, ".3f"),
        "p_value": format(test.p_value, ".3g"),
    }


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda items: [], {}, "at least one item"),
        (lambda items: [*items, "not an item"], {}, "not QuizItems"),
        (lambda items: items, {"alpha": 0}, "alpha 0 must lie in"),
        (lambda items: items, {"alpha": 1.5}, "alpha 1.5 must lie in"),
        (lambda items: items, {"display_size": 0}, "display_size 0 must be an integer"),
        (lambda items: items, {"display_size": "256"}, "display_size '256' must be an integer"),
        (lambda items: items, {"salt": ""}, "salt must be a non-empty string"),
        (lambda items: [*items, items[0]], {}, "image_id repeated"),
        (lambda items: [dataclasses.replace(items[0], image_id=" ")], {}, "image_id must be non-empty"),
        (lambda items: [dataclasses.replace(items[0], image_id="chest-real-1")], {}, "names a truth value"),
        (lambda items: [dataclasses.replace(items[0], truth="fake")], {}, "truth 'fake' is not one of"),
        (lambda items: [dataclasses.replace(items[0], modality="knee")], {}, "modality 'knee' is not one of"),
        (lambda items: [dataclasses.replace(items[0], generator="")], {}, "generator must be non-empty"),
        (lambda items: [dataclasses.replace(items[0], resolution=32)], {}, "resolution 32 is not the image's side 16"),
        (lambda items: [dataclasses.replace(items[0], image=items[0].image[:8])], {}, "square uint8"),
        (lambda items: [dataclasses.replace(items[0], image=items[0].image / 255)], {}, "square uint8"),
    ],
)
def test_bad_input_is_refused_with_what_is_wrong(change, kwargs, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        page_quiz(change(_items(2)), **kwargs)


# --- the JavaScript statistics, in Chromium ----------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _run_js(browser, body: str, arg):
    """Evaluate `body` (which sees STATS_JS's functions and `arg`) on a blank page."""
    page = browser.new_page()
    try:
        return page.evaluate(f"(arg) => {{ {STATS_JS}\n{body} }}", arg)
    finally:
        page.close()


def _grid() -> list[tuple[int, int, float]]:
    alphas = (0.05, 0.01, 0.1, 0.2, 0.001, 0.5)
    pairs = [(k, n) for n in range(1, 41) for k in range(n + 1)]
    pairs += [(k, n) for n in (50, 99, 100, 250, 1000, 1500) for k in sorted({0, 1, 2, n // 3, n // 2, n - 1, n})]
    ends = [(k, n, a) for n in (1, 2, 20) for k in sorted({0, 1, n - 1, n}) for a in alphas]  # closed forms
    return [(k, n, alphas[(k + 7 * n) % len(alphas)]) for k, n in pairs] + ends


@pytest.mark.browser
def test_the_page_s_statistics_equal_study_py(browser) -> None:
    grid = _grid()
    shown = _run_js(
        browser,
        "return arg.map(([k, n, a]) => { const t = sqChanceTest(k, n, a); return [t.low, t.high, t.pValue,"
        " t.beatsChance, t.accuracy, sqFormatF(t.accuracy, 3), sqFormatF(t.low, 3), sqFormatF(t.high, 3),"
        " sqFormatG(t.pValue, 3)]; });",
        grid,
    )
    problems = []
    for (k, n, alpha), (low, high, p, beats, accuracy, *strings) in zip(grid, shown, strict=True):
        want = study.chance_test(k, n, alpha)
        for name, got, expected in (("low", low, want.low), ("high", high, want.high), ("p", p, want.p_value)):
            if not math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-15):
                problems.append(f"k={k} n={n} alpha={alpha}: {name} {got!r} in the page, {expected!r} in study.py")
        if beats != want.beats_chance or accuracy != want.accuracy:
            problems.append(f"k={k} n={n} alpha={alpha}: beats/accuracy {beats}, {accuracy} vs {want}")
        expected_strings = list(shown_result(want).values())
        if strings != expected_strings:
            problems.append(f"k={k} n={n} alpha={alpha}: shows {strings}, study.py's numbers read {expected_strings}")
    assert not problems, f"{len(problems)} of {len(grid)}:\n" + "\n".join(problems[:30])
    assert len(grid) > 900


@pytest.mark.browser
def test_the_page_formats_numbers_as_python_does(browser) -> None:
    rng = np.random.default_rng(0)
    values = [0.0, 1.0, 0.5, 0.0625, 0.03125, 0.125, 0.375, 0.0005, 0.00049999, 0.9995, 0.99949, 1 / 3, 2 / 3,
              1e-5, 2.5e-05, 0.000123, 9.9951e-5, 0.00099951, 123.456, 99.95, 1e-300, 5e-324, 0.6875, 0.3125]
    values += [2.0**-e for e in range(1, 30)] + [float(v) for v in rng.random(300) ** 8] + [-0.0625, -1.5e-7, -0.0]
    specs = [("f", d) for d in (0, 1, 2, 3, 4)] + [("g", p) for p in (1, 2, 3, 4, 6)]
    got = _run_js(
        browser,
        "return arg.values.map((x) => arg.specs.map(([kind, d]) => kind === 'f' ? sqFormatF(x, d) : sqFormatG(x, d)));",
        {"values": values, "specs": specs},
    )
    problems = [
        f"{x!r} .{d}{kind}: page {shown!r}, Python {format(x, f'.{d}{kind}')!r}"
        for x, row in zip(values, got, strict=True)
        for (kind, d), shown in zip(specs, row, strict=True)
        if shown != format(x, f".{d}{kind}")
    ]
    assert not problems, "\n".join(problems[:30])


@pytest.mark.browser
def test_the_page_s_truth_codes_equal_python_s(browser) -> None:
    cases = [("s1", "chest-64-0123456789", "real"), ("", "", "synthetic"), ("sälz", "brain-8-ab", "real"),
             ("a" * 300, "id with spaces, commas", "synthetic"), ("0" * 16, "x", "real")]
    got = _run_js(browser, "return arg.map(([s, i, t]) => sqTruthCode(s, i, t));", cases)
    assert got == [truth_code(*case) for case in cases]


# --- a reader's whole session, in Chromium ------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path):
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


@pytest.mark.browser
def test_a_reader_answers_every_image_and_the_download_gives_the_shown_numbers(browser, served) -> None:
    folder, url = served
    alpha = 0.1
    items = _items(4, "chest", 16) + _items(2, "brain", 8, seed=5)  # 12 images, two settings
    quiz = page_quiz(items, alpha=alpha, display_size=64)
    other = page_quiz(_items(1, "chest", 8, seed=9))  # a second quiz on the same page stays apart
    title = "Real or synthetic?"
    (folder / "quiz.html").write_text(quiz.standalone(title).replace("</body>", other.html + "\n</body>"))
    flip = {"real": "synthetic", "synthetic": "real"}
    answers = [item.truth if i < 9 else flip[item.truth] for i, item in enumerate(items)]  # 9 of 12 right
    confidences = [1 + i % 5 for i in range(len(items))]

    page = browser.new_page(accept_downloads=True)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status} {r.url}"))
    try:
        page.goto(f"{url}/quiz.html", wait_until="load")
        first, second = page.locator(".synthmed-quiz").nth(0), page.locator(".synthmed-quiz").nth(1)
        assert first.locator(".sq-noscript-note").is_hidden()  # the script ran
        assert first.locator(".sq-result").is_hidden()
        first.locator(".sq-reader").fill('tester, "one"')
        first.locator(".sq-experience").fill("student, year 2")
        for i, (answer, confidence) in enumerate(zip(answers, confidences, strict=True)):
            assert first.locator(".sq-progress").inner_text() == f"Image {i + 1} of {len(items)}"
            src = first.locator(".sq-image").get_attribute("src")
            assert src == "data:image/png;base64," + base64.b64encode(png_bytes(items[i].image, 64)).decode()
            assert first.locator(".sq-result").is_hidden()
            first.locator(f".sq-confidence input[value='{confidence}']").check()
            first.locator(f".sq-{answer}").click()
        assert first.locator(".sq-ask").is_hidden() and first.locator(".sq-result").is_visible()
        assert second.locator(".sq-progress").inner_text() == "Image 1 of 2"  # untouched by the first

        shown = {name: first.locator(f".sq-{name}").inner_text() for name in ("k", "n", "accuracy", "low", "high", "p")}
        values = {name: float(first.locator(f".sq-{name}").get_attribute("data-value"))
                  for name in ("accuracy", "low", "high", "p")}
        with page.expect_download() as download_info:
            first.locator(".sq-download").click()
        download = download_info.value
        assert download.suggested_filename.endswith(".csv")
        download.save_as(folder / "reads.csv")
        page.wait_for_load_state("networkidle")
    finally:
        page.close()

    reads = read_responses(folder / "reads.csv")
    assert list(reads["image_id"]) == [item.image_id for item in items]
    assert list(reads["truth"]) == [item.truth for item in items]
    assert list(reads["answer"]) == answers
    assert list(reads["confidence"]) == confidences
    assert list(zip(reads["modality"], reads["resolution"], reads["generator"], strict=True)) == [
        (i.modality, i.resolution, i.generator) for i in items
    ]
    assert set(reads["reader_id"]) == {'tester, "one"'} and set(reads["reader_experience"]) == {"student, year 2"}
    assert (reads["response_time_s"] >= 0).all()

    n_correct = int((reads["answer"] == reads["truth"]).sum())
    assert n_correct == 9
    test = study.chance_test(n_correct, len(reads), alpha)
    assert (shown["k"], shown["n"]) == ("9", "12")
    assert {k: shown[k] for k in ("accuracy", "low", "high")} | {"p_value": shown["p"]} == shown_result(test)
    for name, expected in (("accuracy", test.accuracy), ("low", test.low), ("high", test.high), ("p", test.p_value)):
        assert math.isclose(values[name], expected, rel_tol=1e-9), name
    summary = study.summarise(reads, alpha=alpha).iloc[0]  # the chapter's analysis accepts the file as it is
    assert summary["n_correct"] == 9 and summary["n_reads"] == 12
    assert math.isclose(summary["cp_low"], values["low"], rel_tol=1e-9)
    assert math.isclose(summary["cp_high"], values["high"], rel_tol=1e-9)
    assert math.isclose(summary["p_vs_chance"], values["p"], rel_tol=1e-9)
    assert set(study.summarise(reads, ["modality", "resolution"], alpha=alpha)["n_reads"]) == {8, 4}

    assert not errors, "\n".join(errors)
    outside = [u for u in requests if urlparse(u).hostname not in (None, "127.0.0.1") and
               not u.startswith(("data:", "blob:"))]
    assert not outside, outside


@pytest.mark.browser
def test_the_quiz_runs_in_a_page_jupyter_book_builds(browser, tmp_path: Path) -> None:
    """myst-nb writes the notebook's text/html output into the page as it is, and its inline script runs there."""
    import nbformat
    from IPython.core.formatters import DisplayFormatter

    from synthmed.book import build_html

    items = _items(2)
    quiz = page_quiz(items, display_size=32)
    data, _ = DisplayFormatter().format(quiz)
    assert data["text/html"] == quiz.html
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# The quiz"),
        nbformat.v4.new_code_cell("display(page_quiz(items))", outputs=[nbformat.v4.new_output("display_data", data)]),
    ]
    nbformat.write(notebook, tmp_path / "quiz.ipynb")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: quiz\n")
    (tmp_path / "_config.yml").write_text(  # the book's own settings that keep a page's console clean
        'title: quiz\nexecute:\n  execute_notebooks: "off"\nonly_build_toc_files: true\n'
        "sphinx:\n  extra_extensions: [synthmed.sphinxext]\n  config:\n    html_context:\n      default_mode: auto\n"
    )
    html_dir = build_html(tmp_path)
    assert 'class="sq-data">' + json.dumps(_data(quiz), separators=(",", ":")).replace("</", "<\\/") in (
        html_dir / "quiz.html"
    ).read_text()

    page = browser.new_page(accept_downloads=True)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    try:
        page.goto((html_dir / "quiz.html").as_uri(), wait_until="load")
        for item in items:
            page.locator(f".sq-{item.truth}").click()
        assert page.locator(".sq-result").is_visible()
        assert page.locator(".sq-k").inner_text() == page.locator(".sq-n").inner_text() == "4"
        assert page.locator(".sq-p").inner_text() == shown_result(study.chance_test(4, 4))["p_value"]
        with page.expect_download() as download_info:
            page.locator(".sq-download").click()
        download_info.value.save_as(tmp_path / "reads.csv")
    finally:
        page.close()
    assert len(read_responses(tmp_path / "reads.csv")) == 4
    assert not errors, "\n".join(errors)
    assert all(urlparse(u).scheme in ("file", "data", "blob") for u in requests), requests
