"""Benchmark subsets on hand-made, long-tailed paper indexes, scaled down from the paper's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedShuffleSplit

from synthmed.data import BRAIN_LABELS, CHEXPERT_LABELS, labels_for
from synthmed.data import benchmarks as bm

SCALE = 0.02  # chest: thresholds 5 / 148, classes 29..126 per class, val/test 4/3; brain: threshold 2

# Chest head combinations: 8 above the scaled samples threshold (148) with room for its pool
# (119 train per class), then 14 more; the 20th is still large enough for 29 train images.
CHEST_HEAD = [
    1200,
    1000,
    800,
    600,
    450,
    350,
    300,
    260,
    140,
    130,
    120,
    110,
    100,
    95,
    90,
    85,
    80,
    75,
    70,
    65,
    60,
    55,
]
# Brain: no-finding first, then haemorrhage combinations; no-finding stays below the balance (2,147).
BRAIN_HEAD = [1800, 700, 500, 400, 300, 250, 200, 150, 120, 100, 90]


def _distinct_vectors(rng: np.random.Generator, n: int, width: int, exclude: set[tuple]) -> list[tuple]:
    seen = set(exclude)
    out = []
    while len(out) < n:
        v = tuple(int(x) for x in (rng.random(width) < 0.3))
        if any(v) and v not in seen:
            seen.add(v)
            out.append(v)
    return out


def make_index(modality: str, head: list[int], tail: int, n_patients: int, seed: int) -> pd.DataFrame:
    """A paper index with `head` images per frequent combination and `tail` rare ones (1-3 images)."""
    rng = np.random.default_rng(seed)
    labels = labels_for(modality)
    if modality == "chest":
        vectors = _distinct_vectors(rng, len(head) + tail, len(labels), set())
    else:  # five subtypes + no_finding, which is 1 exactly when no subtype is
        no_finding = (0, 0, 0, 0, 0, 1)
        subtypes = _distinct_vectors(rng, min(len(head) + tail - 1, 31), 5, set())
        vectors = [no_finding] + [(*v, 0) for v in subtypes]
    counts = head + list(rng.integers(1, 4, size=len(vectors) - len(head)))
    combo = np.repeat(np.arange(len(vectors)), counts)
    rng.shuffle(combo)
    y = np.asarray(vectors, dtype=np.int8)[combo]
    patient = rng.integers(0, n_patients, size=len(combo))
    frame = pd.DataFrame(y, columns=labels)
    frame.insert(0, "patient", [f"patient{p:05d}" for p in patient])
    frame.insert(0, "path", [f"/data/patient{p:05d}/img{i:06d}.jpg" for i, p in enumerate(patient)])
    return frame


@pytest.fixture(scope="module")
def chest() -> pd.DataFrame:
    return make_index("chest", CHEST_HEAD, tail=200, n_patients=1800, seed=1)


@pytest.fixture(scope="module")
def brain() -> pd.DataFrame:
    return make_index("brain", BRAIN_HEAD, tail=20, n_patients=900, seed=2)


def combos(frame: pd.DataFrame, labels: list[str]) -> pd.Series:
    """Each row's combination as a string of 0/1."""
    digits = (frame[labels].to_numpy(np.uint8) + ord("0")).copy(order="C")
    return pd.Series(digits.view(f"S{len(labels)}").ravel().astype(str), index=frame.index)


def expected_split(index: pd.DataFrame, threshold: int, seed: int):
    """The patient split of the rows whose combination has more than `threshold` images."""
    keys = combos(index, labels_for("chest" if "No Finding" in index else "brain"))
    pool = index[keys.map(keys.value_counts()) > threshold]
    return bm.patient_split(pool, seed)


# --------------------------------------------------------------------------------------------- basics


