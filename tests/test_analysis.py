"""Nearest neighbours, the memorisation statistic and occlusion maps on cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from synthmed.analysis.attribution import FLOOR, occlusion_maps
from synthmed.analysis.neighbours import memorisation, nearest_neighbours


def test_a_planted_copy_is_found_at_distance_zero() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 32))
    queries = rng.normal(size=(20, 32))
    queries[7] = train[123] * 3.0  # cosine distance ignores scale
    idx, dist = nearest_neighbours(queries, train, k=3, chunk=8)
    assert idx[7, 0] == 123 and dist[7, 0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(dist, axis=1) >= 0), "neighbours must come nearest first"
    # Brute force agrees for every query.
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    brute = 1 - unit(queries) @ unit(train).T
    np.testing.assert_array_equal(idx[:, 0], brute.argmin(1))
    np.testing.assert_allclose(dist[:, 0], brute.min(1), atol=1e-12)


def test_memorisation_separates_copies_from_fresh_samples() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(400, 16))
    test = rng.normal(size=(400, 16))
    fresh = memorisation(rng.normal(size=(400, 16)), test, train)
    copies = memorisation(train[:200] + rng.normal(scale=1e-3, size=(200, 16)), test, train)
    assert fresh.fraction_below == pytest.approx(0.05, abs=0.04)
    assert copies.fraction_below == 1.0
    assert copies.median_ratio < 0.01 < 0.8 < fresh.median_ratio


class _BrightestPixel(nn.Module):
    """A classifier whose only evidence is the brightest preprocessed pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(1, 1)
        with torch.no_grad():
            self.head.weight.fill_(4.0)
            self.head.bias.fill_(-2.0)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() / 255.0 * 2 - 1  # black -> -1, white -> 1, the mask value 0 is mid-grey

    def body(self, z: torch.Tensor) -> torch.Tensor:
        return z.amax(dim=(1, 2, 3)).unsqueeze(1)


def test_occluding_the_only_finding_gets_the_largest_attribution() -> None:
    images = np.zeros((2, 32, 32), dtype=np.uint8)
    images[0, 8:12, 20:24] = 255  # the finding fills one 4x4 square
    images[1, 0:4, 0:4] = 255
    maps = occlusion_maps(_BrightestPixel(), images, np.ones((2, 1)), patch=4, batch_size=7)
    assert maps.shape == (2, 32, 32)
    for i, (r, c) in enumerate([(8, 20), (0, 0)]):
        top = np.unravel_index(maps[i].argmax(), maps[i].shape)
        assert r <= top[0] < r + 4 and c <= top[1] < c + 4
        assert maps[i, r : r + 4, c : c + 4].min() > 0.1
        outside = np.ones((32, 32), bool)
        outside[r : r + 4, c : c + 4] = False
        assert np.allclose(maps[i][outside], FLOOR)


def test_occlusion_runs_on_the_compact_cnn_with_one_square_per_4x4_patch() -> None:
    from synthmed.classify.models import compact_cnn

    torch.manual_seed(0)
    model = compact_cnn(n_labels=3, resolution=32, width=4)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32), dtype=np.uint8)
    maps = occlusion_maps(model, images, np.array([[1, 0, 1], [0, 1, 0]]))
    assert maps.shape == (2, 32, 32) and np.all(maps >= FLOOR)
    # Constant over each 4x4 square: 64 values per image.
    assert len(np.unique(maps[0])) <= 64
    np.testing.assert_array_equal(maps[0][::4, ::4].repeat(4, 0).repeat(4, 1), maps[0])


def test_the_papers_queries_are_a_seeded_draw_without_repeats() -> None:
    from synthmed.analysis.neighbours import query_indices

    picked = query_indices(500, 100, seed=4)
    assert picked.shape == (100,) and len(set(picked.tolist())) == 100 and picked.max() < 500
    np.testing.assert_array_equal(query_indices(500, 100, seed=4), picked)
    assert not np.array_equal(query_indices(500, 100, seed=5), picked)
    assert sorted(query_indices(30, 100, seed=4).tolist()) == list(range(30))  # fewer images: all of them
    with pytest.raises(ValueError, match="non-negative"):
        query_indices(10, -1, seed=0)
