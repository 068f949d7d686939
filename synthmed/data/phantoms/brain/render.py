"""A planned patient's slices in Hounsfield units: anatomy, then its haemorrhages, then noise.

Slices of a small matrix are drawn at `render_size(matrix)` and block-averaged in HU (partial
volume), over the same field of view.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synthmed.data.phantoms.brain import anatomy, findings
from synthmed.data.phantoms.brain.anatomy import AIR_HU
from synthmed.data.phantoms.brain.grid import Banks, HeadGrid
from synthmed.data.phantoms.brain.head import check_matrix
from synthmed.data.phantoms.brain.labels import PatientPlan, lesion_on_slice

RENDER_MIN = 256  # smaller matrices are drawn at this size and averaged in HU (partial volume)


def render_size(matrix: int) -> int:
    """The size slices of a `matrix` are drawn at before averaging down to it."""
    return max(check_matrix(matrix), RENDER_MIN)


def render_grid(plan: PatientPlan, banks: Banks) -> HeadGrid:
    """The patient's grid at the banks' drawing size (`render_size(plan.matrix)`), same field of view."""
    an = plan.anatomy
    return HeadGrid(dataclasses.replace(an, spacing=an.spacing * plan.matrix / banks.size), banks)


def render_slice(
    plan: PatientPlan, grid: HeadGrid, k: int, rng: np.random.Generator, painted: dict | None = None
) -> np.ndarray:
    """Slice k of a patient in HU, float32 (grid.size, grid.size).

    `painted`, if given, receives {lesion index: number of blood pixels drawn} for the lesions on the slice.
    """
    an = plan.anatomy
    z = float(plan.z[k])
    sl = anatomy.tissue_slice(an, grid, z)
    anatomy.draw_sulci(an, grid, sl)
    anatomy.draw_midline(an, grid, sl)
    anatomy.draw_deep_structures(an, grid, sl)
    anatomy.draw_skull_base(an, grid, sl)
    for i, les in enumerate(plan.lesions):
        if lesion_on_slice(les, z, an):
            count = findings.draw_lesion(an, grid, sl, les)
            if painted is not None:
                painted[i] = count

    img = np.full((grid.size, grid.size), AIR_HU, dtype=np.float32)
    img[grid.box] = sl.hu
    img += Banks.take(grid.grain, rng, (grid.size, grid.size))
    return img


def render_matrix_slice(plan: PatientPlan, grid: HeadGrid, k: int, rng: np.random.Generator) -> np.ndarray:
    """Slice k in HU at the plan's matrix, float32 (matrix, matrix): drawn on `grid`, block-averaged."""
    hu = render_slice(plan, grid, k, rng)
    f = grid.size // plan.matrix
    if f == 1:
        return hu
    m = plan.matrix
    out = hu.reshape(m, f, grid.size).sum(axis=1)  # rows first: contiguous sums, several times faster
    out = out.reshape(m, m, f).sum(axis=2)
    out *= np.float32(1.0 / (f * f))
    return out


def render_patient(plan: PatientPlan, seed: int = 0) -> np.ndarray:
    """All slices of one patient in HU, float32 (n_slices, matrix, matrix): for tests and figures."""
    rng = np.random.default_rng(seed)
    grid = render_grid(plan, Banks(rng, render_size(plan.matrix)))
    return np.stack([render_matrix_slice(plan, grid, k, rng) for k in range(len(plan.z))])
