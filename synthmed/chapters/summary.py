"""The results summary: every benchmark's saved results, the paper's claims checked on them and on the paper's
published values, and whether the synthetic data carried label information at all."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from synthmed import claims, paper_results

BENCHMARKS = {"classes": "Fewer label combinations", "samples": "Samples per class", "resolution": "Resolution"}
MODALITIES = ("chest", "brain")


@dataclass
class Summary:
    """Every sweep's results (`experiments.sweep_results`) and the claims checked on them."""

    profile: str
    real_data: bool
    found: dict[tuple[str, str], bool]  # (modality, benchmark) -> its chapter had saved the table
    sweeps: dict[tuple[str, str], pd.DataFrame]  # (modality, benchmark) -> results
    tables: dict[str, pd.DataFrame]  # benchmark -> both modalities' results
    checks: pd.DataFrame  # claims.side_by_side of every benchmark, with its chapter and the paper's statement

    def inventory(self) -> pd.DataFrame:
        """Per benchmark and modality: runs, settings, seeds, where the results came from and what is missing."""
        rows = []
        for b, t in self.tables.items():
            for m in MODALITIES:
                sweep = self.sweeps[m, b]
                mine = t["modality"] == m
                if not self.found[m, b]:
                    source = "computed here"
                elif sweep.attrs["computed"]:
                    source = f"saved by its chapter, {len(sweep.attrs['computed'])} runs computed here"
                else:
                    source = "saved by its chapter"
                missing = "; ".join(f"setting {x['setting']} seed {x['seed']} {x['generator']}: {x['reason']}"
                                    for x in sweep.attrs["missing"])
                rows.append({
                    "benchmark": b,
                    "modality": m,
                    "runs": int(mine.sum()),
                    "settings": ", ".join(str(s) for s in sorted(set(t.loc[mine, "setting"]))),
                    "seeds": ", ".join(str(s) for s in sorted(set(t.loc[mine, "seed"]))),
                    "source": source,
                    "missing": missing or "none",
                })
        return pd.DataFrame(rows).set_index(["benchmark", "modality"])

    def checks_table(self) -> pd.DataFrame:
        columns = ["chapter", "claim", "scope", "ours", "our numbers", "paper", "paper's statement"]
        return self.checks[columns].set_index(["chapter", "claim", "scope"])

    def checks_note(self) -> str:
        """How many checks hold on our data and on the paper's published values."""
        checks = self.checks
        held = int((checks["ours"] == "holds").sum())
        undecided = int((checks["ours"] == "undecided").sum())
        paper_side = checks[checks["paper"].isin(["holds", "does not hold"])]
        paper_held = int((paper_side["paper"] == "holds").sum())
        data_name = "real" if self.real_data else "phantom"
        return (
            f"On our {data_name} data, profile `{self.profile}`, **{held} of {len(checks)}** checks hold"
            + (f" ({undecided} could not be decided)" if undecided else "")
            + f". On the paper's published values, **{paper_held} of {len(paper_side)}** of the checks that have "
            f"published values hold; the resolution benchmark has none. Where a check does not hold on our data, "
            f"its chapter says why it may differ."
        )

    def signal(self) -> pd.DataFrame:
        """Per benchmark and modality: runs whose synthetic classifier beats chance (`claims.synthetic_signal`)."""
        return claims.synthetic_signal(pd.concat(self.tables.values(), ignore_index=True))

    def signal_note(self, signal: pd.DataFrame) -> str:
        everything = pd.concat(self.tables.values(), ignore_index=True)
        above, runs = int(signal["runs above chance"].sum()), int(signal["runs"].sum())
        return (
            f"In **{above} of {runs}** runs the synthetic-trained classifier is above chance by its bootstrap "
            f"interval; its mean AUROC ranges from {signal['synthetic AUROC (min)'].min():.2f} to "
            f"{signal['synthetic AUROC (max)'].max():.2f}, against a mean of "
            f"{everything['auc_real'].mean():.2f} for the real-trained classifiers. "
            + (
                "With most runs at chance, the claims above test our pipeline rather than the paper: the "
                f"`{self.profile}` profile's sweeps train each GAN for at most "
                f"{claims.sweep_kimg(self.profile):,g} kimg "
                f"(the paper's schedule: up to {claims.sweep_kimg('paper'):,g})."
                if above < runs / 2
                else "The synthetic data carried label information in most runs, so the claims compare "
                "generators that learned something."
            )
        )

    def paper_tables(self) -> dict[str, pd.DataFrame]:
        """Benchmark -> the paper's published values as a results table, for `plots.ours_beside_paper`."""
        return {b: paper_results.paper_as_results(benchmark=b) for b in BENCHMARKS}


def summary(profile: str, seeds, *, data_root: str = "", device: str = "auto", classifier_weights: str = "",
            precision: str = "") -> Summary:
    """Read every sweep's saved results (running what a table lacks) and check the paper's claims on them."""
    from synthmed.experiments import results_path, sweep_results

    found = {(m, b): results_path(m, b, profile).is_file() for b in BENCHMARKS for m in MODALITIES}
    sweeps = {
        (m, b): sweep_results(m, b, profile, seeds=seeds, data_root=data_root or None, device=device,
                              classifier_weights=classifier_weights or None, precision=precision or None)
        for b in BENCHMARKS
        for m in MODALITIES
    }
    tables = {b: pd.concat([sweeps[m, b] for m in MODALITIES], ignore_index=True) for b in BENCHMARKS}
    return Summary(profile, bool(data_root), found, sweeps, tables, check_claims(tables))


def check_claims(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every benchmark's claims on our results beside the paper's values at our settings, with the chapter's
    name and the paper's statement of each claim."""
    rows = []
    for benchmark, results in tables.items():
        settings = {m: tuple(sorted(set(results.loc[results["modality"] == m, "setting"]))) for m in MODALITIES}
        paper = claims.paper_verdicts(benchmark, settings=settings)
        table = claims.side_by_side(claims.check_benchmark(results, benchmark), paper)
        rows.append(table.assign(chapter=BENCHMARKS[benchmark]))
    checks = pd.concat(rows, ignore_index=True)
    checks["paper's statement"] = checks["claim"].map(claims.STATEMENTS)
    return checks