def test_patient_split_is_disjoint_ordered_and_80_10_10(chest):
    train, val, test = bm.patient_split(chest, seed=100)
    sets = [set(part["patient"]) for part in (train, val, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    n = chest["patient"].nunique()
    assert [len(s) for s in sets] == [int(0.8 * n), int(0.9 * n) - int(0.8 * n), n - int(0.9 * n)]
    assert len(train) + len(val) + len(test) == len(chest)
    for part in (train, val, test):  # each part keeps the index's row order
        assert part.index.is_monotonic_increasing
    again = bm.patient_split(chest, seed=100)
    assert all(a.equals(b) for a, b in zip(again, (train, val, test), strict=True))
    other = bm.patient_split(chest, seed=101)
    assert set(other[0]["patient"]) != sets[0]


def test_scaled_params_round_half_up_with_floor_one():
    paper = bm.PAPER_PARAMS["chest"]
    assert paper.scaled(1.0) == paper
    small = paper.scaled(0.01)
    assert small.frequency_threshold == 3  # 2.56
    assert small.classes_train == (15, 16, 20, 23, 39, 63)  # 14.5 rounds up
    assert small.samples_per_class == (60, 45, 30, 15, 10, 5, 4, 2)
    assert small.samples_threshold == 74 and small.resolution_val_test == 40
    assert small.split_seed == paper.split_seed and small.classes == paper.classes  # never scaled
    assert paper.scaled(1e-6).classes_val == 1
    assert bm.PAPER_PARAMS["brain"].scaled(0.01).balance_no_finding == 1074
    with pytest.raises(ValueError, match="scale"):
        paper.scaled(0)


def test_points_are_validated():
    assert bm.BenchmarkPoint("chest", "classes", 20).name == "chest/classes/20"
    bm.BenchmarkPoint("brain", "resolution", 16)
    with pytest.raises(ValueError, match="not one of the paper's"):
        bm.BenchmarkPoint("chest", "classes", 12)
    with pytest.raises(ValueError, match="power of two"):
        bm.BenchmarkPoint("brain", "resolution", 256)
    with pytest.raises(ValueError, match="modality"):
        bm.BenchmarkPoint("knee", "classes", 20)


def test_bad_index_names_row_and_column(chest):
    bad = chest.head(50).copy()
    bad.loc[bad.index[7], "Edema"] = 2
    with pytest.raises(ValueError, match=r"row 7: label 'Edema' is 2"):
        bm.build_point(bad, bm.BenchmarkPoint("chest", "classes", 2), SCALE)
    with pytest.raises(ValueError, match="lacks columns"):
        bm.build_point(chest.drop(columns="patient"), bm.BenchmarkPoint("chest", "classes", 2), SCALE)


def test_combination_counts_ranks_the_long_tail(chest):
    table = bm.combination_counts(chest, CHEXPERT_LABELS)
    assert table["count"].sum() == len(chest)
    assert table["count"].is_monotonic_decreasing
    assert table["count"].head(len(CHEST_HEAD)).tolist() == CHEST_HEAD
    independent = combos(chest, CHEXPERT_LABELS).value_counts()
    top = "".join(str(v) for v in table.loc[0, CHEXPERT_LABELS])
    assert independent[top] == table.loc[0, "count"]
    positives = [label for label in CHEXPERT_LABELS if table.loc[0, label]]
    assert table.loc[0, "combination"] == " + ".join(positives)


# --------------------------------------------------------------------------------------------- classes


def test_chest_classes_exact_counts_top_k_by_overall_frequency(chest):
    p = bm.PAPER_PARAMS["chest"].scaled(SCALE)
    ranked = combos(chest, CHEXPERT_LABELS).value_counts()
    split = [
        combos(part, CHEXPERT_LABELS).value_counts()
        for part in expected_split(chest, p.frequency_threshold, 100)
    ]
    subsets = bm.build_benchmark(chest, "chest", "classes", SCALE)
    for k, n_train in zip(p.classes, p.classes_train, strict=True):
        s = subsets[k]
        top = list(ranked.index[:k])
        assert len(s.classes) == k
        for frame, per_class, available in zip(
            (s.train, s.val, s.test), (n_train, p.classes_val, p.classes_test), split, strict=True
        ):
            got = combos(frame, list(s.labels)).value_counts()
            want = {c: min(per_class, available.get(c, 0)) for c in top}
            assert dict(got) == {key_in(s, c): n for c, n in want.items() if n}
    # The chest train totals are the paper's nominal k x N here (every class has enough images).
    assert [len(subsets[k].train) for k in p.classes] == [
        k * n for k, n in zip(p.classes, p.classes_train, strict=True)
    ]


def key_in(subset: bm.Subset, full_key: str) -> str:
    """A full 14-label combination string restricted to the subset's kept labels."""
    labels = labels_for(subset.point.modality)
    return "".join(full_key[labels.index(label)] for label in subset.labels)


def test_chest_classes_per_class_picks_are_shared_across_points(chest):
    subsets = bm.build_benchmark(chest, "chest", "classes", SCALE)
    # Each class is shuffled once with its own seed: the 2-class val and test sets are the two most
    # frequent classes' picks of the 20-class point, and a class's 29 train images at 20 classes
    # are the first of its 126 at 2 classes.
    assert set(subsets[2].val["path"]) < set(subsets[20].val["path"])
    assert set(subsets[2].test["path"]) < set(subsets[20].test["path"])
    top = bm.combination_counts(chest, CHEXPERT_LABELS).loc[0, CHEXPERT_LABELS]
    for_top = {
        k: s.train[(s.train[list(s.labels)] == top[list(s.labels)]).all(axis=1)] for k, s in subsets.items()
    }
    assert len(for_top[20]) == 29 and len(for_top[2]) == 126
    assert set(for_top[20]["path"]) < set(for_top[2]["path"])


def test_brain_classes_top_k_by_train_frequency_first_n_in_split_order(brain):
    p = bm.PAPER_PARAMS["brain"].scaled(SCALE)
    assert (brain["no_finding"] == 1).sum() <= p.balance_no_finding  # the balance keeps every image here
    train_rows, val_rows, test_rows = expected_split(brain, p.frequency_threshold, 1001)
    train_keys = combos(train_rows, BRAIN_LABELS)
    ranked = train_keys.value_counts()
    subsets = bm.build_benchmark(brain, "brain", "classes", SCALE)
    for k, n_train in zip(p.classes, p.classes_train, strict=True):
        s = subsets[k]
        top = list(ranked.index[:k])
        got = combos(s.train, list(s.labels)).value_counts()
        assert dict(got) == {key_in(s, c): min(n_train, ranked[c]) for c in top}
        assert dict(combos(s.val, list(s.labels)).value_counts()) == {
            key_in(s, c): min(p.classes_val, (combos(val_rows, BRAIN_LABELS) == c).sum()) for c in top
        }
        for c in top:
            if c.endswith("1"):
                continue  # no-finding images come after the balance shuffle, not in index order
            first = train_rows.loc[train_keys == c, "path"].head(n_train)
            chosen = s.train.loc[combos(s.train, list(s.labels)) == key_in(s, c), "path"]
            assert set(chosen) == set(first)
    assert len(subsets[10].train) == 10 * p.classes_train[0]


# --------------------------------------------------------------------------------------------- samples


@pytest.mark.parametrize("modality", ["chest", "brain"])
def test_samples_are_nested_with_fixed_val_test(modality, chest, brain):
    index = chest if modality == "chest" else brain
    p = bm.PAPER_PARAMS[modality].scaled(SCALE)
    subsets = bm.build_benchmark(index, modality, "samples", SCALE)
    settings = bm.SETTINGS[modality, "samples"]
    if modality == "chest":  # every combination above the (scaled) 7,400 threshold
        n_classes = int((combos(index, CHEXPERT_LABELS).value_counts() > p.samples_threshold).sum())
    else:
        n_classes = p.samples_top
    assert n_classes == {"chest": 8, "brain": 6}[modality]
    for setting, n in zip(settings, p.samples_per_class, strict=True):
        s = subsets[setting]
        counts = combos(s.train, list(s.labels)).value_counts()
        assert len(counts) == n_classes and (counts == n).all()
        val_counts = combos(s.val, list(s.labels)).value_counts()
        assert (val_counts == p.samples_val).all() and len(val_counts) == n_classes
        assert s.val["path"].tolist() == subsets[settings[0]].val["path"].tolist()
        assert s.test["path"].tolist() == subsets[settings[0]].test["path"].tolist()
    for larger, smaller in zip(settings, settings[1:], strict=False):
        assert set(subsets[smaller].train["path"]) < set(subsets[larger].train["path"])


def test_brain_samples_classes_are_the_top_six_train_combinations(brain):
    p = bm.PAPER_PARAMS["brain"].scaled(SCALE)
    train_rows, _, _ = expected_split(brain, p.frequency_threshold, 1001)
    top6 = set(combos(train_rows, BRAIN_LABELS).value_counts().index[:6])
    s = bm.build_point(brain, bm.BenchmarkPoint("brain", "samples", 100), SCALE)
    assert {key_in(s, c) for c in top6} == set(combos(s.train, list(s.labels)))


# --------------------------------------------------------------------------------------------- resolution


def test_chest_resolution_whole_train_split_and_the_originals_stratified_pick(chest):
    p = bm.PAPER_PARAMS["chest"].scaled(SCALE)
    train_rows, val_rows, test_rows = expected_split(chest, p.frequency_threshold, 100)
    s = bm.build_point(chest, bm.BenchmarkPoint("chest", "resolution", 64), SCALE)
    assert s.train["path"].tolist() == train_rows["path"].tolist()
    # The original's call: StratifiedShuffleSplit on the 2-D float label rows, keeping the "train" part.
    for rows, seed, margin, picked in ((val_rows, 101, 0.0, s.val), (test_rows, 102, 0.00005, s.test)):
        t = p.resolution_val_test
        sss = StratifiedShuffleSplit(n_splits=1, test_size=1 - t / len(rows) - margin, random_state=seed)
        keep, _ = next(sss.split(np.zeros(len(rows)), rows[CHEXPERT_LABELS].to_numpy(np.float32)))
        assert picked["path"].tolist() == rows["path"].iloc[keep].tolist()
        assert abs(len(picked) - t) <= 1
    assert len(s.classes) == int(
        (combos(chest, CHEXPERT_LABELS).value_counts() > p.frequency_threshold).sum()
    )
    same = bm.build_point(chest, bm.BenchmarkPoint("chest", "resolution", 32), SCALE)
    assert same.train.equals(s.train) and same.val.equals(s.val)


def test_brain_resolution_drops_last_test_image_and_falls_back_where_it_cannot_stratify(brain):
    p = bm.PAPER_PARAMS["brain"].scaled(SCALE)
    s = bm.build_point(brain, bm.BenchmarkPoint("brain", "resolution", 128), SCALE)
    assert len(s.val) in (p.resolution_val_test, p.resolution_val_test + 1)
    assert len(s.test) in (p.resolution_val_test - 1, p.resolution_val_test)
    # At a tiny scale 8 images cannot cover every combination: the pick still has the target size.
    tiny = bm.build_point(brain, bm.BenchmarkPoint("brain", "resolution", 32), 0.002)
    assert abs(len(tiny.val) - 8) <= 1 and abs(len(tiny.test) - 7) <= 1


def test_brain_balance_keeps_all_haemorrhages_and_a_seeded_share_of_no_finding(brain):
    p = bm.PAPER_PARAMS["brain"].scaled(0.005)  # balance 537 of 1,800 no-finding images
    arrays = bm._arrays(brain, "brain")
    rows, _, _ = bm._pool(arrays, p.frequency_threshold, p)
    kept = brain.iloc[rows]
    assert (kept["no_finding"] == 1).sum() == p.balance_no_finding
    positives = kept[kept["no_finding"] == 0]
    frequent = combos(brain, BRAIN_LABELS).value_counts()
    expected = brain[
        (brain["no_finding"] == 0) & (combos(brain, BRAIN_LABELS).map(frequent) > p.frequency_threshold)
    ]
    assert positives.index.tolist() == expected.index.tolist()  # all of them, in index order, first
    assert (bm._pool(arrays, p.frequency_threshold, p)[0] == rows).all()


# --------------------------------------------------------------------------------------------- all points


def all_subsets(chest, brain):
    for modality, index in (("chest", chest), ("brain", brain)):
        for benchmark in bm.BENCHMARKS:
            yield from bm.build_benchmark(index, modality, benchmark, SCALE).values()


def test_every_point_has_disjoint_patients_same_combinations_and_consistent_columns(chest, brain):
    for s in all_subsets(chest, brain):
        patients = [set(f["patient"]) for f in (s.train, s.val, s.test)]
        assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2]), (
            s.point
        )
        train_combos = set(combos(s.train, list(s.labels)))
        assert set(combos(s.val, list(s.labels))) <= train_combos
        assert set(combos(s.test, list(s.labels))) <= train_combos
        if s.point.benchmark != "resolution":
            assert set(combos(s.val, list(s.labels))) == train_combos
        all_labels = labels_for(s.point.modality)
        dropped = [label for label in all_labels if label not in s.labels]
        for frame in (s.train, s.val, s.test):
            assert [c for c in frame.columns if c in all_labels] == list(s.labels)
            source = (chest if s.point.modality == "chest" else brain).loc[frame.index]
            assert (source[dropped].to_numpy() == 0).all()
        assert (s.train[list(s.labels)].sum() > 0).all()


