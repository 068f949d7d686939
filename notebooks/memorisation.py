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
# # What the generators remember
#
# A synthetic dataset is only worth sharing instead of the real one if it does not give the real
# images away. A generator that had simply learnt its training images by heart would score well in
# the {doc}`utility` chapter and protect nobody. The paper looked at this by showing synthetic
# images beside the real training images closest to them {cite}`dumontschutte2021overcoming`, and
# it looked at *what* the classifiers base their decisions on with occlusion maps, in the manner of
# CXPlain {cite}`schwab2019cxplain`. This chapter does both for the runs of the {doc}`utility`
# chapter (the same cached runs), and adds a number the paper did not have: how close synthetic
# images sit to the training set compared with new real images.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: data sizes, network widths, training length
seed = 0  # GAN and classifier seed, and the draw of example images
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
chest_benchmark = ""  # the chest benchmark point (classes, samples or resolution); "": the profile's shared point
chest_setting = None  # ... and its setting; None: the shared point's (cpu: classes 20, the paper's largest)
brain_benchmark = ""  # the brain benchmark point; "": the profile's shared point ...
brain_setting = None  # ... (cpu: classes 10, the paper's largest brain classes point)
n_queries = 100  # synthetic test images searched for, as the paper's number_nn_compute
n_examples = 4  # queries shown beside their nearest real image, for each kind (closest, random)
percentile = 5.0  # memorisation threshold: this percentile of the real test images' distances to train
attribution_images = 4  # real test images (one per finding) on which the occlusion maps are drawn

# %%
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from synthmed import generators, plots, profiles
from synthmed.analysis.attribution import occlusion_maps
from synthmed.analysis.neighbours import example_queries, memorisation, nearest_neighbours, query_indices
from synthmed.classify.train import extract_features
from synthmed.data.summary import example_per_label, labels_of
from synthmed.experiments import shared_point_runs

logging.basicConfig(level=logging.WARNING)
plots.style()
settings = profiles.get(profile)
points = {"chest": settings.shared_point("chest", chest_benchmark, chest_setting),
          "brain": settings.shared_point("brain", brain_benchmark, brain_setting)}
runs = shared_point_runs(profile, seed, points, data_root or None, classifier_weights=classifier_weights or None,
                         precision=precision or None, prepare=False)  # the generators chapter trained them
first = {modality: runs[modality, generators.book_names()[0]] for modality in points}

# %% [markdown]
# ## The feature space
#
# "Close" needs a notion of distance. As the paper, we use the classifier trained on the real
# images of each point: its global-pooling layer turns an image into a feature vector (the
# paper's DenseNet-121: 1,024 numbers), and two images are close when their vectors point the same
# way (cosine distance, 0 for the same direction, 1 for unrelated). The features describe what
# the classifier learnt to look at, so this distance ignores differences the task does not care
# about, such as noise. The synthetic images searched for are the paper's: its *synthetic test
# split*, one image per label vector of the real test split, drawn with latents that neither the
# synthetic training nor the validation split used. No classifier in this book trained on them.

# %%
features = {}
for modality, run in first.items():
    x_train, x_test = run.arrays["train"][0], run.arrays["test"][0]
    features[modality, "train"] = extract_features(run.real_model, x_train)
    features[modality, "test"] = extract_features(run.real_model, x_test)
    for generator in generators.book_names():
        features[modality, generator] = extract_features(run.real_model, runs[modality, generator].synthetic["test"])
display(
    Markdown(
        ", ".join(
            f"{modality}: {features[modality, 'train'].shape[1]}-dimensional features of "
            f"{len(features[modality, 'train'])} training, {len(features[modality, 'test'])} test and "
            f"{len(features[modality, generators.book_names()[0]])} synthetic test images per generator"
            for modality in points
        )
        + "."
    )
)

# %% [markdown]
# ## Synthetic images beside their nearest real images
#
# As the paper: for each of `n_queries` synthetic test images (a seeded draw; the paper took the
# first 100 of its shuffled synthetic test split), the real training image with the smallest
# cosine distance. Each figure shows two kinds of pair among these queries: the *closest* to a
# training image (if anything here is a copy, it is among these) and queries drawn at random (what
# a typical sample and its nearest real image look like). The distance is printed over the real image.

