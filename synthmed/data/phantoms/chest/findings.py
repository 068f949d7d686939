"""The chest phantoms' findings: how strongly each label shows, and the sign each finding draws.

Each positive label gets a severity (0: no sign, 0.3-0.5 subtle, 0.75-1 strong) and a row of
uniform draws that place its sign; `severities` turns labels and draws into severities. The sign
functions take the severity s and the draws d (d[0] and d[1] went into the severity). Findings that
move anatomy (cardiomegaly, a wide mediastinum, atelectatic volume loss, engorged vessels) are drawn
with it, in `anatomy`; support devices are hardware, in `devices`.

Every number lives in a named frozen dataclass beside the function that draws it; operations keep
their order, so that a seed writes byte-identical images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.chest.anatomy import (
    RIB,
    RIB_CAGE,
    LateralChest,
    Lung,
    Patient,
    Thorax,
    rib_phase,
    rib_profile,
)
from synthmed.data.phantoms.chest.film import Film, ellipse, inside, side_of, texture_at
from synthmed.data.phantoms.chest.labels import LABEL_INDEX
from synthmed.data.phantoms.chest.textures import N_VESSEL_TEXTURES, texture_banks

P_STRONG = 0.5  # a positive label's sign is strong with this probability, else subtle
P_UNCERTAIN_SHOWN = 0.5  # an uncertain label's sign is drawn (subtle) with this probability
STRONG = (0.75, 0.25)  # a strong sign's severity: STRONG[0] + STRONG[1] * a uniform draw
SUBTLE = (0.3, 0.2)  # a subtle sign's, likewise: 0.3 to 0.5
STRONG_FROM = 0.7  # signs with a strong variant draw it from this severity up (between the two ranges)
SEVERITY_SPAN = 0.7  # from the faintest severity (SUBTLE[0]) to 1: (s - 0.3) / 0.7 grades a sign 0..1


def severities(labels: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Per finding: 0 (no sign), subtle (0.3-0.5) or strong (0.75-1.0), from the label and draws."""
    strong = STRONG[0] + STRONG[1] * draws[:, 1]
    subtle = SUBTLE[0] + SUBTLE[1] * draws[:, 1]
    sev = np.where(draws[:, 0] < P_STRONG, strong, subtle)
    sev = np.where(labels == 1.0, sev, 0.0)
    sev = np.where((labels == -1.0) & (draws[:, 0] < P_UNCERTAIN_SHOWN), subtle, sev)
    sev[LABEL_INDEX["No Finding"]] = 0.0
    return sev


# ---------------------------------------------------------------------------------------------
# Frontal film.


@dataclass(frozen=True)
class LungPlacement:
    """Where in a lung a focal sign sits: across it from a draw, and in a band of v (its zone)."""

    across: tuple[float, float] = (-0.3, 0.75)  # outwards from the lung's centre, in half-widths: a + b * draw
    zone: tuple[float, float] = (-0.5, 0.35)  # default band of v


@dataclass(frozen=True)
class Effusion:
    """Fluid at the lung base with a meniscus rising laterally; subtle = a blunted costophrenic angle."""

    p_bilateral: float = 0.35
    height: tuple[float, float] = (0.05, 0.5)  # fluid height above the costophrenic level: a + b * grade ...
    height_jitter: tuple[float, float] = (0.75, 0.25)  # ... times a + b * draw
    meniscus_from: float = 0.3  # the meniscus rises from this far inside the lung's centre ...
    meniscus_to: float = 1.3  # ... to this far out (in half-widths) ...
    meniscus: float = 0.16  # ... by this much times the square of that
    edge: float = 18.0  # fluid surface sharpness
    reach: tuple[float, float] = (1.03, 1.04)  # fluid fills a little beyond the lung's ellipse
    sharp: float = 6.0
    density: float = 0.08  # over the air it displaces


