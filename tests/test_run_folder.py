"""The run-folder pieces both training loops share (synthmed.run_folder): options, progress, evaluations,
housekeeping and cache keys. The loops themselves are tested end to end in test_gan_train and test_diffusion."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from synthmed import config as settings
from synthmed import run_folder


def options(**changes):
    values = dict(fd_every_kimg=2.0, max_kimg=None, fd_images=100, fd_reals="fixed", tick_kimg=None,
                  checkpoint_every_kimg=None, grid_every_kimg=None, grid_default_kimg=None, grid_size=(2, 2))
    return run_folder.check_options(**{**values, **changes})


def test_options_default_to_the_frechet_interval():
    assert options() == run_folder.Intervals(tick_kimg=0.5, checkpoint_every_kimg=2.0, grid_every_kimg=2.0)
    assert options(checkpoint_every_kimg=1.0).grid_every_kimg == 1.0  # GAN: a grid with every checkpoint
    assert options(checkpoint_every_kimg=1.0, grid_default_kimg=2.0).grid_every_kimg == 2.0  # diffusion's default


@pytest.mark.parametrize("change, word", [
    ({"max_kimg": -1}, "max_kimg"), ({"fd_images": 1}, "fd_images"), ({"fd_reals": "some"}, "fd_reals"),
    ({"tick_kimg": 0}, "tick_kimg"), ({"checkpoint_every_kimg": -1.0}, "checkpoint_every_kimg"),
    ({"grid_every_kimg": -1.0}, "grid_every_kimg"), ({"grid_size": (0, 3)}, "grid_size"),
])
def test_bad_options_are_named(change, word):
    with pytest.raises(ValueError, match=word):
        options(**change)


def test_evaluations_keep_the_best_and_stop_on_patience():
    state = run_folder.new_progress(min_fd_kimg=3.0, fd_every_kimg=2.0)
    assert state["next_fd_nimg"] == 4000  # the first multiple of the interval at or past min_fd_kimg
    for nimg, fd, improves in ((4000, 10.0, True), (6000, 8.0, True), (8000, 9.0, False)):
        state["nimg"] = nimg
        assert run_folder.note_evaluation(state, fd, {"m": fd}, nimg=nimg, fd_every_kimg=2.0, patience=2) is improves
        assert state["next_fd_nimg"] == nimg + 2000
    assert (state["best_fd"], state["best_kimg"], state["best_monitors"]) == (8.0, 6.0, {"m": 8.0})
    assert not state["done"]
    state["nimg"] = 10000
    run_folder.note_evaluation(state, 8.5, {}, nimg=10000, fd_every_kimg=2.0, patience=2)
    assert state["done"] and state["stop_reason"] == "patience" and state["evals"] == 4
    record = run_folder.evaluation_record(state, 8.5, False, None, fd_images=100,
                                          extractor=SimpleNamespace(name="feat"), seconds=1.0)
    assert record["kind"] == "fd" and record["kimg"] == 10.0 and record["extractor"] == "feat"
    assert "monitors" not in record and record["evals_since_best"] == 2


def test_a_stopped_run_samples_best_and_a_finished_one_last(tmp_path):
    state = run_folder.new_progress(1.0, 1.0)
    state.update(nimg=5000, best_fd=3.0, best_kimg=4.0, evals_since_best=1, done=True, stop_reason="total_kimg")
    kwargs = dict(run_dir=tmp_path, patience=2, call_start=0.0, images_trained=0, device="cpu", from_cache=True)
    assert run_folder.train_result(state, **kwargs).sampled == "last"  # reached its length first
    state.update(evals_since_best=2, stop_reason="patience")
    result = run_folder.train_result(state, **kwargs)
    assert (result.sampled, result.sampled_kimg, result.checkpoint) == ("best", 4.0, tmp_path / "best.pt")


def test_housekeeping_falls_due_on_its_intervals():
    state = run_folder.new_progress(min_fd_kimg=100.0, fd_every_kimg=100.0)
    clock = run_folder.Housekeeping(state, run_folder.Intervals(1.0, 2.0, 0.0))
    assert (clock.next_tick, clock.next_checkpoint, clock.next_grid) == (1000, 2000, math.inf)
    assert not clock.due(500, paused=False) and clock.due(500, paused=True) and clock.due(1000, paused=False)
    clock.begin()
    assert clock.tick_due(1000, paused=False) and not clock.checkpoint_due(1000, evaluated=False, paused=False)
    timing = clock.tick_timing(1000)
    assert clock.next_tick == 2000 and timing["Timing/train_sec"] == state["train_seconds"] > 0
    assert not clock.grid_due(1000)  # grids off
    assert clock.checkpoint_due(1000, evaluated=True, paused=False) and clock.next_checkpoint == 2000
    clock.end()
    assert clock.tick_maintenance_seconds >= 0 and clock.mark >= clock.maintenance_start


def test_run_keys_hold_what_decides_a_run():
    extractor = SimpleNamespace(name="features")
    key = run_folder.run_key("gan", 1, {"a": 1}, 0, "digest", extractor, 100, [], None, "caller")
    assert key == settings.stable_hash("gan", 1, {"a": 1}, 0, "digest", "features", 100)  # the keys of older runs
    monitored = run_folder.run_key("gan", 1, {"a": 1}, 0, "digest", extractor, 100, [],
                                   {"inception": SimpleNamespace(name="incv3")}, "caller")
    assert monitored != key
    with pytest.raises(ValueError, match="caller: the extractor needs a `name`"):
        run_folder.run_key("gan", 1, {}, 0, "d", object(), 100, [], None, "caller")
    with pytest.raises(ValueError, match="caller: each monitor needs a `name`"):
        run_folder.run_key("gan", 1, {}, 0, "d", extractor, 100, [], {"x": object()}, "caller")


def test_the_data_order_is_a_seeded_permutation_per_epoch_whatever_the_batches():
    import numpy as np

    order = run_folder.EpochOrder(5, lambda epoch: 100 + epoch)
    stream = torch_cat([order.take(cursor, 3) for cursor in range(0, 12, 3)])
    again = run_folder.EpochOrder(5, lambda epoch: 100 + epoch).take(0, 12)  # one call, or a resumed run's
    assert stream.tolist() == again.tolist()
    assert sorted(stream[:5].tolist()) == sorted(stream[5:10].tolist()) == list(range(5))
    assert stream[:5].tolist() != stream[5:10].tolist()  # each epoch its own permutation (seeds 100, 101)
    assert np.array_equal(order.take(7, 2), again[7:9])


def test_training_data_is_checked_by_name():
    import numpy as np

    images = np.zeros((4, 8, 8), np.uint8)
    _, labels = run_folder.check_training_data(images, [[1, 0], [0, 1], [0, 0], [1, 1]], resolution=8, n_labels=2,
                                               channels=1, who="Config:train")
    assert labels.dtype == np.float32 and labels.tolist() == [[1, 0], [0, 1], [0, 0], [1, 1]]
    with pytest.raises(ValueError, match="labels row 1, column 0: expected 0 or 1"):
        run_folder.check_training_data(images, [[1, 0], [2, 1], [0, 0], [1, 1]], resolution=8, n_labels=2,
                                       channels=1, who="Config:train")
    with pytest.raises(ValueError, match=r"images: expected uint8 \(N, 16, 16\)"):
        run_folder.check_training_data(images, labels, resolution=16, n_labels=2, channels=1, who="Config:train")
    with pytest.raises(ValueError, match="images: expected dtype uint8"):
        run_folder.check_training_data(images.astype(float), labels, resolution=8, n_labels=2, channels=1,
                                       who="Config:train")
    with pytest.raises(ValueError, match=r"Config.channels = 3: train takes grayscale"):
        run_folder.check_training_data(images, labels, resolution=8, n_labels=2, channels=3, who="Config:train")


def torch_cat(parts):
    import torch

    return torch.cat(parts)
