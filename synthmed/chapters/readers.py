"""The readers chapter: the machine reader, the reader-study analysis and the reads planner.

Every verdict takes the chapter's `alpha`, and every interval shown beside a verdict is at the same level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from synthmed import profiles
from synthmed.reader import study
from synthmed.reader.responses import CONFIDENCE_RANGE, RESPONSE_COLUMNS, TRUTH_VALUES, read_responses

PLAN_ACCURACIES = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8)  # true accuracies the planner asks about


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


# --- the machine reader ---------------------------------------------------------------------------


@dataclass
class MachineReaders:
    """The machine reader at every modality and resolution: its held-out images and one row each."""

    images: dict[tuple[str, int], object]  # (modality, resolution) -> reader.machine.ReaderImages
    table: pd.DataFrame  # machine_read's rows, the interval and beats_chance at `alpha`
    alpha: float
    generator: str
    profile: str


def machine_readers(
    profile: str,
    seed: int,
    generator: str,
    resolutions: Sequence[int],
    sources: dict,
    *,
    alpha: float = study.DEFAULT_ALPHA,
    classifier_weights: str = "",
    precision: str = "",
) -> MachineReaders:
    """Train and test the machine reader on each modality's resolution-benchmark points (`run_point`, cached).

    The verdicts and intervals are `study.chance_tests` at `alpha`, in place of `machine_read`'s defaults.
    """
    from synthmed.experiments import run_point
    from synthmed.reader.machine import machine_read, point_images

    config = profiles.get(profile).classifier_config(seed=seed, weights=classifier_weights, precision=precision)
    images, rows = {}, []
    for modality, source in sources.items():
        for resolution in resolutions:
            run = run_point(modality, "resolution", resolution, generator, profile, seed, source=source,
                            classifier_weights=classifier_weights or None, precision=precision or None)
            images[modality, resolution] = point_images(run)
            rows.append(machine_read(images[modality, resolution], config, seed=seed))
    return MachineReaders(images, with_chance_tests(pd.DataFrame(rows), alpha), alpha, generator, profile)


def with_chance_tests(machine: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """The machine reader's rows with the exact interval and "beats chance" at `alpha`."""
    verdicts = study.chance_tests(machine, alpha, reads="n_test")
    return machine.assign(
        accuracy_low=verdicts["low"], accuracy_high=verdicts["high"], beats_chance=verdicts["beats_chance"]
    )


MACHINE_COLUMNS = ["modality", "resolution", "generator", "n_train", "n_test", "accuracy", "accuracy_low",
                   "accuracy_high", "p_vs_chance", "sensitivity", "specificity", "auc", "epochs"]


def machine_table(readers: MachineReaders) -> Styler:
    level = _level(readers.alpha)
    names = {"accuracy_low": f"{level} CI low", "accuracy_high": f"{level} CI high", "auc": "AUROC",
             "p_vs_chance": "p vs chance"}
    return (
        readers.table[MACHINE_COLUMNS]
        .rename(columns=names)
        .style.format(precision=3)
        .format({"p vs chance": "{:.2g}"})
        .hide(axis="index")
        .set_caption(f"Machine reader, real vs {readers.generator} images, profile {readers.profile}")
    )


