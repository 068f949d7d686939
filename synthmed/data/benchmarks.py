"""The paper's three benchmarks (resolution, classes, samples) as train/val/test subsets of an index.

Input is a *paper index* (see `synthmed.data`): one row per image, `path`, `patient` and one 0/1
column per label, with the paper's label rules already applied, rows in source-file order. A
"class" is a label combination (a unique 0/1 label vector). Every number and seed below is the
original repository's (`build_dataset/dataset_tool.py`, paper-spec §1-2), and every shuffle uses
numpy's legacy `RandomState` exactly where the original did, so that on the real datasets the
splits match the original code's.

Two factors shrink the benchmarks (`ModalityParams.scaled`), each count rounded half up with a
floor of 1. `scale` is the size of the dataset against the real one: it multiplies every count and
frequency threshold (per-class train/val/test counts, the thresholds 256/7,400/110, the ~4,000
val/test of the resolution benchmark, the brain balance of 107,365), so a small (phantom) dataset
keeps the paper's structure. `train_scale` shrinks only training sets, where the size is not the
benchmark's axis: the classes benchmark's per-class train counts, and the resolution benchmark's
train split (a seeded random fraction of its rows). Evaluation splits and the samples benchmark's
per-class counts (its axis) never take it: on a dataset of the real size (`scale` 1) they are the
paper's. Seeds, class counts (20, 15, ..., top 6) and the settings that name a point (`SETTINGS`)
never scale.

Choices the original code leaves open, made here and applied identically at every scale:
- Ties in combination counts are ranked by a stable sort (descending count; among equal counts the
  combination with the larger 0/1 pattern, first label most significant, comes first). The
  original used numpy's unstable default sort, whose tie order is machine dependent.
- Val and test keep only combinations that have at least one train image (the paper's "same
  combinations as train"); with the paper's thresholds this removes nothing.
- A class with fewer images than asked for gives all it has (chest classes, both samples pools).
  In the samples benchmark the shared permutation is then filtered to the indices a short class
  has, so its subsets stay nested.
- Resolution benchmark: a val/test patient split no larger than the target is kept whole; where
  `StratifiedShuffleSplit` cannot stratify (a combination with a single image, tiny data), the
  singletons join the most frequent stratum, and failing that the pick is an unstratified
  `RandomState` draw with the same seed. Both only happen far below paper scale.
- Label columns all-zero in train are dropped in all three splits, as for the classes and samples
  benchmarks in the original, and also for the resolution benchmark (a no-op at paper scale).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit

from synthmed.data import MODALITIES, labels_for

log = logging.getLogger(__name__)

BENCHMARKS = ("resolution", "classes", "samples")

# paper-spec §1.1: patient-level 80/10/10, written as the original computes the cut points.
_HOLDOUT_FRACTION = 0.1
# paper-spec §2.1: the chest test pick subtracts this from StratifiedShuffleSplit's test_size.
_CHEST_TEST_MARGIN = 0.00005


class TooFewCombinations(ValueError):
    """The index has too few frequent label combinations for a benchmark (small or odd data)."""


@dataclass(frozen=True)
class ModalityParams:
    """The benchmark numbers for one modality: the paper's, or those times a scale factor.

    Counts are images; "per class" means per label combination.
    """

    split_seed: int  # RandomState seed of the patient shuffle; later seeds count on from it
    frequency_threshold: int  # combinations kept for every benchmark: overall count > this
    resolution_val_test: int  # images picked from each of the val and test patient splits
    resolution_test_margin: float  # chest subtracts 0.00005 from the test pick's test_size
    resolution_drop_last_test: bool  # brain drops the last test image
    balance_no_finding: int | None  # brain keeps this many no-finding images (all others kept)
    balance_seed: int | None
    classes: tuple[int, ...]  # numbers of combinations, one per point
    classes_train: tuple[int, ...]  # train images per combination at each point
    classes_val: int  # val images per combination
    classes_test: int  # test images per combination
    classes_ranked_by: str  # "overall" (chest: all kept images) or "train" (brain: train split)
    per_class_shuffle: (
        bool  # chest shuffles each combination's images (seeds 0, 1, ...); brain takes the first N
    )
    samples_threshold: int | None  # chest samples: combinations with overall count > this
    samples_top: int | None  # brain samples: the top combinations by train count
    samples_per_class: tuple[int, ...]  # train images per combination at each point (nested)
    samples_pool: int  # train images per combination drawn once, from which all points take
    samples_val: int
    samples_test: int
    samples_shuffle_train: bool  # brain shuffles the train split before grouping
    resolutions: tuple[int, ...]  # the resolution benchmark's points (GAN presets)
    base_resolution: int  # resolution the images are prepared at; lower ones by 2x2 box averaging
    resolution_train_fraction: float = 1.0  # resolution benchmark: this fraction of the train split (paper: all)

    def scaled(self, scale: float, train_scale: float = 1.0) -> ModalityParams:
        """These numbers with every count and threshold multiplied by `scale` (half up, at least 1),
        and training sets (classes per-class train counts, the resolution train split) by `train_scale`."""
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        if not 0 < train_scale <= 1:
            raise ValueError(f"train_scale must be in (0, 1], got {train_scale!r}")
        if scale == 1 and train_scale == 1:
            return self

        def s(n: int | None, factor: float = scale) -> int | None:
            return None if n is None else max(1, math.floor(n * factor + 0.5))

        return dataclasses.replace(
            self,
            frequency_threshold=s(self.frequency_threshold),
            resolution_val_test=s(self.resolution_val_test),
            balance_no_finding=s(self.balance_no_finding),
            classes_train=tuple(s(n, scale * train_scale) for n in self.classes_train),
            resolution_train_fraction=self.resolution_train_fraction * train_scale,
            classes_val=s(self.classes_val),
            classes_test=s(self.classes_test),
            samples_threshold=s(self.samples_threshold),
            samples_per_class=tuple(s(n) for n in self.samples_per_class),
            samples_pool=s(self.samples_pool),
            samples_val=s(self.samples_val),
            samples_test=s(self.samples_test),
        )


# paper-spec §1-2 (from `create_*_from_xray` / `create_*_from_brain` in the original dataset_tool.py).
PAPER_PARAMS: dict[str, ModalityParams] = {
    "chest": ModalityParams(
        split_seed=100,
        frequency_threshold=256,
        resolution_val_test=4000,
        resolution_test_margin=_CHEST_TEST_MARGIN,
        resolution_drop_last_test=False,
        balance_no_finding=None,
        balance_seed=None,
        classes=(20, 15, 10, 6, 4, 2),
        classes_train=(1450, 1600, 2000, 2300, 3900, 6300),
        classes_val=190,
        classes_test=170,
        classes_ranked_by="overall",
        per_class_shuffle=True,
        samples_threshold=7400,
        samples_top=None,
        samples_per_class=(5950, 4500, 3000, 1500, 1000, 500, 400, 200),
        samples_pool=5950,
        samples_val=750,
        samples_test=750,
        samples_shuffle_train=False,
        resolutions=(32, 64, 128),
        base_resolution=256,
    ),
    "brain": ModalityParams(
        split_seed=1001,
        frequency_threshold=110,
        resolution_val_test=4000,
        resolution_test_margin=0.0,
        resolution_drop_last_test=True,
        balance_no_finding=107_365,
        balance_seed=1000,
        classes=(10, 8, 6, 4, 2),
        classes_train=(2500, 3120, 4170, 6250, 12500),
        classes_val=300,
        classes_test=200,
        classes_ranked_by="train",
        per_class_shuffle=False,
        samples_threshold=None,
        samples_top=6,
        samples_per_class=(5400, 4500, 3000, 1500, 1000, 500, 300, 100),
        samples_pool=5400,
        samples_val=500,
        samples_test=500,
        samples_shuffle_train=True,
        resolutions=(32, 64, 128),
        base_resolution=128,
    ),
}

# The settings that name each benchmark's points: a resolution, a number of classes, or the paper's
# train images per class (the samples point's actual count is this times the scale).
SETTINGS: dict[tuple[str, str], tuple[int, ...]] = {
    (modality, benchmark): getattr(
        params, {"resolution": "resolutions", "classes": "classes", "samples": "samples_per_class"}[benchmark]
    )
    for modality, params in PAPER_PARAMS.items()
    for benchmark in BENCHMARKS
}


@dataclass(frozen=True)
class BenchmarkPoint:
    """One point of one benchmark: e.g. ("chest", "classes", 20) or ("brain", "samples", 300).

    `setting` is a value from `SETTINGS`; for the resolution benchmark any power of two up to the
    modality's base resolution is allowed (all share the same subset; resolution only affects images).
    """

    modality: str
    benchmark: str
    setting: int

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}; expected one of {MODALITIES}")
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; expected one of {BENCHMARKS}")
        if self.benchmark == "resolution":
            base = PAPER_PARAMS[self.modality].base_resolution
            r = self.setting
            if not (isinstance(r, (int, np.integer)) and 1 <= r <= base and r & (r - 1) == 0):
                raise ValueError(f"resolution {r!r} must be a power of two up to {base}")
        elif self.setting not in SETTINGS[self.modality, self.benchmark]:
            raise ValueError(
                f"{self.modality} {self.benchmark} setting {self.setting!r} is not one of the paper's "
                f"{SETTINGS[self.modality, self.benchmark]}"
            )

    @property
    def name(self) -> str:
        return f"{self.modality}/{self.benchmark}/{self.setting}"


@dataclass(frozen=True)
class Subset:
    """A benchmark point's train/val/test images.

    The frames are rows of the input index (its index labels kept), with every non-label column
    and only the kept label columns, in the order the original code writes them. `classes` names
    the label combinations used, most frequent first.
    """

    point: BenchmarkPoint
    scale: float
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    labels: tuple[str, ...]
    classes: tuple[str, ...]

    def split(self, name: str) -> pd.DataFrame:
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r}; expected 'train', 'val' or 'test'")
        return getattr(self, name)

    def sizes(self) -> dict[str, object]:
        """One summary row: the point, its numbers of classes and kept labels, and split sizes."""
        return {
            "modality": self.point.modality,
            "benchmark": self.point.benchmark,
            "setting": self.point.setting,
            "n_classes": len(self.classes),
            "n_labels": len(self.labels),
            "train": len(self.train),
            "val": len(self.val),
            "test": len(self.test),
        }


# ---------------------------------------------------------------------------------------------
# The index as arrays.


@dataclass(frozen=True)
class _Arrays:
    """An index as arrays: labels (N, L) int8, combination keys (N,), patient codes (N,)."""

    labels: list[str]
    y: np.ndarray
    keys: np.ndarray
    patients: np.ndarray  # int codes; their order is the sorted order of the patient strings


def _label_matrix(index: pd.DataFrame, labels: list[str]) -> np.ndarray:
    missing = [c for c in ("path", "patient", *labels) if c not in index.columns]
    if missing:
        raise ValueError(f"index lacks columns {missing}; expected path, patient and {labels}")
    block = index[labels]
    bad = ~block.isin([0, 1]).to_numpy()
    if bad.any():
        r, c = np.argwhere(bad)[0]
        value = block.iat[r, c]
        value = value.item() if isinstance(value, np.generic) else value
        raise ValueError(f"index row {index.index[r]!r}: label {labels[c]!r} is {value!r}; expected 0 or 1")
    return block.to_numpy(dtype=np.int8)


def _combination_keys(y: np.ndarray) -> np.ndarray:
    """One int64 per row; sorting keys sorts label vectors lexicographically (first label first),
    which is the order `np.unique` gives the original's rows viewed as bytes."""
    weights = np.left_shift(np.int64(1), np.arange(y.shape[1] - 1, -1, -1, dtype=np.int64))
    return y.astype(np.int64) @ weights


