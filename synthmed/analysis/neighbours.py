"""Nearest real training images of synthetic images, and a memorisation statistic.

As the paper (its `nn.py`): features from the real-trained classifier's global pooling layer and
cosine distance. Beyond the paper: held-out real test images give the distance a *new* real image
typically has to its nearest training image; a synthetic set that copies its training data sits
closer than that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm == 0, 1.0, norm)


def nearest_neighbours(
    queries: np.ndarray, reference: np.ndarray, k: int = 1, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """For each query feature row (Q, D), the k nearest reference rows (R, D) by cosine distance.

    Returns (indices (Q, k), distances (Q, k)), nearest first; cosine distance = 1 - cos similarity.
    """
    if queries.ndim != 2 or reference.ndim != 2 or queries.shape[1] != reference.shape[1]:
        raise ValueError(f"expected (Q, D) and (R, D) features, got {queries.shape} and {reference.shape}")
    k = min(k, len(reference))
    ref = _unit(reference)
    indices = np.empty((len(queries), k), dtype=np.int64)
    distances = np.empty((len(queries), k))
    for start in range(0, len(queries), chunk):
        dist = 1.0 - _unit(queries[start : start + chunk]) @ ref.T  # (q, R)
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(dist, part, axis=1).argsort(axis=1)
        idx = np.take_along_axis(part, order, axis=1)
        indices[start : start + chunk] = idx
        distances[start : start + chunk] = np.take_along_axis(dist, idx, axis=1)
    return indices, np.clip(distances, 0.0, 2.0)


@dataclass(frozen=True)
class Memorisation:
    synthetic_to_train: np.ndarray  # (S,) nearest cosine distance of each synthetic image to a training image
    test_to_train: np.ndarray  # (T,) the same for held-out real test images
    threshold: float  # the `percentile`-th percentile of test_to_train
    fraction_below: float  # fraction of synthetic images closer to a training image than the threshold
    expected_fraction: float  # what a synthetic set distributed like real test images would give (percentile/100)
    median_ratio: float  # median synthetic-to-train over median test-to-train (below 1: closer than new real images)


def memorisation(synthetic: np.ndarray, test: np.ndarray, train: np.ndarray, percentile: float = 5.0) -> Memorisation:
    """Compare synthetic-to-train with real-test-to-train nearest-neighbour distances (features (N, D))."""
    _, syn = nearest_neighbours(synthetic, train, k=1)
    _, tst = nearest_neighbours(test, train, k=1)
    syn, tst = syn[:, 0], tst[:, 0]
    threshold = float(np.percentile(tst, percentile))
    median_test = float(np.median(tst))
    return Memorisation(
        synthetic_to_train=syn,
        test_to_train=tst,
        threshold=threshold,
        fraction_below=float(np.mean(syn < threshold)),
        expected_fraction=percentile / 100.0,
        median_ratio=float(np.median(syn) / median_test) if median_test > 0 else float("nan"),
    )


def example_queries(distances: np.ndarray, n: int, seed: int) -> dict[str, np.ndarray]:
    """Which queries to show beside their nearest neighbours: the closest, and a seeded random draw.

    `distances` (Q,) are the queries' nearest-neighbour distances. Returns {"closest": the n
    indices with the smallest distance, nearest first (the likeliest copies), "random": n indices
    drawn without replacement from the other queries, in increasing order (what a typical query
    looks like)}. Either holds fewer than n when there are not enough queries.
    """
    distances = np.asarray(distances)
    if distances.ndim != 1:
        raise ValueError(f"distances: expected one nearest distance per query (Q,), got shape {distances.shape}")
    if n < 0:
        raise ValueError(f"n: expected a non-negative number of examples, got {n}")
    closest = np.argsort(distances, kind="stable")[:n]
    rest = np.setdiff1d(np.arange(len(distances)), closest)
    rng = np.random.default_rng(seed)
    random = np.sort(rng.choice(rest, size=min(n, len(rest)), replace=False))
    return {"closest": closest, "random": random}


def query_indices(n_images: int, n: int, seed: int) -> np.ndarray:
    """The paper's nearest-neighbour queries: ``n`` images of the synthetic test split, as positions.

    The original (its ``nn.py``) took the first ``number_nn_compute`` = 100 records of the synthetic
    test split, which its ``test.py`` had written in a shuffled order: in effect a fixed random draw
    without replacement. Here: the first ``n`` of a permutation seeded by ``seed`` (all images when
    there are fewer), in that order.
    """
    if n_images < 0 or n < 0:
        raise ValueError(f"expected non-negative counts, got n_images={n_images} and n={n}")
    return np.random.default_rng(seed).permutation(n_images)[:n]
