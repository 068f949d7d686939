"""The registry of generators every benchmark runs: the paper's two GANs, and whatever is added beside them.

A generator is a `Generator` spec: its name in tables and figures, its colour, a one-line description,
and three functions with one contract for every kind of model:

- ``config(profile, resolution, n_labels, precision, *, shared=False)``: the profile's settings, an
  object with ``to_dict()`` (it enters the run's config hash); ``shared`` asks for the schedule of the
  point the generators, utility and memorisation chapters share (`Profile.shared_gan_preset`);
- ``train(config, images, labels, *, seed, profile, domain, device, progress)``: trained (or loaded
  from its cache, resumed after a kill), early-stopped on the profile's Fréchet distance, returning a
  `Trained`;
- ``sample(trained, labels, *, seed, device)``: exactly one uint8 image per label vector, deterministic
  for a seed.

A generator with ``data_parallel`` (the GANs) also takes ``ranks`` (an int > 1) in ``train``: one training
over that many processes (`synthmed.gan.ddp`, through torchrun), into the run folder one process would use.

Experiments, plots, claims, widgets and the CLI read `REGISTRY`; adding a generator is its package plus
one `register` call. The GAN functions import torch when called, so reading the registry (the CLI,
figures) does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed import profiles


@dataclass(frozen=True)
class Trained:
    """A trained generator as the experiments see it, whatever its kind."""

    model: object  # what `Generator.sample` takes (a GAN: the checkpoint the original samples)
    log_path: Path | None  # training log the generators chapter plots (JSON lines), None if it keeps none
    stop_metric: str  # the distance early stopping watched: "fid" (Inception, the paper's) or "fd_domain"
    stop_value: float  # its best value; NaN when the run never reached an evaluation
    fd_domain: float  # the in-domain Fréchet distance at that evaluation (NaN without one)
    best_kimg: float  # thousand training images at the best evaluation (NaN without one)
    sampled_kimg: float  # the sampled network's: the best at a patience stop, else the last
    train_kimg: float  # where training stopped
    stop_reason: str  # "total_kimg", "patience" or "max_kimg"
    train_seconds: float  # in training steps, housekeeping excluded


@dataclass(frozen=True)
class Generator:
    name: str  # as tables, figures and the paper write it
    colour: str  # in every figure
    description: str  # one line for the book and the CLI
    config: Callable[..., object]
    train: Callable[..., Trained]
    sample: Callable[..., np.ndarray]
    in_paper: bool = False  # one of the paper's generators (its claims compare these)
    in_book: bool = True  # run by default: every sweep, chapter and `synthmed run` without --generators
    data_parallel: bool = False  # `train` takes ``ranks``: one training over several processes (GPUs)


REGISTRY: dict[str, Generator] = {}


def register(spec: Generator) -> Generator:
    """Add `spec` to the registry (a name registered twice is an error: say `unregister` first)."""
    if spec.name in REGISTRY:
        raise ValueError(f"a generator named {spec.name!r} is registered already")
    REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def get(name: str) -> Generator:
    """The generator called `name`; an unknown name is an error that lists the registered ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown generator {name!r}; expected one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def names() -> tuple[str, ...]:
    """Registered generators, in registration order (the paper's two first)."""
    return tuple(REGISTRY)


def book_names(profile: str | None = None) -> tuple[str, ...]:
    """The generators sweeps and chapters run unless told otherwise (`Generator.in_book`), registry order;
    with a `profile`, less those it leaves out (`Profile.left_out_generators`: the cpu book cannot afford
    the diffusion model's sampling)."""
    left_out = profiles.get(profile).left_out_generators if profile is not None else {}
    return tuple(name for name, spec in REGISTRY.items() if spec.in_book and name not in left_out)


def paper_names() -> tuple[str, ...]:
    return tuple(name for name, spec in REGISTRY.items() if spec.in_paper)


def colour(name: str, default: str | None = None) -> str | None:
    spec = REGISTRY.get(name)
    return spec.colour if spec else default


# ---------------------------------------------------------------------------------------------
# The paper's GANs (synthmed.gan): one spec each, the architecture their only difference.


def _gan_config(arch: str):
    def config(profile: str, resolution: int, n_labels: int, precision: str | None = None, *, shared: bool = False):
        return profiles.get(profile).gan_config(arch, resolution, n_labels, precision, shared=shared)

    return config


def fd_setup(profile: str, domain, *, device: str = "auto") -> dict:
    """train_gan's Fréchet settings at `profile`: {"extractor", "monitors", "fd_reals"}.

    `domain` is the in-domain extractor (the point's real classifier). At `Profile.fd_features`
    "inception" (paper) the paper's Inception FID stops the run and `domain` is logged beside it as the
    monitor "domain"; otherwise `domain` stops it.
    """
    settings = profiles.get(profile)
    if settings.fd_features == "inception":
        from synthmed.gan.inception import inception_extractor

        return {"extractor": inception_extractor(device=device), "monitors": {"domain": domain},
                "fd_reals": settings.fd_reals}
    return {"extractor": domain, "monitors": None, "fd_reals": settings.fd_reals}


