"""Every setting that varies by profile, in one frozen `Profile` per profile: `tiny`, `cpu`, `paper`.

A profile is the one thing a run changes between the test suite (`tiny`), the default book on two CPU
cores (`cpu`) and the paper on a GPU with the real datasets (`paper`); one code path serves all three.
`params/*.yaml` name a profile and carry only a reader's overrides. No other module branches on a
profile's name: it asks `get(name)` for the value it needs.

The GAN and classifier presets are named (`GANConfig.cpu`, `ClassifierConfig.cpu`, ...) and built on
request, so listing profiles (the CLI, the book pipeline) does not import torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from synthmed.config import DataConfig
from synthmed.data import benchmarks

Point = tuple[str, int]  # (benchmark, setting)


@dataclass(frozen=True)
class SlurmResources:
    """What one cluster job asks for: one benchmark point (one generator, one seed) end to end
    (`synthmed.experiments.cluster`); `synthmed run --executor slurm` takes each from the command line too."""

    partition: str | None = None  # None: the cluster's default partition
    account: str | None = None  # None: the user's default account
    gpus_per_job: int = 1
    cpus_per_job: int = 8  # data loading and the classifiers' image resizing
    mem_gb: int = 32
    time_min: int = 24 * 60  # a job that runs past it is requeued and resumes from its checkpoints
    array_parallelism: int = 64  # jobs of one sweep's array that run at once


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str  # one line for the CLI's help and the book
    data: DataConfig  # phantom sizes and benchmark factors (`synthmed.config.DataConfig`)
    settings: dict[tuple[str, str], tuple[int, ...]]  # (modality, benchmark) -> the settings a sweep runs
    seeds: tuple[int, ...]  # runs per point: first seed, first + 1, ...
    classes_resolution: int  # resolution of the classes and samples benchmarks (paper-spec §1.3: 32)
    shared_points: dict[str, Point]  # modality -> the point the generators, utility and memorisation chapters share
    reader_resolutions: tuple[int, ...]  # resolution-benchmark points the machine reader runs
    gan_preset: str  # name of the `synthmed.gan.config.GANConfig` classmethod: paper, cpu or tiny
    shared_gan_preset: str  # the GANConfig preset of the shared points' runs (cpu: a longer schedule)
    classifier_preset: str  # name of the `synthmed.classify.models.ClassifierConfig` classmethod
    fd_images: int  # real and generated images per Fréchet distance (paper-spec §3.1: 10,000)
    fd_features: str  # early stopping's feature space: "inception" (the paper's FID) or "domain" (the real classifier)
    fd_reals: str  # the Fréchet evaluation's reals and latents: "fresh" per evaluation or "fixed" (gan.train)
    # The fidelity panel also in the FID Inception's pool_3 features (`experiments.panels`; needs its weights),
    # beside the real classifier's: the result columns `fd_inception` ... `coverage_inception`, else NaN.
    inception_panels: bool
    n_boot: int  # bootstrap resamples of every AUROC interval
    workers: int  # processes that run a chapter's points at once on a CPU (`experiments.sweep_workers`)
    needs_real_data: bool  # runs only on the real datasets and a CUDA GPU (`experiments.check_paper_ready`)
    brief_gans: bool  # GANs far from convergence; verdicts say so (`synthmed.claims`)
    # Book generators (`generators.book_names`) this profile does not run unless asked by name -> why not.
    left_out_generators: dict[str, str] = dataclasses.field(default_factory=dict)
    # One cluster job's request (`synthmed run --executor slurm`); the command line overrides each field.
    slurm: SlurmResources = SlurmResources()
    # One GPU's training images/s per (generator or "classifier", resolution) -> (rate, "measured" or why
    # assumed), for `synthmed plan`; `gpu_rates_source` says on what and how they were measured.
    # `synthmed plan --rate` replaces any of them. Empty: no figure, the plan asks for them.
    gpu_rates: dict[tuple[str, int], tuple[float, str]] = dataclasses.field(default_factory=dict)
    gpu_rates_source: str = ""

    def data_config(self, **overrides: Any) -> DataConfig:
        """The data settings with any non-None override (notebook parameters) applied."""
        return dataclasses.replace(self.data, **{k: v for k, v in overrides.items() if v is not None})

    def generator_preset(self, shared: bool = False) -> str:
        """The preset name every generator's config takes (`GANConfig.cpu`, `DiffusionConfig.cpu`, ...):
        the shared points' (`shared`) or the sweeps'."""
        return self.shared_gan_preset if shared else self.gan_preset

    def gan_config(self, arch: str, resolution: int, n_labels: int, precision: str | None = None, *,
                   shared: bool = False):
        """The profile's `GANConfig` for one GAN (`shared`: for the chapters' shared points); `precision`
        ("fp32" or "bf16") replaces fp32 when given."""
        from synthmed.gan.config import GANConfig  # torch: only when a GAN is asked for

        config = getattr(GANConfig, self.generator_preset(shared))(arch, resolution, n_labels)
        return dataclasses.replace(config, precision=precision) if precision else config

    def classifier_config(self, **overrides: object):
        """The profile's `ClassifierConfig` with any override that is not None or "" (a blank notebook
        parameter means the profile's own) applied."""
        from synthmed.classify.models import ClassifierConfig  # torch: only when a classifier is asked for

        make = getattr(ClassifierConfig, self.classifier_preset)
        return make(**{k: v for k, v in overrides.items() if v is not None and v != ""})

    def shared_point(self, modality: str, benchmark: str | None = None, setting: int | None = None) -> Point:
        """A chapter's point for `modality`: `benchmark` and `setting` where given (not None or ""), else
        the profile's shared point's (`shared_points`)."""
        default_benchmark, default_setting = self.shared_points[modality]
        return (benchmark or default_benchmark, int(setting) if setting not in (None, "") else default_setting)

    def point_resolution(self, benchmark: str, setting: int) -> int:
        """A point's image size: the resolution benchmark's setting, else `classes_resolution`."""
        return int(setting) if benchmark == "resolution" else self.classes_resolution