def test_columns_empty_in_train_are_dropped(chest):
    s = bm.build_point(chest, bm.BenchmarkPoint("chest", "classes", 2), SCALE)
    top2 = bm.combination_counts(chest, CHEXPERT_LABELS).head(2)
    assert list(s.labels) == [label for label in CHEXPERT_LABELS if top2[label].any()]
    assert len(s.labels) < len(CHEXPERT_LABELS)


def test_building_is_deterministic(chest, brain):
    first = list(all_subsets(chest, brain))
    second = list(all_subsets(chest, brain))
    for a, b in zip(first, second, strict=True):
        assert a.train.equals(b.train) and a.val.equals(b.val) and a.test.equals(b.test)
    train = first[3].train  # chest classes 20: the final shuffle mixes the classes
    assert first[3].point == bm.BenchmarkPoint("chest", "classes", 20)
    keys = combos(train, list(first[3].labels))
    assert (keys != keys.shift()).sum() > 10 * 20


def test_benchmark_table_lists_every_point_and_notes_what_cannot_be_built(chest, brain):
    table = bm.benchmark_table(chest, "chest", SCALE)
    assert len(table) == 3 + 6 + 8 and (table["note"] == "").all()
    row = table[(table.benchmark == "classes") & (table.setting == 15)].iloc[0]
    s = bm.build_point(chest, bm.BenchmarkPoint("chest", "classes", 15), SCALE)
    assert (row.n_classes, row.n_labels, row.train, row.val, row.test) == (
        15,
        len(s.labels),
        len(s.train),
        len(s.val),
        len(s.test),
    )
    few = make_index("brain", [400, 300, 200, 150], tail=0, n_patients=200, seed=3)
    small = bm.benchmark_table(few, "brain", SCALE)
    assert small[small.benchmark == "classes"]["note"].str.contains("needs 10 combinations").all()
    assert (small[small.benchmark == "resolution"]["note"] == "").all()
    with pytest.raises(bm.TooFewCombinations, match="more than 5500 images"):
        bm.build_point(few, bm.BenchmarkPoint("brain", "resolution", 32), 50.0)


