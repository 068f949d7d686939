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
# # Training the generators
#
# The paper compares two conditional GANs, which it calls prog-GAN and cpD-GAN
# {cite}`dumontschutte2021overcoming`. Each learns to draw a chest film or a brain CT slice for a
# given set of findings. This chapter trains both on one benchmark point per modality, at the
# profile's resolution, and looks inside the training: the losses and the early-stopping distance
# as training goes on, samples for each label combination beside real images with the same labels,
# prog-GAN's growth from coarse to fine, and an explorer of samples. The runs are the cached runs
# of `synthmed.experiments.run_point`, which the benchmark chapters also use, so no generator is
# trained twice.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: network widths, training length, data sizes
seed = 0  # GAN and classifier seed: initial weights, data order, latents
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
chest_benchmark = ""  # the chest benchmark point (classes, samples or resolution); "": the profile's shared point
chest_setting = None  # ... and its setting; None: the shared point's (cpu: classes 20, the paper's largest)
brain_benchmark = ""  # the brain benchmark point; "": the profile's shared point ...
brain_setting = None  # ... (cpu: classes 10, the paper's largest brain classes point)
samples_per_row = 5  # images per label combination and source in the sample grids
explorer_seeds = 3  # latent seeds precomputed for the explorer (seed, seed + 1, ...)

# %%
import logging

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from synthmed import plots, widgets
from synthmed.chapters import generators as chapter
from synthmed.chapters.shared import shared_points

logging.basicConfig(level=logging.WARNING)
plots.style()
shared = shared_points(profile, seed, chest_benchmark=chest_benchmark, chest_setting=chest_setting,
                       brain_benchmark=brain_benchmark, brain_setting=brain_setting, data_root=data_root,
                       classifier_weights=classifier_weights, precision=precision)
logs = chapter.logs(shared)

