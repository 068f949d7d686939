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
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from synthmed import generators, plots, profiles, widgets
from synthmed.experiments import generator_config, shared_point_runs
from synthmed.gan.config import PAPER_RESOLUTIONS, build
from synthmed.gan.sample import sample
from synthmed.gan.train import load_generator, read_log

logging.basicConfig(level=logging.WARNING)
plots.style()
settings = profiles.get(profile)
points = {"chest": settings.shared_point("chest", chest_benchmark, chest_setting),
          "brain": settings.shared_point("brain", brain_benchmark, brain_setting)}
runs = shared_point_runs(profile, seed, points, data_root or None, classifier_weights=classifier_weights or None,
                         precision=precision or None)
logs = {key: read_log(run.trained.log_path) for key, run in runs.items()}

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

# %% [markdown]
# ## The runs

# %%
columns = {
    "benchmark": "benchmark",
    "setting": "setting",
    "resolution": "resolution",
    "n_classes": "label combinations",
    "n_labels": "labels",
    "n_train": "train images",
    "train_kimg": "stopped at (kimg)",
    "stop_reason": "why",
    "best_kimg": "best (kimg)",
    "stop_value": "best Fréchet distance",
    "sampled_kimg": "sampled (kimg)",
    "generator_train_s": "training (s)",
}
overview = pd.DataFrame(
    [{"modality": m, "generator": g, **{v: run.row[k] for k, v in columns.items()}} for (m, g), run in runs.items()]
).set_index(["modality", "generator"])
display(overview.style.format({"best Fréchet distance": "{:.4g}", "training (s)": "{:.0f}"}, precision=3))

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
resolution = runs["chest", "prog-GAN"].row["resolution"]
n_labels = runs["chest", "prog-GAN"].row["n_labels"]
paper_resolution = resolution if resolution in PAPER_RESOLUTIONS else PAPER_RESOLUTIONS[0]
configs = {
    (generator, label): generator_config(generator, which, res, n_labels, shared=True)
    for generator in generators.paper_names()
    for label, which, res in (
        (f"{profile} ({resolution}x{resolution})", profile, resolution),
        (f"paper ({paper_resolution}x{paper_resolution})", "paper", paper_resolution),
    )
}
n_parameters = {key: [sum(p.numel() for p in net.parameters()) for net in build(c)] for key, c in configs.items()}
fields = [
    "latent",
    "fmap_base",
    "fmap_max",
    "lr",
    "minibatch",
    "lod_train_kimg",
    "lod_transition_kimg",
    "total_kimg",
    "min_fid_kimg",
    "fid_every_kimg",
    "ema_beta",
]
config_table = pd.DataFrame(
    {
        key: {
            **{f: str(getattr(c, f)) for f in fields},
            "full resolution at (kimg)": f"{c.full_resolution_kimg():,g}",
            "G parameters": f"{n_parameters[key][0]:,}",
            "D parameters": f"{n_parameters[key][1]:,}",
        }
        for key, c in configs.items()
    }
)
display(config_table)

# %%
ours_key, paper_key = f"{profile} ({resolution}x{resolution})", f"paper ({paper_resolution}x{paper_resolution})"
ours, paper, ours_cpd = configs["prog-GAN", ours_key], configs["prog-GAN", paper_key], configs["cpD-GAN", ours_key]
g_ours, g_paper = n_parameters["prog-GAN", ours_key][0], n_parameters["prog-GAN", paper_key][0]
g_steps = [r["step"] for r in logs["chest", "prog-GAN"] if r["kind"] == "tick"][-1]
half_life = {beta: math.log(0.5) / math.log(beta) for beta in (ours.ema_beta, paper.ema_beta)}  # in G steps