@dataclass(frozen=True)
class Pneumothorax:
    """Air without markings between the chest wall and a collapsed lung, with a thin pleural line."""

    collapse: tuple[float, float] = (0.1, 0.3)  # share of the lung collapsed: a + b * grade ...
    collapse_jitter: tuple[float, float] = (0.75, 0.25)  # ... times a + b * draw
    medial: float = 0.9  # the lung shrinks towards the hilum: its centre moves in by this share of the collapse
    flatten: float = 0.8  # its height shrinks by this share of the collapse
    gap_edge: float = 30.0
    air: float = 0.1  # density the pleural air removes beyond the lung's own
    line_below: float = 0.3  # the pleural line's window reaches this many half-heights below the lung's centre
    line_sharp: float = 110.0  # line thinness, times the lung's remaining share
    open_lateral: float = 4.0  # the line shows on the lateral side ...
    open_lateral_from: float = 0.5
    open_apex: float = 0.4  # ... and over the apex, above this many half-heights from the centre
    open_apex_edge: float = 10.0
    line: float = 0.16  # line density
    chest_sharp: float = 8.0


@dataclass(frozen=True)
class LungOpacity:
    """One or two large, ill-defined, mottled hazy patches."""

    p_second: float = 0.4
    zone: tuple[float, float] = (-0.3, 0.3)
    radius: tuple[float, float] = (0.16, 0.1)  # a + b * draw
    aspect: float = 1.1  # width over height
    mottle: float = 0.5  # texture: mottle bank (0..1) plus this
    mottle_offsets: int = 250  # the mottle window starts within this many pixels
    density: float = 0.3  # per unit severity
    sharp: float = 1.5


@dataclass(frozen=True)
class LungLesion:
    """A lobulated mass (strong, sometimes) or a sharp round nodule."""

    p_mass: float = 0.6  # a strong lung lesion is a mass with this probability, else a nodule
    zone: tuple[float, float] = (-0.55, 0.25)
    mass_radius: tuple[float, float] = (0.06, 0.03)  # a + b * draw
    lobes: int = 3  # a mass is this many overlapping balls ...
    lobe_offset: float = 0.5  # ... each this many radii off its centre
    lobe_aspect: float = 0.9
    mass_density: float = 0.2
    mass_sharp: float = 8.0
    dome: float = 0.4  # masses and nodules are balls: denser in the middle
    nodule_radius: tuple[float, float, float] = (0.025, 0.045, 0.01)  # a + b * grade + c * draw
    nodule_density: tuple[float, float] = (0.15, 0.25)  # a + b * severity
    nodule_sharp: float = 10.0


@dataclass(frozen=True)
class Edema:
    """Bilateral perihilar (bat-wing) haze; Kerley B lines at the bases when strong."""

    haze_u: float = 0.24  # haze centres either side of the midline ...
    haze_v: float = -0.05
    haze_axes: tuple[float, float] = (0.32, 0.4)  # ... and half-axes
    haze: float = 0.2  # density per unit severity
    haze_sharp: float = 1.0
    kerley_lines: int = 5  # per lung
    kerley_above_base: float = 0.1  # the lowest line above the costophrenic level ...
    kerley_spacing: float = 0.035  # ... each next one higher by this ...
    kerley_jitter: float = 0.02  # ... plus up to this
    kerley_u: float = 0.8  # lines end this many half-widths out from the lung's centre ...
    kerley_u_jitter: float = 0.03  # ... less up to this
    kerley_axes: tuple[float, float] = (0.045, 0.006)  # short horizontal lines
    kerley: float = 0.15
    kerley_sharp: float = 2.0


