"""Normal chest anatomy: each patient's build, and the structures of a frontal and a lateral film.

Anatomy units: 1 = half the short image side at zoom 1; u to the image's right, v down. Densities
are added to the film's D (projected density), which `Film.develop` turns into brightness. A few
findings move anatomy rather than add to it (cardiomegaly, a wide mediastinum, atelectatic volume
loss, engorged vessels with edema), so the functions here take those severities.

Every number lives in a named frozen dataclass beside the function that draws it; the comments
say what each is. Operations keep their order: the phantoms are byte-identical for a seed, and
float32 sums depend on the order of their terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthmed.data.phantoms.chest.film import Film, Shot, curve, ellipse, inside, side_of, texture_at
from synthmed.data.phantoms.chest.labels import LABEL_INDEX
from synthmed.data.phantoms.chest.textures import N_VESSEL_TEXTURES, texture_banks

AIR = 0.42  # density removed by the air of a lung at its thickest
SOFT = 1.3  # soft tissue of an average body along the central ray
RIB = 0.07  # density of a posterior rib


# ---------------------------------------------------------------------------------------------
# The patient: one build shared by all of their studies and views.


@dataclass
class Patient:
    body_w: float  # half-width of the body outline, anatomy units (1 = half the short image side)
    soft: float  # soft-tissue density
    lung_w: float  # lung width and height scales
    lung_h: float
    heart_w: float  # heart half-width (CTR is about heart_w / 0.7)
    heart_h: float
    med_w: float  # upper mediastinum half-width
    rib_spacing: float
    rib_phase: float
    dome: float  # diaphragm level offset
    breast: float  # breast shadow size, 0 for men
    bone: float  # bone density factor, falling with age
    texture: int  # which vessel texture
    vessels: float  # vessel texture strength


@dataclass(frozen=True)
class PatientVariation:
    """How builds vary between patients (uniform ranges unless said otherwise)."""

    body_w: tuple[float, float] = (0.80, 0.95)
    soft: tuple[float, float] = (0.5, 0.75)
    lung_w: tuple[float, float] = (0.92, 1.06)
    lung_h: tuple[float, float] = (0.9, 1.06)
    heart_w: tuple[float, float] = (0.35, 0.025)  # normal (mean, sd), clipped to heart_w_range
    heart_w_range: tuple[float, float] = (0.29, 0.41)
    heart_h: tuple[float, float] = (0.36, 0.42)
    med_w: tuple[float, float] = (0.125, 0.012)  # normal (mean, sd), clipped to med_w_range
    med_w_range: tuple[float, float] = (0.095, 0.16)
    rib_spacing: tuple[float, float] = (0.145, 0.17)
    dome: tuple[float, float] = (-0.05, 0.05)
    breast: tuple[float, float] = (0.8, 1.2)  # women only
    bone_young: float = 1.15  # bone density at age bone_age and younger ...
    bone_age: float = 20.0
    bone_loss: float = 0.005  # ... falling by this much a year ...
    bone_min: float = 0.7  # ... to this at the least
    bone_jitter: tuple[float, float] = (0.9, 1.1)  # times a per-patient factor
    vessels: tuple[float, float] = (0.8, 1.2)


PATIENT_VARIATION = PatientVariation()


def draw_patient(rng: np.random.Generator, female: bool, age: float) -> Patient:
    c = PATIENT_VARIATION
    return Patient(
        body_w=rng.uniform(*c.body_w),
        soft=rng.uniform(*c.soft),
        lung_w=rng.uniform(*c.lung_w),
        lung_h=rng.uniform(*c.lung_h),
        heart_w=float(np.clip(rng.normal(*c.heart_w), *c.heart_w_range)),
        heart_h=rng.uniform(*c.heart_h),
        med_w=float(np.clip(rng.normal(*c.med_w), *c.med_w_range)),
        rib_spacing=rng.uniform(*c.rib_spacing),
        rib_phase=rng.uniform(0, 1),
        dome=rng.uniform(*c.dome),
        breast=rng.uniform(*c.breast) if female else 0.0,
        bone=float(
            np.clip(c.bone_young - c.bone_loss * (age - c.bone_age), c.bone_min, c.bone_young)
            * rng.uniform(*c.bone_jitter)
        ),
        texture=int(rng.integers(N_VESSEL_TEXTURES)),
        vessels=rng.uniform(*c.vessels),
    )


# ---------------------------------------------------------------------------------------------
# Frontal film.


@dataclass
class Lung:
    side: float  # -1: image left (the patient's right lung), +1: image right
    cu: float  # ellipse centre and half-axes, anatomy units
    cv: float
    a: float
    b: float
    win: tuple[slice, slice] | None  # pixel window of the ellipse on the half-resolution film
    mask: np.ndarray  # half-resolution soft mask of the lung visible on the film (0..1)


@dataclass
class Thorax:
    """Landmarks of one frontal film, after the findings that move anatomy."""

    mid: float  # midline of the mediastinum
    apex: float  # lung apices
    base: float  # costophrenic angles
    dome_top: tuple[float, float]  # highest point of each hemidiaphragm (image left, image right)
    lung_a: float  # lung half-width
    heart: tuple[float, float, float, float]  # centre u, v, half-width, half-height
    lungs: list[Lung]
    lung_all: np.ndarray  # both lung masks, half resolution


@dataclass(frozen=True)
class VolumeLoss:
    """Atelectasis pulls its side's hemidiaphragm up and the mediastinum towards it."""

    pull: float = 0.09  # rise of the hemidiaphragm per unit severity
    spine_share: float = 0.3  # the mediastinum follows this share of the patient's rotation ...
    pull_share: float = 0.3  # ... and shifts by this share of the pull towards the collapsed side


