"""The memorisation chapter: nearest real neighbours of synthetic images, the memorisation statistic, and
occlusion maps of the three classifiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthmed.analysis.neighbours import Memorisation, example_queries, memorisation, nearest_neighbours, query_indices
from synthmed.chapters.shared import SharedPoints
from synthmed.data.summary import example_per_label, labels_of


def features(shared: SharedPoints) -> dict[tuple[str, str], np.ndarray]:
    """(modality, "train" | "test" | generator) -> pooled features of the real classifier: the real training
    and test images, and each generator's synthetic test images."""
    from synthmed.classify.train import extract_features

    found = {}
    for modality in shared.points:
        run = shared.first(modality)
        found[modality, "train"] = extract_features(run.real_model, run.arrays["train"][0])
        found[modality, "test"] = extract_features(run.real_model, run.arrays["test"][0])
        for generator in shared.generators:
            synthetic = shared.runs[modality, generator].synthetic["test"]
            found[modality, generator] = extract_features(run.real_model, synthetic)
    return found


def features_note(shared: SharedPoints, found: dict[tuple[str, str], np.ndarray]) -> str:
    first = shared.generators[0]
    return ", ".join(
        f"{modality}: {found[modality, 'train'].shape[1]}-dimensional features of "
        f"{len(found[modality, 'train'])} training, {len(found[modality, 'test'])} test and "
        f"{len(found[modality, first])} synthetic test images per generator"
        for modality in shared.points
    ) + "."


@dataclass
class NeighbourExamples:
    """Some synthetic test images of one run beside their nearest real training image."""

    title: str
    synthetic: np.ndarray
    nearest: np.ndarray
    distance: np.ndarray
    titles: list[str]


def nearest_training(shared: SharedPoints, found: dict) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(modality, generator) -> (index, distance) of each synthetic test image's nearest training image."""
    nearest = {}
    for modality, generator in shared.runs:
        index, distance = nearest_neighbours(found[modality, generator], found[modality, "train"], k=1)
        nearest[modality, generator] = (index[:, 0], distance[:, 0])
    return nearest


