"""ipywidgets explorers for the notebooks, interactive on the static page as in a live kernel.

Every choice an explorer offers is drawn once, in Python, when the cell runs: each figure becomes a
PNG in an `ipywidgets.Image`, and the images sit in `ipywidgets.Stack`s whose `selected_index` the
controls drive through `jslink`. A jslink is a widget of its own that runs in the browser, and the
saved widget state carries it into the book's static page, so moving a control there switches the
image with no kernel and no request to another host; in a live kernel it works the same way.

Several controls (e.g. modality x generator x label) are combined by nesting: the outer Stack
follows the first control, each of its children is a Stack following the second, and so on, the
innermost children being the images. Controls whose options depend on an outer choice (the labels
of a modality) are themselves one per outer choice, in a Stack that follows the outer control.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from ipywidgets.widgets.widget_link import Link

from synthmed.data.resample import box_downsample

FIGURE_DPI = 80  # the explorers' PNGs: small enough that a page holding dozens of them stays light
EXPLORER_CLASS = "synthmed-explorer"  # the explorers' DOM class on the page (the book's browser test finds them by it)
PALETTE_COLOURS = 64  # colour figures (curves) are stored as palette PNGs of at most this many colours


def figure_png(fig: plt.Figure, dpi: int = FIGURE_DPI) -> bytes:
    """A figure as compact PNG bytes, and the figure closed (so that the inline backend does not show it too).

    Drawn once by Agg at `dpi`, as laid out (no tight bounding box: that would draw it twice). Grey
    figures (images with black text) are stored as 8-bit greyscale, colour ones with an adaptive
    palette of `PALETTE_COLOURS` colours; the same figure gives the same bytes.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    try:
        fig.set_dpi(dpi)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        rgb = np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])
    finally:
        plt.close(fig)
    if (rgb == rgb[..., :1]).all():
        image = Image.fromarray(np.ascontiguousarray(rgb[..., 0]), mode="L")
    else:
        image = Image.fromarray(rgb).quantize(
            colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


def _image(png: bytes) -> w.Image:
    return w.Image(value=png, format="png", layout=w.Layout(max_width="100%", height="auto"))


def _linked_stack(children: Sequence[w.Widget], control: w.Widget, trait: str, links: list[Link]) -> w.Stack:
    """A Stack of `children` whose selected_index follows `control.<trait>` through a jslink (kept in `links`)."""
    stack = w.Stack(children=list(children), selected_index=0)
    links.append(w.jslink((control, trait), (stack, "selected_index")))
    return stack


def _explorer(controls: Sequence[w.Widget], figures: w.Widget, links: list[Link]) -> w.VBox:
    """The explorer's box: controls on one (wrapping) row, the figures below; `box.links` holds its jslinks."""
    box = w.VBox([w.HBox(list(controls), layout=w.Layout(flex_flow="row wrap")), figures])
    box.add_class(EXPLORER_CLASS)
    box.links = links
    return box


def _cached(draw: Callable[..., plt.Figure]) -> Callable[..., w.Image]:
    """`draw(*key)` as an Image, drawn once per key: choices that show the same figure share one Image."""
    made: dict = {}

    def image(*key) -> w.Image:
        if key not in made:
            made[key] = _image(figure_png(draw(*key)))
        return made[key]

    return image


def resolution_figure(image: np.ndarray, name: str, resolutions: Sequence[int], size: float = 2.2) -> plt.Figure:
    """One image at each resolution (2x2 box averages of the largest, as the image store makes them)."""
    base = image.shape[-1]
    fig, axes = plt.subplots(1, len(resolutions), figsize=(size * len(resolutions), size + 0.3))
    for ax, r in zip(np.atleast_1d(axes), resolutions, strict=True):
        shown = image if r == base else box_downsample(image[None], base // r)[0]
        ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{name}, {r}x{r}", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def resolution_browser(stacks: dict[str, np.ndarray], resolutions: tuple[int, ...], size: float = 2.2) -> w.Widget:
    """Pick a group (e.g. a finding) and an example; see it at each resolution.

    `stacks` maps a group name to uint8 images (K, R, R) at the highest resolution; lower ones
    are 2x2 box averages, exactly as the image store makes them. A group with fewer examples than
    the slider offers shows its last one for the higher positions.
    """
    names = [name for name, stack in stacks.items() if len(stack)]
    if not names:
        raise ValueError("resolution_browser needs at least one non-empty group of images")
    n_examples = max(len(stacks[n]) for n in names)
    group = w.Dropdown(options=names, value=names[0], description="show")
    example = w.IntSlider(value=0, min=0, max=n_examples - 1, description="example")
    image = _cached(lambda name, k: resolution_figure(stacks[name][k], name, resolutions, size))
    links: list[Link] = []
    per_group = [
        _linked_stack([image(n, min(k, len(stacks[n]) - 1)) for k in range(n_examples)], example, "value", links)
        for n in names
    ]
    return _explorer([group, example], _linked_stack(per_group, group, "index", links), links)


# ---------------------------------------------------------------------------------------------
# Generated samples per label combination: computed once, then only shown.


@dataclass
class SampleSet:
    """Real examples and generated samples for a few label combinations and latent seeds.

    The same seed gives every combination the same latents, so within a seed the rows differ
    only by the label vector the generator was given.
    """

    combinations: list[str]  # names ("A + B", "(none)"), most frequent in the real images first
    vectors: np.ndarray  # (C, L) 0/1: each combination's label vector
    seeds: list[int]
    real: dict[str, np.ndarray]  # combination -> uint8 (k, R, R), k <= per_row (fewer if the split has fewer)
    generated: dict[str, dict[str, np.ndarray]]  # generator -> combination -> uint8 (seeds, per_row, R, R)

    def grid_rows(self, seed_index: int = 0) -> dict[str, dict[str, np.ndarray]]:
        """`synthmed.plots.sample_grid` rows: per combination, the reals then each generator at one seed."""
        return {
            c: {"real": self.real[c], **{g: by_c[c][seed_index] for g, by_c in self.generated.items()}}
            for c in self.combinations
        }


def combination_names(vectors: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Each 0/1 label vector's positive labels joined by " + " ("(none)" for an all-zero vector)."""
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] != len(labels):
        raise ValueError(f"label vectors: expected shape (C, {len(labels)}), got {vectors.shape}")
    return [" + ".join(name for name, v in zip(labels, row, strict=True) if v) or "(none)" for row in vectors]


def sample_set(
    generators: Mapping[str, object],  # name -> a GAN's checkpoint path or generator, or a (vectors, seed) sampler
    images: np.ndarray,  # uint8 (N, R, R): the real images the generators learned from
    labels: np.ndarray,  # 0/1 (N, L): their label vectors
    label_names: Sequence[str],
    *,
    seeds: Sequence[int] = (0, 1, 2),  # latent seeds (synthmed.gan.sample.sample)
    per_row: int = 6,  # images per combination, seed and source
    max_combinations: int = 6,  # the most frequent combinations only
    seed: int = 0,  # which real examples are shown
    device: str = "auto",
) -> SampleSet:
    """Samples of each generator for the most frequent label combinations of `labels`, and reals beside them.

    Combinations are ranked by count (ties: first seen). Real examples are a seeded draw without
    replacement among the images with exactly that label vector.
    """
    from synthmed.gan.checkpoint import load_generator

    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"sample_set: {len(images)} images but {len(labels)} label vectors")
    if per_row < 1 or max_combinations < 1 or not seeds:
        raise ValueError("sample_set: per_row and max_combinations must be >= 1 and seeds non-empty")
    unique, first, inverse, counts = np.unique(
        labels, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))[:max_combinations]
    vectors = unique[order].astype(np.float32)
    names = combination_names(vectors, label_names)
    rng = np.random.default_rng(seed)
    real = {}
    for name, k in zip(names, order, strict=True):
        matches = np.flatnonzero(inverse.ravel() == k)
        picks = np.sort(rng.choice(matches, min(per_row, len(matches)), replace=False))
        real[name] = np.asarray(images[picks])
    generated: dict[str, dict[str, np.ndarray]] = {}
    for gen_name, source in generators.items():
        if callable(source) and not hasattr(source, "parameters"):  # a sampler: (label vectors, seed) -> images
            draw = source
        else:
            G = source if hasattr(source, "parameters") else load_generator(source, device=device)[0]
            draw = functools.partial(_gan_draw, G)
        generated[gen_name] = {
            name: np.stack([draw(np.repeat(vector[None], per_row, axis=0), s) for s in seeds])
            for name, vector in zip(names, vectors, strict=True)
        }
    return SampleSet(names, vectors, list(seeds), real, generated)


