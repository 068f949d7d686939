"""The paper's benchmark claims as tests on a results table, each returning a `Verdict`.

A results table has one row per run (`synthmed.experiments.RESULT_COLUMNS`; the paper's own values
in that shape come from `synthmed.paper_results.paper_as_results`). Every claim first averages over
seeds, per (modality, benchmark, setting, generator), and then compares those means:

- T1: cpD-GAN's synthetic-trained AUROC is above prog-GAN's at most points: at more than half of
  the (modality, setting) points that have both generators.
- T2 (classes benchmark): the utility gap (real minus synthetic mean AUROC) at the fewest label
  combinations is smaller than at the most.
- T3 (samples benchmark): as samples per class fall, the synthetic AUROC falls earlier or faster
  than the real one. With the settings in descending order s_0 > ... > s_(n-1) and the middle one
  s_m, m = n // 2: *earlier* means the synthetic AUROC loses more than the real one from s_0 to s_m
  (the upper half of the range, where the paper sees synthetic curves bend first); *faster* means
  it loses more over the whole range, s_0 to s_(n-1). The claim holds when either does. (The drop
  over the whole range alone would not do: in the paper's own figures the real AUROC collapses at
  the smallest settings and the gap narrows again, paper-spec §6 trend 3.)
- T4 (resolution benchmark): the gap at the highest resolution is not larger than at the lowest.
- T6 (this book's question, not the paper's): the diffusion model's synthetic-trained AUROC is not
  below cpD-GAN's at most points: at more than half of the points that have both.
- T7 (this book's question): across the points of every benchmark (seed means per benchmark, setting and
  generator, per modality), a lower Fréchet distance of the synthetic set (`fd_synthetic`, the fidelity
  panel's) goes with a smaller utility gap: Spearman's rho of distance and gap above 0, with its bootstrap
  interval across points above 0.
- T8 (this book's question): the more useful synthetic sets leak more: the membership attack's AUROC
  (`mia_auc`) rises as the gap falls, Spearman's rho of attack AUROC and gap below 0 with its interval below 0.

A claim holds or not on the point estimates (seed means). Where bootstrap intervals of the two
compared gaps are in the table, `numbers["resolved"]` says whether they are disjoint, i.e. whether
the ordering is outside the test-set noise. A table without what a claim needs gives an undecided
verdict (`decided` False, `holds` False).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from synthmed import generators as registry
from synthmed import profiles
from synthmed.aggregate import mean_over_seeds

T1_PAIR = ("cpD-GAN", "prog-GAN")  # the paper's T1 compares its two GANs, whatever else is registered
T6_PAIR = ("DDIM", "cpD-GAN")  # the diffusion model against the paper's better GAN
PAIRS = {"T1": T1_PAIR, "T6": T6_PAIR}  # the claims that compare two generators point by point

# The paper's statements, with where they come from.
STATEMENTS = {
    "T1": "cpD-GAN's synthetic data trains better classifiers than prog-GAN's: its AUROC is higher at most "
    "benchmark points (the teaser figure of the paper's repository: at every point)",
    "T2": "Fewer label combinations shrink the utility gap: the gap at the fewest combinations is smaller than "
    "at the most (the npj abstract: synthetic data performance 'disproportionately benefits from a reduced "
    "number of classes')",
    "T3": "As samples per class fall, synthetic AUROC falls earlier or faster than real AUROC (the npj abstract: "
    "'at low numbers of samples per class, label overfitting effects start to dominate GAN training')",
    "T4": "The gap at the highest resolution is not larger than at the lowest (the arXiv v1 abstract: synthetic "
    "data generation 'can benefit from higher levels of spatial resolution')",
    "T6": "Not the paper's claim but this book's question: the diffusion model's synthetic data trains classifiers "
    "at least as good as cpD-GAN's, its AUROC not below cpD-GAN's at most points (Müller-Franzes et al. 2023 "
    "found diffusion samples ahead of GANs on CheXpert in precision and recall)",
    "T7": "Not the paper's claim but this book's question: a lower Fréchet distance goes with a smaller utility gap "
    "across benchmark points (Spearman's rho of the synthetic set's Fréchet distance and the gap above 0, its "
    "bootstrap interval across points above 0); the paper stopped its GANs on FID but never related FID to the gap",
    "T8": "Not the paper's claim but this book's question: the more useful synthetic sets leak more, a membership-"
    "inference attack's AUROC rising as the utility gap falls (Spearman's rho of attack AUROC and gap below 0, its "
    "bootstrap interval across points below 0); the paper looked for memorised images by eye only",
}
BENCHMARK_CLAIM = {"classes": "T2", "samples": "T3", "resolution": "T4"}
BOOK_CLAIMS = frozenset({"T6", "T7", "T8"})  # this book's questions, not the paper's claims


@dataclass(frozen=True)
class Verdict:
    """One claim checked on one table: whether it holds, the numbers behind it, and a sentence."""

    claim: str  # "T1" ... "T4"
    scope: str  # what it was checked on, e.g. "chest classes, cpD-GAN"
    statement: str  # the paper's claim (`STATEMENTS`)
    holds: bool
    numbers: dict = field(default_factory=dict)  # the values compared, and more context
    text: str = ""  # one sentence stating the numbers
    decided: bool = True  # False when the table lacks what the claim needs

    @property
    def status(self) -> str:
        if not self.decided:
            return "undecided"
        return "holds" if self.holds else "does not hold"


# ---------------------------------------------------------------------------------------------
# Seed means.


def seed_means(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (modality, benchmark, setting, generator) of the AUROCs, the gap and
    (where present) their bootstrap bounds; adds gap_sd (SD across seeds, NaN for one) and n_seeds.
    The rule (NaN left out) is `synthmed.aggregate.mean_over_seeds`, shared with `plots.curve_table`."""
    required = ["modality", "setting", "generator", "auc_real", "auc_synthetic", "gap"]
    missing = [c for c in required if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}; expected at least {required}")
    keys = [c for c in ("modality", "benchmark", "setting", "generator") if c in results.columns]
    values = [
        c
        for c in (
            "auc_real",
            "auc_real_low",
            "auc_real_high",
            "auc_synthetic",
            "auc_synthetic_low",
            "auc_synthetic_high",
            "gap",
            "gap_low",
            "gap_high",
        )
        if c in results.columns
    ]
    return mean_over_seeds(results, keys, values, {"gap": "gap_sd"})


