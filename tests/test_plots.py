"""Figures build from small fake inputs and show what they claim; the sample explorer's data and widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from synthmed import plots, widgets


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def fake_log(arch_lods: list[float], fds: list[float], stop_reason: str = "patience") -> list[dict]:
    """Log records as synthmed.gan.train writes them: ticks every 0.5 kimg, evaluations at the last ticks."""
    records: list[dict] = [{"kind": "start", "nimg": 0, "kimg": 0.0}]
    for i, lod in enumerate(arch_lods, start=1):
        records.append(
            {
                "kind": "tick",
                "nimg": 500 * i,
                "kimg": 0.5 * i,
                "lod": lod,
                "Loss/D/loss": 1.0 / i,
                "Loss/G/loss": float(i),
                "Loss/D/wgan": -2.0 / i,
                "Loss/D/gp": 0.1,
            }
        )
    first = len(arch_lods) - len(fds) + 1
    for j, fd in enumerate(fds):
        records.append({"kind": "fd", "nimg": 500 * (first + j), "kimg": 0.5 * (first + j), "fd": fd})
    records.append({"kind": "stop", "nimg": 500 * len(arch_lods), "kimg": 0.5 * len(arch_lods), "reason": stop_reason})
    return records


def test_training_curves_draw_every_run_and_mark_the_kept_checkpoint() -> None:
    runs = {
        "prog-GAN": fake_log([2, 1.5, 1, 0.5, 0, 0, 0, 0], [5.0, 3.0, 4.0, 4.5]),
        "cpD-GAN": fake_log([0] * 8, [6.0, 5.5], stop_reason="total_kimg"),
    }
    fig = plots.training_curves(runs, title="chest")
    axes = fig.axes
    assert len(axes) == 6
    titles = [ax.get_title() for ax in axes]
    assert titles[:4] == ["D loss", "G loss", "critic's Wasserstein estimate", "gradient penalty"]
    # Loss panels: one line per run, the Wasserstein estimate is minus Loss/D/wgan.
    for ax in axes[:4]:
        assert len(ax.get_lines()) == 2
    wasserstein = axes[2].get_lines()[0].get_ydata()
    np.testing.assert_allclose(wasserstein, [2.0 / i for i in range(1, 9)])
    # Level of detail: prog-GAN's schedule as logged.
    np.testing.assert_allclose(axes[5].get_lines()[0].get_ydata(), [2, 1.5, 1, 0.5, 0, 0, 0, 0])
    # Fréchet panel: the star sits on the best evaluation, the dotted line at the stop.
    fd_ax = axes[4]
    stars = [line for line in fd_ax.get_lines() if line.get_marker() == "*"]
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in stars] == [(3.0, 3.0), (4.0, 5.5)]
    stops = [line for line in fd_ax.get_lines() if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in stops] == [4.0, 4.0]
    assert [t.get_text() for t in fd_ax.get_legend().get_texts()] == ["kept (best)", "stopped"]
    assert fig._suptitle.get_text() == "chest"


def test_training_curves_accept_a_run_without_evaluations() -> None:
    fig = plots.training_curves({"prog-GAN": fake_log([1, 0], [])})
    fd_lines = fig.axes[4].get_lines()
    assert [line.get_linestyle() for line in fd_lines] == [":"]  # only where it stopped
    with pytest.raises(ValueError, match="at least one run"):
        plots.training_curves({})


def test_sample_grid_places_groups_side_by_side_with_titles_and_row_names() -> None:
    image = np.zeros((3, 8, 8), np.uint8)
    rows = {
        "Edema": {"real": image, "prog-GAN": image[:2], "cpD-GAN": image},
        "(none)": {"real": image[:1], "prog-GAN": image[:2], "cpD-GAN": image},
    }
    fig = plots.sample_grid(rows, suptitle="chest")
    # 3 + 2 + 3 image columns and two blank spacer columns, two rows.
    assert len(fig.axes) == 2 * (3 + 2 + 3 + 2)
    assert sum(len(ax.get_images()) for ax in fig.axes) == (3 + 2 + 3) + (1 + 2 + 3)
    assert [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")] == ["real", "prog-GAN", "cpD-GAN"]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["Edema", "(none)"]
    with pytest.raises(ValueError, match="at least one"):
        plots.sample_grid({})


def test_combination_names() -> None:
    names = widgets.combination_names(np.array([[1, 0, 1], [0, 0, 0]]), ["A", "B", "C"])
    assert names == ["A + C", "(none)"]
    with pytest.raises(ValueError, match=r"\(C, 2\)"):
        widgets.combination_names(np.zeros((1, 3)), ["A", "B"])


class ConstantByLabel(torch.nn.Module):
    """A stand-in generator: each image is filled with 0.5 * (first label) - 0.5 + a latent-dependent shift."""

    grows = False
    latent = 4
    n_labels = 2

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, z: torch.Tensor, labels: torch.Tensor, lod: float = 0.0) -> torch.Tensor:
        value = labels[:, :1] - 0.5 + 0.1 * z[:, :1]  # [N, 1]
        return (self.scale * value)[:, :, None, None].expand(-1, 1, 8, 8)


def test_sample_set_ranks_combinations_and_shares_latents_across_them() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([[1, 0]] * 5 + [[0, 1]] * 3 + [[1, 1]] * 1, dtype=np.int8)
    images = rng.integers(0, 256, (len(labels), 8, 8), dtype=np.uint8)
    samples = widgets.sample_set(
        {"fake": ConstantByLabel()}, images, labels, ["A", "B"], seeds=(3, 4), per_row=4, max_combinations=2
    )
    assert samples.combinations == ["A", "B"]  # the two most frequent, most frequent first
    np.testing.assert_array_equal(samples.vectors, [[1, 0], [0, 1]])
    # Reals: only images with exactly that label vector, at most per_row of them.
    assert len(samples.real["A"]) == 4 and len(samples.real["B"]) == 3
    assert all(any((img == images[i]).all() for i in range(5)) for img in samples.real["A"])
    generated = samples.generated["fake"]
    assert generated["A"].shape == (2, 4, 8, 8) and generated["A"].dtype == np.uint8
    # Same seed, same latents: the two combinations differ by the label term alone (0.5 * 127.5 ≈ 127).
    diff = generated["A"].astype(int) - generated["B"].astype(int)
    assert np.all(np.abs(diff - 127.5) <= 1)
    assert not np.array_equal(generated["A"][0], generated["A"][1])  # another seed, other latents
    rows = samples.grid_rows(1)
    assert list(rows["B"]) == ["real", "fake"]
    np.testing.assert_array_equal(rows["B"]["fake"], generated["B"][1])
