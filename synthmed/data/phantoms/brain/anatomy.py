"""Normal brain anatomy on one axial slice, in Hounsfield units.

Tissue by depth below the inner table (scalp, skull, CSF, cortex, white matter), then the cortical
ribbon folded around sulci, the interhemispheric fissure with the falx, the deep grey nuclei,
Sylvian fissures, ventricles and basal cisterns (with calcified distractors: choroid plexus,
pineal), and the posterior fossa at the skull base. Sizes are in mm in the head frame (x left-right,
y front (-) to back (+)); each structure's numbers live in a named frozen dataclass beside the
function that draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.brain.grid import HeadGrid, Slice, fill_ellipse
from synthmed.data.phantoms.brain.head import (
    AMBIENT,
    ATRIA,
    DEEP_GREY,
    FOURTH_VENTRICLE,
    POSTERIOR_FOSSA,
    SKULL_THICKENING,
    SULCI,
    SUPRASELLAR,
    SYLVIAN,
    THIRD_VENTRICLE,
    Anatomy,
    bell,
    brain_scale,
    ventricle_extent,
)

AIR_HU = -1000.0
LUT_STEPS = 4  # depth profile samples per mm
LUT_REACH = 220.0  # the profile covers depths from -LUT_REACH mm (far outside the head) ...
LUT_DEEP = 120.0  # ... to LUT_DEEP mm inside the inner table, more than any pixel of the grid reaches


@dataclass(frozen=True)
class DepthProfile:
    """HU by depth below the inner table (mm; negative outwards): air, scalp, skull, CSF, cortex, white matter.

    Knots are joined linearly. t is the skull's thickness on the slice.
    """

    air_edge: float = 0.4  # air ends this far outside the scalp ...
    scalp_edge: float = 0.3  # ... and the scalp reaches full density this far inside it
    scalp_hu: float = 45.0
    galea: tuple[float, float] = (0.8, 30.0)  # (mm outside the skull, HU): the scalp's deep layer
    periosteum: tuple[float, float] = (0.2, 40.0)
    outer_surface: tuple[float, float] = (0.1, 1350.0)  # (mm inside the skull's outer surface, HU): outer table ...
    outer_table: tuple[float, float] = (0.65, 1250.0)  # (share of t above the inner surface, HU) ...
    diploe: tuple[float, float] = (0.5, 750.0)  # ... lighter diploe mid-skull ...
    inner_table: tuple[float, float] = (0.35, 1250.0)
    inner_surface: tuple[float, float] = (0.25, 1350.0)  # (mm above the inner surface, HU): ... dense inner table
    csf_from: float = 0.15  # CSF from this far inside the inner table ...
    csf_layer: tuple[float, float] = (0.4, 2.2)  # ... for a + b * atrophy mm
    cortex_edge: float = 0.5  # cortex reaches full grey this far below the CSF layer ...
    cortex: float = 2.6  # ... and stays grey to this depth ...
    white: float = 3.4  # ... then white matter from this depth


DEPTH_PROFILE = DepthProfile()


def _profile(an: Anatomy, skull: float, csf_layer: float) -> np.ndarray:
    """HU by depth below the inner table: air, scalp, skull, CSF, cortex, white matter.

    Entry i is the HU at depth i / LUT_STEPS - LUT_REACH mm.
    """
    c = DEPTH_PROFILE
    t = skull
    knots = [
        (-(t + an.scalp) - c.air_edge, AIR_HU),
        (-(t + an.scalp) + c.scalp_edge, c.scalp_hu),
        (-t - c.galea[0], c.galea[1]),
        (-t - c.periosteum[0], c.periosteum[1]),
        (-t + c.outer_surface[0], c.outer_surface[1]),
        (-c.outer_table[0] * t, c.outer_table[1]),
        (-c.diploe[0] * t, c.diploe[1]),
        (-c.inner_table[0] * t, c.inner_table[1]),
        (-c.inner_surface[0], c.inner_surface[1]),
        (c.csf_from, an.csf),
        (csf_layer, an.csf),
        (csf_layer + c.cortex_edge, an.grey),
        (csf_layer + c.cortex, an.grey),
        (csf_layer + c.white, an.white),
    ]
    xp, fp = (np.asarray(v, dtype=np.float64) for v in zip(*knots, strict=True))
    depths = np.arange(int((LUT_REACH + LUT_DEEP) * LUT_STEPS)) / LUT_STEPS - LUT_REACH
    return np.interp(depths, xp, fp).astype(np.float32)


def tissue_slice(an: Anatomy, grid: HeadGrid, z: float) -> Slice:
    """The slice at height z filled by depth: scalp, skull (thicker where cut obliquely), CSF, cortex, white."""
    s = brain_scale(z, an)
    # The skull looks thicker towards the vertex, where the slice cuts it obliquely.
    mean_radius = 0.5 * (an.a + an.b)
    outer = math.sqrt(max(0.0, 1.0 - (z / (an.c + an.skull)) ** 2)) if z > 0 else 1.0
    skull = min(an.skull * SKULL_THICKENING, max(an.skull, outer * (mean_radius + an.skull) - s * mean_radius))
    csf_layer = DEPTH_PROFILE.csf_layer[0] + DEPTH_PROFILE.csf_layer[1] * an.atrophy
    depth = grid.rho * np.float32(s)
    depth -= grid.r
    pos = depth * np.float32(LUT_STEPS)
    pos += np.float32(LUT_REACH * LUT_STEPS)
    hu = _profile(an, skull, csf_layer)[pos.astype(np.int32)]
    return Slice(z=z, h=z / an.c, s=s, hu=hu, depth=depth, csf_layer=csf_layer)


def draw_sulci(an: Anatomy, grid: HeadGrid, sl: Slice) -> None:
    """Cortical ribbon folded around CSF-filled sulci that bend with depth and drift between slices."""
    c = SULCI
    band = np.flatnonzero((sl.depth > 0) & (sl.depth < c.band))
    d = sl.depth.ravel()[band]
    phase, wobble, period, sulcus_depth = grid.sulcal[:, band]
    bend, frequency = c.bend_height
    u = wobble * (c.bend_depth * d + bend * math.sin(frequency * sl.h + an.phases[4]))  # bend with depth and height
    u += phase
    u += c.drift_depth * d + c.drift_z * sl.z
    u *= 1 / (2 * math.pi)
    u -= np.floor(u)
    u -= 0.5
    dist = np.abs(u, out=u)
    dist *= period  # mm from the nearest sulcus centre line
    sdepth = sulcus_depth * (c.shallow[0] + c.shallow[1] * sl.s)
    width = (c.width[0] + c.width[1] * an.atrophy) * (1.0 - c.narrowing * d / sdepth)  # narrowing inwards
    csf = (dist < width) & (d < sdepth)
    grey = (dist < width + c.lining) & (d < sdepth + c.lining)
    flat = sl.hu.reshape(-1)
    flat[band[grey & (d > sl.csf_layer + c.lining_from)]] = an.grey + c.lining_hu
    flat[band[csf]] = an.csf
    sl.band, sl.band_csf = band, csf


@dataclass(frozen=True)
class Falx:
    """The interhemispheric fissure with the falx, interrupted by the deep structures lower down."""

    unbroken_above: float = 0.5  # above this relative height the fissure runs front to back ...
    gap_from: float = -0.3  # ... below, the deep structures interrupt it over a share of the length:
    gap: tuple[float, float] = (0.42, 0.55)  # (above gap_from, below it), times the half-length
    min_length: float = 2.0  # mm: shorter pieces are left out
    half: tuple[float, float] = (0.6, 1.2)  # CSF half-width, mm: a + b * atrophy
    window_extra: float = 2.5  # drawing window beyond the CSF, mm
    grey: float = 1.8  # grey matter lines the fissure this thick, mm
    falx_half: float = 0.45  # the falx's half-thickness, mm


FALX = Falx()


def draw_midline(an: Anatomy, grid: HeadGrid, sl: Slice) -> None:
    """Interhemispheric fissure with the falx, interrupted by the deep structures lower down."""
    c = FALX
    gap = 0.0 if sl.h > c.unbroken_above else (c.gap[0] if sl.h > c.gap_from else c.gap[1]) * an.b * sl.s
    half = c.half[0] + c.half[1] * an.atrophy
    length = an.b * sl.s
    for y0, y1 in ((-length, -gap), (gap, length)):
        if y1 - y0 < c.min_length:
            continue
        yc, ry = 0.5 * (y0 + y1), 0.5 * (y1 - y0)
        win = grid.window(0.0, yc, half + c.window_extra, ry)
        if win is None:
            continue
        ax = np.abs(grid.X[win])
        strip = (np.abs(grid.Y[win] - yc) < ry) & (sl.depth[win] > 0)
        sub = sl.hu[win]
        sub[strip & (ax < half + c.grey)] = an.grey
        sub[strip & (ax < half)] = an.csf
        sub[strip & (ax < c.falx_half)] = an.falx_hu


@dataclass(frozen=True)
class DeepGrey:
    """Lentiform nuclei and thalami either side of the midline; grey matter, a little darker than cortex."""

    lentiform: tuple[float, float, float, float] = (21.0, -4.0, 6.5, 13.0)  # |x| (times the scale), y, half-axes
    lentiform_darker: float = 1.5  # HU below grey
    lentiform_angle: float = 0.25  # rad, opening forwards
    thalamus: tuple[float, float, float, float] = (10.5, 9.0, 6.5, 9.5)
    thalamus_darker: float = 2.5


@dataclass(frozen=True)
class SylvianFissures:
    inset: float = 14.0  # mm inside the inner table at the slice's widest
    y: float = -6.0
    angle: float = 0.35  # rad
    lining: tuple[float, float, float] = (15.0, 3.5, 1.5)  # grey lining: half-length a, half-width b + c * atrophy
    csf: tuple[float, float, float] = (14.0, 0.8, 1.6)  # CSF inside, likewise


@dataclass(frozen=True)
class Ventricles:
    """Lateral ventricles (body and atria, with choroid plexus), third ventricle with the pineal.

    Sizes are times the patient's ventricle factor v; f is how much of a structure the slice cuts.
    """

    body_width: tuple[float, float] = (2.2, 3.0)  # body half-width: (a + b * f) * v ...
    body_offset: float = 1.2  # ... its centre that much plus this off the midline, mm
    body_y: tuple[float, float] = (-4.0, 2.0)  # y: a - b * f
    body_length: tuple[float, float] = (12.0, 10.0)  # half-length: (a + b * f) * v
    body_angle: float = 0.18  # rad, converging forwards
    atrium_x: tuple[float, float] = (9.0, 4.0)  # |x|: (a + b * f) * v
    atrium_y: tuple[float, float] = (14.0, 6.0)  # y: a + b * f * v
    atrium_axes: tuple[float, float] = (4.5, 8.5)  # times f * v
    atrium_angle: float = 0.35
    choroid_from: float = 0.4  # calcified choroid plexus shows where the atrium is at least this much cut ...
    choroid_dy: float = 1.0  # ... this far behind its centre ...
    choroid_axes: tuple[float, float] = (1.8, 2.2)  # ... this big
    third_y: float = 4.0
    third_width: tuple[float, float] = (1.0, 1.2)  # half-width: (a + b * atrophy) * f * v
    third_length: float = 9.0  # half-length, times f
    pineal_from: float = 0.5  # a calcified pineal shows where the third ventricle is this much cut ...
    pineal_y: float = 16.0
    pineal_radius: float = 1.6


@dataclass(frozen=True)
class Cisterns:
    """The midbrain ringed by the ambient cistern, and the suprasellar cistern in front of it."""

    midbrain_y: float = 8.0
    midbrain_axes: tuple[float, float] = (14.0, 12.0)  # times f
    ambient_rim: float = 1.5  # CSF ring around the midbrain, mm
    midbrain_darker: float = 4.0  # HU below grey
    suprasellar_y: float = -16.0
    suprasellar_axes: tuple[float, float] = (9.0, 7.0)  # times f


DEEP_GREY_NUCLEI = DeepGrey()
SYLVIAN_FISSURES = SylvianFissures()
VENTRICLES = Ventricles()
CISTERNS = Cisterns()


def draw_deep_structures(an: Anatomy, grid: HeadGrid, sl: Slice) -> None:
    """Basal ganglia, thalami, Sylvian fissures, ventricles (with calcifications) and basal cisterns."""
    hu, h, s, v = sl.hu, sl.h, sl.s, an.ventricles
    f = bell(h, *DEEP_GREY)
    if f > 0:
        g = DEEP_GREY_NUCLEI
        for side in (-1, 1):
            x, y, rx, ry = g.lentiform
            angle = side * g.lentiform_angle
            fill_ellipse(grid, hu, side * x * s, y, rx * f, ry * f, an.grey - g.lentiform_darker, angle=angle)
            x, y, rx, ry = g.thalamus
            fill_ellipse(grid, hu, side * x * s, y, rx * f, ry * f, an.grey - g.thalamus_darker)
    f = bell(h, *SYLVIAN)
    if f > 0:
        c = SYLVIAN_FISSURES
        for side in (-1, 1):
            x0 = side * (an.a * s - c.inset)
            length, width, widening = c.lining
            fill_ellipse(grid, hu, x0, c.y, length * f, width + widening * an.atrophy, an.grey, angle=side * c.angle)
            length, width, widening = c.csf
            fill_ellipse(grid, hu, x0, c.y, length * f, width + widening * an.atrophy, an.csf, angle=side * c.angle)
    vc = VENTRICLES
    sl.ventricles = []
    f = ventricle_extent(sl.z, an)
    if f > 0:
        for side in (-1, 1):
            half_width = (vc.body_width[0] + vc.body_width[1] * f) * v
            part = (
                side * (half_width + vc.body_offset),
                vc.body_y[0] - vc.body_y[1] * f,
                half_width,
                (vc.body_length[0] + vc.body_length[1] * f) * v,
                -side * vc.body_angle,
            )
            if fill_ellipse(grid, hu, *part[:4], an.csf, angle=part[4]):
                sl.ventricles.append(part)
    fa = bell(h, *ATRIA)
    if fa > 0:
        for side in (-1, 1):
            part = (
                side * (vc.atrium_x[0] + vc.atrium_x[1] * fa) * v,
                vc.atrium_y[0] + vc.atrium_y[1] * fa * v,
                vc.atrium_axes[0] * fa * v,
                vc.atrium_axes[1] * fa * v,
                side * vc.atrium_angle,
            )
            if fill_ellipse(grid, hu, *part[:4], an.csf, angle=part[4]):
                sl.ventricles.append(part)
            if an.choroid_hu and fa > vc.choroid_from:
                fill_ellipse(grid, hu, part[0], part[1] + vc.choroid_dy, *vc.choroid_axes, an.choroid_hu)
    f3 = bell(h, *THIRD_VENTRICLE)
    if f3 > 0:
        width = (vc.third_width[0] + vc.third_width[1] * an.atrophy) * f3 * v
        fill_ellipse(grid, hu, 0.0, vc.third_y, width, vc.third_length * f3, an.csf)
        if an.pineal_hu and f3 > vc.pineal_from:
            fill_ellipse(grid, hu, 0.0, vc.pineal_y, vc.pineal_radius, vc.pineal_radius, an.pineal_hu)
    ci = CISTERNS
    f = bell(h, *AMBIENT)
    if f > 0:  # midbrain ringed by the ambient cistern
        rx, ry = ci.midbrain_axes[0] * f, ci.midbrain_axes[1] * f
        fill_ellipse(grid, hu, 0.0, ci.midbrain_y, rx + ci.ambient_rim, ry + ci.ambient_rim, an.csf)
        fill_ellipse(grid, hu, 0.0, ci.midbrain_y, rx, ry, an.grey - ci.midbrain_darker)
    f = bell(h, *SUPRASELLAR)
    if f > 0:
        fill_ellipse(grid, hu, 0.0, ci.suprasellar_y, ci.suprasellar_axes[0] * f, ci.suprasellar_axes[1] * f, an.csf)


@dataclass(frozen=True)
class PosteriorFossa:
    """Petrous ridges, clivus, pons with the prepontine cistern, fourth ventricle."""

    petrous_x: float = 0.55  # |x|, times a and the scale
    petrous_y: float = 0.12  # times b
    petrous_axes: tuple[float, float, float, float] = (22.0, 4.0, 5.0, 1.5)  # half-axes a * f + b, c * f + d
    petrous_angle: float = 0.6  # rad: they run from the ears towards the clivus
    bone_hu: float = 1150.0
    cistern_y: float = 0.26  # prepontine cistern, times b
    cistern_axes: tuple[float, float, float, float] = (13.0, 2.0, 11.0, 2.0)
    pons_y: float = 0.28  # times b
    pons_axes: tuple[float, float, float, float] = (12.0, 1.0, 10.0, 1.0)
    pons_darker: float = 5.0  # HU below grey
    fourth_behind: float = 9.0  # fourth ventricle behind the pons' centre, mm
    fourth_axes: tuple[float, float] = (5.5, 3.0)  # times its f
    clivus_y: float = -0.55  # times b and the scale
    clivus_axes: tuple[float, float] = (14.0, 9.0)  # times f
    clivus_hu: float = 1100.0


POSTERIOR = PosteriorFossa()


def draw_skull_base(an: Anatomy, grid: HeadGrid, sl: Slice) -> None:
    """Posterior fossa: petrous ridges, clivus, pons with the prepontine cistern, fourth ventricle."""
    c, hu = POSTERIOR, sl.hu
    f = bell(sl.h, *POSTERIOR_FOSSA)
    if f <= 0:
        return

    def axes(k: tuple[float, float, float, float]) -> tuple[float, float]:
        return k[0] * f + k[1], k[2] * f + k[3]

    for side in (-1, 1):  # petrous ridges run from the ears towards the clivus
        x = side * c.petrous_x * an.a * sl.s
        fill_ellipse(grid, hu, x, c.petrous_y * an.b, *axes(c.petrous_axes), c.bone_hu, angle=side * c.petrous_angle)
    fill_ellipse(grid, hu, 0.0, c.cistern_y * an.b, *axes(c.cistern_axes), an.csf)
    fill_ellipse(grid, hu, 0.0, c.pons_y * an.b, *axes(c.pons_axes), an.grey - c.pons_darker)
    f4 = bell(sl.h, *FOURTH_VENTRICLE)
    if f4 > 0:
        y = c.pons_y * an.b + c.fourth_behind
        fill_ellipse(grid, hu, 0.0, y, c.fourth_axes[0] * f4, c.fourth_axes[1] * f4, an.csf)
    fill_ellipse(grid, hu, 0.0, c.clivus_y * an.b * sl.s, c.clivus_axes[0] * f, c.clivus_axes[1] * f, c.clivus_hu)
