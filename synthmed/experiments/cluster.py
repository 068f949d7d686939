"""A sweep on a cluster through submitit: one job per benchmark point (one generator, one seed), the
points of one sweep submitted as one Slurm job array, or as local processes.

- Which jobs: the sweep's (setting, seed, generator) runs that its saved results table lacks, or holds
  from another config (`missing_points`: a row whose ``config_hash`` is not the one the run would get now,
  as after a change to the profile), so rerunning a sweep submits only what is missing or stale.
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
`parallel` at once, or `per_gpu` at once on each visible GPU, each job pinned to one; also tests of the
real submission, pickling, requeue and collection code) and "debug" (submitit's DebugExecutor: in this
process, when `result` is asked).

With `gpus_per_job` N > 1 a job trains each GAN data-parallel over its N GPUs, as the paper's authors ran
each GAN on 1 to 8: `run_point(gan_ranks=N)` starts torchrun with N ranks (`synthmed.gan.ddp`) and loads
the finished run; its classifiers (and a generator without data-parallel training, DDIM) use the first GPU.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthmed import generators as registry
from synthmed import profiles
from synthmed.config import DataConfig, home
from synthmed.data import benchmarks
from synthmed.experiments.datasets import NotReady, load_source
from synthmed.experiments.point import RunSpec, point_config_hash, run_point
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

    `data`: the modality's data settings (None: the profile's); `generator_overrides`: as `run_point`'s;
    `threads`: torch's CPU threads in the job (None: torch's default); `gan_ranks` (``--gpus-per-job``): each
    GAN over that many GPUs (`ranks`; CPU processes at device "cpu"). submitit calls `checkpoint` when
    the job is preempted or reaches its time limit; the job it returns is this one again, since the
    caches and the GAN's checkpoints hold the progress.
    """

    key: PointKey
    spec: RunSpec
    data: DataConfig | None = None
    generator_overrides: Mapping[str, object] | None = None
    threads: int | None = None
    gan_ranks: int = 1

    def ranks(self) -> int:
        """The processes each GAN of this job trains over: `gan_ranks` GPUs of those the job sees (fewer if it
        sees fewer, one without a GPU), or `gan_ranks` CPU processes at device "cpu"."""
        import torch

        if self.gan_ranks <= 1 or self.spec.device == "cpu":
            return max(1, self.gan_ranks)
        visible = torch.cuda.device_count()
        if visible < self.gan_ranks:
            log.warning("%s: %d GPUs asked for each GAN, %d visible: it trains over %d", self.key.name(),
                        self.gan_ranks, visible, max(1, visible))
        return max(1, min(self.gan_ranks, visible))

    def __call__(self) -> dict[str, Any]:
        import torch

        key, spec = self.key, self.spec
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        ranks = self.ranks()
        where = {"gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "threads": torch.get_num_threads(), "gan_ranks": ranks}
        data = self.data if self.data is not None else profiles.get(spec.profile).data
        source = load_source(key.modality, data, spec.data_root)
        try:
            run = run_point(key.modality, key.benchmark, key.setting, key.generator, spec.profile, key.seed,
                            source=source, generator_overrides=self.generator_overrides, gan_ranks=ranks,
                            **spec.options())
        except benchmarks.TooFewCombinations as err:
            log.warning("%s skipped: %s", key.name(), err)
            return {**dataclasses.asdict(key), **where, "status": "skipped", "reason": str(err)}
        results = validate_results(pd.DataFrame([run.row], columns=list(RESULT_COLUMNS)))
        save_merged(results, validate_label_results(label_rows(run)), key.modality, key.benchmark, spec.profile)
        return {**dataclasses.asdict(key), **where, "status": "done", "gap": float(run.row["gap"])}

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


class ConfigHashes:
    """The ``config_hash`` each run of a sweep would get now (`point.point_config_hash`) with these jobs'
    options, computed on demand: each modality's source read once (its index, not its images), each
    setting's subset built once. None where the subset cannot be built (too few label combinations)."""

    def __init__(self, profile: str, spec: RunSpec | None = None, data: DataConfig | None = None,
                 generator_overrides: Mapping[str, object] | None = None) -> None:
        self.profile, self.spec = profile, spec or RunSpec(profile)
        self.data = data if data is not None else profiles.get(profile).data
        self.generator_overrides = generator_overrides
        self.sources: dict[str, Any] = {}
        self.subsets: dict[tuple, Any] = {}

    def __call__(self, key: PointKey) -> str | None:
        if key.modality not in self.sources:
            if profiles.get(self.profile).needs_real_data and not self.spec.data_root:  # not phantoms at paper scale
                raise NotReady(f"profile {self.profile} needs the real datasets to tell which saved rows are current: "
                               "give --data-root, as the jobs need")
            self.sources[key.modality] = load_source(key.modality, self.data, self.spec.data_root)
        source = self.sources[key.modality]
        point = (key.modality, key.benchmark, key.setting)
        if point not in self.subsets:
            try:
                self.subsets[point] = benchmarks.build_point(source.index, benchmarks.BenchmarkPoint(*point),
                                                             scale=source.scale, train_scale=source.train_scale)
            except benchmarks.TooFewCombinations:
                self.subsets[point] = None
        if self.subsets[point] is None:
            return None
        return point_config_hash(*point, key.generator, self.profile, key.seed, source=source,
                                 subset=self.subsets[point], device=self.spec.device,
                                 classifier_weights=self.spec.classifier_weights, precision=self.spec.precision,
                                 generator_overrides=self.generator_overrides)


def missing_points(points: Sequence[PointKey], profile: str,
                   current: Callable[[PointKey], str | None] | None = None) -> list[PointKey]:
    """The points whose run the sweep's saved tables lack: no row in the results table, none in the
    per-label table (a job stopped between the two writes), or a results row whose ``config_hash`` is
    not the run's now (`current`: a `ConfigHashes`, None = the profile's defaults), computed with an older
    config, which the in-process sweep would recompute too. A missing or corrupt table lacks them all.
    A job that failed, or a setting skipped for too few label combinations, left no row: it is missing."""
    def rows(modality: str, benchmark: str, per_label: bool) -> dict[tuple, str]:
        try:
            table = load_results(modality, benchmark, profile, per_label=per_label)
        except (FileNotFoundError, CorruptTable):
            return {}
        hashes = table["config_hash"] if "config_hash" in table else [""] * len(table)
        return dict(zip(zip(table["modality"], table["benchmark"], table["setting"], table["generator"], table["seed"],
                            strict=True), hashes, strict=True))

    saved: dict[tuple, str] = {}
    for modality, benchmark in dict.fromkeys((p.modality, p.benchmark) for p in points):
        results, labels = rows(modality, benchmark, False), rows(modality, benchmark, True)
        saved |= {run: config for run, config in results.items() if run in labels}
    current = current if current is not None else ConfigHashes(profile)
    missing = []
    for p in points:
        config = saved.get((p.modality, p.benchmark, p.setting, p.generator, p.seed))
        if config is None:
            missing.append(p)
        elif config != (now := current(p)):
            log.info("%s: its saved row was computed with config %s, the run's is now %s: submitted again", p.name(),
                     config, now)
            missing.append(p)
    return missing


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


def visible_gpus() -> list[int]:
    """The GPUs this process may use, as a child's CUDA_VISIBLE_DEVICES names them (the parent's list, if set)."""
    import torch

    count = torch.cuda.device_count()
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is None:
        return list(range(count))
    names = [name.strip() for name in named.split(",") if name.strip()][:count]
    if not all(name.isdigit() for name in names):
        raise ValueError(f"--per-gpu: CUDA_VISIBLE_DEVICES={named} names GPUs by UUID; give their indices instead")
    return [int(name) for name in names]


def gpu_slot(slot: int, gpus: Sequence[int]) -> dict[str, Any]:
    """submitit's local parameters for the job in `slot` (0 .. n * K - 1 with K jobs per GPU): GPU
    gpus[slot % n] alone, so each GPU holds K slots; no GPU (CUDA_VISIBLE_DEVICES empty) on a machine without."""
    if slot < 0:
        raise ValueError(f"slot: expected >= 0, got {slot}")
    if not gpus:
        return {"gpus_per_node": 0, "visible_gpus": ()}
    return {"gpus_per_node": 1, "visible_gpus": (int(gpus[slot % len(gpus)]),)}


def slot_threads(slots: int, cores: int | None = None) -> int:
    """torch's CPU threads per job when `slots` jobs share the machine: its cores split evenly, at least one."""
    cores = cores if cores is not None else len(os.sched_getaffinity(0))
    return max(1, cores // max(1, slots))


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
    sharing: str = ""  # with per_gpu: how the jobs share the GPUs (or the CPU)

    def describe(self) -> str:
        """The jobs and their resources, for the terminal."""
        lines = [f"{len(self.points)} runs in the sweep, {len(self.points) - len(self.missing)} with a saved row of "
                 f"their current config, {len(self.missing)} to {'submit' if self.dry_run else 'run'} "
                 f"({self.executor} executor)"]
        shown = ", ".join(f"{k}={v}" for k, v in self.parameters.items() if k != "name")
        lines.append(f"each job: {shown}")
        if self.sharing:
            lines.append(self.sharing)
        if (gpus := int(self.parameters.get("gpus_per_node", 0))) > 1:
            lines.append(f"each job trains each GAN data-parallel over its {gpus} GPUs (torchrun, {gpus} ranks: "
                         "synthmed.gan.ddp); its classifiers and DDIM use the first")
        lines.append(f"job folder (pickles, logs): {self.folder}")
        for key in self.missing:
            job = self.jobs.get(key)
            lines.append(f"  {key.name()}" + (f"  job {job.job_id}" if job is not None else ""))
        if self.dry_run:
            lines.append("dry run: nothing submitted")
        return "\n".join(lines)


def make_executor(executor: str, folder: Path, parameters: Mapping[str, Any]):
    import submitit  # only when jobs are submitted

    if executor == "local":  # submitit's own class: AutoExecutor does not pass visible_gpus (per_gpu) on
        chosen = submitit.LocalExecutor(folder=folder / "%j")
        chosen.update_parameters(**{k: v for k, v in parameters.items() if k != "name"})
        return chosen
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
    per_gpu: int | None = None,
    dry_run: bool = False,
) -> Submission:
    """Submit one job per run of the sweep its saved table lacks or holds from another config (`missing_points`).

    resources: one job's request (None: the profile's `Profile.slurm`); spec: the runs' machine-side
    options (None: the profile's defaults). "slurm" submits the jobs as one array
    (`array_parallelism` at once); "local" starts at most `parallel` (None: the profile's
    `array_parallelism`) processes at once and returns when all have been started; "debug" runs each
    job in this process when its result is asked (`collect`). `per_gpu` K (local only, instead of
    `parallel`): K jobs at once on each visible GPU, each job pinned to one (`gpu_slot`), or K on the CPU
    where there is none (or `spec.device` is "cpu"); the jobs split the CPU cores (`slot_threads`).
    `resources.gpus_per_job` N > 1: each job trains each GAN over its N GPUs (`PointJob.ranks`).
    `dry_run`: only say what would be submitted.
    """
    points = sweep_points(modality, benchmark, profile, settings, generators, seeds)
    resources = resources or profiles.get(profile).slurm
    spec = spec or RunSpec(profile)
    if spec.profile != profile:
        raise ValueError(f"submit_sweep: spec is for profile {spec.profile}, the sweep for {profile}")
    folder = Path(folder) if folder is not None else jobs_folder(modality, benchmark, profile)
    parameters = executor_parameters(executor, resources, f"synthmed-{modality}-{benchmark}-{profile}")
    gpus, threads, sharing = None, None, ""
    if per_gpu is not None:
        gpus = _per_gpu_devices(per_gpu, executor, parallel, resources, spec)
        parallel = max(1, len(gpus)) * per_gpu
        parameters["gpus_per_node"] = 1 if gpus else 0
        threads = slot_threads(parallel)
        if gpus:
            sharing = (f"per GPU: {per_gpu} jobs at once on each of {len(gpus)} GPUs ({', '.join(map(str, gpus))}): "
                       f"{parallel} processes, {threads} CPU threads each")
        else:
            sharing = f"no GPU: {per_gpu} jobs at once on the CPU, {threads} CPU threads each"
    if resources.gpus_per_job > 1 and spec.device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"--gpus-per-job {resources.gpus_per_job}: each GAN trains over all the GPUs a job sees; "
                         f"give --device auto or cuda, not {spec.device}")
    current = ConfigHashes(profile, spec, data, generator_overrides)
    submission = Submission(executor, points, missing_points(points, profile, current), parameters, folder,
                            dry_run=dry_run, sharing=sharing)
    if dry_run or not submission.missing:
        return submission
    chosen = make_executor(executor, folder, parameters)
    ranks = max(1, int(resources.gpus_per_job))
    work = [PointJob(key, spec, data, generator_overrides, threads, ranks) for key in submission.missing]
    if executor == "local":
        submission.jobs = _throttled(chosen, work, parallel or resources.array_parallelism, gpus)
    else:
        with chosen.batch():  # one job array on Slurm
            pending = [(job.key, chosen.submit(job)) for job in work]
        submission.jobs = dict(pending)
    for key, job in submission.jobs.items():
        log.info("%s: job %s", key.name(), job.job_id)
    return submission