@dataclass(frozen=True)
class BodyOutline:
    """Soft tissue of the trunk: a cylinder narrowing to the neck above the shoulders."""

    neck: float = 0.26  # half-width of the neck
    top: float = 1.12  # the body starts at v = -top ...
    rise: float = 3.0  # ... and widens to full width over 1 / rise
    shoulder_v: float = 0.85  # the shoulders widen the body around v = -shoulder_v ...
    shoulder_reach: float = 4.0  # ... over +-1 / shoulder_reach ...
    shoulder: float = 0.12  # ... by this much at most
    waist_v: float = 0.15  # the trunk is widest at v = waist_v and narrows ...
    waist: float = 0.25  # ... by a share (waist * (v - waist_v))^2 of its width


@dataclass(frozen=True)
class Diaphragm:
    """The two hemidiaphragms over the costophrenic level, and the gastric bubble under the left."""

    apex: float = -0.8  # v of the lung apices
    height: float = 1.4  # apices to costophrenic angles, times lung_h and the inspiration
    right_dome: float = 0.21  # dome height above the costophrenic level: the right (image left) ...
    left_dome: float = 0.17  # ... stands higher than the left
    span: float = 0.37  # half-width of a dome, times lung_w ...
    span_max: float = 0.36  # ... at most, so that the two never overlap
    edge: float = 35.0  # sharpness of the lung-abdomen edge, 1 / anatomy units
    abdomen: float = 0.17  # extra density below the diaphragm (liver, spleen, bowel)
    bubble: tuple[float, float] = (0.02, 0.1)  # gastric bubble: medial of the left dome's centre, below its top
    bubble_axes: tuple[float, float] = (0.09, 0.045)
    bubble_air: float = 0.15  # density the bubble's air removes
    bubble_sharp: float = 4.0


@dataclass(frozen=True)
class LungShape:
    offset: float = 0.38  # lung centres either side of the midline, times lung_w
    half_width: float = 0.31  # times lung_w
    overhang: float = 0.06  # the lung ellipse reaches this far below the costophrenic level (the diaphragm cuts it)
    margin: float = 0.05  # drawing windows reach this far below the costophrenic level
    sharp: float = 8.0  # edge sharpness
    air_rim: float = 0.4  # air at the lung's edge ...
    air_core: float = 0.6  # ... rising by this much to its centre, where the lung is thickest


@dataclass(frozen=True)
class HeartShape:
    """The frontal heart: further to the patient's left, its lower part behind the diaphragm."""

    shift: float = 0.05  # centre left of the midline (image right) ...
    follow: float = 0.4  # ... moving further by this share of its half-width above typical
    typical: float = 0.35  # a typical half-width
    drop: float = 0.02  # centre below the higher dome's top
    right: float = 0.75  # reach to the patient's right (image left), in half-widths ...
    left: float = 1.25  # ... and to the left
    sharp: float = 5.0
    density: float = 0.15  # at the edge ...
    core: float = 0.06  # ... plus this much more at the centre
    ap_magnify: float = 1.07  # AP films magnify the heart
    cardiomegaly_w: float = 0.45  # cardiomegaly widens it by this share per unit severity ...
    cardiomegaly_h: float = 0.12  # ... and heightens it less


@dataclass(frozen=True)
class Mediastinum:
    """The upper mediastinum above the heart, with the aortic knob on the patient's left."""

    widening: float = 1.0  # enlarged cardiomediastinum widens it by this share per unit severity
    margin: float = 0.1  # drawing window beyond its half-width
    top: float = -1.6  # v where it starts (above the film)
    knob: float = 0.03  # aortic knob bulge ...
    knob_ecm: float = 0.05  # ... plus this much per unit severity of enlarged cardiomediastinum
    knob_v: float = 0.45  # the knob is centred at v = -knob_v ...
    knob_reach: float = 9.0  # ... over +-1 / knob_reach
    edge: float = 40.0  # side edge sharpness
    bottom_edge: float = 8.0  # it merges into the heart over 1 / bottom_edge
    density: float = 0.14


@dataclass(frozen=True)
class FrontalSpine:
    reach: float = 0.1  # drawing window either side of the spine
    half_width: float = 0.075  # vertebral column
    edge: float = 40.0
    vertebra: float = 0.115  # height of a vertebra with its disc
    pedicle_half: float = 0.016  # pedicle half-width ...
    pedicle_u: float = 0.05  # ... this far either side of the spine's centre ...
    pedicle_edge: float = 60.0
    pedicle_span: float = 0.3  # ... over the middle of a vertebra (share of a period from mid-vertebra)
    pedicle_span_edge: float = 5.0
    density: float = 0.07
    disc: float = 0.04  # discs are this much less dense ...
    disc_from: float = 0.38  # ... beyond this share of a period from mid-vertebra
    disc_edge: float = 8.0
    pedicle: float = 0.05  # extra density of a pedicle