# %% [markdown]
# ## Two generators, one training loop
#
# A conditional GAN has two networks. The **generator** G takes a vector of random numbers (the
# latent z) and a label vector y (1 for each finding the image should show, 0 otherwise) and draws
# an image. The **discriminator** D looks at an image together with a label vector and gives it a
# score. The two are trained in turns: D to tell real images from G's, G to make images that D
# scores as real. Both of the paper's GANs are forks of NVIDIA's progressive GAN code, and ours
# share one training loop (`synthmed.gan.train`).
#
# **prog-GAN** is the progressive GAN {cite}`karras2018progressive` with labels. It first learns
# to draw tiny images (8x8 in the paper's repository), then grows: a new layer that doubles the
# resolution is added to both networks and *faded in*, its output blended with the upsampled
# output of the level below, the new level's weight rising from 0 to 1. The **level of detail**
# (lod) counts the levels still missing: for a 32x32 GAN, 2 at 8x8, 1 at 16x16, 0 at full
# resolution, and fractional during a fade-in. The real images are blurred to the same level so
# that D compares like with like. The label vector is appended to z at the input, and the pair is
# *pixel-normalised* (every pixel's feature vector is scaled to unit average square length, a
# cheap way to keep signals from growing without bound). D has an extra head that guesses the
# labels, as in the auxiliary classifier GAN {cite}`odena2017acgan`: both networks are also
# trained to make that guess right (a cross-entropy against the label vector scaled to sum 1, as
# the paper's repository does).
#
# **cpD-GAN** does not grow; it trains at full resolution from the start. Its generator is
# StyleGAN2's "skip" generator {cite}`karras2020stylegan2` without the mapping network: every
# resolution adds its own small image, upsampled and summed into the output. The labels enter not
# only at the input but after every convolution, through **conditional pixel norm**: the features
# are pixel-normalised and then each channel is multiplied by a gain and shifted by an offset that
# a small dense layer computes from [z, y]. In plain words, the findings turn every feature
# channel up or down at every layer, like conditional batch normalisation. Its discriminator is a
# residual network whose last layer gives one score per label; the final score is the inner
# product of those scores with the label vector, i.e. the sum of the scores of the findings the
# image is said to have. This is the projection discriminator {cite}`miyato2018projection` in the
# form of {cite}`mescheder2018which`, with no unconditional term: D only ever judges "a real image
# with exactly these findings".
#
# **The loss** of both is WGAN-GP {cite}`gulrajani2017wgangp`. D is a *critic* whose score is not
# a probability; it is trained to push the mean score of real images above that of fakes, and the
# gap is an estimate of how far apart the two distributions are (the Wasserstein distance). To
# keep that estimate meaningful D must change smoothly with its input, so a *gradient penalty*
# pulls the norm of D's gradient towards 1 at random points between real and fake images. A small
# *drift* term, proportional to D(real)², keeps the scores near zero (the weights are below). G is
# trained to raise D's score of its images (plus the label term for prog-GAN).
#
# **EMA.** The weights of G oscillate as the two networks chase each other. The paper samples from
# a second copy, G_ema, whose weights are a running average of G's: after every G step they move a
# small fraction (1 - beta) of the way towards G's.
#
# **Early stopping.** At full resolution, from a minimum training length on, the loop measures the
# Fréchet distance {cite}`heusel2017fid` between real training images and as many G_ema images
# with the same labels: both sets are passed through a feature extractor, a Gaussian is fitted to
# each set of features, and the distance between the Gaussians is reported. The best G_ema is
# kept; training stops after a few evaluations without improvement (the patience), or at the end
# of the schedule. As in the paper's code, the synthetic datasets come from the best G_ema when the
# patience stopped the run, and from the last one when the schedule ended first ("sampled" below).
# The paper's features were Inception's; see the last section for ours.
#
# **The diffusion model** (not in the paper; `synthmed.diffusion`) is the third generator of the
# book. A small U-Net learns to predict the noise that was added to a training image at a random
# step of a fixed noising schedule, given the step and the label vector (through a learned
# projection, so any combination can be asked for). Sampling starts from pure noise and removes it
# step by step with DDIM {cite}`song2021ddim`. Labels are dropped from a share of the training
# images, so the same network also predicts without them; at sampling the two predictions are
# mixed with a guidance scale, which pushes images towards their labels (classifier-free guidance
# {cite}`ho2022cfg`). Its weights are averaged as G's are (EMA), and it is early-stopped on the same
# Fréchet distance.

# %%
left_out = chapter.left_out_note(profile)
if left_out:
    display(Markdown(left_out))

# %% [markdown]
# ## The runs

# %%
display(chapter.runs_overview(shared))

# %% [markdown]
# A kimg is a thousand real images shown to D, the unit of the paper's schedules. Training time is
# the time in training steps, evaluations and checkpoints left out; a run that was already in the
# cache reports the time it took when it ran.

# %% [markdown]
# ## Our sizes and the paper's
#
# The networks and schedules come from `synthmed.gan.config.GANConfig`: `GANConfig.paper` holds
# the paper's values, `GANConfig.cpu` and `GANConfig.tiny` narrower networks trained for a tiny
# fraction of the paper's length. This chapter's runs (and the utility and memorisation chapters',
# which share them) use the profile's schedule for the shared points, `Profile.shared_gan_preset`
# in `synthmed.profiles`; at `cpu` that is `GANConfig.cpu_long`, sixteen times the G steps of the
# benchmark sweeps' `GANConfig.cpu`, because the label information comes only with steps
# (`book/reproduce.md` has the measured learning curves). For the chest point:

# %%
sizes = chapter.sizes(shared, logs)
display(sizes.table())

# %%
display(Markdown(sizes.sizes_note()))

# %%
display(Markdown(sizes.minibatch_note()))

