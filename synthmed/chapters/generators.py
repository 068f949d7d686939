"""The generators chapter: the shared points' GAN runs, their sizes beside the paper's, their training and samples."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from synthmed import generators, profiles
from synthmed.chapters.shared import SharedPoints

RUN_COLUMNS = {
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
CONFIG_FIELDS = ("latent", "fmap_base", "fmap_max", "lr", "minibatch", "lod_train_kimg", "lod_transition_kimg",
                 "total_kimg", "min_fid_kimg", "fid_every_kimg", "ema_beta")


def runs_overview(shared: SharedPoints) -> Styler:
    """One row per modality and generator: the point, its size and how training ended."""
    overview = pd.DataFrame(
        [
            {"modality": m, "generator": g, **{v: run.row[k] for k, v in RUN_COLUMNS.items()}}
            for (m, g), run in shared.runs.items()
        ]
    ).set_index(["modality", "generator"])
    return overview.style.format({"best Fréchet distance": "{:.4g}", "training (s)": "{:.0f}"}, precision=3)


def logs(shared: SharedPoints) -> dict[tuple[str, str], list[dict]]:
    """(modality, generator) -> its training log's records (`run_folder.read_log`: the same for every generator)."""
    from synthmed.run_folder import read_log

    return {key: read_log(run.trained.log_path) for key, run in shared.runs.items()}


def gans_and_others(shared: SharedPoints) -> tuple[list[str], list[str]]:
    """The book's generators split into the GANs (`generators.GAN_ARCH`) and the rest (the diffusion model)."""
    gans = [g for g in shared.generators if g in generators.GAN_ARCH]
    return gans, [g for g in shared.generators if g not in generators.GAN_ARCH]


