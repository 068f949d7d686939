"""The playground runs the chosen point with its overrides, compares it with the book, and its Run button runs it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthmed.chapters import playground
from synthmed.experiments import generator_config


def test_the_schedule_scales_every_kimg_field_and_keeps_its_shape() -> None:
    base = generator_config("prog-GAN", "cpu", 32, 14)
    scaled = playground.scaled_schedule(base, 0.5)
    assert set(scaled) >= {"total_kimg", "min_fid_kimg", "fid_every_kimg", "lod_train_kimg"}
    assert scaled["total_kimg"] == base.total_kimg / 2
    assert scaled["lod_train_kimg"] / scaled["total_kimg"] == pytest.approx(base.lod_train_kimg / base.total_kimg)
    diffusion = generator_config("DDIM", "cpu", 32, 14)
    assert playground.scaled_schedule(diffusion, 2.0)["min_fd_kimg"] == 2 * diffusion.min_fd_kimg
    with pytest.raises(ValueError, match="must be positive"):
        playground.scaled_schedule(base, 0)


def test_a_run_uses_the_chosen_length_and_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    short = playground.Choice("chest", "classes", 20, "cpD-GAN", length=0.5, epochs=1)
    result = playground.run(short, "tiny", progress=False)
    row = result.run.row
    full = generator_config("cpD-GAN", "tiny", row["resolution"], row["n_labels"])
    assert row["train_kimg"] <= full.total_kimg / 2 + 0.1  # stopped by the halved schedule
    assert row["real_epochs"] == 1 and row["synthetic_epochs"] == 1
    images, titles = playground.samples(result, k=3)
    assert len(images) == 6 and titles[0].startswith("real") and titles[3].startswith("cpD-GAN")
    with pytest.raises(ValueError, match="has no setting 7"):
        playground.run(playground.Choice("chest", "classes", 7, "cpD-GAN"), "tiny")


def test_the_book_result_is_the_nearest_setting_on_a_log_scale() -> None:
    table = pd.DataFrame({"generator": ["cpD-GAN"] * 4 + ["prog-GAN"], "setting": [20, 6, 2, 2, 6],
                          "seed": [0, 0, 0, 1, 0], "auc_real": [0.9, 0.8, 0.7, 0.8, 0.8],
                          "auc_synthetic": [0.6, 0.6, 0.5, 0.6, 0.5], "gap": [0.3, 0.2, 0.2, 0.2, 0.3]})
    choice = playground.Choice("chest", "classes", 3, "cpD-GAN")  # log 3 is nearer log 2 than log 6
    book = playground.book_result(choice, "cpu", loader=lambda *args: table)
    assert book["auc_real"] == pytest.approx(0.75) and "classes 2, 2 seed(s)" in book.name

    def missing(*args):
        raise FileNotFoundError("no sweep")

    assert playground.book_result(choice, "cpu", loader=missing) is None
    assert playground.book_result(playground.Choice("chest", "classes", 3, "DDIM"), "cpu",
                                  loader=lambda *args: table) is None


def test_run_sends_the_controls_choice_to_the_runner_and_shows_its_result() -> None:
    calls = []
    panel = playground.controls("tiny", playground.default_choice("tiny", seed=3),
                                runner=lambda choice, profile, **options: calls.append((choice, profile)) or "done",
                                shower=lambda result, profile: calls.append(result))
    first_row, second_row, third_row, _ = panel.children
    modality, benchmark, setting = first_row.children
    generator, length, epochs = second_row.children
    benchmark.value = "samples"
    assert tuple(setting.options) == playground.profiles.get("tiny").settings["chest", "samples"]
    generator.value, length.value, epochs.value = "prog-GAN", 2.0, 3
    panel.run()
    choice, profile = calls[0]
    assert profile == "tiny" and calls[1] == "done"
    assert (choice.benchmark, choice.setting, choice.generator, choice.length, choice.epochs, choice.seed) == (
        "samples", setting.value, "prog-GAN", 2.0, 3, 3)
    assert not third_row.children[1].disabled  # the button is usable again after the run
