"""Sweeps through submitit (`synthmed.experiments.cluster`) and `synthmed plan`.

The jobs run through submitit's own executors: the DebugExecutor (in this process, so a stand-in
`run_point` can count calls) for the bookkeeping, and the LocalExecutor (a real process per job, with
submitit's pickling, signal handling, requeue and result files) for a job preempted mid-GAN.
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from synthmed import cli, experiments, generators, profiles
from synthmed.experiments import cluster
from synthmed.experiments.plan import parse_rate, plan
from synthmed.gan.train import read_log
from tests.test_experiments import fake_run_point

# --------------------------------------------------------------------------------------------------
# plan


def test_plan_counts_every_run_and_projects_hours_from_the_rates() -> None:
    paper = profiles.get("paper")
    chosen = plan("paper", rates={(g, r): 1000.0 for g in generators.names() for r in (32, 64, 128)}
                  | {("classifier", r): 500.0 for r in (32, 64, 128)})
    total = chosen.table.iloc[-1]
    points = sum(len(s) for s in paper.settings.values()) * len(paper.seeds)
    n_generators = len(generators.book_names("paper"))
    assert total["modality"] == "total" and total["points"] == points
    assert total["generator_runs"] == points * n_generators
    assert total["classifier_runs"] == points * (1 + n_generators)
    classifier = paper.classifier_config()
    assert math.isclose(total["classifier_gpu_h"],
                        total["classifier_runs"] * classifier.max_epochs * classifier.epoch_images / 500 / 3600)
    assert math.isclose(total["generator_gpu_h"], total["generator_mimg"] * 1e6 / 1000 / 3600)
    assert chosen.missing_rates == []
    text = chosen.describe()
    assert "given on the command line" in text and "Upper bounds" in text


def test_plan_names_assumed_and_missing_rates() -> None:
    chosen = plan("paper")  # the profile's rates: measured on an H100, cpD-GAN at 128 px assumed, none for DDIM
    text = chosen.describe()
    assert "ASSUMED" in text and "measured" in text
    if "DDIM" in generators.book_names("paper"):
        assert ("DDIM", 32) in chosen.missing_rates and "NO RATE" in text
    assert chosen.table["gpu_h"].iloc[-1] > 0
    assert parse_rate("prog-GAN:64=300") == (("prog-GAN", 64), 300.0)
    for bad in ("prog-GAN=300", "nonsense:64=3", "classifier:32=-1"):
        with pytest.raises(ValueError, match="--rate"):
            parse_rate(bad)


def test_plan_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--profile", "paper", "--rate", "classifier:32=100"]) == 0
    out = capsys.readouterr().out
    assert "total" in out and "classifier   32 px:    100.0  (given on the command line)" in out


# --------------------------------------------------------------------------------------------------
# Jobs


def test_dry_run_prints_jobs_and_resources_without_submitting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    code = cli.main(["run", "--modality", "chest", "--benchmark", "classes", "--profile", "tiny", "--executor",
                     "slurm", "--dry-run", "--partition", "gpu", "--gpus-per-job", "2", "--time-min", "90"])
    out = capsys.readouterr().out
    assert code == 0
    runs = len(profiles.get("tiny").settings["chest", "classes"]) * len(generators.book_names("tiny"))
    assert f"{runs} to submit (slurm executor)" in out
    assert "gpus_per_node=2" in out and "slurm_partition=gpu" in out and "timeout_min=90" in out
    assert "chest-classes-20-cpD-GAN-seed0" in out and "dry run: nothing submitted" in out
    assert not (tmp_path / "jobs").exists()


def test_jobs_merge_their_rows_and_a_rerun_submits_only_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    calls: list = []
    monkeypatch.setattr(cluster, "run_point", fake_run_point(calls))
    monkeypatch.setattr(cluster, "load_source", lambda *args: "source")
    monkeypatch.setattr(cluster, "ConfigHashes", _hashes({}))
    first = cluster.submit_sweep("chest", "classes", "tiny", "debug", settings=(20,), generators=("cpD-GAN",))
    assert [key.setting for key in first.jobs] == [20]
    outcome = cluster.collect(first)  # the debug executor runs each job here, through submitit's job object
    assert not outcome.failed and outcome.done[first.missing[0]]["status"] == "done"
    everything = cluster.submit_sweep("chest", "classes", "tiny", "debug", generators=("cpD-GAN", "prog-GAN"))
    assert cluster.PointKey("chest", "classes", 20, "cpD-GAN", 0) not in everything.missing
    assert len(everything.missing) == len(everything.points) - 1
    cluster.collect(everything)
    table = experiments.load_results("chest", "classes", "tiny")
    assert len(table) == len(everything.points)  # one row per job, none lost
    assert len(calls) == len(everything.points)
    again = cluster.submit_sweep("chest", "classes", "tiny", "debug", generators=("cpD-GAN", "prog-GAN"))
    assert again.missing == [] and again.jobs == {}


def test_a_failed_job_is_reported_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local job (its own process) whose data folder does not exist fails; collect names its log."""
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    spec = experiments.RunSpec("tiny", data_root=str(tmp_path / "no-such-data"), device="cpu")
    submission = cluster.submit_sweep("chest", "classes", "tiny", "local", settings=(20,), generators=("cpD-GAN",),
                                      spec=spec)
    outcome = cluster.collect(submission)
    (message,) = outcome.failed.values()
    assert "no-such-data" in message and "logs:" in message and str(submission.folder) in message
    assert "rerun the same command" in outcome.describe()
    assert not experiments.results_path("chest", "classes", "tiny").exists()


