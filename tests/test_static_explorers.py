"""The explorers work on the static page: every choice precomputed, switched in the browser by jslinks.

Unit tests walk each explorer's nested Stacks (one child per choice, each stack's selected_index jslinked to
its control, each image the PNG of that choice's figure). The browser test embeds the explorers' saved
widget state in a standalone page loaded with the book's own vendored widget manager
(`synthmed.book.vendor_widgets`), opens it in Debian's Chromium (through playwright, never
`playwright install`), moves each control and checks that the shown image changes to the precomputed one,
with no request beyond 127.0.0.1 and no console error.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import socketserver
import threading
from pathlib import Path
from urllib.parse import urlparse

import ipywidgets as w
import numpy as np
import pytest
from ipywidgets.widgets.widget_link import Link

from synthmed import book, plots, widgets
from tests.test_plots_benchmarks import label_table, results

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Small explorers, each with a control whose options differ in length between outer choices.


def _smooth(seed: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[:r, :r] / r
    return (127.5 + 120 * np.sin(6 * xx + seed) * np.cos(4 * yy - seed)).astype(np.uint8)


@pytest.fixture(scope="module")
def bench():
    table = results()
    labels = label_table(table)
    labels = labels[~((labels["modality"] == "chest") & (labels["label"] == "Edema"))]  # chest: the mean only
    return table, labels, widgets.benchmark_explorer(table, labels, title="ours")


@pytest.fixture(scope="module")
def stacks() -> dict[str, np.ndarray]:
    return {
        "Edema": np.stack([_smooth(k, 32) for k in range(3)]),
        "none": np.empty((0,)),  # an empty group is left out
        "Mass": np.stack([_smooth(10 + k, 32) for k in range(2)]),
    }


@pytest.fixture(scope="module")
def samples() -> widgets.SampleSet:
    def gen(offset: int) -> np.ndarray:  # seed, k, R, R
        return np.stack([np.stack([_smooth(offset + 7 * s + k, 8) for k in range(2)]) for s in range(3)])

    return widgets.SampleSet(
        combinations=["A", "A + B"],
        vectors=np.array([[1, 0], [1, 1]], dtype=np.float32),
        seeds=[4, 5, 6],
        real={"A": np.stack([_smooth(1, 8)] * 2), "A + B": np.stack([_smooth(2, 8)])},
        generated={"prog-GAN": {"A": gen(0), "A + B": gen(50)}, "cpD-GAN": {"A": gen(100), "A + B": gen(150)}},
    )


@pytest.fixture(scope="module")
def pairs():
    runs = {"chest, prog-GAN": 3, "brain, prog-GAN": 2}
    queries = {name: np.stack([_smooth(20 * j + i, 16) for i in range(n)]) for j, (name, n) in enumerate(runs.items())}
    neighbours = {name: np.stack([np.stack([_smooth(i + k + 40, 16) for k in range(2)]) for i in range(len(q))])
                  for name, q in queries.items()}
    distances = {name: np.sort(np.random.default_rng(1).random((len(q), 2)), axis=1) for name, q in queries.items()}
    titles = {name: [f"closest {i + 1}" for i in range(len(q))] for name, q in queries.items()}
    return queries, neighbours, distances, titles


def controls_and_figures(box: w.VBox) -> tuple[tuple[w.Widget, ...], w.Stack]:
    row, figures = box.children
    assert isinstance(figures, w.Stack)
    return row.children, figures


def linked(box: w.VBox) -> set[tuple[str, str, str]]:
    """The explorer's jslinks as (source model id, trait, target stack model id); every target is a selected_index."""
    pairs = set()
    for link in box.links:
        assert isinstance(link, Link)
        (source, trait), (target, target_trait) = link.source, link.target
        assert target_trait == "selected_index" and isinstance(target, w.Stack)
        pairs.add((source.model_id, trait, target.model_id))
    return pairs


def png(fig) -> bytes:
    return widgets.figure_png(fig)


# ---------------------------------------------------------------------------------------------
# Unit tests.


