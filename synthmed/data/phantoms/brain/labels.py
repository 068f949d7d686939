"""The brain phantoms' patients, drawn before any pixel: haemorrhages, slices, labels and ids.

Each patient is one series of consecutive slices from the skull base to the vertex. Their
haemorrhages are drawn first, each subtype with its own shape and place; a slice's labels then
come from the same lesion geometry the renderer uses (`lesion_on_slice`), so a positive label
always has blood pixels. Ids and UIDs are drawn here too, so the same seed gives the same files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthmed.data import RSNA_CSV_TYPES, RSNA_SUBTYPES
from synthmed.data.phantoms.brain.head import (
    LATERAL_VENTRICLES,
    SIZE,
    Anatomy,
    brain_scale,
    check_matrix,
    draw_anatomy,
    ventricle_extent,
)

# Slice-level prevalence in Kaggle's stage_2_train.csv (752,803 images). Approximate values from
# memory of the label file, to verify against a download; the phantom's lesion model is tuned so
# that its slice frequencies come out near these.
RSNA_SLICE_PREVALENCE = {
    "epidural": 0.0042,
    "intraparenchymal": 0.048,
    "intraventricular": 0.035,
    "subarachnoid": 0.047,
    "subdural": 0.063,
    "any": 0.143,
}

ENCODINGS = ("signed16", "unsigned12", "quirk12")  # how slices store their pixels (see `writer.encode_pixels`)
P_SIGNED16 = 0.55  # patients not using the quirk are signed 16-bit with this probability, else unsigned 12-bit

# Haemorrhage scenarios for a patient with any bleed: (weight, {subtype: probability}). Trauma gives
# subdural, subarachnoid, contusions and the rare epidural; spontaneous bleeds give a parenchymal
# haematoma that may break into the ventricles; aneurysmal bleeds give basal subarachnoid blood.
SCENARIOS = (
    (
        0.46,
        {
            "subdural": 0.70,
            "subarachnoid": 0.65,
            "epidural": 0.15,
            "intraparenchymal": 0.50,
            "intraventricular": 0.15,
        },
    ),
    (0.32, {"intraparenchymal": 1.0, "intraventricular": 0.65, "subarachnoid": 0.4, "subdural": 0.2}),
    (0.17, {"subarachnoid": 1.0, "intraventricular": 0.50, "intraparenchymal": 0.4, "subdural": 0.2}),
    (0.05, {"intraventricular": 1.0, "subarachnoid": 0.30}),
)
# Every phantom patient bleeds somewhere (RSNA: about a third of exams), so about 36% of slices are
# positive against RSNA's 14%. The paper balances the no-finding slices down to 107,365 anyway
# (paper-spec §1.2); an RSNA-like prevalence would render some 500,000 slices that the balance throws
# away. The scenario weights, the clustering in z and the subdural extent are set so that label
# combinations co-occur on slices about as often as the paper's subsets need of RSNA: its 6th
# combination has at least 6,750 slices (the samples benchmark's 5,400 train + 500 + 500 per class)
# and its 10th at least 3,000 (the classes benchmark's 300 validation slices per class in a 10% split).
P_BLEED = 1.0
SDH_EXTENT = 0.6  # scales subdural z extents, so that fewer slices show a subdural alone
CLUSTER_P = 0.9  # a patient's later bleeds lie near the first with this probability ...
CLUSTER_SD = 5.0  # ... within this many mm (standard deviation) in z
PRESENT_FRACTION = 0.95  # a lesion is on a slice when |z - centre| < 0.95 of its half height
VENTRICLE_SHOWN = 0.15  # intraventricular blood shows where the ventricles reach this share of their largest
PARENCHYMA_INSIDE = 0.8  # a haematoma shows where its centre lies within this (squared) share of the brain


@dataclass(frozen=True)
class Lesion:
    """One haemorrhage. Its cross-section on a slice shrinks as sqrt(1 - (dz / z_half)^2)."""

    kind: str  # one of RSNA_SUBTYPES
    z: float  # centre height, mm
    z_half: float  # half extent along z, mm
    hu: float  # blood density
    angle: float = 0.0  # position around the head (rad, atan2(y, x) in the head frame)
    span: float = 0.0  # angular half-width (epidural, subdural, subarachnoid), rad
    size: float = 0.0  # thickness (epidural, subdural), radius (intraparenchymal), fill fraction (others)
    x: float = 0.0  # centre (intraparenchymal), head frame, mm
    y: float = 0.0
    cisternal: bool = False  # subarachnoid blood also fills the basal cisterns and Sylvian fissures
    rim: float = 0.0  # oedema rim width around a parenchymal haematoma, mm

    def scale(self, z: float) -> float:
        """Cross-section factor on a slice at height z (0 where the lesion is absent)."""
        u = (z - self.z) / self.z_half
        return math.sqrt(1.0 - u * u) if abs(u) < PRESENT_FRACTION else 0.0


@dataclass(frozen=True, eq=False)
class PatientPlan:
    """Everything drawn for one patient before any pixel is rendered."""

    patient_id: str
    study_uid: str
    series_uid: str
    image_ids: tuple[str, ...]
    sop_uids: tuple[str, ...]
    z: np.ndarray  # slice heights relative to the widest level of the skull, mm, ascending
    table_z: float  # ImagePositionPatient z of the widest level
    anatomy: Anatomy
    lesions: tuple[Lesion, ...]
    labels: np.ndarray  # (n_slices, 6) int8 in RSNA_CSV_TYPES order
    encoding: str
    window: tuple[list[int], list[int]]  # WindowCenter, WindowWidth header values
    matrix: int = SIZE  # Rows = Columns; the field of view is the same at every matrix


# ---------------------------------------------------------------------------------------------
# Haemorrhages. Heights are relative to the dome height c; a severity 0..1 sizes each bleed.


SEVERITY_BETA = (1.3, 1.8)  # a bleed's severity ~ Beta(a, b): many small, some large


@dataclass(frozen=True)
class BloodDensity:
    """Acute blood is about 50-90 HU; small, thin bleeds read lower through partial volume."""

    base: tuple[float, float] = (50.0, 62.0)  # HU (uniform) ...
    gain: float = 26.0  # ... plus this times the severity ...
    partial: tuple[float, float] = (0.4, 1.0)  # ... times a uniform factor


@dataclass(frozen=True)
class Epidural:
    """A lens against the skull, mostly temporo-parietal."""

    heights: tuple[float, float] = (-0.35, 0.45)
    z_half: tuple[float, float] = (8.0, 14.0)  # mm: a + b * severity
    blood: tuple[float, float] = (0.5, 0.5)  # blood density at severity a + b * severity
    angle_sd: float = 0.5  # around the patient's side, rad (normal)
    span: tuple[float, float] = (0.28, 0.5)  # angular half-width, rad
    thickness: tuple[float, float] = (4.0, 16.0)  # mm: a + b * severity


@dataclass(frozen=True)
class Subdural:
    """A crescent along the convexity, often long in z."""

    heights: tuple[float, float] = (-0.1, 0.5)
    z_half: tuple[float, float] = (14.0, 26.0)  # mm (uniform) ...
    z_half_severity: float = 22.0  # ... plus this times the severity, all times SDH_EXTENT
    angle_sd: float = 0.6
    span: tuple[float, float] = (0.6, 1.5)
    thickness: tuple[float, float, float] = (1.6, 12.0, 1.5)  # mm: a + b * severity ** c


@dataclass(frozen=True)
class Subarachnoid:
    """Thin blood in the sulci; aneurysmal bleeds also fill the basal cisterns."""

    p_cisternal: float = 0.4
    cisternal_heights: tuple[float, float] = (-0.35, -0.05)
    heights: tuple[float, float] = (-0.15, 0.6)
    z_half: tuple[float, float] = (8.0, 16.0)  # mm (uniform) ...
    z_half_severity: float = 14.0  # ... plus this times the severity
    hu: tuple[float, float] = (45.0, 60.0)  # thin blood mixes with CSF: HU (uniform) ...
    hu_severity: float = 18.0  # ... plus this times the severity
    span: tuple[float, float] = (0.35, 1.2)  # angular half-width, rad ...
    cisternal_span: float = 1.5  # ... wider when cisternal
    fill: tuple[float, float] = (0.35, 0.65)  # how deep into the sulci it fills: a + b * severity


@dataclass(frozen=True)
class Intraparenchymal:
    """A haematoma in brain tissue with an oedema rim: deep (hypertensive), lobar or cerebellar."""

    p_second: float = 0.25  # a second haematoma
    radius: tuple[float, float] = (3.0, 19.0)  # mm: a + b * its own severity
    z_half: float = 1.25  # half extent in z over the radius
    blood: tuple[float, float] = (0.4, 0.6)  # blood density at severity a + b * severity
    p_deep: float = 0.45  # basal ganglia / thalamus ...
    p_lobar: float = 0.45  # ... lobar or contusion, else cerebellar
    deep_x: tuple[float, float] = (8.0, 26.0)  # |x|, mm
    deep_y: tuple[float, float] = (-10.0, 12.0)
    deep_heights: tuple[float, float] = (-0.2, 0.2)
    lobar_heights: tuple[float, float] = (-0.25, 0.55)
    lobar_reach: tuple[float, float] = (0.45, 0.2)  # share of the cross-section's radius: a + b * draw
    cerebellar_x: tuple[float, float] = (15.0, 30.0)  # |x|, mm
    cerebellar_y: float = 0.55  # times b
    cerebellar_heights: tuple[float, float] = (-0.6, -0.42)
    rim: tuple[float, float] = (1.5, 4.0)  # oedema rim, mm: a + b * severity * draw


@dataclass(frozen=True)
class Intraventricular:
    """Blood layering in the ventricles (a cast when severe)."""

    heights: tuple[float, float] = (0.08, -0.1)  # inside the lateral ventricles' range by these
    z_half: tuple[float, float] = (10.0, 16.0)  # mm (uniform) ...
    z_half_severity: float = 18.0  # ... plus this times the severity
    fill: tuple[float, float] = (0.25, 0.75)  # share of the ventricle filled: a + b * severity


BLOOD = BloodDensity()
EPIDURAL = Epidural()
SUBDURAL = Subdural()
SUBARACHNOID = Subarachnoid()
INTRAPARENCHYMAL = Intraparenchymal()
INTRAVENTRICULAR = Intraventricular()


def _choose_subtypes(rng: np.random.Generator) -> list[str]:
    weights = np.array([w for w, _ in SCENARIOS])
    scenario = SCENARIOS[int(rng.choice(len(SCENARIOS), p=weights / weights.sum()))][1]
    kinds = [k for k in RSNA_SUBTYPES if k in scenario and rng.random() < scenario[k]]
    if not kinds:  # a trauma draw with nothing chosen: its most likely subtype
        kinds = [max(scenario, key=scenario.get)]
    return kinds


def _blood_hu(rng: np.random.Generator, severity: float) -> float:
    """Acute blood is about 50-90 HU; small, thin bleeds read lower through partial volume."""
    return float(rng.uniform(*BLOOD.base) + BLOOD.gain * severity * rng.uniform(*BLOOD.partial))


def draw_lesions(rng: np.random.Generator, an: Anatomy, z_lo: float, z_hi: float) -> list[Lesion]:
    """The haemorrhages of one patient (empty for most), placed where each subtype occurs."""
    if rng.random() >= P_BLEED:
        return []
    lesions: list[Lesion] = []
    c = an.c

    def height(lo: float, hi: float) -> float:
        """A centre height in [lo, hi] x c; a patient's later bleeds mostly cluster near the first."""
        if lesions and rng.random() < CLUSTER_P:
            return float(np.clip(lesions[0].z + rng.normal(0.0, CLUSTER_SD), lo * c, hi * c))
        return float(rng.uniform(lo, hi) * c)

    for kind in _choose_subtypes(rng):
        sev = float(rng.beta(*SEVERITY_BETA))
        side = rng.choice([-1.0, 1.0])
        lateral = 0.0 if side > 0 else math.pi  # angle of the patient's left or right side
        if kind == "epidural":  # lens against the skull, mostly temporo-parietal
            m = EPIDURAL
            lesions.append(
                Lesion(
                    kind,
                    z=height(*m.heights),
                    z_half=float(m.z_half[0] + m.z_half[1] * sev),
                    hu=_blood_hu(rng, m.blood[0] + m.blood[1] * sev),
                    angle=lateral + float(rng.normal(0.0, m.angle_sd)),
                    span=float(rng.uniform(*m.span)),
                    size=float(m.thickness[0] + m.thickness[1] * sev),
                )
            )
        elif kind == "subdural":  # crescent along the convexity, often long in z
            m = SUBDURAL
            lesions.append(
                Lesion(
                    kind,
                    z=height(*m.heights),
                    z_half=float((rng.uniform(*m.z_half) + m.z_half_severity * sev) * SDH_EXTENT),
                    hu=_blood_hu(rng, sev),
                    angle=lateral + float(rng.normal(0.0, m.angle_sd)),
                    span=float(rng.uniform(*m.span)),
                    size=float(m.thickness[0] + m.thickness[1] * sev ** m.thickness[2]),
                )
            )
        elif kind == "subarachnoid":  # thin blood in sulci; aneurysmal bleeds also fill the cisterns
            m = SUBARACHNOID
            cisternal = bool(rng.random() < m.p_cisternal)
            zc = height(*m.cisternal_heights) if cisternal else height(*m.heights)
            lesions.append(
                Lesion(
                    kind,
                    z=zc,
                    z_half=float(rng.uniform(*m.z_half) + m.z_half_severity * sev),
                    hu=float(rng.uniform(*m.hu) + m.hu_severity * sev),
                    angle=float(rng.uniform(0, 2 * math.pi)),
                    span=float(rng.uniform(*m.span) + (m.cisternal_span if cisternal else 0.0)),
                    size=float(m.fill[0] + m.fill[1] * sev),
                    cisternal=cisternal,
                )
            )
        elif kind == "intraparenchymal":  # a blob in brain tissue with an oedema rim
            m = INTRAPARENCHYMAL
            for _ in range(1 + int(rng.random() < m.p_second)):
                sev_i = float(rng.beta(*SEVERITY_BETA))
                radius = float(m.radius[0] + m.radius[1] * sev_i)
                site = rng.random()
                if site < m.p_deep:  # basal ganglia / thalamus (hypertensive)
                    x, y, zc = side * rng.uniform(*m.deep_x), rng.uniform(*m.deep_y), height(*m.deep_heights)
                elif site < m.p_deep + m.p_lobar:  # lobar or contusion, nearer the cortex
                    ang = rng.uniform(0, 2 * math.pi)
                    zc = height(*m.lobar_heights)
                    reach = (m.lobar_reach[0] + m.lobar_reach[1] * rng.random()) * brain_scale(zc, an)
                    x, y = reach * an.a * math.cos(ang), reach * an.b * math.sin(ang)
                else:  # cerebellar
                    x, y, zc = side * rng.uniform(*m.cerebellar_x), m.cerebellar_y * an.b, height(*m.cerebellar_heights)
                lesions.append(
                    Lesion(
                        kind,
                        z=float(zc),
                        z_half=radius * m.z_half,
                        hu=_blood_hu(rng, m.blood[0] + m.blood[1] * sev_i),
                        size=radius,
                        x=float(x),
                        y=float(y),
                        angle=float(rng.uniform(0, 2 * math.pi)),
                        rim=float(m.rim[0] + m.rim[1] * sev_i * rng.random()),
                    )
                )
        elif kind == "intraventricular":  # blood layering in the ventricles (a cast when severe)
            m = INTRAVENTRICULAR
            lesions.append(
                Lesion(
                    kind,
                    z=height(LATERAL_VENTRICLES[0] + m.heights[0], LATERAL_VENTRICLES[1] + m.heights[1]),
                    z_half=float(rng.uniform(*m.z_half) + m.z_half_severity * sev),
                    hu=_blood_hu(rng, sev),
                    size=float(m.fill[0] + m.fill[1] * sev),
                )
            )
    return [les for les in lesions if z_lo - les.z_half < les.z < z_hi + les.z_half]