@dataclass
class Sizes:
    """The chest point's GAN configs at this profile and at the paper's, with their parameter counts."""

    profile: str
    resolution: int
    paper_resolution: int
    configs: dict[tuple[str, str], object]  # (generator, "ours" | "paper") -> GANConfig
    parameters: dict[tuple[str, str], tuple[int, int]]  # same keys -> (G, D) parameter counts
    g_steps: int  # G steps of the chest prog-GAN run
    brief: bool  # the profile trains briefly (`Profile.brief_gans`)

    @property
    def ours(self):
        return self.configs["prog-GAN", "ours"]

    @property
    def paper(self):
        return self.configs["prog-GAN", "paper"]

    def column(self, which: str) -> str:
        return (f"{self.profile} ({self.resolution}x{self.resolution})" if which == "ours"
                else f"paper ({self.paper_resolution}x{self.paper_resolution})")

    def table(self) -> pd.DataFrame:
        """Each config's fields, full-resolution point and parameter counts, one column per (GAN, profile)."""
        return pd.DataFrame(
            {
                (generator, self.column(which)): {
                    **{f: str(getattr(c, f)) for f in CONFIG_FIELDS},
                    "full resolution at (kimg)": f"{c.full_resolution_kimg():,g}",
                    "G parameters": f"{self.parameters[generator, which][0]:,}",
                    "D parameters": f"{self.parameters[generator, which][1]:,}",
                }
                for (generator, which), c in self.configs.items()
            }
        )

    def half_life(self, beta: float) -> float:
        """EMA half-life in G steps."""
        return math.log(0.5) / math.log(beta)

    def sizes_note(self) -> str:
        ours, paper, ours_cpd = self.ours, self.paper, self.configs["cpD-GAN", "ours"]
        g_ours, g_paper = self.parameters["prog-GAN", "ours"][0], self.parameters["prog-GAN", "paper"][0]
        if self.brief:
            sizes = (
                f"At the `{self.profile}` profile prog-GAN's generator has **{g_ours:,}** parameters against "
                f"**{g_paper:,}** at the paper's size ({g_paper / g_ours:,.0f} times as many): latent {ours.latent} "
                f"instead of {paper.latent}, at most {ours.fmap_max} feature maps instead of {paper.fmap_max}. "
                f"prog-GAN reaches full resolution after **{ours.full_resolution_kimg():,g} kimg** (paper: "
                f"{paper.full_resolution_kimg():,g}) and stops once past **{ours.total_kimg:,g} kimg** at the latest "
                f"(paper: {paper.total_kimg:,g}); cpD-GAN past {ours_cpd.total_kimg:,g}. The paper's EMA beta of "
                f"{paper.ema_beta} averages G with a half-life of {self.half_life(paper.ema_beta):.0f} G steps; our "
                f"chest prog-GAN run took {self.g_steps:,} G steps in all, so the `{self.profile}` profile uses beta "
                f"**{ours.ema_beta}** (half-life {self.half_life(ours.ema_beta):.1f} steps). "
            )
        else:
            sizes = (
                f"The `paper` profile uses the paper's networks (prog-GAN's generator has {g_ours:,} parameters) and "
                f"schedule: full resolution after {ours.full_resolution_kimg():,g} kimg, at most "
                f"{ours.total_kimg:,g} kimg, EMA beta {ours.ema_beta} (a half-life of "
                f"{self.half_life(ours.ema_beta):.0f} G steps). "
            )
        return sizes + (
            f"Learning rates are the paper's ({ours.lr:g} for prog-GAN, {ours_cpd.lr:g} for cpD-GAN), as are "
            f"the Adam settings {ours.betas}, the gradient-penalty weight {ours.gp_lambda:g}, the drift weight "
            f"{ours.drift_weight:g} and the patience of {ours.patience} evaluations."
        )

    def minibatch_note(self) -> str:
        ours = self.ours
        if len(set(ours.minibatch.values())) > 1:
            start = ("Two details of PGGAN's training that the paper inherits and we keep: minibatches shrink as the "
                     "resolution grows (the `minibatch` row maps a resolution to its size), and both ")
        else:
            start = (
                f"Two details of PGGAN's training: the paper's minibatches shrink as the resolution grows (the "
                f"`minibatch` row maps a resolution to its size); the `{self.profile}` profile keeps one size, "
                f"{sorted(set(ours.minibatch.values()))[0]}, at every resolution, so that a short run makes as many "
                "steps as it can (`GANConfig.cpu` and `GANConfig.cpu_long` give the measurements behind this). We "
                "keep the other: both "
            )
        return start + (
            "optimisers' running averages (Adam's moments) are cleared whenever a level starts or finishes "
            "fading in, PGGAN's default, so that statistics gathered for the old network do not steer the new one."
        )

    def short_run_note(self) -> str:
        """At a brief profile, what its samples can and cannot show ("" at the paper profile)."""
        if not self.brief:
            return ""
        g_ours, g_paper = self.parameters["prog-GAN", "ours"][0], self.parameters["prog-GAN", "paper"][0]
        return (
            f"At the `{self.profile}` profile the GANs train for at most {self.ours.total_kimg:,g} kimg, where "
            f"the paper trains for up to {self.paper.total_kimg:,g} kimg with networks {g_paper / g_ours:,.0f} times "
            "larger; the samples show how far a short CPU run gets, not what the paper's GANs produce."
        )

    def differences_note(self, extractor: str, data_root: str) -> str:
        """Where this chapter's runs differ from the paper's, as a Markdown list."""
        ours, paper, brief = self.ours, self.paper, self.brief
        ours_cpd, paper_cpd = self.configs["cpD-GAN", "ours"], self.configs["cpD-GAN", "paper"]
        settings = profiles.get(self.profile)
        items = [
            "- **Features for early stopping.** The paper computed FID with Inception features on "
            f"{profiles.get('paper').fd_images:,} real and as many generated images (the paper's "
            "repository). Inception's weights cannot be downloaded "
            "here, so we use the pooled features of the benchmark point's own classifier trained on the real "
            f"training split (`synthmed.features.real_classifier_features`, here `{extractor}`), on up to "
            f"{settings.fd_images:,} images at the `{self.profile}` profile, never more than the training split "
            "holds. A researcher with local Inception weights can pass them as the extractor.",
            (
                f"- **Sizes.** At the `{self.profile}` profile the networks are narrower (latent {ours.latent}, at "
                f"most {ours.fmap_max} feature maps) and training is about "
                f"{paper.total_kimg / ours.total_kimg:,.0f} times shorter ({ours.total_kimg:,g} against "
                f"{paper.total_kimg:,g} kimg), at {self.resolution}x{self.resolution}. The `paper` profile uses the "
                "paper's values."
                if brief
                else "- **Sizes.** The `paper` profile uses the paper's networks and schedules."
            ),
            (
                "- **Data.** Phantoms written in the public formats, a small fraction of the real datasets' "
                "size (see the data chapter)."
                if not data_root
                else f"- **Data.** Read from `{data_root}`."
            ),
            (
                f"- **EMA.** beta {ours.ema_beta} instead of the paper's {paper.ema_beta} at the `{self.profile}` "
                "profile, for the reason given above."
                if brief
                else f"- **EMA.** beta {ours.ema_beta}, as the paper."
            ),
            (
                f"- **Minibatch.** prog-GAN {ours.minibatch}, cpD-GAN {ours_cpd.minibatch} images per step "
                f"(paper: {paper.minibatch} and {paper_cpd.minibatch}), for the reason given above."
                if brief and ours.minibatch != paper.minibatch
                else "- **Minibatch.** The paper's sizes."
            ),
            "- **Same as the paper.** Conditioning, losses and their weights, Adam settings, learning rates, "
            f"the update schedule ({ours.minibatch_repeats} minibatches per schedule step, {ours.d_repeats} D "
            "step per G step), G's labels drawn from the training label rows, the optimiser reset at each "
            "new level (PGGAN's default), early stopping only at full resolution with a patience of "
            f"{ours.patience} evaluations, and one synthetic image per real label vector at inference.",
        ]
        return "\n".join(items)


