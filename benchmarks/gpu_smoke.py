"""One profile's networks on the device for a few minutes: training images/s, peak memory, projected hours.

    .venv/bin/python benchmarks/gpu_smoke.py                              # paper profile on CUDA
    .venv/bin/python benchmarks/gpu_smoke.py --precision bf16             # the same with bf16 autocast
    .venv/bin/python benchmarks/gpu_smoke.py --profile tiny --device cpu --seconds 1   # the code path on a CPU

For each resolution the profile's sweeps use (paper: 32, 64, 128) it trains both generators at the
profile's widths and minibatches through ``synthmed.gan.train.train_gan`` (full resolution from the
start, no Fréchet evaluation), then the profile's classifier (paper: DenseNet-121 on images resized
to 224 px) through ``synthmed.classify.train.train_classifier`` for one epoch, on random images
and labels. So the CUDA paths of a real run execute: channels-last networks, autocast when
``--precision bf16``, the training set in device memory, non-blocking copies. Each stage first
runs a short calibration, then as many images as fill ``--seconds``.

It prints, per stage, images per second (images shown to D for a GAN, training images for a
classifier, setup and validation excluded) and the peak device memory, then the projected hours
for the profile's whole set of sweeps (every benchmark, modality, setting, seed and generator of
``synthmed.profiles``: ``Profile.settings`` and ``Profile.seeds``) from those rates: each GAN run to its
``total_kimg`` and each classifier run to ``max_epochs`` epochs. Early stopping ends most runs
well before either, so this is an upper bound. Exits 2 when asked for CUDA and none is present.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time

import numpy as np
import torch

from synthmed import experiments, profiles
from synthmed.classify.models import ClassifierConfig
from synthmed.classify.train import train_classifier, validation_auc
from synthmed.data import benchmarks
from synthmed.gan.config import GANConfig
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.train import train_gan
from synthmed.generators import GAN_ARCH

N_LABELS = 14  # CheXpert's findings: the widest label vector of the benchmarks
N_IMAGES = 2048  # random training images per resolution (uint8; at 128 px 32 MiB)
DEFAULT_SECONDS = {"paper": 30.0, "cpu": 10.0, "tiny": 1.0}


def sweep_resolutions(profile: str) -> list[int]:
    """The resolutions the profile's sweeps train at."""
    return sorted({
        experiments.point_resolution(benchmarks.BenchmarkPoint(m, b, s), profile)
        for (m, b), settings in profiles.get(profile).settings.items() for s in settings
    })


def random_data(resolution: int, n: int = N_IMAGES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, resolution, resolution), dtype=np.uint8)
    labels = (rng.random((n, N_LABELS)) < 0.3).astype(np.float32)
    labels[0], labels[1] = 0, 1  # every label has both classes (a validation AUROC exists)
    return images, labels


def gan_smoke_config(profile: str, arch: str, resolution: int, kimg: float, precision: str) -> GANConfig:
    """The profile's config, at full resolution from the start, stopping at ``kimg``, no Fréchet evaluation."""
    config = profiles.get(profile).gan_config(arch, resolution, N_LABELS, precision)
    changes: dict[str, object] = {"total_kimg": kimg, "min_fid_kimg": kimg * 10, "fid_every_kimg": kimg * 10}
    if config.grows:  # growing spends its first images at low resolution: measure the full-resolution rate
        changes["lod_initial_resolution"] = resolution
        changes["minibatch"] = {resolution: config.minibatch[resolution]}
    return dataclasses.replace(config, **changes)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> str:
    """Peak device memory since the last reset, in MiB; "-" on a CPU."""
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f}" if device.type == "cuda" else "-"


def gan_rate(profile: str, arch: str, resolution: int, seconds: float, device: torch.device,
             precision: str) -> tuple[float, int, str]:
    """(images/s at full resolution, minibatch, peak MiB) of train_gan for about ``seconds``."""
    images, labels = random_data(resolution)
    probe = gan_smoke_config(profile, arch, resolution, 1.0, precision)
    step_kimg = probe.minibatch_repeats * probe.d_repeats * probe.minibatch[resolution] / 1000  # one schedule step
    rate = None
    for kimg in (2 * step_kimg, None):  # calibration (pays the warm-up), then the measurement
        if kimg is None:
            kimg = max(2 * step_kimg, rate * seconds / 1000)
        config = gan_smoke_config(profile, arch, resolution, kimg, precision)
        _reset_peak(device)
        with tempfile.TemporaryDirectory() as run_dir:
            result = train_gan(config, images, labels, run_dir, seed=0, extractor=DownsampledPixels(4),
                               fd_images=64, device=str(device), grid_every_kimg=0, tick_kimg=kimg,
                               checkpoint_every_kimg=kimg)
        rate = result.kimg * 1000 / max(result.train_seconds, 1e-9)
    return rate, config.minibatch[resolution], _peak_mib(device)


