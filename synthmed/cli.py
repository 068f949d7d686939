"""The `synthmed` command. Each subcommand is a thin wrapper over a package function."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from synthmed import generators, profiles

# Errors whose message is written for the user (it names the file, value or option); any other
# exception is a bug, shown with its type.
_USER_ERRORS = (ValueError, LookupError, OSError, RuntimeError, TimeoutError, ImportError)


class CommandError(Exception):
    """A bad option, found before any work starts; the message says which and what to give instead."""


def _check_options(args: argparse.Namespace) -> None:
    """Options that can be checked before the work starts: the data root and the device."""
    root = getattr(args, "data_root", None)
    if root is not None and not Path(root).is_dir():
        raise CommandError(
            f"--data-root {root}: no such folder; give the folder that holds CheXpert-v1.0-small/ "
            "and stage_2_train.csv, or leave the option out to use phantoms"
        )
    device = getattr(args, "device", "auto")
    if device not in ("auto", "cpu"):
        _check_device(device)
    weights = getattr(args, "classifier_weights", None)
    if weights not in (None, "imagenet", "none") and not Path(weights).expanduser().is_file():
        raise CommandError(f"--classifier-weights {weights}: no such file; give imagenet, none or the path of "
                           "a torchvision densenet121 state dict")
    if args.command in ("run", "classify", "book") and profiles.get(args.profile).needs_real_data:
        _check_paper(args)


def _check_paper(args: argparse.Namespace) -> None:
    """A profile that needs them (paper): the real datasets, a CUDA GPU and the classifier weights, before any work."""
    from synthmed.experiments import check_paper_ready

    if args.command == "book":  # the notebooks take data_root and the options from params/paper.yaml
        from synthmed.book import load_parameters

        params = load_parameters(Path(args.root) / "params" / f"{args.profile}.yaml", "any")
        check_paper_ready(args.profile, params.get("data_root") or None, "auto",
                          classifier_weights=params.get("classifier_weights") or None)
        return
    modalities = (args.modality,) if isinstance(args.modality, str) else tuple(args.modality)
    check_paper_ready(args.profile, args.data_root, args.device, modalities, args.classifier_weights)


def _check_device(device: str) -> None:
    import torch

    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise CommandError(f"--device {device!r}: not a device name; use auto, cpu or cuda (cuda:N)") from None
    available = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        available.append("mps")
    found = {
        "cuda": torch.cuda.is_available() and (chosen.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }.get(chosen.type, False)
    if not found:
        raise CommandError(
            f"--device {device}: no such device on this machine; available: {', '.join(available)}; "
            "use --device auto (CUDA when present) or cpu"
        )


def _message(err: BaseException) -> str:
    """The error as one line for the terminal."""
    text = str(err).strip()
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{err.filename}: {err.strerror or text}"
    expected = isinstance(err, (CommandError, *_USER_ERRORS)) and not isinstance(err, (KeyError, IndexError))
    if not expected:
        return f"{type(err).__name__}: {text} (unexpected; rerun with --debug and report the traceback)"
    return text or type(err).__name__


def _book(args: argparse.Namespace) -> int:
    from synthmed.book import EXECUTION_TIMEOUT_S, NotebookFailed, build

    try:
        timeout = args.timeout if args.timeout is not None else EXECUTION_TIMEOUT_S
        runs = build(args.root, args.profile, force=args.force, timeout=timeout, html=not args.no_html)
    except NotebookFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for run in runs:
        state = f"executed in {run.seconds:.0f} s" if run.executed else "unchanged, kept"
        print(f"{run.name}: {state}")
    if not args.no_html:
        print(f"book: {Path(args.root).resolve() / '_build' / 'html' / 'index.html'}")
    return 0


def _resources(args: argparse.Namespace) -> profiles.SlurmResources:
    """One job's request: the profile's (`Profile.slurm`) with the command line's options."""
    import dataclasses

    fields = ("partition", "account", "gpus_per_job", "cpus_per_job", "mem_gb", "time_min", "array_parallelism")
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    return dataclasses.replace(profiles.get(args.profile).slurm, **given)


def _submit(args: argparse.Namespace) -> int:
    from synthmed.experiments import RunSpec, results_path
    from synthmed.experiments.cluster import collect, submit_sweep

    spec = RunSpec(args.profile, args.data_root, args.device, args.classifier_weights, args.precision)
    submission = submit_sweep(args.modality, args.benchmark, args.profile, args.executor, settings=args.settings,
                              generators=args.generators, seeds=args.seeds, resources=_resources(args), spec=spec,
                              folder=args.jobs_folder, parallel=args.parallel, per_gpu=args.per_gpu,
                              dry_run=args.dry_run)
    print(submission.describe())
    if args.dry_run or not submission.jobs:
        return 0
    if args.executor == "slurm" and not args.wait:
        print("submitted; rerun this command when the jobs have finished: it submits only the runs still missing "
              f"(add --wait to wait here). results: {results_path(args.modality, args.benchmark, args.profile)}")
        return 0
    outcome = collect(submission)
    print(outcome.describe())
    print(f"results: {results_path(args.modality, args.benchmark, args.profile)}")
    return 1 if outcome.failed else 0


