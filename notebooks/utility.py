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
# # Utility of synthetic data
#
# The paper's yardstick for a synthetic dataset is what it is good for
# {cite}`dumontschutte2021overcoming`: train the same classifier once on the real training images
# and once on synthetic images drawn for the same label vectors, test both on the **same real test
# images**, and compare. The difference in mean AUROC is the **utility gap**: 0 means the synthetic
# set could have replaced the real one for this task, a positive gap is what was lost.
#
# This chapter does that for one benchmark point per modality and both of the paper's generators,
# and looks at the result from several sides: per-label AUCs with confidence intervals, ROC curves,
# the gap with its confidence interval and a paired test, and what the paper's own, non-standard
# AUC computation would have reported.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, network widths, training length
seed = 0  # GAN and classifier seed: initial weights, data order, latents, bootstrap
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
chest_benchmark = ""  # the chest benchmark point (classes, samples or resolution); "": the profile's shared point
chest_setting = None  # ... and its setting; None: the shared point's (cpu: classes 20, the paper's largest)
brain_benchmark = ""  # the brain benchmark point; "": the profile's shared point ...
brain_setting = None  # ... (cpu: classes 10, the paper's largest brain classes point)

# %%
import logging

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from synthmed import plots
from synthmed.chapters import utility as chapter
from synthmed.chapters.shared import shared_points
from synthmed.classify.models import ClassifierConfig

logging.basicConfig(level=logging.WARNING)
plots.style()
shared = shared_points(profile, seed, chest_benchmark=chest_benchmark, chest_setting=chest_setting,
                       brain_benchmark=brain_benchmark, brain_setting=brain_setting, data_root=data_root,
                       classifier_weights=classifier_weights, precision=precision,
                       prepare=False)  # the generators chapter trained them
rows = shared.rows()
classifier = shared.settings.classifier_config(seed=seed, weights=classifier_weights, precision=precision)

# %% [markdown]
# ## The classifier
#
# The paper trained a DenseNet-121 {cite}`huang2017densenet` starting from ImageNet weights, on the
# stored image resized to 224x224, with a sigmoid output per label and binary cross-entropy. Adam,
# batches of 48 and random horizontal flips; an "epoch" of about 5,000 images, the mean validation
# AUROC after each, the learning rate divided by 10 after 2 epochs without improvement and a stop
# after 3, keeping the best weights. The synthetic-trained classifier is validated on synthetic
# images drawn for the validation labels and tested on the real test split.

# %%
n_parameters = sum(p.numel() for p in shared.first("chest").real_model.parameters())
display(Markdown(chapter.classifier_note(classifier, ClassifierConfig.paper(), n_parameters, profile)))

# %% [markdown]
# The runs. Each real-trained classifier is shared by both generators of its point; every step is
# cached, so the other chapters that use these points (generators, memorisation) reuse them. Their
# generators train on the profile's schedule for shared points (`Profile.shared_gan_preset`); at
# `cpu` that is sixteen times the G steps of the benchmark sweeps' schedule, so at the same point the
# classes chapter's synthetic AUROCs come from shorter runs than these. `kimg` is the number of thousand
# images the generator's discriminator saw when the sampled checkpoint was taken (the best one when
# the patience stopped the run, else the last, as the paper's code), and `FD` the best Fréchet
# distance (in the real classifier's feature space at the CPU profiles, FID at paper) of the run.

# %%
display(rows[chapter.RUN_COLUMNS].rename(columns={"sampled_kimg": "kimg", "stop_value": "FD"}))

# %% [markdown]
# ## Per-label AUC
#
# For each label, the ROC AUC of the three classifiers on the real test split, with a 95% bootstrap
# interval (test images resampled with replacement, all labels together). A label that has only
# positives or only negatives among the test images has no AUC ("n/a"); the mean AUROC averages
# over the labels that have both. The dotted line is chance.

# %%
for modality in shared.points:
    evaluation, title = chapter.per_label_evaluation(shared, modality)
    plt.show(plots.auc_bars(evaluation, title=title))

# %%
display(Markdown(chapter.auc_note(shared, shared.settings.n_boot)))

# %% [markdown]
# ## ROC curves
#
# The curves behind the AUCs: for each label with both classes among the test images, true against
# false positive rate as the decision threshold moves, one curve per classifier, all on the same
# real test images. The number of positive and negative test images is in each panel's title.

# %%
for modality in shared.points:
    first = shared.first(modality)
    plt.show(plots.roc_curves(first.arrays["test"][1], shared.test_scores(modality), list(first.subset.labels),
                              title=first.subset.point.name))

# %% [markdown]
# ## The utility gap
#
# The gap is mean AUROC (real-trained) minus mean AUROC (synthetic-trained), on the same test
# images. Its 95% interval is a paired bootstrap: each resample of the test images scores both
# classifiers, so what the two have in common (a hard test set, a rare label) cancels. The p-value is
# DeLong's paired test {cite}`delong1988comparing` of the difference of the two mean AUROCs, whose
# variance DeLong's method estimates from the test images without resampling. The two are different
# procedures, so near the boundary one can call a difference significant and the other not.

# %%
plt.show(plots.utility_gaps(rows))
display(rows[chapter.GAP_COLUMNS].round(4))

# %%
display(Markdown(chapter.gap_note(rows)))

# %%
display(Markdown(chapter.paper_scale_note()))

# %% [markdown]
# ## The paper's AUC
#
# The paper's evaluation code differs from the standard AUC in two ways. It evaluated the test set
# in whole batches of 50, so only the first ⌊N/50⌋·50 test images counted and the rest were dropped
# ("truncated" below). And it replaced any per-label AUC below 0.5 by 1 - AUC ("flipped"): a
# classifier that ranks a finding backwards is credited as if it ranked it the right way round. The
# flip can only raise a mean AUROC, and it raises a weak classifier's most, because a classifier
# near chance has the most labels just below 0.5, so it tends to shrink the gap. We report the
# standard AUC everywhere else and the paper's variant only here, beside it, one step at a time.

# %%
steps = chapter.paper_auc_steps(shared)
display(steps.round(4))

# %%
display(Markdown(chapter.paper_auc_note(steps)))

# %% [markdown]
# ## Where this differs from the paper
#
# - **Data.** Unless `data_root` points at the real downloads, every image here is a phantom made
#   by `synthmed` (see {doc}`data`), so these AUCs say how hard the phantoms are, not how hard
#   chest X-rays or head CT are. The benchmark counts are the paper's times the profile's benchmark
#   scale, and the training sets that are not an axis also times its training-set factor (see {doc}`data`).
# - **Classifier.** At the `cpu` and `tiny` profiles a compact CNN replaces DenseNet-121 and is
#   trained from scratch (no ImageNet weights exist for it, and these profiles download nothing);
#   the `paper` profile fine-tunes torchvision's ImageNet DenseNet-121, as the paper did.
# - **Generators.** At the `cpu` and `tiny` profiles, small networks trained for at most tens of
#   thousands of images instead of millions, early stopped on a Fréchet distance in the real
#   classifier's features (the paper: Inception features).
# - **Statistics.** One seed per point. The paper showed error bars from repeated runs whose number
#   and kind are not known; we give bootstrap intervals over test images and DeLong's test instead,
#   which capture test-set noise but not the spread between training runs.
