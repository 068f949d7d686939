# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["remove-cell", "install"]
# Opened in Colab, Binder or a Jupyter without synthmed, this cell installs it (with CPU torch where torch is
# missing); where synthmed is installed (make book, papermill, the tests) it does nothing. The notebooks that the
# book's launch buttons open run at the tiny profile (next code cell), sized for a free session.
try:
    import synthmed  # noqa: F401
except ImportError:
    import pathlib
    import sys

    _repo = pathlib.Path.cwd().parent  # a clone (Binder, JupyterHub) installs itself, anywhere else from GitHub
    _source = _repo.as_uri() if (_repo / "synthmed" / "__init__.py").is_file() else "git+REPOSITORY@REF"
    # %pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu "synthmed[labels] @ {_source}"
    if "google.colab" in sys.modules:  # Colab shows ipywidgets 8 through its custom widget manager only
        from google.colab import output

        output.enable_custom_widget_manager()

# %% [markdown]
# # Can readers tell?
#
# The paper asked trained radiologists to tell real images from synthetic ones
# {cite}`dumontschutte2021overcoming`. If experts cannot, synthetic images look real enough to
# stand in for the originals; if they can, something in them gives them away. This chapter says
# what is known of that study and what is not, asks the same question of a machine (a small
# classifier trained to spot synthetic images), shows how this project analyses a reader study,
# and gives the quiz with which anyone can add reads.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, GAN and classifier sizes
seed = 0  # GANs, classifiers, the machine reader's validation split, the quiz draw, the simulated panel
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
generator = "cpD-GAN"  # whose synthetic images the machine reader and the quiz use (cpD-GAN or prog-GAN)
resolutions = None  # resolution-benchmark points for the machine reader; None: the profile's (cpu: 32, 64)
responses_csv = ""  # responses CSV to analyse (absolute, or relative to notebooks/); "": SIMULATED panel
alpha = 0.05  # level of the tests; intervals are 1 - alpha
margin = 0.1  # TOST: an accuracy within 0.5 +/- margin counts as "at chance" (fix it before seeing reads)
sim_readers = 4  # SIMULATED panel: readers ...
sim_reads_per_reader = 60  # ... reads per reader and per modality and resolution ...
sim_resolutions = [32, 64, 128]  # ... the resolutions it pretends were shown ...
sim_accuracies = [  # ... and each reader's chosen true accuracy at each of those resolutions
    [0.50, 0.46, 0.54, 0.52],
    [0.55, 0.50, 0.60, 0.52],
    [0.70, 0.62, 0.78, 0.66],
]
quiz_modality = "chest"  # the quiz shown below uses this modality at the highest resolution run
quiz_images_per_kind = 5  # real and as many synthetic images in the quiz shown below
quiz_display_size = 256  # pixels on screen

# %%
import logging
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from synthmed import plots, profiles
from synthmed.experiments import load_sources, run_point
from synthmed.reader import study
from synthmed.reader.machine import machine_read, point_images
from synthmed.reader.quiz import Quiz, make_items
from synthmed.reader.responses import CONFIDENCE_RANGE, RESPONSE_COLUMNS, TRUTH_VALUES, read_responses

logging.basicConfig(level=logging.WARNING)
plots.style()
modalities = ("chest", "brain")
resolutions = tuple(resolutions or profiles.get(profile).reader_resolutions)
sources = load_sources(profile, modalities, data_root or None)

# %% [markdown]
# ## The paper's study: what is known
#
# Only the paper's abstracts could be read for this project; its body, with the reader study's
# methods and results, could not. What the abstracts say:
#
# - The readers were "trained radiologists" (several), and the task was to tell synthetic from real
#   images, for both modalities: chest radiographs and brain CT slices.
# - The first arXiv version (November 2020) says the radiologists did "not perform better than
#   random" on both modalities "to a statistically significant extent". That implies a test against
#   chance (50%); the abstracts do not say which test.
# - The third arXiv version (August 2021) says they were not better than random "for intermediate
#   levels of resolutions" and that their accuracy "increases at higher spatial resolution levels";
#   the journal version (September 2021) says their accuracy "improves with an increasing
#   resolution". So the final study showed images at several resolutions. That these were the
#   benchmark's 32, 64 and 128 pixels is a guess.
#
# **Not known:** the number of radiologists and of images, the share of real images, the
# resolutions shown, which generator made the synthetic images, how images were shown, the
# statistical test, and every result (accuracies, p-values, intervals). The paper's repository has
# no reader-study code. This chapter therefore states none of the paper's reader-study numbers: the
# analysis below runs on reads collected with this project's quiz, or, until there are some, on a
# panel we simulate, labelled as such wherever it appears.

