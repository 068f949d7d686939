"""The "Fidelity, utility and privacy" chapter's helpers and figures on a hand-made results table (issue 17);
the chapter itself executes in the tiny book build (tests/test_book_build.py builds every _toc.yml chapter)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import yaml

from synthmed import plots
from synthmed.book import toc_notebooks
from synthmed.chapters import fidelity


def results(leak_when_useful: bool) -> pd.DataFrame:
    rows = []
    gaps = np.linspace(0.0, 0.3, 6)
    for modality in ("chest", "brain"):
        for i, gap in enumerate(gaps):
            for generator in ("cpD-GAN", "prog-GAN"):
                g = gap + (0.01 if generator == "prog-GAN" else 0.0)
                attack = (0.9 - g) if leak_when_useful else 0.5
                rows.append({
                    "modality": modality, "benchmark": ("classes", "samples", "resolution")[i % 3], "setting": 10 + i,
                    "generator": generator, "seed": 0, "auc_real": 0.8, "auc_synthetic": 0.8 - g, "gap": g,
                    "fd_synthetic": 1 + 10 * g, "kid": 0.1 * g, "precision": 1 - g, "recall": 1 - g / 2,
                    "density": 1 - g, "coverage": 1 - g, "mia_auc": attack,
                    "mia_auc_low": attack - 0.05, "mia_auc_high": attack + 0.05, "mia_tpr_at_1fpr": 0.01,
                    "mia_auc_control": 0.5, "memorised_fraction": 0.05, "memorised_ratio": 1.0,
                    "fidelity_images": 100, "mia_images": 50,
                })
    return pd.DataFrame(rows)


def test_correlations_verdicts_and_notes_follow_the_table() -> None:
    book = fidelity.FidelityChapter("tiny", False, results(leak_when_useful=True), n_boot=200)
    rho = book.correlations()
    assert rho.loc[("chest", "fd_synthetic"), "rho"] == pytest.approx(1.0)
    assert rho.loc[("brain", "coverage"), "rho"] == pytest.approx(-1.0) and rho.loc[("brain", "kid"), "n"] == 12
    assert [v.status for v in book.verdicts()] == ["holds"] * 4  # T7 and T8, chest and brain
    assert "12 points" in book.correlation_note(rho)
    assert "24 runs on phantom data, profile `tiny`: 24 points" in book.data_note()
    assert "At **24 of 24** points" in book.privacy_note()  # attack 0.9 - gap: every interval above 0.5


def test_best_private_point_is_the_most_useful_with_the_attack_at_chance() -> None:
    leaky = fidelity.FidelityChapter("tiny", False, results(leak_when_useful=True), n_boot=50)
    best = leaky.best_private()
    chest = best.loc[("chest", "attack at chance")]
    # Attack 0.9 - gap, interval [0.85 - gap, 0.95 - gap]: above 0.5 at every gap (0 to 0.31), so every set leaks.
    assert chest["points"] == 0
    assert "no point has an attack at chance" in leaky.summary_note(best)
    private = fidelity.FidelityChapter("tiny", False, results(leak_when_useful=False), n_boot=50)
    best = private.best_private()
    row = best.loc[("brain", "attack at chance")]
    assert (row["generator"], row["setting"], row["gap"]) == ("cpD-GAN", 10, 0.0)
    assert "cpD-GAN at the classes benchmark's setting 10 (gap +0.000" in private.summary_note(best)
    assert "it is also the most useful point overall" in private.summary_note(best)
    assert [v.holds for v in private.verdicts()] == [True, True, False, False]  # T8 undecided: constant attack
    assert private.verdicts()[2].status == "undecided"


def test_t7_in_inception_features_beside_the_classifier_s_where_the_table_has_them() -> None:
    table = results(leak_when_useful=True)
    table["fd_inception"] = 50 - 100 * table["gap"]  # Inception's distance falls as the gap grows: T7 fails there
    book = fidelity.FidelityChapter("paper", True, table, n_boot=100)
    assert book.has_inception()
    t7 = book.t7_by_features()
    own, inception = t7.loc[("chest", "real classifier's features")], t7.loc[("chest", "Inception features (FID)")]
    verdict = book.verdicts()[0]  # T7, chest: the classifier's row is T7's own numbers
    assert (own["Spearman rho"], own["95% low"], own["points"]) == pytest.approx(
        (verdict.numbers["rho"], verdict.numbers["rho_low"], verdict.numbers["points"]))
    assert own["T7"] == "holds" and inception["Spearman rho"] == pytest.approx(-1.0)
    assert inception["T7"] == "does not hold" and inception["points"] == 12
    note = book.inception_note(t7)
    assert "- **chest**: in Inception features (FID) Spearman's rho of distance and gap is -1.00" in note
    assert "T7 does not hold in Inception features, unlike in the classifier's (holds)." in note


def test_without_inception_columns_one_sentence_says_why() -> None:
    book = fidelity.FidelityChapter("tiny", False, results(leak_when_useful=True), n_boot=20)  # no fd_inception
    assert not book.has_inception()
    t7 = book.t7_by_features()
    assert list(t7.index.get_level_values("features").unique()) == ["real classifier's features"]
    note = book.inception_note(t7)
    assert note.startswith("This profile (`tiny`) has no Inception features: the FID Inception network's weights")
    assert "not available offline" in note and "does not compute them" in note and "\n" not in note
    nan = results(leak_when_useful=True).assign(fd_inception=float("nan"))
    paper = fidelity.FidelityChapter("paper", True, nan, n_boot=20)
    assert "none of its saved runs holds them" in paper.inception_note(paper.t7_by_features())


def test_figures_have_a_panel_per_modality_and_metric() -> None:
    book = fidelity.FidelityChapter("tiny", False, results(leak_when_useful=True), n_boot=20)
    fig = plots.fidelity_vs_gap(book.means, fidelity.METRICS, book.correlations(), modalities=fidelity.MODALITIES)
    assert len(fig.axes) == 2 * len(fidelity.METRICS) and fig.axes[0].get_title().startswith("chest: rho +1.00")
    frontier = plots.privacy_frontier(book.means, modalities=fidelity.MODALITIES)
    assert [ax.get_title() for ax in frontier.axes] == ["chest", "brain"]


def test_the_chapter_is_in_the_book_after_memorisation(tmp_path) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    names = [p.stem for p in toc_notebooks(root)]
    assert names.index("fidelity") == names.index("memorisation") + 1
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    assert any(c.get("file") == "notebooks/fidelity" for part in toc["parts"] for c in part["chapters"])