def _trained(result, settings: profiles.Profile) -> Trained:
    """A training loop's `synthmed.run_folder.TrainResult` as the experiments see it (`Trained`)."""
    nan = float("nan")
    best = nan if result.best_fd is None else float(result.best_fd)
    in_domain = best if settings.fd_features == "domain" else result.monitors_at_best.get("domain", nan)
    return Trained(
        model=result.checkpoint,
        log_path=result.log_path,
        stop_metric="fid" if settings.fd_features == "inception" else "fd_domain",
        stop_value=best,
        fd_domain=float(in_domain),
        best_kimg=nan if result.best_kimg is None else float(result.best_kimg),
        sampled_kimg=float(result.sampled_kimg),
        train_kimg=float(result.kimg),
        stop_reason=result.stop_reason,
        train_seconds=float(result.train_seconds),
    )


def _train_gan(config, images, labels, *, seed, profile, domain, device="auto", progress=False,
               ranks: int = 1) -> Trained:
    """`synthmed.gan.train.train_gan_cached`, early-stopped as `fd_setup` says.

    `ranks` > 1: the run is trained data-parallel over that many processes (`synthmed.gan.ddp.torchrun`: one
    per GPU, gloo processes on the CPU at device "cpu") into the run folder `train_gan_cached` keys, which is
    then loaded here as a finished run (a folder the ranks did not finish is an error, not trained here).
    """
    from synthmed.gan.train import train_gan_cached

    settings = profiles.get(profile)
    fd = fd_setup(profile, domain, device=device)
    options = {"seed": seed, "fd_images": settings.fd_images, "device": device, "progress": progress, **fd}
    if ranks == 1:
        return _trained(train_gan_cached(config, images, labels, **options), settings)
    from synthmed import config as home_settings
    from synthmed.gan.ddp import torchrun

    root = home_settings.home()
    ranks_dir = torchrun(ranks, config, images, labels, cache_dir=root / "gans", work_root=root / "torchrun",
                         **options)
    result = train_gan_cached(config, images, labels, **options, max_kimg=0)  # loads the ranks' finished run
    if not result.from_cache or Path(result.run_dir).resolve() != ranks_dir.resolve():
        raise RuntimeError(f"the {ranks} ranks trained {ranks_dir}, but this process keys the run {result.run_dir}, "
                           "which is not finished: the ranks' settings differ from this process's")
    return _trained(result, settings)


def _sample_gan(trained: Trained, labels: np.ndarray, *, seed: int, device: str = "auto") -> np.ndarray:
    from synthmed.gan.sample import sample

    return sample(trained.model, labels, seed=seed, device=device)


CPDGAN = register(Generator(
    name="cpD-GAN",
    colour="#1f77b4",
    description="the paper's non-growing GAN: conditional pixel norm in G, a projection discriminator",
    config=_gan_config("cpdgan"),
    train=_train_gan,
    sample=_sample_gan,
    in_paper=True,
    data_parallel=True,
))
PROGAN = register(Generator(
    name="prog-GAN",
    colour="#d62728",
    description="the paper's progressive GAN: grows from 8x8, an auxiliary-classifier discriminator",
    config=_gan_config("progan"),
    train=_train_gan,
    sample=_sample_gan,
    in_paper=True,
    data_parallel=True,
))
GAN_ARCH = {"cpD-GAN": "cpdgan", "prog-GAN": "progan"}  # registry name -> synthmed.gan.config arch


# ---------------------------------------------------------------------------------------------
# A class-conditional diffusion model (synthmed.diffusion, issue 16): not in the paper.


def _diffusion_config(profile: str, resolution: int, n_labels: int, precision: str | None = None, *,
                      shared: bool = False):
    """`DiffusionConfig`'s preset of the profile's GAN preset name (`shared`: the shared points')."""
    import dataclasses

    from synthmed.diffusion.config import DiffusionConfig

    config = DiffusionConfig.preset(profiles.get(profile).generator_preset(shared), resolution, n_labels)
    return dataclasses.replace(config, precision=precision) if precision else config


def _train_diffusion(config, images, labels, *, seed, profile, domain, device="auto", progress=False) -> Trained:
    """`synthmed.diffusion.train.train_diffusion_cached`, early-stopped as `fd_setup` says (as the GANs)."""
    from synthmed.diffusion.train import train_diffusion_cached

    settings = profiles.get(profile)
    result = train_diffusion_cached(config, images, labels, seed=seed, fd_images=settings.fd_images, device=device,
                                    progress=progress, **fd_setup(profile, domain, device=device))
    return _trained(result, settings)


def _sample_diffusion(trained: Trained, labels: np.ndarray, *, seed: int, device: str = "auto") -> np.ndarray:
    """DDIM from seeded starting noise, at the config's steps and guidance scale."""
    from synthmed.diffusion.sample import sample

    return sample(trained.model, labels, seed=seed, device=device)


DIFFUSION = register(Generator(
    name="DDIM",
    colour="#9467bd",
    description="a class-conditional diffusion model (U-Net, classifier-free guidance), sampled with DDIM",
    config=_diffusion_config,
    train=_train_diffusion,
    sample=_sample_diffusion,
    # In the tiny and paper books; the cpu profile leaves it out (`Profile.left_out_generators` says why).
    in_book=True,
))