@dataclass(frozen=True)
class Consolidation:
    """A dense lobar opacity with a sharp fissure edge and air bronchograms."""

    p_lower: float = 0.65  # a lower lobe, else an upper one
    lower_fissure: tuple[float, float] = (0.1, 0.25)  # fissure below the lung's centre, half-heights: a + b * draw
    upper_fissure: tuple[float, float] = (0.05, 0.2)  # fissure above it
    fissure_edge: float = 40.0
    lobe_centre: float = 0.3  # the opacity's centre beyond the fissure, half-heights
    drift: float = 0.1  # its centre moves sideways by up to +-drift / 2
    width: tuple[float, float] = (0.8, 0.4)  # half-width over the lung's: a + b * severity
    height: float = 0.5  # half-height over the lung's
    sharp: float = 2.0
    bronchi_texture: int = 3  # air bronchograms: the patient's vessel texture shifted by this many
    density: float = 0.45  # per unit severity ...
    bronchograms: float = 0.25  # ... less this where bronchi run


@dataclass(frozen=True)
class Pneumonia:
    """A cluster of fluffy patchy (acinar) opacities in one zone."""

    zone: tuple[float, float] = (-0.35, 0.3)
    spread: tuple[float, float] = (0.1, 0.08)  # cluster radius: a + b * severity
    patches: tuple[int, int] = (5, 5)  # a + floor(b * draw) patches
    steps: tuple[float, float, float] = (0.618, 0.382, 0.27)  # quasi-random steps of angle, radius, size per patch
    radius: tuple[float, float] = (0.04, 0.035)  # patch radius a + b * step ...
    growth: tuple[float, float] = (0.8, 0.5)  # ... times a + b * severity
    density: float = 0.24  # per unit severity
    sharp: float = 1.6


@dataclass(frozen=True)
class Atelectasis:
    """A plate-like band in a lower zone (its volume loss is drawn with the anatomy)."""

    drift: float = 0.6  # band centre within +-drift / 2 half-widths of the lung's centre
    above_base: tuple[float, float] = (0.22, 0.2)  # a + b * draw above the costophrenic level
    tilt: float = 0.5  # within +-tilt / 2 rad of horizontal
    half_length: tuple[float, float] = (0.18, 0.08)  # a + b * draw
    half_thick: tuple[float, float] = (0.015, 0.025)  # a + b * severity
    density: float = 0.35
    sharp: float = 3.0


@dataclass(frozen=True)
class PleuralOther:
    """Thickening along the lateral chest wall; a calcified plaque when strong."""

    rim: tuple[float, float] = (0.93, 0.12)  # thickening inside the lung's ellipse from f = a - b * severity
    edge: float = 30.0
    place: tuple[float, float] = (-0.5, 0.8)  # centre: a + b * draw half-heights from the lung's centre
    span: tuple[float, float] = (0.25, 0.3)  # half-length: a + b * draw half-heights
    lateral_edge: float = 8.0
    span_edge: float = 10.0
    density: float = 0.3
    mask_floor: float = 0.3  # it shows over the heart's shadow too, at least this much
    plaque_u: float = 0.85  # plaque: this many half-widths out from the lung's centre
    plaque_axes: tuple[float, float] = (0.02, 0.05)
    plaque: float = 0.45
    plaque_sharp: float = 6.0


@dataclass(frozen=True)
class Fracture:
    """Rib fractures at full resolution: a lucent gap across the rib, displaced when strong; 1-3 ribs."""

    u: tuple[float, float] = (0.35, 0.25)  # |u| of the break: a + b * draw
    v: tuple[float, float] = (-0.45, 0.5)  # v of the first broken rib, before snapping to its centre line
    extra_ribs: int = 3  # strong: up to this many more ribs below
    window: tuple[float, float] = (0.1, 0.08)  # drawing window half-sizes (u, v)
    gap: tuple[float, float] = (0.004, 0.008)  # gap half-width: a + b * severity
    gap_edge: float = 300.0
    displacement: float = 0.25  # strong: the rib's ends step apart by up to this many rib spacings
    near: tuple[float, float] = (0.09, 0.07)  # the break's effect fades out beyond these half-sizes
    near_edge: float = 30.0


LUNG_PLACEMENT = LungPlacement()
EFFUSION = Effusion()
PNEUMOTHORAX = Pneumothorax()
LUNG_OPACITY = LungOpacity()
LUNG_LESION = LungLesion()
EDEMA = Edema()
CONSOLIDATION = Consolidation()
PNEUMONIA = Pneumonia()
ATELECTASIS = Atelectasis()
PLEURAL_OTHER = PleuralOther()
FRACTURE = Fracture()