def _subset(means: pd.DataFrame, modality: str | None, benchmark: str | None, generator: str | None) -> pd.DataFrame:
    keep = pd.Series(True, index=means.index)
    if modality is not None:
        keep &= means["modality"] == modality
    if benchmark is not None and "benchmark" in means.columns:
        keep &= means["benchmark"] == benchmark
    if generator is not None:
        keep &= means["generator"] == generator
    return means[keep]


def _scope(*parts: str | None) -> str:
    head = " ".join(p for p in parts[:2] if p)
    tail = ", ".join(p for p in parts[2:] if p)
    return ", ".join(p for p in (head, tail) if p) or "all points"


def _undecided(claim: str, scope: str, reason: str, **numbers) -> Verdict:
    return Verdict(claim, scope, STATEMENTS[claim], False, numbers, f"Cannot be decided: {reason}.", decided=False)


def _finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _interval(row: pd.Series) -> tuple[float, float] | None:
    if "gap_low" in row and "gap_high" in row and _finite(row["gap_low"], row["gap_high"]):
        return float(row["gap_low"]), float(row["gap_high"])
    return None


def _gap_comparison(
    claim: str,
    results: pd.DataFrame,
    modality: str | None,
    generator: str,
    benchmark: str,
    smaller_at: str,
    strict: bool,
    what: str,
) -> Verdict:
    """The gap at the lowest vs the highest setting of one benchmark; `smaller_at` the end that should win."""
    scope = _scope(modality, benchmark, generator)
    means = _subset(seed_means(results), modality, benchmark, generator).dropna(subset=["gap"])
    if means["setting"].nunique() < 2:
        return _undecided(
            claim, scope, f"it needs the gap at two or more {what} settings, the table has {means['setting'].nunique()}"
        )
    by_setting = means.set_index("setting").sort_index()
    low, high = by_setting.iloc[0], by_setting.iloc[-1]
    gap_low, gap_high = float(low["gap"]), float(high["gap"])
    first, second = (gap_low, gap_high) if smaller_at == "low" else (gap_high, gap_low)
    holds = first < second if strict else first <= second
    numbers = {
        "setting_low": int(by_setting.index[0]),
        "setting_high": int(by_setting.index[-1]),
        "gap_low": gap_low,
        "gap_high": gap_high,
        "difference": gap_high - gap_low,
        "n_seeds": int(min(low["n_seeds"], high["n_seeds"])),
    }
    intervals = _interval(low), _interval(high)
    if intervals[0] is not None and intervals[1] is not None:
        (a_lo, a_hi), (b_lo, b_hi) = intervals
        numbers.update(gap_low_ci=(a_lo, a_hi), gap_high_ci=(b_lo, b_hi), resolved=bool(a_hi < b_lo or b_hi < a_lo))
    return Verdict(
        claim, scope, STATEMENTS[claim], bool(holds), numbers, decided=True, text=_gap_text(numbers, what, holds)
    )


