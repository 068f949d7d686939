"""The quiz driven programmatically, and the machine reader on a deliberately poor generator."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
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
    ticks = itertools.count(step=1.5)
    one = Quiz(items, csv, reader_id="a", reader_experience="resident", clock=lambda: next(ticks))
    for answer, confidence in (("real", 2), ("synthetic", 5)):
        one.confidence.value = confidence
        one.answer(answer)
    first = read_responses(csv)
    assert first["answer"].tolist() == ["real", "synthetic"] and first["confidence"].tolist() == [2, 5]

    # A second reader, in a quiz opened while the first one's is still open, answers the same images
    # differently; the first reader then answers once more.
    two = Quiz(items, csv, reader_id="b", clock=lambda: next(ticks))
    assert len(two._queue) == len(items)  # the first reader's answers are not the second reader's
    for _ in range(3):
        two.confidence.value = 1
        two.answer("synthetic")
    one.answer("real")

    final = read_responses(csv)
    a_rows = final[final["reader_id"] == "a"].reset_index(drop=True)
    b_rows = final[final["reader_id"] == "b"].reset_index(drop=True)
    # Every field of the first reader's first two reads is in the file as written, then the third.
    pd.testing.assert_frame_equal(a_rows.iloc[:2], first)
    assert a_rows["image_id"].tolist() == [item.image_id for item in items[:3]]
    assert a_rows["answer"].tolist() == ["real", "synthetic", "real"]
    assert b_rows["image_id"].tolist() == [item.image_id for item in items[:3]]
    assert b_rows["answer"].tolist() == ["synthetic"] * 3 and b_rows["confidence"].tolist() == [1] * 3
    # Resuming the first reader skips exactly their three answered images.
    again = Quiz(items, csv, reader_id="a")
    assert [item.image_id for item in again._queue] == [item.image_id for item in items[3:]]


def test_items_refuse_too_few_images() -> None:
    with pytest.raises(ValueError, match="need 5"):
        make_items(_images(3, 0, 0), _images(9, 0, 0), n_per_class=5, modality="chest", generator="g", seed=0)


def test_the_machine_reader_beats_chance_on_a_poor_generator() -> None:
    import torch

    from synthmed.classify.models import ClassifierConfig
    from synthmed.reader.machine import machine_reader
    from synthmed.reader.study import chance_tests

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
    assert result["n_test"] == 200 and result["accuracy"] == result["n_correct"] / 200
    # Its counts give the decision and the interval at any alpha; at the default, the interval it reported.
    verdict = chance_tests(pd.DataFrame([result]), reads="n_test").iloc[0]
    assert (verdict["low"], verdict["high"]) == pytest.approx((result["accuracy_low"], result["accuracy_high"]))
    assert result["accuracy"] > 0.75 and result["p_vs_chance"] < 1e-6
    assert result["accuracy_low"] < result["accuracy"] <= result["accuracy_high"]
    # A "generator" that draws from the real distribution leaves the machine at chance.
    same = machine_reader(real(300), real(300), real(100), real(100), config, seed=0)
    assert same["accuracy_low"] < 0.5 < same["accuracy_high"] and same["p_vs_chance"] > 0.01


def test_point_images_keep_the_quiz_and_the_machine_reader_apart() -> None:
    from types import SimpleNamespace

    import torch

    from synthmed.reader.machine import TEST_SEED_OFFSET, point_images

    class Constant(torch.nn.Module):  # a "generator" whose image is its first latent, everywhere
        n_labels, latent = 2, 4

        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, z, labels, lod=0.0):
            return torch.tanh(self.scale * z[:, :1, None, None]).expand(-1, 1, 8, 8)

    def split(n: int, value: int):
        return np.full((n, 8, 8), value, np.uint8), np.tile(np.array([[1, 0]], np.int8), (n, 1))

    arrays = {"train": split(6, 1), "val": split(3, 2), "test": split(5, 3)}
    synthetic = {"train": np.full((6, 8, 8), 11, np.uint8), "val": np.full((3, 8, 8), 12, np.uint8)}
    row = {"modality": "brain", "resolution": 8, "generator": "cpD-GAN", "seed": 7, "setting": 8}
    run = SimpleNamespace(row=row, arrays=arrays, synthetic=synthetic, trained=SimpleNamespace(model=Constant()))

    images = point_images(run)
    assert (images.modality, images.resolution, images.generator) == ("brain", 8, "cpD-GAN")
    assert (images.real_train == 1).all() and (images.synthetic_train == 11).all()
    assert (images.real_test == 3).all() and (images.quiz_real == 2).all() and (images.quiz_synthetic == 12).all()
    # One synthetic test image per real test label vector, from latents the train and val samples did not use.
    assert images.synthetic_test.shape == (5, 8, 8) and images.synthetic_test.dtype == np.uint8
    first_latents = torch.randn(5, 4, generator=torch.Generator().manual_seed(7 + TEST_SEED_OFFSET))[:, 0]
    expected = np.rint((np.tanh(first_latents.numpy()) + 1) * 127.5)
    np.testing.assert_allclose(images.synthetic_test[:, 0, 0], expected, atol=1)
    np.testing.assert_array_equal(point_images(run).synthetic_test, images.synthetic_test)
    # A run that sampled its synthetic test split (run_point does, with the same seed) hands it over as it is.
    from synthmed.experiments import SYNTHETIC_SEED_OFFSET

    assert SYNTHETIC_SEED_OFFSET["test"] == TEST_SEED_OFFSET
    run.synthetic = {**synthetic, "test": np.full((5, 8, 8), 13, np.uint8)}
    assert (point_images(run).synthetic_test == 13).all()
    run.synthetic = {**synthetic, "test": np.full((4, 8, 8), 13, np.uint8)}
    with pytest.raises(ValueError, match="4 synthetic test images for 5 real ones"):
        point_images(run)

    run.synthetic = {"train": synthetic["train"][:4], "val": synthetic["val"]}
    with pytest.raises(ValueError, match="4 synthetic train images for 6 real ones"):
        point_images(run)


def test_the_machine_reader_trains_through_the_cache_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmed.classify.models import ClassifierConfig
    from synthmed.reader import machine

    class Called(Exception):
        pass

    def fake(*args, **kwargs):
        raise Called(len(args[0]))

    monkeypatch.setattr(machine, "train_cached", fake)
    images = _images(10, 0, 0)
    with pytest.raises(Called) as called:  # the training images: 80% of the 20 given
        machine.machine_reader(images, images, images, images, ClassifierConfig.tiny(), cached=True)
    assert called.value.args == (16,)


def test_machine_read_trains_on_train_tests_on_test_and_names_the_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmed.classify.models import ClassifierConfig
    from synthmed.reader import machine

    seen = {}

    def fake(real_train, synthetic_train, real_test, synthetic_test, config, *, seed, cached):
        seen.update(train=(real_train, synthetic_train), test=(real_test, synthetic_test), cached=cached)
        return {"n_test": len(real_test) + len(synthetic_test), "accuracy": 0.5}

    monkeypatch.setattr(machine, "machine_reader", fake)
    a, b, c, d, e, f = (_images(n, n, 0) for n in (6, 5, 4, 3, 2, 1))
    images = machine.ReaderImages("chest", 16, "prog-GAN", a, b, c, d, e, f)
    row = machine.machine_read(images, ClassifierConfig.tiny(), seed=1)
    assert row == {
        "modality": "chest",
        "resolution": 16,
        "generator": "prog-GAN",
        "n_train": 11,
        "n_test": 7,
        "accuracy": 0.5,
    }
    assert [x is y for x, y in zip([*seen["train"], *seen["test"]], [a, b, c, d], strict=True)] == [True] * 4
    assert seen["cached"] is True


# -- Answers survive a second quiz on the same file and a save that fails halfway. -------------


def test_two_quizzes_on_one_file_keep_every_answer(tmp_path: Path) -> None:
    items = make_items(_images(6, 0, 0), _images(6, 1, 0), n_per_class=3, modality="chest", generator="g", seed=1)
    csv = tmp_path / "shared.csv"
    one = Quiz(items, csv, reader_id="a")  # both open before either answers: each holds the same empty view
    two = Quiz(items, csv, reader_id="b")
    for _ in range(3):
        one.answer("real")
        two.answer("synthetic")
    one.answer("real")
    one.stop()
    reads = read_responses(csv)
    assert sorted(reads["reader_id"]) == ["a"] * 4 + ["b"] * 3
    assert len(two.responses()) == 7  # the second quiz sees the first's answers too
    # A third quiz opened by reader "a" resumes after its four answers and keeps "b"'s.
    again = Quiz(items, csv, reader_id="a")
    assert len(again._queue) == 2
    again.answer("synthetic")
    assert sorted(read_responses(csv)["reader_id"]) == ["a"] * 5 + ["b"] * 3


def test_the_same_reader_in_two_windows_does_not_break_the_file(tmp_path: Path) -> None:
    items = make_items(_images(4, 0, 0), _images(4, 1, 0), n_per_class=2, modality="chest", generator="g", seed=2)
    csv = tmp_path / "r.csv"
    left, right = Quiz(items, csv, reader_id="a"), Quiz(items, csv, reader_id="a")
    left.answer("real")
    right.answer("synthetic")  # the same first image: the first answer stays, the file stays valid
    reads = read_responses(csv)
    assert len(reads) == 1 and reads["answer"].tolist() == ["real"]


def _half_then_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write (os.write, or a file opened for writing through io.open as pathlib does) writes
    half of what it is given, then raises as a full disk does."""
    import errno
    import io
    import os

    def full() -> OSError:
        return OSError(errno.ENOSPC, "No space left on device")

    real_write, real_open = os.write, io.open
    written = {"os": False}

    def write(fd, data):
        if written["os"]:
            raise full()
        written["os"] = True
        return real_write(fd, bytes(data[: max(1, len(data) // 2)]))

    class HalfFile:
        def __init__(self, handle) -> None:
            self.handle = handle

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise full()

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def open_(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return HalfFile(handle) if any(m in mode for m in "wax+") else handle

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(io, "open", open_)


def test_a_save_that_fails_halfway_keeps_earlier_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = make_items(_images(6, 0, 0), _images(6, 1, 0), n_per_class=3, modality="brain", generator="g", seed=4)
    csv = tmp_path / "r.csv"
    quiz = Quiz(items, csv, reader_id="a")
    for _ in range(3):
        quiz.answer("real")
    before = csv.read_bytes()
    with monkeypatch.context() as patch:
        _half_then_fail(patch)
        with pytest.raises(OSError, match="No space"):
            quiz.answer("synthetic")
    assert csv.read_bytes() == before and len(read_responses(csv)) == 3
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []  # no half-written temp left
    quiz.answer("real")  # the failed answer was kept and is saved with the next
    reads = read_responses(csv)
    assert len(reads) == 5 and reads["answer"].tolist()[3:] == ["synthetic", "real"]