def test_figure_png_is_compact_deterministic_and_closes_its_figure() -> None:
    import matplotlib.pyplot as plt
    from PIL import Image

    table = results()
    first = png(plots.benchmark_curves(table))
    assert first == png(plots.benchmark_curves(table))
    assert not plt.get_fignums()
    assert Image.open(io.BytesIO(first)).mode == "P"  # colour curves: a palette
    grey = png(widgets.resolution_figure(_smooth(0, 32), "x", (32, 16)))
    assert Image.open(io.BytesIO(grey)).mode == "L"


def test_resolution_browser_holds_one_image_per_group_and_example(stacks) -> None:
    box = widgets.resolution_browser(stacks, (32, 16, 8))
    (group, example), figures = controls_and_figures(box)
    assert group.options == ("Edema", "Mass") and (example.min, example.max) == (0, 2)
    assert [len(s.children) for s in figures.children] == [3, 3]
    assert linked(box) == {(group.model_id, "index", figures.model_id)} | {
        (example.model_id, "value", s.model_id) for s in figures.children
    }
    for g, name in enumerate(group.options):
        for k in range(3):
            shown = min(k, len(stacks[name]) - 1)  # Mass has two examples: its last one stands for the third
            expected = png(widgets.resolution_figure(stacks[name][shown], name, (32, 16, 8)))
            assert figures.children[g].children[k].value == expected
    assert figures.children[1].children[1] is figures.children[1].children[2]  # the same image, stored once
    assert figures.selected_index == 0 and figures.children[0].selected_index == 0


def test_sample_explorer_holds_one_image_per_combination_and_seed(samples) -> None:
    box = widgets.sample_explorer(samples)
    (combination, seed), figures = controls_and_figures(box)
    assert combination.options == ("A", "A + B") and seed.options == (4, 5, 6)
    assert [len(s.children) for s in figures.children] == [3, 3]
    assert linked(box) == {(combination.model_id, "index", figures.model_id)} | {
        (seed.model_id, "index", s.model_id) for s in figures.children
    }
    for c, name in enumerate(samples.combinations):
        for k in range(3):
            assert figures.children[c].children[k].value == png(widgets.sample_figure(samples, name, k))
    assert len({s.value for stack in figures.children for s in stack.children}) == 6


def test_benchmark_explorer_holds_modality_by_label_by_generator(bench) -> None:
    table, labels, box = bench
    (modality, generator, label), figures = controls_and_figures(box)
    assert modality.options == ("both", "chest", "brain")
    assert generator.options == ("all", *plots.curve_series(table)[1:]) == ("all", "cpD-GAN", "prog-GAN")
    # One label control per modality, shown as the modality is chosen.
    assert isinstance(label, w.Stack) and [c.options for c in label.children] == [
        ("mean",),
        ("mean",),
        ("mean", "Edema"),
    ]
    assert [len(m.children) for m in figures.children] == [1, 1, 2]
    assert all(len(by_label.children) == 3 for m in figures.children for by_label in m.children)
    expected_links = {(modality.model_id, "index", label.model_id), (modality.model_id, "index", figures.model_id)}
    for m, by_modality in enumerate(figures.children):
        expected_links.add((label.children[m].model_id, "index", by_modality.model_id))
        expected_links |= {(generator.model_id, "index", s.model_id) for s in by_modality.children}
    assert linked(box) == expected_links
    # The initial choice is the chapter's main figure.
    assert figures.children[0].children[0].children[0].value == png(plots.benchmark_curves(table, title="ours"))
    # Brain, prog-GAN alone, Edema: that label's curves.
    edema = plots.per_label_results(labels[labels["modality"] == "brain"], "Edema")
    expected = png(plots.benchmark_curves(edema, series=("real", "prog-GAN"), title="ours: Edema"))
    assert figures.children[2].children[1].children[2].value == expected
    chest = table[table["modality"] == "chest"]
    chest_cpd = png(plots.benchmark_curves(chest, series=("real", "cpD-GAN"), title="ours"))
    assert figures.children[1].children[0].children[1].value == chest_cpd
    assert len({i.value for m in figures.children for s in m.children for i in s.children}) == 12