def _per_gpu_devices(per_gpu: int, executor: str, parallel: int | None, resources: profiles.SlurmResources,
                     spec: RunSpec) -> list[int]:
    """Check `per_gpu`'s companions; the GPUs its jobs share (none: the CPU)."""
    if isinstance(per_gpu, bool) or not isinstance(per_gpu, int) or per_gpu < 1:
        raise ValueError(f"--per-gpu: expected a whole number of jobs per GPU, at least 1, got {per_gpu!r}")
    if executor != "local":
        raise ValueError(f"--per-gpu: runs local processes; it does not combine with the {executor} executor")
    if parallel is not None:
        raise ValueError("--per-gpu and --parallel both say how many jobs run at once: give one")
    if resources.gpus_per_job > 1:
        raise ValueError(f"--per-gpu: each job gets one GPU; it does not combine with --gpus-per-job "
                         f"{resources.gpus_per_job}")
    if spec.device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"--per-gpu: each job sees one GPU as cuda:0; give --device auto, cuda or cpu, "
                         f"not {spec.device}")
    return [] if spec.device == "cpu" else visible_gpus()


def _throttled(executor, work: list[PointJob], at_once: int, gpus: Sequence[int] | None = None) -> dict[PointKey, Any]:
    """Start local jobs, at most `at_once` running at a time; returns when the last has started.

    `gpus` (per_gpu): each job takes a free slot and runs on that slot's GPU (`gpu_slot`), so every GPU
    holds at most at_once / len(gpus) jobs whatever order they finish in."""
    if at_once < 1:
        raise ValueError(f"parallel: expected at least 1 job at once, got {at_once}")
    started: dict[PointKey, Any] = {}
    slots: list[Any] = [None] * at_once
    for job in work:
        while (slot := next((i for i, j in enumerate(slots) if j is None or j.done()), None)) is None:
            time.sleep(0.5)
        if gpus is not None:
            executor.update_parameters(**gpu_slot(slot, gpus))
        slots[slot] = started[job.key] = executor.submit(job)
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