@dataclass(frozen=True)
class Clavicles:
    """Clavicles with their S-shaped curve, and the humeral heads in the shoulders."""

    window: tuple[float, float, float] = (1.2, -1.3, -0.5)  # half-width, top, bottom of the drawing window
    level: float = -0.71  # v of the medial end's centre ...
    rise: float = 0.2  # ... rising laterally by this much per unit of |u| ...
    rise_from: float = 0.06  # ... from this |u|
    bow: float = 0.06  # the curve's downward bow ...
    bow_u: float = 0.3  # ... centred at this |u| ...
    bow_reach: float = 4.0  # ... over +-1 / bow_reach
    half_thick: float = 0.038
    edge: float = 60.0
    lateral_end: float = 0.6  # |u| where the clavicle ends at the shoulder ...
    medial_end: float = 0.05  # ... and at the sternum
    end_edge: float = 30.0
    density: float = 0.16
    head_inset: float = 0.1  # humeral head centre inside the body outline ...
    head_v: float = -0.86  # ... at this v ...
    head_radius: float = 0.13
    head_sharp: float = 2.5
    head_density: float = 0.15


@dataclass(frozen=True)
class Arms:
    """Arms lying along the sides, in some frontal films."""

    gap: float = 0.08  # arm centre outside the body outline
    reach: float = 0.14  # drawing window either side of it
    top: float = -0.95  # v of the armpit ...
    top_edge: float = 8.0  # ... over which the arm fades in
    radius: float = 0.12  # soft-tissue radius
    humerus_half: float = 0.04  # humerus half-width ...
    humerus_shift: float = 0.01  # ... its centre this much outwards
    humerus_edge: float = 50.0
    tissue: float = 0.55  # soft-tissue density at the arm's centre
    bone: float = 0.18  # humerus density


@dataclass(frozen=True)
class Airway:
    """Trachea and main bronchi: air in the mediastinum."""

    window: tuple[float, float, float] = (0.2, -1.6, -0.2)  # half-width, top, bottom of the drawing window
    trachea_half: float = 0.034
    trachea_shift: float = 0.01  # trachea centre towards the patient's right (image left)
    edge: float = 60.0
    carina: float = -0.36  # v of the carina, where the trachea ends ...
    carina_edge: float = 20.0
    bronchus_half: float = 0.022
    bronchus_slope: float = 0.8  # ... and the bronchi go down and out at this slope (dv / du) ...
    bronchus_length: float = 0.15  # ... this far in u
    bronchus_edge: float = 30.0
    air: float = 0.15  # density removed


@dataclass(frozen=True)
class Breasts:
    """Breast shadows over the lower lungs (women)."""

    lateral: float = 0.1  # centre outside the lung's centre ...
    above_base: float = 0.14  # ... and above the costophrenic level
    half_axes: tuple[float, float] = (0.32, 0.26)  # times the patient's breast size
    fade_from: float = 0.8  # the shadow starts this many half-heights above the centre ...
    fade: float = 2.5  # ... and darkens downwards over 1 / fade
    sharp: float = 8.0
    density: float = 0.08


@dataclass(frozen=True)
class LungMarkings:
    """Vessels over the lungs, read from the texture banks; edema engorges them."""

    reach: float = 0.8  # frontal drawing window either side of the midline
    frontal: float = 0.18  # density on a frontal film ...
    lateral: float = 0.12  # ... and on a lateral film (both lungs overlap but the beam crosses more body)
    lateral_scale: float = 0.8  # lateral: the texture is squeezed to the chest's depth
    edema: float = 0.8  # extra strength per unit severity of edema


@dataclass(frozen=True)
class RibCage:
    """Posterior ribs arching over each lung, with fainter anterior ribs laterally."""

    slope: float = 0.1  # posterior ribs run down and out: v rises by slope * |u| ...
    droop: float = 0.6  # ... and falls by droop * u^2 (the arch)
    band: float = 0.2  # a rib is this share of a period either side of its centre line ...
    band_edge: float = 14.0
    cortex: float = 0.8  # ... with brighter cortical edges
    beyond_lung: float = 0.06  # ribs reach this far past the lungs' outer edge
    above_apex: float = 0.15  # drawing window above the apices ...
    below_base: float = 0.3  # ... and below the costophrenic angles, where the ribs fade out
    side_edge: float = 25.0
    spine_gap: float = 0.07  # ribs start this far from the midline
    bottom_edge: float = 2.5
    anterior_tilt: float = 0.5  # anterior ribs run down and in: v + anterior_tilt * |u| ...
    anterior_period: float = 0.2  # ... one every this much
    anterior_band: float = 0.12  # share of a period either side of the centre line
    anterior_edge: float = 10.0
    anterior_from: float = 0.3  # anterior ribs show beyond this |u| ...
    anterior_from_edge: float = 8.0
    anterior_bottom: float = 0.3  # ... and above this v
    anterior_bottom_edge: float = 5.0
    anterior: float = 0.3  # their density, relative to a posterior rib's


VOLUME_LOSS = VolumeLoss()
BODY = BodyOutline()
DIAPHRAGM = Diaphragm()
LUNGS = LungShape()
HEART = HeartShape()
MEDIASTINUM = Mediastinum()
FRONTAL_SPINE = FrontalSpine()
CLAVICLES = Clavicles()
ARMS = Arms()
AIRWAY = Airway()
BREASTS = Breasts()
LUNG_MARKINGS = LungMarkings()
RIB_CAGE = RibCage()