def sizes(shared: SharedPoints, run_logs: dict[tuple[str, str], list[dict]]) -> Sizes:
    """The chest point's configs at this profile and at the paper's resolution (the point's, if the paper ran
    it, else the paper's smallest), as the shared points train them."""
    from synthmed.experiments import generator_config
    from synthmed.gan.config import PAPER_RESOLUTIONS, build

    chest = shared.runs["chest", "prog-GAN"].row
    resolution, n_labels = int(chest["resolution"]), int(chest["n_labels"])
    paper_resolution = resolution if resolution in PAPER_RESOLUTIONS else PAPER_RESOLUTIONS[0]
    configs = {
        (generator, which): generator_config(generator, preset, res, n_labels, shared=True)
        for generator in generators.paper_names()
        for which, preset, res in (("ours", shared.profile, resolution), ("paper", "paper", paper_resolution))
    }
    parameters = {
        key: tuple(sum(p.numel() for p in net.parameters()) for net in build(c)) for key, c in configs.items()
    }
    g_steps = [r["step"] for r in run_logs["chest", "prog-GAN"] if r["kind"] == "tick"][-1]
    return Sizes(shared.profile, resolution, paper_resolution, configs, parameters, g_steps,
                 shared.settings.brief_gans)


def stopping_note(shared: SharedPoints, run_logs: dict[tuple[str, str], list[dict]]) -> str:
    """Per run: how many Fréchet evaluations, the best and where training stopped, and why (a patience stop
    names the evaluations without improvement its own log counted)."""
    sentences = []
    for (modality, generator), run in shared.runs.items():
        evaluations = [r for r in run_logs[modality, generator] if r["kind"] == "fd"]
        reason = run.trained.stop_reason
        if reason == "patience" and evaluations:
            why = f"no improvement for {evaluations[-1]['evals_since_best']} evaluations"
        else:
            why = {"total_kimg": "end of the schedule"}.get(reason, reason)
        sentences.append(
            f"- {modality}, {generator}: {len(evaluations)} evaluations of the Fréchet distance, each on "
            f"{evaluations[-1]['fd_images']} real and as many generated images; the best, "
            f"{run.trained.stop_value:.4g}, at {run.trained.best_kimg:,g} kimg; stopped at "
            f"{run.trained.train_kimg:,g} kimg ({why})."
        )
    return "\n".join(sentences)


