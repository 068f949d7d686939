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

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from synthmed import plots, profiles
from synthmed.chapters import readers as chapter
from synthmed.experiments import load_sources
from synthmed.reader.page_quiz import page_quiz

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
machine = chapter.machine_readers(profile, seed, generator, resolutions, sources, alpha=alpha,
                                  classifier_weights=classifier_weights, precision=precision)
display(chapter.machine_table(machine))

# %%
plt.show(
    plots.reader_accuracy(
        machine.table,
        n="n_test",
        title=f"Machine reader: accuracy on held-out real and {generator} images ({1 - alpha:.0%} CI)",
    )
)

# %%
display(Markdown(chapter.machine_note(machine.table, alpha, profile=profile, real_data=bool(data_root))))

# %% [markdown]
# Some of the held-out test images the machine reader judged: for each modality and resolution,
# four real images, then four synthetic ones.

# %%
plt.show(plots.image_grid(*chapter.held_out_examples(machine.images), ncols=8, size=1.4))

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
reads = chapter.reads(responses_csv, modalities=modalities, generator=generator, seed=seed,
                      sim_readers=sim_readers, sim_reads_per_reader=sim_reads_per_reader,
                      sim_accuracies=sim_accuracies, sim_resolutions=sim_resolutions)
display(Markdown(reads.intro))

# %%
pooled = chapter.pooled(reads, alpha, margin)
display(chapter.pooled_table(reads, pooled, alpha, margin))

# %%
level = f"{1 - alpha:.0%}"
per_reader = chapter.per_reader_and_setting(reads, alpha, margin)
plt.show(
    plots.reader_forest(
        per_reader,
        pooled,
        margin=margin,
        simulated=reads.simulated,
        title=f"each reader ({level} exact CI), pooled (diamond, {level} cluster-robust CI); "
        f"shaded: chance ± {margin:g}{reads.source_tag}",
    )
)
plt.show(
    plots.reader_accuracy(
        pooled,
        low="cluster_low",
        high="cluster_high",
        n="n_reads",
        simulated=reads.simulated,
        title=f"pooled accuracy per resolution, {level} cluster-robust CI{reads.source_tag}",
    )
)

# %%
display(chapter.per_reader_table(reads, alpha, margin))

# %%
display(Markdown(chapter.study_note(reads, pooled, alpha, margin)))

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
reads_per_setting = int(pooled["n_reads"].median())
plan = chapter.read_plan(reads_per_setting, alpha)
display(
    plan.style.format(precision=3)
    .hide(axis="index")
    .set_caption(f"Reads needed: the exact two-sided binomial test at level {alpha:g}")
)
grid, power = chapter.power_grid(plan, alpha)
plt.show(
    plots.power_curves(
        grid,
        power,
        target=0.8,
        needed=dict(zip(plan["true accuracy"], plan["reads for 80% power"], strict=True)),
        title=f"Power of the exact binomial test against chance (level {alpha:g}); dots: reads for 80% power",
    )
)
display(Markdown(chapter.plan_note(plan, reads_per_setting, reads.source_name)))

# %% [markdown]
# ## The quiz
#
# Try it: the quiz below runs in your browser, on this page, with no kernel and nothing sent
# anywhere. It shows a fixed, shuffled mix of real and synthetic validation images (none of which
# the machine reader saw) one at a time; answer *Real* or *Synthetic* and say how sure you are.
# After the last image it shows your accuracy with its exact (Clopper-Pearson) interval and the
# exact binomial test against chance, computed by the same rules as `synthmed.reader.study` at this
# chapter's `alpha`, and offers your answers as a CSV in the responses format below, ready to
# analyse or to contribute. The page holds each image's truth only as a salted hash, so it cannot be
# read off the page before you answer (the script can recover it: a static page cannot hide it from a
# determined reader; the kernel quiz below keeps it in Python).

# %%
quiz_items = chapter.quiz_items(machine, quiz_modality, quiz_images_per_kind, seed)
first = quiz_items[0]
display(
    Markdown(
        f"{len(quiz_items)} images (half real, half synthetic from {generator}), {quiz_modality} at "
        f"{first.resolution}x{first.resolution}, shown at {quiz_display_size}x{quiz_display_size} pixels:"
    )
)
display(page_quiz(quiz_items, alpha=alpha, display_size=quiz_display_size))

# %% [markdown]
# ### Running the quiz and contributing reads
#
# In Jupyter (JupyterLab or Notebook, with ipywidgets), after `pip install -e .` in the repository:
#
# ```python
# from synthmed.experiments import run_point
# from synthmed.reader.machine import point_images
# from synthmed.reader.page_quiz import page_quiz
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
# - To share the in-page quiz outside the book, `page_quiz(items).save("quiz.html")` writes it as a
#   page of its own.
#
# The responses file is plain UTF-8 CSV with a header row naming these columns (in any order; extra
# columns are kept):

# %%
display(chapter.responses_schema())
display(Markdown(chapter.RESPONSES_NOTE))