def frontal_anatomy(film: Film, p: Patient, shot: Shot, sev: np.ndarray, draws: np.ndarray) -> Thorax:
    """Body, diaphragm, lungs, heart, mediastinum, spine, clavicles, trachea; returns the landmarks."""
    u, v, D = film.u, film.v, film.D
    # Findings that move anatomy: cardiomegaly, a wide mediastinum, volume loss with atelectasis.
    s_ecm, s_cm = sev[LABEL_INDEX["Enlarged Cardiomediastinum"]], sev[LABEL_INDEX["Cardiomegaly"]]
    s_atel = sev[LABEL_INDEX["Atelectasis"]]
    atel_side = side_of(draws[LABEL_INDEX["Atelectasis"], 2])
    vl = VOLUME_LOSS
    pull = vl.pull * s_atel
    mid = vl.spine_share * shot.spine_shift + atel_side * vl.pull_share * pull
    med_w = p.med_w * (1.0 + MEDIASTINUM.widening * s_ecm)
    heart_w = p.heart_w * (HEART.ap_magnify if shot.ap else 1.0) * (1.0 + HEART.cardiomegaly_w * s_cm)
    heart_h = p.heart_h * (1.0 + HEART.cardiomegaly_h * s_cm)

    # Body: soft tissue of a cylinder, narrowing to the neck above the shoulders.
    b = BODY
    rise = np.clip((v + b.top) * b.rise, 0.0, 1.0)
    shoulder = 1.0 - ((v + b.shoulder_v) * b.shoulder_reach) ** 2
    waist = (v - b.waist_v) * b.waist
    shoulders = b.shoulder * np.clip(shoulder, 0.0, 1.0)
    width = b.neck + (p.body_w - b.neck) * np.sqrt(rise) * (1.0 - waist * waist) + shoulders
    q = u / width
    body = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
    D += p.soft * SOFT * body

    # Diaphragm: one dome per side over the costophrenic level, the right (image left) higher.
    dia, lu = DIAPHRAGM, LUNGS
    apex = dia.apex
    base = apex + dia.height * p.lung_h * shot.inspiration + p.dome
    lung_a = lu.half_width * p.lung_w
    centres = (mid - lu.offset * p.lung_w, mid + lu.offset * p.lung_w)
    span = min(dia.span_max, dia.span * p.lung_w)
    dome_top = (
        base - dia.right_dome - (pull if atel_side < 0 else 0.0),
        base - dia.left_dome - (pull if atel_side > 0 else 0.0),
    )
    diaph = np.full_like(u, base)
    for c, top in zip(centres, dome_top, strict=True):
        t = (u - c) * (1.0 / span)
        diaph -= (base - top) * np.clip(1.0 - t * t, 0.0, 1.0)
    below = np.clip((v - diaph) * dia.edge, 0.0, 1.0)
    D += dia.abdomen * below * body
    bubble = (centres[1] - dia.bubble[0], dome_top[1] + dia.bubble[1])
    film.ellipse(*bubble, *dia.bubble_axes, -dia.bubble_air, sharp=dia.bubble_sharp)

    # Lungs: ellipses cut by the diaphragm.
    lungs = []
    for side, c in zip((-1.0, 1.0), centres, strict=True):
        lb = (base - apex) / 2 + lu.overhang
        cv = apex + lb
        win = film.box(c - lung_a, c + lung_a, apex, base + lu.margin)
        mask = np.zeros_like(D)
        if win is not None:
            mask[win] = inside(ellipse(u[win], v[win], c, cv, lung_a, lb), lu.sharp) * (1.0 - below[win])
        lungs.append(Lung(side, c, cv, lung_a, lb, win, mask))

    # Heart: it reaches less far to the patient's right (image left) than to the left, and its lower
    # part sits behind the diaphragm, merging with the abdomen. Heart and mediastinum hide the lungs.
    h = HEART
    hc_u = mid + h.shift + h.follow * (heart_w - h.typical)
    hc_v = min(dome_top) - h.drop
    right_w, left_w = h.right * heart_w, h.left * heart_w
    hide = np.zeros_like(D)
    win = film.box(hc_u - right_w, hc_u + left_w, hc_v - heart_h, hc_v + heart_h)
    if win is not None:
        uu, vv = u[win], v[win]
        du = (uu - hc_u) * (1.0 / right_w + (1.0 / left_w - 1.0 / right_w) * (uu > hc_u))
        dv = (vv - hc_v) * (1.0 / heart_h)
        f = du * du + dv * dv
        heart = inside(f, h.sharp) * (1.0 - below[win])
        hide[win] = heart
        D[win] += heart * (h.density + h.core * np.clip(1.0 - f, 0.0, 1.0))
    m = MEDIASTINUM
    win = film.box(mid - med_w - m.margin, mid + med_w + m.margin, m.top, hc_v)
    if win is not None:
        uu, vv = u[win], v[win]
        bulge = np.clip(1.0 - ((vv + m.knob_v) * m.knob_reach) ** 2, 0.0, 1.0)
        knob = np.float32(m.knob + m.knob_ecm * s_ecm) * bulge * (uu > mid)
        sides = np.clip((med_w + knob - np.abs(uu - mid)) * m.edge, 0.0, 1.0)
        med = sides * np.clip((hc_v - vv) * m.bottom_edge, 0.0, 1.0)
        hide[win] = np.maximum(hide[win], med)
        D[win] += m.density * med
    visible = 1.0 - hide
    lung_all = np.zeros_like(D)
    for lung in lungs:
        lung.mask *= visible
        lung_all += lung.mask

    # Spine, behind everything in the midline.
    sp = FRONTAL_SPINE
    spine = mid + shot.spine_shift
    win = film.box(spine - sp.reach, spine + sp.reach, -2.0, 2.0)
    if win is not None:
        uu, vv = u[win], v[win]
        au = np.abs(uu - spine)
        column = np.clip((sp.half_width - au) * sp.edge, 0.0, 1.0)
        phase = vv * (1 / sp.vertebra)
        discs = np.abs(phase - np.floor(phase) - 0.5)  # 0 mid-vertebra, 0.5 at a disc
        pedicles = np.clip((sp.pedicle_half - np.abs(au - sp.pedicle_u)) * sp.pedicle_edge, 0.0, 1.0) * np.clip(
            (sp.pedicle_span - discs) * sp.pedicle_span_edge, 0, 1
        )
        disc = sp.disc * np.clip((discs - sp.disc_from) * sp.disc_edge, 0.0, 1.0)
        D[win] += p.bone * column * (sp.density - disc + sp.pedicle * pedicles)

    # Clavicles and the humeral heads in the shoulders; arms along the sides in some films.
    cl = CLAVICLES
    reach, top, bottom = cl.window
    win = film.box(mid - reach, mid + reach, top, bottom)
    if win is not None:
        uu, vv = u[win], v[win]
        au = np.abs(uu - mid)
        bow = cl.bow * np.clip(1.0 - ((au - cl.bow_u) * cl.bow_reach) ** 2, 0.0, 1.0)
        centre = cl.level - cl.rise * (au - cl.rise_from) + bow
        clav = np.clip((cl.half_thick - np.abs(vv - centre)) * cl.edge, 0.0, 1.0)
        clav *= np.clip((cl.lateral_end - au) * cl.end_edge, 0.0, 1.0) * np.clip(
            (au - cl.medial_end) * cl.end_edge, 0.0, 1.0
        )
        r = cl.head_radius
        head = inside(ellipse(au, vv, p.body_w - cl.head_inset, cl.head_v, r, r), cl.head_sharp)
        D[win] += p.bone * (cl.density * clav + cl.head_density * head)
    if shot.arms:
        a = ARMS
        for side in (-1.0, 1.0):
            cu = mid + side * (p.body_w + a.gap)
            win = film.box(cu - a.reach, cu + a.reach, a.top, 2.0)
            if win is not None:
                du, vv = np.abs(u[win] - cu), v[win]
                armpit = np.clip((vv - a.top) * a.top_edge, 0.0, 1.0)
                tissue = np.sqrt(np.clip(1.0 - (du * (1 / a.radius)) ** 2, 0.0, 1.0))
                off = np.abs(u[win] - cu - side * a.humerus_shift)
                humerus = np.clip((a.humerus_half - off) * a.humerus_edge, 0.0, 1.0)
                D[win] += armpit * (a.tissue * tissue + a.bone * p.bone * humerus)

    # Trachea and main bronchi: air in the mediastinum.
    aw = AIRWAY
    reach, top, bottom = aw.window
    win = film.box(mid - reach, mid + reach, top, bottom)
    if win is not None:
        uu, vv = u[win] - mid, v[win]
        tube = np.clip((aw.trachea_half - np.abs(uu + aw.trachea_shift)) * aw.edge, 0.0, 1.0) * np.clip(
            (aw.carina - vv) * aw.carina_edge, 0.0, 1.0
        )
        for side in (-1.0, 1.0):
            along = uu * side
            tube = np.maximum(
                tube,
                np.clip((aw.bronchus_half - np.abs(vv - aw.carina - aw.bronchus_slope * along)) * aw.edge, 0.0, 1.0)
                * np.clip(along * aw.bronchus_edge, 0.0, 1.0)
                * np.clip((aw.bronchus_length - along) * aw.bronchus_edge, 0.0, 1.0),
            )
        D[win] -= aw.air * tube

    # Breast shadows over the lower lungs.
    if p.breast > 0:
        br = BREASTS
        for c in centres:
            cu, cv = c + br.lateral * np.sign(c - mid), base - br.above_base
            ru, rv = br.half_axes[0] * p.breast, br.half_axes[1] * p.breast
            win = film.box(cu - ru, cu + ru, cv - rv, cv + rv)
            if win is not None:
                lower = np.clip((v[win] - (cv - br.fade_from * rv)) * br.fade, 0.0, 1.0)
                D[win] += br.density * inside(ellipse(u[win], v[win], cu, cv, ru, rv), br.sharp) * lower

    return Thorax(mid, apex, base, dome_top, lung_a, (hc_u, hc_v, heart_w, heart_h), lungs, lung_all)


