"""Statistics of a real-or-synthetic reader study, and a planner for how many reads one needs.

Input is a responses frame (`synthmed.reader.responses`: one row per read). A read is *correct*
when `answer == truth`; *positive* means synthetic, so sensitivity is the share of synthetic images
called synthetic and specificity the share of real images called real.

The paper's reader-study design, test and numbers are unknown (paper-spec §7: "a binomial test is
likely but unconfirmed"); the choices below are this project's and are stated where made:
- Tests reject, and TOST declares equivalence, when p < alpha (strictly); alpha defaults to 0.05.
  "Beats chance" (`chance_test`, `chance_tests`) is the binomial test's rejection with accuracy
  above 0.5, returned with the exact interval at the same alpha.
- The TOST margin defaults to 0.1 ("accuracy within 0.4-0.6 counts as chance"), a choice the
  user should make before looking at the data.
- The pooled interval is a cluster-robust (by reader) intercept-only logistic regression, CR1
  sandwich with t(n_readers - 1) quantiles on the logit scale, back-transformed.
- `reads_needed` returns, by default, the smallest n from which the exact power never falls
  below the target again (up to `n_max`); exact binomial power is saw-toothed in n.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

CHANCE = 0.5
DEFAULT_ALPHA = 0.05
DEFAULT_MARGIN = 0.1
CATEGORIES = ("real", "synthetic")  # column order of rating tables


# --- single proportions --------------------------------------------------------------------------


def clopper_pearson(k: int, n: int, alpha: float = DEFAULT_ALPHA) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided 1 - alpha interval for k successes in n trials."""
    _check_counts(k, n)
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def wilson(k: int, n: int, alpha: float = DEFAULT_ALPHA) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) for k successes in n trials."""
    _check_counts(k, n)
    z = float(stats.norm.ppf(1 - alpha / 2))
    centre = (k + z**2 / 2) / (n + z**2)
    half = z / (n + z**2) * np.sqrt(k * (n - k) / n + z**2 / 4)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def binomial_p_value(k: int, n: int, chance: float = CHANCE) -> float:
    """Exact two-sided binomial test of 'success probability == chance' (scipy's binomtest)."""
    _check_counts(k, n)
    return float(stats.binomtest(k, n, chance, alternative="two-sided").pvalue)


def tost_p_value(k: int, n: int, margin: float = DEFAULT_MARGIN, chance: float = CHANCE) -> float:
    """Exact TOST p-value for 'the success probability lies within chance ± margin'.

    Two one-sided exact binomial tests, H0: p <= chance - margin and H0: p >= chance + margin;
    the TOST p-value is the larger of the two. Small p = evidence the readers are at chance.
    """
    _check_counts(k, n)
    if not 0 < margin < min(chance, 1 - chance):
        raise ValueError(f"margin {margin} must lie in (0, {min(chance, 1 - chance)})")
    p_above_lower = stats.binomtest(k, n, chance - margin, alternative="greater").pvalue
    p_below_upper = stats.binomtest(k, n, chance + margin, alternative="less").pvalue
    return float(max(p_above_lower, p_below_upper))


@dataclass(frozen=True)
class ChanceTest:
    """Accuracy against chance at one level `alpha`: the decision and the interval it goes with.

    `low`/`high` are the Clopper-Pearson 1 - alpha interval, `p_value` the exact two-sided binomial
    test against 0.5. `beats_chance` is `p_value < alpha` with accuracy above 0.5; because the test
    against 0.5 is symmetric and the exact interval inverts it, that is the same as `low > 0.5`, so a
    reported interval never contradicts the reported decision.
    """

    n_correct: int
    n: int
    alpha: float
    accuracy: float
    low: float
    high: float
    p_value: float
    beats_chance: bool


def chance_test(n_correct: int, n: int, alpha: float = DEFAULT_ALPHA) -> ChanceTest:
    """Do `n_correct` correct answers in `n` beat chance (0.5) at level `alpha`? See `ChanceTest`."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must lie in (0, 1)")
    low, high = clopper_pearson(n_correct, n, alpha)
    p = binomial_p_value(n_correct, n)
    accuracy = n_correct / n
    return ChanceTest(int(n_correct), int(n), float(alpha), accuracy, low, high, p,
                      bool(p < alpha and accuracy > CHANCE))


def chance_tests(
    table: pd.DataFrame, alpha: float = DEFAULT_ALPHA, *, correct: str = "n_correct", reads: str = "n_reads"
) -> pd.DataFrame:
    """`chance_test` on every row of `table` (counts in columns `correct` and `reads`).

    Returns a frame with `table`'s index and columns accuracy, low, high (the 1 - alpha interval),
    p_vs_chance and beats_chance; `alpha` is in `attrs`. Works on `summarise`'s output as it is
    and on the machine reader's rows with `reads="n_test"`.
    """
    missing = [c for c in (correct, reads) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the count columns {missing}")
    tests = [chance_test(int(k), int(n), alpha) for k, n in zip(table[correct], table[reads], strict=True)]
    out = pd.DataFrame(
        {
            "accuracy": [t.accuracy for t in tests],
            "low": [t.low for t in tests],
            "high": [t.high for t in tests],
            "p_vs_chance": [t.p_value for t in tests],
            "beats_chance": np.array([t.beats_chance for t in tests], dtype=bool),
        },
        index=table.index,
    )
    out.attrs["alpha"] = alpha
    return out


def _check_counts(k: int, n: int) -> None:
    if not (n >= 1 and 0 <= k <= n):
        raise ValueError(f"need 0 <= k <= n and n >= 1; got k={k}, n={n}")


# --- agreement between readers ---------------------------------------------------------------------


def rating_table(responses: pd.DataFrame) -> pd.DataFrame:
    """Counts of answers per image, for the images that every reader in `responses` read.

    Returns a frame indexed by image_id (sorted) with int columns 'real' and 'synthetic' (each row
    sums to the number of readers): the input of Fleiss' kappa. Images some reader skipped are left out.
    """
    readers = responses["reader_id"].nunique()
    per_image = responses.groupby("image_id")["reader_id"].nunique()
    complete = per_image.index[per_image == readers]
    answers = responses[responses["image_id"].isin(complete)]
    table = pd.crosstab(answers["image_id"], answers["answer"]).reindex(columns=list(CATEGORIES), fill_value=0)
    table.columns.name = None
    return table.astype("int64")


def fleiss_kappa(table: np.ndarray | pd.DataFrame) -> float:
    """Fleiss' kappa (Fleiss 1971) from an (n_items, n_categories) table of rating counts.

    Every row must sum to the same number of raters m >= 2. Returns NaN when chance agreement is
    1 (all ratings in one category), where kappa is undefined.
    """
    counts = np.asarray(table, dtype=float)
    if counts.ndim != 2 or counts.shape[0] < 1 or counts.shape[1] < 2:
        raise ValueError(f"table must be (n_items >= 1, n_categories >= 2); got shape {counts.shape}")
    if (counts < 0).any():
        raise ValueError("table holds negative counts")
    raters = counts.sum(axis=1)
    if not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError(f"every item needs the same number (>= 2) of ratings; row sums are {np.unique(raters)}")
    m = raters[0]
    # Observed agreement: share of agreeing rater pairs per item, averaged over items.
    per_item = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    observed = per_item.mean()
    # Chance agreement from the pooled category shares.
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares**2).sum())
    if np.isclose(expected, 1.0):
        return float("nan")
    return float((observed - expected) / (1 - expected))


# --- pooled accuracy over readers ------------------------------------------------------------------


@dataclass(frozen=True)
class PooledAccuracy:
    """Accuracy over all reads with an interval that treats each reader's reads as a cluster.

    `low`/`high`: cluster-robust interval; `naive_low`/`naive_high`: the same model's interval
    treating reads as independent. Standard errors are on the logit scale.
    """

    accuracy: float
    low: float
    high: float
    naive_low: float
    naive_high: float
    se_logit: float
    naive_se_logit: float
    n_readers: int
    n_reads: int
    method: str


def pooled_accuracy(responses: pd.DataFrame, alpha: float = DEFAULT_ALPHA) -> PooledAccuracy:
    """Pooled accuracy with a cluster-robust (by reader) logistic-regression interval.

    An intercept-only logistic regression of `correct` (statsmodels GLM, Binomial) estimates the
    share of correct reads; its CR1 cluster-robust covariance (clusters = readers) accounts for
    readers differing in skill, and the interval uses t quantiles with n_readers - 1 degrees of
    freedom. Needs reads from at least 2 readers. When every read is correct or every read is
    wrong the logit is infinite: the intervals are then NaN and `method` says so.
    """
    correct = _correct(responses).to_numpy(dtype=float)
    groups = pd.factorize(responses["reader_id"])[0]
    n_readers = int(groups.max()) + 1 if len(groups) else 0
    if n_readers < 2:
        raise ValueError(f"pooled accuracy needs reads from at least 2 readers; got {n_readers}")
    accuracy = float(correct.mean())
    nan = float("nan")
    if accuracy in (0.0, 1.0):
        return PooledAccuracy(accuracy, nan, nan, nan, nan, nan, nan, n_readers, len(correct),
                              "undefined: every read has the same outcome, the logit is infinite")
    model = sm.GLM(correct, np.ones((len(correct), 1)), family=sm.families.Binomial())
    robust = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    naive = model.fit()
    logit = float(robust.params[0])
    se, naive_se = float(robust.bse[0]), float(naive.bse[0])
    t = float(stats.t.ppf(1 - alpha / 2, n_readers - 1))
    z = float(stats.norm.ppf(1 - alpha / 2))

    def expit(x: float) -> float:
        return float(1 / (1 + np.exp(-x)))

    return PooledAccuracy(
        accuracy=expit(logit),
        low=expit(logit - t * se),
        high=expit(logit + t * se),
        naive_low=expit(logit - z * naive_se),
        naive_high=expit(logit + z * naive_se),
        se_logit=se,
        naive_se_logit=naive_se,
        n_readers=n_readers,
        n_reads=len(correct),
        method="logistic regression, CR1 cluster-robust by reader, t(n_readers - 1)",
    )


# --- the summary table -----------------------------------------------------------------------------


def summarise(
    responses: pd.DataFrame,
    by: Sequence[str] = (),
    alpha: float = DEFAULT_ALPHA,
    margin: float = DEFAULT_MARGIN,
) -> pd.DataFrame:
    """One row per group of `by` (e.g. [], ["reader_id"], ["modality", "resolution"]), tidy.

    Columns, after the `by` columns:
      n_readers, n_reads, n_correct, accuracy; cp_low/cp_high (Clopper-Pearson), wilson_low/
      wilson_high; p_vs_chance (exact two-sided binomial test against 0.5); tost_p and at_chance
      (tost_p < alpha: accuracy within 0.5 ± margin); n_synthetic, sensitivity, sensitivity_low/
      _high; n_real, specificity, specificity_low/_high (Clopper-Pearson; NaN when the group has
      no image of that kind); fleiss_kappa and kappa_images (images read by every reader of the
      group; NaN for fewer than 2 readers); cluster_low/cluster_high (`pooled_accuracy`'s interval;
      NaN for fewer than 2 readers). Intervals are 1 - alpha; alpha and margin are in `attrs`.
    The binomial test, TOST and CP/Wilson intervals treat reads as independent; when a group pools
    several readers, the cluster interval is the one that allows for readers differing in skill.
    """
    by = list(by)
    unknown = [c for c in by if c not in responses.columns]
    if unknown:
        raise ValueError(f"cannot group by {unknown}: not columns of the responses")
    if responses.empty:
        raise ValueError("no reads to summarise")
    if by:
        groups = responses.groupby(by, sort=True, dropna=False)
        rows = [dict(zip(by, key, strict=True)) | _group_row(part, alpha, margin) for key, part in groups]
    else:
        rows = [_group_row(responses, alpha, margin)]
    table = pd.DataFrame(rows)
    table.attrs.update(alpha=alpha, margin=margin)
    return table


def _group_row(part: pd.DataFrame, alpha: float, margin: float) -> dict[str, object]:
    correct = _correct(part)
    n, k = len(part), int(correct.sum())
    nan = float("nan")
    row: dict[str, object] = {"n_readers": part["reader_id"].nunique(), "n_reads": n, "n_correct": k,
                              "accuracy": k / n}
    row["cp_low"], row["cp_high"] = clopper_pearson(k, n, alpha)
    row["wilson_low"], row["wilson_high"] = wilson(k, n, alpha)
    row["p_vs_chance"] = binomial_p_value(k, n)
    row["tost_p"] = tost_p_value(k, n, margin)
    row["at_chance"] = bool(row["tost_p"] < alpha)
    for truth, name in (("synthetic", "sensitivity"), ("real", "specificity")):
        hits = correct[part["truth"] == truth]
        row[f"n_{truth}"] = len(hits)
        if len(hits):
            row[name] = float(hits.mean())
            row[f"{name}_low"], row[f"{name}_high"] = clopper_pearson(int(hits.sum()), len(hits), alpha)
        else:
            row[name] = row[f"{name}_low"] = row[f"{name}_high"] = nan
    row["fleiss_kappa"], row["kappa_images"] = nan, 0
    row["cluster_low"] = row["cluster_high"] = nan
    if row["n_readers"] >= 2:
        table = rating_table(part)
        row["kappa_images"] = len(table)
        if len(table):
            row["fleiss_kappa"] = fleiss_kappa(table)
        pooled = pooled_accuracy(part, alpha)
        row["cluster_low"], row["cluster_high"] = pooled.low, pooled.high
    return row


def _correct(responses: pd.DataFrame) -> pd.Series:
    return responses["answer"] == responses["truth"]


# --- power and sample size -------------------------------------------------------------------------


def _lower_critical(n: np.ndarray, alpha: float) -> np.ndarray:
    """Largest k with two-sided exact p-value (2 * P(X <= k), X ~ Bin(n, 0.5)) < alpha; -1 if none.

    The test against 0.5 is symmetric, so it rejects for k <= c or k >= n - c.
    """
    c = np.asarray(stats.binom.ppf(alpha / 2, n, CHANCE), dtype=np.int64) - 1
    # ppf works in floating point: nudge c to the exact boundary.
    c = np.where((c + 1 < n / 2) & (2 * stats.binom.cdf(c + 1, n, CHANCE) < alpha), c + 1, c)
    c = np.where((c >= 0) & (2 * stats.binom.cdf(c, n, CHANCE) >= alpha), c - 1, c)
    return c


def power_of_test(n: int | np.ndarray, true_accuracy: float, alpha: float = DEFAULT_ALPHA) -> float | np.ndarray:
    """Exact power of the two-sided binomial test against 0.5 (reject when p < alpha) with n reads.

    `n` may be an int or an array of ints; returns a float or an array of the same shape.
    """
    _check_rates(true_accuracy, alpha)
    reads = np.asarray(n, dtype=np.int64)
    if (reads < 1).any():
        raise ValueError(f"number of reads must be >= 1; got {n}")
    c = _lower_critical(reads, alpha)
    power = stats.binom.cdf(c, reads, true_accuracy) + stats.binom.sf(reads - c - 1, reads, true_accuracy)
    power = np.where(c >= 0, power, 0.0)
    return float(power) if np.ndim(n) == 0 else power


def reads_needed(
    true_accuracy: float,
    alpha: float = DEFAULT_ALPHA,
    power: float = 0.8,
    stable: bool = True,
    n_max: int = 1_000_000,
) -> int:
    """Number of reads for the exact two-sided binomial test against 0.5 to reach `power`.

    Exact power is not monotone in n (the discrete rejection region jumps). With `stable=True`
    this returns the smallest n such that every n' from n up to (at least) twice the first n
    reaching the target has power >= target (beyond that the saw-tooth has flattened well above the target);
    with `stable=False`, simply the smallest n with power >= target (a slightly larger n may then
    fall short). Raises ValueError when n_max reads do not reach the target.
    """
    _check_rates(true_accuracy, alpha)
    if not 0 < power < 1:
        raise ValueError(f"power {power} must lie in (0, 1)")
    if true_accuracy == CHANCE:
        raise ValueError("true_accuracy 0.5 is the null hypothesis: no number of reads detects it")
    # Evaluate power on 1..size, doubling size until the target is reached (and, for `stable`,
    # until the grid covers twice the first n reaching it).
    size = 256
    while True:
        grid = np.arange(1, size + 1)
        enough = power_of_test(grid, true_accuracy, alpha) >= power
        first = int(grid[np.argmax(enough)]) if enough.any() else None
        if first is not None and (not stable or (size >= 2 * first and enough[-1])):
            break
        if size >= n_max:
            raise ValueError(f"{n_max} reads do not reach power {power} at accuracy {true_accuracy}")
        size = min(2 * size, n_max)
    if not stable:
        return first
    short = np.flatnonzero(~enough)
    return int(grid[short[-1] + 1]) if len(short) else 1


def _check_rates(true_accuracy: float, alpha: float) -> None:
    if not 0 <= true_accuracy <= 1:
        raise ValueError(f"true_accuracy {true_accuracy} must lie in [0, 1]")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha {alpha} must lie in (0, 1)")


# --- a simulated panel for demonstration -----------------------------------------------------------


def simulate_panel(
    n_readers: int,
    reads_per_reader: int,
    accuracies: float | Sequence[float],
    seed: int,
    modality: str = "chest",
    resolution: int = 32,
    generator: str = "prog-GAN",
) -> pd.DataFrame:
    """A SIMULATED responses frame, only to demonstrate the analysis; never data.

    Every reader reads the same `reads_per_reader` images (half synthetic, rounded down; the rest
    real), each correctly with probability `accuracies[reader]` (one float = all readers), whatever
    the truth. Confidence is uniform 1-5 and response time log-normal around 4 s, both unrelated
    to correctness. Rows carry `simulated=True` (a column, and `attrs["simulated"]`); reader and
    image ids start with 'sim-'. Image ids include modality and resolution, so panels simulated
    for several settings can be concatenated.
    """
    if n_readers < 1 or reads_per_reader < 1:
        raise ValueError(f"need n_readers >= 1 and reads_per_reader >= 1; got {n_readers}, {reads_per_reader}")
    rates = np.asarray(accuracies, dtype=float)
    if rates.ndim == 0:
        rates = np.full(n_readers, float(rates))
    if rates.shape != (n_readers,) or not ((rates >= 0) & (rates <= 1)).all():
        raise ValueError(f"accuracies must be one value or {n_readers} values in [0, 1]; got {accuracies}")
    rng = np.random.default_rng(seed)
    n_synthetic = reads_per_reader // 2
    truth = np.array(["synthetic"] * n_synthetic + ["real"] * (reads_per_reader - n_synthetic))
    truth = rng.permutation(truth)
    image_ids = np.array([f"sim-{modality}-{resolution}-{i:04d}" for i in range(reads_per_reader)])
    flipped = {"real": "synthetic", "synthetic": "real"}
    frames = []
    for reader, rate in enumerate(rates):
        order = rng.permutation(reads_per_reader)  # each reader sees the images in their own order
        correct = rng.random(reads_per_reader) < rate
        shown = truth[order]
        frames.append(pd.DataFrame({
            "reader_id": f"sim-reader-{reader + 1:02d}",
            "reader_experience": f"SIMULATED reader, accuracy {rate:.2f}",
            "image_id": image_ids[order],
            "modality": modality,
            "resolution": resolution,
            "generator": generator,
            "truth": shown,
            "answer": np.where(correct, shown, [flipped[t] for t in shown]),
            "confidence": rng.integers(1, 6, reads_per_reader),
            "response_time_s": np.round(rng.lognormal(np.log(4.0), 0.5, reads_per_reader), 2),
            "simulated": True,
        }))
    panel = pd.concat(frames, ignore_index=True)
    panel.attrs["simulated"] = True
    return panel



def simulate_panels(
    n_readers: int,
    reads_per_reader: int,
    accuracies: Sequence[float | Sequence[float]],  # one entry per resolution: `simulate_panel`'s accuracies
    resolutions: Sequence[int],
    modalities: Sequence[str],
    seed: int,
    generator: str = "prog-GAN",
) -> pd.DataFrame:
    """`simulate_panel` for every resolution and modality, concatenated: SIMULATED, never data.

    Panel (i-th resolution, j-th modality) is seeded with seed * 1000 + 10 * i + j, so each panel has
    its own draw and a chapter's `seed` changes all of them.
    """
    if len(accuracies) != len(resolutions):
        raise ValueError(f"accuracies has {len(accuracies)} rows for {len(resolutions)} resolutions")
    panels = [
        simulate_panel(n_readers, reads_per_reader, accuracies[i], seed=seed * 1000 + 10 * i + j, modality=modality,
                       resolution=resolution, generator=generator)
        for i, resolution in enumerate(resolutions)
        for j, modality in enumerate(modalities)
    ]
    return pd.concat(panels, ignore_index=True)
