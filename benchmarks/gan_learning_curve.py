"""How one benchmark point's generators learn along training: kimg, steps, seconds, Fréchet distance, AUROC.

    .venv/bin/python benchmarks/gan_learning_curve.py cpu                       # chest classes-20, both GANs
    .venv/bin/python benchmarks/gan_learning_curve.py cpu --arch cpdgan --at 5,10,20,30
    .venv/bin/python benchmarks/gan_learning_curve.py cpu --minibatch 32 --lr 0.002 --ema-beta 0.99
    .venv/bin/python benchmarks/gan_learning_curve.py cpu --fmap-base 128 --fmap-max 32   # half the widths
    .venv/bin/python benchmarks/gan_learning_curve.py tiny --at 0.25,0.5       # seconds; the test suite runs this

For each generator the profile's config (`synthmed.experiments.generator_config`, optionally changed by
the flags) trains on the point's real training split with early stopping off, pausing at each kimg of
``--at`` (the run resumes bit-exactly from its checkpoint). At each pause the EMA generator draws one
image per real train and val label vector, as the paper's inference does, and the table gets:

- kimg and G steps so far, and training seconds (housekeeping excluded);
- the Fréchet distance between those synthetic train images and the real ones, in the features of the
  point's real-trained classifier (the distance the cpu profile stops on);
- the mean AUROC on the real test split of a classifier trained on the synthetic images (the profile's
  classifier and schedule), with its 95% bootstrap interval, and the recovery
  (AUROC_syn - 0.5) / (AUROC_real - 0.5) beside the real-trained classifier's AUROC.

Everything runs in this process, one step after another; ``--threads`` sets torch's threads (two
one-thread processes, one per ``--arch``, use both cores of the project's machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from synthmed import experiments, profiles
from synthmed.classify.metrics import evaluate
from synthmed.classify.train import cache_key, predict, train_cached
from synthmed.data import benchmarks, store
from synthmed.features import real_classifier_features
from synthmed.gan.frechet import frechet_distance
from synthmed.gan.sample import sample
from synthmed.gan.train import load_checkpoint, load_generator, train_gan
from synthmed.generators import GAN_ARCH

DEFAULT_AT = {"tiny": "0.25,0.5", "cpu": "2,5,10,20,30", "paper": "1000,3000,6000,12000"}
COLUMNS = ["generator", "kimg", "steps", "seconds", "fd", "auc_synthetic", "auc_low", "auc_high", "auc_real",
           "recovery"]


def curve_config(
    generator: str,
    profile: str,
    resolution: int,
    n_labels: int,
    at: list[float],
    *,
    minibatch: int | None = None,  # one size at every resolution
    grow_kimg: float | None = None,  # prog-GAN's kimg per level and per fade-in (ignored for cpD-GAN)
    **changes,  # other GANConfig fields; None = the profile's
):
    """The profile's GAN config, trained to the last pause with no early stopping, with the changes applied."""
    config = experiments.generator_config(generator, profile, resolution, n_labels)
    changes = {k: v for k, v in changes.items() if v is not None}
    if minibatch is not None:
        changes["minibatch"] = dict.fromkeys(config.minibatch, minibatch)
    if grow_kimg is not None and config.grows:
        changes.update(lod_train_kimg=grow_kimg, lod_transition_kimg=grow_kimg)
    never = 10 * max(at)  # no Fréchet evaluation inside the run: the curve measures it at each pause
    return dataclasses.replace(config, total_kimg=max(at), min_fid_kimg=never, fid_every_kimg=never, **changes)