def _gap_text(n: dict, what: str, holds: bool) -> str:
    relation = (
        "smaller than"
        if n["gap_low"] < n["gap_high"]
        else ("equal to" if n["gap_low"] == n["gap_high"] else "larger than")
    )
    text = (
        f"The gap at {n['setting_low']} {what} is {n['gap_low']:+.3f}, {relation} the gap at "
        f"{n['setting_high']} {what}, {n['gap_high']:+.3f} (difference {n['difference']:+.3f}"
    )
    if "resolved" in n:
        text += "; the two 95% bootstrap intervals " + ("do not overlap" if n["resolved"] else "overlap")
    return text + ")."


# ---------------------------------------------------------------------------------------------
# The four claims.


def t1_cpd_above_prog(results: pd.DataFrame, modality: str | None = None, benchmark: str | None = None) -> Verdict:
    """T1: cpD-GAN's seed-mean synthetic AUROC is above prog-GAN's at more than half of the points."""
    return _pair_comparison("T1", results, modality, benchmark, at_least=False)


def t6_diffusion_not_below_cpd(results: pd.DataFrame, modality: str | None = None,
                               benchmark: str | None = None) -> Verdict:
    """T6: the diffusion model's seed-mean synthetic AUROC is not below cpD-GAN's at more than half of the points."""
    return _pair_comparison("T6", results, modality, benchmark, at_least=True)


def _pair_comparison(claim: str, results: pd.DataFrame, modality: str | None, benchmark: str | None, *,
                     at_least: bool) -> Verdict:
    """The first generator of `PAIRS[claim]` against the second, point by point: above (or, `at_least`, not
    below) at more than half of the points that have both."""
    first, second = PAIRS[claim]
    scope = _scope(modality, benchmark)
    means = _subset(seed_means(results), modality, benchmark, None)
    keys = [c for c in ("modality", "benchmark", "setting") if c in means.columns]
    wide = means.pivot_table(index=keys, columns="generator", values="auc_synthetic", aggfunc="first")
    if not {first, second} <= set(wide.columns):
        return _undecided(claim, scope, f"it needs results for both {first} and {second}")
    wide = wide[[first, second]].dropna()
    if wide.empty:
        return _undecided(claim, scope, "no point has a synthetic AUROC for both generators")
    difference = wide[first] - wide[second]
    ahead, n = int(((difference >= 0) if at_least else (difference > 0)).sum()), len(wide)
    numbers = {
        "points": n,
        "first_ahead": ahead,
        "share": ahead / n,
        "mean_difference": float(difference.mean()),
        "min_difference": float(difference.min()),
        "max_difference": float(difference.max()),
    }
    relation = "not below" if at_least else "above"
    text = (
        f"{first}'s AUROC is {relation} {second}'s at {ahead} of {n} points (mean difference "
        f"{numbers['mean_difference']:+.3f}, from {numbers['min_difference']:+.3f} to "
        f"{numbers['max_difference']:+.3f})."
    )
    return Verdict(claim, scope, STATEMENTS[claim], bool(ahead > n / 2), numbers, text)