def classifier_rate(config: ClassifierConfig, resolution: int, seconds: float,
                    device: torch.device) -> tuple[float, str]:
    """(training images/s, peak MiB) of one train_classifier epoch of about ``seconds`` (validation excluded)."""
    images, labels = random_data(resolution)
    val = slice(0, 2 * config.batch)  # a small validation set: its pass is timed apart below
    rate = None
    for epoch_images in (2 * config.batch, None):
        if epoch_images is None:
            epoch_images = max(2 * config.batch, int(rate * seconds))
        run = dataclasses.replace(config, device=str(device), max_epochs=1, epoch_images=epoch_images)
        train_images = np.resize(images, (max(epoch_images, len(images)), resolution, resolution))
        train_labels = np.resize(labels, (len(train_images), N_LABELS))
        _reset_peak(device)
        model, history = train_classifier(train_images, train_labels, images[val], labels[val], run)
        start = time.perf_counter()
        validation_auc(model, images[val], labels[val], run.eval_batch)  # what the epoch's time also holds
        validation = time.perf_counter() - start
        record = history.epochs[0]
        rate = record.images_seen / max(record.seconds - validation, 1e-9)
    return rate, _peak_mib(device)


def projection(profile: str, gan_rates: dict[tuple[str, int], float],
               clf_rates: dict[int, float], classifier: ClassifierConfig) -> dict[str, float]:
    """Hours for every sweep run of the profile at the measured rates (upper bounds: no early stopping)."""
    gan_hours = clf_hours = 0.0
    runs = {"gan": 0, "classifier": 0}
    seeds = len(profiles.get(profile).seeds)
    for (modality, benchmark), settings in profiles.get(profile).settings.items():
        for setting in settings:
            resolution = experiments.point_resolution(benchmarks.BenchmarkPoint(modality, benchmark, setting), profile)
            for arch in GAN_ARCH.values():
                total = profiles.get(profile).gan_config(arch, resolution, N_LABELS).total_kimg
                gan_hours += seeds * total * 1000 / gan_rates[arch, resolution] / 3600
                runs["gan"] += seeds
            # One real-trained classifier per point and seed, one synthetic-trained per generator.
            n_classifiers = seeds * (1 + len(GAN_ARCH))
            images = classifier.max_epochs * classifier.epoch_images
            clf_hours += n_classifiers * images / clf_rates[resolution] / 3600
            runs["classifier"] += n_classifiers
    return {"gan_h": gan_hours, "classifier_h": clf_hours, "gan_runs": runs["gan"],
            "classifier_runs": runs["classifier"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="paper", choices=profiles.NAMES)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per measurement (default: paper 30, cpu 10, tiny 1)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=None,
                        help="default: those the profile's sweeps use")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_smoke: no CUDA GPU is visible; use --device cpu (with --profile tiny) to run the code path",
              file=sys.stderr)
        return 2
    seconds = args.seconds if args.seconds is not None else DEFAULT_SECONDS[args.profile]
    resolutions = args.resolutions or sweep_resolutions(args.profile)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    classifier = experiments.classifier_config(args.profile, precision=args.precision, classifier_weights="none")
    print(f"device {device} ({name}), profile {args.profile}, precision {args.precision}, "
          f"{seconds:g} s per measurement, torch {torch.__version__}", flush=True)
    print(f"{'stage':24} {'res':>4} {'batch':>5} {'images/s':>10} {'peak MiB':>9}", flush=True)

    gan_rates: dict[tuple[str, int], float] = {}
    clf_rates: dict[int, float] = {}
    out_of_memory: list[str] = []
    for resolution in resolutions:
        for generator, arch in GAN_ARCH.items():
            try:
                rate, batch, peak = gan_rate(args.profile, arch, resolution, seconds, device, args.precision)
            except torch.OutOfMemoryError:  # a stage too large for this card: say so and measure the others
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                out_of_memory.append(f"{generator} at {resolution} px")
                print(f"{generator:24} {resolution:>4} {'':>5} {'out of memory':>20}", flush=True)
                continue
            gan_rates[arch, resolution] = rate
            print(f"{generator:24} {resolution:>4} {batch:>5} {rate:>10.1f} {peak:>9}", flush=True)
    clf_name = "DenseNet-121 (224 px)" if classifier.arch == "densenet121" else f"compact CNN (w {classifier.width})"
    for resolution in resolutions:
        if classifier.arch == "densenet121" and clf_rates:  # every input is resized to 224: one measurement
            clf_rates[resolution] = next(iter(clf_rates.values()))
            continue
        rate, peak = classifier_rate(classifier, resolution, seconds, device)
        clf_rates[resolution] = rate
        print(f"{clf_name:24} {resolution:>4} {classifier.batch:>5} {rate:>10.1f} {peak:>9}", flush=True)

    if out_of_memory:
        print(f"projected: not computed, {', '.join(out_of_memory)} ran out of this device's memory at the "
              "profile's minibatch (several GPUs: synthmed.gan.ddp)")
        return 0
    missing = sorted(set(sweep_resolutions(args.profile)) - set(resolutions))
    if missing:
        print(f"projected: not computed, the profile's sweeps also train at {missing} (leave --resolutions out)")
        return 0
    hours = projection(args.profile, gan_rates, clf_rates, classifier)
    total = hours["gan_h"] + hours["classifier_h"]
    print(f"projected: at most {total:.2f} h for the whole {args.profile} profile on this device "
          f"({hours['gan_runs']} GAN runs to total_kimg: {hours['gan_h']:.2f} h; {hours['classifier_runs']} "
          f"classifier runs to {classifier.max_epochs} epochs: {hours['classifier_h']:.2f} h; early stopping "
          "ends most runs sooner)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
