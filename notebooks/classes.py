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
# # Fewer label combinations
#
# Does a generator make more useful data when it has fewer kinds of images to learn? The paper's
# *classes* benchmark {cite}`dumontschutte2021overcoming` keeps only the *k* most frequent label
# combinations ("classes") of each dataset and trains both GANs, and a classifier on real and on
# synthetic images, at each *k*: 20, 15, 10, 6, 4 and 2 combinations for chest radiographs and
# 10, 8, 6, 4 and 2 for brain CT, all at 32x32. The training images per combination grow as *k*
# falls (chest 1,450 at 20 combinations up to 6,300 at 2; brain 2,500 up to 12,500, about 25,000
# in all at every point; the paper's repository), so each point has a similar amount of data.
#
# The paper's finding (its npj abstract): synthetic data performance "disproportionately benefits
# from a reduced number of classes"; in the teaser figure of its repository (drawn below in its
# own panel) the utility gap of cpD-GAN shrinks several-fold from the most to the fewest chest
# combinations, and cpD-GAN beats prog-GAN at every point. This chapter runs the same benchmark on
# our data and checks both statements.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, network widths, training length, settings swept
seed = 0  # first seed of the runs; a point with several runs uses seed, seed + 1, ...
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
n_seeds = None  # runs per point; None: the profile's number (synthmed.profiles: tiny 1, cpu 1, paper 3)
chest_settings = None  # numbers of combinations for chest; None: the profile's (cpu: 20, 6, 2)
brain_settings = None  # numbers of combinations for brain; None: the profile's (cpu: 10, 6, 2)
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
BENCHMARK = "classes"
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
# One row per benchmark point: the number of label combinations, the label columns left after
# dropping those without a positive training image (the paper's rule), and the split sizes. Each
# point trains a real-trained classifier once and, per generator, a GAN and a synthetic-trained
# classifier; all are tested on the same real test images.

# %%
display(chapter.points().drop(columns="train_per_combination"))
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
# The paper's two statements about this benchmark, checked on our results (means over runs first;
# definitions in `synthmed.claims`), and the same checks on the paper's published values at our
# settings. A claim that does not hold on our data is reported as such.

# %%
display(Markdown(chapter.claims_markdown()))

# %%
display(chapter.side_by_side())

# %%
display(Markdown(chapter.precision_note("170 per combination for chest, 200 for brain")))

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
#   dataset's size against the real one) multiplies every count, and the training-set factor shrinks
#   the per-combination training counts, never the test and validation splits. The `cpu` profile
#   sweeps three of the paper's settings per modality, trains narrow GANs for a few thousand images
#   (the paper: 12 million) and a compact CNN instead of DenseNet-121 on 224x224 inputs.
# - **Early stopping.** The Fréchet distance that stops GAN training is computed in the features of
#   the point's own real-trained classifier, not Inception's (no weights can be downloaded here).
# - **Runs.** The CPU profiles run each point once; the paper drew error bars from repeated runs
#   whose number is not known.