def effusion(film: Film, th: Thorax, air, no_markings, s: float, d: np.ndarray) -> None:
    """Fluid at the lung base with a meniscus rising laterally; subtle = a blunted costophrenic angle."""
    if s <= 0:
        return
    c = EFFUSION
    lungs = th.lungs if d[2] < c.p_bilateral else [th.lungs[int(d[3] < 0.5)]]
    for lung in lungs:
        if lung.win is None:
            continue
        uu, vv = film.u[lung.win], film.v[lung.win]
        height = (c.height[0] + c.height[1] * (s - SUBTLE[0]) / SEVERITY_SPAN) * (
            c.height_jitter[0] + c.height_jitter[1] * d[4]
        )
        lateral = np.clip(lung.side * (uu - lung.cu) * (1.0 / lung.a) + c.meniscus_from, 0.0, c.meniscus_to)
        level = th.base - height - c.meniscus * lateral * lateral
        fluid = np.clip((vv - level) * c.edge, 0.0, 1.0) * inside(
            ellipse(uu, vv, lung.cu, lung.cv, lung.a * c.reach[0], lung.b * c.reach[1]), c.sharp
        )
        air[lung.win] *= 1.0 - fluid
        no_markings[lung.win] = np.maximum(no_markings[lung.win], fluid)
        film.D[lung.win] += c.density * fluid


def pneumothorax(film: Film, th: Thorax, no_markings, s: float, d: np.ndarray) -> tuple | None:
    """Air without lung markings between the chest wall and the collapsed lung, whose edge (returned
    as (lung, centre u, centre v, half-axes, collapse)) gets a thin pleural line at full resolution."""
    if s <= 0:
        return None
    lung = th.lungs[int(d[2] < 0.5)]
    if lung.win is None:
        return None
    c = PNEUMOTHORAX
    collapse = (c.collapse[0] + c.collapse[1] * (s - SUBTLE[0]) / SEVERITY_SPAN) * (
        c.collapse_jitter[0] + c.collapse_jitter[1] * d[3]
    )
    # the lung shrinks towards the hilum (medial and down), opening a gap at the apex and lateral wall
    edge = (
        lung.cu - lung.side * lung.a * collapse * c.medial,
        lung.cv + lung.b * collapse,
        lung.a * (1.0 - collapse),
        lung.b * (1.0 - c.flatten * collapse),
    )
    f2 = ellipse(film.u[lung.win], film.v[lung.win], *edge)
    outside = np.clip((f2 - 1.0) * c.gap_edge, 0.0, 1.0) * lung.mask[lung.win]
    no_markings[lung.win] = np.maximum(no_markings[lung.win], outside)
    film.D[lung.win] -= c.air * outside
    return lung, edge, collapse


def pleural_line(film: Film, collapsed) -> None:
    c = PNEUMOTHORAX
    lung, edge, collapse = collapsed
    cu, cv, ru, rv = edge
    win = film.box(lung.cu - lung.a, lung.cu + lung.a, lung.cv - lung.b, cv + c.line_below * rv)
    if win is None:
        return
    uu, vv = film.u[win], film.v[win]
    f2 = ellipse(uu, vv, cu, cv, ru, rv)
    in_chest = inside(ellipse(uu, vv, lung.cu, lung.cv, lung.a, lung.b), c.chest_sharp)
    line = np.clip(1.0 - np.abs(f2 - 1.0) * (c.line_sharp * (1.0 - collapse)), 0.0, 1.0)
    # only where air separates the lung from the chest wall: the lateral side and the apex
    lateral = np.clip(lung.side * (uu - cu) * (c.open_lateral / ru) + c.open_lateral_from, 0.0, 1.0)
    open_side = lateral + np.clip((cv - c.open_apex * rv - vv) * c.open_apex_edge, 0, 1)
    film.D[win] += c.line * line * in_chest * np.clip(open_side, 0.0, 1.0)


