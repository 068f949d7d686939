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
# # Samples per class
#
# How many training images per label combination does a generator need before its synthetic data
# is as useful as the real data? The paper's *samples* benchmark {cite}`dumontschutte2021overcoming`
# fixes the combinations (chest: every combination with more than 7,400 images; brain: the six most
# frequent) and the validation and test sets (750 and 750 images per combination for chest, 500 and
# 500 for brain), and trains both GANs and the classifiers on 5,950, 4,500, 3,000, 1,500, 1,000,
# 500, 400 and 200 chest images per combination (brain: 5,400 down to 100). Smaller training sets
# are subsets of the larger ones, so each point only takes images away (the paper's repository).
#
# The paper's finding (its npj abstract): "at low numbers of samples per class, label overfitting
# effects start to dominate GAN training". In the teaser figure of its repository the real-trained
# AUROC stays nearly flat down to about 1,000-1,500 images per combination and then falls, while the
# brain cpD-GAN curve bends earlier (drawn below in its own panel). This chapter runs the benchmark
# on our data and checks whether the synthetic curves fall earlier or faster than the real.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, network widths, training length, settings swept
seed = 0  # first seed of the runs; a point with several runs uses seed, seed + 1, ...
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
n_seeds = None  # runs per point; None: the profile's number (synthmed.profiles: tiny 1, cpu 1, paper 3)
chest_settings = None  # chest images per combination (paper's numbers); None: profile's (cpu: 5950, 1000, 200)
brain_settings = None  # brain images per combination (paper's numbers); None: profile's (cpu: 5400, 1000, 100)
device = "auto"  # "auto": CUDA when present, else CPU
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
workers = None  # processes running the two modalities at once; None: the profile's (cpu: 2 of one thread each)

# %%
import logging

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from synthmed import paper_results, plots, widgets
from synthmed.chapters import benchmark_chapter

logging.basicConfig(level=logging.WARNING)
pd.set_option("display.max_colwidth", None)  # tables hold sentences
plots.style()
BENCHMARK = "samples"
chapter = benchmark_chapter(
    BENCHMARK,
    profile,
    seed=seed,
    n_seeds=n_seeds,
    chest_settings=chest_settings,
    brain_settings=brain_settings,
    data_root=data_root,
    device=device,
    workers=workers,
    classifier_weights=classifier_weights,
    precision=precision,
)
results = chapter.results

# %% [markdown]
# ## What was run
#
# One row per benchmark point. The setting is the paper's number of training images per
# combination; our profile multiplies it by its benchmark scale, so the actual count per combination
# is `n_train` divided by the number of combinations. Validation and test sets are the same at every
# point of a modality.

# %%
display(chapter.points())
for note in chapter.skipped_notes():
    display(Markdown(note))

# %% [markdown]
# ## Mean AUROC and utility gap
#
# Left: the mean AUROC over labels on the real test split of the classifier trained on real
# images and of those trained on each generator's images. Right: the utility gap, real minus
# synthetic. Error bars are 95% bootstrap intervals over test images; with several runs per point
# a band shows one standard deviation across runs.

# %%
fig = plots.benchmark_curves(results, title=chapter.title)
plt.show(fig)

# %% [markdown]
# For comparison only, the paper's published values, digitised from the teaser figure of its
# repository. They come from the real CheXpert and RSNA data with the paper's full-size models and
# are drawn on their own figure, never on ours.

# %%
fig = plots.paper_curves(
    paper_results.paper_values(benchmark=BENCHMARK),
    f"{paper_results.LABEL}\n{paper_results.SOURCE}",
)
plt.show(fig)

# %% [markdown]
# ## Claims check
#
# The paper's two statements about this benchmark, T1 and T3, checked on our results (means over
# runs first; definitions in `synthmed.claims`), and the same checks on the paper's published values
# at our settings. T3 holds when the synthetic AUROC loses more than the real one from the largest
# to the middle setting ("earlier") or from the largest to the smallest ("faster"). A claim that
# does not hold on our data is reported as such.

# %%
display(Markdown(chapter.claims_markdown()))

# %%
display(chapter.side_by_side())

# %%
smallest = int(chapter.points()["train_per_combination"].min())
display(
    Markdown(
        chapter.precision_note("750 per combination for chest, 500 for brain")
        + f" At the smallest settings our classifiers and GANs see only {smallest} images per combination."
    )
)

# %% [markdown]
# ## Explore
#
# Pick a modality, a generator and a label (a single modality lists its labels) to see the curves
# for it. Every choice was drawn when the book was built, so the explorer works on the static page
# as in a live notebook; it opens on the figure above.

# %%
explorer = widgets.benchmark_explorer(results, chapter.label_results, title=chapter.title)

# %% tags=["widget"]
display(explorer)

# %% [markdown]
# ## Where we differ from the paper
#
# - **Data.** Unless `data_root` points at the real downloads, the images are phantoms: rendered
#   findings on synthetic anatomy, with CheXpert's real label rows for the chest set. What makes a
#   combination hard to generate is therefore different from real radiographs and CT.
# - **Scale.** The benchmark scale (the dataset's size against the real one, see {doc}`data`)
#   multiplies every count; nothing else shrinks this benchmark's per-combination counts, its axis, so
#   where the scale is 1 they are the paper's. The `cpu` profile sweeps three of the paper's eight
#   settings per modality (largest, middle, smallest), trains
#   narrow GANs for a few thousand images (the paper: 12 million) and a compact CNN instead of
#   DenseNet-121 on 224x224 inputs.
# - **Early stopping.** The Fréchet distance that stops GAN training is computed in the features of
#   the point's own real-trained classifier, not Inception's (no weights can be downloaded here).
# - **Runs.** The CPU profiles run each point once; the paper drew error bars from repeated runs
#   whose number is not known.
