"""Texture banks of the chest phantoms: lung vessel trees, film noise and mottle.

They are drawn once per process from a fixed seed: the banks are part of the renderer, not of a
dataset, so every dataset and every process renders a row the same. Each image reads windows of
them at offsets its own draws choose, which is far cheaper than drawing fresh fields per image.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

TEXTURE_SEED = 2012_03769  # fixed: the texture banks are part of the renderer, not of a dataset
N_VESSEL_TEXTURES = 8
TEX = 256  # vessel texture side, covering anatomy coordinates [-1, 1]^2
NOISE_SIDE = 1024  # film noise bank side, px
MOTTLE_SIDE = 512  # mottle bank side, px


@dataclass(frozen=True)
class TextureBanks:
    vessels: np.ndarray  # (K, 256, 256) branching vessel trees in [0, 1], anatomy [-1, 1]^2
    vessels_half: np.ndarray  # (K, 128, 128) the same, 2x2 box-averaged, for half-resolution drawing
    noise: np.ndarray  # (1024, 1024) white noise, N(0, 1)
    mottle: np.ndarray  # (512, 512) smooth noise in [0, 1]


@dataclass(frozen=True)
class VesselTree:
    """Pulmonary vessels branching from each hilum, in anatomy units (u: |offset| from the midline)."""

    hilum: tuple[float, float] = (0.2, -0.06)  # |u| and v of each hilum, where the trees start
    lung: tuple[float, float, float, float] = (0.37, -0.02, 0.36, 0.82)  # |u|, v, half-axes: vessels stay inside
    trunks: int = 9  # vessels leaving each hilum, fanned evenly ...
    fan: float = 0.85  # ... over +-fan * pi (0 points laterally)
    fan_jitter: float = 0.12  # random turn of each trunk, rad (sd)
    trunk_length: float = 0.11  # length of a trunk segment
    generations: int = 6  # branchings after the trunk
    spread: tuple[float, float] = (0.3, 0.6)  # angle between a segment and its first child, rad
    second_child: tuple[float, float] = (0.6, 1.0)  # the second child turns the other way by this share of it
    turn_jitter: float = 0.1  # random extra turn of each child, rad (sd)
    shrink: tuple[float, float] = (0.7, 0.9)  # a child's length over its parent's
    thinning: float = 0.7  # a child's width over its parent's
    blur_fine: float = 0.8  # vessel wall blur, texels (sd) ...
    blur_wide: float = 2.0  # ... plus a wider halo of weight halo, so that vessels fade out
    halo: float = 0.5


VESSEL_TREE = VesselTree()
MOTTLE_BLUR = 6.0  # smoothing of the mottle bank, px (sd): blotches of a few dozen pixels


@functools.lru_cache(maxsize=1)
def texture_banks() -> TextureBanks:
    rng = np.random.default_rng(TEXTURE_SEED)
    vessels = np.stack([_vessel_texture(rng) for _ in range(N_VESSEL_TEXTURES)])
    half = vessels.reshape(N_VESSEL_TEXTURES, TEX // 2, 2, TEX // 2, 2).mean(axis=(2, 4))
    noise = rng.standard_normal((NOISE_SIDE, NOISE_SIDE), dtype=np.float32)
    mottle = ndimage.gaussian_filter(rng.standard_normal((MOTTLE_SIDE, MOTTLE_SIDE)).astype(np.float32), MOTTLE_BLUR)
    mottle = (mottle - mottle.min()) / (mottle.max() - mottle.min())
    return TextureBanks(vessels, half.astype(np.float32), noise, mottle.astype(np.float32))


def _vessel_texture(rng: np.random.Generator) -> np.ndarray:
    """Branching vessel trees from both hila, in anatomy coordinates [-1, 1]^2 (v down)."""
    c = VESSEL_TREE
    grid = np.zeros((TEX, TEX), dtype=np.float32)
    texel = 2.0 / TEX
    points_u: list[np.ndarray] = []
    points_v: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for side in (-1.0, 1.0):
        hilum = (side * c.hilum[0], c.hilum[1])
        lung_c, lung_a, lung_b = (side * c.lung[0], c.lung[1]), c.lung[2], c.lung[3]
        # (u, v, angle, length, width, generation); angle 0 points laterally, negative upwards
        stack = [
            (hilum[0], hilum[1], a, c.trunk_length, 1.0, 0)
            for a in np.linspace(-c.fan * math.pi, c.fan * math.pi, c.trunks) + rng.normal(0, c.fan_jitter, c.trunks)
        ]
        while stack:
            u0, v0, angle, length, width, gen = stack.pop()
            du, dv = side * math.cos(angle) * length, math.sin(angle) * length
            t = np.linspace(0, 1, max(2, int(length / (0.5 * texel))))
            pu, pv = u0 + t * du, v0 + t * dv
            inside = ((pu - lung_c[0]) / lung_a) ** 2 + ((pv - lung_c[1]) / lung_b) ** 2 < 1
            points_u.append(pu[inside])
            points_v.append(pv[inside])
            weights.append(np.full(int(inside.sum()), math.sqrt(width), dtype=np.float32))
            if gen < c.generations and inside[-1]:
                spread = rng.uniform(*c.spread)
                for turn in (-spread, spread * rng.uniform(*c.second_child)):
                    child_angle = angle + turn + rng.normal(0, c.turn_jitter)
                    child = (length * rng.uniform(*c.shrink), width * c.thinning, gen + 1)
                    stack.append((u0 + du, v0 + dv, child_angle, *child))
    pu, pv, w = np.concatenate(points_u), np.concatenate(points_v), np.concatenate(weights)
    cols = np.clip(((pu + 1) / texel).astype(int), 0, TEX - 1)
    rows = np.clip(((pv + 1) / texel).astype(int), 0, TEX - 1)
    np.maximum.at(grid, (rows, cols), w)
    grid = ndimage.gaussian_filter(grid, c.blur_fine) + c.halo * ndimage.gaussian_filter(grid, c.blur_wide)
    return (grid / grid.max()).astype(np.float32)
