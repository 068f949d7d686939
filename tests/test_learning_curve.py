"""benchmarks/gan_learning_curve.py at the tiny profile: it trains, pauses, resumes and prints its table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_learning_curve.py"


def _script():
    spec = importlib.util.spec_from_file_location("gan_learning_curve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_learning_curve_prints_one_row_per_generator_and_pause(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    threads = torch.get_num_threads()
    try:
        assert _script().main(["tiny", "--at", "0.25,0.5", "--run-dir", str(tmp_path / "runs")]) == 0
    finally:
        torch.set_num_threads(threads)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("generator\t"))
    columns = header.split("\t")
    cells = [line.split("\t") for line in lines]
    rows = [dict(zip(columns, c, strict=True)) for c in cells if c[0] in ("cpD-GAN", "prog-GAN")]
    assert [(r["generator"], float(r["kimg"])) for r in rows] == [
        ("cpD-GAN", pytest.approx(0.256)), ("cpD-GAN", pytest.approx(0.512)),
        ("prog-GAN", pytest.approx(0.256)), ("prog-GAN", pytest.approx(0.512)),
    ]
    for first, second in (rows[0:2], rows[2:4]):
        assert 0 < int(first["steps"]) < int(second["steps"])  # the second pause resumed the first
        assert 0 < float(first["seconds"]) <= float(second["seconds"])
    for row in rows:
        assert float(row["fd"]) >= 0
        assert float(row["auc_low"]) <= float(row["auc_synthetic"]) <= float(row["auc_high"])
        assert 0 <= float(row["auc_synthetic"]) <= 1
    # the runs' sample grids are kept beside their checkpoints
    assert sorted(p.name for p in (tmp_path / "runs" / "cpD-GAN-0").glob("fakes-*.png"))