# %% [markdown]
# ## A machine reader
#
# Readers at chance do not make synthetic images indistinguishable: a classifier trained for the
# purpose may still separate them. That matters for the paper's argument that synthetic images can
# be shared in place of real ones. The machine reader (not part of the paper) is the profile's
# classifier with a single output, "synthetic". For each modality and resolution of the resolution
# benchmark it is trained on the point's real training images against the synthetic training split
# (one image per real label vector, sampled from the point's generator, as the benchmark chapters
# do), with a fifth of those held back to choose its decision threshold. It is tested on images
# neither it nor the quiz has seen: the real test split, and as many new synthetic images generated
# for the test split's label vectors. The quiz below uses the validation splits, so no image is in
# both. Like a human reader it is reported by accuracy, with an exact (Clopper-Pearson) interval
# {cite}`clopper1934` and the exact binomial test against chance.

# %%
config = profiles.get(profile).classifier_config(seed=seed, weights=classifier_weights, precision=precision)
reader_images, machine_rows = {}, []
for modality in modalities:
    for resolution in resolutions:
        run = run_point(
            modality, "resolution", resolution, generator, profile, seed, source=sources[modality],
            classifier_weights=classifier_weights or None, precision=precision or None,
        )
        images = reader_images[modality, resolution] = point_images(run)
        machine_rows.append(machine_read(images, config, seed=seed))
machine = pd.DataFrame(machine_rows)
# "Beats chance" at this chapter's alpha, with the exact interval at the same alpha in place of machine_read's.
verdicts = study.chance_tests(machine, alpha, reads="n_test")
machine = machine.assign(
    accuracy_low=verdicts["low"], accuracy_high=verdicts["high"], beats_chance=verdicts["beats_chance"]
)
machine_level = 1 - alpha
display(
    machine[
        [
            "modality",
            "resolution",
            "generator",
            "n_train",
            "n_test",
            "accuracy",
            "accuracy_low",
            "accuracy_high",
            "p_vs_chance",
            "sensitivity",
            "specificity",
            "auc",
            "epochs",
        ]
    ]
    .rename(
        columns={
            "accuracy_low": f"{machine_level:.0%} CI low",
            "accuracy_high": f"{machine_level:.0%} CI high",
            "auc": "AUROC",
            "p_vs_chance": "p vs chance",
        }
    )
    .style.format(precision=3)
    .format({"p vs chance": "{:.2g}"})
    .hide(axis="index")
    .set_caption(f"Machine reader, real vs {generator} images, profile {profile}")
)

# %%
plt.show(
    plots.reader_accuracy(
        machine,
        n="n_test",
        title=f"Machine reader: accuracy on held-out real and {generator} images ({machine_level:.0%} CI)",
    )
)

# %%
n_beat = int(machine["beats_chance"].sum())
sentences = [
    f"- **{r.modality}, {r.resolution}x{r.resolution}:** accuracy {r.accuracy:.2f} "
    f"({machine_level:.0%} CI {r.accuracy_low:.2f}-{r.accuracy_high:.2f}) on {r.n_test} held-out images, "
    f"AUROC {r.auc:.2f}, p = {r.p_vs_chance:.2g} against chance: "
    + ("better than chance." if r.beats_chance else f"not distinguishable from chance at level {alpha:g}.")
    for r in machine.itertuples()
]
parts = [f"The machine reader beat chance in **{n_beat} of {len(machine)}** settings."]
if len(resolutions) > 1:
    for modality, rows in machine.groupby("modality", sort=False):
        lo, hi = rows.sort_values("resolution").iloc[[0, -1]].itertuples()
        compared = (
            "higher than" if hi.accuracy > lo.accuracy else "lower than" if hi.accuracy < lo.accuracy else "the same as"
        )
        parts.append(
            f"For {modality}, its accuracy at {hi.resolution}x{hi.resolution} ({hi.accuracy:.2f}) is {compared} "
            f"at {lo.resolution}x{lo.resolution} ({lo.accuracy:.2f})."
        )
if n_beat:
    parts.append(
        "Where it beats chance, the synthetic images carry a signature a classifier learns, whether or not people "
        "see it: 'readers are at chance' would not show that the images are indistinguishable."
    )