def lung_point(th: Thorax, d0: float, d1: float, d2: float, zone=LUNG_PLACEMENT.zone) -> tuple[Lung, float, float]:
    lung = th.lungs[int(d0 < 0.5)]
    cu = lung.cu + lung.side * lung.a * (LUNG_PLACEMENT.across[0] + LUNG_PLACEMENT.across[1] * d1)
    return lung, cu, zone[0] + (zone[1] - zone[0]) * d2


def parenchymal_findings(film: Film, th: Thorax, p: Patient, sev: np.ndarray, draws: np.ndarray) -> None:
    """The large, smooth lung findings, drawn on the half-resolution film."""
    banks = texture_banks()
    u, v = film.u, film.v

    # Lung opacity: one or two large, ill-defined, mottled hazy patches.
    s, d = sev[LABEL_INDEX["Lung Opacity"]], draws[LABEL_INDEX["Lung Opacity"]]
    if s > 0:
        c = LUNG_OPACITY
        for k in range(1 + int(d[9] < c.p_second)):
            _, cu, cv = lung_point(th, d[2 + 3 * k], d[3 + 3 * k], d[4 + 3 * k], zone=c.zone)
            r = c.radius[0] + c.radius[1] * d[8]
            tex = c.mottle + banks.mottle[int(d[2] * c.mottle_offsets) :, int(d[3] * c.mottle_offsets) :]
            film.ellipse(cu, cv, r * c.aspect, r, c.density * s, sharp=c.sharp, dome=1.0, mask=th.lung_all, texture=tex)

    # Lung lesion, strong variant: a lobulated mass (small nodules are drawn at full resolution).
    s, d = sev[LABEL_INDEX["Lung Lesion"]], draws[LABEL_INDEX["Lung Lesion"]]
    c = LUNG_LESION
    if s >= STRONG_FROM and d[5] < c.p_mass:
        _, cu, cv = lung_point(th, d[2], d[3], d[4], zone=c.zone)
        r = c.mass_radius[0] + c.mass_radius[1] * d[9]
        for k in range(c.lobes):
            a = d[6 + k] * 2 * math.pi
            lu, lv = cu + c.lobe_offset * r * math.cos(a), cv + c.lobe_offset * r * math.sin(a)
            film.ellipse(lu, lv, r, c.lobe_aspect * r, c.mass_density, sharp=c.mass_sharp, dome=c.dome)

    # Edema: bilateral perihilar (bat-wing) haze (Kerley lines are drawn at full resolution).
    s = sev[LABEL_INDEX["Edema"]]
    if s > 0:
        c = EDEMA
        for lung in th.lungs:
            cu = th.mid + lung.side * c.haze_u
            film.ellipse(cu, c.haze_v, *c.haze_axes, c.haze * s, sharp=c.haze_sharp, dome=1.0, mask=th.lung_all)

    # Consolidation: a dense lobar opacity with a sharp fissure edge and air bronchograms.
    s, d = sev[LABEL_INDEX["Consolidation"]], draws[LABEL_INDEX["Consolidation"]]
    if s > 0:
        c = CONSOLIDATION
        lung = th.lungs[int(d[2] < 0.5)]
        if lung.win is not None:
            uu, vv = u[lung.win], v[lung.win]
            lower = d[3] < c.p_lower
            if lower:
                fissure = lung.cv + lung.b * (c.lower_fissure[0] + c.lower_fissure[1] * d[4])
                edge = np.clip((vv - fissure) * c.fissure_edge, 0.0, 1.0)
            else:
                fissure = lung.cv - lung.b * (c.upper_fissure[0] + c.upper_fissure[1] * d[4])
                edge = np.clip((fissure - vv) * c.fissure_edge, 0.0, 1.0)
            centre_v = fissure + (c.lobe_centre if lower else -c.lobe_centre) * lung.b
            centre_u = lung.cu + c.drift * (d[5] - 0.5)
            extent = inside(
                ellipse(uu, vv, centre_u, centre_v, lung.a * (c.width[0] + c.width[1] * s), lung.b * c.height), c.sharp
            )
            texture = banks.vessels_half[(p.texture + c.bronchi_texture) % N_VESSEL_TEXTURES]
            bronchi = texture_at(texture, uu - th.mid, vv)
            film.D[lung.win] += edge * extent * lung.mask[lung.win] * (c.density * s - c.bronchograms * s * bronchi)

    # Pneumonia: a cluster of fluffy patchy (acinar) opacities in one zone.
    s, d = sev[LABEL_INDEX["Pneumonia"]], draws[LABEL_INDEX["Pneumonia"]]
    if s > 0:
        c = PNEUMONIA
        _, cu, cv = lung_point(th, d[2], d[3], d[4], zone=c.zone)
        spread = c.spread[0] + c.spread[1] * s
        step_a, step_r, step_size = c.steps
        for k in range(c.patches[0] + int(d[5] * c.patches[1])):
            a, rr = (d[6] + k * step_a) * 2 * math.pi, spread * math.sqrt((d[7] + k * step_r) % 1.0)
            r = (c.radius[0] + c.radius[1] * ((d[8] + k * step_size) % 1.0)) * (c.growth[0] + c.growth[1] * s)
            pu, pv = cu + rr * math.cos(a), cv + rr * math.sin(a)
            film.ellipse(pu, pv, r, r, c.density * s, sharp=c.sharp, dome=1.0, mask=th.lung_all)

    # Atelectasis: a plate-like band in a lower zone (the volume loss is drawn with the anatomy).
    s, d = sev[LABEL_INDEX["Atelectasis"]], draws[LABEL_INDEX["Atelectasis"]]
    if s > 0:
        c = ATELECTASIS
        lung = th.lungs[int(d[2] < 0.5)]
        cu = lung.cu + (d[4] - 0.5) * lung.a * c.drift
        cv = th.base - c.above_base[0] - c.above_base[1] * d[5]
        angle = (d[6] - 0.5) * c.tilt
        half_len, half_thick = c.half_length[0] + c.half_length[1] * d[7], c.half_thick[0] + c.half_thick[1] * s
        win = film.box(cu - half_len, cu + half_len, cv - half_len, cv + half_len)
        if win is not None:
            du, dv = u[win] - cu, v[win] - cv
            along = (du * math.cos(angle) + dv * math.sin(angle)) * (1.0 / half_len)
            across = (dv * math.cos(angle) - du * math.sin(angle)) * (1.0 / half_thick)
            film.D[win] += c.density * inside(along * along + across * across, c.sharp) * th.lung_all[win]