def lesion_on_slice(lesion: Lesion, z: float, an: Anatomy) -> bool:
    """Whether a lesion shows on the slice at z; the label rule and the renderer agree on this."""
    if lesion.scale(z) == 0.0:
        return False
    if lesion.kind == "intraventricular":
        return ventricle_extent(z, an) > VENTRICLE_SHOWN
    if lesion.kind == "intraparenchymal":  # its centre must lie in the brain's cross-section there
        s = brain_scale(z, an)
        return s > 0 and (lesion.x / (an.a * s)) ** 2 + (lesion.y / (an.b * s)) ** 2 < PARENCHYMA_INSIDE
    return True


def slice_labels(lesions: Sequence[Lesion], z: np.ndarray, an: Anatomy) -> np.ndarray:
    """(n_slices, 6) int8 labels in RSNA_CSV_TYPES order; "any" is the maximum of the five."""
    labels = np.zeros((len(z), len(RSNA_CSV_TYPES)), dtype=np.int8)
    for les in lesions:
        col = RSNA_SUBTYPES.index(les.kind)
        for k, zk in enumerate(z):
            if lesion_on_slice(les, float(zk), an):
                labels[k, col] = 1
    labels[:, -1] = labels[:, :-1].max(axis=1)
    return labels


# ---------------------------------------------------------------------------------------------
# Patients: anatomy, slices, lesions, labels, ids.