def _plan(args: argparse.Namespace) -> int:
    from synthmed.experiments.plan import parse_rate, plan

    rates = dict(parse_rate(text) for text in args.rate)
    print(plan(args.profile, rates, args.generators).describe())
    return 0


def _run(args: argparse.Namespace) -> int:
    import pandas as pd

    from synthmed.experiments import results_path, run_sweep

    if args.per_gpu is not None and args.executor == "inline":
        args.executor = "local"  # --per-gpu runs local processes
    if args.executor != "inline":
        return _submit(args)
    if args.dry_run:
        raise CommandError("--dry-run: only with --executor slurm or local (the inline sweep submits nothing)")
    results = run_sweep(
        args.modality,
        args.benchmark,
        args.profile,
        settings=args.settings,
        generators=args.generators,
        seeds=args.seeds,
        data_root=args.data_root,
        device=args.device,
        progress=not args.no_progress,
        classifier_weights=args.classifier_weights,
        precision=args.precision,
    )
    columns = ["setting", "generator", "seed", "n_train", "n_test", "auc_real", "auc_synthetic", "gap", "train_kimg"]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(results[columns].round(4).to_string(index=False))
    for skip in results.attrs.get("skipped", []):
        print(f"skipped setting {skip['setting']}: {skip['reason']}")
    print(f"results: {results_path(args.modality, args.benchmark, args.profile)}")
    return 0


def _data(args: argparse.Namespace) -> int:
    import pandas as pd

    from synthmed.data import benchmarks
    from synthmed.experiments import load_source

    data = profiles.get(args.profile).data_config(chest_patients=args.chest_patients,
                                                  brain_patients=args.brain_patients)
    for modality in args.modality:
        source = load_source(modality, data, args.data_root)
        kind = "data" if source.real_data else "phantoms"
        print(
            f"{modality} {kind}: {source.root} ({len(source.index):,} images after the paper's rules, "
            f"benchmark scale {source.scale:g})"
        )
        table = benchmarks.benchmark_table(source.index, modality, scale=source.scale, train_scale=source.train_scale)
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
            print(table.drop(columns="modality").to_string(index=False))
    return 0