def _gan_draw(G, vectors: np.ndarray, seed: int) -> np.ndarray:
    from synthmed.gan.sample import sample

    return sample(G, vectors, seed=seed)


def sample_figure(samples: SampleSet, name: str, seed_index: int, size: float = 0.95) -> plt.Figure:
    """One label combination at one latent seed: its real images, then each generator's samples."""
    from synthmed import plots

    rows = {"real": {name: samples.real[name]}}
    rows.update({g: {name: by_c[name][seed_index]} for g, by_c in samples.generated.items()})
    return plots.sample_grid(rows, size=size, label_width=1.0)


def sample_explorer(samples: SampleSet, size: float = 0.95) -> w.Widget:
    """Pick a label combination and a latent seed; see real images and each generator's samples for it.

    Every combination and seed of `samples` (computed by `sample_set`) is drawn once here, so moving
    a control only switches images, in a kernel or on the static page.
    """
    if not samples.combinations:
        raise ValueError("sample_explorer needs at least one label combination")
    combination = w.Dropdown(
        options=samples.combinations,
        value=samples.combinations[0],
        description="labels",
        layout=w.Layout(width="32em"),
    )
    seed = w.Dropdown(options=samples.seeds, value=samples.seeds[0], description="seed")
    links: list[Link] = []
    per_combination = [
        _linked_stack(
            [_image(figure_png(sample_figure(samples, name, k, size))) for k in range(len(samples.seeds))],
            seed,
            "index",
            links,
        )
        for name in samples.combinations
    ]
    return _explorer([combination, seed], _linked_stack(per_combination, combination, "index", links), links)


