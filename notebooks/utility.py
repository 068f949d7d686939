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
import pandas as pd
from IPython.display import Markdown, display

from synthmed import generators, plots, profiles
from synthmed.classify.metrics import MEAN_ROW, PAPER_TEST_MULTIPLE, paper_variant_steps
from synthmed.classify.models import ClassifierConfig
from synthmed.experiments import shared_point_runs

logging.basicConfig(level=logging.WARNING)
plots.style()
settings = profiles.get(profile)
points = {"chest": settings.shared_point("chest", chest_benchmark, chest_setting),
          "brain": settings.shared_point("brain", brain_benchmark, brain_setting)}
runs = shared_point_runs(profile, seed, points, data_root or None, classifier_weights=classifier_weights or None,
                         precision=precision or None, prepare=False)  # the generators chapter trained them
rows = pd.DataFrame([run.row for run in runs.values()])
classifier = settings.classifier_config(seed=seed, weights=classifier_weights, precision=precision)
paper_classifier = ClassifierConfig.paper()

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
model = runs[next(iter(runs))].real_model
n_parameters = sum(p.numel() for p in model.parameters())
if classifier.arch == "densenet121":
    which = (
        f"the paper's **DenseNet-121** ({n_parameters:,} parameters), on images bilinearly resized to "
        "224x224 and normalised with ImageNet's channel statistics"
    )
else:
    which = (
        f"a **compact residual CNN** ({n_parameters:,} parameters, {classifier.width} channels in its "
        "first stage) at the images' own resolution: a DenseNet-121 at 224x224 is far too slow for "
        f"the `{profile}` profile on a CPU. The `paper` profile uses the DenseNet"
    )
if classifier.weights == "imagenet":
    weights = "fine-tuned from torchvision's **ImageNet** DenseNet-121 weights, as the paper"
elif classifier.weights_path is not None:
    weights = f"started from the local weights file `{classifier.weights_path}`"
elif classifier.arch == "densenet121":
    weights = "trained **from scratch** (the paper started from ImageNet weights: `classifier_weights: imagenet`)"
else:
    weights = (
        "trained **from scratch**: the paper fine-tuned an ImageNet DenseNet-121 (the `paper` profile does, "
        "`classifier_weights: imagenet`); no ImageNet weights exist for this compact CNN"
    )
schedule = (
    f"Adam at learning rate {classifier.lr:g} (the paper: {paper_classifier.lr:g}), batches of {classifier.batch}, "
    f"epochs of up to {classifier.epoch_images:,} images (the paper: {paper_classifier.epoch_images:,}), at most "
    f"{classifier.max_epochs} epochs (the paper: {paper_classifier.max_epochs}), the learning rate x"
    f"{classifier.lr_factor:g} after {classifier.lr_patience} epochs without a better validation AUROC, a "
    f"stop after {classifier.stop_patience}"
)
display(
    Markdown(
        f"Here (profile `{profile}`) the classifier is {which}. It is {weights}. Its schedule: {schedule}. "
        "The loss is **unweighted**: the paper's code computed per-label class weights but handed them to "
        "Keras 2.2.4 in a form that version silently ignores, so the published classifiers were trained "
        "unweighted too, and so are ours."
    )
)

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
display(
    rows[
        [
            "modality",
            "benchmark",
            "setting",
            "resolution",
            "generator",
            "n_classes",
            "n_labels",
            "n_train",
            "n_val",
            "n_test",
            "real_epochs",
            "synthetic_epochs",
            "sampled_kimg",
            "stop_value",
        ]
    ].rename(columns={"sampled_kimg": "kimg", "stop_value": "FD"})
)

# %% [markdown]
# ## Per-label AUC
#
# For each label, the ROC AUC of the three classifiers on the real test split, with a 95% bootstrap
# interval (test images resampled with replacement, all labels together). A label that has only
# positives or only negatives among the test images has no AUC ("n/a"); the mean AUROC averages
# over the labels that have both. The dotted line is chance.

# %%
for modality in points:
    first = runs[modality, generators.book_names()[0]]
    evaluation = pd.concat(
        [first.evaluation[first.evaluation["trained_on"] == "real"]]
        + [runs[modality, g].evaluation[runs[modality, g].evaluation["trained_on"] == g]
           for g in generators.book_names()],
        ignore_index=True,
    )
    point = first.subset.point
    title = f"{point.name} at {first.row['resolution']}x{first.row['resolution']}, {first.row['n_test']} test images"
    plt.show(plots.auc_bars(evaluation, title=title))

# %%
sentences = []
for modality in points:
    first = runs[modality, generators.book_names()[0]]
    parts = [f"real {first.row['auc_real']:.3f} ({first.row['auc_real_low']:.3f}-{first.row['auc_real_high']:.3f})"]
    for g in generators.book_names():
        r = runs[modality, g].row
        parts.append(f"{g} {r['auc_synthetic']:.3f} ({r['auc_synthetic_low']:.3f}-{r['auc_synthetic_high']:.3f})")
    sentences.append(f"- **{modality}**, mean AUROC (95% CI): " + ", ".join(parts) + ".")
widest = max(
    (rows[f"auc_{kind}_high"] - rows[f"auc_{kind}_low"]).max() for kind in ("real", "synthetic")
)
display(
    Markdown(
        "\n".join(sentences)
        + f"\n\nThe intervals come from {settings.n_boot:,} bootstrap resamples of the "
        f"{rows['n_test'].min():,}-{rows['n_test'].max():,} test images; the widest is "
        f"{widest:.3f} wide. A label with a handful of positives can still swing from one end of the axis to "
        "the other, as the per-label bars above show."
    )
)

