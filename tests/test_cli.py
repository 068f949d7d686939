"""The `synthmed` command: its subcommands parse, pass their options on, and `data` runs end to end."""

from __future__ import annotations

import pandas as pd
import pytest

from synthmed import cli, experiments


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
                    "kimg_stop": 1.5,
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
        "generators": ("cpD-GAN", "prog-GAN"),
        "seeds": [3],
        "data_root": None,
        "device": "cpu",
        "progress": False,
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
    assert len(list((tmp_path / "phantoms").iterdir())) == 2
