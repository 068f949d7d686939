"""Points per hour of a sweep run with `synthmed run --per-gpu 1` against `--per-gpu K`.

At 32 px a GAN uses a small part of a modern GPU, so K points at once on one GPU (separate processes,
`synthmed.experiments.cluster`) should finish a sweep sooner (issue 18). This runs the same sweep's
points twice through submitit's local executor, once with one job per GPU and once with K, each
from empty caches (the phantom source dataset is written once beforehand and shared), and prints the
wall time, points per hour and the speed-up. On a machine without a GPU it runs K processes on the
CPU, the cores split between them; on n GPUs, n * K processes.

Usage: .venv/bin/python benchmarks/per_gpu_speedup.py [--profile tiny] [--modality chest]
       [--benchmark classes] [--settings 20 6] [--seeds 0 1 2 3] [--generators cpD-GAN] [--k 4]
       [--data-root DIR] [--total-kimg KIMG] [--work DIR]

`--total-kimg` shortens every GAN (a quick look; leave it out for the profile's schedule). The work
folder (default: a temporary one, removed afterwards) holds one SYNTHMED_HOME per K.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from synthmed import experiments, profiles
from synthmed.experiments import cluster


def run_once(args: argparse.Namespace, k: int, home: Path, shared: Path) -> tuple[float, int]:
    """Wall seconds and finished points of the sweep at `k` jobs per GPU, from empty caches in `home`."""
    home.mkdir(parents=True)
    for name in ("phantoms", "index"):  # the source dataset and its header index, written once
        if (shared / name).exists():
            (home / name).symlink_to(shared / name)
    os.environ["SYNTHMED_HOME"] = str(home)  # the jobs inherit it
    spec = experiments.RunSpec(args.profile, data_root=args.data_root, device=args.device)
    overrides = {"total_kimg": args.total_kimg} if args.total_kimg else None
    start = time.perf_counter()
    submission = cluster.submit_sweep(args.modality, args.benchmark, args.profile, "local", settings=args.settings,
                                      generators=args.generators, seeds=args.seeds, spec=spec,
                                      generator_overrides=overrides, per_gpu=k)
    print(f"--per-gpu {k}: {submission.sharing}", flush=True)
    outcome = cluster.collect(submission)
    seconds = time.perf_counter() - start
    if outcome.failed:
        print(outcome.describe())
    return seconds, len(outcome.done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny", choices=profiles.NAMES)
    parser.add_argument("--modality", default="chest", choices=("chest", "brain"))
    parser.add_argument("--benchmark", default="classes", choices=("classes", "samples", "resolution"))
    parser.add_argument("--settings", type=int, nargs="+", default=None, help="default: the profile's")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--generators", nargs="+", default=["cpD-GAN"])
    parser.add_argument("--k", type=int, default=4, help="jobs per GPU of the second run (the first: 1)")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--data-root", default=None, help="real downloads; default: phantoms")
    parser.add_argument("--total-kimg", type=float, default=None)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    gpus = [] if args.device == "cpu" else cluster.visible_gpus()
    print(f"{args.profile} {args.modality}/{args.benchmark}: {len(gpus) or 'no'} GPUs "
          f"({', '.join(map(str, gpus)) or 'the CPU'}), {cluster.slot_threads(1)} cores", flush=True)

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work or temporary)
        shared = work / "source"
        if args.data_root is None:  # write the phantoms before the clock starts
            os.environ["SYNTHMED_HOME"] = str(shared)
            experiments.load_source(args.modality, profiles.get(args.profile).data, None)
        rows = []
        for k in dict.fromkeys((1, args.k)):
            seconds, points = run_once(args, k, work / f"per-gpu-{k}", shared)
            rows.append((k, seconds, points))
        base = rows[0][1] / max(1, rows[0][2])
        print(f"{'per GPU':>8} {'points':>7} {'wall s':>9} {'points/h':>9} {'per GPU/h':>9} {'speed-up':>8}")
        for k, seconds, points in rows:
            rate = points / seconds * 3600
            print(f"{k:>8} {points:>7} {seconds:>9.1f} {rate:>9.1f} {rate / max(1, len(gpus)):>9.1f} "
                  f"{base / (seconds / max(1, points)):>8.2f}")


if __name__ == "__main__":
    main()
