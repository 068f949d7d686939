"""A sweep on a cluster through submitit: one job per benchmark point (one generator, one seed), the
points of one sweep submitted as one Slurm job array, or as local processes.

- Which jobs: the sweep's (setting, seed, generator) runs that its saved results table lacks
  (`missing_points`), so rerunning a sweep submits only what is missing.
- A job (`PointJob`) runs `run_point` and merges its row into the sweep's results tables itself
  (`results.save_merged`: merged by run key, under the tables' lock, written atomically), so rows from
  many jobs land in one table and a job that fails loses no other job's row.
- Preemption and time limits. submitit asks Slurm for a signal (USR2) before the job is stopped; a
  `PointJob` is checkpointable (`checkpoint`): submitit pickles it again and requeues it, and the
  requeued job calls `run_point` again, which loads every finished step from the caches and resumes a
  GAN from its last checkpoint (bit-exactly on the CPU: `synthmed.gan.train`). Nothing is kept in the
  job object itself: the run folder is the state.
- `submit_sweep` with `dry_run` returns the jobs and the executor's parameters without submitting;
  `collect` waits for the jobs and reports each failure with its log path.

Executors: "slurm" (sbatch, a job array per sweep), "local" (each job a local process, at most
`parallel` at once: several small points on one GPU, or tests of the real submission, pickling, requeue
and collection code) and "debug" (submitit's DebugExecutor: in this process, when `result` is asked).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthmed import generators as registry
from synthmed import profiles
from synthmed.config import DataConfig, home
from synthmed.data import benchmarks
from synthmed.experiments.datasets import load_source
from synthmed.experiments.point import RunSpec, run_point
from synthmed.experiments.results import (
    RESULT_COLUMNS,
    CorruptTable,
    label_rows,
    load_results,
    save_merged,
    validate_label_results,
    validate_results,
)

log = logging.getLogger(__name__)

EXECUTORS = ("slurm", "local", "debug")


@dataclass(frozen=True)
class PointKey:
    """One job's run: a sweep's point, generator and seed."""

    modality: str
    benchmark: str
    setting: int
    generator: str
    seed: int

    def name(self) -> str:
        return f"{self.modality}-{self.benchmark}-{self.setting}-{self.generator}-seed{self.seed}"


@dataclass
class PointJob:
    """A picklable, checkpointable job: `run_point` for one `PointKey`, its rows merged into the sweep's tables.

    `data`: the modality's data settings (None: the profile's); `generator_overrides`: as `run_point`'s.
    submitit calls `checkpoint` when the job is preempted or reaches its time limit; the job it
    returns is this one again, since the caches and the GAN's checkpoints hold the progress.
    """

    key: PointKey
    spec: RunSpec
    data: DataConfig | None = None
    generator_overrides: Mapping[str, object] | None = None

    def __call__(self) -> dict[str, Any]:
        key, spec = self.key, self.spec
        data = self.data if self.data is not None else profiles.get(spec.profile).data
        source = load_source(key.modality, data, spec.data_root)
        try:
            run = run_point(key.modality, key.benchmark, key.setting, key.generator, spec.profile, key.seed,
                            source=source, generator_overrides=self.generator_overrides, **spec.options())
        except benchmarks.TooFewCombinations as err:
            log.warning("%s skipped: %s", key.name(), err)
            return {**dataclasses.asdict(key), "status": "skipped", "reason": str(err)}
        results = validate_results(pd.DataFrame([run.row], columns=list(RESULT_COLUMNS)))
        save_merged(results, validate_label_results(label_rows(run)), key.modality, key.benchmark, spec.profile)
        return {**dataclasses.asdict(key), "status": "done", "gap": float(run.row["gap"])}

    def checkpoint(self, *args: Any, **kwargs: Any):
        """submitit's hook on preemption or time-out: requeue the same job (it resumes from the caches)."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def sweep_points(modality: str, benchmark: str, profile: str, settings=None, generators=None,
                 seeds=None) -> list[PointKey]:
    """Every run of a sweep: settings x seeds x generators (None: the profile's, as `run_sweep`)."""
    chosen = profiles.get(profile)
    if (modality, benchmark) not in chosen.settings:
        raise ValueError(f"no sweep for modality {modality!r} and benchmark {benchmark!r}; expected one of "
                         f"{sorted(chosen.settings)}")
    settings = tuple(chosen.settings[modality, benchmark] if settings is None else settings)
    seeds = tuple(chosen.seeds if seeds is None else seeds)
    generators = tuple(registry.book_names(profile) if generators is None else generators)
    for generator in generators:
        registry.get(generator)
    for setting in settings:
        benchmarks.BenchmarkPoint(modality, benchmark, setting)
    return [PointKey(modality, benchmark, int(s), g, int(seed)) for s in settings for seed in seeds
            for g in generators]