if n_beat < len(machine):
    widest = machine.loc[~machine["beats_chance"], "accuracy_high"].max()
    parts.append(
        f"Where it does not, that is no proof of indistinguishable images either: its intervals there reach up to "
        f"{widest:.2f}, so a moderate signature is not ruled out."
    )
parts.append(
    ("These are phantom images and " if not data_root else "These are ")
    + f"the `{profile}` profile's generators and classifier; they show how the question is asked, not how the "
    "paper's GANs fare."
)
display(Markdown("\n".join(sentences) + "\n\n" + " ".join(parts)))

# %% [markdown]
# Some of the held-out test images the machine reader judged: for each modality and resolution,
# four real images, then four synthetic ones.

# %%
shown, titles = [], []
for (modality, resolution), images in reader_images.items():
    k = min(4, len(images.real_test), len(images.synthetic_test))
    for kind, stack in (("real", images.real_test), ("synthetic", images.synthetic_test)):
        shown += list(stack[:k])
        titles += [f"{modality} {resolution}px\n{kind}"] * k
plt.show(plots.image_grid(shown, titles, ncols=8, size=1.4))

# %% [markdown]
# ## Analysing a reader study
#
# A reader study produces one row per *read*: one reader's answer, real or synthetic, for one image
# (the format is at the end of this chapter). For each group of reads (each reader; each modality and
# resolution, pooled over readers) the analysis gives accuracy with Clopper-Pearson and Wilson
# intervals and the exact two-sided binomial test against 0.5; sensitivity (synthetic images called
# synthetic) and specificity (real images called real); the two one-sided tests (TOST)
# {cite}`schuirmann1987` of "accuracy lies within 0.5 ± margin", which can *support* "at chance",
# where a non-significant binomial test only fails to reject it; Fleiss' kappa {cite}`fleiss1971`
# for agreement between readers on the images all of them read; and a pooled accuracy whose interval
# treats each reader's reads as a cluster {cite}`liang1986`, since readers differ in skill and their
# reads are not independent.

# %%
simulated = not responses_csv
if simulated:
    responses = study.simulate_panels(sim_readers, sim_reads_per_reader, sim_accuracies, sim_resolutions, modalities,
                                      seed=seed, generator=generator)
    source_name, source_tag = "SIMULATED panel", ""
    display(
        Markdown(
            f"> **SIMULATED.** No `responses_csv` was given, so every table and figure in this section "
            f"comes from a simulated panel: {sim_readers} made-up readers, each reading "
            f"{sim_reads_per_reader} images per modality and resolution, half of them synthetic, and "
            f"answering correctly with a probability we chose. They are not the paper's readers or "
            f"results, nor anyone's; they only show what the analysis reports. The chosen accuracies, averaged "
            f"over readers, are "
            + ", ".join(f"{np.mean(a):.2f} at {r}px" for r, a in zip(sim_resolutions, sim_accuracies, strict=True))
            + ": chosen so that the analysis has settings at chance and above it to show, not to match the "
            "paper, whose numbers are unknown."
        )
    )
else:
    responses = read_responses(responses_csv)
    source_name = f"reads from {Path(responses_csv).name}"
    source_tag = f" ({source_name})"
    display(
        Markdown(
            f"Analysing **{len(responses):,} reads** by **{responses['reader_id'].nunique()} readers** from "
            f"`{responses_csv}`."
        )
    )
label = "SIMULATED panel: " if simulated else ""
by = ["modality", "resolution"] + (["generator"] if responses["generator"].nunique() > 1 else [])
responses = responses.assign(setting=responses[by].astype(str).agg(" ".join, axis=1) + "px")
level = f"{1 - alpha:.0%}"

# %%
pooled = study.summarise(responses, by, alpha=alpha, margin=margin)
pooled["setting"] = pooled[by].astype(str).agg(" ".join, axis=1) + "px"
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
table = pooled[by + list(columns)].rename(columns=columns)
if simulated:
    chosen = {r: float(np.mean(a)) for r, a in zip(sim_resolutions, sim_accuracies, strict=True)}
    table.insert(len(by), "chosen mean accuracy (SIMULATED)", pooled["resolution"].map(chosen))
display(
    table.style.format(precision=3)
    .format({"p vs chance": "{:.2g}", f"TOST p (±{margin:g})": "{:.2g}"})
    .hide(axis="index")
    .set_caption(f"{label}accuracy per modality and resolution, pooled over readers{source_tag}")
)

