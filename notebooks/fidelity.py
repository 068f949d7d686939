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
# # Fidelity, utility and privacy
#
# The paper asks whether synthetic images can stand in for real ones when data cannot be shared. It
# measures usefulness by the utility gap and looks for memorised images by eye
# {cite}`dumontschutte2021overcoming`. Two questions a reader will ask are left open there. Does the usual
# image-quality number, the Fréchet distance its GANs were early-stopped on, predict the utility gap? And how
# much does a synthetic set reveal about the patients it was trained on, the barrier the paper's title names?
# This chapter answers both for every point of every benchmark of the {doc}`classes`, {doc}`samples` and
# {doc}`resolution` chapters: the same runs, which this page makes (or loads from the caches) as they do.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: which saved results tables to read (and, if missing, to make)
seed = 0  # first seed of a sweep this page has to run itself, and the seed of the bootstrap intervals
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
n_seeds = None  # runs per point of a sweep run here; None: the profile's number
device = "auto"  # "auto": CUDA when present, else CPU
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
n_boot = 1000  # bootstrap resamples of the points for every rank correlation's interval

# %%
import logging

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from synthmed import plots
from synthmed.chapters import fidelity as chapter
from synthmed.experiments import sweep_seeds

logging.basicConfig(level=logging.WARNING)
logging.getLogger("synthmed.experiments.point").setLevel(logging.ERROR)  # DeLong notes: the benchmark chapters'
plots.style()
pd.set_option("display.max_colwidth", None)  # tables hold sentences
book = chapter.fidelity_chapter(profile, sweep_seeds(profile, seed, n_seeds), data_root=data_root, device=device,
                                classifier_weights=classifier_weights, precision=precision, n_boot=n_boot, seed=seed)
display(Markdown(book.data_note()))

# %% [markdown]
# ## What is measured, and where
#
# Every number on this page is computed in one feature space: the pooled features of the classifier trained on
# each point's real images, the space in which the CPU profiles early-stop their generators on a Fréchet
# distance and in which the {doc}`memorisation` chapter searches for nearest neighbours. (At the paper profile the
# fidelity metrics are also computed in the Inception features the paper early-stops on; the claims section
# puts T7 in both spaces side by side.) For each point and generator, the synthetic training split (one image per
# real training label vector) is compared with the real training split it imitates:
#
# - **Fréchet distance** between Gaussians fitted to both sets, and the **kernel inception distance** (KID,
#   an unbiased kernel two-sample statistic that, unlike the Fréchet distance, does not depend on the number of
#   images), with its spread over random subsets;
# - **precision** (the share of synthetic images that fall in the real images' region) and **recall** (the
#   share of real images that fall in the synthetic images' region) {cite}`kynkaanniemi2019improved`, and
#   their outlier-robust versions **density** and **coverage** {cite}`naeem2020reliable`.
#
# Lower distances and higher precision, recall, density and coverage mean a synthetic set more like the real
# one. Each set is capped at the profile's number of Fréchet images before its metric.
#
# Privacy is measured by attacking it. The black-box membership-inference attack of GAN-Leaks
# {cite}`chen2020ganleaks` holds only the released synthetic images and guesses that a real image was in the
# generator's training set when a synthetic image lies close to it. We score it on the generator's training
# images (members) against the point's real test images (non-members, never seen by the generator), equally
# many of each. Its area under the ROC curve is 0.5 when the synthetic set tells nothing about membership and 1
# when it gives every member away; the true-positive rate at a 1% false-positive rate says how many members an
# attacker finds while hardly ever accusing anyone wrongly {cite}`carlini2022membership`. A control runs the
# same attack with real validation images in place of the synthetic set: images that leak nothing, so its
# AUROC is what "chance" is in this feature space (the classifier that gives the features was trained on the
# members). Beside the attack: the {doc}`memorisation` chapter's statistic, the share of synthetic images
# closer to a training image than 95% of new real images are (5% if they sit like new real images).

# %% [markdown]
# ## Does fidelity predict utility?
#
# Each dot is one point: a benchmark setting and a generator, averaged over seeds. Colours are generators,
# shapes benchmarks; the title of each panel gives Spearman's rank correlation with the gap.

# %%
rho = book.correlations()
plt.show(plots.fidelity_vs_gap(book.means, chapter.METRICS, rho, modalities=chapter.MODALITIES))
display(book.correlation_table(rho))
display(Markdown(book.correlation_note(rho)))

# %% [markdown]
# The points mix benchmarks, so they differ in more than their generator: in the number of label
# combinations, the images per combination and the resolution, and each point measures in the features of its
# own real-trained classifier. A rank correlation across such points asks whether the fidelity number orders
# synthetic sets by usefulness whatever else changed, which is how it is used when a generator is chosen.

# %% [markdown]
# ## What the synthetic sets give away
#
# The privacy-utility frontier: the attack's AUROC (bars: its 95% bootstrap interval) against the gap. The
# dashed line is chance, the dotted line the control attack's mean. Points low and to the left are useful and
# private; a frontier that rises to the left would mean usefulness is paid for in privacy.

# %%
plt.show(plots.privacy_frontier(book.means, modalities=chapter.MODALITIES))
display(book.privacy_table())
display(Markdown(book.privacy_note()))

# %% [markdown]
# ## The claims
#
# Neither is the paper's: **T7**, a lower Fréchet distance goes with a smaller utility gap (Spearman's rho of
# distance and gap above 0 with its bootstrap interval above 0); **T8**, the more useful synthetic sets leak more
# (rho of attack AUROC and gap below 0, interval below 0). Both are checked per modality over every point.

# %%
display(Markdown(book.claims_markdown()))

# %% [markdown]
# The Fréchet distance of T7 depends on the features it is measured in. The paper early-stopped its GANs on the
# standard FID, in the features of an Inception network trained on photographs; where this profile computes the
# fidelity panel in those features too, T7's correlation in both spaces:

# %%
t7 = book.t7_by_features()
if book.has_inception():
    display(t7.round(2))
display(Markdown(book.inception_note(t7)))

# %% [markdown]
# ## For sharing data
#
# The use the paper motivates: release a synthetic set instead of the real one. Per modality, the most useful
# point (smallest gap) among those whose attack is at chance (its interval contains 0.5), beside the most useful
# point of all.

# %%
best = book.best_private()
display(best.round(3))
display(Markdown(book.summary_note(best)))

# %% [markdown]
# An attack at chance is not a guarantee. The attack sees the classifier's features, not the pixels a person
# would recognise, and a stronger attacker (with access to the generator, or to other images of the same
# patients) may do better. With small test splits the intervals are wide, so "at chance" may only mean "not
# measurable here". A guarantee needs a differentially private generator, which neither the paper nor this book
# trains.