def _task_pids(controller: int) -> list[int]:
    """The processes submitit's local controller started (its job tasks)."""
    found = []
    for children in Path(f"/proc/{controller}/task").glob("*/children"):
        found += [int(pid) for pid in children.read_text().split()]
    return found


def _gan_log(home: Path) -> list[dict]:
    logs = list((home / "gans").glob("*/log.jsonl"))
    return read_log(logs[0]) if logs else []


@pytest.mark.timeout(900)
def test_a_local_job_preempted_mid_gan_is_requeued_and_resumes_to_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job gets submitit's preemption signal (USR2, as Slurm sends before preempting) while its GAN
    trains; submitit checkpoints it (`PointJob.checkpoint`) and the local controller requeues it; the new
    process resumes the GAN from its last checkpoint, and the row equals an uninterrupted run's."""
    data = profiles.get("tiny").data_config(chest_patients=80)
    overrides = {"total_kimg": 3.0, "patience": 100}  # long enough to be caught mid-run
    key = cluster.PointKey("chest", "classes", 20, "cpD-GAN", 0)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "reference"))
    torch.set_num_threads(1)
    cluster.PointJob(key, experiments.RunSpec("tiny", device="cpu"), data, overrides)()
    reference = experiments.load_results("chest", "classes", "tiny")

    home = tmp_path / "cluster"
    monkeypatch.setenv("SYNTHMED_HOME", str(home))
    submission = cluster.submit_sweep("chest", "classes", "tiny", "local", settings=(20,), generators=("cpD-GAN",),
                                      spec=experiments.RunSpec("tiny", device="cpu"), data=data,
                                      generator_overrides=overrides)
    (job,) = submission.jobs.values()
    deadline = time.monotonic() + 600
    while not any(r["kind"] == "checkpoint" for r in _gan_log(home)):  # the GAN has trained and saved
        assert not job.done(), f"the job ended before its GAN checkpointed: {job.stderr()}"
        assert time.monotonic() < deadline, "no GAN checkpoint within 10 minutes"
        time.sleep(0.2)
    assert not any(r["kind"] == "stop" for r in _gan_log(home)), "the GAN finished before the signal"
    for pid in _task_pids(int(job._process.pid)):
        os.kill(pid, signal.SIGUSR2)
    outcome = cluster.collect(submission)
    assert not outcome.failed, outcome.describe()
    log_text = job.stdout() + (job.stderr() or "")
    assert "Requeued job" in log_text, log_text[-3000:]
    kinds = [r["kind"] for r in _gan_log(home)]
    assert kinds.count("resume") == 1 and kinds[-1] == "stop"  # killed once, resumed from its checkpoint

    result = experiments.load_results("chest", "classes", "tiny")
    timing = [c for c in result.columns if "seconds" in c or c.endswith("_s") or "time" in c]
    pd.testing.assert_frame_equal(result.drop(columns=timing), reference.drop(columns=timing))


# --------------------------------------------------------------------------------------------------
# Rerunning a sweep


def _hashes(changed: dict) -> object:
    """A stand-in for `cluster.ConfigHashes`: every run's config hash is the fake rows' ("x"), but in `changed`."""
    return lambda *args, **kwargs: (lambda key: changed.get(key, "x"))