# %%
per_reader = study.summarise(responses, ["setting", "reader_id"], alpha=alpha, margin=margin)
plt.show(
    plots.reader_forest(
        per_reader,
        pooled,
        margin=margin,
        simulated=simulated,
        title=f"each reader ({level} exact CI), pooled (diamond, {level} cluster-robust CI); "
        f"shaded: chance ± {margin:g}{source_tag}",
    )
)
plt.show(
    plots.reader_accuracy(
        pooled,
        low="cluster_low",
        high="cluster_high",
        n="n_reads",
        simulated=simulated,
        title=f"pooled accuracy per resolution, {level} cluster-robust CI{source_tag}",
    )
)

# %%
overall = study.summarise(responses, ["reader_id"], alpha=alpha, margin=margin)
display(
    overall[["reader_id", "n_reads", "accuracy", "cp_low", "cp_high", "p_vs_chance", "sensitivity", "specificity"]]
    .rename(columns={"cp_low": f"{level} CI low", "cp_high": f"{level} CI high", "p_vs_chance": "p vs chance"})
    .style.format(precision=3)
    .format({"p vs chance": "{:.2g}"})
    .hide(axis="index")
    .set_caption(f"{label}each reader over all settings{source_tag}")
)

# %%
lines = []
if responses["reader_id"].nunique() >= 2:
    total = study.pooled_accuracy(responses, alpha)
    lines.append(
        f"Over all {total.n_reads:,} reads by {total.n_readers} readers, pooled accuracy is {total.accuracy:.3f}: "
        f"{level} interval {total.naive_low:.3f}-{total.naive_high:.3f} if every read were independent, "
        f"{total.low:.3f}-{total.high:.3f} when each reader's reads form a cluster ({total.method}). "
        f"The second is the honest one: with few readers who differ in skill, the number of readers, "
        f"not the number of reads, limits what a study can say."
    )
at_chance = pooled[pooled["at_chance"]]["setting"].tolist()
versus_chance = study.chance_tests(pooled, alpha)
above = [
    f"{setting} ({level} CI {t.low:.2f}-{t.high:.2f})"
    for setting, t in zip(pooled["setting"], versus_chance.itertuples(), strict=True)
    if t.beats_chance
]
lines.append(
    f"The TOST declares the pooled readers at chance (within 0.5 ± {margin:g}, p < {alpha:g}) for "
    f"{', '.join(at_chance) if at_chance else 'no setting'}; the binomial test at level {alpha:g} finds them "
    f"better than chance for {', '.join(above) if above else 'no setting'}. A setting in neither list is "
    f"inconclusive: its reads neither show readers beating chance nor pin them near it."
)
kappas = pooled["fleiss_kappa"].dropna()
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
if simulated:
    lines.append(
        "(SIMULATED: each simulated reader answers each image independently of the others, so kappa is near 0 "
        "by construction.)"
    )
display(Markdown(("**SIMULATED.** " if simulated else "") + " ".join(lines)))

# %% [markdown]
# ## How many reads does a study need?
#
# Whether a study can tell "at chance" from "a little better" depends on how many reads it has. For
# a true accuracy, the power of the exact two-sided binomial test against 0.5 is the chance of a
# significant result; it rises with the number of reads in a saw-tooth, because the test is
# discrete. The planner below gives the number of reads from which the power stays at or above the
# target. It assumes independent reads, as the binomial test does; with readers who differ in skill,
# more are needed. These are exact calculations, not data.