@dataclass(frozen=True)
class Series:
    """How a patient's series is taken and stored."""

    bottom: float = -0.66  # the first slice at this many dome heights (the posterior fossa) ...
    top: tuple[float, float] = (0.82, 0.9)  # ... the last one near the vertex (uniform)
    jitter: float = 1.0  # the stack shifts by up to +-this many mm
    window_centers: tuple[int, ...] = (30, 35, 36, 40, 50)  # WindowCenter header values seen in RSNA
    window_widths: tuple[int, ...] = (80, 90, 100, 120, 150)
    p_repeated_window: float = 0.2  # some real files carry multi-valued window headers
    table_z: tuple[float, float] = (-80.0, 120.0)  # table position of the widest level, mm


SERIES = Series()


def _hex(rng: np.random.Generator, digits: int) -> str:
    return "".join(f"{int(v):x}" for v in rng.integers(0, 16, size=digits))


def _uid(rng: np.random.Generator) -> str:
    """A valid DICOM UID under the 2.25 (UUID-derived) root, from 128 random bits."""
    hi, lo = (int(v) for v in rng.integers(0, 2**63, size=2, dtype=np.int64))
    return f"2.25.{(hi << 64) | lo}"


def plan_patient(rng: np.random.Generator, n_slices: int, encoding: str, matrix: int = SIZE) -> PatientPlan:
    s = SERIES
    an = draw_anatomy(rng)
    if matrix != SIZE:  # same field of view on fewer, larger pixels
        an = dataclasses.replace(an, spacing=an.spacing * SIZE / matrix)
    # From the skull base (posterior fossa) to near the vertex, evenly spaced.
    z_lo, z_hi = s.bottom * an.c, float(rng.uniform(*s.top)) * an.c
    z = np.linspace(z_lo, z_hi, n_slices) + float(rng.uniform(-s.jitter, s.jitter))
    lesions = tuple(draw_lesions(rng, an, float(z[0]), float(z[-1])))
    center = int(rng.choice(s.window_centers))
    width = int(rng.choice(s.window_widths))
    repeat = 2 if rng.random() < s.p_repeated_window else 1
    return PatientPlan(
        patient_id="ID_" + _hex(rng, 8),
        study_uid=_uid(rng),
        series_uid=_uid(rng),
        image_ids=tuple("ID_" + _hex(rng, 9) for _ in range(n_slices)),
        sop_uids=tuple(_uid(rng) for _ in range(n_slices)),
        z=z,
        table_z=float(rng.uniform(*s.table_z)),
        anatomy=an,
        lesions=lesions,
        labels=slice_labels(lesions, z, an),
        encoding=encoding,
        window=([center] * repeat, [width] * repeat),
        matrix=matrix,
    )


