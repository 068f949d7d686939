"""What a benchmark chapter (classes, samples, resolution) computes from its two sweeps.

The three chapters ask different questions of the same kind of table, so the steps they share live
here, tested, and each notebook keeps only its parameters, figures and prose.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from synthmed import claims, experiments

# How each benchmark's setting reads in a table header.
SETTING_NAMES = {"classes": "combinations", "samples": "paper's per combination", "resolution": "resolution (px)"}


@dataclass
class BenchmarkChapter:
    """Both modalities' sweeps of one benchmark (`experiments.benchmark_sweeps`) and their claims check."""

    benchmark: str
    profile: str
    seeds: tuple[int, ...]
    settings: dict[str, tuple[int, ...]]  # the settings each modality ran
    results: pd.DataFrame  # one row per run (experiments.RESULT_COLUMNS)
    label_results: pd.DataFrame  # one row per run and label
    real_data: bool

    @property
    def skipped(self) -> list[dict]:
        """Settings whose subset could not be built (modality, benchmark, setting, reason)."""
        return list(self.results.attrs.get("skipped", []))

    @property
    def data_name(self) -> str:
        return "real" if self.real_data else "phantom"

    @property
    def title(self) -> str:
        """The title of every figure of our results, so none can be mistaken for the paper's."""
        return f"ours: {self.data_name} data, profile {self.profile}, {len(self.seeds)} run(s) per point"

    def points(self) -> pd.DataFrame:
        """One row per (modality, setting): combinations, labels kept, split sizes, resolution and the
        training images per combination, indexed by modality and the setting under its chapter name."""
        columns = ["modality", "setting", "n_classes", "n_labels", "n_train", "n_val", "n_test", "resolution"]
        table = self.results.drop_duplicates(["modality", "setting"])[columns]
        table = table.assign(train_per_combination=(table["n_train"] / table["n_classes"]).round(1))
        name = SETTING_NAMES[self.benchmark]
        return table.rename(columns={"setting": name}).set_index(["modality", name])

    def skipped_notes(self) -> list[str]:
        unit = {"classes": "combinations", "samples": "images per combination", "resolution": "px"}[self.benchmark]
        return [f"Skipped {s['modality']} at {s['setting']} {unit}: {s['reason']}." for s in self.skipped]

    def verdicts(self) -> list[claims.Verdict]:
        return claims.check_benchmark(self.results, self.benchmark)

    def paper_verdicts(self) -> dict[tuple[str, str], claims.Verdict]:
        """The same checks on the paper's published values at our settings (empty for resolution)."""
        return claims.paper_verdicts(self.benchmark, settings=self.settings)

    def claims_markdown(self) -> str:
        return claims.verdicts_markdown(self.verdicts(), self.profile, self.paper_verdicts(), real_data=self.real_data)

    def side_by_side(self) -> pd.DataFrame:
        return claims.side_by_side(self.verdicts(), self.paper_verdicts()).set_index(["claim", "scope"])

    def precision_note(self, paper_test: str) -> str:
        """How many checks hold, and how small our test splits are beside the paper's (`paper_test`, words)."""
        verdicts = self.verdicts()
        held = sum(v.holds for v in verdicts)
        n_test = self.results["n_test"]
        return (
            f"On our {self.data_name} data {held} of {len(verdicts)} checks hold. Our test splits have "
            f"{int(n_test.min())} to {int(n_test.max())} images (the paper's: {paper_test}), so a difference "
            "of a few hundredths of AUROC between two points is often inside the bootstrap intervals drawn above."
        )


def benchmark_chapter(
    benchmark: str,
    profile: str,
    *,
    seed: int | None = None,
    n_seeds: int | None = None,
    chest_settings=None,
    brain_settings=None,
    data_root: str | None = None,
    device: str = "auto",
    progress: bool = False,
    workers: int | None = None,
    classifier_weights: str | None = None,
    precision: str | None = None,
) -> BenchmarkChapter:
    """Run (or load from the caches) both modalities' sweeps of `benchmark`, as a chapter's parameters
    give them: None takes the profile's seeds, settings and worker processes (`Profile.seeds`,
    `Profile.settings`, `sweep_workers`), and None or "" the profile's classifier weights and precision."""
    seeds = experiments.sweep_seeds(profile, seed, n_seeds)
    results, label_results, settings = experiments.benchmark_sweeps(
        benchmark,
        profile,
        {"chest": chest_settings, "brain": brain_settings},
        seeds,
        data_root or None,
        device,
        progress,
        workers,
        classifier_weights=classifier_weights or None,
        precision=precision or None,
    )
    return BenchmarkChapter(benchmark, profile, seeds, settings, results, label_results, bool(data_root))
