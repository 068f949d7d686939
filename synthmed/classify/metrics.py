"""Test-set metrics for multi-label classifiers: ROC AUC, bootstrap CIs, DeLong, the utility gap.

Conventions for every function here:

- `y_true` is an (N, L) array of 0/1 ground truth (N test images, L labels); `scores` is an
  (N, L) array of finite classifier outputs (any monotone scale: probabilities, logits); `labels`
  names the L columns.
- The standard AUC is the Mann-Whitney statistic with ties counted as 1/2 (scikit-learn's
  `roc_auc_score`). A label with only one class in the test set has AUC NaN, and the **mean AUROC**
  is the mean over the labels present (both classes in the test set).
- The paper's variant (`paper_auc`) is reported beside the standard AUC, never instead of it.
- Bootstrap CIs resample test images (rows) with replacement, jointly for all labels and, for two
  classifiers, jointly for both (a paired bootstrap). They are percentile intervals.
- The DeLong test for the mean AUC over labels uses a DeLong covariance of the average (see
  `delong_covariance`), not a bootstrap; the bootstrap gives the CI of the utility gap.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

# Row name of the mean over labels in the tables below; no label may use it.
MEAN_ROW = "mean"

# paper-spec §4 "Metric": the Keras evaluation used only floor(N/50)*50 test samples (whole batches
# of 50), dropping the remainder.
PAPER_TEST_MULTIPLE = 50

# Bootstrap replicates are drawn in chunks of about this many (replicate, image) cells so memory
# stays near 10 MB per working array whatever N and n_boot are.
_CHUNK_CELLS = 1 << 20

SeedLike = int | np.random.Generator


# ---------------------------------------------------------------------------------------------
# Input checks


def _check_labels(labels: Sequence[str], n_columns: int) -> list[str]:
    names = [str(name) for name in labels]
    if len(names) != n_columns:
        raise ValueError(f"labels: expected {n_columns} names (one per column), got {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError(f"labels: expected unique names, got {names}")
    if MEAN_ROW in names:
        raise ValueError(f"labels: {MEAN_ROW!r} is reserved for the mean row")
    return names


def _check_truth(y_true: np.ndarray, labels: Sequence[str] | None = None) -> np.ndarray:
    """(N, L) 0/1 array -> bool array; names the first row and label that is not 0 or 1."""
    y = np.asarray(y_true)
    if y.ndim != 2:
        raise ValueError(f"y_true: expected a 2-D array (N images, L labels), got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError("y_true: expected at least one test image, got 0 rows")
    if y.dtype == bool:
        return y
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        name = labels[col] if labels is not None else col
        raise ValueError(f"y_true row {row}, label {name!r}: expected 0 or 1, got {y[row, col]!r}")
    return y.astype(bool)


def _check_scores(scores: np.ndarray, shape: tuple[int, int], what: str, labels: Sequence[str]) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != shape:
        raise ValueError(f"{what}: expected shape {shape} like y_true, got {s.shape}")
    bad = ~np.isfinite(s)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{what} row {row}, label {labels[col]!r}: expected a finite number, got {s[row, col]}")
    return s


def _check_inputs(
    y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str], what: str = "scores"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    y = np.asarray(y_true)
    if y.ndim != 2:
        raise ValueError(f"y_true: expected a 2-D array (N images, L labels), got shape {y.shape}")
    names = _check_labels(labels, y.shape[1])
    y = _check_truth(y, names)
    return y, _check_scores(scores, y.shape, what, names), names


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_ci(ci: float) -> float:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci: expected a confidence level strictly between 0 and 1, got {ci}")
    return float(ci)


# ---------------------------------------------------------------------------------------------
# Standard AUC


def _auc_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Column-wise Mann-Whitney AUC of bool (N, L) truth and (N, L) scores -> (L,), NaN for one class."""
    n_pos = y.sum(axis=0).astype(np.float64)
    n_neg = y.shape[0] - n_pos
    ranks = rankdata(s, axis=0)  # midranks, so ties count 1/2
    rank_sum = np.where(y, ranks, 0.0).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def per_label_auc(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """Standard ROC AUC per label, indexed by label; NaN where the test set holds one class only."""
    y, s, names = _check_inputs(y_true, scores, labels)
    return pd.Series(_auc_columns(y, s), index=pd.Index(names, name="label"), name="auc")


def mean_auc(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> float:
    """Mean AUROC over the labels present (both classes in the test set); NaN if none is."""
    aucs = per_label_auc(y_true, scores, labels).to_numpy()
    present = ~np.isnan(aucs)
    return float(aucs[present].mean()) if present.any() else math.nan


# ---------------------------------------------------------------------------------------------
# The paper's variant


def paper_test_size(n: int) -> int:
    """Test images the paper's evaluation used out of n: floor(n/50)*50 (paper-spec §4 "Metric")."""
    return (int(n) // PAPER_TEST_MULTIPLE) * PAPER_TEST_MULTIPLE


def paper_per_label_auc(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """The paper's per-label AUC (paper-spec §4 "Metric"): non-standard, report it beside `per_label_auc`.

    Only the first floor(N/50)*50 test rows are used (the Keras code evaluated whole batches of 50);
    an AUC below 0.5 is replaced by 1 - AUC; a label with one class in those rows is NaN (skipped:
    the scikit-learn of 2020 raised ValueError there, newer versions warn and return NaN).
    """
    y, s, names = _check_inputs(y_true, scores, labels)
    n_used = paper_test_size(y.shape[0])
    auc = _auc_columns(y[:n_used], s[:n_used]) if n_used else np.full(len(names), np.nan)
    flipped = np.where(auc < 0.5, 1.0 - auc, auc)  # NaN stays NaN
    return pd.Series(flipped, index=pd.Index(names, name="label"), name="auc_paper")


def paper_auc(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> float:
    """The paper's reported figure: mean of `paper_per_label_auc` over labels not skipped; NaN if none."""
    aucs = paper_per_label_auc(y_true, scores, labels).to_numpy()
    kept = ~np.isnan(aucs)
    return float(aucs[kept].mean()) if kept.any() else math.nan


# ---------------------------------------------------------------------------------------------
# Bootstrap


def _index_chunks(n: int, n_boot: int, seed: SeedLike) -> Iterator[np.ndarray]:
    """Bootstrap row indices, (b, n) int arrays in chunks that together give n_boot replicates."""
    if n_boot < 1:
        raise ValueError(f"n_boot: expected at least 1 bootstrap replicate, got {n_boot}")
    rng = _rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, n_boot - start), n))


def bootstrap_indices(n: int, n_boot: int, seed: SeedLike) -> np.ndarray:
    """The (n_boot, n) resampled row indices that the bootstrap functions here use for this seed."""
    return np.concatenate(list(_index_chunks(n, n_boot, seed)), axis=0)


class _SortedLabel:
    """One label's test set sorted by score once, so each replicate is a weighted count, not a sort."""

    def __init__(self, y: np.ndarray, s: np.ndarray) -> None:
        positives, negatives = np.flatnonzero(y), np.flatnonzero(~y)
        # Both classes in score order: the gathers below then read memory almost in sequence.
        self.positives = positives[np.argsort(s[positives], kind="stable")]
        self.negatives = negatives[np.argsort(s[negatives], kind="stable")]
        negative_scores = s[self.negatives]
        # For each positive: negatives scored strictly below it, and at or below it (ties).
        self.below = np.searchsorted(negative_scores, s[self.positives], side="left")
        self.at_or_below = np.searchsorted(negative_scores, s[self.positives], side="right")
        self.has_ties = bool((self.below != self.at_or_below).any())

    def auc(self, counts: np.ndarray) -> np.ndarray:
        """AUC of each replicate, given (b, N) int multiplicities of the original rows -> (b,).

        Integer arithmetic throughout, so a replicate equals scikit-learn on the resampled rows.
        """
        b = counts.shape[0]
        if len(self.positives) == 0 or len(self.negatives) == 0:
            return np.full(b, np.nan)
        # Running count of resampled negatives in score order, with a leading 0.
        negatives_upto = np.zeros((b, len(self.negatives) + 1), dtype=counts.dtype)
        np.cumsum(counts[:, self.negatives], axis=1, out=negatives_upto[:, 1:])
        positive_weights = counts[:, self.positives]
        # Each positive beats the negatives strictly below it and half those tied with it: twice the
        # wins is (below + at_or_below) per positive copy.
        if self.has_ties:
            beaten_twice = negatives_upto[:, self.below] + negatives_upto[:, self.at_or_below]
        else:
            beaten_twice = 2 * negatives_upto[:, self.below]
        wins_twice = (positive_weights * beaten_twice).sum(axis=1)
        pairs = positive_weights.sum(axis=1) * negatives_upto[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pairs > 0, wins_twice / (2.0 * pairs), np.nan)


def _bootstrap_replicates(y: np.ndarray, score_sets: Sequence[np.ndarray], n_boot: int, seed: SeedLike) -> np.ndarray:
    """AUC replicates (K, n_boot, L) for K checked score sets, all resampled with the same rows."""
    n, n_labels = y.shape
    sorted_sets = [[_SortedLabel(y[:, j], s[:, j]) for j in range(n_labels)] for s in score_sets]
    out = np.empty((len(score_sets), n_boot, n_labels))
    done = 0
    for idx in _index_chunks(n, n_boot, seed):
        b = idx.shape[0]
        # Multiplicity of each original row in each replicate: one bincount for the whole chunk.
        flat = (idx + (np.arange(b) * n)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * n).reshape(b, n)
        for k, labels_sorted in enumerate(sorted_sets):
            for j, sorted_label in enumerate(labels_sorted):
                out[k, done : done + b, j] = sorted_label.auc(counts)
        done += b
    return out


def bootstrap_auc_replicates(
    y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str], *, n_boot: int, seed: SeedLike
) -> np.ndarray:
    """(n_boot, L) per-label AUCs of test sets resampled by `bootstrap_indices(N, n_boot, seed)`.

    A replicate that draws only one class for a label has NaN there.
    """
    y, s, _ = _check_inputs(y_true, scores, labels)
    return _bootstrap_replicates(y, [s], n_boot, seed)[0]


def _replicate_means(replicates: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean over the labels present in the full test set, per replicate (..., B, L) -> (..., B).

    A replicate that lost every positive of a label averages over the labels it still has.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicate -> NaN, no warning
        return np.nanmean(replicates[..., present], axis=-1)


def _percentile_ci(replicates: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0, ignoring NaN replicates."""
    tail = 100 * (1 - ci) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(replicates, [tail, 100 - tail], axis=0)
    return low, high


def _nan_std(replicates: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(replicates, axis=0, ddof=1)


def bootstrap_auc(
    y_true: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    seed: SeedLike,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Per-label and mean AUC with percentile bootstrap CIs (test images resampled, all labels together).

    Returns a frame indexed by label plus a final `MEAN_ROW`, columns: auc (on the full test set),
    ci_low, ci_high, se_boot (SD of the replicates) and n_boot_valid (replicates in which the AUC
    was defined; a rare label loses some).
    """
    ci = _check_ci(ci)
    y, s, names = _check_inputs(y_true, scores, labels)
    full = _auc_columns(y, s)
    present = ~np.isnan(full)
    replicates = _bootstrap_replicates(y, [s], n_boot, seed)[0]
    replicates = np.concatenate([replicates, _replicate_means(replicates, present)[:, None]], axis=1)
    low, high = _percentile_ci(replicates, ci)
    mean = full[present].mean() if present.any() else np.nan
    return pd.DataFrame(
        {
            "auc": np.r_[full, mean],
            "ci_low": low,
            "ci_high": high,
            "se_boot": _nan_std(replicates),
            "n_boot_valid": (~np.isnan(replicates)).sum(axis=0),
        },
        index=pd.Index([*names, MEAN_ROW], name="label"),
    )


# ---------------------------------------------------------------------------------------------
# DeLong


def _delong_components(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One label: AUCs (K,) and per-image influence terms (K, N) for K classifiers' scores (K, N).

    Sun & Xu's (2014) O(N log N) midrank form of DeLong's structural components: V10 (each
    positive: share of negatives scored below it, ties 1/2) and V01 (each negative: share of
    positives scored above it). The terms are scaled so that, summed over images,
    psi_a . psi_b = S10_ab / m + S01_ab / n, DeLong's covariance of AUC_a and AUC_b.
    With one positive (or negative) that side's variance cannot be estimated and counts as 0.
    """
    pos = y
    m, n = int(pos.sum()), int((~pos).sum())
    k = s.shape[0]
    if m == 0 or n == 0:
        return np.full(k, np.nan), np.zeros((k, s.shape[1]))
    rank_all = rankdata(s, axis=1)
    v10 = (rank_all[:, pos] - rankdata(s[:, pos], axis=1)) / n
    v01 = 1.0 - (rank_all[:, ~pos] - rankdata(s[:, ~pos], axis=1)) / m
    auc = v10.mean(axis=1)
    psi = np.empty_like(s)
    psi[:, pos] = (v10 - auc[:, None]) / math.sqrt(m * max(m - 1, 1))
    psi[:, ~pos] = (v01 - auc[:, None]) / math.sqrt(n * max(n - 1, 1))
    return auc, psi


def delong_covariance(
    y_true: np.ndarray, score_sets: Sequence[np.ndarray], labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (K, L) and their DeLong covariance (K, L, K, L) for K classifiers on one test set.

    Within one label this is DeLong, DeLong & Clarke-Pearson's (1988) paired covariance. Across
    labels it extends DeLong's estimator in the same way: each test image contributes one
    influence term per (classifier, label), and the covariance is the sum over images of their
    products, so labels are correlated through the images they share. The variance of any linear
    combination of AUCs (a mean over labels, a difference of means) is then c' C c. Labels with one
    class have NaN AUCs and NaN covariance rows.
    """
    if len(score_sets) == 0:
        raise ValueError("score_sets: expected at least one (N, L) score array")
    y = np.asarray(y_true)
    if y.ndim != 2:
        raise ValueError(f"y_true: expected a 2-D array (N images, L labels), got shape {y.shape}")
    names = _check_labels(labels, y.shape[1])
    y = _check_truth(y, names)
    sets = np.stack([_check_scores(s, y.shape, f"score_sets[{k}]", names) for k, s in enumerate(score_sets)])
    k_sets, (n, n_labels) = len(score_sets), y.shape
    aucs = np.empty((k_sets, n_labels))
    psi = np.empty((k_sets, n_labels, n))
    for j in range(n_labels):
        aucs[:, j], psi[:, j] = _delong_components(y[:, j], sets[:, :, j])
    flat = psi.reshape(k_sets * n_labels, n)
    cov = (flat @ flat.T).reshape(k_sets, n_labels, k_sets, n_labels)
    absent = np.isnan(aucs[0])
    cov[:, absent] = np.nan
    cov[:, :, :, absent] = np.nan
    return aucs, cov


def _z_and_p(diff: float, se: float) -> tuple[float, float]:
    """Two-sided normal test of diff / se; identical classifiers (diff = se = 0) give z 0, p 1."""
    if np.isnan(diff) or np.isnan(se):
        return math.nan, math.nan
    if se == 0:
        return (0.0, 1.0) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    z = diff / se
    return z, float(2 * norm.sf(abs(z)))


# DeLong's variance estimates each class's spread from its own images: one image gives none, and the
# test would then read a zero variance as certainty (p = 0).
DELONG_MIN_PER_CLASS = 2


def delong_test(y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """Paired DeLong test of AUC(a) - AUC(b) on the same test set, per label and for the mean.

    Returns a frame indexed by label plus `MEAN_ROW`, columns auc_a, auc_b, diff (a - b), se, z,
    p (two-sided) and reason ("" when the test is defined). The mean row compares the mean AUROCs
    over the labels present, with the DeLong covariance of the average from `delong_covariance`
    (not a bootstrap). A label with fewer than `DELONG_MIN_PER_CLASS` positive or negative test
    images has NaN se, z and p and says so in `reason`; so does the mean row when it averages such a label.
    """
    aucs, cov = delong_covariance(y_true, [scores_a, scores_b], labels)
    names = list(labels)
    y = _check_truth(y_true, names)
    n_pos = y.sum(axis=0)
    n_neg = len(y) - n_pos
    present = ~np.isnan(aucs[0])
    reasons = []
    for j, name in enumerate(names):
        if not present[j]:
            reasons.append(f"{name}: the test set has only {'positive' if n_neg[j] == 0 else 'negative'} images")
        elif min(n_pos[j], n_neg[j]) < DELONG_MIN_PER_CLASS:
            reasons.append(
                f"{name}: {n_pos[j]} positive and {n_neg[j]} negative test images; DeLong's variance needs "
                f"at least {DELONG_MIN_PER_CLASS} of each"
            )
        else:
            reasons.append("")
    rows = []
    for j in range(len(names)):
        diff = aucs[0, j] - aucs[1, j]
        var = cov[0, j, 0, j] + cov[1, j, 1, j] - 2 * cov[0, j, 1, j]
        rows.append((aucs[0, j], aucs[1, j], diff, math.nan if reasons[j] else var))
    thin = [names[j] for j in np.flatnonzero(present) if reasons[j]]
    if present.any():
        weights = np.zeros((2, len(names)))
        weights[0, present] = 1 / present.sum()
        weights[1, present] = -1 / present.sum()
        c = weights.ravel()
        sub = np.nan_to_num(cov.reshape(2 * len(names), 2 * len(names)))  # absent labels weigh 0
        mean_a, mean_b = aucs[0, present].mean(), aucs[1, present].mean()
        rows.append((mean_a, mean_b, mean_a - mean_b, math.nan if thin else float(c @ sub @ c)))
        reasons.append(
            f"the mean includes labels with fewer than {DELONG_MIN_PER_CLASS} positive or negative test "
            f"images: {', '.join(thin)}"
            if thin
            else ""
        )
    else:
        rows.append((math.nan, math.nan, math.nan, math.nan))
        reasons.append("no label has both positive and negative test images")
    table = []
    for (auc_a, auc_b, diff, var), reason in zip(rows, reasons, strict=True):
        se = math.sqrt(max(var, 0.0)) if not np.isnan(var) else math.nan  # rounding can give -1e-18
        z, p = _z_and_p(diff, se)
        table.append({"auc_a": auc_a, "auc_b": auc_b, "diff": diff, "se": se, "z": z, "p": p, "reason": reason})
    return pd.DataFrame(table, index=pd.Index([*names, MEAN_ROW], name="label"))


# ---------------------------------------------------------------------------------------------
# Utility gap and the table the experiments layer stores


def utility_gap(
    y_true: np.ndarray,
    scores_real: np.ndarray,
    scores_synthetic: np.ndarray,
    labels: Sequence[str],
    *,
    seed: SeedLike,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> dict[str, float]:
    """Utility gap = mean AUROC(real-trained) - mean AUROC(synthetic-trained) on one real test set.

    paper-spec §4 "Utility gap": the paper's exact formula was not found; this is its natural
    reading. Both means are over the labels present in the test set. The CI is a paired percentile
    bootstrap (each replicate resamples the test images once and scores both classifiers on it);
    the p-value is the paired DeLong test of the mean (`delong_test`). The gap of the paper's AUC
    variant is reported beside it (`gap_paper`), without a CI.

    Returns a flat dict of floats: mean_auc_real, mean_auc_synthetic, gap, gap_ci_low, gap_ci_high,
    gap_se_boot, delong_se, delong_z, delong_p, auc_paper_real, auc_paper_synthetic, gap_paper,
    n_test, n_test_paper, n_labels, n_boot, ci; and delong_reason, the text saying why delong_p is
    NaN ("" when it is not).
    """
    ci = _check_ci(ci)
    y, real, names = _check_inputs(y_true, scores_real, labels, what="scores_real")
    synthetic = _check_scores(scores_synthetic, y.shape, "scores_synthetic", names)
    present = ~np.isnan(_auc_columns(y, real))
    replicates = _bootstrap_replicates(y, [real, synthetic], n_boot, seed)
    means = _replicate_means(replicates, present)  # (2, n_boot)
    gaps = means[0] - means[1]
    low, high = _percentile_ci(gaps, ci)
    delong = delong_test(y, real, synthetic, names).loc[MEAN_ROW]
    paper_real, paper_synthetic = paper_auc(y, real, names), paper_auc(y, synthetic, names)
    return {
        "mean_auc_real": float(delong["auc_a"]),
        "mean_auc_synthetic": float(delong["auc_b"]),
        "gap": float(delong["diff"]),
        "gap_ci_low": float(low),
        "gap_ci_high": float(high),
        "gap_se_boot": float(_nan_std(gaps)),
        "delong_se": float(delong["se"]),
        "delong_z": float(delong["z"]),
        "delong_p": float(delong["p"]),
        "delong_reason": str(delong["reason"]),
        "auc_paper_real": paper_real,
        "auc_paper_synthetic": paper_synthetic,
        "gap_paper": paper_real - paper_synthetic,
        "n_test": float(y.shape[0]),
        "n_test_paper": float(paper_test_size(y.shape[0])),
        "n_labels": float(present.sum()),
        "n_boot": float(n_boot),
        "ci": ci,
    }


def evaluate(
    y_true: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    seed: SeedLike,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> pd.DataFrame:
    """One classifier on one test set, as a tidy table: one row per label, then `MEAN_ROW`.

    Columns: label, n_pos, n_neg (test images with / without the finding; <NA> on the mean row),
    auc (standard), ci_low, ci_high, se_boot (bootstrap, see `bootstrap_auc`; NaN when n_boot is 0),
    auc_paper (the paper's variant, see `paper_per_label_auc`) and n_test, n_test_paper (test images
    each AUC used).
    """
    y, s, names = _check_inputs(y_true, scores, labels)
    if n_boot < 0:
        raise ValueError(f"n_boot: expected 0 (no bootstrap) or more replicates, got {n_boot}")
    if n_boot > 0:
        table = bootstrap_auc(y, s, names, seed=seed, n_boot=n_boot, ci=ci)
    else:
        full = per_label_auc(y, s, names)
        present = full.notna()
        mean = full[present].mean() if present.any() else np.nan
        table = pd.DataFrame({"auc": [*full, mean]}, index=pd.Index([*names, MEAN_ROW], name="label")).assign(
            ci_low=np.nan, ci_high=np.nan, se_boot=np.nan
        )
    n_pos = y.sum(axis=0)
    out = pd.DataFrame(
        {
            "label": [*names, MEAN_ROW],
            "n_pos": pd.array([*n_pos, None], dtype="Int64"),
            "n_neg": pd.array([*(y.shape[0] - n_pos), None], dtype="Int64"),
            "auc": table["auc"].to_numpy(),
            "ci_low": table["ci_low"].to_numpy(),
            "ci_high": table["ci_high"].to_numpy(),
            "se_boot": table["se_boot"].to_numpy(),
            "auc_paper": [*paper_per_label_auc(y, s, names), paper_auc(y, s, names)],
            "n_test": y.shape[0],
            "n_test_paper": paper_test_size(y.shape[0]),
        }
    )
    return out


def paper_variant_steps(y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """The standard AUC turned into the paper's variant one step at a time, per label and for the mean.

    Columns: auc (standard, all N test images), auc_truncated (only the first floor(N/50)*50 rows,
    no flip), auc_flipped (all rows, AUC below 0.5 replaced by 1 - AUC) and auc_paper (both, as
    `paper_per_label_auc`). Indexed by label plus `MEAN_ROW`, the mean of each column over its
    labels that are not NaN (as `mean_auc` and `paper_auc` average). Shows which of the two quirks
    moves a result.
    """
    y, s, names = _check_inputs(y_true, scores, labels)
    n_used = paper_test_size(y.shape[0])
    standard = _auc_columns(y, s)
    truncated = _auc_columns(y[:n_used], s[:n_used]) if n_used else np.full(len(names), np.nan)
    table = pd.DataFrame(
        {
            "auc": standard,
            "auc_truncated": truncated,
            "auc_flipped": np.where(standard < 0.5, 1.0 - standard, standard),
            "auc_paper": paper_per_label_auc(y, s, names).to_numpy(),
        },
        index=pd.Index(names, name="label"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column has a NaN mean
        means = table.mean(axis=0, skipna=True)
    table.loc[MEAN_ROW] = means
    return table