def missing_points(points: Sequence[PointKey], profile: str) -> list[PointKey]:
    """The points whose run the sweep's saved results table lacks (a corrupt table lacks them all)."""
    present: set[tuple] = set()
    for modality, benchmark in dict.fromkeys((p.modality, p.benchmark) for p in points):
        try:
            table = load_results(modality, benchmark, profile)
        except (FileNotFoundError, CorruptTable):
            continue
        present |= set(zip(table["modality"], table["benchmark"], table["setting"], table["generator"],
                           table["seed"], strict=True))
    return [p for p in points if (p.modality, p.benchmark, p.setting, p.generator, p.seed) not in present]


def executor_parameters(executor: str, resources: profiles.SlurmResources, name: str) -> dict[str, Any]:
    """submitit's parameters (`AutoExecutor.update_parameters`) for one job of `resources`."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    parameters: dict[str, Any] = {"name": name, "timeout_min": int(resources.time_min)}
    if executor == "slurm":
        parameters.update(nodes=1, tasks_per_node=1, gpus_per_node=int(resources.gpus_per_job),
                          cpus_per_task=int(resources.cpus_per_job), mem_gb=int(resources.mem_gb),
                          slurm_array_parallelism=int(resources.array_parallelism))
        if resources.partition:
            parameters["slurm_partition"] = resources.partition
        if resources.account:
            parameters["slurm_account"] = resources.account
    elif executor == "local" and resources.gpus_per_job:
        parameters["gpus_per_node"] = int(resources.gpus_per_job)
    return parameters


def jobs_folder(modality: str, benchmark: str, profile: str) -> Path:
    """Where submitit keeps a sweep's jobs: pickles and logs, one subfolder per job id."""
    return home() / "jobs" / f"{modality}-{benchmark}-{profile}"


@dataclass
class Submission:
    """What `submit_sweep` did: the jobs asked for, those it submitted (key -> submitit job), where their
    logs are, and the executor's parameters."""

    executor: str
    points: list[PointKey]  # every run of the sweep
    missing: list[PointKey]  # the runs without a row: submitted unless dry_run
    parameters: dict[str, Any]
    folder: Path
    jobs: dict[PointKey, Any] = dataclasses.field(default_factory=dict)
    dry_run: bool = False

    def describe(self) -> str:
        """The jobs and their resources, for the terminal."""
        lines = [f"{len(self.points)} runs in the sweep, {len(self.points) - len(self.missing)} with a saved row, "
                 f"{len(self.missing)} to {'submit' if self.dry_run else 'run'} ({self.executor} executor)"]
        shown = ", ".join(f"{k}={v}" for k, v in self.parameters.items() if k != "name")
        lines.append(f"each job: {shown}")
        lines.append(f"job folder (pickles, logs): {self.folder}")
        for key in self.missing:
            job = self.jobs.get(key)
            lines.append(f"  {key.name()}" + (f"  job {job.job_id}" if job is not None else ""))
        if self.dry_run:
            lines.append("dry run: nothing submitted")
        return "\n".join(lines)


def make_executor(executor: str, folder: Path, parameters: Mapping[str, Any]):
    import submitit  # only when jobs are submitted

    chosen = submitit.AutoExecutor(folder=folder / "%j", cluster=executor)
    chosen.update_parameters(**parameters)
    return chosen


