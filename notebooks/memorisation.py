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
from IPython.display import Markdown, display

from synthmed import plots, widgets
from synthmed.chapters import memorisation as chapter
from synthmed.chapters.shared import shared_points

logging.basicConfig(level=logging.WARNING)
plots.style()
shared = shared_points(profile, seed, chest_benchmark=chest_benchmark, chest_setting=chest_setting,
                       brain_benchmark=brain_benchmark, brain_setting=brain_setting, data_root=data_root,
                       classifier_weights=classifier_weights, precision=precision,
                       prepare=False)  # the generators chapter trained them

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
features = chapter.features(shared)
display(Markdown(chapter.features_note(shared, features)))

# %% [markdown]
# ## Synthetic images beside their nearest real images
#
# As the paper: for each of `n_queries` synthetic test images (a seeded draw; the paper took the
# first 100 of its shuffled synthetic test split), the real training image with the smallest
# cosine distance. Each figure shows two kinds of pair among these queries: the *closest* to a
# training image (if anything here is a copy, it is among these) and queries drawn at random (what
# a typical sample and its nearest real image look like). The distance is printed over the real image.

# %%
nearest = chapter.nearest_training(shared, features)
for shown in chapter.neighbour_examples(shared, nearest, n_queries=n_queries, n_examples=n_examples, seed=seed):
    plt.show(plots.neighbour_pairs(shown.synthetic, shown.nearest, shown.distance, ncols=n_examples,
                                   titles=shown.titles, suptitle=shown.title))

# %% [markdown]
# ### Browse the pairs
#
# Pick a run and a query: the pairs above (the closest queries, then the random ones), each with its
# three nearest real training images. Every pair was drawn when the book was built, so the browser
# works on the static page too.

# %%
browser = widgets.neighbour_browser(**chapter.browser_inputs(shared, features, n_queries=n_queries,
                                                             n_examples=n_examples, seed=seed, k=3))

# %% tags=["widget"]
display(browser)

# %% [markdown]
# Do the nearest real images carry the same findings? For each synthetic test image we compare the
# label vector it was drawn for with the label vector of its nearest training image, and do the same
# for the real test images, which carry the same label vectors. A generator that draws what the
# labels ask for should match about as often as real test images do.

# %%
display(Markdown("Fraction of images whose nearest training image has exactly the same labels:"))
display(chapter.same_labels(shared, features, nearest).round(3))

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
remembered = chapter.memorised(shared, features, percentile)
plt.show(plots.distance_histograms(remembered))
display(chapter.memorisation_table(remembered).round(4))
display(Markdown(chapter.memorisation_note(remembered, percentile)))

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
for modality in shared.points:
    maps = chapter.attribution(shared, modality, n_images=attribution_images, seed=seed)
    if maps is None:
        display(Markdown(f"**{modality}**: no test image carries a finding; no maps."))
        continue
    plt.show(plots.attribution_pairs(maps.images, maps.maps, titles=maps.titles,
                                     suptitle=f"{modality}: occlusion maps"))
    display(maps.probabilities.round(3))