def benchmark_choices(results, label_results=None) -> dict[str, list[str]]:
    """The benchmark explorer's modalities ("both" first) and, for each, the labels it offers ("mean" first)."""
    modalities = [m for m in ("chest", "brain") if m in set(results["modality"])]
    choices = {"both": ["mean"]}
    for name in modalities:
        labels = ["mean"]
        if label_results is not None:
            found = label_results.loc[label_results["modality"] == name, "label"]
            labels += [x for x in dict.fromkeys(found) if x != "mean"]
        choices[name] = labels
    return choices


def benchmark_figure(results, label_results, modality: str, generator: str, label: str, title: str | None = None):
    """The explorer's figure for one choice: `plots.benchmark_curves` of the real-trained classifier and one
    generator ("all": every one) for one modality ("both": the chapter's main figure) and one label."""
    from synthmed import plots

    series = plots.curve_series(results) if generator == "all" else ("real", generator)
    table = results if modality == "both" else results[results["modality"] == modality]
    heading = title
    if label != "mean":
        table = plots.per_label_results(label_results[label_results["modality"] == modality], label)
        heading = f"{title}: {label}" if title else label
    return plots.benchmark_curves(table, series=series, title=heading)


def benchmark_explorer(results, label_results=None, title: str | None = None) -> w.Widget:
    """Pick a modality, a generator and a label; see the sweep's AUROC and gap curves for them.

    `results`: a sweep's results table (`synthmed.experiments.RESULT_COLUMNS`, one benchmark, any
    modalities); `label_results`: its per-label table (`LABEL_COLUMNS`), which adds each label to the
    label list of a single modality. The initial state (both modalities, every generator, the mean
    over labels) is the chapter's main figure, `plots.benchmark_curves(results, title=title)`. Every
    choice is drawn here; the label control shown is the chosen modality's own.
    """
    from synthmed import plots

    if len(results) == 0:
        raise ValueError("benchmark_explorer needs a results table with at least one run")
    choices = benchmark_choices(results, label_results)
    generator_names = ["all", *plots.curve_series(results)[1:]]
    modality = w.Dropdown(options=list(choices), value="both", description="modality")
    generator = w.Dropdown(options=generator_names, value="all", description="generator")
    links: list[Link] = []
    label_controls = [
        w.Dropdown(options=labels, value="mean", description="label", disabled=len(labels) == 1)
        for labels in choices.values()
    ]
    label = _linked_stack(label_controls, modality, "index", links)
    per_modality = []
    for (name, labels), label_control in zip(choices.items(), label_controls, strict=True):
        per_label = [
            _linked_stack(
                [
                    _image(figure_png(benchmark_figure(results, label_results, name, g, which, title)))
                    for g in generator_names
                ],
                generator,
                "index",
                links,
            )
            for which in labels
        ]
        per_modality.append(_linked_stack(per_label, label_control, "index", links))
    return _explorer([modality, generator, label], _linked_stack(per_modality, modality, "index", links), links)