# %%
accuracies = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8]
reads_per_setting = int(pooled["n_reads"].median())
plan = pd.DataFrame(
    {
        "true accuracy": accuracies,
        "reads for 80% power": [study.reads_needed(a, alpha, 0.8) for a in accuracies],
        "reads for 90% power": [study.reads_needed(a, alpha, 0.9) for a in accuracies],
        f"power with {reads_per_setting} reads": [study.power_of_test(reads_per_setting, a, alpha) for a in accuracies],
    }
)
display(
    plan.style.format(precision=3)
    .hide(axis="index")
    .set_caption(f"Reads needed: the exact two-sided binomial test at level {alpha:g}")
)
grid = np.unique(np.geomspace(10, 2 * plan["reads for 90% power"].max(), 300).astype(int))
plt.show(
    plots.power_curves(
        grid,
        {a: study.power_of_test(grid, a, alpha) for a in accuracies},
        target=0.8,
        needed=dict(zip(accuracies, plan["reads for 80% power"], strict=True)),
        title=f"Power of the exact binomial test against chance (level {alpha:g}); dots: reads for 80% power",
    )
)
row = plan.set_index("true accuracy")
power_60 = row.loc[0.6, f"power with {reads_per_setting} reads"]
display(
    Markdown(
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
)

# %% [markdown]
# ## The quiz
#
# The quiz shows a balanced, shuffled set of real and synthetic images one at a time, with *Real*
# and *Synthetic* buttons and a confidence slider. It times each answer, writes each one to the
# responses file at once, and lets a reader stop and resume later from the same file. The page
# holds only the image and an opaque id, never the answer. Below is its first screen, on a few
# validation images (none of which the machine reader saw); in the static book the buttons do
# nothing.

# %%
quiz_resolution = max(resolutions)
quiz_source = reader_images[quiz_modality, quiz_resolution]
quiz_n = min(quiz_images_per_kind, len(quiz_source.quiz_real), len(quiz_source.quiz_synthetic))
quiz_items = make_items(
    quiz_source.quiz_real,
    quiz_source.quiz_synthetic,
    n_per_class=quiz_n,
    modality=quiz_modality,
    generator=generator,
    seed=seed,
)
quiz_file = Path(tempfile.mkdtemp(prefix="synthmed-quiz-")) / "reads.csv"  # nothing is written until an answer
quiz = Quiz(quiz_items, quiz_file, reader_id="book-preview", display_size=quiz_display_size)
display(
    Markdown(
        f"{len(quiz_items)} images ({quiz_n} real, {quiz_n} synthetic from {generator}), {quiz_modality} at "
        f"{quiz_resolution}x{quiz_resolution}, shown at {quiz_display_size}x{quiz_display_size} pixels:"
    )
)

# %% tags=["widget"]
display(quiz.widget)

# %% [markdown]
# ### Running the quiz and contributing reads
#
# In Jupyter (JupyterLab or Notebook, with ipywidgets), after `pip install -e .` in the repository:
#
# ```python
# from synthmed.experiments import run_point
# from synthmed.reader.machine import point_images
# from synthmed.reader.quiz import Quiz, make_items
#
# run = run_point("chest", "resolution", 64, "cpD-GAN", "cpu", seed=0)  # cached if the book was built
# images = point_images(run)
# items = make_items(images.quiz_real, images.quiz_synthetic, n_per_class=20,
#                    modality="chest", generator="cpD-GAN", seed=1)
# quiz = Quiz(items, "reads-chest-64.csv", reader_id="reader-07",
#             reader_experience="radiology resident, 2 years", display_size=512)
# quiz.widget
# ```
#
# - Every reader of one study should use the same `make_items` arguments and `seed`, so all of them
#   see the same images under the same ids (Fleiss' kappa needs images read by every reader).
# - `reader_id` is a pseudonym; `reader_experience` is free text. Run the same cell again to resume:
#   the quiz skips the images this reader has answered in that file.
# - Several readers may share one file or keep one each. To analyse, concatenate the files with
#   `pandas.concat([read_responses(p) for p in files])` and save the result with
#   `synthmed.reader.responses.write_responses`, then set this chapter's `responses_csv` parameter to
#   that file (for `synthmed book`, under `notebooks: readers:` in the profile's file in `params/`,
#   and rebuild with `--force`: the book re-executes a chapter when its parameters change, not when
#   the file's contents do).
# - To contribute reads, share the CSV file: it holds ids, answers, confidence and times, no images
#   and no names.
#
# The responses file is plain UTF-8 CSV with a header row naming these columns (in any order; extra
# columns are kept):

# %%
schema = pd.DataFrame({"column": list(RESPONSE_COLUMNS), "what it holds": list(RESPONSE_COLUMNS.values())})
display(schema.style.hide(axis="index").set_caption("The responses CSV: one row per read"))
display(
    Markdown(
        f"`truth` and `answer` take the values {', '.join(f'`{v}`' for v in TRUTH_VALUES)}; confidence runs from "
        f"{CONFIDENCE_RANGE[0]} to {CONFIDENCE_RANGE[1]}. The loader, "
        "`synthmed.reader.responses.read_responses`, checks every row and reports each bad one by its line "
        "number; a reader may read an image only once, and an image's truth, modality and resolution must agree "
        "on every row that names it."
    )
)