def learning_curve(
    profile: str,
    *,
    modality: str = "chest",
    benchmark: str = "classes",
    setting: int = 20,
    generators: tuple[str, ...] = tuple(GAN_ARCH),
    at: list[float],
    seed: int = 0,
    run_root: Path,
    print_rows: bool = True,
    keep_grids: bool = False,  # write the runs' sample grids (fakes-<kimg>.png) into run_root
    **changes,
) -> pd.DataFrame:
    """One row per (generator, pause): the columns of `COLUMNS`."""
    settings = profiles.get(profile)
    source = experiments.load_source(modality, settings.data)
    point = benchmarks.BenchmarkPoint(modality, benchmark, setting)
    resolution = experiments.point_resolution(point, profile)
    subset = benchmarks.build_point(source.index, point, scale=source.scale, train_scale=source.train_scale)
    arrays = store.split_arrays(subset, modality, resolution, progress=False)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    labels = list(subset.labels)
    y_true = y_test.astype(np.int8)
    n_boot = settings.n_boot

    clf_config = settings.classifier_config(seed=seed)
    real_model, _ = train_cached(x_train, y_train, x_val, y_val, clf_config)
    real = evaluate(y_true, predict(real_model, x_test), labels, seed=seed, n_boot=n_boot)
    auc_real = float(real.loc[real["label"] == "mean", "auc"].iloc[0])
    extractor = real_classifier_features(real_model, cache_key(clf_config, x_train, y_train, x_val, y_val))
    real_features = extractor(x_train)
    if print_rows:
        print(f"# {point.name} at {resolution}x{resolution}, profile {profile}: {len(x_train)} train, "
              f"{len(x_val)} val, {len(x_test)} test images, {len(labels)} labels; "
              f"real-trained mean AUROC {auc_real:.3f}", flush=True)
        print("\t".join(COLUMNS), flush=True)

    rows = []
    for generator in generators:
        config = curve_config(generator, profile, resolution, len(labels), at, **changes)
        run_dir = run_root / f"{generator}-{seed}"
        for kimg in sorted(at):
            result = train_gan(config, x_train, y_train, run_dir, seed=seed, extractor=extractor, max_kimg=kimg,
                               fd_images=settings.fd_images, tick_kimg=min(at) / 2,
                               checkpoint_every_kimg=max(at), grid_every_kimg=min(at) if keep_grids else 0)
            steps = load_checkpoint(result.last_checkpoint)["progress"]["step"]
            G, _ = load_generator(result.last_checkpoint, device="cpu")
            fake_train = sample(G, y_train, seed=seed)
            fake_val = sample(G, y_val, seed=seed + 1)
            fd = frechet_distance(real_features, extractor(fake_train))
            model, _ = train_cached(fake_train, y_train, fake_val, y_val, clf_config,
                                    cache_dir=run_root / "classifiers")
            table = evaluate(y_true, predict(model, x_test), labels, seed=seed, n_boot=n_boot)
            mean = table[table["label"] == "mean"].iloc[0]
            row = {
                "generator": generator,
                "kimg": round(result.kimg, 3),
                "steps": steps,
                "seconds": round(result.train_seconds, 1),
                "fd": round(fd, 2),
                "auc_synthetic": round(float(mean["auc"]), 3),
                "auc_low": round(float(mean["ci_low"]), 3),
                "auc_high": round(float(mean["ci_high"]), 3),
                "auc_real": round(auc_real, 3),
                "recovery": round((float(mean["auc"]) - 0.5) / (auc_real - 0.5), 2) if auc_real > 0.5 else float("nan"),
            }
            rows.append(row)
            if print_rows:
                print("\t".join(str(row[c]) for c in COLUMNS), flush=True)
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", choices=("tiny", "cpu", "paper"))
    parser.add_argument("--modality", default="chest", choices=("chest", "brain"))
    parser.add_argument("--benchmark", default="classes", choices=benchmarks.BENCHMARKS)
    parser.add_argument("--setting", type=int, default=None, help="default: chest classes 20 / brain classes 10")
    parser.add_argument("--arch", default="both", choices=("both", *GAN_ARCH.values()))
    parser.add_argument("--at", default=None, help="comma-separated kimg at which to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--minibatch", type=int, default=None, help="one minibatch size at every resolution")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--ema-beta", type=float, default=None)
    parser.add_argument("--grow-kimg", type=float, default=None, help="prog-GAN kimg per level and per fade-in")
    parser.add_argument("--fmap-base", type=int, default=None, help="width rule: channels at a stage = base / 2**stage")
    parser.add_argument("--fmap-max", type=int, default=None, help="width rule: the widest feature map")
    parser.add_argument("--run-dir", type=Path, default=None, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    at = [float(k) for k in (args.at or DEFAULT_AT[args.profile]).split(",")]
    setting = args.setting if args.setting is not None else {"chest": 20, "brain": 10}[args.modality]
    by_arch = {arch: name for name, arch in GAN_ARCH.items()}
    generators = tuple(GAN_ARCH) if args.arch == "both" else (by_arch[args.arch],)
    changes = {"minibatch": args.minibatch, "lr": args.lr, "ema_beta": args.ema_beta, "grow_kimg": args.grow_kimg,
               "fmap_base": args.fmap_base, "fmap_max": args.fmap_max}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        learning_curve(args.profile, modality=args.modality, benchmark=args.benchmark, setting=setting,
                       generators=generators, at=at, seed=args.seed, run_root=args.run_dir or Path(temp),
                       keep_grids=args.run_dir is not None, **changes)
    print(f"# wall {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