def shown_queries(distance: np.ndarray, *, n_queries: int, n_examples: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Which synthetic images to show (`distance`: each one's distance to its nearest training image): among
    `n_queries` drawn, the `n_examples` closest and as many at random, as indices, with a caption each."""
    queries = query_indices(len(distance), n_queries, seed)
    picked = example_queries(distance[queries], n_examples, seed)
    order = queries[np.concatenate([picked["closest"], picked["random"]])]
    return order, [f"closest {k + 1}" for k in range(len(picked["closest"]))] + ["random" for _ in picked["random"]]


def neighbour_examples(shared: SharedPoints, nearest: dict, *, n_queries: int, n_examples: int,
                       seed: int) -> list[NeighbourExamples]:
    """Per run: among `n_queries` drawn synthetic images, the `n_examples` closest to the training set and as
    many at random, with their nearest training images."""
    shown = []
    for (modality, generator), run in shared.runs.items():
        index, distance = nearest[modality, generator]
        order, captions = shown_queries(distance, n_queries=n_queries, n_examples=n_examples, seed=seed)
        titles = [f"synthetic, {caption}" for caption in captions]
        resolution = run.row["resolution"]
        shown.append(NeighbourExamples(
            f"{modality}, {generator}: {run.subset.point.name} at {resolution}x{resolution}",
            run.synthetic["test"][order], run.arrays["train"][0][index[order]], distance[order], titles,
        ))
    return shown


def browser_inputs(shared: SharedPoints, found: dict, *, n_queries: int, n_examples: int, seed: int,
                   k: int = 3) -> dict[str, dict]:
    """`widgets.neighbour_browser`'s arguments: per run ("modality, generator") the queries `neighbour_examples`
    shows (the closest, then the random ones), each with its `k` nearest real training images."""
    browse: dict[str, dict] = {"queries": {}, "neighbours": {}, "distances": {}, "titles": {}}
    for (modality, generator), run in shared.runs.items():
        name = f"{modality}, {generator}"
        index, distance = nearest_neighbours(found[modality, generator], found[modality, "train"], k=k)
        order, captions = shown_queries(distance[:, 0], n_queries=n_queries, n_examples=n_examples, seed=seed)
        browse["queries"][name] = run.synthetic["test"][order]
        browse["neighbours"][name] = run.arrays["train"][0][index[order]]
        browse["distances"][name] = distance[order]
        browse["titles"][name] = captions
    return browse


def same_labels(shared: SharedPoints, found: dict, nearest: dict) -> pd.DataFrame:
    """Per modality: the fraction of real test and of each generator's synthetic test images whose nearest
    training image has exactly their labels."""
    rows = []
    for modality in shared.points:
        run = shared.first(modality)
        y_train, y_test = run.arrays["train"][1], run.arrays["test"][1]
        test_index, _ = nearest_neighbours(found[modality, "test"], found[modality, "train"], k=1)
        row = {"modality": modality, "real test": float((y_train[test_index[:, 0]] == y_test).all(axis=1).mean())}
        for generator in shared.generators:
            index, _ = nearest[modality, generator]
            row[generator] = float((y_train[index] == y_test).all(axis=1).mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("modality")


def memorised(shared: SharedPoints, found: dict, percentile: float) -> dict[str, Memorisation]:
    """"modality, generator" -> the memorisation statistic at `percentile`."""
    return {
        f"{modality}, {generator}": memorisation(
            found[modality, generator], found[modality, "test"], found[modality, "train"], percentile
        )
        for modality, generator in shared.runs
    }


def memorisation_table(remembered: dict[str, Memorisation]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run": name,
                "synthetic images": len(m.synthetic_to_train),
                "test images": len(m.test_to_train),
                "median synthetic -> train": float(np.median(m.synthetic_to_train)),
                "median test -> train": float(np.median(m.test_to_train)),
                "ratio of medians": m.median_ratio,
                "threshold": m.threshold,
                "fraction below": m.fraction_below,
                "expected if like new real images": m.expected_fraction,
            }
            for name, m in remembered.items()
        ]
    ).set_index("run")


def memorisation_note(remembered: dict[str, Memorisation], percentile: float) -> str:
    lines = []
    for name, m in remembered.items():
        closer = "closer to" if m.median_ratio < 1 else "no closer to"
        lines.append(
            f"- **{name}**: {m.fraction_below:.0%} of {len(m.synthetic_to_train)} synthetic images lie closer to a "
            f"training image than {percentile:g}% of the {len(m.test_to_train)} real test images do (expected "
            f"{m.expected_fraction:.0%}); the median synthetic image is {m.median_ratio:.2f} times as far from "
            f"the training set as the median test image, i.e. {closer} it than new real images."
        )
    n_test_min = min(len(m.test_to_train) for m in remembered.values())
    return (
        "\n".join(lines)
        + f"\n\nThe threshold rests on as few as {n_test_min} test images, so it is itself uncertain: with "
        f"fewer than {int(np.ceil(100 / percentile))} test images the {percentile:g}th percentile is an "
        "interpolation between the smallest distances."
    )


@dataclass
class Attribution:
    """Occlusion maps of every classifier on a few real test images, one per finding."""

    modality: str
    images: np.ndarray
    maps: dict[str, np.ndarray]  # classifier -> maps
    titles: list[str]
    probabilities: pd.DataFrame  # finding x classifier: the predicted probability of the finding


def attribution(shared: SharedPoints, modality: str, *, n_images: int, seed: int) -> Attribution | None:
    """Occlusion maps on up to `n_images` real test images, one per finding (None: no test image has one)."""
    from synthmed.analysis.attribution import occlusion_maps

    run = shared.first(modality)
    x_test, y_test = run.arrays["test"]
    labels = list(run.subset.labels)
    chosen = example_per_label(pd.DataFrame(y_test, columns=labels), labels, seed=seed)
    findings = list(chosen)[:n_images]
    positions = np.array([int(chosen[f].name) for f in findings], dtype=int)
    if len(positions) == 0:
        return None
    images, truth = x_test[positions], y_test[positions]
    models = {"real": run.real_model} | {g: shared.runs[modality, g].synthetic_model for g in shared.generators}
    maps = {name: occlusion_maps(model, images, truth) for name, model in models.items()}
    probabilities = pd.DataFrame(
        {
            name: [float(s[p, labels.index(f)]) for p, f in zip(positions, findings, strict=True)]
            for name, s in shared.test_scores(modality).items()
        },
        index=pd.Index(findings, name=f"{modality}: predicted probability of the finding, by classifier trained on"),
    )
    titles = [f"{f}\n(all: {labels_of(chosen[f], labels)})" for f in findings]
    return Attribution(modality, images, maps, titles, probabilities)