def lung_air(film: Film, th: Thorax) -> np.ndarray:
    """The air of both lungs, thickest at their centres; pleural findings then take its place."""
    air = np.zeros_like(film.D)
    for lung in th.lungs:
        if lung.win is not None:
            f = ellipse(film.u[lung.win], film.v[lung.win], lung.cu, lung.cv, lung.a, lung.b)
            air[lung.win] += lung.mask[lung.win] * (LUNGS.air_rim + LUNGS.air_core * np.clip(1.0 - f, 0.0, 1.0))
    return air


def aerate(film: Film, p: Patient, th: Thorax, air: np.ndarray, no_markings: np.ndarray, s_edema: float) -> None:
    """Remove the lungs' air from D, then add the lung markings (vessels) where the lung still has them."""
    film.D -= AIR * air
    lm = LUNG_MARKINGS
    win = film.box(th.mid - lm.reach, th.mid + lm.reach, th.apex, th.base + LUNGS.margin)
    if win is not None:
        tex = texture_at(texture_banks().vessels_half[p.texture], film.u[win] - th.mid, film.v[win])
        strength = lm.frontal * p.vessels * (1.0 + lm.edema * s_edema)
        film.D[win] += strength * tex * th.lung_all[win] * (1.0 - no_markings[win])


def rib_phase(u, v, p: Patient, mid: float, shift=0.0):
    """Rib coordinate: a whole number plus 0.5 on each posterior rib's centre line."""
    c = RIB_CAGE
    au = np.abs(u - mid)
    phi = v + c.slope * au - c.droop * au * au + shift
    return phi * (1.0 / p.rib_spacing) - p.rib_phase