def machine_note(machine: pd.DataFrame, alpha: float, *, profile: str, real_data: bool) -> str:
    """One sentence per setting and what the settings say together (`with_chance_tests`' rows)."""
    level = _level(alpha)
    sentences = [
        f"- **{r.modality}, {r.resolution}x{r.resolution}:** accuracy {r.accuracy:.2f} "
        f"({level} CI {r.accuracy_low:.2f}-{r.accuracy_high:.2f}) on {r.n_test} held-out images, "
        f"AUROC {r.auc:.2f}, p = {r.p_vs_chance:.2g} against chance: "
        + ("better than chance." if r.beats_chance else f"not distinguishable from chance at level {alpha:g}.")
        for r in machine.itertuples()
    ]
    n_beat = int(machine["beats_chance"].sum())
    parts = [f"The machine reader beat chance in **{n_beat} of {len(machine)}** settings."]
    if machine["resolution"].nunique() > 1:
        for modality, rows in machine.groupby("modality", sort=False):
            lo, hi = rows.sort_values("resolution").iloc[[0, -1]].itertuples()
            compared = (
                "higher than" if hi.accuracy > lo.accuracy
                else "lower than" if hi.accuracy < lo.accuracy else "the same as"
            )
            parts.append(
                f"For {modality}, its accuracy at {hi.resolution}x{hi.resolution} ({hi.accuracy:.2f}) is {compared} "
                f"at {lo.resolution}x{lo.resolution} ({lo.accuracy:.2f})."
            )
    if n_beat:
        parts.append(
            "Where it beats chance, the synthetic images carry a signature a classifier learns, whether or not "
            "people see it: 'readers are at chance' would not show that the images are indistinguishable."
        )
    if n_beat < len(machine):
        widest = machine.loc[~machine["beats_chance"], "accuracy_high"].max()
        parts.append(
            f"Where it does not, that is no proof of indistinguishable images either: its intervals there reach up "
            f"to {widest:.2f}, so a moderate signature is not ruled out."
        )
    parts.append(
        ("These are " if real_data else "These are phantom images and ")
        + f"the `{profile}` profile's generators and classifier; they show how the question is asked, not how the "
        "paper's GANs fare."
    )
    return "\n".join(sentences) + "\n\n" + " ".join(parts)


def held_out_examples(images: dict[tuple[str, int], object], per_kind: int = 4) -> tuple[list, list[str]]:
    """Images and titles for a grid: per modality and resolution, `per_kind` real then synthetic test images."""
    shown, titles = [], []
    for (modality, resolution), held_out in images.items():
        k = min(per_kind, len(held_out.real_test), len(held_out.synthetic_test))
        for kind, stack in (("real", held_out.real_test), ("synthetic", held_out.synthetic_test)):
            shown += list(stack[:k])
            titles += [f"{modality} {resolution}px\n{kind}"] * k
    return shown, titles


def quiz_items(readers: MachineReaders, modality: str, per_kind: int, seed: int) -> list:
    """The quiz's items: up to `per_kind` real and as many synthetic validation images (none of which the
    machine reader saw) of `modality` at the highest resolution it ran, shuffled (`reader.quiz.make_items`)."""
    from synthmed.reader.quiz import make_items

    resolution = max(r for m, r in readers.images if m == modality)
    source = readers.images[modality, resolution]
    n = min(per_kind, len(source.quiz_real), len(source.quiz_synthetic))
    return make_items(source.quiz_real, source.quiz_synthetic, n_per_class=n, modality=modality,
                      generator=readers.generator, seed=seed)


# --- the reader study ------------------------------------------------------------------------------


@dataclass
class Reads:
    """The reads the chapter analyses: from a responses file, or a SIMULATED panel when none is given."""

    responses: pd.DataFrame  # the responses schema plus `setting` (the group's name)
    by: list[str]  # the columns that make a setting
    simulated: bool
    source_name: str
    intro: str  # Markdown that says where the reads come from
    chosen_accuracy: dict[int, float]  # SIMULATED: resolution -> the chosen mean accuracy; else empty

    @property
    def label(self) -> str:
        return "SIMULATED panel: " if self.simulated else ""

    @property
    def source_tag(self) -> str:
        return "" if self.simulated else f" ({self.source_name})"


def reads(
    responses_csv: str,
    *,
    modalities: Sequence[str],
    generator: str,
    seed: int,
    sim_readers: int,
    sim_reads_per_reader: int,
    sim_accuracies: Sequence[Sequence[float]],
    sim_resolutions: Sequence[int],
) -> Reads:
    """The reads in `responses_csv` ("": a simulated panel with the `sim_` settings, labelled as such)."""
    chosen: dict[int, float] = {}
    if not responses_csv:
        responses = study.simulate_panels(sim_readers, sim_reads_per_reader, sim_accuracies, sim_resolutions,
                                          modalities, seed=seed, generator=generator)
        chosen = {r: float(np.mean(a)) for r, a in zip(sim_resolutions, sim_accuracies, strict=True)}
        source_name = "SIMULATED panel"
        intro = (
            f"> **SIMULATED.** No `responses_csv` was given, so every table and figure in this section "
            f"comes from a simulated panel: {sim_readers} made-up readers, each reading "
            f"{sim_reads_per_reader} images per modality and resolution, half of them synthetic, and "
            f"answering correctly with a probability we chose. They are not the paper's readers or "
            f"results, nor anyone's; they only show what the analysis reports. The chosen accuracies, averaged "
            f"over readers, are "
            + ", ".join(f"{a:.2f} at {r}px" for r, a in chosen.items())
            + ": chosen so that the analysis has settings at chance and above it to show, not to match the "
            "paper, whose numbers are unknown."
        )
    else:
        responses = read_responses(responses_csv)
        source_name = f"reads from {Path(responses_csv).name}"
        intro = (
            f"Analysing **{len(responses):,} reads** by **{responses['reader_id'].nunique()} readers** from "
            f"`{responses_csv}`."
        )
    by = ["modality", "resolution"] + (["generator"] if responses["generator"].nunique() > 1 else [])
    responses = responses.assign(setting=_setting_names(responses, by))
    return Reads(responses, by, not responses_csv, source_name, intro, chosen)


