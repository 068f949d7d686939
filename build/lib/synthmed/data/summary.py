"""Small summaries of an index that the data chapter shows: label frequencies and example rows."""

from __future__ import annotations

import numpy as np
import pandas as pd


def label_frequencies(indexes: dict[str, pd.DataFrame], labels: list[str]) -> pd.DataFrame:
    """Tidy table (dataset, label, fraction): the fraction of each dataset's images carrying each label."""
    rows = []
    for name, index in indexes.items():
        present = [label for label in labels if label in index]
        fractions = index[present].astype(float).mean()
        rows += [{"dataset": name, "label": label, "fraction": float(fractions[label])} for label in present]
    return pd.DataFrame(rows)


def example_per_label(index: pd.DataFrame, labels: list[str], seed: int = 0) -> dict[str, pd.Series]:
    """For each label, one row that carries it, preferring rows with as few other labels as possible.

    A label no row carries is left out. The choice among equally plain rows is seeded.
    """
    y = index[labels].to_numpy()
    n_positive = y.sum(axis=1)
    rng = np.random.default_rng(seed)
    tie_break = rng.random(len(index))
    examples = {}
    for k, label in enumerate(labels):
        rows = np.flatnonzero(y[:, k] == 1)
        if len(rows):
            best = rows[np.lexsort((tie_break[rows], n_positive[rows]))[0]]
            examples[label] = index.iloc[best]
    return examples


def labels_of(row: pd.Series, labels: list[str]) -> str:
    """The positive labels of an index row, joined for a figure title."""
    positive = [label for label in labels if row.get(label, 0) == 1]
    return ", ".join(positive) if positive else "(none)"
