"""The surface a brain slice is drawn on: per-patient head-frame coordinates and random fields.

Rendering is vectorised over precomputed per-patient coordinate grids; expensive random fields
(noise, texture) are drawn once per dataset and sampled at random offsets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from synthmed.data.phantoms.brain.head import SIZE, SKULL_THICKENING, SULCI, Anatomy

NOISE_SMOOTH = 2  # px: CT noise is slightly correlated
TEXTURE_PX = 9  # parenchymal mottling grain at 512 px (about 4 mm at any pixel size) ...
TEXTURE_HU = 1.6  # ... and its strength, HU (sd)
GRID_MARGIN = 3.0  # mm beyond the scalp that a patient's grid covers
ANGLE_BINS = 4096  # angular resolution of the tabulated sulcal pattern


def _unit_field(rng: np.random.Generator, shape: tuple[int, int], smooth: int) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian noise box-filtered over `smooth` pixels (wrapping), float32."""
    f = rng.standard_normal(shape, dtype=np.float32)
    for _ in range(2 if smooth > 2 else 1):
        f = uniform_filter(f, size=smooth, mode="wrap") if smooth > 1 else f
    f -= f.mean()
    f /= f.std()
    return f


class Banks:
    """Random fields drawn once per dataset; each slice reads windows of them at random offsets."""

    def __init__(self, rng: np.random.Generator, size: int = SIZE):
        side = size + size // 2  # room for random window offsets
        self.size = size
        self.noise = _unit_field(rng, (side, side), NOISE_SMOOTH)
        texture_px = max(1, round(TEXTURE_PX * size / SIZE))
        self.texture = TEXTURE_HU * _unit_field(rng, (side, side), texture_px)

    @staticmethod
    def take(bank: np.ndarray, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        r = int(rng.integers(0, bank.shape[0] - shape[0] + 1))
        c = int(rng.integers(0, bank.shape[1] - shape[1] + 1))
        return bank[r : r + shape[0], c : c + shape[1]]


def head_to_pixel(an: Anatomy, x: float, y: float, size: int = SIZE) -> tuple[float, float]:
    """Image (row, column) of the head-frame point (x, y) mm on a size x size slice of `an.spacing`
    pixels, in pixel units (pixel centres at .5)."""
    cos, sin = math.cos(an.tilt), math.sin(an.tilt)
    row = size / 2 + an.offset[1] / an.spacing + (x * sin + y * cos) / an.spacing
    col = size / 2 + an.offset[0] / an.spacing + (x * cos - y * sin) / an.spacing
    return row, col


class HeadGrid:
    """Per-patient coordinate fields over the head's bounding box (float32, head frame, mm).

    `grain` is the patient's noise (scaled to its noise level) plus parenchymal texture, over the
    banks' full size; each slice adds a window of it.
    """

    def __init__(self, an: Anatomy, banks: Banks):
        self.size = size = banks.size  # a size x size slice of an.spacing pixels
        # Per-pixel noise falls with the pixel count, so that slices averaged down to the paper's
        # 128 px carry about the same noise from any drawing size.
        self.grain = banks.noise * np.float32(an.noise * size / SIZE)
        self.grain += banks.texture
        ps = self.ps = an.spacing
        self.cos, self.sin = math.cos(an.tilt), math.sin(an.tilt)
        self.cy, self.cx = size / 2 + an.offset[1] / ps, size / 2 + an.offset[0] / ps
        grow = an.skull * SKULL_THICKENING + an.scalp + GRID_MARGIN
        rows, cols = self._box(0.0, 0.0, an.a + grow, an.b + grow)
        self.r0, self.c0 = rows.start, cols.start
        dr = (np.arange(rows.start, rows.stop, dtype=np.float32) - self.cy + 0.5) * ps
        dc = (np.arange(cols.start, cols.stop, dtype=np.float32) - self.cx + 0.5) * ps
        self.X = dc[None, :] * self.cos + dr[:, None] * self.sin
        self.Y = -dc[None, :] * self.sin + dr[:, None] * self.cos
        self.box = (rows, cols)
        self.shape = self.X.shape
        self.r = np.hypot(self.X, self.Y)  # distance from the head centre, mm
        R = np.sqrt((self.X / an.a) ** 2 + (self.Y / an.b) ** 2)  # 1 on the inner skull at the widest level
        self.rho = self.r / np.maximum(R, 1e-3)  # inner-skull radius along each pixel's ray, mm
        theta = np.arctan2(self.Y, self.X)
        self.theta = theta
        self.sulcal = _sulcal_pattern(an, theta, self.r)
        for name in ("X", "Y", "r", "rho", "theta"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float32))

    def _box(self, x: float, y: float, hx: float, hy: float) -> tuple[slice, slice]:
        """Pixel slices (whole image) covering the head-frame rectangle centred on (x, y)."""
        row = self.cy + (x * self.sin + y * self.cos) / self.ps
        col = self.cx + (x * self.cos - y * self.sin) / self.ps
        half_c = (hx * abs(self.cos) + hy * abs(self.sin)) / self.ps + 1
        half_r = (hx * abs(self.sin) + hy * abs(self.cos)) / self.ps + 1
        return (
            slice(max(0, int(row - half_r)), min(self.size, int(row + half_r) + 2)),
            slice(max(0, int(col - half_c)), min(self.size, int(col + half_c) + 2)),
        )

    def window(self, x: float, y: float, hx: float, hy: float | None = None) -> tuple[slice, slice] | None:
        """Slices of the grid covering the head-frame rectangle centred on (x, y); None if empty."""
        rows, cols = self._box(x, y, hx, hx if hy is None else hy)
        r0, r1 = max(0, rows.start - self.r0), min(self.shape[0], rows.stop - self.r0)
        c0, c1 = max(0, cols.start - self.c0), min(self.shape[1], cols.stop - self.c0)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)