def test_benchmark_explorer_without_label_table_offers_the_mean_only() -> None:
    table = results(modalities=("brain",))
    box = widgets.benchmark_explorer(table)
    (modality, _, label), figures = controls_and_figures(box)
    assert modality.options == ("both", "brain") and [c.options for c in label.children] == [("mean",), ("mean",)]
    assert all(c.disabled for c in label.children)
    with pytest.raises(ValueError, match="at least one run"):
        widgets.benchmark_explorer(table.iloc[:0])


def test_neighbour_browser_holds_one_image_per_run_and_query(pairs) -> None:
    queries, neighbours, distances, titles = pairs
    box = widgets.neighbour_browser(queries, neighbours, distances, titles)
    (run, query), figures = controls_and_figures(box)
    assert run.options == tuple(queries) and (query.min, query.max) == (0, 2)
    assert [len(s.children) for s in figures.children] == [3, 3]
    assert linked(box) == {(run.model_id, "index", figures.model_id)} | {
        (query.model_id, "value", s.model_id) for s in figures.children
    }
    for r, name in enumerate(queries):
        for i in range(3):
            q = min(i, len(queries[name]) - 1)
            expected = widgets.neighbour_figure(
                queries[name][q], neighbours[name][q], distances[name][q], f"{name}\n{titles[name][q]}"
            )
            assert figures.children[r].children[i].value == png(expected)


def test_neighbour_browser_takes_one_neighbour_per_query_and_checks_shapes(pairs) -> None:
    queries, neighbours, distances, _ = pairs
    one = {n: v[:, 0] for n, v in neighbours.items()}
    box = widgets.neighbour_browser(queries, one, {n: d[:, 0] for n, d in distances.items()})
    _, figures = controls_and_figures(box)
    name = next(iter(queries))
    expected = widgets.neighbour_figure(queries[name][0], one[name][:1], distances[name][:1, 0], f"{name}\nsynthetic")
    assert figures.children[0].children[0].value == png(expected)
    with pytest.raises(ValueError, match="expected queries"):
        widgets.neighbour_browser(queries, one, distances)
    with pytest.raises(ValueError, match="titles"):
        widgets.neighbour_browser(queries, neighbours, distances, {n: ["x"] for n in queries})
    with pytest.raises(ValueError, match="at least one run"):
        widgets.neighbour_browser({}, {}, {})


# ---------------------------------------------------------------------------------------------
# The saved state in Chromium, with the book's vendored widget manager.


def chromium_path() -> str:
    from tests.test_book_browser import chromium_path as find

    return find()


def standalone_page(views: dict[str, w.Widget]) -> str:
    """A page holding the explorers' saved state (their widgets and jslinks) and one view of each, as the book's
    pages do: require.js, the paths script and the html-manager's embed-amd.js, all from ./widgets/."""
    from ipywidgets.embed import dependency_state, embed_data

    everything = [x for box in views.values() for x in (box, *box.links)]
    state = dependency_state(everything)
    n_links = sum(len(box.links) for box in views.values())
    assert sum(model["model_name"] == "LinkModel" for model in state.values()) == n_links  # every jslink is saved
    data = embed_data(views=list(views.values()), state=state)
    blocks = "\n".join(
        f'<h2>{name}</h2><div id="{name}"><script type="application/vnd.jupyter.widget-view+json">'
        f"{json.dumps(view)}</script></div>"
        for name, view in zip(views, data["view_specs"], strict=True)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>explorers</title><link rel="icon" href="data:,">
<script src="widgets/require.js"></script>
<script src="widgets/paths.js"></script>
<script src="widgets/embed-amd.js"></script>
<script type="application/vnd.jupyter.widget-state+json">{json.dumps(data["manager_state"])}</script>
</head><body>
{blocks}
</body></html>
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory, bench, stacks, samples, pairs):
    root = tmp_path_factory.mktemp("explorers")
    modules = ROOT / "node_modules"
    if not (modules / "@jupyter-widgets/html-manager").is_dir():
        pytest.skip("node_modules is missing: run `make node` (npm ci) to vendor the widget manager")
    (root / "node_modules").symlink_to(modules)
    site = book.vendor_widgets(root).parent  # the book's own copy step: _vendor/widgets
    views = {
        "benchmark": bench[2],
        "resolution": widgets.resolution_browser(stacks, (32, 16, 8)),
        "samples": widgets.sample_explorer(samples),
        "neighbours": widgets.neighbour_browser(*pairs),
    }
    (site / "explorers.html").write_text(standalone_page(views))
    handler = functools.partial(_Quiet, directory=str(site))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}/explorers.html", views
        server.shutdown()


