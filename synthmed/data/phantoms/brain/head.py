"""The brain phantoms' head model, before any pixel: each patient's head and what each height cuts.

A patient's `Anatomy` (sizes in mm, densities in HU) is drawn once; slices are planned along z, and
the label rule and the renderer both ask this module which structures a slice at height z shows,
so that they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SIZE = 512  # RSNA slices are 512x512
SKULL_THICKENING = 1.8  # the skull looks up to this much thicker near the vertex, where slices cut it obliquely


def check_matrix(matrix: int) -> int:
    """A slice matrix the phantom renders: 512 divided by a power of two, at least 64."""
    if not (isinstance(matrix, int) and 64 <= matrix <= SIZE and SIZE % matrix == 0 and matrix & (matrix - 1) == 0):
        raise ValueError(f"matrix must be 512 divided by a power of two and at least 64, got {matrix!r}")
    return matrix


@dataclass(frozen=True)
class Anatomy:
    """One patient's head, in mm and HU. The head frame has x to the left-right, y front (-) to back (+)."""

    a: float  # inner-skull semi-axis left-right at the widest level
    b: float  # inner-skull semi-axis front-back at the widest level
    c: float  # dome height above the widest level
    skull: float  # skull thickness
    scalp: float
    offset: tuple[float, float]  # head centre from the image centre (x, y)
    tilt: float  # in-plane rotation, rad
    spacing: float  # pixel spacing
    grey: float
    white: float
    csf: float
    atrophy: float  # 0..1: wider sulci, thicker CSF layer, bigger ventricles
    ventricles: float  # ventricle size factor
    gyri: int  # number of sulci around the head
    phases: tuple[float, float, float, float, float]
    noise: float  # noise standard deviation, HU
    choroid_hu: float  # choroid plexus calcification (0: none)
    pineal_hu: float
    falx_hu: float  # the falx is faintly dense; calcified in some patients


@dataclass(frozen=True)
class HeadVariation:
    """How heads vary between patients (uniform ranges unless said otherwise)."""

    atrophy: tuple[float, float] = (1.6, 4.0)  # Beta(a, b): most heads young, some atrophic
    grey: tuple[float, float] = (34.0, 42.0)  # grey matter, HU
    a: tuple[float, float] = (62.0, 72.0)  # inner-skull semi-axes, mm
    b: tuple[float, float] = (78.0, 90.0)
    c: tuple[float, float] = (66.0, 76.0)
    skull: tuple[float, float] = (5.0, 8.5)  # mm
    scalp: tuple[float, float] = (3.0, 6.5)
    offset_sd: tuple[float, float] = (4.0, 6.0)  # head centre off the image centre, mm (normal)
    tilt_sd: float = 0.07  # in-plane rotation, rad (normal)
    spacing: tuple[float, float] = (0.42, 0.50)  # pixel spacing at 512 px, mm
    white_below_grey: tuple[float, float] = (7.0, 12.0)  # grey-white contrast, HU
    csf: tuple[float, float] = (2.0, 10.0)  # HU
    ventricles: tuple[float, float] = (0.8, 1.1)  # ventricle size factor ...
    ventricles_atrophy: float = 0.9  # ... plus this much times the atrophy
    gyri: tuple[int, int] = (22, 32)  # sulci around the head [low, high)
    noise: tuple[float, float] = (2.5, 5.0)  # HU (sd) at 512 px
    p_choroid: float = 0.5  # calcified choroid plexus ...
    choroid: tuple[float, float] = (120.0, 400.0)  # ... of this density, HU
    p_pineal: float = 0.35  # calcified pineal gland
    pineal: tuple[float, float] = (120.0, 300.0)
    p_falx: float = 0.1  # a calcified falx ...
    falx_calcified: tuple[float, float] = (60.0, 250.0)
    falx: tuple[float, float] = (38.0, 52.0)  # ... else a faintly dense one