def test_a_rerun_submits_the_failed_skipped_and_half_saved_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of four runs one saves, one fails, one is skipped (too few label combinations) and one is stopped
    between its two table writes (a results row, no per-label rows): the rerun submits the last three."""
    import pdb

    from synthmed.data import benchmarks

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setattr(pdb, "post_mortem", lambda *args: None)  # the debug executor's hook on a failed job
    calls: list = []
    fake = fake_run_point(calls)

    def run_point(modality, benchmark, setting, generator, profile, seed=0, **kwargs):
        if (setting, seed) == (6, 0):
            raise RuntimeError("out of memory")
        if (setting, seed) == (6, 1):
            raise benchmarks.TooFewCombinations("too few combinations")
        return fake(modality, benchmark, setting, generator, profile, seed, **kwargs)

    save_merged = cluster.save_merged

    def half_saved(results, labels, *args):  # (20, 1): its per-label rows are lost
        if results["seed"].iloc[0] == 1:
            labels = labels.iloc[0:0]
        save_merged(results, labels, *args)

    monkeypatch.setattr(cluster, "run_point", run_point)
    monkeypatch.setattr(cluster, "save_merged", half_saved)
    monkeypatch.setattr(cluster, "load_source", lambda *args: "source")
    monkeypatch.setattr(cluster, "ConfigHashes", _hashes({}))
    sweep = {"settings": (20, 6), "generators": ("cpD-GAN",), "seeds": (0, 1)}
    first = cluster.submit_sweep("chest", "classes", "tiny", "debug", **sweep)
    outcome = cluster.collect(first)
    key = lambda setting, seed: cluster.PointKey("chest", "classes", setting, "cpD-GAN", seed)  # noqa: E731
    assert list(outcome.failed) == [key(6, 0)] and "out of memory" in outcome.failed[key(6, 0)]
    assert outcome.done[key(6, 1)]["status"] == "skipped"
    assert len(experiments.load_results("chest", "classes", "tiny")) == 2  # (20, 0) and the half-saved (20, 1)

    again = cluster.submit_sweep("chest", "classes", "tiny", "debug", dry_run=True, **sweep)
    assert again.missing == [key(20, 1), key(6, 0), key(6, 1)]
    monkeypatch.setattr(cluster, "run_point", fake)
    monkeypatch.setattr(cluster, "save_merged", save_merged)
    assert not cluster.collect(cluster.submit_sweep("chest", "classes", "tiny", "debug", **sweep)).failed
    assert cluster.submit_sweep("chest", "classes", "tiny", "debug", dry_run=True, **sweep).missing == []
    labels = experiments.load_results("chest", "classes", "tiny", per_label=True)
    assert len(labels.drop_duplicates(["setting", "seed"])) == 4

    # The profile's config changes for one run: its saved row is stale, and only it is submitted again.
    monkeypatch.setattr(cluster, "ConfigHashes", _hashes({key(6, 1): "changed"}))
    stale = cluster.submit_sweep("chest", "classes", "tiny", "debug", dry_run=True, **sweep)
    assert stale.missing == [key(6, 1)]
    assert "3 with a saved row of their current config, 1 to submit" in stale.describe()


# --------------------------------------------------------------------------------------------------
# Several jobs on one GPU (--per-gpu)


def test_gpu_slots_pin_each_job_to_one_gpu_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    slots = [cluster.gpu_slot(slot, [2, 5])["visible_gpus"] for slot in range(2 * 3)]  # 2 GPUs, K = 3
    assert slots == [(2,), (5,), (2,), (5,), (2,), (5,)]
    assert cluster.gpu_slot(0, [2, 5])["gpus_per_node"] == 1
    assert cluster.gpu_slot(3, []) == {"gpus_per_node": 0, "visible_gpus": ()}  # no GPU: the CPU
    assert cluster.slot_threads(4, cores=16) == 4 and cluster.slot_threads(4, cores=2) == 1
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,7")
    assert cluster.visible_gpus() == [3, 7]  # the parent's own GPUs, as a child's CUDA_VISIBLE_DEVICES names them
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert cluster.visible_gpus() == [0, 1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1a2b,GPU-3c4d")
    with pytest.raises(ValueError, match="UUID"):
        cluster.visible_gpus()


def test_a_freed_slot_takes_the_next_job_on_its_own_gpu() -> None:
    """Jobs finish in any order; the next job goes to the GPU that a finished one left, never a third on one."""

    class Job:
        def __init__(self, gpu):
            self.gpu, self.finished = gpu, False

        def done(self):
            return self.finished

    class Executor:
        def __init__(self):
            self.parameters, self.started = {}, []

        def update_parameters(self, **kwargs):
            self.parameters.update(kwargs)

        def submit(self, job):
            self.started.append(Job(self.parameters["visible_gpus"][0]))
            if len(self.started) == 4:
                self.started[1].finished = True  # the second job (on GPU 1) ends first
            return self.started[-1]

    executor = Executor()
    work = [cluster.PointJob(cluster.PointKey("chest", "classes", 20, "cpD-GAN", seed), experiments.RunSpec("tiny"))
            for seed in range(5)]
    started = cluster._throttled(executor, work, at_once=4, gpus=[0, 1])  # K = 2 on 2 GPUs
    assert [job.gpu for job in started.values()] == [0, 1, 0, 1, 1]


def test_per_gpu_is_checked_and_shown_in_the_dry_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    run = ["run", "--modality", "chest", "--benchmark", "classes", "--profile", "tiny"]
    for bad, message in ((["--per-gpu", "0"], "at least 1, got 0"),
                         (["--per-gpu", "2", "--executor", "slurm"], "does not combine with the slurm executor"),
                         (["--per-gpu", "2", "--parallel", "3"], "give one"),
                         (["--per-gpu", "2", "--gpus-per-job", "2"], "does not combine with --gpus-per-job 2"),
                         (["--per-gpu", "2", "--device", "cuda:1"], "give --device auto, cuda or cpu")):
        if "--device" in bad:
            monkeypatch.setattr(cli, "_check_device", lambda device: None)
        assert cli.main([*run, *bad, "--dry-run"]) == 1
        assert message in capsys.readouterr().err, bad
    assert cli.main([*run, "--per-gpu", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(local executor)" in out and "gpus_per_node=0" in out
    assert f"no GPU: 2 jobs at once on the CPU, {cluster.slot_threads(2)} CPU threads each" in out
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert cli.main([*run, "--per-gpu", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "gpus_per_node=1" in out and "2 jobs at once on each of 2 GPUs (0, 1): 4 processes" in out
    assert cli.main([*run, "--executor", "slurm", "--gpus-per-job", "2", "--dry-run"]) == 0
    assert "each job trains each GAN data-parallel over its 2 GPUs (torchrun, 2 ranks" in capsys.readouterr().out
    monkeypatch.setattr(cli, "_check_device", lambda device: None)
    assert cli.main([*run, "--executor", "slurm", "--gpus-per-job", "2", "--device", "cuda:1", "--dry-run"]) == 1
    assert "give --device auto or cuda, not cuda:1" in capsys.readouterr().err
    assert not (tmp_path / "jobs").exists()


@pytest.mark.timeout(600)
def test_per_gpu_runs_k_points_at_once_on_the_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--per-gpu 2 on a machine without a GPU: both runs of the sweep start at once, each a local process
    (submitit's LocalExecutor) with no GPU visible and its share of the cores, and both rows land."""
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    data = profiles.get("tiny").data_config(chest_patients=80)
    submission = cluster.submit_sweep("chest", "classes", "tiny", "local", settings=(20,), generators=("cpD-GAN",),
                                      seeds=(0, 1), spec=experiments.RunSpec("tiny", device="cpu"), data=data,
                                      generator_overrides={"total_kimg": 0.5}, per_gpu=2)
    assert len(submission.jobs) == 2 and not any(job.done() for job in submission.jobs.values())  # at once
    outcome = cluster.collect(submission)
    assert not outcome.failed, outcome.describe()
    for result in outcome.done.values():
        assert result["status"] == "done" and result["gpus"] == "" and result["threads"] == cluster.slot_threads(2)
    assert sorted(experiments.load_results("chest", "classes", "tiny")["seed"]) == [0, 1]