small = settings.brief_gans  # the paper profile uses the paper's settings: nothing to compare
if small:
    sizes = (
        f"At the `{profile}` profile prog-GAN's generator has **{g_ours:,}** parameters against **{g_paper:,}** "
        f"at the paper's size ({g_paper / g_ours:,.0f} times as many): latent {ours.latent} instead of "
        f"{paper.latent}, at most {ours.fmap_max} feature maps instead of {paper.fmap_max}. prog-GAN reaches "
        f"full resolution after **{ours.full_resolution_kimg():,g} kimg** (paper: "
        f"{paper.full_resolution_kimg():,g}) and stops once past **{ours.total_kimg:,g} kimg** at the latest (paper: "
        f"{paper.total_kimg:,g}); cpD-GAN past {ours_cpd.total_kimg:,g}. The paper's EMA beta of "
        f"{paper.ema_beta} averages G with a half-life of {half_life[paper.ema_beta]:.0f} G steps; our chest "
        f"prog-GAN run took {g_steps:,} G steps in all, so the `{profile}` profile uses beta "
        f"**{ours.ema_beta}** (half-life {half_life[ours.ema_beta]:.1f} steps). "
    )
else:
    sizes = (
        f"The `paper` profile uses the paper's networks (prog-GAN's generator has {g_ours:,} parameters) and "
        f"schedule: full resolution after {ours.full_resolution_kimg():,g} kimg, at most {ours.total_kimg:,g} "
        f"kimg, EMA beta {ours.ema_beta} (a half-life of {half_life[ours.ema_beta]:.0f} G steps). "
    )
display(
    Markdown(
        sizes + f"Learning rates are the paper's ({ours.lr:g} for prog-GAN, {ours_cpd.lr:g} for cpD-GAN), as are "
        f"the Adam settings {ours.betas}, the gradient-penalty weight {ours.gp_lambda:g}, the drift weight "
        f"{ours.drift_weight:g} and the patience of {ours.patience} evaluations."
    )
)

# %%
shrinks = len(set(ours.minibatch.values())) > 1
display(
    Markdown(
        (
            "Two details of PGGAN's training that the paper inherits and we keep: minibatches shrink as the "
            "resolution grows (the `minibatch` row maps a resolution to its size), and both "
            if shrinks
            else f"Two details of PGGAN's training: the paper's minibatches shrink as the resolution grows (the "
            f"`minibatch` row maps a resolution to its size); the `{profile}` profile keeps one size, "
            f"{sorted(set(ours.minibatch.values()))[0]}, at every resolution, so that a short run makes as many "
            "steps as it can (`GANConfig.cpu` and `GANConfig.cpu_long` give the measurements behind this). We keep the "
            "other: both "
        )
        + "optimisers' running averages (Adam's moments) are cleared whenever a level starts or finishes "
        "fading in, PGGAN's default, so that statistics gathered for the old network do not steer the new one."
    )
)

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
# training stopped and why.

# %%
for modality, (benchmark, setting) in points.items():
    title = f"{modality}, {benchmark} benchmark, setting {setting}"
    fig = plots.training_curves({g: logs[modality, g] for g in generators.book_names()}, title=title)
    plt.show(fig)

# %%
why = {"patience": f"no improvement for {ours.patience} evaluations", "total_kimg": "end of the schedule"}
sentences = []
for (modality, generator), run in runs.items():
    evaluations = [r for r in logs[modality, generator] if r["kind"] == "fd"]
    sentences.append(
        f"- {modality}, {generator}: {len(evaluations)} evaluations of the Fréchet distance, each on "
        f"{evaluations[-1]['fd_images']} real and as many generated images; the best, {run.trained.stop_value:.4g}, "
        f"at {run.trained.best_kimg:,g} kimg; stopped at {run.trained.train_kimg:,g} kimg "
        f"({why.get(run.trained.stop_reason, run.trained.stop_reason)})."
    )
display(Markdown("\n".join(sentences)))

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
sample_sets = {
    modality: widgets.sample_set(
        {g: runs[modality, g].trained.model for g in generators.book_names()},
        *runs[modality, "prog-GAN"].arrays["train"],
        runs[modality, "prog-GAN"].subset.labels,
        seeds=range(seed, seed + explorer_seeds),
        per_row=samples_per_row,
        seed=seed,
    )
    for modality in points
}
for modality, samples in sample_sets.items():
    plt.show(plots.sample_grid(samples.grid_rows(0), suptitle=f"{modality}: real and generated, latent seed {seed}"))