# %% [markdown]
# ## ROC curves
#
# The curves behind the AUCs: for each label with both classes among the test images, true against
# false positive rate as the decision threshold moves, one curve per classifier, all on the same
# real test images. The number of positive and negative test images is in each panel's title.

# %%
for modality in points:
    first = runs[modality, generators.book_names()[0]]
    y_test = first.arrays["test"][1]
    scores = {"real": first.scores_real} | {g: runs[modality, g].scores_synthetic for g in generators.book_names()}
    plt.show(plots.roc_curves(y_test, scores, list(first.subset.labels), title=first.subset.point.name))

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
display(rows[["modality", "generator", "auc_real", "auc_synthetic", "gap", "gap_low", "gap_high", "delong_p"]].round(4))

# %%
lines = []
for (modality, generator), run in runs.items():
    r = run.row
    if r["delong_p"] != r["delong_p"]:  # NaN: a label has fewer than 2 positive or negative test images
        verdict = "DeLong's test is undefined here (a label has fewer than 2 positive or negative test images)"
    elif r["delong_p"] >= 0.05:
        verdict = "the difference is not significant at the 5% level"
    else:
        verdict = f"the {'real' if r['gap'] > 0 else 'synthetic'}-trained classifier is better at the 5% level"
    lines.append(
        f"- **{modality}, {generator}**: gap {r['gap']:+.3f} (95% CI {r['gap_low']:+.3f} to {r['gap_high']:+.3f}), "
        f"DeLong p = {r['delong_p']:.3g}: {verdict}."
    )
display(Markdown("\n".join(lines)))

# %%
from synthmed import paper_results

published = paper_results.paper_values(benchmark="classes")
largest = {"chest": 20, "brain": 10}
parts = []
for modality, k in largest.items():
    at = published[(published["modality"] == modality) & (published["setting"] == k)].set_index("series")["auc"]
    parts.append(
        f"{modality} with {k} classes: real {at['real']:.3f}, cpD-GAN {at['cpD-GAN']:.3f}, "
        f"prog-GAN {at['prog-GAN']:.3f} (gaps {at['real'] - at['cpD-GAN']:.3f} and {at['real'] - at['prog-GAN']:.3f})"
    )
display(
    Markdown(
        "For scale, the paper's results at its largest classes points (32x32, real CheXpert and RSNA data, "
        f"DenseNet-121 from ImageNet weights; mean AUROC {paper_results.SOURCE}): " + "; ".join(parts) + ". "
        "The numbers above are not comparable to these: they come from phantom images, a smaller classifier "
        "and generators trained for minutes on a CPU (at the `cpu` and `tiny` profiles), and one seed."
    )
)

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
steps = []
for modality in points:
    first = runs[modality, generators.book_names()[0]]
    y_test = first.arrays["test"][1]
    labels = list(first.subset.labels)
    scores = {"real": first.scores_real} | {g: runs[modality, g].scores_synthetic for g in generators.book_names()}
    for name, s in scores.items():
        table = paper_variant_steps(y_test, s, labels)
        per_label = table.drop(index=MEAN_ROW)
        steps.append(
            {
                "modality": modality,
                "trained on": name,
                "test images": len(y_test),
                "used by the paper": first.evaluation["n_test_paper"].iloc[0],
                "labels below 0.5": int((per_label["auc"] < 0.5).sum()),
                **table.loc[MEAN_ROW].to_dict(),
            }
        )
steps = pd.DataFrame(steps)
display(steps.round(4))

# %%
notes = []
for modality in points:
    part = steps[steps["modality"] == modality]
    n_test, n_used = int(part["test images"].iloc[0]), int(part["used by the paper"].iloc[0])
    if n_used == 0:
        notes.append(
            f"- **{modality}**: the test split has {n_test} images, fewer than {PAPER_TEST_MULTIPLE}, so the "
            "paper's evaluation would have used **none** and reported nothing (NaN); only the flip can be shown."
        )
    else:
        notes.append(
            f"- **{modality}**: the paper's evaluation would have used {n_used} of the {n_test} test images "
            f"(dropping {n_test - n_used})."
        )
    real = part[part["trained on"] == "real"].iloc[0]
    for _, syn in part[part["trained on"] != "real"].iterrows():
        gap, gap_flipped, gap_paper = (real[c] - syn[c] for c in ("auc", "auc_flipped", "auc_paper"))
        paper = f", with both quirks {gap_paper:+.3f}" if pd.notna(gap_paper) else ""
        notes.append(
            f"  {syn['trained on']}: labels with an AUC below 0.5: {int(syn['labels below 0.5'])} "
            f"(the real-trained classifier: {int(real['labels below 0.5'])}); the gap is {gap:+.3f} with the "
            f"standard AUC, {gap_flipped:+.3f} with the flip alone{paper}."
        )
display(Markdown("\n".join(notes)))

# %% [markdown]
# ## Where this differs from the paper
#
# - **Data.** Unless `data_root` points at the real downloads, every image here is a phantom made
#   by `synthmed` (see {doc}`data`), so these AUCs say how hard the phantoms are, not how hard
#   chest X-rays or head CT are. The benchmark counts are the paper's times the profile's benchmark
#   scale, and the training sets that are not an axis also times its training-set factor (see {doc}`data`).
# - **Classifier.** At the `cpu` and `tiny` profiles a compact CNN replaces DenseNet-121, and in
#   every profile it is trained from scratch, because ImageNet weights cannot be downloaded here.
# - **Generators.** Small networks trained for a few thousand images instead of millions, early
#   stopped on a Fréchet distance in the real classifier's features (the paper: Inception features).
# - **Statistics.** One seed per point. The paper showed error bars from repeated runs whose number
#   and kind are not known; we give bootstrap intervals over test images and DeLong's test instead,
#   which capture test-set noise but not the spread between training runs.