# ---------------------------------------------------------------------------------------------
# Nearest real training images of synthetic images.


def neighbour_figure(
    query: np.ndarray, neighbours: np.ndarray, distances: np.ndarray, title: str, size: float = 1.3
) -> plt.Figure:
    """One synthetic image (R, R) beside its nearest real training images (k, R, R), nearest first."""
    from synthmed import plots

    names = [title] + [f"nearest real {j + 1}\nd = {d:.3g}" for j, d in enumerate(distances)]
    return plots.image_grid([query, *neighbours], names, ncols=1 + len(neighbours), size=size)


def neighbour_browser(
    queries: Mapping[str, np.ndarray],
    neighbours: Mapping[str, np.ndarray],
    distances: Mapping[str, np.ndarray],
    titles: Mapping[str, Sequence[str]] | None = None,
    size: float = 1.3,
) -> w.Widget:
    """Pick a run (e.g. "chest, prog-GAN") and a query; see the synthetic image beside its nearest real images.

    Per run name: `queries` uint8 (Q, R, R), the synthetic images searched for; `neighbours` uint8
    (Q, k, R, R), each one's k nearest real training images, nearest first; `distances` (Q, k), their
    cosine distances, printed over the real images; `titles` (optional) one caption per query, over
    the synthetic image (e.g. "closest 1", "random"). Every pair is drawn here. A run with fewer
    queries than the slider offers shows its last one for the higher positions.
    """
    names = list(queries)
    if not names or any(len(queries[n]) == 0 for n in names):
        raise ValueError("neighbour_browser needs at least one run, each with at least one query")
    shaped = {}
    for n in names:
        q, nb, d = np.asarray(queries[n]), np.asarray(neighbours[n]), np.asarray(distances[n], dtype=float)
        if nb.ndim == q.ndim:  # one neighbour per query, without its own axis
            nb = nb[:, None]
        if d.ndim == 1:
            d = d[:, None]
        if nb.shape[0] != len(q) or nb.shape[2:] != q.shape[1:] or d.shape != nb.shape[:2]:
            raise ValueError(
                f"neighbour_browser, {n}: expected queries (Q, R, R), neighbours (Q, k, R, R) and distances (Q, k), "
                f"got {q.shape}, {nb.shape} and {d.shape}"
            )
        if titles is not None and len(titles[n]) != len(q):
            raise ValueError(f"neighbour_browser, {n}: {len(titles[n])} titles for {len(q)} queries")
        shaped[n] = (q, nb, d)
    n_queries = max(len(q) for q, _, _ in shaped.values())
    run = w.Dropdown(options=names, value=names[0], description="run", layout=w.Layout(width="24em"))
    query = w.IntSlider(value=0, min=0, max=n_queries - 1, description="query")

    def draw(name: str, i: int) -> plt.Figure:
        q, nb, d = shaped[name]
        caption = titles[name][i] if titles is not None else "synthetic"
        return neighbour_figure(q[i], nb[i], d[i], f"{name}\n{caption}", size)

    image = _cached(draw)
    links: list[Link] = []
    per_run = [
        _linked_stack([image(n, min(i, len(shaped[n][0]) - 1)) for i in range(n_queries)], query, "value", links)
        for n in names
    ]
    return _explorer([run, query], _linked_stack(per_run, run, "index", links), links)