def pleural_thickening(film: Film, th: Thorax, s: float, d: np.ndarray) -> None:
    """Pleural other: thickening along the lateral chest wall (the strong sign's plaque is drawn later)."""
    if s <= 0:
        return
    lung = th.lungs[int(d[2] < 0.5)]
    if lung.win is None:
        return
    c = PLEURAL_OTHER
    uu, vv = film.u[lung.win], film.v[lung.win]
    f = ellipse(uu, vv, lung.cu, lung.cv, lung.a, lung.b)
    rim = np.clip((f - (c.rim[0] - c.rim[1] * s)) * c.edge, 0.0, 1.0) * np.clip((1.0 - f) * c.edge, 0.0, 1.0)
    v_mid = lung.cv + lung.b * (c.place[0] + c.place[1] * d[3])
    span = lung.b * (c.span[0] + c.span[1] * d[4])
    rim *= np.clip(lung.side * (uu - lung.cu) * c.lateral_edge, 0.0, 1.0) * np.clip(
        (span - np.abs(vv - v_mid)) * c.span_edge, 0.0, 1.0
    )
    film.D[lung.win] += c.density * rim * np.clip(lung.mask[lung.win], c.mask_floor, 1.0)


def fracture(film: Film, p: Patient, th: Thorax, s: float, d: np.ndarray) -> None:
    """Rib fractures at full resolution: a lucent gap across the rib, displaced when strong; 1-3 ribs.

    Adds the difference between the broken and the intact rib to the upsampled film.
    """
    if s <= 0:
        return
    c = FRACTURE
    side = side_of(d[2])
    au = c.u[0] + c.u[1] * d[4]
    for k in range(1 if s < STRONG_FROM else 1 + int(d[3] * c.extra_ribs)):
        u0 = th.mid + side * au
        v_guess = c.v[0] + c.v[1] * d[5] + k * p.rib_spacing
        t = float(rib_phase(u0, v_guess, p, th.mid))
        v0 = v_guess - (t - math.floor(t) - 0.5) * p.rib_spacing  # onto the rib's centre line
        win = film.box(u0 - c.window[0], u0 + c.window[0], v0 - c.window[1], v0 + c.window[1])
        if win is None:
            continue
        uu, vv = film.u[win], film.v[win]
        slope = side * (RIB_CAGE.slope - 2 * RIB_CAGE.droop * au)  # dv/du along the rib at the break
        along = ((uu - u0) + slope * (vv - v0)) * (1.0 / math.hypot(1.0, slope))
        gap = np.clip((np.abs(along) - (c.gap[0] + c.gap[1] * s)) * c.gap_edge, 0.0, 1.0)
        step = c.displacement * p.rib_spacing * s * (d[6 + k] - 0.5) * 2 if s >= STRONG_FROM else 0.0
        intact = rib_profile(rib_phase(uu, vv, p, th.mid))
        broken = rib_profile(rib_phase(uu, vv, p, th.mid, shift=step * (along > 0))) * gap
        near = np.clip((c.near[0] - np.abs(uu - u0)) * c.near_edge, 0.0, 1.0) * np.clip(
            (c.near[1] - np.abs(vv - v0)) * c.near_edge, 0, 1
        )
        film.D[win] += RIB * p.bone * near * (broken - intact)


