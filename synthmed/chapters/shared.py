"""The point per modality that the generators, utility and memorisation chapters share, and its runs."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from synthmed import generators, profiles
from synthmed.experiments import PointRun, shared_point_runs


@dataclass
class SharedPoints:
    """Every book generator's `run_point` at the shared point of each modality (`shared_point_runs`)."""

    profile: str
    seed: int
    points: dict[str, tuple[str, int]]  # modality -> (benchmark, setting)
    runs: dict[tuple[str, str], PointRun]  # (modality, generator) -> run
    real_data: bool

    @property
    def settings(self) -> profiles.Profile:
        return profiles.get(self.profile)

    @property
    def generators(self) -> list[str]:
        return list(generators.book_names(self.profile))

    def first(self, modality: str) -> PointRun:
        """The modality's run of the first generator: its real data, real classifier and test split are
        every generator's at that point."""
        return self.runs[modality, self.generators[0]]

    def rows(self) -> pd.DataFrame:
        """The runs' result rows (`experiments.RESULT_COLUMNS`), one per modality and generator."""
        return pd.DataFrame([run.row for run in self.runs.values()])

    def test_scores(self, modality: str) -> dict[str, object]:
        """Classifier -> its scores on the modality's real test split: "real", then each generator."""
        first = self.first(modality)
        return {"real": first.scores_real} | {g: self.runs[modality, g].scores_synthetic for g in self.generators}


def shared_points(
    profile: str,
    seed: int = 0,
    *,
    chest_benchmark: str = "",
    chest_setting: int | None = None,
    brain_benchmark: str = "",
    brain_setting: int | None = None,
    data_root: str = "",
    classifier_weights: str = "",
    precision: str = "",
    prepare: bool = True,
) -> SharedPoints:
    """The shared points as a chapter's parameters give them ("" or None: the profile's), run or loaded
    from the caches; `prepare` fills the caches in worker processes first (the generators chapter does,
    the chapters after it find them)."""
    settings = profiles.get(profile)
    points = {
        "chest": settings.shared_point("chest", chest_benchmark, chest_setting),
        "brain": settings.shared_point("brain", brain_benchmark, brain_setting),
    }
    runs = shared_point_runs(profile, seed, points, data_root or None, classifier_weights=classifier_weights or None,
                             precision=precision or None, prepare=prepare)
    return SharedPoints(profile, seed, points, runs, bool(data_root))
