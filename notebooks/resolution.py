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
# # Resolution
#
# Do generators make more useful data at higher resolution, where findings are larger in pixels but
# there is more to generate? The paper's *resolution* benchmark {cite}`dumontschutte2021overcoming`
# keeps every label combination with more than 256 chest images (brain: more than 110, with the
# no-finding slices cut to about as many as the haemorrhage slices), trains on the whole training
# split of patients and tests on about 4,000 images, at 32x32, 64x64 and 128x128, the resolutions
# its GANs have presets for (the paper's repository).
#
# The paper's finding: its figure for this benchmark was not available to us (the teaser figure of
# its repository shows only the classes and samples benchmarks), so there are no published numbers
# to set beside ours. Its first arXiv abstract says that
# "synthetic data generation can benefit from higher levels of spatial resolution"; the later
# abstracts add that radiologists tell synthetic from real images more easily at higher resolution.
# This chapter checks the first statement in its weakest form: the utility gap at the highest
# resolution is not larger than at the lowest.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, network widths, training length, settings swept
seed = 0  # first seed of the runs; a point with several runs uses seed, seed + 1, ...
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
n_seeds = None  # runs per point; None: the profile's number (synthmed.profiles: tiny 1, cpu 1, paper 3)
chest_settings = None  # chest resolutions (px); None: the profile's (cpu: 32, 64; tiny: 8, 16)
brain_settings = None  # brain resolutions (px); None: the profile's (cpu: 32, 64; tiny: 8, 16)
device = "auto"  # "auto": CUDA when present, else CPU
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
workers = None  # processes running the two modalities at once; None: the profile's (cpu: 2 of one thread each)

# %%
import logging

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from synthmed import plots, widgets
from synthmed.chapters import benchmark_chapter

logging.basicConfig(level=logging.WARNING)
pd.set_option("display.max_colwidth", None)  # tables hold sentences
plots.style()
BENCHMARK = "resolution"
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
# One row per benchmark point. All resolutions of a modality share one subset of images; only the
# image size the GANs and classifiers see changes.

# %%
display(chapter.points().drop(columns="resolution"))
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
# The paper's published figures give no values for this benchmark (the teaser figure of its
# repository shows only the classes and samples benchmarks), so there is no "paper, real
# CheXpert/RSNA" panel here.

# %% [markdown]
# ## Claims check
#
# T1 and T4 checked on our results (means over runs first; definitions in `synthmed.claims`). With no
# published values, the paper's side of each check stays empty. A claim that does not hold on our
# data is reported as such.

# %%
display(Markdown(chapter.claims_markdown()))

# %%
display(chapter.side_by_side())

# %%
display(Markdown(chapter.precision_note("about 4,000")))

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
# - **Scale.** Counts follow the profile's two factors (see {doc}`data`): the benchmark scale (the
#   dataset's size against the real one) multiplies every count, and the training-set factor keeps a
#   random fraction of the training split, never of the test and validation splits. The `cpu` profile
#   runs 32x32 and 64x64 only (not 128x128), trains narrow GANs for a few thousand images (the paper:
#   12 to 16 million) and a compact CNN instead of DenseNet-121 on 224x224 inputs.
# - **Early stopping.** The Fréchet distance that stops GAN training is computed in the features of
#   the point's own real-trained classifier, not Inception's (no weights can be downloaded here).
# - **Runs.** The CPU profiles run each point once; the paper drew error bars from repeated runs
#   whose number is not known.