def rib_profile(t):
    """Posterior rib bands (0..1, brighter cortical edges) from the rib coordinate."""
    c = RIB_CAGE
    band = np.clip((c.band - np.abs(t - np.floor(t) - 0.5)) * c.band_edge, 0.0, 1.0)
    return band + c.cortex * band * (1.0 - band)


def ribs(film: Film, p: Patient, th: Thorax) -> None:
    """Posterior ribs arching over each lung, fainter anterior ribs laterally."""
    c = RIB_CAGE
    reach = LUNGS.offset * p.lung_w + th.lung_a + c.beyond_lung
    win = film.box(th.mid - reach, th.mid + reach, th.apex - c.above_apex, th.base + c.below_base)
    if win is None:
        return
    uu, vv = film.u[win], film.v[win]
    au = np.abs(uu - th.mid)
    region = np.clip((reach - au) * c.side_edge, 0.0, 1.0) * np.clip((au - c.spine_gap) * c.side_edge, 0.0, 1.0)
    region *= np.clip((th.base + c.below_base - vv) * c.bottom_edge, 0.0, 1.0)
    posterior = rib_profile(rib_phase(uu, vv, p, th.mid))
    ta = (vv + c.anterior_tilt * au) * (1 / c.anterior_period)
    anterior = np.clip((c.anterior_band - np.abs(ta - np.floor(ta) - 0.5)) * c.anterior_edge, 0.0, 1.0)
    anterior *= np.clip((au - c.anterior_from) * c.anterior_from_edge, 0.0, 1.0) * np.clip(
        (c.anterior_bottom - vv) * c.anterior_bottom_edge, 0.0, 1.0
    )
    film.D[win] += RIB * p.bone * region * (posterior + c.anterior * anterior)


# ---------------------------------------------------------------------------------------------
# Lateral film: the patient faces the image's left (anterior at negative u).


@dataclass
class LateralChest:
    """Landmarks of one lateral film."""

    depth: float  # half the front-to-back diameter
    base: float  # costophrenic level (posterior sulcus)
    body: np.ndarray  # soft-tissue thickness, 0..1
    lung: np.ndarray  # air of both lungs, 0..1; findings may take some of it before `aerate_lateral`


@dataclass(frozen=True)
class LateralBody:
    """The trunk seen through its full width; the raised arms add soft tissue and bone over the top."""

    depth: float = 0.82  # front-to-back half-diameter for a body of half-width typical_width ...
    typical_width: float = 0.875
    centre: float = 0.03  # trunk centre, u
    extra_soft: float = 0.2  # the beam crosses more tissue side to side
    arms: tuple[float, float, float, float] = (0.05, -1.25, 0.55, 0.45)  # raised arms' soft tissue: centre, half-axes
    arms_density: float = 0.35
    arms_sharp: float = 2.0
    humerus_from: tuple[float, float] = (-0.2, -1.6)  # each humerus runs from here (u, v) ...
    humerus_to: tuple[float, float] = (0.15, -0.75)  # ... to here ...
    humerus_split: tuple[float, float] = (0.1, 0.08)  # ... the two offset by +-this (u) at either end
    humerus_bend: float = 0.1
    humerus_half: float = 0.045
    humerus: float = 0.12  # density, times bone


@dataclass(frozen=True)
class LateralDiaphragm:
    """Higher in front, deepest at the posterior costophrenic sulcus; two domes."""

    apex: float = -0.85  # v the height is measured from ...
    height: float = 1.5  # ... to the costophrenic level, times lung_h and the inspiration
    front: float = -0.6  # the dome rises from u = front ...
    reach: float = 1.25  # ... over this many units backwards ...
    rise: float = 0.38  # ... from this far above the costophrenic level ...
    fall: float = 0.42  # ... descending by this much (quadratically) to the back
    edge: float = 30.0
    abdomen: float = 0.08  # density below the first dome ...
    second: float = 0.04  # ... and the second dome's, offset ...
    second_offset: float = 0.05  # ... this far below


@dataclass(frozen=True)
class LateralLungs:
    """Both lungs superimposed, narrower at the apex, cut by the diaphragm."""

    top: float = -0.9  # v of the apices
    centre: float = -0.01  # u of the lungs' centre
    width: float = 0.8  # half-width over the chest's half-depth
    apex_narrowing: float = 0.35  # the upper half narrows towards the apex by this share
    edge: float = 5.0
    air: float = 0.75  # share of a frontal lung's air (AIR): the lungs are thinner side to side


