"""synthmed.data.summary: the data chapter's label frequencies and example rows, on small known tables."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed.data.summary import example_per_label, label_frequencies, labels_of

LABELS = ["a", "b", "c"]


def _index(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=LABELS).astype("int8")
    frame.insert(0, "path", [f"img{i}.png" for i in range(len(rows))])
    return frame


def test_label_frequencies_are_each_datasets_share_of_images_per_label() -> None:
    first = _index([(1, 0, 0), (1, 1, 0), (0, 0, 0), (1, 0, 1)])  # a: 3/4, b: 1/4, c: 1/4
    second = _index([(0, 1, 0), (0, 1, 0), (0, 0, 0)]).drop(columns="c")  # a: 0, b: 2/3; no c column
    table = label_frequencies({"first": first, "second": second}, LABELS)
    assert list(table.columns) == ["dataset", "label", "fraction"]
    got = {(r.dataset, r.label): r.fraction for r in table.itertuples()}
    assert got == pytest.approx({("first", "a"): 0.75, ("first", "b"): 0.25, ("first", "c"): 0.25,
                                 ("second", "a"): 0.0, ("second", "b"): 2 / 3})
    # Datasets and labels keep the order given.
    assert list(zip(table["dataset"], table["label"], strict=True)) == [
        ("first", "a"), ("first", "b"), ("first", "c"), ("second", "a"), ("second", "b")]


def test_the_example_of_a_label_is_a_row_with_the_fewest_other_labels() -> None:
    index = _index([
        (1, 1, 1),  # 0: every label
        (1, 1, 0),  # 1: a and b
        (0, 1, 0),  # 2: b alone, the plainest b
        (1, 0, 1),  # 3: a and c; the only rows with c carry another label too
        (0, 0, 0),  # 4: nothing
    ])
    examples = example_per_label(index, LABELS, seed=0)
    assert set(examples) == {"a", "b", "c"}
    assert examples["b"]["path"] == "img2.png"
    for label, row in examples.items():
        assert row[label] == 1
        # No row carrying the label has fewer positive labels than the one chosen.
        carriers = index[index[label] == 1]
        assert row[LABELS].sum() == carriers[LABELS].sum(axis=1).min()


def test_a_label_no_row_carries_has_no_example() -> None:
    index = _index([(1, 0, 0), (1, 1, 0)])
    assert set(example_per_label(index, LABELS)) == {"a", "b"}


def test_ties_between_equally_plain_rows_are_broken_by_the_seed() -> None:
    index = _index([(1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 1, 0)])  # three equally plain rows carry a
    chosen = [example_per_label(index, LABELS, seed=seed)["a"]["path"] for seed in range(30)]
    assert chosen == [example_per_label(index, LABELS, seed=seed)["a"]["path"] for seed in range(30)]
    assert set(chosen) == {"img0.png", "img1.png", "img2.png"}  # the seed picks among all three, never img3
    # Only the labels asked about count: without "b", the fourth row is as plain as the others.
    only_a = {example_per_label(index, ["a"], seed=seed)["a"]["path"] for seed in range(30)}
    assert only_a == {"img0.png", "img1.png", "img2.png", "img3.png"}


def test_labels_of_names_the_positive_labels_in_order() -> None:
    index = _index([(1, 0, 1), (0, 0, 0)])
    assert labels_of(index.iloc[0], LABELS) == "a, c"
    assert labels_of(index.iloc[1], LABELS) == "(none)"
    assert labels_of(index.iloc[0], ["c", "a", "missing"]) == "c, a"  # a label the row lacks is not positive
