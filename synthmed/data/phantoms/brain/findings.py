"""The brain phantoms' findings: each haemorrhage subtype drawn at blood density on a slice.

Which lesions a slice shows is decided by `labels.lesion_on_slice`, the same rule that writes the
labels; here each is given its shape: a biconvex epidural lens, a subdural crescent, subarachnoid
blood in the sulci (and basal cisterns), a lobulated parenchymal haematoma with an oedema rim, and
blood layering in the ventricles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.brain.anatomy import CISTERNS, SYLVIAN_FISSURES
from synthmed.data.phantoms.brain.grid import HeadGrid, Slice, fill_ellipse
from synthmed.data.phantoms.brain.head import AMBIENT, SUPRASELLAR, SYLVIAN, Anatomy, bell
from synthmed.data.phantoms.brain.labels import Lesion

OEDEMA_HU = -12.0  # perihaematomal oedema relative to white matter


@dataclass(frozen=True)
class LesionShapes:
    """How each subtype's cross-section is drawn; zf is the lesion's cross-section factor on the slice."""

    reach_extra: float = 0.5  # epidural, subdural: they reach this far beyond their thickness, mm
    span: tuple[float, float] = (0.6, 0.4)  # angular half-width shrinks off-centre in z: a + b * zf
    subdural: tuple[float, float] = (0.5, 0.5)  # subdural thickness: a + b * zf of its size (nearly even) ...
    subdural_min: float = 0.35  # ... at least this, mm, wherever it is present
    sulcal_depth: tuple[float, float] = (3.0, 12.0)  # subarachnoid blood fills sulci to a + b * fill mm
    lobes: tuple[tuple[int, float], ...] = ((3, 0.16), (5, 0.08))  # haematoma edge: (harmonic, amplitude)
    window: tuple[float, float] = (1.3, 1.0)  # haematoma drawing window: a * radius + rim + b, mm
    parenchyma_from: float = 1.0  # a haematoma stays this far below the inner table, mm
    ventricle_fill: tuple[float, float] = (0.5, 0.5)  # share of a ventricle filled: size * (a + b * zf) ...
    layering: float = 2.0  # ... blood filling the dependent part: y > ry * (1 - layering * fill)


LESION_SHAPES = LesionShapes()


def draw_lesion(an: Anatomy, grid: HeadGrid, sl: Slice, les: Lesion) -> int:
    """Draw one haemorrhage at blood density; returns how many pixels it covers (for consistency tests)."""
    c = LESION_SHAPES
    zf = les.scale(sl.z)
    if les.kind in ("epidural", "subdural", "subarachnoid"):
        if les.kind == "subarachnoid":
            band = sl.band
        else:  # the band a collection of this thickness can reach
            band = np.flatnonzero((sl.depth > 0) & (sl.depth < les.size + c.reach_extra))
        d = sl.depth.ravel()[band]
        dth = grid.theta.ravel()[band] - les.angle
        dth = (dth + math.pi) % (2 * math.pi) - math.pi
        span = les.span * (c.span[0] + c.span[1] * zf)
        q = np.clip(1.0 - (dth / span) ** 2, 0.0, None)
        if les.kind == "epidural":  # biconvex lens: thickest in the middle, sharp ends
            mask = d < les.size * zf * q
        elif les.kind == "subdural":  # crescent: nearly even thickness along a long arc
            mask = d < les.size * (c.subdural[0] + c.subdural[1] * zf) * np.sqrt(q) + c.subdural_min * (q > 0)
        else:  # subarachnoid: blood in the sulci and the surface CSF of a region
            sulci = sl.band_csf & (d < c.sulcal_depth[0] + c.sulcal_depth[1] * les.size)
            mask = (q > 0) & (sulci | (d < sl.csf_layer))
            if les.cisternal:
                draw_cisternal_blood(an, grid, sl, les)
        sl.hu.reshape(-1)[band[mask]] = les.hu
        return int(np.count_nonzero(mask))
    if les.kind == "intraparenchymal":
        radius = les.size * zf
        win = grid.window(les.x, les.y, c.window[0] * radius + les.rim + c.window[1])
        if win is None:
            return 0
        dx, dy = grid.X[win] - les.x, grid.Y[win] - les.y
        r = np.hypot(dx, dy)
        phi = np.arctan2(dy, dx)
        (h1, a1), (h2, a2) = c.lobes
        edge = radius * (1.0 + a1 * np.sin(h1 * phi + les.angle) + a2 * np.sin(h2 * phi - les.angle))
        inside = sl.depth[win] > c.parenchyma_from
        sub = sl.hu[win]
        sub[(r < edge + les.rim) & inside] = an.white + OEDEMA_HU  # oedema: darker than white matter
        blood = (r < edge) & inside
        sub[blood] = les.hu
        return int(np.count_nonzero(blood))
    if les.kind == "intraventricular":
        fill = les.size * (c.ventricle_fill[0] + c.ventricle_fill[1] * zf)
        count = 0
        for x0, y0, rx, ry, ang in sl.ventricles:
            # Blood settles in the dependent (posterior, +y) part of each ventricle; a cast when severe.
            win = grid.window(x0, y0, max(rx, ry))
            if win is None:
                continue
            dx, dy = grid.X[win] - x0, grid.Y[win] - y0
            ca, sa = math.cos(ang), math.sin(ang)
            u, w = dx * ca + dy * sa, dy * ca - dx * sa
            blood = ((u / rx) ** 2 + (w / ry) ** 2 < 1.0) & (dy > ry * (1.0 - c.layering * fill))
            sl.hu[win][blood] = les.hu
            count += int(np.count_nonzero(blood))
        return count
    raise ValueError(f"unknown haemorrhage kind {les.kind!r}")


def draw_cisternal_blood(an: Anatomy, grid: HeadGrid, sl: Slice, les: Lesion) -> None:
    """Aneurysmal subarachnoid blood in the basal cisterns and Sylvian fissures, where CSF would be."""
    hu, ci, sy = sl.hu, CISTERNS, SYLVIAN_FISSURES
    f = bell(sl.h, *SUPRASELLAR)
    if f > 0:
        fill_ellipse(grid, hu, 0.0, ci.suprasellar_y, ci.suprasellar_axes[0] * f, ci.suprasellar_axes[1] * f, les.hu)
    f = bell(sl.h, *AMBIENT)
    if f > 0:
        rx, ry = ci.midbrain_axes[0] * f, ci.midbrain_axes[1] * f
        if fill_ellipse(grid, hu, 0.0, ci.midbrain_y, rx + ci.ambient_rim, ry + ci.ambient_rim, les.hu):
            fill_ellipse(grid, hu, 0.0, ci.midbrain_y, rx, ry, an.grey - ci.midbrain_darker)
    f = bell(sl.h, *SYLVIAN)
    if f > 0:
        length, width, widening = sy.csf
        for side in (-1, 1):
            x0 = side * (an.a * sl.s - sy.inset)
            fill_ellipse(grid, hu, x0, sy.y, length * f, width + widening * an.atrophy, les.hu, angle=side * sy.angle)