# %%
nearest = {}
for (modality, generator), run in runs.items():
    index, distance = nearest_neighbours(features[modality, generator], features[modality, "train"], k=1)
    nearest[modality, generator] = (index[:, 0], distance[:, 0])
    queries = query_indices(len(distance), n_queries, seed)
    picked = example_queries(distance[queries, 0], n_examples, seed)
    order = queries[np.concatenate([picked["closest"], picked["random"]])]
    titles = [f"synthetic, closest {k + 1}" for k in range(len(picked["closest"]))] + [
        "synthetic, random" for _ in picked["random"]
    ]
    x_train = run.arrays["train"][0]
    fig = plots.neighbour_pairs(
        run.synthetic["test"][order],
        x_train[index[order, 0]],
        distance[order, 0],
        ncols=n_examples,
        titles=titles,
        suptitle=f"{modality}, {generator}: {run.subset.point.name} at {run.row['resolution']}x{run.row['resolution']}",
    )
    plt.show(fig)

# %% [markdown]
# Do the nearest real images carry the same findings? For each synthetic test image we compare the
# label vector it was drawn for with the label vector of its nearest training image, and do the same
# for the real test images, which carry the same label vectors. A generator that draws what the
# labels ask for should match about as often as real test images do.

# %%
same_labels = []
for modality, run in first.items():
    y_train, y_test = run.arrays["train"][1], run.arrays["test"][1]
    test_index, _ = nearest_neighbours(features[modality, "test"], features[modality, "train"], k=1)
    row = {"modality": modality, "real test": float((y_train[test_index[:, 0]] == y_test).all(axis=1).mean())}
    for generator in generators.book_names():
        index, _ = nearest[modality, generator]
        row[generator] = float((y_train[index] == y_test).all(axis=1).mean())
    same_labels.append(row)
same_labels = pd.DataFrame(same_labels).set_index("modality")
display(Markdown("Fraction of images whose nearest training image has exactly the same labels:"))
display(same_labels.round(3))

# %% [markdown]
# ## Closer than new real images?
#
# Pictures of pairs can reassure but cannot measure. Real test images come from patients the
# generators never saw, so their distances to the nearest training image show how close a *new*
# real image typically is. A generator that reproduces its training images places its samples
# closer than that. The synthetic test split is the fair comparison: as many images as the real
# test split, drawn for the same label vectors. Below, both distributions for each run, over the
# whole of both splits; the dashed line is a low percentile
# (the `percentile` parameter) of the test images' distances, and the statistic is the fraction of
# synthetic images below it: about that percentage if the synthetic images sit like new real
# images, near 100% if they are copies. The ratio of medians says the same more coarsely (below 1:
# closer than new real images).

# %%
remembered = {
    f"{modality}, {generator}": memorisation(
        features[modality, generator], features[modality, "test"], features[modality, "train"], percentile
    )
    for modality, generator in runs
}
plt.show(plots.distance_histograms(remembered))
summary = pd.DataFrame(
    [
        {
            "run": name,
            "synthetic images": len(m.synthetic_to_train),
            "test images": len(m.test_to_train),
            "median synthetic -> train": float(np.median(m.synthetic_to_train)),
            "median test -> train": float(np.median(m.test_to_train)),
            "ratio of medians": m.median_ratio,
            "threshold": m.threshold,
            "fraction below": m.fraction_below,
            "expected if like new real images": m.expected_fraction,
        }
        for name, m in remembered.items()
    ]
).set_index("run")
display(summary.round(4))

# %%
lines = []
for name, m in remembered.items():
    closer = "closer to" if m.median_ratio < 1 else "no closer to"
    lines.append(
        f"- **{name}**: {m.fraction_below:.0%} of {len(m.synthetic_to_train)} synthetic images lie closer to a "
        f"training image than {percentile:g}% of the {len(m.test_to_train)} real test images do (expected "
        f"{m.expected_fraction:.0%}); the median synthetic image is {m.median_ratio:.2f} times as far from "
        f"the training set as the median test image, i.e. {closer} it than new real images."
    )