def submit_sweep(
    modality: str,
    benchmark: str,
    profile: str,
    executor: str = "slurm",
    *,
    settings=None,
    generators=None,
    seeds=None,
    resources: profiles.SlurmResources | None = None,
    spec: RunSpec | None = None,
    data: DataConfig | None = None,
    generator_overrides: Mapping[str, object] | None = None,
    folder: str | Path | None = None,
    parallel: int | None = None,
    dry_run: bool = False,
) -> Submission:
    """Submit one job per run of the sweep its saved table lacks (`missing_points`).

    resources: one job's request (None: the profile's `Profile.slurm`); spec: the runs' machine-side
    options (None: the profile's defaults). "slurm" submits the jobs as one array
    (`array_parallelism` at once); "local" starts at most `parallel` (None: the profile's
    `array_parallelism`) processes at once and returns when all have been started; "debug" runs each
    job in this process when its result is asked (`collect`). `dry_run`: only say what would be submitted.
    """
    points = sweep_points(modality, benchmark, profile, settings, generators, seeds)
    resources = resources or profiles.get(profile).slurm
    spec = spec or RunSpec(profile)
    if spec.profile != profile:
        raise ValueError(f"submit_sweep: spec is for profile {spec.profile}, the sweep for {profile}")
    folder = Path(folder) if folder is not None else jobs_folder(modality, benchmark, profile)
    parameters = executor_parameters(executor, resources, f"synthmed-{modality}-{benchmark}-{profile}")
    submission = Submission(executor, points, missing_points(points, profile), parameters, folder, dry_run=dry_run)
    if dry_run or not submission.missing:
        return submission
    chosen = make_executor(executor, folder, parameters)
    work = [PointJob(key, spec, data, generator_overrides) for key in submission.missing]
    if executor == "local":
        submission.jobs = _throttled(chosen, work, parallel or resources.array_parallelism)
    else:
        with chosen.batch():  # one job array on Slurm
            pending = [(job.key, chosen.submit(job)) for job in work]
        submission.jobs = dict(pending)
    for key, job in submission.jobs.items():
        log.info("%s: job %s", key.name(), job.job_id)
    return submission


def _throttled(executor, work: list[PointJob], at_once: int) -> dict[PointKey, Any]:
    """Start local jobs, at most `at_once` running at a time; returns when the last has started."""
    if at_once < 1:
        raise ValueError(f"parallel: expected at least 1 job at once, got {at_once}")
    started: dict[PointKey, Any] = {}
    for job in work:
        while sum(not j.done() for j in started.values()) >= at_once:
            time.sleep(0.5)
        started[job.key] = executor.submit(job)
    return started


@dataclass
class Outcome:
    """What the jobs of a submission gave: each job's return value, and each failure with its log."""

    done: dict[PointKey, dict] = dataclasses.field(default_factory=dict)
    failed: dict[PointKey, str] = dataclasses.field(default_factory=dict)  # key -> message naming the log

    def describe(self) -> str:
        lines = [f"{len(self.done)} jobs finished, {len(self.failed)} failed"]
        lines += [f"  failed {key.name()}: {message}" for key, message in self.failed.items()]
        if self.failed:
            lines.append("rerun the same command to submit only the runs that are still missing")
        return "\n".join(lines)


def collect(submission: Submission) -> Outcome:
    """Wait for every job of `submission`; a job that fails is reported with its log paths, never raised."""
    outcome = Outcome()
    for key, job in submission.jobs.items():
        try:
            outcome.done[key] = job.result()
        except Exception as err:  # submitit's FailedJobError and the like: the job's log says why
            paths = job.paths
            text = str(err).split("\n----------------------\nYou can check")[0]  # submitit's trace, then paths
            lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("-----")]
            reason = lines[-1] if lines else type(err).__name__  # the job's exception, after its traceback
            outcome.failed[key] = f"{reason} (logs: {paths.stderr}, {paths.stdout})"
            log.warning("job %s (%s) failed: %s", job.job_id, key.name(), outcome.failed[key])
    return outcome
