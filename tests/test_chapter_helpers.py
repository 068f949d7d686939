"""What the chapters say is computed by `synthmed.chapters`, from the numbers they are given.

The notebooks call these functions and show what they return; the book build runs them end to end on the
tiny profile. Here each one meets tables built by hand, so that a wrong number, a verdict at the wrong
alpha or a sentence that ignores its input fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthmed import claims
from synthmed.analysis.neighbours import memorisation
from synthmed.chapters import memorisation as memorisation_chapter
from synthmed.chapters import readers, summary, utility
from synthmed.reader import study

ROOT = Path(__file__).resolve().parents[1]
MAX_NOTEBOOK_CODE_LINES = 110  # a chapter's code outside its parameters and install cells (issue 15: thin notebooks)


def machine_rows(n_correct: list[int], n_test: int = 40) -> pd.DataFrame:
    rows = []
    for k, resolution in zip(n_correct, (32, 64, 128), strict=False):
        low, high = study.clopper_pearson(k, n_test)
        rows.append({"modality": "chest", "resolution": resolution, "generator": "cpD-GAN", "n_train": 200,
                     "n_test": n_test, "n_correct": k, "accuracy": k / n_test, "accuracy_low": low,
                     "accuracy_high": high, "p_vs_chance": study.binomial_p_value(k, n_test), "sensitivity": 0.5,
                     "specificity": 0.5, "auc": 0.6, "epochs": 3})
    return pd.DataFrame(rows)


def test_the_machine_readers_verdict_and_interval_follow_the_chapters_alpha() -> None:
    # 27 of 40 correct: p = 0.038, so it beats chance at alpha 0.05 and not at 0.01.
    rows = machine_rows([27, 20])
    at_05, at_01 = readers.with_chance_tests(rows, 0.05), readers.with_chance_tests(rows, 0.01)
    assert list(at_05["beats_chance"]) == [True, False]
    assert list(at_01["beats_chance"]) == [False, False]
    assert at_01.loc[0, "accuracy_low"] == pytest.approx(study.clopper_pearson(27, 40, 0.01)[0])
    assert at_01.loc[0, "accuracy_low"] < at_05.loc[0, "accuracy_low"]

    note_05 = readers.machine_note(at_05, 0.05, profile="cpu", real_data=False)
    note_01 = readers.machine_note(at_01, 0.01, profile="cpu", real_data=False)
    assert "beat chance in **1 of 2**" in note_05 and "beat chance in **0 of 2**" in note_01
    low, high = study.clopper_pearson(27, 40, 0.01)
    assert f"99% CI {low:.2f}-{high:.2f}" in note_01
    assert "not distinguishable from chance at level 0.01" in note_01
    assert "accuracy at 64x64 (0.50) is lower than at 32x32 (0.68)" in note_05
    assert "phantom images" in note_05
    assert "phantom" not in readers.machine_note(at_05, 0.05, profile="cpu", real_data=True)


def simulated_reads(accuracies=((0.5, 0.5, 0.5, 0.5), (0.9, 0.9, 0.9, 0.9))) -> readers.Reads:
    return readers.reads("", modalities=("chest",), generator="cpD-GAN", seed=3, sim_readers=4,
                         sim_reads_per_reader=60, sim_accuracies=[list(a) for a in accuracies],
                         sim_resolutions=[32, 64])


def test_a_simulated_panel_is_labelled_and_its_verdicts_come_from_its_reads() -> None:
    reads = simulated_reads()
    assert reads.simulated and "SIMULATED" in reads.intro and reads.chosen_accuracy == {32: 0.5, 64: 0.9}
    pooled = readers.pooled(reads, 0.05, 0.1)
    assert list(pooled["setting"]) == ["chest 32px", "chest 64px"]
    note = readers.study_note(reads, pooled, 0.05, 0.1)
    assert note.startswith("**SIMULATED.**")
    verdicts = study.chance_tests(pooled, 0.05)
    assert not verdicts.loc[0, "beats_chance"] and verdicts.loc[1, "beats_chance"]
    low, high = verdicts.loc[1, "low"], verdicts.loc[1, "high"]
    assert f"better than chance for chest 64px (95% CI {low:.2f}-{high:.2f})" in note
    caption = readers.pooled_table(reads, pooled, 0.05, 0.1).caption
    assert caption.startswith("SIMULATED panel:")


def test_reads_from_a_file_are_analysed_as_read(tmp_path: Path) -> None:
    path = tmp_path / "reads.csv"
    from synthmed.reader.responses import write_responses

    write_responses(simulated_reads().responses.drop(columns="setting"), path)
    reads = readers.reads(str(path), modalities=("chest",), generator="cpD-GAN", seed=0, sim_readers=1,
                          sim_reads_per_reader=1, sim_accuracies=[[0.5]], sim_resolutions=[32])
    assert not reads.simulated and reads.source_name == "reads from reads.csv"
    assert f"**{len(reads.responses):,} reads** by **4 readers**" in reads.intro
    assert "SIMULATED" not in readers.study_note(reads, readers.pooled(reads, 0.05, 0.1), 0.05, 0.1)


def test_the_read_plan_is_the_exact_binomial_calculation() -> None:
    plan = readers.read_plan(120, 0.05)
    row = plan.set_index("true accuracy").loc[0.6]
    assert row["reads for 80% power"] == study.reads_needed(0.6, 0.05, 0.8)
    assert row["power with 120 reads"] == pytest.approx(study.power_of_test(120, 0.6, 0.05))
    note = readers.plan_note(plan, 120, "SIMULATED panel")
    assert f"**{study.reads_needed(0.6, 0.05, 0.8):,} reads**" in note
    assert "says little" in note  # 120 reads give well under 80% power at 60%
    grid, power = readers.power_grid(plan, 0.05)
    assert grid.max() >= plan["reads for 90% power"].max() and set(power) == set(plan["true accuracy"])


def gap_row(p: float, gap: float = 0.1) -> dict:
    return {"modality": "chest", "generator": "cpD-GAN", "gap": gap, "gap_low": gap - 0.05, "gap_high": gap + 0.05,
            "delong_p": p}


def test_the_gap_verdict_reads_delongs_p_at_the_given_level() -> None:
    rows = pd.DataFrame([gap_row(0.03), gap_row(0.2), gap_row(float("nan")), gap_row(0.001, gap=-0.1)])
    lines = utility.gap_note(rows).split("\n")
    assert "real-trained classifier is better at the 5% level" in lines[0]
    assert "not significant at the 5% level" in lines[1]
    assert "undefined" in lines[2]
    assert "synthetic-trained classifier is better" in lines[3]
    assert "not significant at the 1% level" in utility.gap_note(rows, alpha=0.01).split("\n")[0]


def test_the_paper_auc_note_says_when_the_paper_would_have_used_no_test_image() -> None:
    def step(modality, name, n_test, n_used, auc, flipped, paper, below):
        return {"modality": modality, "trained on": name, "test images": n_test, "used by the paper": n_used,
                "labels below 0.5": below, "auc": auc, "auc_flipped": flipped, "auc_paper": paper}

    steps = pd.DataFrame([
        step("chest", "real", 120, 100, 0.80, 0.81, 0.82, 1),
        step("chest", "cpD-GAN", 120, 100, 0.60, 0.66, 0.65, 4),
        step("brain", "real", 30, 0, 0.70, 0.70, float("nan"), 0),
        step("brain", "cpD-GAN", 30, 0, 0.50, 0.58, float("nan"), 3),
    ])
    note = utility.paper_auc_note(steps)
    assert "would have used 100 of the 120 test images (dropping 20)" in note
    assert "the gap is +0.200 with the standard AUC, +0.150 with the flip alone, with both quirks +0.170" in note
    assert "**brain**: the test split has 30 images" in note and "**none**" in note
    assert "+0.120 with the flip alone." in note  # no truncated value where the paper would have used none


def test_the_memorisation_note_and_table_come_from_the_statistic() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(50, 8))
    copies = train[:20] + 1e-3 * rng.normal(size=(20, 8))  # a generator that copies its training images
    fresh = rng.normal(size=(30, 8))
    remembered = {"chest, copier": memorisation(copies, fresh, train, 5.0),
                  "chest, fresh": memorisation(rng.normal(size=(20, 8)), fresh, train, 5.0)}
    table = memorisation_chapter.memorisation_table(remembered)
    assert table.loc["chest, copier", "fraction below"] == 1.0
    assert table.loc["chest, copier", "ratio of medians"] < 0.1
    note = memorisation_chapter.memorisation_note(remembered, 5.0)
    assert "**chest, copier**: 100% of 20 synthetic images" in note and "i.e. closer to it" in note
    assert "as few as 30 test images" in note and "fewer than 20 test images" in note


def test_the_summary_counts_the_checks_it_is_given() -> None:
    checks = pd.DataFrame({"chapter": ["a"] * 4, "claim": ["T1"] * 4, "scope": list("wxyz"),
                           "ours": ["holds", "does not hold", "undecided", "holds"],
                           "our numbers": [""] * 4, "paper": ["holds", "holds", "does not hold", "no values"],
                           "paper's statement": [""] * 4})
    result = summary.Summary("tiny", False, {}, {}, {}, checks)
    note = result.checks_note()
    assert "On our phantom data, profile `tiny`, **2 of 4** checks hold (1 could not be decided)" in note
    assert "**2 of 3** of the checks that have published values hold" in note
    assert list(result.checks_table().columns) == ["ours", "our numbers", "paper", "paper's statement"]


def test_the_summary_states_the_sweeps_training_length_from_the_profile() -> None:
    from synthmed import generators, profiles

    tiny = profiles.get("tiny")
    expected = max(tiny.gan_config(a, tiny.classes_resolution, 1).total_kimg for a in generators.GAN_ARCH.values())
    assert claims.sweep_kimg("tiny") == expected
    assert claims.sweep_kimg("paper") > claims.sweep_kimg("cpu") > claims.sweep_kimg("tiny")


def code_lines(path: Path) -> int:
    """Lines of code in a jupytext percent notebook, outside markdown, parameters and install cells."""
    cells = re.split(r"^# %%", path.read_text(), flags=re.M)[1:]
    count = 0
    for cell in cells:
        head, _, body = cell.partition("\n")
        if any(tag in head for tag in ("[markdown]", "parameters", "install")):
            continue
        count += sum(1 for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return count


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.py")), ids=lambda p: p.stem)
def test_chapter_notebooks_stay_thin(notebook: Path) -> None:
    lines = code_lines(notebook)
    assert lines <= MAX_NOTEBOOK_CODE_LINES, (
        f"{notebook.name} has {lines} lines of code outside its parameters: move the computing into "
        f"synthmed.chapters (at most {MAX_NOTEBOOK_CODE_LINES})"
    )


def test_the_cost_note_compares_measured_sampling_rates() -> None:
    from synthmed.chapters import generators as generators_chapter

    costs = pd.DataFrame({"modality": ["chest"] * 3 + ["brain"] * 3,
                          "generator": ["cpD-GAN", "prog-GAN", "DDIM"] * 2,
                          "sampling (images/s)": [4000.0, 5000.0, 100.0, 4200.0, 5200.0, 140.0]})
    note = generators_chapter.cost_note(costs.set_index(["modality", "generator"]))
    assert note.startswith("Averaged over the modalities, prog-GAN samples fastest (5,100 images/s here)")
    assert "cpD-GAN about as fast, DDIM 42 times slower." in note


def test_a_profile_that_leaves_a_generator_out_says_why() -> None:
    from synthmed import generators, profiles
    from synthmed.chapters import generators as generators_chapter

    assert generators_chapter.left_out_note("tiny") == ""
    note = generators_chapter.left_out_note("cpu")
    assert note.startswith("**DDIM is not run at the `cpu` profile:**")
    left_out = set(profiles.get("cpu").left_out_generators)
    assert set(generators.book_names("cpu")) == set(generators.book_names()) - left_out


def test_denoising_curves_draw_the_loss_and_mark_the_kept_evaluation() -> None:
    from synthmed import plots

    log = [{"kind": "tick", "nimg": n, "kimg": n / 1000, "loss": 1.0 / (1 + n)} for n in (100, 200, 300)]
    log += [{"kind": "fd", "nimg": 200, "kimg": 0.2, "fd": 5.0}, {"kind": "fd", "nimg": 300, "kimg": 0.3, "fd": 7.0},
            {"kind": "stop", "nimg": 300, "kimg": 0.3}]
    fig = plots.denoising_curves({"DDIM": log}, title="t")
    loss_ax, fd_ax = fig.axes
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [1 / 101, 1 / 201, 1 / 301])
    star = [line for line in fd_ax.lines if line.get_marker() == "*"][0]
    assert list(star.get_xdata()) == [0.2] and list(star.get_ydata()) == [5.0]
    # A GAN figure given the diffusion log draws it on the Fréchet panel only.
    gan_fig = plots.training_curves({"DDIM": log})
    assert sum(len(ax.lines) for ax in gan_fig.axes[:4]) == 0 and len(gan_fig.axes[4].lines) >= 2


def test_the_cost_note_speaks_of_the_diffusion_model_only_where_it_ran() -> None:
    from synthmed.chapters import generators as generators_chapter

    gans = pd.DataFrame({"modality": ["chest", "chest"], "generator": ["cpD-GAN", "prog-GAN"],
                         "sampling (images/s)": [450.0, 220.0]}).set_index(["modality", "generator"])
    note = generators_chapter.cost_note(gans)
    assert "prog-GAN 2 times slower" in note and "U-Net" not in note


def test_the_stopping_note_reads_each_runs_own_patience_from_its_log() -> None:
    from types import SimpleNamespace

    from synthmed.chapters import generators as generators_chapter
    from synthmed.chapters.shared import SharedPoints

    def run(reason):
        return SimpleNamespace(trained=SimpleNamespace(stop_reason=reason, stop_value=1.5, best_kimg=4.0,
                                                       train_kimg=6.0))

    runs = {("chest", "cpD-GAN"): run("patience"), ("chest", "DDIM"): run("total_kimg")}
    logs = {("chest", "cpD-GAN"): [{"kind": "fd", "fd_images": 64, "evals_since_best": 0},
                                   {"kind": "fd", "fd_images": 64, "evals_since_best": 3}],
            ("chest", "DDIM"): [{"kind": "fd", "fd_images": 32, "evals_since_best": 1}]}
    note = generators_chapter.stopping_note(SharedPoints("tiny", 0, {"chest": ("classes", 20)}, runs, False), logs)
    cpd, ddim = note.split("\n")
    assert "2 evaluations" in cpd and "on 64 real" in cpd and "(no improvement for 3 evaluations)" in cpd
    assert "1 evaluations" in ddim and "(end of the schedule)" in ddim
