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
# # Results summary
#
# Every claim the benchmark chapters check, in one table: the paper's statement, our numbers, and
# whether it holds on our results and on the paper's published values. The table is built from the
# results tables the chapters {doc}`classes`, {doc}`samples` and {doc}`resolution` saved; a table
# that is missing (this page run on its own) is computed here by running its sweep, from the caches
# where they hold the runs.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: which saved results tables to read (and, if missing, to make)
seed = 0  # first seed of a sweep this page has to run itself (seed, seed + 1, ...)
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
n_seeds = None  # runs per point of a sweep run here; None: the profile's number
device = "auto"  # "auto": CUDA when present, else CPU
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)

# %%
import logging

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from synthmed import claims, plots
from synthmed.chapters import summary as chapter
from synthmed.experiments import sweep_seeds

logging.basicConfig(level=logging.WARNING)
plots.style()
pd.set_option("display.max_colwidth", None)  # tables hold sentences
results = chapter.summary(profile, sweep_seeds(profile, seed, n_seeds), data_root=data_root, device=device,
                          classifier_weights=classifier_weights, precision=precision)

# %% [markdown]
# ## At a glance
#
# Each claim per benchmark and modality, on our results and on the paper's published values at our
# settings: **ours / paper**, ✓ holds, ✗ does not hold, ? cannot be decided, – no published values
# (the resolution benchmark's figure gives none). T1 compares the paper's two GANs; T2-T4 are
# checked per generator. The sentences behind every mark are further down.

# %%
display(claims.claims_matrix(results.checks))

# %% [markdown]
# Our mean-AUROC curves (left of each pair) beside the paper's published ones (right, on a tinted
# ground), for every benchmark and modality; error bars are our runs' 95% bootstrap intervals.

# %%
plt.show(plots.ours_beside_paper(results.tables, results.paper_tables()))

# %% [markdown]
# ## The results tables
#
# One row per saved table: its runs, the settings and seeds they cover, whether its runs were there
# (saved by its chapter) or some or all were computed on this page, and the asked-for runs that
# neither could make (a setting whose subset cannot be built), so a partial table never reads as complete.

# %%
display(results.inventory())

# %% [markdown]
# ## Every claim, with its numbers
#
# T1: cpD-GAN above prog-GAN at most points (every benchmark). T2: the gap at the fewest label
# combinations is smaller than at the most (classes). T3: synthetic AUROC falls earlier or faster
# than real as samples per class fall (samples). T4: the gap at the highest resolution is not
# larger than at the lowest (resolution). Each check averages over runs first and, for the paper's
# side, uses the paper's published values at our settings (`synthmed.claims`).

# %%
display(results.checks_table())

# %%
display(Markdown(results.checks_note()))

# %% [markdown]
# ## Did the synthetic images carry label information?
#
# A claim about how the utility gap moves is only informative when synthetic-trained classifiers
# learned something: if they sit at chance (AUROC 0.5) everywhere, the gap just follows the real
# AUROC. Per modality and generator, over every run of every benchmark: the mean real-trained
# AUROC, the range of synthetic-trained AUROCs, and how many runs have a synthetic AUROC whose
# bootstrap interval lies entirely above 0.5.

# %%
signal = results.signal()
display(signal)
display(Markdown(results.signal_note(signal)))

# %% [markdown]
# A check that holds on the paper's values but not on ours is a difference between the two setups,
# not a refutation: our data are phantoms unless `data_root` points at the real datasets, and the
# CPU profiles use small networks, short GAN training, a few settings per benchmark and one run per
# point. A check that fails on the paper's own values says the statement, in the form tested here,
# is stronger than the paper's figures support.
