"""ipywidgets explorers for the notebooks.

In a live kernel every control redraws its figure. In the static book the saved widget state
shows the initial figure and the controls move, but nothing is recomputed (there is no kernel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np

from synthmed.data.resample import box_downsample


def resolution_browser(stacks: dict[str, np.ndarray], resolutions: tuple[int, ...], size: float = 2.2) -> w.Widget:
    """Pick a group (e.g. a finding) and an example; see it at each resolution.

    `stacks` maps a group name to uint8 images (K, R, R) at the highest resolution; lower ones
    are 2x2 box averages, exactly as the image store makes them.
    """
    names = [name for name, stack in stacks.items() if len(stack)]
    if not names:
        raise ValueError("resolution_browser needs at least one non-empty group of images")
    group = w.Dropdown(options=names, value=names[0], description="show")
    example = w.IntSlider(value=0, min=0, max=max(len(stacks[n]) for n in names) - 1, description="example")
    out = w.Output()

    def draw(name: str, k: int) -> None:
        stack = stacks[name]
        image = stack[min(k, len(stack) - 1)]
        base = image.shape[-1]
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, len(resolutions), figsize=(size * len(resolutions), size + 0.3))
            for ax, r in zip(np.atleast_1d(axes), resolutions, strict=True):
                shown = image if r == base else box_downsample(image[None], base // r)[0]
                ax.imshow(shown, cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"{name}, {r}x{r}", fontsize=8)
                ax.axis("off")
            fig.tight_layout()
            plt.show(fig)

    w.interactive_output(draw, {"name": group, "k": example})  # draws the initial state too
    return w.VBox([w.HBox([group, example]), out])


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
    generators: Mapping[str, object],  # name -> checkpoint path (best.pt, last.pt) or a generator module
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
    from synthmed.gan.sample import sample

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
        G = source if hasattr(source, "parameters") else load_generator(source, device=device)[0]
        generated[gen_name] = {
            name: np.stack([sample(G, np.repeat(vector[None], per_row, axis=0), seed=s) for s in seeds])
            for name, vector in zip(names, vectors, strict=True)
        }
    return SampleSet(names, vectors, list(seeds), real, generated)


def sample_explorer(samples: SampleSet, size: float = 0.95) -> w.Widget:
    """Pick a label combination and a latent seed; see real images and each generator's samples for it.

    Only shows the arrays of `samples` (computed by `sample_set`), so moving a control is instant.
    """
    from IPython.display import display

    from synthmed import plots

    if not samples.combinations:
        raise ValueError("sample_explorer needs at least one label combination")
    combination = w.Dropdown(
        options=samples.combinations,
        value=samples.combinations[0],
        description="labels",
        layout=w.Layout(width="32em"),
    )
    seed = w.Dropdown(options=samples.seeds, value=samples.seeds[0], description="seed")
    out = w.Output()

    def draw(name: str, s: int) -> None:
        k = samples.seeds.index(s)
        rows = {"real": {name: samples.real[name]}}
        rows.update({g: {name: by_c[name][k]} for g, by_c in samples.generated.items()})
        with out:
            out.clear_output(wait=True)
            fig = plots.sample_grid(rows, size=size, label_width=1.0)
            display(fig)  # plt.show(fig) only works under the inline backend
            plt.close(fig)

    w.interactive_output(draw, {"name": combination, "s": seed})  # draws the initial state too
    return w.VBox([w.HBox([combination, seed]), out])


def benchmark_explorer(results, label_results=None, title: str | None = None) -> w.Widget:
    """Pick a modality, a generator and a label; see the sweep's AUROC and gap curves for them.

    `results`: a sweep's results table (`synthmed.experiments.RESULT_COLUMNS`, one benchmark, any
    modalities); `label_results`: its per-label table (`LABEL_COLUMNS`), which adds each label to the
    label list of a single modality. The initial state (both modalities, both generators, the mean
    over labels) is the chapter's main figure, `plots.benchmark_curves(results, title=title)`.
    """
    from IPython.display import display

    from synthmed import plots

    if len(results) == 0:
        raise ValueError("benchmark_explorer needs a results table with at least one run")
    modalities = [m for m in ("chest", "brain") if m in set(results["modality"])]
    modality = w.Dropdown(options=["both", *modalities], value="both", description="modality")
    present = plots.curve_series(results)[1:]
    generator = w.Dropdown(options=["all", *present], value="all", description="generator")
    label = w.Dropdown(options=["mean"], value="mean", description="label")
    out = w.Output()

    def labels_of(name: str) -> list[str]:
        if name == "both" or label_results is None:
            return ["mean"]
        found = label_results.loc[label_results["modality"] == name, "label"]
        return ["mean", *(x for x in dict.fromkeys(found) if x != "mean")]

    def on_modality(change: dict) -> None:
        label.options = labels_of(change["new"])
        label.value = "mean"

    modality.observe(on_modality, names="value")

    def draw(name: str, gen: str, which: str) -> None:
        series = ("real", *present) if gen == "all" else ("real", gen)
        table = results if name == "both" else results[results["modality"] == name]
        heading = title
        if which != "mean":
            table = plots.per_label_results(label_results[label_results["modality"] == name], which)
            heading = f"{title}: {which}" if title else which
        with out:
            out.clear_output(wait=True)
            fig = plots.benchmark_curves(table, series=series, title=heading)
            display(fig)  # plt.show(fig) only works under the inline backend
            plt.close(fig)

    w.interactive_output(draw, {"name": modality, "gen": generator, "which": label})  # draws the initial state
    return w.VBox([w.HBox([modality, generator, label]), out])
