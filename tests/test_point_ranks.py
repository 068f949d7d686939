"""A benchmark point whose GAN trains over several ranks (a cluster job with --gpus-per-job N), on the CPU: two
gloo ranks through torchrun (`synthmed.gan.ddp.torchrun`), against the same point trained in one process; and
which saved rows a rerun of the sweep keeps (`cluster.missing_points` compares config hashes).

The point's GAN stops early on the real classifier's features (the tiny profile's Fréchet distance), which the
ranks load from the file the job writes (`--fd-setup`); the run folder is the one `train_gan_cached` keys, so
the job loads it as finished. Its weights meet `tests/test_gan_ddp.py`'s tolerances against the one-process
run (two schedule steps: 256 images at a minibatch of 32).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from synthmed import experiments, profiles
from synthmed.experiments import cluster
from synthmed.gan import ddp
from synthmed.gan.config import GANConfig
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.train import read_log
from tests.test_cluster import _gan_log, _task_pids
from tests.test_gan_ddp import _assert_trains_like

OVERRIDES = {"total_kimg": 0.256, "fid_every_kimg": 0.128, "min_fid_kimg": 0.128}  # two evaluations, ticks at 128, 256
KEY = cluster.PointKey("chest", "classes", 20, "cpD-GAN", 0)


def _job(ranks: int) -> dict:
    spec = experiments.RunSpec("tiny", device="cpu")
    data = profiles.get("tiny").data_config(chest_patients=80)
    return cluster.PointJob(KEY, spec, data, OVERRIDES, threads=1, gan_ranks=ranks)()


@pytest.mark.timeout(600)
def test_a_job_trains_its_gan_over_two_gloo_ranks_like_one_process(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    homes = {ranks: tmp_path / f"ranks{ranks}" for ranks in (1, 2)}
    for ranks, home in homes.items():
        monkeypatch.setenv("SYNTHMED_HOME", str(home))
        done = _job(ranks)
        assert done["status"] == "done" and done["gan_ranks"] == ranks
    (one,), (two,) = ([*(home / "gans").glob("*/log.jsonl")] for home in homes.values())
    assert one.parent.name == two.parent.name  # the ranks trained the folder the one-process run keys
    assert json.loads((two.parent / "run.json").read_text())["ranks"] == 2
    kinds = [r["kind"] for r in read_log(two)]
    assert kinds.count("start") == 1 and "resume" not in kinds and kinds[-1] == "stop"  # loaded, not trained on
    assert [r["kind"] for r in read_log(one)] == kinds
    fds = [[r["fd"] for r in read_log(log) if r["kind"] == "fd"] for log in (one, two)]
    assert len(fds[0]) == 2 and fds[1] == pytest.approx(fds[0], rel=1e-3)  # in the real classifier's features
    _assert_trains_like(one.parent, two.parent)
    assert not any((homes[2] / "torchrun").iterdir())  # the ranks' inputs and logs are removed after success

    rows = {}
    for ranks, home in homes.items():
        monkeypatch.setenv("SYNTHMED_HOME", str(home))
        rows[ranks] = experiments.load_results("chest", "classes", "tiny").iloc[0]
    assert rows[2]["config_hash"] == rows[1]["config_hash"]  # the number of ranks is not part of the config
    assert rows[2]["stop_reason"] == "total_kimg" and rows[2]["train_kimg"] == pytest.approx(0.256)

    # The rerun keeps the row of the current config and resubmits one computed with another.
    spec = experiments.RunSpec("tiny", device="cpu")
    data = profiles.get("tiny").data_config(chest_patients=80)
    current = cluster.ConfigHashes("tiny", spec, data, OVERRIDES)
    assert current(KEY) == rows[2]["config_hash"]  # computed without training, as run_point's row has it
    assert cluster.missing_points([KEY], "tiny", current) == []
    longer = cluster.ConfigHashes("tiny", spec, data, {**OVERRIDES, "total_kimg": 0.384})
    assert cluster.missing_points([KEY], "tiny", longer) == [KEY]
    sweep = {"settings": (20,), "generators": ("cpD-GAN",), "seeds": (0,), "spec": spec, "data": data,
             "dry_run": True}
    assert cluster.submit_sweep("chest", "classes", "tiny", "local", generator_overrides=OVERRIDES,
                                **sweep).missing == []
    assert cluster.submit_sweep("chest", "classes", "tiny", "local", generator_overrides={**OVERRIDES, "lr": 0.002},
                                **sweep).missing == [KEY]


@pytest.mark.timeout(300)
def test_a_failed_rank_is_reported_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three ranks cannot split a minibatch of 8 minibatch-stddev groups: every rank fails, and the error
    names the failing rank's error and each rank's log, which the work folder keeps."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 16, 16), dtype=np.uint8)
    labels = (rng.random((64, 3)) < 0.4).astype(np.float32)
    config = GANConfig.tiny("cpdgan", 16, 3)
    with pytest.raises(ddp.RanksFailed, match="over 3 ranks") as failed:
        ddp.torchrun(3, config, images, labels, cache_dir=tmp_path / "gans", work_root=tmp_path / "torchrun",
                     extractor=DownsampledPixels(4), fd_images=16, device="cpu")
    message = str(failed.value)
    assert "does not split over 3 ranks" in message
    logs = [Path(word) for word in message.replace(",", " ").split() if word.endswith("stderr.log")]
    assert len(logs) == 3 and all(path.is_file() for path in logs)
    assert "does not split over 3 ranks" in logs[0].read_text()
    (work,) = (tmp_path / "torchrun").iterdir()
    assert not (work / "data.npz").exists()  # the logs are kept, the copied data is not
    with pytest.raises(ValueError, match="at least 2 ranks"):
        ddp.torchrun(1, config, images, labels, cache_dir=tmp_path, work_root=tmp_path, extractor=DownsampledPixels(4))
    with pytest.raises(ValueError, match="give one of auto, cuda, cpu"):
        ddp.torchrun(2, config, images, labels, cache_dir=tmp_path, work_root=tmp_path, extractor=DownsampledPixels(4),
                     device="cuda:1")


@pytest.mark.timeout(900)
def test_a_job_preempted_while_its_ranks_train_is_requeued_and_they_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """submitit's preemption signal reaches the job while its two ranks train the GAN: the job stops them and is
    requeued; the requeued job starts two ranks again, which resume from the run's last checkpoint and finish."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    data = profiles.get("tiny").data_config(chest_patients=80)
    overrides = {"total_kimg": 3.0, "patience": 100}  # long enough to be caught mid-run
    submission = cluster.submit_sweep("chest", "classes", "tiny", "local", settings=(20,), generators=("cpD-GAN",),
                                      spec=experiments.RunSpec("tiny", device="cpu"), data=data,
                                      generator_overrides=overrides,
                                      resources=profiles.SlurmResources(gpus_per_job=2, cpus_per_job=1))
    (job,) = submission.jobs.values()
    deadline = time.monotonic() + 600
    while not any(r["kind"] == "checkpoint" for r in _gan_log(tmp_path)):  # the ranks have trained and saved
        assert not job.done(), f"the job ended before its GAN checkpointed: {job.stderr()}"
        assert time.monotonic() < deadline, "no GAN checkpoint within 10 minutes"
        time.sleep(0.2)
    assert not any(r["kind"] == "stop" for r in _gan_log(tmp_path)), "the GAN finished before the signal"
    for pid in _task_pids(int(job._process.pid)):
        os.kill(pid, signal.SIGUSR2)
    outcome = cluster.collect(submission)
    assert not outcome.failed, outcome.describe()
    assert "Requeued job" in job.stdout() + (job.stderr() or "")
    assert outcome.done[cluster.PointKey("chest", "classes", 20, "cpD-GAN", 0)]["gan_ranks"] == 2
    kinds = [r["kind"] for r in _gan_log(tmp_path)]
    assert kinds.count("start") == 1 and kinds.count("resume") == 1 and kinds[-1] == "stop"
    (run,) = (tmp_path / "gans").glob("*/run.json")
    assert json.loads(run.read_text())["ranks"] == 2
    (row,) = experiments.load_results("chest", "classes", "tiny").itertuples()
    assert row.stop_reason == "total_kimg" and row.train_kimg >= 3.0
    assert not any((tmp_path / "torchrun").iterdir())  # neither attempt's inputs are left behind