def sha(image: w.Image) -> str:
    return hashlib.sha256(image.value).hexdigest()


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_every_explorer_switches_to_the_precomputed_image_offline_in_chromium(served) -> None:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    from tests.test_book_browser import CHROMIUM_ARGS, shown_image, switch_explorers

    url, views = served
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and errors.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.on("response", lambda r: r.status >= 400 and errors.append(f"HTTP {r.status} {r.url}"))
        page.goto(url, wait_until="load")

        def shown(name: str, expected: w.Image, before: str | None = None) -> str:
            """Wait until the explorer shows one image, with `expected`'s bytes; return its src."""
            state = shown_image(page.locator(f"#{name}"), want=sha(expected))
            assert state.get("count") == 1, f"{name}: {state.get('count')} images shown"
            assert state.get("sha") == sha(expected), f"{name}: the shown image is not the precomputed one"
            if before is not None:
                assert state["src"] != before, f"{name}: the image source did not change"
            return state["src"]

        def select(name: str, position: int, option: str) -> None:
            page.locator(f"#{name} select:visible").nth(position).select_option(label=option)

        def slide(name: str, steps: int) -> None:
            handle = page.locator(f"#{name} .noUi-handle").first
            handle.focus()
            for _ in range(steps):
                handle.press("ArrowRight")

        page.wait_for_function("document.querySelectorAll('.widget-image, img').length >= 4", timeout=30_000)

        # Benchmark: modality x generator x label; brain's label control replaces the one of "both".
        figures = views["benchmark"].children[1]
        src = shown("benchmark", figures.children[0].children[0].children[0])
        select("benchmark", 0, "brain")
        src = shown("benchmark", figures.children[2].children[0].children[0], src)
        select("benchmark", 1, "prog-GAN")
        src = shown("benchmark", figures.children[2].children[0].children[2], src)
        select("benchmark", 2, "Edema")
        src = shown("benchmark", figures.children[2].children[1].children[2], src)
        labels = page.locator("#benchmark select:visible").nth(2).locator("option").all_inner_texts()
        assert labels == ["mean", "Edema"]

        # Resolution: group x example (slider).
        figures = views["resolution"].children[1]
        src = shown("resolution", figures.children[0].children[0])
        slide("resolution", 2)
        src = shown("resolution", figures.children[0].children[2], src)
        select("resolution", 0, "Mass")
        src = shown("resolution", figures.children[1].children[2], src)

        # Samples: combination x seed.
        figures = views["samples"].children[1]
        src = shown("samples", figures.children[0].children[0])
        select("samples", 1, "6")
        src = shown("samples", figures.children[0].children[2], src)
        select("samples", 0, "A + B")
        src = shown("samples", figures.children[1].children[2], src)

        # Neighbours: run x query (slider).
        figures = views["neighbours"].children[1]
        src = shown("neighbours", figures.children[0].children[0])
        slide("neighbours", 1)
        src = shown("neighbours", figures.children[0].children[1], src)
        select("neighbours", 0, "brain, prog-GAN")
        src = shown("neighbours", figures.children[1].children[1], src)

        # The book's own check (tests/test_book_browser.py) finds all four and sees each switch.
        found, problems = switch_explorers(page, "explorers.html")
        assert found == 4 and not problems, problems

        page.wait_for_load_state("networkidle")
        browser.close()
    local = ("data:", "blob:")
    away = [u for u in requests if urlparse(u).hostname not in (None, "127.0.0.1") and not u.startswith(local)]
    assert not away, f"requests beyond 127.0.0.1: {away}"
    assert not errors, "\n".join(errors)
    assert any(u.endswith("embed-amd.js") for u in requests)  # the vendored manager rendered the page