def _classify(args: argparse.Namespace) -> int:
    from synthmed.experiments import classify_point

    table, history = classify_point(
        args.modality,
        args.benchmark,
        args.setting,
        args.profile,
        args.seed,
        data_root=args.data_root,
        device=args.device,
        progress=not args.no_progress,
        classifier_weights=args.classifier_weights,
        precision=args.precision,
    )
    state = "loaded from the cache" if history.from_cache else f"trained, {history.stop_reason}"
    print(f"real-trained classifier: {len(history.epochs)} epochs ({state}), best epoch {history.best_epoch}")
    print(table[["label", "n_pos", "auc", "ci_low", "ci_high", "auc_paper"]].round(4).to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synthmed", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error (also: SYNTHMED_DEBUG=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute the notebooks for a profile and build the HTML book")
    book.add_argument("--profile", default="cpu", choices=profiles.NAMES)
    book.add_argument("--root", default=".", help="repository root holding _toc.yml (default: .)")
    book.add_argument("--force", action="store_true", help="re-execute notebooks even if unchanged")
    book.add_argument(
        "--timeout", type=int, default=None, help="per-cell execution timeout in seconds (default: 10800)"
    )
    book.add_argument("--no-html", action="store_true", help="execute notebooks only")
    book.set_defaults(func=_book)

    profile = {"default": "cpu", "choices": profiles.NAMES,
               "help": "; ".join(f"{p.name}: {p.summary}" for p in profiles.PROFILES.values()) + " (default: cpu)"}
    data_root = {"default": None, "help": "folder with CheXpert-v1.0-small/ and stage_2_train.csv; default: phantoms"}
    device = {"default": "auto", "help": "auto (CUDA when present), cpu or cuda"}
    weights = {
        "default": None,
        "help": "the classifier's initial weights: imagenet (torchvision's DenseNet-121, downloaded into its "
        "cache on first use), none (from scratch) or the path of a densenet121 state dict; default: the "
        "profile's (paper: imagenet; cpu, tiny: none, their compact CNN has no pretrained weights)",
    }
    precision = {
        "default": None,
        "choices": ("fp32", "bf16"),
        "help": "arithmetic of GAN and classifier training: fp32 (every profile's default, the paper's) or bf16 "
        "(autocast)",
    }

    run = sub.add_parser("run", help="run a benchmark sweep (cached) and save its results table")
    run.add_argument("--modality", required=True, choices=("chest", "brain"))
    run.add_argument("--benchmark", required=True, choices=("classes", "samples", "resolution"))
    run.add_argument("--profile", **profile)
    run.add_argument("--data-root", **data_root)
    run.add_argument("--device", **device)
    run.add_argument("--classifier-weights", **weights)
    run.add_argument("--precision", **precision)
    run.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the profile's seeds")
    run.add_argument("--settings", type=int, nargs="+", default=None, help="default: the profile's settings")
    run.add_argument("--generators", nargs="+", default=None, choices=generators.names(),
                     help="default: the profile's book generators (synthmed.generators.book_names)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    cluster = run.add_argument_group(
        "cluster", "one submitit job per run (point, generator, seed) that the saved table lacks; each job merges "
        "its row into the table and resumes from the caches when requeued. Defaults: the profile's Profile.slurm")
    cluster.add_argument("--executor", default="inline", choices=("inline", "local", "slurm"),
                         help="inline: this process (default); local: one process per job; slurm: a job array")
    cluster.add_argument("--dry-run", action="store_true", help="print the jobs and their resources, submit nothing")
    cluster.add_argument("--partition", default=None)
    cluster.add_argument("--account", default=None)
    cluster.add_argument("--gpus-per-job", type=int, default=None,
                         help="GPUs given to each job; above 1, each GAN trains data-parallel over them (torchrun, "
                         "one rank per GPU: synthmed.gan.ddp), its classifiers on the first")
    cluster.add_argument("--cpus-per-job", type=int, default=None)
    cluster.add_argument("--mem-gb", type=int, default=None)
    cluster.add_argument("--time-min", type=int, default=None, help="a job past it is requeued and resumes")
    cluster.add_argument("--array-parallelism", type=int, default=None, help="jobs of the array that run at once")
    cluster.add_argument("--parallel", type=int, default=None,
                         help="local: jobs at once, on the same GPU(s) (--per-gpu spreads them over the GPUs); "
                         "default: --array-parallelism")
    cluster.add_argument("--per-gpu", type=int, default=None, metavar="K",
                         help="K jobs at once on each visible GPU, each pinned to one (implies --executor local); "
                         "with no GPU, K processes on the CPU, the cores split between them")
    cluster.add_argument("--jobs-folder", default=None, help="submitit's pickles and logs; default: "
                         "SYNTHMED_HOME/jobs/MODALITY-BENCHMARK-PROFILE")
    cluster.add_argument("--wait", action="store_true", help="slurm: wait for the jobs and report failures")
    run.set_defaults(func=_run)

    plan_parser = sub.add_parser("plan", help="runs, training images and projected GPU-hours of a profile's sweeps")
    plan_parser.add_argument("--profile", **{**profile, "default": "paper"})
    plan_parser.add_argument("--rate", action="append", default=[], metavar="STAGE:RES=IMAGES_PER_S",
                             help="one GPU's training images/s of a generator or 'classifier' at a resolution, "
                             "replacing the profile's figure (repeatable)")
    plan_parser.add_argument("--generators", nargs="+", default=None, choices=generators.names(),
                             help="default: the profile's book generators")
    plan_parser.set_defaults(func=_plan)

    data = sub.add_parser("data", help="make or locate the datasets and print the benchmark table")
    data.add_argument("--profile", **profile)
    data.add_argument("--data-root", **data_root)
    data.add_argument("--modality", nargs="+", default=("chest", "brain"), choices=("chest", "brain"))
    data.add_argument("--chest-patients", type=int, default=None, help="phantom patients; default: the profile's")
    data.add_argument("--brain-patients", type=int, default=None, help="phantom patients; default: the profile's")
    data.set_defaults(func=_data)

    classify = sub.add_parser("classify", help="train and test the real-trained classifier of one benchmark point")
    classify.add_argument("--modality", required=True, choices=("chest", "brain"))
    classify.add_argument("--benchmark", required=True, choices=("classes", "samples", "resolution"))
    classify.add_argument("--setting", required=True, type=int, help="classes, samples per class or resolution")
    classify.add_argument("--profile", **profile)
    classify.add_argument("--seed", type=int, default=0)
    classify.add_argument("--data-root", **data_root)
    classify.add_argument("--device", **device)
    classify.add_argument("--classifier-weights", **weights)
    classify.add_argument("--precision", **precision)
    classify.add_argument("--no-progress", action="store_true", help="no progress bars")
    classify.set_defaults(func=_classify)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; an error prints one line naming what was wrong and returns 1 (130 when
    interrupted). The traceback is shown only with --debug or SYNTHMED_DEBUG=1."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    debug = args.debug or os.environ.get("SYNTHMED_DEBUG", "").strip().lower() in ("1", "true", "yes")
    try:
        _check_options(args)
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"synthmed {args.command}: interrupted; run it again to resume from the caches", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        print(f"synthmed {args.command}: error: {_message(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
