"""benchmarks/gpu_smoke.py at the tiny profile on the CPU: it trains every stage and prints its table."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from synthmed import experiments, profiles
from synthmed.generators import GAN_ARCH

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_smoke.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_smoke", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_smoke_prints_rates_and_a_projection_at_tiny_on_the_cpu(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    script = _script()
    resolutions = script.sweep_resolutions("tiny")
    assert resolutions == sorted({profiles.get("tiny").classes_resolution, *profiles.get("tiny").settings[
        "chest", "resolution"]})
    threads = torch.get_num_threads()
    try:
        assert script.main(["--profile", "tiny", "--device", "cpu", "--seconds", "0.2"]) == 0
    finally:
        torch.set_num_threads(threads)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("device cpu (CPU), profile tiny, precision fp32")
    assert lines[1].split() == ["stage", "res", "batch", "images/s", "peak", "MiB"]
    rows = [line.split() for line in lines[2:] if not line.startswith("projected")]
    stages = [(" ".join(r[:-4]), int(r[-4])) for r in rows]
    expected = [(g, r) for r in resolutions for g in GAN_ARCH]
    expected += [(f"compact CNN (w {experiments.classifier_config('tiny').width})", r) for r in resolutions]
    assert stages == expected
    assert all(float(r[-2]) > 0 for r in rows) and all(r[-1] == "-" for r in rows)  # no GPU memory on a CPU
    projected = lines[-1]
    seeds = len(profiles.get("tiny").seeds)
    points = sum(len(s) for s in profiles.get("tiny").settings.values())
    match = re.fullmatch(r"projected: at most ([\d.]+) h for the whole tiny profile on this device \((\d+) GAN runs "
                         r"to total_kimg: ([\d.]+) h; (\d+) classifier runs to \d+ epochs: ([\d.]+) h; .*\)", projected)
    assert match, projected
    assert int(match[2]) == points * seeds * 2 and int(match[4]) == points * seeds * 3
    assert float(match[1]) == pytest.approx(float(match[3]) + float(match[5]), abs=0.011)


def test_gpu_smoke_says_when_there_is_no_gpu(monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _script().main(["--profile", "tiny"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_a_stage_that_runs_out_of_memory_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys) -> None:
    """On one H100 the paper's cpD-GAN at 128 px ran out of memory and the script stopped; now it says so."""
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "home"))
    script = _script()
    measured = []

    def gan_rate(profile, arch, resolution, seconds, device, precision):
        if arch == "cpdgan" and resolution == max(script.sweep_resolutions("tiny")):
            raise torch.OutOfMemoryError("CUDA out of memory")
        measured.append((arch, resolution))
        return 100.0, 8, 0

    monkeypatch.setattr(script, "gan_rate", gan_rate)
    monkeypatch.setattr(script, "classifier_rate", lambda *args: (50.0, 0))
    assert script.main(["--profile", "tiny", "--device", "cpu", "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    largest = max(script.sweep_resolutions("tiny"))
    assert re.search(rf"cpD-GAN\s+{largest}\s+out of memory", out)
    assert ("progan", largest) in measured  # the stage after the failed one still ran
    assert f"projected: not computed, cpD-GAN at {largest} px ran out of this device's memory" in out
