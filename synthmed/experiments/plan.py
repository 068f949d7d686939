"""`synthmed plan`: before submitting a profile's sweeps, how many generator and classifier runs they hold,
how many training images, and the GPU-hours those take at a given throughput, per benchmark and in total.

Upper bounds, like `benchmarks/gpu_smoke.py`'s projection: every generator run to its `total_kimg` and
every classifier to `max_epochs` epochs of `epoch_images` (early stopping ends most runs sooner).
Sampling the synthetic splits, the Fréchet evaluations and the fidelity panels are not counted.
Rates (one GPU's training images/s) come from the profile (`Profile.gpu_rates`, with their source)
or the caller (`rates`, from `synthmed plan --rate`); a stage without one is shown without hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from synthmed import generators as registry
from synthmed import profiles
from synthmed.data import benchmarks
from synthmed.experiments.point import point_resolution

CLASSIFIER = "classifier"  # the rate key of the profile's classifier
_N_LABELS = 14  # a run's length does not depend on its label count; CheXpert's findings, as gpu_smoke


@dataclass(frozen=True)
class Plan:
    table: pd.DataFrame  # one row per (modality, benchmark), then "total"
    rates: dict[tuple[str, int], tuple[float, str]]  # (stage, resolution) -> (images/s, where it comes from)
    missing_rates: list[tuple[str, int]]  # stages without a rate: their runs are not in the hours
    source: str = ""  # where the profile's rates come from (`Profile.gpu_rates_source`)

    def describe(self) -> str:
        shown = self.table.copy()
        for column in ("generator_mimg", "classifier_mimg"):
            shown[column] = shown[column].map(lambda v: f"{v:,.1f}")
        for column in ("generator_gpu_h", "classifier_gpu_h", "gpu_h"):
            shown[column] = shown[column].map(lambda v: f"{v:,.0f}")
        lines = [shown.to_string(index=False), "", f"rates (training images/s on one GPU; {self.source}):"]
        for (stage, resolution), (rate, source) in sorted(self.rates.items()):
            lines.append(f"  {stage:>10} {resolution:>4} px: {rate:>8.1f}  ({source})")
        for stage, resolution in self.missing_rates:
            lines.append(f"  {stage:>10} {resolution:>4} px: NO RATE, its runs are left out of the hours; give "
                         f"--rate {stage}:{resolution}=IMAGES_PER_S")
        lines.append("Upper bounds: each generator to total_kimg, each classifier to max_epochs x epoch_images; "
                     "early stopping ends most runs sooner. Sampling, Fréchet evaluations and panels not counted.")
        return "\n".join(lines)


def parse_rate(text: str) -> tuple[tuple[str, int], float]:
    """"prog-GAN:64=300" -> (("prog-GAN", 64), 300.0); the stage is a generator's name or "classifier"."""
    try:
        stage_resolution, value = text.split("=")
        stage, resolution = stage_resolution.rsplit(":", 1)
        rate = float(value)
        key = (stage, int(resolution))
    except ValueError:
        raise ValueError(f"--rate {text!r}: expected STAGE:RESOLUTION=IMAGES_PER_S, e.g. prog-GAN:64=300") from None
    if stage != CLASSIFIER and stage not in registry.names():
        raise ValueError(f"--rate {text!r}: {stage!r} is neither a generator ({', '.join(registry.names())}) "
                         f"nor {CLASSIFIER}")
    if not rate > 0:
        raise ValueError(f"--rate {text!r}: images/s must be > 0")
    return key, rate


def plan(profile: str, rates: dict[tuple[str, int], float] | None = None, generators=None) -> Plan:
    """The runs, images and projected GPU-hours of every sweep of `profile` (`Profile.settings` x `seeds`
    x `generators`, None: the profile's book generators). `rates` replace the profile's (`Profile.gpu_rates`)."""
    chosen = profiles.get(profile)
    generators = tuple(registry.book_names(profile) if generators is None else generators)
    known = {key: (rate, f"{label}, Profile.gpu_rates") for key, (rate, label) in chosen.gpu_rates.items()}
    known.update({key: (float(rate), "given on the command line") for key, rate in (rates or {}).items()})
    classifier = chosen.classifier_config()
    classifier_images = classifier.max_epochs * classifier.epoch_images
    seeds = len(chosen.seeds)
    rows, used, missing = [], {}, []

    def hours(stage: str, resolution: int, images: float) -> float:
        if (stage, resolution) not in known:
            if (stage, resolution) not in missing:
                missing.append((stage, resolution))
            return 0.0  # left out of the hours; `Plan.describe` names what is missing
        used[stage, resolution] = known[stage, resolution]
        return images / known[stage, resolution][0] / 3600

    for (modality, benchmark), settings in chosen.settings.items():
        row = dict(modality=modality, benchmark=benchmark, points=len(settings) * seeds, generator_runs=0,
                   generator_mimg=0.0, generator_gpu_h=0.0, classifier_runs=0, classifier_mimg=0.0,
                   classifier_gpu_h=0.0)
        for setting in settings:
            resolution = point_resolution(benchmarks.BenchmarkPoint(modality, benchmark, setting), profile)
            for generator in generators:
                images = registry.get(generator).config(profile, resolution, _N_LABELS).total_kimg * 1000 * seeds
                row["generator_runs"] += seeds
                row["generator_mimg"] += images / 1e6
                row["generator_gpu_h"] += hours(generator, resolution, images)
            runs = seeds * (1 + len(generators))  # the real-trained classifier and one per generator
            row["classifier_runs"] += runs
            row["classifier_mimg"] += runs * classifier_images / 1e6
            row["classifier_gpu_h"] += hours(CLASSIFIER, resolution, runs * classifier_images)
        rows.append(row)
    table = pd.DataFrame(rows)
    table["gpu_h"] = table["generator_gpu_h"] + table["classifier_gpu_h"]
    total = table.drop(columns=["modality", "benchmark"]).sum()
    table = pd.concat([table, pd.DataFrame([{"modality": "total", "benchmark": "", **total.to_dict()}])],
                      ignore_index=True)
    for column in ("points", "generator_runs", "classifier_runs"):
        table[column] = table[column].astype(int)
    return Plan(table, used, missing, chosen.gpu_rates_source or "no profile rates")