def small_findings(film: Film, th: Thorax, sev: np.ndarray, draws: np.ndarray) -> None:
    """Small signs at full resolution: nodules, Kerley B lines, a calcified pleural plaque."""
    s, d = sev[LABEL_INDEX["Lung Lesion"]], draws[LABEL_INDEX["Lung Lesion"]]
    c = LUNG_LESION
    if s > 0 and not (s >= STRONG_FROM and d[5] < c.p_mass):  # a nodule: sharp, round; subtle = small and faint
        _, cu, cv = lung_point(th, d[2], d[3], d[4], zone=c.zone)
        r0, r_grade, r_draw = c.nodule_radius
        r = r0 + r_grade * (s - SUBTLE[0]) / SEVERITY_SPAN + r_draw * d[6]
        film.ellipse(cu, cv, r, r, c.nodule_density[0] + c.nodule_density[1] * s, sharp=c.nodule_sharp, dome=c.dome)
    s, d = sev[LABEL_INDEX["Edema"]], draws[LABEL_INDEX["Edema"]]
    if s >= STRONG_FROM:  # Kerley B lines: short horizontal lines at the lateral lung bases
        e = EDEMA
        for lung in th.lungs:
            for k in range(e.kerley_lines):
                yy = th.base - e.kerley_above_base - e.kerley_spacing * k - e.kerley_jitter * d[2 + k]
                xu = lung.cu + lung.side * (lung.a * e.kerley_u - e.kerley_u_jitter * d[7 + k % 4])
                film.ellipse(xu, yy, *e.kerley_axes, e.kerley, sharp=e.kerley_sharp)
    s, d = sev[LABEL_INDEX["Pleural Other"]], draws[LABEL_INDEX["Pleural Other"]]
    if s >= STRONG_FROM:
        po = PLEURAL_OTHER
        lung = th.lungs[int(d[2] < 0.5)]
        pu, pv = lung.cu + lung.side * lung.a * po.plaque_u, lung.cv + lung.b * (po.place[0] + po.place[1] * d[3])
        film.ellipse(pu, pv, *po.plaque_axes, po.plaque, sharp=po.plaque_sharp)


