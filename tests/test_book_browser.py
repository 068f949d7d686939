"""Open every page of the built book in Debian's Chromium (through playwright, never `playwright install`).

Each page must show its title, load every image, render its saved widgets, request nothing from any
host but 127.0.0.1, get no 4xx/5xx answer (the widgets' icon fonts and the favicon included) and log no
console error or uncaught exception. In CI (CI=true) a missing Chromium is a failure; elsewhere the test is
skipped with a note on how to install it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from tests.test_book_build import toc_pages

pytestmark = [pytest.mark.book, pytest.mark.browser, pytest.mark.timeout(3600)]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing in CI: .ci/run should have installed it (apt-get install chromium)")
    pytest.skip("Debian's Chromium is not installed: `apt-get install chromium` to run the browser test")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def served_book(built_book: Path):
    handler = functools.partial(_Quiet, directory=str(built_book / "_build" / "html"))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_every_page_renders_offline_in_chromium(built_book: Path, served_book: str) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    counts = {"images": 0, "widgets": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        requests: list[str] = []
        errors: list[str] = []  # console errors, uncaught exceptions and 4xx/5xx answers of the current page
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and errors.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status} {r.url}"))
        for name in toc_pages(built_book):
            requests.clear()
            errors.clear()
            page.goto(f"{served_book}/{name}.html", wait_until="load")
            title = page.locator("main h1").first.inner_text().strip()
            if not title:
                problems.append(f"{name}: no visible title")
            # Every <img> in the article has loaded real pixels.
            for src, width in page.eval_on_selector_all(
                "article img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])"
            ):
                counts["images"] += 1
                if not width:
                    problems.append(f"{name}: image {src} did not load")
            # Saved widget views: each <script widget-view> gets a rendered widget next to it.
            views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
            if views:
                try:
                    page.wait_for_function(
                        f"document.querySelectorAll('.jupyter-widgets.widget-container, "
                        f".jupyter-widgets.widget-inline-hbox, .jupyter-widgets').length >= {views}",
                        timeout=20_000,
                    )
                except Exception:
                    problems.append(f"{name}: {views} saved widget views did not render")
                counts["widgets"] += views
            # What rendering asks for next (the widgets' icon fonts, the favicon) has arrived before the checks.
            page.wait_for_load_state("networkidle")
            for url in requests:
                host = urlparse(url).hostname
                if host not in (None, "127.0.0.1") and not url.startswith(("data:", "blob:")):
                    problems.append(f"{name}: requested {url}")
            problems.extend(f"{name}: {error}" for error in errors)
        browser.close()
    assert not problems, "\n".join(problems)
    # The book must actually exercise what this test checks.
    assert counts["images"] > 0, "no figure in the whole book"
    assert counts["widgets"] > 0, "no saved widget in the whole book"


# The image an explorer (synthmed.widgets) shows: one loaded <img>, its src and the SHA-256 of its bytes.
SHOWN_IMAGE_JS = """async (root) => {
  const imgs = [...root.querySelectorAll('img')].filter(i => i.offsetParent !== null && i.naturalWidth > 0);
  if (imgs.length !== 1) return {count: imgs.length};
  const digest = await crypto.subtle.digest('SHA-256', await (await fetch(imgs[0].src)).arrayBuffer());
  const hex = [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('');
  return {count: 1, src: imgs[0].src, sha: hex};
}"""


def shown_image(locator, want: str | None = None, differ_from: str | None = None, tries: int = 100) -> dict:
    """`SHOWN_IMAGE_JS` on an element, polled (10 s at most) until its image has the digest `want`, or one other
    than `differ_from`, is shown."""
    state: dict = {}
    for _ in range(tries):
        state = locator.evaluate(SHOWN_IMAGE_JS)
        sha = state.get("sha")
        if sha and (want is None or sha == want) and (differ_from is None or sha != differ_from):
            break
        locator.page.wait_for_timeout(100)
    return state


def switch_explorers(page, name: str) -> tuple[int, list[str]]:
    """Move the first control of every explorer on the page to another option: the image it shows must change.

    Returns (explorers found, problems). The explorers carry `synthmed.widgets.EXPLORER_CLASS`."""
    from synthmed.widgets import EXPLORER_CLASS

    problems = []
    explorers = page.locator(f".{EXPLORER_CLASS}")
    for k in range(explorers.count()):
        explorer = explorers.nth(k)
        before = shown_image(explorer)
        if before.get("count") != 1:
            problems.append(f"{name}: explorer {k} shows {before.get('count')} images, not one")
            continue
        select = explorer.locator("select").first
        if select.locator("option").count() < 2:
            continue
        select.select_option(index=1 if select.evaluate("s => s.selectedIndex") != 1 else 0)
        after = shown_image(explorer, differ_from=before["sha"])
        if after.get("sha") in (None, before["sha"]) or after.get("src") == before["src"]:
            problems.append(f"{name}: explorer {k}: moving its first control did not change its image")
    return explorers.count(), problems


def test_every_explorer_switches_its_image_on_the_static_page(built_book: Path, served_book: str) -> None:
    """Each explorer is interactive without a kernel: its first control switches the precomputed image."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    found = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for name in toc_pages(built_book):
            if not name.startswith("notebooks/"):
                continue
            page.goto(f"{served_book}/{name}.html", wait_until="load")
            views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
            if views:
                try:
                    page.wait_for_function(
                        f"document.querySelectorAll('.jupyter-widgets').length >= {views}", timeout=20_000
                    )
                except Exception:
                    problems.append(f"{name}: the saved widgets did not render")
                    continue
            n, found_problems = switch_explorers(page, name)
            found += n
            problems.extend(found_problems)
        browser.close()
    assert not problems, "\n".join(problems)
    assert found > 0, "no explorer in the whole book"


def test_notebook_pages_launch_the_configured_repository_and_download_links_resolve(built_book: Path) -> None:
    """Launch, repository and issues buttons point at `_config.yml`'s repository; every download link is a file."""
    config = yaml.safe_load((built_book / "_config.yml").read_text())
    url, branch = config["repository"]["url"].rstrip("/"), config["repository"]["branch"]
    org_repo = urlparse(url).path.strip("/")
    html = built_book / "_build" / "html"

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.hrefs: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:
            href = dict(attrs).get("href")
            if tag == "a" and href:
                self.hrefs.append(href)

    notebooks = 0
    for name in toc_pages(built_book):
        parser = Links()
        parser.feed((html / f"{name}.html").read_text())
        hrefs = parser.hrefs
        assert url in hrefs, f"{name}: no repository button"
        assert any(h.startswith(f"{url}/issues/new") for h in hrefs), f"{name}: no issues button"
        downloads = [h for h in hrefs if "_sources/" in h]
        assert downloads, f"{name}: no download button"
        for href in downloads:
            assert (html / Path(name).parent / href).resolve().is_file(), f"{name}: download {href} is missing"
        if not name.startswith("notebooks/"):
            continue
        notebooks += 1
        ipynb = f"{name}.ipynb"
        binder = f"{config['launch_buttons']['binderhub_url']}/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{ipynb}"
        colab = f"{config['launch_buttons']['colab_url']}/github/{org_repo}/blob/{branch}/{ipynb}"
        assert binder in hrefs, f"{name}: no Binder button for {binder}"
        assert colab in hrefs, f"{name}: no Colab button for {colab}"
        hub = [h for h in hrefs if h.startswith(config["launch_buttons"]["jupyterhub_url"])]
        assert len(hub) == 1, f"{name}: no JupyterHub button"
        query = parse_qs(urlparse(hub[0]).query)
        assert query["repo"] == [url] and query["branch"] == [branch], query
    assert notebooks, "no notebook page"


def test_the_readers_page_quiz_scores_a_reader_as_the_analysis_does(built_book: Path, served_book: str,
                                                                    tmp_path: Path) -> None:
    """On the built readers page, without a kernel: answer every image, then the downloaded CSV loads with
    `read_responses` and `study.chance_test` at the chapter's alpha gives the numbers the page showed."""
    import math

    from synthmed.reader import study
    from synthmed.reader.page_quiz import shown_result
    from synthmed.reader.responses import read_responses

    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        page.goto(f"{served_book}/notebooks/readers.html", wait_until="load")
        quiz = page.locator(".synthmed-quiz").first
        assert quiz.locator(".sq-noscript-note").is_hidden(), "the quiz's script did not run in the built page"
        n = int(quiz.locator(".sq-progress").inner_text().rsplit(" ", 1)[-1])
        for i in range(n):
            quiz.locator(".sq-real" if i % 3 else ".sq-synthetic").click()  # a reader who guesses
        shown = {name: quiz.locator(f".sq-{name}").inner_text() for name in ("k", "accuracy", "low", "high", "p")}
        low = float(quiz.locator(".sq-low").get_attribute("data-value"))
        with page.expect_download() as download:
            quiz.locator(".sq-download").click()
        download.value.save_as(tmp_path / "reads.csv")
        browser.close()
    reads = read_responses(tmp_path / "reads.csv")
    assert len(reads) == n
    test = study.chance_test(int((reads["answer"] == reads["truth"]).sum()), n, 0.05)  # the chapter's alpha
    assert shown["k"] == str(test.n_correct)
    assert {k: shown[k] for k in ("accuracy", "low", "high")} | {"p_value": shown["p"]} == shown_result(test)
    assert math.isclose(low, test.low, rel_tol=1e-9)
