"""The quiz driven programmatically, and the machine reader on a deliberately poor generator."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from synthmed.reader.quiz import Quiz, make_items
from synthmed.reader.responses import read_responses


def _images(n: int, seed: int, value: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 40, size=(n, 16, 16)) + value).astype(np.uint8)


def test_the_quiz_writes_reads_the_loader_accepts_and_resumes(tmp_path: Path) -> None:
    real, synthetic = _images(10, 0, 0), _images(10, 1, 200)
    items = make_items(real, synthetic, n_per_class=4, modality="chest", generator="cpD-GAN", seed=3)
    assert sorted(i.truth for i in items) == ["real"] * 4 + ["synthetic"] * 4
    assert all("real" not in i.image_id and "synth" not in i.image_id for i in items)
    csv = tmp_path / "responses.csv"
    ticks = itertools.count(step=2.5)
    quiz = Quiz(items, csv, reader_id="r1", reader_experience="student", clock=lambda: next(ticks))
    shown = []
    for _ in range(3):  # answer by brightness, then stop
        shown.append(quiz._queue[0])
        assert bytes(quiz.image.value).startswith(b"\x89PNG")
        quiz.confidence.value = 5
        quiz.synthetic_button.click() if quiz._queue[0].image.mean() > 100 else quiz.real_button.click()
    quiz.stop_button.click()
    assert quiz.real_button.disabled

    first = read_responses(csv)
    assert len(first) == 3 and set(first["confidence"]) == {5}
    assert list(first["truth"]) == [item.truth for item in shown]
    assert (first["truth"] == first["answer"]).all()
    assert (first["response_time_s"] == 2.5).all()

    resumed = Quiz(items, csv, reader_id="r1")
    assert len(resumed._queue) == 5
    while not resumed.finished:
        resumed.answer("real")
    final = read_responses(csv)
    assert len(final) == 8 and final["image_id"].is_unique
    truth = {item.image_id: item.truth for item in items}
    assert all(truth[i] == t for i, t in zip(final["image_id"], final["truth"], strict=True))


def test_a_second_reader_keeps_the_first_readers_answers(tmp_path: Path) -> None:
    items = make_items(_images(4, 0, 0), _images(4, 1, 0), n_per_class=2, modality="brain", generator="x", seed=0)
    csv = tmp_path / "r.csv"
    one = Quiz(items, csv, reader_id="a")
    one.answer("real")
    two = Quiz(items, csv, reader_id="b")
    two.answer("synthetic")
    assert sorted(read_responses(csv)["reader_id"]) == ["a", "b"]


def test_items_refuse_too_few_images() -> None:
    with pytest.raises(ValueError, match="need 5"):
        make_items(_images(3, 0, 0), _images(9, 0, 0), n_per_class=5, modality="chest", generator="g", seed=0)


def test_the_machine_reader_beats_chance_on_a_poor_generator() -> None:
    import torch

    from synthmed.classify.models import ClassifierConfig
    from synthmed.reader.machine import machine_reader

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    def real(n):  # smooth blobs
        yy, xx = np.mgrid[:16, :16]
        cy, cx = rng.uniform(4, 12, size=(2, n, 1, 1))
        return (200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 12)).astype(np.uint8)

    def poor(n):  # the same blobs with a tell-tale checkerboard
        return np.clip(real(n).astype(int) + 30 * (np.indices((16, 16)).sum(0) % 2), 0, 255).astype(np.uint8)

    config = ClassifierConfig.tiny(seed=0)
    result = machine_reader(real(300), poor(300), real(100), poor(100), config, seed=0)
    assert result["n_test"] == 200
    assert result["accuracy"] > 0.75 and result["p_vs_chance"] < 1e-6
    assert result["accuracy_low"] < result["accuracy"] <= result["accuracy_high"]
    # A "generator" that draws from the real distribution leaves the machine at chance.
    same = machine_reader(real(300), real(300), real(100), real(100), config, seed=0)
    assert same["accuracy_low"] < 0.5 < same["accuracy_high"] and same["p_vs_chance"] > 0.01