# Two per benchmark at tiny that its phantoms can build and train on (every split has both classes of
# some label). Its GANs run the other benchmarks at 16x16, so its resolution points are 8 and 16
# (prog-GAN starts at 8x8, so at 8 it does not grow); tiny only exercises the code paths.
TINY = Profile(
    name="tiny",
    summary="tests and CI: every notebook end to end on a few hundred phantom images, in seconds",
    data=DataConfig(chest_patients=260, brain_patients=80, chest_scale=0.004, brain_scale=0.0017, brain_matrix=128),
    settings={
        ("chest", "classes"): (20, 6),
        ("brain", "classes"): (10, 4),
        ("chest", "samples"): (5950, 1500),
        ("brain", "samples"): (5400, 1500),
        ("chest", "resolution"): (8, 16),
        ("brain", "resolution"): (8, 16),
    },
    seeds=(0,),
    classes_resolution=16,
    # The tiny brain phantoms are too few for the classes benchmark's validation split.
    shared_points={"chest": ("classes", 20), "brain": ("resolution", 16)},
    reader_resolutions=(16,),  # the tiny GANs' size
    gan_preset="tiny",
    shared_gan_preset="tiny",  # the shared points are the benchmark runs themselves
    classifier_preset="tiny",
    fd_images=256,
    fd_features="domain",
    fd_reals="fixed",
    inception_panels=False,  # no Inception weights offline
    n_boot=200,
    workers=1,  # starting a process costs more than the work
    needs_real_data=False,
    brief_gans=True,
    slurm=SlurmResources(gpus_per_job=0, cpus_per_job=1, mem_gb=4, time_min=30),
)

# cpu: at least three settings for classes and samples (largest, a middle one, smallest) and the
# resolutions 32 and 64. Chest classes 20, brain classes 10 and both resolutions 32/64 are also the
# points other chapters run, so their runs are shared through the caches.
#
# Data: the chest phantoms draw every patient of CheXpert's real label table (scale 1), so every chest test and
# validation split and the samples axis are the paper's own; training sets of the classes and resolution
# benchmarks are a quarter of the paper's. Films are rendered at 160 px on the short side (CheXpert-small: about
# 320), which is indistinguishable after the 256 -> 32/64 downsampling the benchmarks use and halves the
# rendering time of 223,414 images. The brain phantoms are 16,500 patients (264,000 slices), the smallest
# phantom whose label combinations admit every brain subset at the paper's sizes (scale 1;
# `synthmed.data.phantoms.brain` says why its prevalence is higher than RSNA's); training sets are a quarter of
# the paper's as for the chest. Their slices are 128x128 DICOM matrices over RSNA's field of view
# (`brain_matrix`; RSNA: 512x512, which the reader averages down to the paper's 128 anyway): 33 KB and about 2
# ms a slice against 0.5 MB and 4-6 ms, 9 GB instead of 135 GB.
CPU = Profile(
    name="cpu",
    summary="make book: reduced but honest versions of every benchmark on phantom data, 2 CPU cores",
    data=DataConfig(
        chest_patients=64_540,
        brain_patients=16_500,
        chest_scale=1.0,
        brain_scale=1.0,
        chest_train_scale=0.25,
        brain_train_scale=0.25,
        chest_short_side=160,
        brain_matrix=128,
    ),
    settings={
        ("chest", "classes"): (20, 6, 2),
        ("brain", "classes"): (10, 6, 2),
        ("chest", "samples"): (5950, 1000, 200),
        ("brain", "samples"): (5400, 1000, 100),
        ("chest", "resolution"): (32, 64),
        ("brain", "resolution"): (32, 64),
    },
    seeds=(0,),  # one run per point is what two cores afford
    classes_resolution=32,
    shared_points={"chest": ("classes", 20), "brain": ("classes", 10)},
    reader_resolutions=(32, 64),  # the resolution chapter's points
    gan_preset="cpu",
    # The shared points' GANs train 16x the G steps (GANConfig.cpu_long: about what cpD-GAN needs to recover half
    # the real classifier's margin over chance), so the chapters that look at generated images show GANs
    # that have learned the labels; the benchmark sweeps keep the short schedule their budget affords.
    shared_gan_preset="cpu_long",
    classifier_preset="cpu",
    fd_images=2000,
    # No Inception weights offline, and phantoms are far from ImageNet: the point's real classifier's
    # features, with one fixed draw of reals and latents (the reason: synthmed.gan.train's docstring).
    fd_features="domain",
    fd_reals="fixed",
    inception_panels=False,  # as fd_features: no Inception weights offline, and phantoms are far from ImageNet
    n_boot=1000,
    # Two one-thread processes train the cpu networks about 1.3x faster than one process with two
    # threads (benchmarks/gan_throughput.py --threads 1, two at once).
    workers=2,
    needs_real_data=False,
    brief_gans=True,
    # One thread trains a cpu point's networks; its 8 kimg GANs and classifiers take about an hour.
    slurm=SlurmResources(gpus_per_job=0, cpus_per_job=1, mem_gb=8, time_min=4 * 60),
    left_out_generators={
        "DDIM": "its sampling does not fit the cpu book's budget: the paper's inference draws one image per real "
        "label vector, about 316,000 images over the cpu sweeps and 26,000 at the two shared points, and at the "
        "cpu preset (10 DDIM steps, guidance 2: 20 U-Net passes an image) one free thread samples about 26 "
        "images/s against cpD-GAN's 1,570 (benchmarks/diffusion_throughput.py cpu), some 3.4 hours for the "
        "sweeps and 17 minutes for the shared points on top of training. Run it by name: `synthmed run "
        "--generators DDIM`.",
    },
)

