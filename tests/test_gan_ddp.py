"""One GAN over two CPU ranks (gloo, through torchrun and `synthmed.gan.ddp`) against one process with the
same total minibatch: the same losses and weights within float rounding.

What cannot match bit for bit (`synthmed.gan.shard`): each rank averages its half of the batch and the
gradients are averaged over the ranks, a different summation order than one mean over the batch, and
Adam carries that rounding on: its update is about lr * sign(gradient) where a gradient is near zero, so
such a weight can move by up to one step (lr) the other way. Two schedule steps (8 D and 8 G steps) at the
tiny preset: every logged loss within rtol 1e-3 / atol 1e-5 of the one-process run's, every weight within
lr, and at least 95% of them within rtol 1e-3 / atol 1e-5 (measured here: 2.2% of G's, 0.3% of D's and 0.1%
of G_ema's outside, at most 4.2e-4 apart with lr 1e-3); a wrong split (other samples, other mixing factors
for the penalty, minibatch-stddev groups across ranks) moves the losses by far more.

A run paused with one rank and resumed with two, or the other way, meets the same tolerances against the
uninterrupted one-process run: the checkpoint holds nothing that depends on the number of ranks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synthmed.gan import ddp
from synthmed.gan.config import GANConfig
from synthmed.gan.shard import Shard
from synthmed.gan.train import read_log

ROOT = Path(__file__).resolve().parents[1]
LOSSES = ("Loss/D/loss", "Loss/D/gp", "Loss/D/drift", "Loss/D/ac_real", "Loss/G/loss", "Loss/G/ac")


def _setup(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (96, 16, 16), dtype=np.uint8)
    labels = (rng.random((96, 3)) < 0.4).astype(np.float32)
    np.savez(tmp_path / "data.npz", images=images, labels=labels)
    config = GANConfig.tiny("progan", 16, 3)
    config = dataclasses.replace(config, lod_initial_resolution=16, minibatch={16: 32}, total_kimg=0.256,
                                 min_fid_kimg=10.0, fid_every_kimg=10.0)  # full resolution: AC, mbstd, GP, drift
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    return ["--data", str(tmp_path / "data.npz"), "--config", str(tmp_path / "config.json"), "--fd-images", "16",
            "--tick-kimg", "0.128", "--checkpoint-every-kimg", "0.128", "--grid-every-kimg", "0"]


def test_a_shard_takes_whole_minibatch_stddev_groups_and_refuses_an_uneven_split() -> None:
    batch = torch.arange(16)
    shares = [Shard(rank, 2).take(batch) for rank in range(2)]
    groups = 16 // 4  # one-device groups: sample i in group i % 4
    for share in shares:  # a rank's local groups (j % 2) are one-device groups
        local = {j % (groups // 2): set() for j in range(len(share))}
        for j, sample in enumerate(share.tolist()):
            local[j % (groups // 2)].add(sample % groups)
        assert all(len(members) == 1 for members in local.values())
    assert sorted(torch.cat(shares).tolist()) == list(range(16))
    Shard(0, 2).check(32, 4)
    with pytest.raises(ValueError, match="does not split over 3 ranks"):
        Shard(0, 3).check(32, 4)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """The tiny run's options and its uninterrupted one-process run folder."""
    folder = tmp_path_factory.mktemp("reference")
    options = _setup(folder)
    torch.set_num_threads(1)
    assert ddp.main([*options, "--run-dir", str(folder / "one")]) == 0
    return options, folder / "one"


def _torchrun(options: list[str], run_dir: Path, *extra: str) -> str:
    """Two gloo ranks through torchrun and `synthmed.gan.ddp`; their stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "synthmed.gan.ddp", *options, "--run-dir", str(run_dir), *extra]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=500, cwd=run_dir.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"ranks": 2' in done.stdout
    return done.stdout


def _assert_trains_like(one: Path, other: Path) -> None:
    """`other`'s logged losses and final weights against the one-process run `one`, within the stated tolerance."""
    logs = (read_log(one / "log.jsonl"), read_log(other / "log.jsonl"))
    ticks = [[r for r in log if r["kind"] == "tick"] for log in logs]
    assert [r["nimg"] for r in ticks[0]] == [r["nimg"] for r in ticks[1]] == [128, 256]
    for a, b in zip(*ticks, strict=True):
        for name in [name for name in LOSSES if name in a]:  # cpD-GAN has no auxiliary-classifier losses
            assert b[name] == pytest.approx(a[name], rel=1e-3, abs=1e-5), name

    first, second = (torch.load(path / "last.pt", weights_only=False) for path in (one, other))
    assert first["rng"]["noise"].equal(second["rng"]["noise"])  # the same random stream, whatever the ranks
    assert first["progress"]["nimg"] == second["progress"]["nimg"] == 256
    lr = GANConfig.from_dict(first["config"]).lr
    for net in ("G", "D", "G_ema"):
        values = [(second[net][name], value) for name, value in first[net].items() if value.is_floating_point()]
        worst = max((b - a).abs().max().item() for b, a in values)
        off = sum(((b - a).abs() > 1e-5 + 1e-3 * a.abs()).sum().item() for b, a in values)
        assert worst < lr, f"{net}: a weight moved {worst:.2g} from the one-process run's, more than one Adam step"
        assert off < 0.05 * sum(a.numel() for _, a in values), f"{net}: {off} weights off by more than rounding"


@pytest.mark.timeout(600)
def test_two_gloo_ranks_train_like_one_process_with_the_same_total_minibatch(
    tmp_path: Path, reference: tuple[list[str], Path]
) -> None:
    options, one = reference
    _torchrun(options, tmp_path / "two")
    _assert_trains_like(one, tmp_path / "two")
    kinds = [[r["kind"] for r in read_log(path / "log.jsonl")] for path in (one, tmp_path / "two")]
    assert kinds[1].count("checkpoint") == kinds[0].count("checkpoint")
    assert json.loads((tmp_path / "two" / "run.json").read_text())["ranks"] == 2


@pytest.mark.timeout(600)
def test_a_paused_run_resumes_with_another_number_of_ranks(tmp_path: Path, reference: tuple[list[str], Path]) -> None:
    """Paused after the first tick with one rank and resumed with two, and the other way round: each reaches
    the uninterrupted one-process run's losses and weights within the tolerance above."""
    options, one = reference
    torch.set_num_threads(1)
    up, down = tmp_path / "one-then-two", tmp_path / "two-then-one"
    assert ddp.main([*options, "--run-dir", str(up), "--max-kimg", "0.128"]) == 0
    _torchrun(options, up)
    _torchrun(options, down, "--max-kimg", "0.128")
    assert ddp.main([*options, "--run-dir", str(down)]) == 0
    for resumed in (up, down):
        _assert_trains_like(one, resumed)
        assert [r["kind"] for r in read_log(resumed / "log.jsonl")].count("resume") == 1
    first_tick = [[r for r in read_log(path / "log.jsonl") if r["kind"] == "tick"][0] for path in (one, up)]
    assert all(first_tick[1][name] == first_tick[0][name] for name in LOSSES)  # one rank both times: bit-exact