def test_chest_classes_reproduce_the_originals_seeds_and_order(chest):
    # paper-spec §2.2, written out for the 20-class point: classes from least to most frequent,
    # class i shuffled with RandomState(i), first N; then the whole split shuffled with seed 102 (train)
    # and 103 (val), the seeds that follow the patient split's 100 and 101.
    p = bm.PAPER_PARAMS["chest"].scaled(SCALE)
    train_rows, val_rows, _ = expected_split(chest, p.frequency_threshold, 100)
    top = list(combos(chest, CHEXPERT_LABELS).value_counts().index[:20])
    s = bm.build_point(chest, bm.BenchmarkPoint("chest", "classes", 20), SCALE)
    for rows, n, seed, got in (
        (train_rows, p.classes_train[0], 102, s.train),
        (val_rows, p.classes_val, 103, s.val),
    ):
        keys = combos(rows, CHEXPERT_LABELS)
        picks = []
        for i, combo in enumerate(reversed(top)):
            members = rows["path"][keys == combo].to_numpy()
            picks.append(members[np.random.RandomState(i).permutation(len(members))][:n])
        expected = np.concatenate(picks)
        expected = expected[np.random.RandomState(seed).permutation(len(expected))]
        assert got["path"].tolist() == expected.tolist()


def test_chest_samples_share_one_permutation_of_each_class_pool(chest):
    # paper-spec §2.3: pools of 119 (5,950 scaled) per class, shuffled with seeds 0, 1, ... from the
    # least frequent; one RandomState(104) permutation of pool positions picks every point's images.
    p = bm.PAPER_PARAMS["chest"].scaled(SCALE)
    train_rows, _, _ = expected_split(chest, p.samples_threshold, 100)
    ranked = combos(chest, CHEXPERT_LABELS).value_counts()
    classes = list(ranked.index[ranked > p.samples_threshold])
    keys = combos(train_rows, CHEXPERT_LABELS)
    perm = np.random.RandomState(104).permutation(p.samples_pool)
    subsets = bm.build_benchmark(chest, "chest", "samples", SCALE)
    for setting, n in zip(bm.SETTINGS["chest", "samples"], p.samples_per_class, strict=True):
        expected = set()
        for i, combo in enumerate(reversed(classes)):
            members = train_rows["path"][keys == combo].to_numpy()
            pool = members[np.random.RandomState(i).permutation(len(members))][: p.samples_pool]
            expected |= set(pool[perm[:n]])
        assert set(subsets[setting].train["path"]) == expected