PAPER = Profile(
    name="paper",
    summary="a CUDA GPU and the real datasets: the paper's dataset sizes, resolutions and hyper-parameters",
    # The phantom sizes are used only when no data_root is given; CheXpert-small has 64,540 patients,
    # RSNA about 25,000 exams (Flanders et al. 2020).
    data=DataConfig(chest_patients=64_540, brain_patients=19_000, chest_scale=1.0, brain_scale=1.0),
    settings=dict(benchmarks.SETTINGS),
    # The paper drew error bars from repeated runs (paper-spec §4: number not found); its README's
    # examples use seed 1000.
    seeds=(1000, 1001, 1002),
    classes_resolution=32,
    shared_points={"chest": ("classes", 20), "brain": ("classes", 10)},
    reader_resolutions=(32, 64, 128),  # paper-spec §1.3
    gan_preset="paper",
    shared_gan_preset="paper",
    classifier_preset="paper",
    fd_images=10_000,  # paper-spec §3.1
    fd_features="inception",  # the TTUR Inception pool_3 FID; the in-domain distance is logged beside it
    fd_reals="fresh",  # as the original
    inception_panels=True,  # the paper's own feature space beside the in-domain one
    n_boot=1000,
    workers=1,  # one GPU
    needs_real_data=True,
    brief_gans=False,
    # One GPU per point: a 32-128 px GAN of up to 16,000 kimg and two DenseNet-121 trainings at 224 px
    # (`synthmed plan --profile paper` projects the hours); a job past 24 h is requeued and resumes.
    slurm=SlurmResources(gpus_per_job=1, cpus_per_job=8, mem_gb=48, time_min=24 * 60),
    # Measured: benchmarks/gpu_smoke.py --profile paper --seconds 8 (fp32, random images, the profile's widths
    # and minibatches, prog-GAN at full resolution) on one NVIDIA H100 80GB HBM3, torch 2.11.0+cu130, by the
    # session of issue 18. cpD-GAN at 128 px ran out of the H100's 80 GB at its minibatch (fp32 and bf16):
    # its figure is ASSUMED, the 64 px rate over 4 (pixels), and such a run needs 2 GPUs (`synthmed.gan.ddp`).
    # DDIM has no GPU measurement yet: give `synthmed plan --rate DDIM:32=...`.
    gpu_rates={
        **{(stage, resolution): (rate, "measured") for (stage, resolution), rate in {
            ("cpD-GAN", 32): 916.0, ("cpD-GAN", 64): 222.5, ("prog-GAN", 32): 739.9, ("prog-GAN", 64): 283.9,
            ("prog-GAN", 128): 130.1, ("classifier", 32): 756.7, ("classifier", 64): 756.7,
            ("classifier", 128): 756.7,  # DenseNet-121 resizes every input to 224 px: one measurement
        }.items()},
        ("cpD-GAN", 128): (55.6, "ASSUMED: the 64 px rate / 4; its minibatch does not fit one 80 GB GPU"),
    },
    gpu_rates_source="one NVIDIA H100 80GB HBM3, fp32, torch 2.11: benchmarks/gpu_smoke.py --profile paper "
    "--seconds 8 (random images, the profile's widths and minibatches)",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (TINY, CPU, PAPER)}
NAMES = tuple(PROFILES)


def get(name: str) -> Profile:
    """The profile called `name`; an unknown name is an error that lists the profiles."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[name]
