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
# # Playground
#
# Run one benchmark point yourself: pick a modality, a benchmark and its setting, a generator, how
# long the generator trains (a factor on the profile's schedule: 1 is what the benchmark chapters
# ran) and how many epochs the classifiers may train, then press *Run*. The point runs end to end
# in the kernel, as every chapter's points do (`synthmed.experiments.run_point`): the real-trained
# classifier, the generator, one synthetic image per real label vector, the synthetic-trained
# classifier, both tested on the same real test images. It then shows some samples, the per-label
# AUROCs and the utility gap beside the book's own result at the nearest setting. Every step is
# cached, so running the same choice again is instant. At the default choice it takes one to three
# minutes on a laptop CPU at the `cpu` profile, seconds at `tiny`.
#
# **Running needs a live kernel.** On the published page the controls do nothing; open the page in
# Binder, Colab or JupyterHub with the launch buttons at the top, or run the notebook locally. Below
# the controls is a run recorded when the book was built, at the default choice.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: the data, networks and schedules the playground's runs start from
seed = 0  # the recorded run's seed (and the controls' first value)
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
record = True  # run the default choice when the notebook runs, so the static page shows a recorded run

# %%
import logging

from IPython.display import Markdown, display

from synthmed import plots
from synthmed.chapters import playground

logging.basicConfig(level=logging.WARNING)
plots.style()
choice = playground.default_choice(profile, seed)
options = {"data_root": data_root, "classifier_weights": classifier_weights, "precision": precision}
panel = playground.controls(profile, choice, **options)

# %% tags=["widget"]
display(panel)

# %% [markdown]
# ## A recorded run

# %%
if record:
    playground.show(playground.run(choice, profile, progress=False, **options), profile)
else:
    display(Markdown("No run was recorded (`record = False`)."))

# %% [markdown]
# The book's runs at the same point trained the generator on the profile's full schedule and the
# classifiers for up to the profile's epochs, so a shorter run here usually shows a larger gap:
# try a longer training length, or the same choice at another seed to see how much one run varies.