n_test_min = int(summary["test images"].min())
display(
    Markdown(
        "\n".join(lines)
        + f"\n\nThe threshold rests on as few as {n_test_min} test images, so it is itself uncertain: with "
        f"fewer than {int(np.ceil(100 / percentile))} test images the {percentile:g}th percentile is an "
        "interpolation between the smallest distances."
    )
)

# %% [markdown]
# What this does and does not show. Synthetic images lying *farther* from the training set than new
# real images is what a generator that has not mastered the data produces: its images are unlike
# any real one, which protects privacy and costs utility. Lying *closer* is the warning sign. A
# feature space learnt for the labels cannot see everything a person could recognise (a patient's
# anatomy, a device's serial number); the distance is a screen, not a privacy guarantee. A real
# guarantee needs a membership-inference attack or a differentially private generator, neither of
# which the paper or this book attempts.

# %% [markdown]
# ## Where the classifiers look
#
# The paper's occlusion maps: cover one small square of the image at a time (4x4 pixels of the
# classifier's input, set to the normalisation mean, i.e. grey) and measure how much the
# classifier's loss against the image's true labels rises. A bright square is one the classifier
# needed. The maps are drawn for the real-trained and both synthetic-trained classifiers on the
# same real test images, one per finding, each chosen with as few other findings as possible.
# Each row shares one colour scale, so a dark map means that classifier hardly cared where the
# image was covered; the largest value is printed over each map.

# %%
for modality, run in first.items():
    x_test, y_test = run.arrays["test"]
    labels = list(run.subset.labels)
    chosen = example_per_label(pd.DataFrame(y_test, columns=labels), labels, seed=seed)
    findings = list(chosen)[:attribution_images]
    positions = np.array([int(chosen[f].name) for f in findings], dtype=int)
    if len(positions) == 0:
        display(Markdown(f"**{modality}**: no test image carries a finding; no maps."))
        continue
    images, truth = x_test[positions], y_test[positions]
    models = {"real": run.real_model} | {g: runs[modality, g].synthetic_model for g in generators.book_names()}
    maps = {name: occlusion_maps(model, images, truth) for name, model in models.items()}
    titles = [f"{f}\n(all: {labels_of(chosen[f], labels)})" for f in findings]
    plt.show(plots.attribution_pairs(images, maps, titles=titles, suptitle=f"{modality}: occlusion maps"))
    scores = {"real": run.scores_real} | {g: runs[modality, g].scores_synthetic for g in generators.book_names()}
    probabilities = pd.DataFrame(
        {
            name: [float(s[p, labels.index(f)]) for p, f in zip(positions, findings, strict=True)]
            for name, s in scores.items()
        },
        index=pd.Index(findings, name=f"{modality}: predicted probability of the finding, by classifier trained on"),
    )
    display(probabilities.round(3))

# %% [markdown]
# ## Where this differs from the paper
#
# - **Feature space.** The paper's nearest neighbours used the 1,024 pooled features of its
#   ImageNet-initialised DenseNet-121 on 224x224 inputs. At the `cpu` and `tiny` profiles ours come
#   from the compact CNN trained from scratch on phantoms, a smaller space that has seen far fewer
#   images.
# - **Queries.** As the paper, the queries are 100 images of the synthetic test split (`n_queries`,
#   a seeded draw where the paper took the first 100 of its shuffled split); the paper saved all
#   the pairs, we show the closest and a random few.
# - **The memorisation statistic** is ours; the paper showed pairs only.
# - **Occlusion maps** follow the paper's code (4x4 squares, masked to the normalisation mean, the
#   rise in label-averaged cross-entropy, floored at 10⁻⁷). On a 32x32 compact CNN a square is a
#   sixty-fourth of the image; on the paper's 224x224 DenseNet input it was one of 3,136.
# - **Data.** Unless `data_root` points at the real downloads, every image here is a phantom, and no
#   statement in this chapter is about real patients.