# ---------------------------------------------------------------------------------------------
# Lateral film: simpler signs, where the lungs overlap.


@dataclass(frozen=True)
class Blob:
    """A lateral sign: a soft ball where the lung is."""

    radius: float
    density: float  # per unit severity
    sharp: float
    flat: float = 1.0  # height over width


@dataclass(frozen=True)
class LateralSigns:
    # A wide anterior mediastinum fills the clear space behind the sternum: centre (u, v), half-axes.
    mediastinum: tuple[float, float, float, float] = (-0.4, -0.35, 0.22, 0.32)
    mediastinum_density: float = 0.25  # per unit severity
    mediastinum_sharp: float = 2.0
    fluid_above_base: float = 0.02  # effusion: fluid level above the costophrenic level ...
    fluid_rise: float = 0.35  # ... rising by this much per unit severity ...
    meniscus: float = 0.15  # ... and towards the back (the meniscus) ...
    meniscus_from: float = 0.1  # ... behind this u
    fluid_edge: float = 15.0
    fluid_front: float = 0.1  # fluid lies behind u = -fluid_front ...
    fluid_front_edge: float = 6.0
    lung_mask: float = 1.5  # blobs show where the lung's air is at least 1 / lung_mask
    blob_u: tuple[float, float] = (-0.4, 0.8)  # blob centre: a + b * draw
    blob_v: tuple[float, float] = (-0.5, 0.8)


LATERAL_SIGNS = LateralSigns()
LATERAL_BLOBS = {  # the parenchymal findings on a lateral film
    "Lung Opacity": Blob(0.18, 0.18, 1.5),
    "Edema": Blob(0.35, 0.14, 1.0),
    "Consolidation": Blob(0.2, 0.28, 3.0),
    "Pneumonia": Blob(0.12, 0.16, 1.5),
    "Lung Lesion": Blob(0.05, 0.3, 8.0),
    "Atelectasis": Blob(0.16, 0.22, 2.0, flat=0.3),  # a plate
}


def lateral_mediastinum(film: Film, s: float) -> None:
    """A wide anterior mediastinum fills the clear space behind the sternum."""
    c = LATERAL_SIGNS
    if s > 0:
        film.ellipse(*c.mediastinum, c.mediastinum_density * s, sharp=c.mediastinum_sharp)


def lateral_effusion(film: Film, chest: LateralChest, s: float) -> None:
    """Fluid in the posterior costophrenic sulcus, with a meniscus: it takes the place of lung air."""
    if s <= 0:
        return
    c = LATERAL_SIGNS
    u, v = film.u, film.v
    level = chest.base - c.fluid_above_base - c.fluid_rise * s - c.meniscus * np.clip(u - c.meniscus_from, 0.0, 1.0)
    fluid = np.clip((v - level) * c.fluid_edge, 0.0, 1.0)
    chest.lung *= 1.0 - fluid * np.clip((u + c.fluid_front) * c.fluid_front_edge, 0.0, 1.0)


def lateral_blobs(film: Film, chest: LateralChest, sev: np.ndarray, draws: np.ndarray) -> None:
    """Parenchymal findings as blobs where the lung is."""
    c = LATERAL_SIGNS
    lung_mask = np.clip(chest.lung * c.lung_mask, 0.0, 1.0)
    for name, blob in LATERAL_BLOBS.items():
        s, d = sev[LABEL_INDEX[name]], draws[LABEL_INDEX[name]]
        if s > 0:
            cu, cv = c.blob_u[0] + c.blob_u[1] * d[3], c.blob_v[0] + c.blob_v[1] * d[4]
            r = blob.radius
            film.ellipse(cu, cv, r, r * blob.flat, blob.density * s, sharp=blob.sharp, dome=1.0, mask=lung_mask)