@dataclass(frozen=True)
class LateralHeart:
    """The heart in front and low; cardiomegaly fills the space behind it."""

    width: float = 0.3  # half-width for a typical patient ...
    cardiomegaly_w: float = 0.14  # ... plus this much per unit severity ...
    typical: float = 0.35  # ... scaled by the patient's frontal half-width over this
    height: float = 0.85  # half-height over the frontal one ...
    cardiomegaly_h: float = 0.15  # ... plus this share per unit severity
    u: float = -0.3  # centre u ...
    cardiomegaly_u: float = 0.1  # ... moving back by this much per unit severity
    above_base: float = 0.22  # centre above the costophrenic level
    sharp: float = 4.0
    density: float = 0.14
    hides: float = 0.7  # share of the lung's air the heart takes where it overlaps


@dataclass(frozen=True)
class Aorta:
    """The aortic arch and the descending aorta."""

    arch: tuple[float, float, float, float, float] = (-0.3, -0.2, 0.45, -0.2, -0.3)  # from (u, v), to (u, v), bend
    descending: tuple[tuple[float, float], tuple[float, float]] = ((0.45, 0.2), (0.47, 0.6))  # then through these
    half_width: float = 0.045
    density: float = 0.05


@dataclass(frozen=True)
class LateralSpine:
    """The spine at the back (more lucent lower down), posterior ribs, the sternum and the trachea."""

    window: tuple[float, float] = (0.25, 1.0)  # u range of the spine's drawing window
    centre: float = 0.68  # column centre over the chest's half-depth ...
    kyphosis: float = 0.06  # ... moving back by this much per unit v
    half_width: float = 0.085
    edge: float = 40.0
    vertebra: float = 0.12  # height of a vertebra with its disc
    disc_from: float = 0.36  # discs: beyond this share of a period from mid-vertebra ...
    disc_edge: float = 10.0
    disc: float = 0.7  # ... the column is this much less dense
    arch_offset: float = 0.15  # posterior arch behind the column ...
    arch_half: float = 0.035
    column: float = 0.16  # densities, times bone
    arch: float = 0.08
    lucent_top: float = 1.1  # lucency factor at v = 0 ...
    lucent_slope: float = 0.25  # ... falling by this much per unit v (v clipped to +-1)
    rib_slope: float = 0.6  # posterior ribs: v - rib_slope * u constant along a rib
    rib_band: float = 0.15  # share of a period either side of the centre line
    rib_edge: float = 10.0
    rib_from: float = 0.05  # ribs show behind this u ...
    rib_from_edge: float = 4.0
    rib: float = 0.05  # density, times bone
    sternum_window: tuple[float, float, float, float] = (-1.0, -0.3, -1.0, 0.6)  # u0, u1, v0, v1
    sternum: float = 0.84  # sternum in front, at this share of the half-depth ...
    sternum_slant: float = 0.07  # ... slanting back by this much per unit v ...
    sternum_v: float = 0.5  # ... from v = -sternum_v
    sternum_half: float = 0.022
    sternum_edge: float = 60.0
    sternum_centre: float = -0.15  # it spans v = sternum_centre +- sternum_span
    sternum_span: float = 0.4
    sternum_span_edge: float = 20.0
    sternum_density: float = 0.2  # times bone
    trachea_window: tuple[float, float, float, float] = (-0.35, 0.35, -1.6, -0.1)
    trachea_u: float = -0.04  # trachea centre at v = -trachea_v ...
    trachea_v: float = 0.3
    trachea_slant: float = 0.12  # ... slanting back by this much per unit v
    trachea_half: float = 0.045
    trachea_edge: float = 40.0
    trachea_end: float = -0.28  # v where it divides
    trachea_end_edge: float = 20.0
    trachea_air: float = 0.08


LATERAL_BODY = LateralBody()
LATERAL_DIAPHRAGM = LateralDiaphragm()
LATERAL_LUNGS = LateralLungs()
LATERAL_HEART = LateralHeart()
AORTA = Aorta()
LATERAL_SPINE = LateralSpine()