# %% [markdown]
# ## Training curves
#
# Each panel is one quantity per kimg, averaged over the steps since the previous point. The
# critic's Wasserstein estimate is the gap between D's mean score of real and of generated images;
# as G improves, the gap should shrink, though D also keeps learning, so the curve is a noisy
# guide rather than a score. prog-GAN's D loss includes its label term, so the two D losses are
# not on one scale. The level-of-detail panel shows prog-GAN's schedule: steps down by one level
# per fade-in, to 0 at full resolution; cpD-GAN stays at 0. The Fréchet distance is measured only
# at full resolution: the star marks the evaluation whose G_ema is kept, the dotted line where
# training stopped and why. The diffusion model, where the profile runs it, has its own panels below
# the GANs': its loss is the mean squared error of the noise it predicts, which falls as it learns,
# and its Fréchet distance is measured on fewer images (its samples cost more), so it is comparable
# between its own evaluations only.

# %%
gans, others = chapter.gans_and_others(shared)
for modality, (benchmark, setting) in shared.points.items():
    title = f"{modality}, {benchmark} benchmark, setting {setting}"
    plt.show(plots.training_curves({g: logs[modality, g] for g in gans}, title=title))
    if others:
        plt.show(plots.denoising_curves({g: logs[modality, g] for g in others}, title=title))

# %%
display(Markdown(chapter.stopping_note(shared, logs)))

# %% [markdown]
# The distance is measured in the feature space of the benchmark point's own real-trained
# classifier (below), so its values are not comparable with published FID numbers, nor between the
# two modalities; only its course within a run matters.

# %% [markdown]
# ## Samples per label combination
#
# For the most frequent label combinations of each point (rows), real training images with exactly
# those labels, then each generator's samples, generated with its kept G_ema. Column *j* of every
# row uses the same latent z, so within one generator's block the rows differ only by the labels
# it was given.

# %%
sample_sets = chapter.sample_sets(shared, seed=seed, n_seeds=explorer_seeds, per_row=samples_per_row)
for modality, samples in sample_sets.items():
    plt.show(plots.sample_grid(samples.grid_rows(0), suptitle=f"{modality}: real and generated, latent seed {seed}"))

# %%
if sizes.brief:
    display(Markdown(sizes.short_run_note()))

# %% [markdown]
# ## prog-GAN's growth
#
# prog-GAN's generator keeps every level it grew through, so the kept G_ema can still draw at each
# coarser level of detail. Below, for each label combination (rows), the same latents drawn at
# every level, coarse to fine (coarse images are shown enlarged by pixel repetition, as the
# network outputs them). The coarse levels' output layers stopped training when the next level had
# faded in, while the layers beneath them kept changing, so a coarse rendering by the final
# network is only a rough view of what that stage produced during training.

# %%
for modality, samples in sample_sets.items():
    rows = chapter.growth_rows(shared.runs[modality, "prog-GAN"].trained.model, samples, per_row=samples_per_row,
                               seed=seed)
    plt.show(plots.sample_grid(rows, suptitle=f"{modality}: prog-GAN's G_ema at each level of detail"))

# %% [markdown]
# ## Explorer
#
# Pick a label combination and a latent seed. The samples were generated and drawn when the book
# was built, for the combinations and seeds shown in the controls, so the explorer works on the
# static page as in a live notebook.

# %%
explorers = {modality: widgets.sample_explorer(samples) for modality, samples in sample_sets.items()}

# %% tags=["widget"]
display(explorers["chest"])

# %% tags=["widget"]
display(explorers["brain"])

# %% [markdown]
# ## What each generator costs
#
# Training cost is the images a generator's training saw (in thousands) and the time it took; the
# sampling rate is measured here, now, on the point's training label vectors, and turned into what
# the benchmark's inference costs: one synthetic image per real training, validation and test label
# vector.

# %%
costs = chapter.cost_table(shared)
display(costs.style.format({"images seen in training (k)": "{:,.1f}", "training (s)": "{:,.0f}",
                            "sampling (images/s)": "{:,.0f}", "sampling them (s)": "{:,.1f}"}))
display(Markdown(chapter.cost_note(costs)))

# %% [markdown]
# ## Where we differ from the paper

# %%
display(Markdown(sizes.differences_note(chapter.extractor_name(logs), data_root)))