HEAD_VARIATION = HeadVariation()


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    c = HEAD_VARIATION
    atrophy = float(rng.beta(*c.atrophy))
    grey = float(rng.uniform(*c.grey))
    return Anatomy(
        a=float(rng.uniform(*c.a)),
        b=float(rng.uniform(*c.b)),
        c=float(rng.uniform(*c.c)),
        skull=float(rng.uniform(*c.skull)),
        scalp=float(rng.uniform(*c.scalp)),
        offset=(float(rng.normal(0.0, c.offset_sd[0])), float(rng.normal(0.0, c.offset_sd[1]))),
        tilt=float(rng.normal(0.0, c.tilt_sd)),
        spacing=float(rng.uniform(*c.spacing)),
        grey=grey,
        white=grey - float(rng.uniform(*c.white_below_grey)),
        csf=float(rng.uniform(*c.csf)),
        atrophy=atrophy,
        ventricles=float(rng.uniform(*c.ventricles) + c.ventricles_atrophy * atrophy),
        gyri=int(rng.integers(*c.gyri)),
        phases=tuple(float(p) for p in rng.uniform(0.0, 2 * math.pi, size=5)),
        noise=float(rng.uniform(*c.noise)),
        choroid_hu=float(rng.uniform(*c.choroid)) if rng.random() < c.p_choroid else 0.0,
        pineal_hu=float(rng.uniform(*c.pineal)) if rng.random() < c.p_pineal else 0.0,
        falx_hu=float(rng.uniform(*c.falx_calcified)) if rng.random() < c.p_falx else float(rng.uniform(*c.falx)),
    )


@dataclass(frozen=True)
class Sulci:
    """The cortex folded around CSF-filled sulci: their pattern around the head and their shape in depth.

    The pattern depends on the angle around the head only (tabulated once per patient); sulci bend
    with depth and drift between slices, and atrophy widens and deepens them.
    """

    band: float = 17.5  # mm below the inner table that sulci (with their grey-matter lining) reach
    wander: tuple[tuple[int, float], ...] = ((3, 2.2), (7, 1.4))  # (harmonic, amplitude, rad) of the pattern's wander
    wobble: int = 5  # harmonic of the sideways bend with depth
    depth: tuple[float, float] = (9.0, 4.0)  # sulcal depth, mm: a + b * atrophy ...
    depth_var: tuple[int, float, float] = (11, 0.85, 0.3)  # ... times b + c * sin(harmonic * angle); < band - lining
    bend_depth: float = 0.3  # sideways bend per mm of depth ...
    bend_height: tuple[float, float] = (1.3, 3.1)  # ... plus amplitude * sin(frequency * h): sulci drift between slices
    drift_depth: float = 0.05  # the pattern also turns by this per mm of depth ...
    drift_z: float = 0.09  # ... and per mm of z
    shallow: tuple[float, float] = (0.6, 0.4)  # sulci are shallower on small cross-sections: a + b * scale
    width: tuple[float, float] = (0.5, 1.3)  # half-width at the surface, mm: a + b * atrophy ...
    narrowing: float = 0.5  # ... narrowing by this share at their depth
    lining: float = 2.4  # grey matter lines each sulcus this thick, mm
    lining_from: float = 0.5  # ... from this far below the CSF layer
    lining_hu: float = 1.0  # the lining is this much denser than grey matter elsewhere


SULCI = Sulci()

# Relative heights h = z / c over which each structure shows (`bell` rises and falls between them).
LATERAL_VENTRICLES = (-0.12, 0.52)
ATRIA = (-0.10, 0.28)
THIRD_VENTRICLE = (-0.34, -0.02)
FOURTH_VENTRICLE = (-0.62, -0.38)
DEEP_GREY = (-0.24, 0.22)
SYLVIAN = (-0.36, 0.16)
SUPRASELLAR = (-0.44, -0.20)
AMBIENT = (-0.36, -0.10)
POSTERIOR_FOSSA = (-0.80, -0.34)
SKULL_BASE_FLATTENING = 1.35  # below the widest level the skull narrows over this many dome heights


def brain_scale(z: float, an: Anatomy) -> float:
    """Inner-skull cross-section scale at height z (1 at the widest level)."""
    h = z / an.c if z >= 0 else z / (SKULL_BASE_FLATTENING * an.c)  # the skull base is flatter than the dome
    return math.sqrt(max(0.0, 1.0 - h * h))


def bell(h: float, lo: float, hi: float) -> float:
    """0 outside [lo, hi], rising to 1 in the middle: how much of a structure a slice cuts."""
    if not lo < h < hi:
        return 0.0
    return math.sin(math.pi * (h - lo) / (hi - lo)) ** 0.7


def ventricle_extent(z: float, an: Anatomy) -> float:
    return bell(z / an.c, *LATERAL_VENTRICLES)