# %%
if small:
    display(
        Markdown(
            f"At the `{profile}` profile both generators train for at most {ours.total_kimg:,g} kimg, where the "
            f"paper trains for up to {paper.total_kimg:,g} kimg with networks {g_paper / g_ours:,.0f} times "
            "larger; the samples show how far a short CPU run gets, not what the paper's GANs produce."
        )
    )

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
for modality in points:
    G, config = load_generator(runs[modality, "prog-GAN"].trained.model)
    samples = sample_sets[modality]
    stages = {r: round(math.log2(config.resolution // r)) for r in config.resolutions()}
    rows = {
        name: {
            f"{r}x{r} (lod {lod})": sample(G, np.repeat(vector[None], samples_per_row, axis=0), seed=seed, lod=lod)
            for r, lod in stages.items()
        }
        for name, vector in zip(samples.combinations, samples.vectors, strict=True)
    }
    plt.show(plots.sample_grid(rows, suptitle=f"{modality}: prog-GAN's G_ema at each level of detail"))

# %% [markdown]
# ## Explorer
#
# Pick a label combination and a latent seed. The samples were generated when the book was built,
# for the combinations and seeds shown in the controls; in the static book the explorer shows its
# first combination and seed.

# %% tags=["widget"]
display(widgets.sample_explorer(sample_sets["chest"]))

# %% tags=["widget"]
display(widgets.sample_explorer(sample_sets["brain"]))

# %% [markdown]
# ## Where we differ from the paper

# %%
extractor = next((r["extractor"] for r in logs["chest", "prog-GAN"] if r["kind"] == "fd"), "none")
display(
    Markdown(
        "\n".join(
            [
                "- **Features for early stopping.** The paper computed FID with Inception features on "
                f"{profiles.get('paper').fd_images:,} real and as many generated images (the paper's "
                "repository). Inception's weights cannot be downloaded "
                "here, so we use the pooled features of the benchmark point's own classifier trained on the real "
                f"training split (`synthmed.features.real_classifier_features`, here `{extractor}`), on up to "
                f"{settings.fd_images:,} images at the `{profile}` profile, never more than the training split "
                "holds. A researcher with local Inception weights can pass them as the extractor.",
                (
                    f"- **Sizes.** At the `{profile}` profile the networks are narrower (latent {ours.latent}, at "
                    f"most {ours.fmap_max} feature maps) and training is about "
                    f"{paper.total_kimg / ours.total_kimg:,.0f} times shorter ({ours.total_kimg:,g} against "
                    f"{paper.total_kimg:,g} kimg), at {resolution}x{resolution}. The `paper` profile uses the "
                    "paper's values."
                    if small
                    else "- **Sizes.** The `paper` profile uses the paper's networks and schedules."
                ),
                (
                    "- **Data.** Phantoms written in the public formats, a small fraction of the real datasets' "
                    "size (see the data chapter)."
                    if not data_root
                    else f"- **Data.** Read from `{data_root}`."
                ),
                (
                    f"- **EMA.** beta {ours.ema_beta} instead of the paper's {paper.ema_beta} at the `{profile}` "
                    "profile, for the reason given above."
                    if small
                    else f"- **EMA.** beta {ours.ema_beta}, as the paper."
                ),
                (
                    f"- **Minibatch.** prog-GAN {ours.minibatch}, cpD-GAN {ours_cpd.minibatch} images per step "
                    f"(paper: {paper.minibatch} and {configs['cpD-GAN', paper_key].minibatch}), for the reason "
                    "given above."
                    if small and ours.minibatch != paper.minibatch
                    else "- **Minibatch.** The paper's sizes."
                ),
                "- **Same as the paper.** Conditioning, losses and their weights, Adam settings, learning rates, "
                f"the update schedule ({ours.minibatch_repeats} minibatches per schedule step, {ours.d_repeats} D "
                "step per G step), G's labels drawn from the training label rows, the optimiser reset at each "
                "new level (PGGAN's default), early stopping only at full resolution with a patience of "
                f"{ours.patience} evaluations, and one synthetic image per real label vector at inference.",
            ]
        )
    )
)
