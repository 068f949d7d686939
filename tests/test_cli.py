"""The `synthmed` command: its subcommands parse, pass their options on, and `data` runs end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed import cli, experiments
from synthmed.data import DataError


def test_parser_accepts_the_benchmark_commands() -> None:
    parser = cli.build_parser()
    run = parser.parse_args(
        [
            "run",
            "--modality",
            "chest",
            "--benchmark",
            "classes",
            "--profile",
            "cpu",
            "--data-root",
            "/d",
            "--device",
            "cuda",
            "--seeds",
            "0",
            "1",
        ]
    )
    assert (run.func, run.modality, run.benchmark, run.profile) == (cli._run, "chest", "classes", "cpu")
    assert (run.data_root, run.device, run.seeds, run.settings) == ("/d", "cuda", [0, 1], None)
    data = parser.parse_args(["data", "--profile", "tiny"])
    assert (data.func, data.profile, data.data_root, tuple(data.modality)) == (
        cli._data,
        "tiny",
        None,
        ("chest", "brain"),
    )
    classify = parser.parse_args(["classify", "--modality", "brain", "--benchmark", "samples", "--setting", "100"])
    assert (classify.func, classify.setting, classify.profile, classify.seed) == (cli._classify, 100, "cpu", 0)
    for bad in (
        ["run", "--modality", "chest", "--benchmark", "colours"],
        ["run", "--benchmark", "classes"],
        ["data", "--profile", "huge"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_run_passes_its_options_to_run_sweep(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    seen = {}

    def run_sweep(modality, benchmark, profile, **kwargs):
        seen.update(modality=modality, benchmark=benchmark, profile=profile, **kwargs)
        table = pd.DataFrame(
            [
                {
                    "setting": 20,
                    "generator": "cpD-GAN",
                    "seed": 3,
                    "n_train": 9,
                    "n_test": 4,
                    "auc_real": 0.81234,
                    "auc_synthetic": 0.7,
                    "gap": 0.11234,
                    "train_kimg": 1.5,
                }
            ]
        )
        table.attrs["skipped"] = [{"setting": 2, "reason": "too few"}]
        return table

    monkeypatch.setattr(experiments, "run_sweep", run_sweep)
    argv = [
        "run",
        "--modality",
        "brain",
        "--benchmark",
        "samples",
        "--profile",
        "tiny",
        "--seeds",
        "3",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert cli.main(argv) == 0
    assert seen == {
        "modality": "brain",
        "benchmark": "samples",
        "profile": "tiny",
        "settings": None,
        "generators": None,  # run_sweep takes the profile's book generators
        "seeds": [3],
        "data_root": None,
        "device": "cpu",
        "progress": False,
        "classifier_weights": None,  # None: the profile's
        "precision": None,
    }
    out = capsys.readouterr().out
    assert "0.8123" in out and "skipped setting 2: too few" in out and "brain-samples-tiny.csv" in out


def test_data_makes_phantoms_and_prints_the_benchmark_table(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert cli.main(["data", "--profile", "tiny", "--chest-patients", "40", "--brain-patients", "12"]) == 0
    out = capsys.readouterr().out
    assert f"chest phantoms: {tmp_path}" in out and f"brain phantoms: {tmp_path}" in out
    for benchmark in ("resolution", "classes", "samples"):
        assert benchmark in out
    assert len([p for p in (tmp_path / "phantoms").iterdir() if p.is_dir()]) == 2


# -- Errors: one line naming what was wrong, no traceback unless asked for. --------------------

RUN = ["run", "--modality", "chest", "--benchmark", "classes", "--profile", "tiny"]


def _one_line(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_runtime_error_is_one_line_and_a_nonzero_exit(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)

    def fails(*args, **kwargs):
        raise DataError("/data/stage_2_train.csv: empty file; expected a header row")

    monkeypatch.setattr(experiments, "run_sweep", fails)
    assert cli.main(RUN) == 1
    assert _one_line(capsys) == "synthmed run: error: /data/stage_2_train.csv: empty file; expected a header row"
    with pytest.raises(DataError):  # the traceback when asked for
        cli.main(["--debug", *RUN])
    monkeypatch.setenv("SYNTHMED_DEBUG", "1")
    with pytest.raises(DataError):
        cli.main(RUN)


def test_an_unexpected_error_and_an_interrupt(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)
    monkeypatch.setattr(experiments, "run_sweep", lambda *a, **k: {}["auc"])
    assert cli.main(RUN) == 1
    line = _one_line(capsys)
    assert "KeyError" in line and "'auc'" in line and "--debug" in line

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "run_sweep", interrupted)
    assert cli.main(RUN) == 130
    assert "interrupted" in _one_line(capsys)


def test_bad_options_are_named_before_any_work(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import torch

    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)
    monkeypatch.setattr(experiments, "run_sweep", lambda *a, **k: pytest.fail("the sweep started"))
    missing = tmp_path / "absent"
    assert cli.main([*RUN, "--data-root", str(missing)]) == 1
    assert f"--data-root {missing}: no such folder" in _one_line(capsys)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert cli.main([*RUN, "--device", "cuda"]) == 1
    line = _one_line(capsys)
    assert "--device cuda: no such device" in line and "available: cpu" in line

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Card {i}")
    assert cli.main([*RUN, "--device", "cuda:1"]) == 1
    assert "available: cpu, cuda:0 (Card 0)" in _one_line(capsys)
    assert cli.main([*RUN, "--device", "gpu"]) == 1
    assert "--device 'gpu': not a device name" in _one_line(capsys)


def test_a_bad_setting_is_named_before_the_data_is_loaded(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)
    monkeypatch.setattr(experiments, "load_source", lambda *a: pytest.fail("the dataset was loaded"))
    assert cli.main([*RUN, "--settings", "7", "--device", "cpu"]) == 1
    assert "chest classes setting 7 is not one of the paper's" in _one_line(capsys)


def test_the_command_exits_nonzero_without_a_traceback(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "SYNTHMED_DEBUG"}
    result = subprocess.run(
        [sys.executable, "-m", "synthmed", "data", "--data-root", str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"synthmed data: error: --data-root {tmp_path / 'absent'}: no such folder; give the folder that holds "
        "CheXpert-v1.0-small/ and stage_2_train.csv, or leave the option out to use phantoms"
    ]


# -- profile paper: the datasets, a CUDA GPU and the weights are checked before any work (issue 13). ----


def _real_layout(root) -> None:
    (root / "CheXpert-v1.0-small").mkdir(parents=True)
    (root / "CheXpert-v1.0-small" / "train.csv").write_text("Path\n")
    (root / "stage_2_train.csv").write_text("ID,Label\n")


def test_a_paper_run_without_data_or_cuda_fails_at_once(tmp_path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import torch

    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)
    monkeypatch.setattr(experiments, "run_sweep", lambda *a, **k: pytest.fail("the sweep started"))
    monkeypatch.setattr(experiments, "load_source", lambda *a: pytest.fail("the dataset was loaded"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    paper = [*RUN, "--profile", "paper"]
    assert cli.main(paper) == 1
    line = _one_line(capsys)
    assert "profile paper needs the real datasets" in line and "data_root" in line
    assert cli.main([*paper, "--data-root", str(tmp_path)]) == 1
    assert "CheXpert-v1.0-small/train.csv" in _one_line(capsys)  # the file it lacks
    _real_layout(tmp_path)
    assert cli.main([*paper, "--data-root", str(tmp_path)]) == 1
    assert "profile paper needs a CUDA GPU and no CUDA GPU is visible" in _one_line(capsys)
    classify = ["classify", "--modality", "brain", "--benchmark", "samples", "--setting", "100", "--profile", "paper"]
    assert cli.main(classify) == 1
    assert "needs the real datasets" in _one_line(capsys)

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "paper.yaml").write_text("profile: paper\ndata_root: ''\n")
    monkeypatch.setattr("synthmed.book.build", lambda *a, **k: pytest.fail("the book build started"))
    assert cli.main(["book", "--profile", "paper", "--root", str(tmp_path)]) == 1
    assert "needs the real datasets" in _one_line(capsys)
    # Other profiles are not checked: the cpu profile runs on phantoms and on the CPU.
    experiments.check_paper_ready("cpu", None, "cpu")


def test_a_paper_run_checks_the_imagenet_weights_before_any_work(tmp_path, monkeypatch, capsys) -> None:
    import urllib.error

    import torch

    monkeypatch.delenv("SYNTHMED_DEBUG", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    _real_layout(tmp_path / "data")
    seen = {}
    monkeypatch.setattr(experiments, "run_sweep", lambda *a, **k: pytest.fail("the sweep started"))
    paper = [*RUN, "--profile", "paper", "--data-root", str(tmp_path / "data")]
    assert cli.main(paper) == 1
    line = _one_line(capsys)
    assert "classifier weights 'imagenet'" in line and str(tmp_path / "torch" / "hub" / "checkpoints") in line
    with pytest.raises(experiments.NotReady, match="CUDA"):
        experiments.run_point("chest", "classes", 20, "cpD-GAN", "paper", data_root=str(tmp_path / "data"),
                              device="cpu")
    # weights none: nothing to fetch (the FID's Inception file stands in as present), so the checks pass
    # and the sweep gets the options.
    monkeypatch.setattr("synthmed.gan.inception.inception_extractor", lambda *a, **k: None)
    def started(*args, **kwargs):
        seen.update(kwargs)
        raise ValueError("the sweep started")

    monkeypatch.setattr(experiments, "run_sweep", started)
    assert cli.main([*paper, "--classifier-weights", "none", "--precision", "bf16"]) == 1
    assert _one_line(capsys).endswith("the sweep started")
    assert (seen["classifier_weights"], seen["precision"]) == ("none", "bf16")
    assert cli.main([*RUN, "--classifier-weights", str(tmp_path / "absent.pth")]) == 1
    assert "--classifier-weights" in _one_line(capsys)