def lateral_anatomy(film: Film, p: Patient, shot: Shot, s_cm: float) -> LateralChest:
    """Body, arms, diaphragm, lungs, heart (grown by cardiomegaly of severity s_cm) and aorta."""
    u, v, D = film.u, film.v, film.D
    bd = LATERAL_BODY
    depth = bd.depth * p.body_w / bd.typical_width

    # Body, seen through its full width; the raised arms add soft tissue and bone over the top.
    q = (u - bd.centre) * (1.0 / depth)
    body = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
    D += (p.soft * SOFT + bd.extra_soft) * body
    film.ellipse(*bd.arms, bd.arms_density, sharp=bd.arms_sharp, dome=1.0)
    for k in (-1.0, 1.0):
        start = (bd.humerus_from[0] + bd.humerus_split[0] * k, bd.humerus_from[1])
        end = (bd.humerus_to[0] + bd.humerus_split[1] * k, bd.humerus_to[1])
        us, vs = curve(start, end, bd.humerus_bend)
        film.polyline(D, us, vs, bd.humerus_half, bd.humerus * p.bone)

    # Diaphragm: higher in front, deepest at the posterior costophrenic sulcus; two domes.
    dia = LATERAL_DIAPHRAGM
    base = dia.apex + dia.height * p.lung_h * shot.inspiration + p.dome
    reach = np.clip((u - dia.front) * (1.0 / dia.reach), 0.0, 1.0)
    diaph = base - dia.rise + dia.fall * reach * reach
    below = np.clip((v - diaph) * dia.edge, 0.0, 1.0)
    D += (dia.abdomen * below + dia.second * np.clip((v - diaph - dia.second_offset) * dia.edge, 0.0, 1.0)) * body

    # Lungs (both superimposed), narrower at the apex, cut by the diaphragm.
    lu = LATERAL_LUNGS
    lung_b = (base - lu.top) / 2
    lc_v = lu.top + lung_b
    y = (v - lc_v) * (1.0 / lung_b)
    x = (u - lu.centre) * (1.0 / (depth * lu.width)) * (1.0 + lu.apex_narrowing * np.clip(-y, 0.0, 1.0))
    x2, y2 = x * x, y * y
    lung = np.clip((1.0 - x2 * np.sqrt(x2) - y2 * np.sqrt(y2)) * lu.edge, 0.0, 1.0) * (1.0 - below)
    # Heart in front and low; cardiomegaly fills the space behind it.
    h = LATERAL_HEART
    hw = (h.width + h.cardiomegaly_w * s_cm) * p.heart_w / h.typical
    hh = p.heart_h * (h.height + h.cardiomegaly_h * s_cm)
    hc_u, hc_v = h.u + h.cardiomegaly_u * s_cm, base - h.above_base
    win = film.box(hc_u - hw, hc_u + hw, hc_v - hh, hc_v + hh)
    if win is not None:
        heart = inside(ellipse(u[win], v[win], hc_u, hc_v, hw, hh), h.sharp) * (1.0 - below[win])
        D[win] += h.density * heart
        lung[win] *= 1.0 - h.hides * heart
    ao = AORTA
    us, vs = curve(ao.arch[:2], ao.arch[2:4], ao.arch[4])
    (u1, v1), (u2, v2) = ao.descending
    film.polyline(D, np.r_[us, u1, u2], np.r_[vs, v1, v2], ao.half_width, ao.density)
    return LateralChest(depth, base, body, lung)


def aerate_lateral(film: Film, p: Patient, chest: LateralChest, s_edema: float) -> None:
    """Remove the lungs' air from D and add their markings; then spine, ribs, sternum and trachea."""
    u, v, D = film.u, film.v, film.D
    lung, depth = chest.lung, chest.depth
    D -= LATERAL_LUNGS.air * AIR * lung
    lm = LUNG_MARKINGS
    win = film.box(-1.0, 1.0, -1.0, 1.0)
    if win is not None:
        tex = texture_at(texture_banks().vessels_half[p.texture], u[win], v[win], scale=lm.lateral_scale)
        D[win] += lm.lateral * p.vessels * (1.0 + lm.edema * s_edema) * tex * lung[win]

    # Spine at the back (more lucent lower down), posterior ribs, the sternum in front, the trachea.
    sp = LATERAL_SPINE
    win = film.box(*sp.window, -2.0, 2.0)
    if win is not None:
        uu, vv = u[win], v[win]
        sc = depth * sp.centre + sp.kyphosis * vv  # a gentle kyphosis
        column = np.clip((sp.half_width - np.abs(uu - sc)) * sp.edge, 0.0, 1.0)
        phase = vv * (1 / sp.vertebra)
        discs = np.clip((np.abs(phase - np.floor(phase) - 0.5) - sp.disc_from) * sp.disc_edge, 0.0, 1.0)
        arch = np.clip((sp.arch_half - np.abs(uu - sc - sp.arch_offset)) * sp.edge, 0.0, 1.0)
        lucent = sp.lucent_top - sp.lucent_slope * np.clip(vv, -1.0, 1.0)
        D[win] += p.bone * (sp.column * column * (1.0 - sp.disc * discs) + sp.arch * arch) * lucent
    t = (v - sp.rib_slope * u) * (1.0 / p.rib_spacing)
    rib = np.clip((sp.rib_band - np.abs(t - np.floor(t) - 0.5)) * sp.rib_edge, 0.0, 1.0)
    D += sp.rib * p.bone * rib * np.clip((u - sp.rib_from) * sp.rib_from_edge, 0.0, 1.0) * chest.body
    win = film.box(*sp.sternum_window)
    if win is not None:
        uu, vv = u[win], v[win]
        front = -depth * sp.sternum + sp.sternum_slant * (vv + sp.sternum_v)
        D[win] += (
            sp.sternum_density
            * p.bone
            * np.clip((sp.sternum_half - np.abs(uu - front)) * sp.sternum_edge, 0.0, 1.0)
            * np.clip((sp.sternum_span - np.abs(vv - sp.sternum_centre)) * sp.sternum_span_edge, 0.0, 1.0)
        )
    win = film.box(*sp.trachea_window)
    if win is not None:
        uu, vv = u[win], v[win]
        centre = sp.trachea_u + sp.trachea_slant * (vv + sp.trachea_v)
        tube = np.clip((sp.trachea_half - np.abs(uu - centre)) * sp.trachea_edge, 0.0, 1.0)
        D[win] -= sp.trachea_air * tube * np.clip((sp.trachea_end - vv) * sp.trachea_end_edge, 0, 1)