def _arrays(index: pd.DataFrame, modality: str) -> _Arrays:
    labels = labels_for(modality)
    y = _label_matrix(index, labels)
    return _Arrays(labels, y, _combination_keys(y), _patient_codes(index))


def _patient_codes(index: pd.DataFrame) -> np.ndarray:
    """Integer patient codes whose order is the sorted order of the patient strings, as the
    original's np.unique(patient_ids) sorts them; hashing first keeps this fast on 750k rows."""
    codes, unique = pd.factorize(index["patient"].astype(str), sort=False)
    rank = np.empty(len(unique), dtype=np.int64)
    rank[np.argsort(np.asarray(unique, dtype=object), kind="stable")] = np.arange(len(unique))
    return rank[codes]


def _ranked(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique combination keys and their counts, most frequent first (stable tie order, see module doc)."""
    unique, counts = np.unique(keys, return_counts=True)
    order = np.argsort(counts, kind="stable")[::-1]
    return unique[order], counts[order]


def _combination_name(key: int, labels: list[str]) -> str:
    n = len(labels)
    names = [label for j, label in enumerate(labels) if (int(key) >> (n - 1 - j)) & 1]
    return " + ".join(names) if names else "(none)"


# ---------------------------------------------------------------------------------------------
# Steps shared by the builders. Row sets are int64 arrays of positions into the index.


def _pool(a: _Arrays, threshold: int, p: ModalityParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of combinations with overall count > threshold, in index order; brain then balanced.

    Returns the rows and the kept combination keys with their counts (most frequent first).
    """
    keys, counts = _ranked(a.keys)
    keep = counts > threshold
    keys, counts = keys[keep], counts[keep]
    if len(keys) == 0:
        raise TooFewCombinations(f"no label combination has more than {threshold} images")
    rows = np.flatnonzero(np.isin(a.keys, keys))
    if p.balance_no_finding is not None:
        # paper-spec §1.2: all haemorrhage images in order, then a RandomState(1000) shuffle of the
        # no-finding images cut to 107,365.
        no_finding = a.y[rows, a.labels.index("no_finding")] == 1
        others = rows[no_finding]
        others = others[np.random.RandomState(p.balance_seed).permutation(len(others))]
        rows = np.concatenate([rows[~no_finding], others[: p.balance_no_finding]])
    return rows, keys, counts


def _split_rows(patients: np.ndarray, rows: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    """Patient-level 80/10/10 split of `rows`, each part in the order of `rows` (paper-spec §1.1)."""
    unique, inverse = np.unique(patients[rows], return_inverse=True)
    n = len(unique)
    shuffled = np.random.RandomState(seed).permutation(n)
    position = np.empty(n, dtype=np.int64)
    position[shuffled] = np.arange(n)
    pos = position[inverse.reshape(-1)]
    n_train = int((1 - 2 * _HOLDOUT_FRACTION) * n)
    n_train_val = int((1 - _HOLDOUT_FRACTION) * n)
    return rows[pos < n_train], rows[(pos >= n_train) & (pos < n_train_val)], rows[pos >= n_train_val]


def _groups(
    a: _Arrays, rows: np.ndarray, class_keys: np.ndarray, cap: int | None, seeds: list[int] | None
) -> list[np.ndarray]:
    """Rows of each class in `class_keys`, in `rows` order (or shuffled by RandomState(seeds[i])), at most `cap`."""
    keys = a.keys[rows]
    order = np.argsort(keys, kind="stable")  # stable: members keep their order within `rows`
    sorted_keys = keys[order]
    lo = np.searchsorted(sorted_keys, class_keys, side="left")
    hi = np.searchsorted(sorted_keys, class_keys, side="right")
    groups = []
    for i in range(len(class_keys)):
        members = rows[order[lo[i] : hi[i]]]
        if seeds is not None:
            members = members[np.random.RandomState(seeds[i]).permutation(len(members))]
        groups.append(members[:cap])
    return groups


def _shuffled(rows: np.ndarray, seed: int) -> np.ndarray:
    """The original's `np.random.seed(seed); np.random.shuffle(...)`."""
    return rows[np.random.RandomState(seed).permutation(len(rows))]


def _in_train(a: _Arrays, rows: np.ndarray, train: np.ndarray) -> np.ndarray:
    """`rows` restricted to combinations present in `train`."""
    return rows[np.isin(a.keys[rows], a.keys[train])]


def _stratified_pick(a: _Arrays, rows: np.ndarray, n_keep: int, seed: int, margin: float) -> np.ndarray:
    """About `n_keep` of `rows`, stratified by combination, as the original's StratifiedShuffleSplit
    (it keeps the "train" part of a split with test_size = 1 - n_keep/n - margin)."""
    n = len(rows)
    test_size = 1 - n_keep / n - margin if n else 0.0
    if n <= n_keep or test_size <= 0:
        return rows
    # Equivalent to passing the original's 2-D label rows: sklearn joins each row into a string,
    # and those strings sort exactly as the combination keys do, so the strata are the same.
    strata = a.keys[rows]
    try:
        keep, _ = next(StratifiedShuffleSplit(1, test_size=test_size, random_state=seed).split(rows, strata))
        return rows[keep]
    except ValueError as err:
        reason = str(err).split(".")[0]
        log.info(  # expected below paper scale; documented in the module docstring
            "stratified pick of %d from %d rows: %s; singletons join the largest stratum", n_keep, n, reason
        )
    values, counts = np.unique(strata, return_counts=True)
    merged = np.where(np.isin(strata, values[counts < 2]), values[np.argmax(counts)], strata)
    try:
        keep, _ = next(StratifiedShuffleSplit(1, test_size=test_size, random_state=seed).split(rows, merged))
        return rows[keep]
    except ValueError as err:
        log.info("stratified pick of %d from %d rows: %s; unstratified", n_keep, n, str(err).split(".")[0])
        n_test = math.ceil(test_size * n)
        return rows[np.random.RandomState(seed).permutation(n)[: n - n_test]]


def _subset(
    index: pd.DataFrame,
    a: _Arrays,
    point: BenchmarkPoint,
    scale: float,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    class_keys: np.ndarray,
) -> Subset:
    """Frames for the three row sets, without the label columns that are all-zero in train."""
    empty = a.y[train].sum(axis=0) == 0
    for name, rows in (("val", val), ("test", test)):
        if a.y[rows][:, empty].any():  # guaranteed by `_in_train`; kept as the original's assert
            raise AssertionError(f"{point.name}: {name} has a label that train lacks")
    dropped = [label for label, e in zip(a.labels, empty, strict=True) if e]
    kept = tuple(label for label, e in zip(a.labels, empty, strict=True) if not e)
    frames = [index.iloc[rows].drop(columns=dropped) for rows in (train, val, test)]
    names = tuple(_combination_name(k, a.labels) for k in class_keys)
    return Subset(point, scale, *frames, labels=kept, classes=names)


# ---------------------------------------------------------------------------------------------
# The three benchmarks. Each builds all its points at once: they share pools, groups and seeds.


def _resolution(index: pd.DataFrame, a: _Arrays, modality: str, p: ModalityParams, scale: float):
    """paper-spec §2.1: the whole train split; ~4,000 stratified val and test images."""
    rows, _, _ = _pool(a, p.frequency_threshold, p)
    train, val, test = _split_rows(a.patients, rows, p.split_seed)
    seed = p.split_seed + 1
    val = _stratified_pick(a, _in_train(a, val, train), p.resolution_val_test, seed, 0.0)
    test = _stratified_pick(
        a, _in_train(a, test, train), p.resolution_val_test, seed + 1, p.resolution_test_margin
    )
    if p.resolution_drop_last_test:
        test = test[:-1]
    if p.resolution_train_fraction < 1:  # not in the paper: a smaller training set for small profiles
        keep = max(1, math.floor(len(train) * p.resolution_train_fraction + 0.5))
        train = np.sort(_shuffled(train, seed + 2)[:keep])  # index order, as the whole split has
        val, test = _in_train(a, val, train), _in_train(a, test, train)
    class_keys, _ = _ranked(a.keys[train])
    return {
        r: _subset(index, a, BenchmarkPoint(modality, "resolution", r), scale, train, val, test, class_keys)
        for r in p.resolutions
    }


def _classes(index: pd.DataFrame, a: _Arrays, modality: str, p: ModalityParams, scale: float):
    """paper-spec §2.2: the k most frequent combinations at N train images each."""
    rows, overall_keys, _ = _pool(a, p.frequency_threshold, p)
    train, val, test = _split_rows(a.patients, rows, p.split_seed)
    k_max = max(p.classes)
    top = overall_keys if p.classes_ranked_by == "overall" else _ranked(a.keys[train])[0]
    top = top[:k_max]
    if len(top) < k_max:
        raise TooFewCombinations(
            f"{modality} classes benchmark needs {k_max} combinations above the frequency threshold "
            f"{p.frequency_threshold}; this index has {len(top)}"
        )
    if p.per_class_shuffle:
        # chest: groups run from least to most frequent, each shuffled with seed 0, 1, 2, ...;
        # the k-class set is the last k groups.
        order = top[::-1]
        seeds = list(range(k_max))
        tr_groups = _groups(a, train, order, None, seeds)
        va_groups = _groups(a, val, order, p.classes_val, seeds)
        te_groups = _groups(a, test, order, p.classes_test, seeds)

        def chosen(groups, k):
            return groups[k_max - k :]
    else:
        # brain: groups in descending train frequency, first N in split order; the first k groups.
        tr_groups = _groups(a, train, top, None, None)
        va_groups = _groups(a, val, top, p.classes_val, None)
        te_groups = _groups(a, test, top, p.classes_test, None)

        def chosen(groups, k):
            return groups[:k]

    seed = p.split_seed + 1
    subsets = {}
    for i, (k, n_train) in enumerate(zip(p.classes, p.classes_train, strict=True)):
        tr = np.concatenate([g[:n_train] for g in chosen(tr_groups, k)])
        present = [len(g) > 0 for g in chosen(tr_groups, k)]
        va = np.concatenate([g for g, ok in zip(chosen(va_groups, k), present, strict=True) if ok])
        te = np.concatenate([g for g, ok in zip(chosen(te_groups, k), present, strict=True) if ok])
        tr, va, te = (
            _shuffled(tr, seed + 1 + 3 * i),
            _shuffled(va, seed + 2 + 3 * i),
            _shuffled(te, seed + 3 + 3 * i),
        )
        class_keys = top[:k][np.asarray(present[::-1] if p.per_class_shuffle else present, dtype=bool)]
        subsets[k] = _subset(index, a, BenchmarkPoint(modality, "classes", k), scale, tr, va, te, class_keys)
    return subsets


def _samples(index: pd.DataFrame, a: _Arrays, modality: str, p: ModalityParams, scale: float):
    """paper-spec §2.3: fixed classes and val/test; nested train sets of N images per class."""
    threshold = p.samples_threshold if p.samples_threshold is not None else p.frequency_threshold
    rows, overall_keys, _ = _pool(a, threshold, p)
    train, val, test = _split_rows(a.patients, rows, p.split_seed)
    seed = p.split_seed + 1
    if p.samples_shuffle_train:
        train = _shuffled(train, seed)
        seed += 1
    if p.samples_top is not None:
        top = _ranked(a.keys[train])[0][: p.samples_top]
        if len(top) < p.samples_top:
            raise TooFewCombinations(
                f"{modality} samples benchmark needs {p.samples_top} combinations in train; this index has {len(top)}"
            )
    else:
        top = overall_keys
    if p.per_class_shuffle:
        order, seeds = top[::-1], list(range(len(top)))  # chest: least to most frequent, seeds 0, 1, ...
    else:
        order, seeds = top, None
    tr_groups = _groups(a, train, order, p.samples_pool, seeds)
    present = np.array([len(g) > 0 for g in tr_groups], dtype=bool)
    va = np.concatenate(
        [g for g, ok in zip(_groups(a, val, order, p.samples_val, seeds), present, strict=True) if ok]
    )
    te = np.concatenate(
        [g for g, ok in zip(_groups(a, test, order, p.samples_test, seeds), present, strict=True) if ok]
    )
    va, te = _shuffled(va, seed + 1), _shuffled(te, seed + 2)
    # One permutation of within-class positions, shared by every class and point: nested subsets.
    perm = np.random.RandomState(seed + 3).permutation(p.samples_pool)
    picks = [g[perm[perm < len(g)]] for g in tr_groups]
    class_keys = order[present]
    class_keys = class_keys[::-1] if p.per_class_shuffle else class_keys
    subsets = {}
    for j, (setting, n) in enumerate(zip(SETTINGS[modality, "samples"], p.samples_per_class, strict=True)):
        tr = _shuffled(np.concatenate([g[:n] for g in picks]), seed + 4 + j)
        subsets[setting] = _subset(
            index, a, BenchmarkPoint(modality, "samples", setting), scale, tr, va, te, class_keys
        )
    return subsets


_BUILDERS = {"resolution": _resolution, "classes": _classes, "samples": _samples}


# ---------------------------------------------------------------------------------------------
# Public API.


def build_benchmark(
    index: pd.DataFrame, modality: str, benchmark: str, scale: float = 1.0, train_scale: float = 1.0
) -> dict[int, Subset]:
    """Every point of one benchmark, keyed by its setting (see `SETTINGS`); the factors as in the module doc."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {BENCHMARKS}")
    if modality not in PAPER_PARAMS:
        raise ValueError(f"unknown modality {modality!r}; expected one of {MODALITIES}")
    p = PAPER_PARAMS[modality].scaled(scale, train_scale)
    return _BUILDERS[benchmark](index, _arrays(index, modality), modality, p, scale)


def build_point(index: pd.DataFrame, point: BenchmarkPoint, scale: float = 1.0, train_scale: float = 1.0) -> Subset:
    """The train/val/test subset of one benchmark point, built from a paper index."""
    subsets = build_benchmark(index, point.modality, point.benchmark, scale, train_scale)
    if point.benchmark == "resolution" and point.setting not in subsets:
        any_subset = next(iter(subsets.values()))  # every resolution shares one subset
        return dataclasses.replace(any_subset, point=point)
    return subsets[point.setting]


def patient_split(index: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Patient-level 80/10/10 split as the paper's (unique patients sorted, RandomState(seed) shuffle,
    cut at 80% and 90%); each part keeps the index's row order."""
    if "patient" not in index.columns:
        raise ValueError("index lacks the 'patient' column")
    parts = _split_rows(_patient_codes(index), np.arange(len(index)), seed)
    return tuple(index.iloc[rows] for rows in parts)


def combination_counts(index: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Label combinations ranked by count (the benchmarks' ranking): one row per combination with
    `combination` (its positive labels joined by " + "), `count`, `fraction` and the 0/1 labels."""
    y = _label_matrix(index, labels)
    keys, counts = _ranked(_combination_keys(y))
    shifts = np.arange(len(labels) - 1, -1, -1, dtype=np.int64)
    bits = ((keys[:, None] >> shifts[None, :]) & 1).astype(np.int8)
    table = pd.DataFrame(bits, columns=labels)
    table.insert(0, "fraction", counts / max(len(index), 1))
    table.insert(0, "count", counts)
    table.insert(0, "combination", [_combination_name(k, labels) for k in keys])
    return table


def benchmark_table(index: pd.DataFrame, modality: str, scale: float = 1.0, train_scale: float = 1.0) -> pd.DataFrame:
    """One row per benchmark point with its sizes (`Subset.sizes`) and the per-class numbers asked
    for. A benchmark the index cannot support (`TooFewCombinations`) gets rows with a `note`."""
    p = PAPER_PARAMS[modality].scaled(scale, train_scale)
    asked = {
        "resolution": dict.fromkeys(p.resolutions),
        "classes": dict(zip(p.classes, p.classes_train, strict=True)),
        "samples": dict(zip(SETTINGS[modality, "samples"], p.samples_per_class, strict=True)),
    }
    rows = []
    for benchmark in BENCHMARKS:
        try:
            subsets = build_benchmark(index, modality, benchmark, scale, train_scale)
        except TooFewCombinations as err:
            for setting in SETTINGS[modality, benchmark]:
                rows.append(
                    {"modality": modality, "benchmark": benchmark, "setting": setting, "note": str(err)}
                )
            continue
        for setting, subset in subsets.items():
            rows.append({**subset.sizes(), "train_per_class": asked[benchmark][setting], "note": ""})
    columns = [
        "modality",
        "benchmark",
        "setting",
        "n_classes",
        "n_labels",
        "train_per_class",
        "train",
        "val",
        "test",
        "note",
    ]
    table = pd.DataFrame(rows).reindex(columns=columns)
    return table.astype(
        {c: "Int64" for c in ["n_classes", "n_labels", "train_per_class", "train", "val", "test"]}
    )
