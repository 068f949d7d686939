"""The "Fidelity, utility and privacy" chapter: every point of every benchmark's saved results, the fidelity
metrics and the membership attack against the utility gap, claims T7 and T8 (T7 also in Inception features where
the profile computes them), and which generator and setting gives the best utility with an attack at chance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from synthmed import claims, generators, profiles
from synthmed.chapters.summary import BENCHMARKS, MODALITIES

__all__ = ["BENCHMARKS", "FD_SPACES", "METRICS", "MODALITIES", "PRIVACY", "FidelityChapter", "fidelity_chapter"]

# The fidelity panel's columns (`experiments.panels`) and how the chapter names them.
METRICS = {
    "fd_synthetic": "Fréchet distance",
    "kid": "KID",
    "precision": "precision",
    "recall": "recall",
    "density": "density",
    "coverage": "coverage",
}
PRIVACY = {
    "mia_auc": "attack AUROC",
    "mia_tpr_at_1fpr": "TPR at 1% FPR",
    "memorised_fraction": "memorised fraction",
}
# T7's Fréchet distance per feature space (`experiments.panels`): the real classifier's, and the FID Inception's
# where the profile computes it (`Profile.inception_panels`; NaN elsewhere).
FD_SPACES = {"fd_synthetic": "real classifier's features", "fd_inception": "Inception features (FID)"}
_MEANS = [*METRICS, *PRIVACY, "mia_auc_low", "mia_auc_high", "mia_auc_control", "memorised_ratio",
          "auc_real", "auc_synthetic", "fd_inception"]


@dataclass
class FidelityChapter:
    """Every sweep's results (`experiments.sweep_results`), their point means and the chapter's claims."""

    profile: str
    real_data: bool
    results: pd.DataFrame  # every run of every benchmark and modality (experiments.RESULT_COLUMNS)
    n_boot: int = 1000
    seed: int = 0
    means: pd.DataFrame = field(init=False)  # one row per modality, benchmark, setting and generator

    def __post_init__(self) -> None:
        if "fd_inception" not in self.results.columns:  # a table from before the Inception panel: none computed
            self.results = self.results.assign(fd_inception=math.nan)
        self.means = claims.point_means(self.results, _MEANS)

    def data_note(self) -> str:
        """How many runs and points the chapter rests on."""
        n_points = self.means.groupby("modality").size()
        per = ", ".join(f"{m}: {int(n_points.get(m, 0))}" for m in MODALITIES)
        names = ", ".join(g for g in generators.names() if g in set(self.results["generator"]))
        data = "real" if self.real_data else "phantom"
        images = self.results["fidelity_images"]
        attack = self.results["mia_images"]
        return (
            f"{len(self.results)} runs on {data} data, profile `{self.profile}`: {len(self.means)} points "
            f"(benchmark, setting and generator; seed means) over {len(BENCHMARKS)} benchmarks ({per}); "
            f"generators {names}. Each fidelity metric compared {int(images.min())} to {int(images.max())} "
            f"real and as many synthetic images; each attack scored {int(attack.min())} to {int(attack.max())} "
            "members against as many non-members."
        )

    def correlations(self) -> pd.DataFrame:
        """Per modality and metric (fidelity and privacy): Spearman's rho with the gap across points, its
        bootstrap interval and the number of points (`claims.spearman_interval`)."""
        rows = []
        for modality in MODALITIES:
            mine = self.means[self.means["modality"] == modality]
            for column, name in {**METRICS, **PRIVACY}.items():
                found = claims.spearman_interval(mine[column], mine["gap"], n_boot=self.n_boot, seed=self.seed)
                rows.append({"modality": modality, "metric": column, "name": name, **found})
        return pd.DataFrame(rows).set_index(["modality", "metric"])

    def correlation_table(self, rho: pd.DataFrame) -> pd.DataFrame:
        shown = rho.reset_index().rename(columns={"name": "metric against the gap", "rho": "Spearman rho",
                                                  "low": "95% low", "high": "95% high", "n": "points"})
        return shown.set_index(["modality", "metric against the gap"]).drop(columns="metric").round(2)

    def correlation_note(self, rho: pd.DataFrame) -> str:
        """Per modality: the fidelity metric whose rank best follows the gap, and which intervals exclude 0."""
        lines = []
        for modality in MODALITIES:
            mine = rho.loc[modality].loc[list(METRICS)].dropna(subset=["rho"])
            if mine.empty:
                lines.append(f"- **{modality}**: too few points with varying values for a rank correlation.")
                continue
            best = mine["rho"].abs().idxmax()
            clear = [METRICS[c] for c, r in mine.iterrows() if r["low"] > 0 or r["high"] < 0]
            lines.append(
                f"- **{modality}** ({int(mine['n'].max())} points): the gap's rank follows {METRICS[best]} most "
                f"closely "
                f"(rho {mine.loc[best, 'rho']:+.2f}, interval {mine.loc[best, 'low']:+.2f} to "
                f"{mine.loc[best, 'high']:+.2f}); "
                + (f"the interval excludes 0 for {', '.join(clear)}." if clear else "no interval excludes 0.")
            )
        return "\n".join(lines)

    def verdicts(self) -> list[claims.Verdict]:
        """T7 and T8 per modality."""
        return [claim(self.results, modality, n_boot=self.n_boot, seed=self.seed)
                for claim in (claims.t7_fidelity_tracks_gap, claims.t8_useful_sets_leak_more)
                for modality in MODALITIES]

    def claims_markdown(self) -> str:
        return claims.verdicts_markdown(self.verdicts(), self.profile, real_data=self.real_data)

    def has_inception(self) -> bool:
        """Whether any run has the fidelity panel in Inception features (the paper profile's)."""
        return bool(self.results["fd_inception"].notna().any())

    def t7_by_features(self) -> pd.DataFrame:
        """T7's correlation per modality in each feature space with values (`FD_SPACES`; Inception features only
        where computed): Spearman's rho of the Fréchet distance and the gap across points, its bootstrap
        interval, the points, and T7's verdict in that space (holds: the interval lies above 0). The in-domain
        row is T7's own verdict (`claims.t7_fidelity_tracks_gap`, same points, resamples and seed)."""
        rows = []
        for modality in MODALITIES:
            mine = self.means[self.means["modality"] == modality]
            for column, space in FD_SPACES.items():
                if column == "fd_inception" and not mine[column].notna().any():
                    continue
                found = claims.spearman_interval(mine[column], mine["gap"], n_boot=self.n_boot, seed=self.seed)
                verdict = ("undecided" if not (math.isfinite(found["low"]) and math.isfinite(found["high"]))
                           else "holds" if found["low"] > 0 else "does not hold")
                rows.append({"modality": modality, "features": space, "Spearman rho": found["rho"],
                             "95% low": found["low"], "95% high": found["high"], "points": found["n"], "T7": verdict})
        return pd.DataFrame(rows).set_index(["modality", "features"])

    def inception_note(self, t7: pd.DataFrame) -> str:
        """T7 in Inception features beside the classifier's, per modality, from `t7_by_features`; where no run has
        Inception features, one sentence saying why."""
        if not self.has_inception():
            why = ("the FID Inception network's weights are not available offline, and the phantom images are far "
                   "from the photographs it learned from, so the profile does not compute them"
                   if not profiles.get(self.profile).inception_panels else  # `Profile.inception_panels`
                   "none of its saved runs holds them (tables saved before the Inception panel existed)")
            return (f"This profile (`{self.profile}`) has no Inception features: {why}; every fidelity number on "
                    "this page is in the real classifier's features, and the `paper` profile adds T7 in the "
                    "Inception features its GANs are early-stopped on.")
        lines = []
        for modality in MODALITIES:
            if (modality, FD_SPACES["fd_inception"]) not in t7.index:
                lines.append(f"- **{modality}**: no point has an Inception Fréchet distance.")
                continue
            inc, own = t7.loc[(modality, FD_SPACES["fd_inception"])], t7.loc[(modality, FD_SPACES["fd_synthetic"])]
            same = "the same verdict as" if inc["T7"] == own["T7"] else "unlike"
            lines.append(
                f"- **{modality}**: in Inception features (FID) Spearman's rho of distance and gap is "
                f"{inc['Spearman rho']:+.2f} (interval {inc['95% low']:+.2f} to {inc['95% high']:+.2f}, "
                f"{int(inc['points'])} points), against {own['Spearman rho']:+.2f} ({own['95% low']:+.2f} to "
                f"{own['95% high']:+.2f}) in the real classifier's features: T7 {inc['T7']} in Inception features, "
                f"{same} in the classifier's ({own['T7']})."
            )
        return "\n".join(lines)

    def privacy_table(self) -> pd.DataFrame:
        """Per modality and generator, over its points: the attack AUROC (mean and range), points whose
        interval lies above 0.5, TPR at 1% FPR, the control attack, and the memorisation statistic."""
        grouped = self.means.groupby(["modality", "generator"], sort=False)
        table = pd.DataFrame({
            "points": grouped.size(),
            "attack AUROC (mean)": grouped["mia_auc"].mean(),
            "attack AUROC (min)": grouped["mia_auc"].min(),
            "attack AUROC (max)": grouped["mia_auc"].max(),
            "points leaking (interval above 0.5)": grouped["mia_auc_low"].apply(lambda low: int((low > 0.5).sum())),
            "TPR at 1% FPR (mean)": grouped["mia_tpr_at_1fpr"].mean(),
            "control attack AUROC (mean)": grouped["mia_auc_control"].mean(),
            "memorised fraction (mean; 0.05 like new images)": grouped["memorised_fraction"].mean(),
        })
        return table.round(3)

    def privacy_note(self) -> str:
        m = self.means
        leaking = int((m["mia_auc_low"] > 0.5).sum())
        return (
            f"At **{leaking} of {len(m)}** points the attack's bootstrap interval lies above 0.5. The attack AUROC "
            f"ranges from {m['mia_auc'].min():.2f} to {m['mia_auc'].max():.2f} (mean {m['mia_auc'].mean():.2f}); "
            f"the control attack, with real validation images in place of the synthetic set, averages "
            f"{m['mia_auc_control'].mean():.2f}, which is what no leak looks like in this feature space. The true-"
            f"positive rate at 1% false positives averages {m['mia_tpr_at_1fpr'].mean():.3f}."
        )

    def best_private(self) -> pd.DataFrame:
        """Per modality: the point with the smallest utility gap among those whose attack is at chance (its
        bootstrap interval contains 0.5), with the best point overall beside it."""
        rows = []
        for modality in MODALITIES:
            mine = self.means[(self.means["modality"] == modality) & self.means["gap"].notna()]
            private = mine[(mine["mia_auc_low"] <= 0.5) & (mine["mia_auc_high"] >= 0.5)]
            for kind, pool in (("attack at chance", private), ("any", mine)):
                if pool.empty:
                    rows.append({"modality": modality, "among points": kind, "points": 0})
                    continue
                best = pool.loc[pool["gap"].idxmin()]
                rows.append({"modality": modality, "among points": kind, "points": len(pool),
                             "generator": best["generator"], "benchmark": best["benchmark"],
                             "setting": int(best["setting"]), "gap": best["gap"],
                             "synthetic AUROC": best["auc_synthetic"], "attack AUROC": best["mia_auc"],
                             "attack low": best["mia_auc_low"], "attack high": best["mia_auc_high"],
                             "TPR at 1% FPR": best["mia_tpr_at_1fpr"]})
        return pd.DataFrame(rows).set_index(["modality", "among points"])

    def summary_note(self, best: pd.DataFrame) -> str:
        """The reader-facing answer: for sharing, which generator and setting gives the best utility with the
        attack at chance, per modality, from `best_private`."""
        lines = []
        for modality in MODALITIES:
            row = best.loc[(modality, "attack at chance")]
            overall = best.loc[(modality, "any")]
            if not row["points"]:
                lines.append(f"- **{modality}**: no point has an attack at chance; every synthetic set leaks "
                             "measurably.")
                continue
            same = (row["generator"], row["benchmark"], row["setting"]) == (
                overall["generator"], overall["benchmark"], overall["setting"])
            lines.append(
                f"- **{modality}**: {row['generator']} at the {row['benchmark']} benchmark's setting {row['setting']} "
                f"(gap {row['gap']:+.3f}, synthetic AUROC {row['synthetic AUROC']:.3f}; attack AUROC "
                f"{row['attack AUROC']:.2f}, interval {row['attack low']:.2f} to {row['attack high']:.2f}, TPR at 1% "
                f"FPR {row['TPR at 1% FPR']:.2f}), among {int(row['points'])} of {int(overall['points'])} points "
                "whose attack is at chance; "
                + ("it is also the most useful point overall." if same else
                   f"the most useful point overall, {overall['generator']} at {overall['benchmark']} "
                   f"{int(overall['setting'])} (gap {overall['gap']:+.3f}), has an attack AUROC of "
                   f"{overall['attack AUROC']:.2f} ({overall['attack low']:.2f} to {overall['attack high']:.2f}).")
            )
        return "\n".join(lines)


def fidelity_chapter(profile: str, seeds, *, data_root: str = "", device: str = "auto", classifier_weights: str = "",
                     precision: str = "", n_boot: int = 1000, seed: int = 0) -> FidelityChapter:
    """Every benchmark's runs at the profile's settings for both modalities, through the benchmark chapters' own
    call (`experiments.benchmark_sweeps`, in the profile's worker processes): the book executes this chapter
    before the benchmark chapters, so it runs their sweeps (every step cached; they then load them), and a
    table saved before the panels existed is recomputed from the run caches."""
    from synthmed.experiments import benchmark_sweeps

    tables = [
        benchmark_sweeps(b, profile, seeds=seeds, data_root=data_root or None, device=device,
                         classifier_weights=classifier_weights or None, precision=precision or None)[0]
        for b in BENCHMARKS
    ]
    results = pd.concat(tables, ignore_index=True)
    return FidelityChapter(profile, bool(data_root), results, n_boot=n_boot, seed=seed)