def _setting_names(table: pd.DataFrame, by: list[str]) -> pd.Series:
    return table[by].astype(str).agg(" ".join, axis=1) + "px"


def pooled(r: Reads, alpha: float, margin: float) -> pd.DataFrame:
    """`study.summarise` per setting, pooled over readers, with the setting's name."""
    table = study.summarise(r.responses, r.by, alpha=alpha, margin=margin)
    return table.assign(setting=_setting_names(table, r.by))


def pooled_table(r: Reads, table: pd.DataFrame, alpha: float, margin: float) -> Styler:
    level = _level(alpha)
    columns = {
        "n_readers": "readers",
        "n_reads": "reads",
        "accuracy": "accuracy",
        "cp_low": f"{level} CI low",
        "cp_high": f"{level} CI high",
        "cluster_low": f"{level} cluster CI low",
        "cluster_high": f"{level} cluster CI high",
        "p_vs_chance": "p vs chance",
        "tost_p": f"TOST p (±{margin:g})",
        "at_chance": "at chance (TOST)",
        "sensitivity": "sensitivity",
        "specificity": "specificity",
        "fleiss_kappa": "Fleiss' kappa",
    }
    shown = table[r.by + list(columns)].rename(columns=columns)
    if r.simulated:
        shown.insert(len(r.by), "chosen mean accuracy (SIMULATED)", table["resolution"].map(r.chosen_accuracy))
    return (
        shown.style.format(precision=3)
        .format({"p vs chance": "{:.2g}", f"TOST p (±{margin:g})": "{:.2g}"})
        .hide(axis="index")
        .set_caption(f"{r.label}accuracy per modality and resolution, pooled over readers{r.source_tag}")
    )


def per_reader_and_setting(r: Reads, alpha: float, margin: float) -> pd.DataFrame:
    """`study.summarise` per setting and reader (the forest plot's rows)."""
    return study.summarise(r.responses, ["setting", "reader_id"], alpha=alpha, margin=margin)


def per_reader_table(r: Reads, alpha: float, margin: float) -> Styler:
    """Each reader over all settings."""
    level = _level(alpha)
    overall = study.summarise(r.responses, ["reader_id"], alpha=alpha, margin=margin)
    return (
        overall[["reader_id", "n_reads", "accuracy", "cp_low", "cp_high", "p_vs_chance", "sensitivity", "specificity"]]
        .rename(columns={"cp_low": f"{level} CI low", "cp_high": f"{level} CI high", "p_vs_chance": "p vs chance"})
        .style.format(precision=3)
        .format({"p vs chance": "{:.2g}"})
        .hide(axis="index")
        .set_caption(f"{r.label}each reader over all settings{r.source_tag}")
    )