def _sulcal_pattern(an: Anatomy, theta: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Each pixel's (phase, wobble, period, sulcal depth) as one (4, n) float32 array.

    The pattern depends on the angle only: it is tabulated over ANGLE_BINS angles and each pixel's
    angle is looked up. One array, so that a slice gathers its cortical band in one indexing operation.
    """
    c = SULCI
    p, k = an.phases, an.gyri
    (h1, a1), (h2, a2) = c.wander
    t = (np.arange(ANGLE_BINS) + 0.5) * (2 * math.pi / ANGLE_BINS) - math.pi
    phase = k * t + a1 * np.sin(h1 * t + p[0]) + a2 * np.sin(h2 * t + p[1])  # sulci where it crosses pi
    wobble = np.sin(c.wobble * t + p[2])
    harmonic, base, swing = c.depth_var
    sulcus_depth = (c.depth[0] + c.depth[1] * an.atrophy) * (base + swing * np.sin(harmonic * t + p[3]))
    bins = ((theta.ravel() + math.pi) * (ANGLE_BINS / (2 * math.pi))).astype(np.int32) % ANGLE_BINS
    period = (2 * math.pi / k) * r.ravel()  # arc length between neighbouring sulci, mm
    return np.stack([phase[bins], wobble[bins], period, sulcus_depth[bins]]).astype(np.float32)


@dataclass
class Slice:
    """The slice being drawn: its height, brain scale and the fields the drawing steps share."""

    z: float
    h: float  # z / dome height
    s: float  # brain cross-section scale
    hu: np.ndarray  # (grid shape) float32, drawn in place
    depth: np.ndarray  # mm below the inner table (negative: skull, scalp, air)
    csf_layer: float  # mm of CSF between the inner table and the cortex
    band: np.ndarray | None = None  # flat indices of the cortical band (0 < depth < Sulci.band)
    band_csf: np.ndarray | None = None  # which band pixels are CSF-filled sulci
    ventricles: list | None = None  # (x, y, rx, ry, angle) of lateral ventricle parts on this slice


def fill_ellipse(
    grid: HeadGrid,
    hu: np.ndarray,
    x: float,
    y: float,
    rx: float,
    ry: float,
    value: float,
    angle: float = 0.0,
) -> bool:
    """Set a head-frame ellipse (rotated by `angle`) to `value`; False when it is empty or off the grid."""
    if rx <= 0 or ry <= 0:
        return False
    win = grid.window(x, y, max(rx, ry))
    if win is None:
        return False
    dx, dy = grid.X[win] - x, grid.Y[win] - y
    if angle:
        ca, sa = math.cos(angle), math.sin(angle)
        dx, dy = dx * ca + dy * sa, dy * ca - dx * sa
    mask = (dx / rx) ** 2 + (dy / ry) ** 2 < 1.0
    hu[win][mask] = value
    return True