def sample_sets(shared: SharedPoints, *, seed: int, n_seeds: int, per_row: int) -> dict[str, object]:
    """Modality -> `widgets.SampleSet`: real images and every book generator's samples for the most frequent
    label combinations, at latent seeds seed, seed + 1, ... (`n_seeds` of them)."""
    from synthmed import widgets

    def sampler(run):  # every generator through its registry entry: (label vectors, seed) -> images
        return lambda vectors, s: generators.get(run.row["generator"]).sample(run.trained, vectors, seed=s)

    return {
        modality: widgets.sample_set(
            {g: sampler(shared.runs[modality, g]) for g in shared.generators},
            *shared.runs[modality, "prog-GAN"].arrays["train"],
            shared.runs[modality, "prog-GAN"].subset.labels,
            seeds=range(seed, seed + n_seeds),
            per_row=per_row,
            seed=seed,
        )
        for modality in shared.points
    }


def growth_rows(model_path, samples, *, per_row: int, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """prog-GAN's kept G_ema drawn at every level of detail: combination -> {"RxR (lod k)": images}."""
    from synthmed.gan.sample import sample
    from synthmed.gan.train import load_generator

    G, config = load_generator(model_path)
    stages = {r: round(math.log2(config.resolution // r)) for r in config.resolutions()}
    return {
        name: {
            f"{r}x{r} (lod {lod})": sample(G, np.repeat(vector[None], per_row, axis=0), seed=seed, lod=lod)
            for r, lod in stages.items()
        }
        for name, vector in zip(samples.combinations, samples.vectors, strict=True)
    }


def extractor_name(run_logs: dict[tuple[str, str], list[dict]]) -> str:
    """The feature extractor the chest prog-GAN's early stopping used ("none" before any evaluation)."""
    return next((r["extractor"] for r in run_logs["chest", "prog-GAN"] if r["kind"] == "fd"), "none")


def left_out_note(profile: str) -> str:
    """Which book generators this profile leaves out, and why ("" when it runs them all)."""
    left_out = profiles.get(profile).left_out_generators
    return " ".join(f"**{name} is not run at the `{profile}` profile:** {why}" for name, why in left_out.items())


def cost_table(shared: SharedPoints, n_images: int = 256) -> pd.DataFrame:
    """Per modality and generator: the images its training saw, its training time, its sampling rate measured
    here on `n_images` of the point's training label vectors, and what sampling the point's synthetic splits
    (one image per real train, validation and test label vector) costs at that rate."""
    import time

    rows = []
    for (modality, generator), run in shared.runs.items():
        vectors = run.arrays["train"][1][:n_images]
        start = time.perf_counter()
        generators.get(generator).sample(run.trained, vectors, seed=shared.seed)
        rate = len(vectors) / max(time.perf_counter() - start, 1e-9)
        n_synthetic = sum(len(run.arrays[split][1]) for split in ("train", "val", "test"))
        rows.append({
            "modality": modality,
            "generator": generator,
            "images seen in training (k)": run.trained.train_kimg,
            "training (s)": run.row["generator_train_s"],
            "sampling (images/s)": rate,
            "synthetic images of the point": n_synthetic,
            "sampling them (s)": n_synthetic / rate,
        })
    return pd.DataFrame(rows).set_index(["modality", "generator"])


def cost_note(costs: pd.DataFrame) -> str:
    """How the generators' sampling rates compare, from `cost_table`."""
    rates = costs["sampling (images/s)"].groupby(level="generator", sort=False).mean()
    fastest = rates.idxmax()
    parts = [f"{g} about as fast" if rates[fastest] / r < 1.5 else f"{g} {rates[fastest] / r:,.0f} times slower"
             for g, r in rates.items() if g != fastest]
    return (
        f"Averaged over the modalities, {fastest} samples fastest ({rates[fastest]:,.0f} images/s here)"
        + ("; " + ", ".join(parts) if parts else "")
        + ". A GAN draws an image in one pass of its generator"
        + ("; the diffusion model takes one pass of its U-Net per sampling step, two with classifier-free guidance"
           if any(g not in generators.GAN_ARCH for g in rates.index) else "")
        + ". Rates depend on the machine and its load; `benchmarks/diffusion_throughput.py` measures a GAN's and the "
        "diffusion model's in one process, side by side."
    )