def study_note(r: Reads, table: pd.DataFrame, alpha: float, margin: float) -> str:
    """What the pooled analysis (`pooled`) finds: the clustered interval, TOST and binomial verdicts, kappa."""
    level = _level(alpha)
    lines = []
    if r.responses["reader_id"].nunique() >= 2:
        total = study.pooled_accuracy(r.responses, alpha)
        lines.append(
            f"Over all {total.n_reads:,} reads by {total.n_readers} readers, pooled accuracy is {total.accuracy:.3f}: "
            f"{level} interval {total.naive_low:.3f}-{total.naive_high:.3f} if every read were independent, "
            f"{total.low:.3f}-{total.high:.3f} when each reader's reads form a cluster ({total.method}). "
            f"The second is the honest one: with few readers who differ in skill, the number of readers, "
            f"not the number of reads, limits what a study can say."
        )
    at_chance = table[table["at_chance"]]["setting"].tolist()
    versus_chance = study.chance_tests(table, alpha)
    above = [
        f"{setting} ({level} CI {t.low:.2f}-{t.high:.2f})"
        for setting, t in zip(table["setting"], versus_chance.itertuples(), strict=True)
        if t.beats_chance
    ]
    lines.append(
        f"The TOST declares the pooled readers at chance (within 0.5 ± {margin:g}, p < {alpha:g}) for "
        f"{', '.join(at_chance) if at_chance else 'no setting'}; the binomial test at level {alpha:g} finds them "
        f"better than chance for {', '.join(above) if above else 'no setting'}. A setting in neither list is "
        f"inconclusive: its reads neither show readers beating chance nor pin them near it."
    )
    kappas = table["fleiss_kappa"].dropna()
    if len(kappas):
        lines.append(
            (
                f"Fleiss' kappa is {kappas.iloc[0]:.2f}"
                if kappas.min() == kappas.max()
                else f"Fleiss' kappa ranges from {kappas.min():.2f} to {kappas.max():.2f} across settings"
            )
            + ": near 0, readers agree on an image "
            "no more than their answer rates imply by chance; near 1, they call the same images synthetic."
        )
    if r.simulated:
        lines.append(
            "(SIMULATED: each simulated reader answers each image independently of the others, so kappa is near 0 "
            "by construction.)"
        )
    return ("**SIMULATED.** " if r.simulated else "") + " ".join(lines)


# --- planning a study --------------------------------------------------------------------------------


def read_plan(reads_per_setting: int, alpha: float, accuracies: Sequence[float] = PLAN_ACCURACIES) -> pd.DataFrame:
    """Reads needed for 80% and 90% power, and the power at `reads_per_setting`, per true accuracy."""
    return pd.DataFrame(
        {
            "true accuracy": list(accuracies),
            "reads for 80% power": [study.reads_needed(a, alpha, 0.8) for a in accuracies],
            "reads for 90% power": [study.reads_needed(a, alpha, 0.9) for a in accuracies],
            f"power with {reads_per_setting} reads": [
                study.power_of_test(reads_per_setting, a, alpha) for a in accuracies
            ],
        }
    )


def power_grid(plan: pd.DataFrame, alpha: float) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Numbers of reads up to twice the largest 90% need, and the power at each for every accuracy."""
    grid = np.unique(np.geomspace(10, 2 * plan["reads for 90% power"].max(), 300).astype(int))
    return grid, {a: study.power_of_test(grid, a, alpha) for a in plan["true accuracy"]}


def plan_note(plan: pd.DataFrame, reads_per_setting: int, source_name: str) -> str:
    """What the plan says for readers right 60% and 70% of the time (both must be in `plan`)."""
    row = plan.set_index("true accuracy")
    power_60 = row.loc[0.6, f"power with {reads_per_setting} reads"]
    return (
        f"To detect readers who are right 60% of the time with 80% power takes "
        f"**{row.loc[0.6, 'reads for 80% power']:,} reads**; 70% takes {row.loc[0.7, 'reads for 80% power']:,}. "
        f"With {reads_per_setting} reads per setting (the median in the {source_name}), the power to detect 60% is "
        f"{power_60:.0%}: "
        + (
            "at that size a result that is not significant says little about readers who are somewhat better "
            "than random."
            if power_60 < 0.8
            else "enough that readers who are right 60% of the time would usually be detected."
        )
    )


# --- the responses file ------------------------------------------------------------------------------


def responses_schema() -> Styler:
    """The responses CSV's columns and what each holds."""
    schema = pd.DataFrame({"column": list(RESPONSE_COLUMNS), "what it holds": list(RESPONSE_COLUMNS.values())})
    return schema.style.hide(axis="index").set_caption("The responses CSV: one row per read")


RESPONSES_NOTE = (
    f"`truth` and `answer` take the values {', '.join(f'`{v}`' for v in TRUTH_VALUES)}; confidence runs from "
    f"{CONFIDENCE_RANGE[0]} to {CONFIDENCE_RANGE[1]}. The loader, "
    "`synthmed.reader.responses.read_responses`, checks every row and reports each bad one by its line "
    "number; a reader may read an image only once, and an image's truth, modality and resolution must agree "
    "on every row that names it."
)