def plan_patients(
    n_patients: int,
    seed: int,
    slices_per_patient: tuple[int, int] = (12, 20),
    quirk_fraction: float = 0.03,
    matrix: int = SIZE,
) -> list[PatientPlan]:
    """Draw every patient of a phantom dataset (no pixels). Same seed, same plans.

    Slice counts are uniform in `slices_per_patient` (inclusive). ceil(quirk_fraction * n) patients,
    chosen at random, use the 12-bit quirk encoding; the rest are split between signed 16-bit (55%)
    and unsigned 12-bit. `matrix`: rows and columns of every slice (RSNA: 512); anatomy and labels do
    not depend on it.
    """
    check_matrix(matrix)
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    lo, hi = slices_per_patient
    if not 2 <= lo <= hi:
        raise ValueError(f"slices_per_patient must be (lo, hi) with 2 <= lo <= hi, got {slices_per_patient}")
    seeds = np.random.SeedSequence(seed).spawn(n_patients + 1)
    setup = np.random.default_rng(seeds[-1])
    encodings = np.where(setup.random(n_patients) < P_SIGNED16, "signed16", "unsigned12").astype(object)
    n_quirk = math.ceil(quirk_fraction * n_patients) if quirk_fraction > 0 else 0
    encodings[setup.permutation(n_patients)[:n_quirk]] = "quirk12"
    plans = []
    for i in range(n_patients):
        rng = np.random.default_rng(seeds[i])
        plans.append(plan_patient(rng, int(rng.integers(lo, hi + 1)), str(encodings[i]), matrix))
    return unique_ids(plans, setup)


def unique_ids(plans: list[PatientPlan], rng: np.random.Generator) -> list[PatientPlan]:
    """Redraw repeated patient or image ids (Kaggle's short hex ids do clash at paper scale)."""
    seen_patients: set[str] = set()
    seen_images: set[str] = set()
    out = []
    for plan in plans:
        patient_id = plan.patient_id
        while patient_id in seen_patients:
            patient_id = "ID_" + _hex(rng, 8)
        seen_patients.add(patient_id)
        image_ids = []
        for image_id in plan.image_ids:
            while image_id in seen_images:
                image_id = "ID_" + _hex(rng, 9)
            seen_images.add(image_id)
            image_ids.append(image_id)
        if patient_id != plan.patient_id or image_ids != list(plan.image_ids):
            plan = dataclasses.replace(plan, patient_id=patient_id, image_ids=tuple(image_ids))
        out.append(plan)
    return out
