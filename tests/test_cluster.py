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