# --------------------------------------------------------------------------------------------------
# One GAN over a job's GPUs (--gpus-per-job N)


def test_a_job_with_several_gpus_trains_its_gans_over_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--gpus-per-job N reaches run_point as gan_ranks: N GPUs of those the job sees (fewer if it sees fewer, one
    without a GPU), N CPU processes at device cpu. tests/test_point_ranks.py trains a point's GAN over two ranks."""
    calls: list = []
    fake = fake_run_point(calls)
    ranks: list = []

    def run_point(*args, gan_ranks=1, **kwargs):
        ranks.append(gan_ranks)
        return fake(*args, **kwargs)

    monkeypatch.setattr(cluster, "run_point", run_point)
    monkeypatch.setattr(cluster, "load_source", lambda *args: "source")
    monkeypatch.setattr(cluster, "save_merged", lambda *args: None)
    key = cluster.PointKey("chest", "classes", 20, "cpD-GAN", 0)
    for device, visible, asked, expected in (("auto", 4, 2, 2), ("auto", 1, 2, 1), ("auto", 0, 2, 1),
                                             ("cpu", 0, 2, 2), ("auto", 4, 1, 1)):
        monkeypatch.setattr(torch.cuda, "device_count", lambda visible=visible: visible)
        job = cluster.PointJob(key, experiments.RunSpec("tiny", device=device), gan_ranks=asked)
        assert job.ranks() == expected and job()["gan_ranks"] == expected
    assert ranks == [2, 1, 1, 2, 1]

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setattr(cluster, "ConfigHashes", _hashes({}))
    submission = cluster.submit_sweep("chest", "classes", "tiny", "debug", settings=(20,), generators=("cpD-GAN",),
                                      resources=profiles.SlurmResources(gpus_per_job=2))  # 4 GPUs visible
    assert not cluster.collect(submission).failed and ranks[-1] == 2