def t2_fewer_classes_smaller_gap(
    results: pd.DataFrame, modality: str | None = None, generator: str = "cpD-GAN"
) -> Verdict:
    """T2 (classes benchmark): the gap at the fewest label combinations is smaller than at the most."""
    return _gap_comparison(
        "T2", results, modality, generator, "classes", smaller_at="low", strict=True, what="combinations"
    )


def t3_synthetic_falls_earlier(
    results: pd.DataFrame, modality: str | None = None, generator: str = "cpD-GAN"
) -> Verdict:
    """T3 (samples benchmark): synthetic AUROC falls earlier (upper half) or faster (whole range) than real."""
    scope = _scope(modality, "samples", generator)
    means = _subset(seed_means(results), modality, "samples", generator).dropna(subset=["auc_real", "auc_synthetic"])
    if means["setting"].nunique() < 2:
        return _undecided(
            "T3", scope, f"it needs two or more samples-per-class settings, the table has {means['setting'].nunique()}"
        )
    curve = means.set_index("setting").sort_index(ascending=False)
    settings = list(curve.index)
    top, middle, bottom = settings[0], settings[len(settings) // 2], settings[-1]

    def drop(column: str, end: int) -> float:
        return float(curve.loc[top, column] - curve.loc[end, column])

    numbers = {
        "setting_top": int(top),
        "setting_middle": int(middle),
        "setting_bottom": int(bottom),
        "real_drop_upper": drop("auc_real", middle),
        "synthetic_drop_upper": drop("auc_synthetic", middle),
        "real_drop_all": drop("auc_real", bottom),
        "synthetic_drop_all": drop("auc_synthetic", bottom),
        "n_seeds": int(curve["n_seeds"].min()),
    }
    earlier = numbers["synthetic_drop_upper"] > numbers["real_drop_upper"]
    faster = numbers["synthetic_drop_all"] > numbers["real_drop_all"]
    numbers.update(earlier=bool(earlier), faster=bool(faster))
    text = (
        f"From {top} to {middle} samples per class the synthetic AUROC drops by "
        f"{numbers['synthetic_drop_upper']:.3f}, the real one by {numbers['real_drop_upper']:.3f} "
        f"({'earlier' if earlier else 'not earlier'}); from {top} to {bottom}, by "
        f"{numbers['synthetic_drop_all']:.3f} and {numbers['real_drop_all']:.3f} "
        f"({'faster' if faster else 'not faster'})."
    )
    return Verdict("T3", scope, STATEMENTS["T3"], bool(earlier or faster), numbers, text)


def t4_resolution_gap_not_larger(
    results: pd.DataFrame, modality: str | None = None, generator: str = "cpD-GAN"
) -> Verdict:
    """T4 (resolution benchmark): the gap at the highest resolution is not larger than at the lowest."""
    return _gap_comparison("T4", results, modality, generator, "resolution", smaller_at="high", strict=False, what="px")


# ---------------------------------------------------------------------------------------------
# T7 and T8: rank correlations across the points of every benchmark.

CORRELATION_CLAIMS = {  # claim -> (the column ranked against the gap, the sign the claim expects, its name)
    "T7": ("fd_synthetic", 1, "Fréchet distance"),
    "T8": ("mia_auc", -1, "attack AUROC"),
}


def spearman_interval(x, y, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> dict:
    """Spearman's rho of paired values and a percentile bootstrap interval over resampled pairs (resamples
    where either side is constant are left out). Pairs with a NaN are dropped first. Returns rho, low, high
    and n (pairs); rho NaN with fewer than 3 pairs or a constant side."""
    import numpy as np
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    nan = {"rho": math.nan, "low": math.nan, "high": math.nan, "n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan
    rho = float(spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            replicates.append(spearmanr(x[i], y[i]).statistic)
    if not replicates:
        return {**nan, "rho": rho}
    tail = (1.0 - ci) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return {"rho": rho, "low": float(low), "high": float(high), "n": n}


def point_means(results: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Seed means of `columns` and the gap per (modality, benchmark, setting, generator): one row per point and
    generator, the unit T7 and T8 rank (`synthmed.aggregate.mean_over_seeds`)."""
    keys = [c for c in ("modality", "benchmark", "setting", "generator") if c in results.columns]
    values = list(dict.fromkeys(["gap", *columns]))
    missing = [c for c in ["modality", "setting", "generator", *values] if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}")
    return mean_over_seeds(results, keys, values)


def _correlation_claim(claim: str, results: pd.DataFrame, modality: str | None, n_boot: int, seed: int) -> Verdict:
    column, sign, name = CORRELATION_CLAIMS[claim]
    scope = _scope(modality, "all benchmarks", "all generators")
    if column not in results.columns or "gap" not in results.columns:
        return _undecided(claim, scope, f"the table has no {column!r} column (saved before the fidelity and "
                          "privacy panels)")
    means = _subset(point_means(results, [column]), modality, None, None).dropna(subset=["gap", column])
    found = spearman_interval(means[column], means["gap"], n_boot=n_boot, seed=seed)
    numbers = {"points": found["n"], "rho": found["rho"], "rho_low": found["low"], "rho_high": found["high"],
               "column": column}
    if not math.isfinite(found["rho"]):
        return _undecided(claim, scope, f"it needs three or more points whose {name} and gap both vary, the "
                          f"table has {found['n']}", **numbers)
    if not _finite(found["low"], found["high"]):
        return _undecided(claim, scope, "no bootstrap resample of the points varied", **numbers)
    holds = found["low"] > 0 if sign > 0 else found["high"] < 0
    direction = "above" if sign > 0 else "below"
    text = (
        f"Across {found['n']} points, Spearman's rho of {name} and gap is {found['rho']:+.2f} (95% bootstrap "
        f"interval {found['low']:+.2f} to {found['high']:+.2f}; the claim needs it {direction} 0)."
    )
    return Verdict(claim, scope, STATEMENTS[claim], bool(holds), numbers, text)


def t7_fidelity_tracks_gap(results: pd.DataFrame, modality: str | None = None, *, n_boot: int = 1000,
                           seed: int = 0) -> Verdict:
    """T7: across points (seed means per benchmark, setting and generator), Spearman's rho of `fd_synthetic` and
    the gap is above 0 with its bootstrap interval above 0: a lower Fréchet distance, a smaller gap."""
    return _correlation_claim("T7", results, modality, n_boot, seed)


def t8_useful_sets_leak_more(results: pd.DataFrame, modality: str | None = None, *, n_boot: int = 1000,
                             seed: int = 0) -> Verdict:
    """T8: across points, Spearman's rho of the attack AUROC (`mia_auc`) and the gap is below 0 with its
    bootstrap interval below 0: the smaller the gap, the more the synthetic set leaks."""
    return _correlation_claim("T8", results, modality, n_boot, seed)


# ---------------------------------------------------------------------------------------------
# All claims of a benchmark, as a table, and why a claim may not hold.


def check_benchmark(
    results: pd.DataFrame,
    benchmark: str,
    modalities: Iterable[str] | None = None,
    generators: Sequence[str] | None = None,
) -> list[Verdict]:
    """T1 per modality, then the benchmark's own claim (T2, T3 or T4) per modality and generator
    (None: every registered generator the results hold, in registry order), then T6 per modality where the
    diffusion model and cpD-GAN are among the generators."""
    if benchmark not in BENCHMARK_CLAIM:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARK_CLAIM)}")
    if "benchmark" in results.columns:
        results = results[results["benchmark"] == benchmark]
    modalities = list(modalities) if modalities is not None else list(pd.unique(results["modality"]))
    if generators is None:
        generators = [g for g in registry.names() if g in set(results["generator"])]
    claim = {"T2": t2_fewer_classes_smaller_gap, "T3": t3_synthetic_falls_earlier, "T4": t4_resolution_gap_not_larger}[
        BENCHMARK_CLAIM[benchmark]
    ]
    verdicts = [t1_cpd_above_prog(results, modality, benchmark) for modality in modalities]
    verdicts += [claim(results, modality, generator) for modality in modalities for generator in generators]
    if set(T6_PAIR) <= set(generators):  # only where the diffusion model ran
        verdicts += [t6_diffusion_not_below_cpd(results, modality, benchmark) for modality in modalities]
    return verdicts


def synthetic_signal(results: pd.DataFrame) -> pd.DataFrame:
    """Whether synthetic training data carried label information at all, per modality and generator.

    One row per (modality, generator): runs, the mean real-trained AUROC, the lowest, mean and
    highest synthetic-trained mean AUROC, and how many runs' synthetic AUROC has a bootstrap
    interval entirely above chance (0.5). Claims about how a gap moves say little when the
    synthetic classifiers sit at chance everywhere: the gap then just follows the real AUROC.
    """
    required = ["modality", "generator", "auc_real", "auc_synthetic", "auc_synthetic_low"]
    missing = [c for c in required if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}; expected at least {required}")
    grouped = results.groupby(["modality", "generator"], sort=False)
    table = pd.DataFrame(
        {
            "runs": grouped.size(),
            "real AUROC (mean)": grouped["auc_real"].mean(),
            "synthetic AUROC (min)": grouped["auc_synthetic"].min(),
            "synthetic AUROC (mean)": grouped["auc_synthetic"].mean(),
            "synthetic AUROC (max)": grouped["auc_synthetic"].max(),
            "runs above chance": grouped["auc_synthetic_low"].apply(lambda low: int((low > 0.5).sum())),
        }
    )
    return table.round(3)


def sweep_kimg(profile: str) -> float:
    """The longest schedule (kimg) of the paper's GANs in the profile's benchmark sweeps."""
    settings = profiles.get(profile)
    return max(settings.gan_config(arch, settings.classes_resolution, 1).total_kimg
               for arch in registry.GAN_ARCH.values())


def why_may_differ(verdict: Verdict, profile: str | None = None, real_data: bool = False) -> str:
    """Reasons a claim may not hold on our results, from its numbers and the profile ("" when it holds);
    `real_data`: the results come from the real datasets, not phantoms."""
    if verdict.decided and verdict.holds:
        return ""
    if not verdict.decided:
        return "The results table does not contain the points this claim compares."
    reasons = []
    n = verdict.numbers
    if n.get("resolved") is False:
        reasons.append(
            "the two gaps' bootstrap intervals overlap, so the ordering is within the noise of a test set this small"
        )
    if verdict.claim in CORRELATION_CLAIMS and _finite(n.get("rho_low"), n.get("rho_high")) and (
            n["rho_low"] <= 0 <= n["rho_high"]):
        reasons.append(
            f"the rank correlation's bootstrap interval includes 0: across {n['points']} points the ordering is "
            "within the noise"
        )
    if verdict.claim in PAIRS and abs(n.get("mean_difference", 1.0)) < 0.02:
        reasons.append(
            f"the two generators differ by {n['mean_difference']:+.3f} AUROC on average, less than "
            "the run-to-run noise of small test sets"
        )
    if n.get("n_seeds") == 1:
        reasons.append("each point is a single run (one seed), so seed-to-seed variation is not averaged out")
    if profile is not None and profiles.get(profile).brief_gans:
        reasons.append(
            f"the `{profile}` profile's GANs are narrow and its benchmark sweeps train them for at most "
            f"{sweep_kimg(profile):,g} "
            "kimg instead of the paper's up to 12,000, so no generator is near convergence"
        )
    if not real_data:
        reasons.append(
            "our images are phantoms whose findings are rendered signs, not real radiographs or CT, so "
            "what a GAN must learn differs from the paper's data"
        )
    text = "; ".join(reasons)
    if verdict.claim in BOOK_CLAIMS:
        return "This may not hold here because " + text + "."
    return "This may differ from the paper because " + text + "."


def verdict_table(verdicts: Iterable[Verdict], profile: str | None = None, real_data: bool = False) -> pd.DataFrame:
    """One row per verdict: claim, scope, status, our numbers (the sentence), the paper's statement and,
    where a claim does not hold, why it may differ."""
    rows = [
        {
            "claim": v.claim,
            "scope": v.scope,
            "status": v.status,
            "ours": v.text,
            "paper": v.statement,
            "why it may differ": why_may_differ(v, profile, real_data),
        }
        for v in verdicts
    ]
    return pd.DataFrame(rows, columns=["claim", "scope", "status", "ours", "paper", "why it may differ"])


def paper_verdicts(benchmark: str, settings: dict[str, Iterable[int]] | None = None) -> dict[tuple[str, str], Verdict]:
    """The same checks on the paper's published values (`synthmed.paper_results`), keyed by (claim, scope)
    as `check_benchmark` names them; empty for the resolution benchmark, which has no published values.

    settings: modality -> the settings to keep (e.g. those of our sweep, so both sides compare the same
    points); None keeps all the paper's."""
    from synthmed.paper_results import paper_as_results

    values = paper_as_results(benchmark=benchmark)
    if settings is not None and not values.empty:
        keep = [
            setting in set(settings.get(modality, ()))
            for modality, setting in zip(values["modality"], values["setting"], strict=True)
        ]
        values = values[keep]
    if values.empty:
        return {}
    return {(v.claim, v.scope): v for v in check_benchmark(values, benchmark)}


def side_by_side(ours: Iterable[Verdict], paper: dict[tuple[str, str], Verdict]) -> pd.DataFrame:
    """Our verdicts beside the same checks on the paper's published values (`paper_verdicts`), by claim
    and scope: claim, scope, ours (status), our numbers, paper (status, or "no published values"), paper's numbers."""
    rows = []
    for v in ours:
        p = paper.get((v.claim, v.scope))
        rows.append(
            {
                "claim": v.claim,
                "scope": v.scope,
                "ours": v.status,
                "our numbers": v.text,
                "paper": p.status if p is not None else "no published values",
                "paper's numbers": p.text if p is not None else "",
            }
        )
    return pd.DataFrame(rows, columns=["claim", "scope", "ours", "our numbers", "paper", "paper's numbers"])


MARKS = {"holds": "✓", "does not hold": "✗", "undecided": "?", "no published values": "–"}


def claims_matrix(side: pd.DataFrame) -> pd.DataFrame:
    """`side_by_side` rows (any benchmarks) as one compact table: a row per claim and generator, a column
    per benchmark and modality, each cell "ours / paper" in `MARKS` (✓ holds, ✗ does not hold,
    ? undecided, – no published values); "" where a claim was not checked. The scope names the modality,
    the benchmark and (T2-T4) the generator, as `check_benchmark` writes it."""
    rows = []
    for _, r in side.iterrows():
        head, _, generator = r["scope"].partition(", ")
        modality, _, benchmark = head.partition(" ")
        pair = " vs ".join(PAIRS.get(r["claim"], T1_PAIR))
        rows.append({"claim": r["claim"], "generator": generator or pair, "benchmark": benchmark,
                     "modality": modality, "cell": f"{MARKS[r['ours']]} / {MARKS[r['paper']]}"})
    table = pd.DataFrame(rows, columns=["claim", "generator", "benchmark", "modality", "cell"])
    wide = table.pivot_table(index=["claim", "generator"], columns=["benchmark", "modality"], values="cell",
                             aggfunc="first", sort=False)
    return wide.fillna("")


def verdicts_markdown(
    verdicts: Iterable[Verdict],
    profile: str | None = None,
    paper: dict[tuple[str, str], Verdict] | None = None,
    real_data: bool = False,
) -> str:
    """The claims check as Markdown: per claim the paper's statement once, then per scope a bullet with
    **holds** / **does not hold**, our numbers, the same check on the paper's values where there are some,
    and, where a claim does not hold, why it may differ."""
    lines: list[str] = []
    current = None
    for v in verdicts:
        if v.claim != current:
            current = v.claim
            lines += ["", f"**{v.claim}.** {v.statement}.", ""]
        bullet = f"- {v.scope}: **{v.status}**. {v.text}"
        p = (paper or {}).get((v.claim, v.scope))
        if p is not None:
            bullet += f" On the paper's published values it {'holds' if p.holds else 'does not hold'}: {p.text}"
        why = why_may_differ(v, profile, real_data)
        if why:
            bullet += f" {why}"
        lines.append(bullet)
    return "\n".join(lines).strip() + "\n"
