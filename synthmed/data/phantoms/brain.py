"""Phantom brain CT slices written as the RSNA Intracranial Hemorrhage Detection dataset (Kaggle stage 2).

`make_rsna(root, n_patients, seed)` writes what Kaggle ships:

- `root/stage_2_train/ID_<hex>.dcm`: one axial CT slice per file, CT Image Storage, uncompressed
  (Explicit VR Little Endian), 512x512 16-bit pixels (`matrix`: fewer, larger pixels over the same
  field of view) with RescaleSlope/RescaleIntercept, window headers, PixelSpacing, PatientID,
  Study/Series Instance UIDs and ImagePositionPatient. Each patient is one series of consecutive
  slices from the skull base to the vertex; the patient id lives only in the headers, as in the
  real data.
- `root/stage_2_train.csv`: header `ID,Label`, six rows `ID_<hex>_<subtype>,<0|1>` per image in
  the order epidural, intraparenchymal, intraventricular, subarachnoid, subdural, any, images in
  random order, and a few images' six rows repeated, as the real file repeats a few images.

Pixel encodings vary between patients, as the real files mix 12- and 16-bit, signed and unsigned
storage: signed 16-bit, unsigned 12-bit with intercept -1024, and a small fraction with the real
dataset's known 12-bit quirk (see `encode_pixels`).

Anatomy is drawn in Hounsfield units from a per-patient head model: an ellipsoidal skull with
scalp, a CSF layer, a cortical grey-matter ribbon folded around sulci, white matter, deep grey
nuclei, lateral/third/fourth ventricles, the interhemispheric and Sylvian fissures, basal cisterns
and skull-base bone, with per-patient size, position, rotation, atrophy, tissue contrast, noise and
calcified distractors (choroid plexus, pineal, falx). Each haemorrhage subtype has its own shape and
place at blood density; a severity draw makes some of them large and some hard to see. Slice labels
come from the same lesion geometry the renderer uses, so a positive label always has blood pixels.

Rendering is vectorised over precomputed per-patient coordinate grids; expensive random fields
(noise, texture) are drawn once per dataset and sampled at random offsets.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset, write_file_meta_info
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian
from scipy.ndimage import uniform_filter
from tqdm.auto import tqdm

from synthmed.data import RSNA_CSV_TYPES, RSNA_SUBTYPES

IMAGE_DIR = "stage_2_train"
CSV_NAME = "stage_2_train.csv"
SIZE = 512  # RSNA slices are 512x512
RENDER_MIN = 256  # smaller matrices are drawn at this size and averaged in HU (partial volume)

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
# The real file repeats the six rows of 4 of its 752,803 images; a phantom repeats one image per
# this many images (at least one), so that readers meet duplicates even in small phantoms.
DUPLICATE_EVERY = 5000

ENCODINGS = ("signed16", "unsigned12", "quirk12")
AIR_HU = -1000.0
OEDEMA_HU = -12.0  # perihaematomal oedema relative to white matter

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
# Anatomy along z: which structures a slice at relative height h = z / c shows.


def brain_scale(z: float, an: Anatomy) -> float:
    """Inner-skull cross-section scale at height z (1 at the widest level)."""
    h = z / an.c if z >= 0 else z / (1.35 * an.c)  # the skull base is flatter than the dome
    return math.sqrt(max(0.0, 1.0 - h * h))


def _bell(h: float, lo: float, hi: float) -> float:
    """0 outside [lo, hi], rising to 1 in the middle: how much of a structure a slice cuts."""
    if not lo < h < hi:
        return 0.0
    return math.sin(math.pi * (h - lo) / (hi - lo)) ** 0.7


LATERAL_VENTRICLES = (-0.12, 0.52)  # relative heights h = z / c
ATRIA = (-0.10, 0.28)
THIRD_VENTRICLE = (-0.34, -0.02)
FOURTH_VENTRICLE = (-0.62, -0.38)
DEEP_GREY = (-0.24, 0.22)
SYLVIAN = (-0.36, 0.16)
SUPRASELLAR = (-0.44, -0.20)
AMBIENT = (-0.36, -0.10)
POSTERIOR_FOSSA = (-0.80, -0.34)


def ventricle_extent(z: float, an: Anatomy) -> float:
    return _bell(z / an.c, *LATERAL_VENTRICLES)


# ---------------------------------------------------------------------------------------------
# Drawing patients (no pixels): anatomy, slices, lesions, labels.


def check_matrix(matrix: int) -> int:
    """A slice matrix the phantom renders: 512 divided by a power of two, at least 64."""
    if not (isinstance(matrix, int) and 64 <= matrix <= SIZE and SIZE % matrix == 0 and matrix & (matrix - 1) == 0):
        raise ValueError(f"matrix must be 512 divided by a power of two and at least 64, got {matrix!r}")
    return matrix


def _hex(rng: np.random.Generator, digits: int) -> str:
    return "".join(f"{int(v):x}" for v in rng.integers(0, 16, size=digits))


def _uid(rng: np.random.Generator) -> str:
    """A valid DICOM UID under the 2.25 (UUID-derived) root, from 128 random bits."""
    hi, lo = (int(v) for v in rng.integers(0, 2**63, size=2, dtype=np.int64))
    return f"2.25.{(hi << 64) | lo}"


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    atrophy = float(rng.beta(1.6, 4.0))
    grey = float(rng.uniform(34.0, 42.0))
    return Anatomy(
        a=float(rng.uniform(62.0, 72.0)),
        b=float(rng.uniform(78.0, 90.0)),
        c=float(rng.uniform(66.0, 76.0)),
        skull=float(rng.uniform(5.0, 8.5)),
        scalp=float(rng.uniform(3.0, 6.5)),
        offset=(float(rng.normal(0.0, 4.0)), float(rng.normal(0.0, 6.0))),
        tilt=float(rng.normal(0.0, 0.07)),
        spacing=float(rng.uniform(0.42, 0.50)),
        grey=grey,
        white=grey - float(rng.uniform(7.0, 12.0)),
        csf=float(rng.uniform(2.0, 10.0)),
        atrophy=atrophy,
        ventricles=float(rng.uniform(0.8, 1.1) + 0.9 * atrophy),
        gyri=int(rng.integers(22, 32)),
        phases=tuple(float(p) for p in rng.uniform(0.0, 2 * math.pi, size=5)),
        noise=float(rng.uniform(2.5, 5.0)),
        choroid_hu=float(rng.uniform(120.0, 400.0)) if rng.random() < 0.5 else 0.0,
        pineal_hu=float(rng.uniform(120.0, 300.0)) if rng.random() < 0.35 else 0.0,
        falx_hu=float(rng.uniform(60.0, 250.0)) if rng.random() < 0.1 else float(rng.uniform(38.0, 52.0)),
    )


def _choose_subtypes(rng: np.random.Generator) -> list[str]:
    weights = np.array([w for w, _ in SCENARIOS])
    scenario = SCENARIOS[int(rng.choice(len(SCENARIOS), p=weights / weights.sum()))][1]
    kinds = [k for k in RSNA_SUBTYPES if k in scenario and rng.random() < scenario[k]]
    if not kinds:  # a trauma draw with nothing chosen: its most likely subtype
        kinds = [max(scenario, key=scenario.get)]
    return kinds


def _blood_hu(rng: np.random.Generator, severity: float) -> float:
    """Acute blood is about 50-90 HU; small, thin bleeds read lower through partial volume."""
    return float(rng.uniform(50.0, 62.0) + 26.0 * severity * rng.uniform(0.4, 1.0))


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
        sev = float(rng.beta(1.3, 1.8))  # severity 0..1: many small, some large
        side = rng.choice([-1.0, 1.0])
        lateral = 0.0 if side > 0 else math.pi  # angle of the patient's left or right side
        if kind == "epidural":  # lens against the skull, mostly temporo-parietal
            lesions.append(
                Lesion(
                    kind,
                    z=height(-0.35, 0.45),
                    z_half=float(8.0 + 14.0 * sev),
                    hu=_blood_hu(rng, 0.5 + 0.5 * sev),
                    angle=lateral + float(rng.normal(0.0, 0.5)),
                    span=float(rng.uniform(0.28, 0.5)),
                    size=float(4.0 + 16.0 * sev),
                )
            )
        elif kind == "subdural":  # crescent along the convexity, often long in z
            lesions.append(
                Lesion(
                    kind,
                    z=height(-0.1, 0.5),
                    z_half=float((rng.uniform(14.0, 26.0) + 22.0 * sev) * SDH_EXTENT),
                    hu=_blood_hu(rng, sev),
                    angle=lateral + float(rng.normal(0.0, 0.6)),
                    span=float(rng.uniform(0.6, 1.5)),
                    size=float(1.6 + 12.0 * sev**1.5),
                )
            )
        elif kind == "subarachnoid":  # thin blood in sulci; aneurysmal bleeds also fill the cisterns
            cisternal = bool(rng.random() < 0.4)
            zc = height(-0.35, -0.05) if cisternal else height(-0.15, 0.6)
            lesions.append(
                Lesion(
                    kind,
                    z=zc,
                    z_half=float(rng.uniform(8.0, 16.0) + 14.0 * sev),
                    hu=float(rng.uniform(45.0, 60.0) + 18.0 * sev),
                    angle=float(rng.uniform(0, 2 * math.pi)),
                    span=float(rng.uniform(0.35, 1.2) + (1.5 if cisternal else 0.0)),
                    size=float(0.35 + 0.65 * sev),
                    cisternal=cisternal,
                )
            )
        elif kind == "intraparenchymal":  # a blob in brain tissue with an oedema rim
            for _ in range(1 + int(rng.random() < 0.25)):
                sev_i = float(rng.beta(1.3, 1.8))
                radius = float(3.0 + 19.0 * sev_i)
                site = rng.random()
                if site < 0.45:  # basal ganglia / thalamus (hypertensive)
                    x, y, zc = side * rng.uniform(8.0, 26.0), rng.uniform(-10.0, 12.0), height(-0.2, 0.2)
                elif site < 0.9:  # lobar or contusion, nearer the cortex
                    ang = rng.uniform(0, 2 * math.pi)
                    zc = height(-0.25, 0.55)
                    reach = (0.45 + 0.2 * rng.random()) * brain_scale(zc, an)
                    x, y = reach * an.a * math.cos(ang), reach * an.b * math.sin(ang)
                else:  # cerebellar
                    x, y, zc = side * rng.uniform(15.0, 30.0), 0.55 * an.b, height(-0.6, -0.42)
                lesions.append(
                    Lesion(
                        kind,
                        z=float(zc),
                        z_half=radius * 1.25,
                        hu=_blood_hu(rng, 0.4 + 0.6 * sev_i),
                        size=radius,
                        x=float(x),
                        y=float(y),
                        angle=float(rng.uniform(0, 2 * math.pi)),
                        rim=float(1.5 + 4.0 * sev_i * rng.random()),
                    )
                )
        elif kind == "intraventricular":  # blood layering in the ventricles (a cast when severe)
            lesions.append(
                Lesion(
                    kind,
                    z=height(LATERAL_VENTRICLES[0] + 0.08, LATERAL_VENTRICLES[1] - 0.1),
                    z_half=float(rng.uniform(10.0, 16.0) + 18.0 * sev),
                    hu=_blood_hu(rng, sev),
                    size=float(0.25 + 0.75 * sev),
                )
            )
    return [les for les in lesions if z_lo - les.z_half < les.z < z_hi + les.z_half]


def lesion_on_slice(lesion: Lesion, z: float, an: Anatomy) -> bool:
    """Whether a lesion shows on the slice at z; the label rule and the renderer agree on this."""
    if lesion.scale(z) == 0.0:
        return False
    if lesion.kind == "intraventricular":
        return ventricle_extent(z, an) > 0.15
    if lesion.kind == "intraparenchymal":  # its centre must lie in the brain's cross-section there
        s = brain_scale(z, an)
        return s > 0 and (lesion.x / (an.a * s)) ** 2 + (lesion.y / (an.b * s)) ** 2 < 0.8
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


def plan_patient(rng: np.random.Generator, n_slices: int, encoding: str, matrix: int = SIZE) -> PatientPlan:
    an = draw_anatomy(rng)
    if matrix != SIZE:  # same field of view on fewer, larger pixels
        an = dataclasses.replace(an, spacing=an.spacing * SIZE / matrix)
    # From the skull base (posterior fossa) to near the vertex, evenly spaced.
    z_lo, z_hi = -0.66 * an.c, float(rng.uniform(0.82, 0.9)) * an.c
    z = np.linspace(z_lo, z_hi, n_slices) + float(rng.uniform(-1.0, 1.0))
    lesions = tuple(draw_lesions(rng, an, float(z[0]), float(z[-1])))
    center = int(rng.choice([30, 35, 36, 40, 50]))
    width = int(rng.choice([80, 90, 100, 120, 150]))
    repeat = 2 if rng.random() < 0.2 else 1  # some real files carry multi-valued window headers
    return PatientPlan(
        patient_id="ID_" + _hex(rng, 8),
        study_uid=_uid(rng),
        series_uid=_uid(rng),
        image_ids=tuple("ID_" + _hex(rng, 9) for _ in range(n_slices)),
        sop_uids=tuple(_uid(rng) for _ in range(n_slices)),
        z=z,
        table_z=float(rng.uniform(-80.0, 120.0)),
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
    encodings = np.where(setup.random(n_patients) < 0.55, "signed16", "unsigned12").astype(object)
    n_quirk = math.ceil(quirk_fraction * n_patients) if quirk_fraction > 0 else 0
    encodings[setup.permutation(n_patients)[:n_quirk]] = "quirk12"
    plans = []
    for i in range(n_patients):
        rng = np.random.default_rng(seeds[i])
        plans.append(plan_patient(rng, int(rng.integers(lo, hi + 1)), str(encodings[i]), matrix))
    return _unique_ids(plans, setup)


def _unique_ids(plans: list[PatientPlan], rng: np.random.Generator) -> list[PatientPlan]:
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


# ---------------------------------------------------------------------------------------------
# Rendering.


def _unit_field(rng: np.random.Generator, shape: tuple[int, int], smooth: int) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian noise box-filtered over `smooth` pixels (wrapping), float32."""
    f = rng.standard_normal(shape, dtype=np.float32)
    for _ in range(2 if smooth > 2 else 1):
        f = uniform_filter(f, size=smooth, mode="wrap") if smooth > 1 else f
    f -= f.mean()
    f /= f.std()
    return f


class _Banks:
    """Random fields drawn once per dataset; each slice reads windows of them at random offsets."""

    def __init__(self, rng: np.random.Generator, size: int = SIZE):
        side = size + size // 2  # room for random window offsets
        self.size = size
        self.noise = _unit_field(rng, (side, side), 2)  # CT noise is slightly correlated
        texture_px = max(1, round(9 * size / SIZE))  # about 4 mm at any pixel size
        self.texture = 1.6 * _unit_field(rng, (side, side), texture_px)  # parenchymal mottling, HU

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


class _HeadGrid:
    """Per-patient coordinate fields over the head's bounding box (float32, head frame, mm).

    `grain` is the patient's noise (scaled to its noise level) plus parenchymal texture, over the
    banks' full size; each slice adds a window of it.
    """

    def __init__(self, an: Anatomy, banks: _Banks):
        self.size = size = banks.size  # a size x size slice of an.spacing pixels
        # Per-pixel noise falls with the pixel count, so that slices averaged down to the paper's
        # 128 px carry about the same noise from any drawing size.
        self.grain = banks.noise * np.float32(an.noise * size / SIZE)
        self.grain += banks.texture
        ps = self.ps = an.spacing
        self.cos, self.sin = math.cos(an.tilt), math.sin(an.tilt)
        self.cy, self.cx = size / 2 + an.offset[1] / ps, size / 2 + an.offset[0] / ps
        grow = an.skull * 1.8 + an.scalp + 3.0  # the skull looks thicker near the vertex
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
        p, k = an.phases, an.gyri
        # The sulcal pattern depends on the angle only: tabulate it and look each pixel's angle up.
        t = (np.arange(ANGLE_BINS) + 0.5) * (2 * math.pi / ANGLE_BINS) - math.pi
        phase = k * t + 2.2 * np.sin(3 * t + p[0]) + 1.4 * np.sin(7 * t + p[1])  # sulci where it crosses pi
        wobble = np.sin(5 * t + p[2])
        sulcus_depth = (9.0 + 4.0 * an.atrophy) * (0.85 + 0.3 * np.sin(11 * t + p[3]))  # < SULCUS_BAND - 2.4
        bins = ((theta.ravel() + math.pi) * (ANGLE_BINS / (2 * math.pi))).astype(np.int32) % ANGLE_BINS
        period = (2 * math.pi / k) * self.r.ravel()  # arc length between neighbouring sulci, mm
        # One (4, n) array, so that a slice gathers its cortical band in one indexing operation.
        self.sulcal = np.stack([phase[bins], wobble[bins], period, sulcus_depth[bins]]).astype(np.float32)
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


@dataclass
class _Slice:
    """The slice being drawn: its height, brain scale and the fields the drawing steps share."""

    z: float
    h: float  # z / dome height
    s: float  # brain cross-section scale
    hu: np.ndarray  # (grid shape) float32, drawn in place
    depth: np.ndarray  # mm below the inner table (negative: skull, scalp, air)
    band: np.ndarray | None = None  # flat indices of the cortical band (0 < depth < SULCUS_BAND)
    band_csf: np.ndarray | None = None  # which band pixels are CSF-filled sulci
    ventricles: list | None = None  # (x, y, rx, ry, angle) of lateral ventricle parts on this slice


def _ellipse(
    grid: _HeadGrid,
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


ANGLE_BINS = 4096  # angular resolution of the tabulated sulcal pattern
SULCUS_BAND = 17.5  # mm below the inner table that sulci (with their grey-matter lining) reach
LUT_STEPS = 4  # depth profile samples per mm
LUT_REACH = 220.0  # the profile covers depths from -LUT_REACH mm (far outside the head) ...
LUT_DEEP = 120.0  # ... to LUT_DEEP mm inside the inner table, more than any pixel of the grid reaches


def _profile(an: Anatomy, skull: float, csf_layer: float) -> np.ndarray:
    """HU by depth below the inner table: air, scalp, skull, CSF, cortex, white matter.

    Entry i is the HU at depth i / LUT_STEPS - LUT_REACH mm.
    """
    t = skull
    knots = [
        (-(t + an.scalp) - 0.4, AIR_HU),
        (-(t + an.scalp) + 0.3, 45.0),
        (-t - 0.8, 30.0),
        (-t - 0.2, 40.0),
        (-t + 0.1, 1350.0),
        (-0.65 * t, 1250.0),
        (-0.5 * t, 750.0),
        (-0.35 * t, 1250.0),
        (-0.25, 1350.0),
        (0.15, an.csf),
        (csf_layer, an.csf),
        (csf_layer + 0.5, an.grey),
        (csf_layer + 2.6, an.grey),
        (csf_layer + 3.4, an.white),
    ]
    xp, fp = (np.asarray(v, dtype=np.float64) for v in zip(*knots, strict=True))
    depths = np.arange(int((LUT_REACH + LUT_DEEP) * LUT_STEPS)) / LUT_STEPS - LUT_REACH
    return np.interp(depths, xp, fp).astype(np.float32)


def render_slice(
    plan: PatientPlan, grid: _HeadGrid, k: int, rng: np.random.Generator, painted: dict | None = None
) -> np.ndarray:
    """Slice k of a patient in HU, float32 (grid.size, grid.size).

    `painted`, if given, receives {lesion index: number of blood pixels drawn} for the lesions on the slice.
    """
    an = plan.anatomy
    z = float(plan.z[k])
    s = brain_scale(z, an)
    # The skull looks thicker towards the vertex, where the slice cuts it obliquely.
    mean_radius = 0.5 * (an.a + an.b)
    outer = math.sqrt(max(0.0, 1.0 - (z / (an.c + an.skull)) ** 2)) if z > 0 else 1.0
    skull = min(an.skull * 1.8, max(an.skull, outer * (mean_radius + an.skull) - s * mean_radius))
    csf_layer = 0.4 + 2.2 * an.atrophy
    depth = grid.rho * np.float32(s)
    depth -= grid.r
    pos = depth * np.float32(LUT_STEPS)
    pos += np.float32(LUT_REACH * LUT_STEPS)
    hu = _profile(an, skull, csf_layer)[pos.astype(np.int32)]
    sl = _Slice(z=z, h=z / an.c, s=s, hu=hu, depth=depth)

    _draw_sulci(plan, grid, sl, csf_layer)
    _draw_midline(plan, grid, sl)
    _draw_deep_structures(plan, grid, sl)
    _draw_skull_base(plan, grid, sl)
    for i, les in enumerate(plan.lesions):
        if lesion_on_slice(les, z, an):
            count = _draw_lesion(plan, grid, sl, les, csf_layer)
            if painted is not None:
                painted[i] = count

    img = np.full((grid.size, grid.size), AIR_HU, dtype=np.float32)
    img[grid.box] = hu
    img += _Banks.take(grid.grain, rng, (grid.size, grid.size))
    return img


def render_size(matrix: int) -> int:
    """The size slices of a `matrix` are drawn at before averaging down to it."""
    return max(check_matrix(matrix), RENDER_MIN)


def render_grid(plan: PatientPlan, banks: _Banks) -> _HeadGrid:
    """The patient's grid at the banks' drawing size (`render_size(plan.matrix)`), same field of view."""
    an = plan.anatomy
    return _HeadGrid(dataclasses.replace(an, spacing=an.spacing * plan.matrix / banks.size), banks)


def render_matrix_slice(plan: PatientPlan, grid: _HeadGrid, k: int, rng: np.random.Generator) -> np.ndarray:
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


def _draw_sulci(plan: PatientPlan, grid: _HeadGrid, sl: _Slice, csf_layer: float) -> None:
    """Cortical ribbon folded around CSF-filled sulci that bend with depth and drift between slices."""
    an = plan.anatomy
    band = np.flatnonzero((sl.depth > 0) & (sl.depth < SULCUS_BAND))
    d = sl.depth.ravel()[band]
    phase, wobble, period, sulcus_depth = grid.sulcal[:, band]
    u = wobble * (0.3 * d + 1.3 * math.sin(3.1 * sl.h + an.phases[4]))  # bend with depth and height
    u += phase
    u += 0.05 * d + 0.09 * sl.z
    u *= 1 / (2 * math.pi)
    u -= np.floor(u)
    u -= 0.5
    dist = np.abs(u, out=u)
    dist *= period  # mm from the nearest sulcus centre line
    sdepth = sulcus_depth * (0.6 + 0.4 * sl.s)
    width = (0.5 + 1.3 * an.atrophy) * (1.0 - 0.5 * d / sdepth)  # sulcal half-width, narrowing inwards
    csf = (dist < width) & (d < sdepth)
    grey = (dist < width + 2.4) & (d < sdepth + 2.4)
    flat = sl.hu.reshape(-1)
    flat[band[grey & (d > csf_layer + 0.5)]] = an.grey + 1.0
    flat[band[csf]] = an.csf
    sl.band, sl.band_csf = band, csf


def _draw_midline(plan: PatientPlan, grid: _HeadGrid, sl: _Slice) -> None:
    """Interhemispheric fissure with the falx, interrupted by the deep structures lower down."""
    an = plan.anatomy
    gap = 0.0 if sl.h > 0.5 else (0.42 if sl.h > -0.3 else 0.55) * an.b * sl.s
    half = 0.6 + 1.2 * an.atrophy
    length = an.b * sl.s
    for y0, y1 in ((-length, -gap), (gap, length)):
        if y1 - y0 < 2:
            continue
        yc, ry = 0.5 * (y0 + y1), 0.5 * (y1 - y0)
        win = grid.window(0.0, yc, half + 2.5, ry)
        if win is None:
            continue
        ax = np.abs(grid.X[win])
        strip = (np.abs(grid.Y[win] - yc) < ry) & (sl.depth[win] > 0)
        sub = sl.hu[win]
        sub[strip & (ax < half + 1.8)] = an.grey
        sub[strip & (ax < half)] = an.csf
        sub[strip & (ax < 0.45)] = an.falx_hu


def _draw_deep_structures(plan: PatientPlan, grid: _HeadGrid, sl: _Slice) -> None:
    """Basal ganglia, thalami, Sylvian fissures, ventricles (with calcifications) and basal cisterns."""
    an, hu, h, s, v = plan.anatomy, sl.hu, sl.h, sl.s, plan.anatomy.ventricles
    f = _bell(h, *DEEP_GREY)
    if f > 0:
        for side in (-1, 1):
            _ellipse(grid, hu, side * 21 * s, -4.0, 6.5 * f, 13 * f, an.grey - 1.5, angle=side * 0.25)
            _ellipse(grid, hu, side * 10.5 * s, 9.0, 6.5 * f, 9.5 * f, an.grey - 2.5)
    f = _bell(h, *SYLVIAN)
    if f > 0:
        for side in (-1, 1):
            x0 = side * (an.a * s - 14.0)
            _ellipse(grid, hu, x0, -6.0, 15.0 * f, 3.5 + 1.5 * an.atrophy, an.grey, angle=side * 0.35)
            _ellipse(grid, hu, x0, -6.0, 14.0 * f, 0.8 + 1.6 * an.atrophy, an.csf, angle=side * 0.35)
    sl.ventricles = []
    f = ventricle_extent(sl.z, an)
    if f > 0:
        for side in (-1, 1):
            part = (
                side * ((2.2 + 3.0 * f) * v + 1.2),
                -4.0 - 2.0 * f,
                (2.2 + 3.0 * f) * v,
                (12.0 + 10.0 * f) * v,
                -side * 0.18,
            )
            if _ellipse(grid, hu, *part[:4], an.csf, angle=part[4]):
                sl.ventricles.append(part)
    fa = _bell(h, *ATRIA)
    if fa > 0:
        for side in (-1, 1):
            part = (
                side * (9.0 + 4.0 * fa) * v,
                14.0 + 6.0 * fa * v,
                4.5 * fa * v,
                8.5 * fa * v,
                side * 0.35,
            )
            if _ellipse(grid, hu, *part[:4], an.csf, angle=part[4]):
                sl.ventricles.append(part)
            if an.choroid_hu and fa > 0.4:
                _ellipse(grid, hu, part[0], part[1] + 1.0, 1.8, 2.2, an.choroid_hu)
    f3 = _bell(h, *THIRD_VENTRICLE)
    if f3 > 0:
        _ellipse(grid, hu, 0.0, 4.0, (1.0 + 1.2 * an.atrophy) * f3 * v, 9.0 * f3, an.csf)
        if an.pineal_hu and f3 > 0.5:
            _ellipse(grid, hu, 0.0, 16.0, 1.6, 1.6, an.pineal_hu)
    f = _bell(h, *AMBIENT)
    if f > 0:  # midbrain ringed by the ambient cistern
        _ellipse(grid, hu, 0.0, 8.0, 14.0 * f + 1.5, 12.0 * f + 1.5, an.csf)
        _ellipse(grid, hu, 0.0, 8.0, 14.0 * f, 12.0 * f, an.grey - 4.0)
    f = _bell(h, *SUPRASELLAR)
    if f > 0:
        _ellipse(grid, hu, 0.0, -16.0, 9.0 * f, 7.0 * f, an.csf)


def _draw_skull_base(plan: PatientPlan, grid: _HeadGrid, sl: _Slice) -> None:
    """Posterior fossa: petrous ridges, clivus, pons with the prepontine cistern, fourth ventricle."""
    an, hu = plan.anatomy, sl.hu
    f = _bell(sl.h, *POSTERIOR_FOSSA)
    if f <= 0:
        return
    for side in (-1, 1):  # petrous ridges run from the ears towards the clivus
        _ellipse(
            grid,
            hu,
            side * 0.55 * an.a * sl.s,
            0.12 * an.b,
            22.0 * f + 4,
            5.0 * f + 1.5,
            1150.0,
            angle=side * 0.6,
        )
    _ellipse(grid, hu, 0.0, 0.26 * an.b, 13.0 * f + 2.0, 11.0 * f + 2.0, an.csf)
    _ellipse(grid, hu, 0.0, 0.28 * an.b, 12.0 * f + 1.0, 10.0 * f + 1.0, an.grey - 5.0)
    f4 = _bell(sl.h, *FOURTH_VENTRICLE)
    if f4 > 0:
        _ellipse(grid, hu, 0.0, 0.28 * an.b + 9.0, 5.5 * f4, 3.0 * f4, an.csf)
    _ellipse(grid, hu, 0.0, -0.55 * an.b * sl.s, 14.0 * f, 9.0 * f, 1100.0)


def _draw_lesion(plan: PatientPlan, grid: _HeadGrid, sl: _Slice, les: Lesion, csf_layer: float) -> int:
    """Draw one haemorrhage at blood density; returns how many pixels it covers (for consistency tests)."""
    an = plan.anatomy
    zf = les.scale(sl.z)
    if les.kind in ("epidural", "subdural", "subarachnoid"):
        if les.kind == "subarachnoid":
            band = sl.band
        else:  # the band a collection of this thickness can reach
            band = np.flatnonzero((sl.depth > 0) & (sl.depth < les.size + 0.5))
        d = sl.depth.ravel()[band]
        dth = grid.theta.ravel()[band] - les.angle
        dth = (dth + math.pi) % (2 * math.pi) - math.pi
        span = les.span * (0.6 + 0.4 * zf)
        q = np.clip(1.0 - (dth / span) ** 2, 0.0, None)
        if les.kind == "epidural":  # biconvex lens: thickest in the middle, sharp ends
            mask = d < les.size * zf * q
        elif les.kind == "subdural":  # crescent: nearly even thickness along a long arc
            mask = d < les.size * (0.5 + 0.5 * zf) * np.sqrt(q) + 0.35 * (q > 0)
        else:  # subarachnoid: blood in the sulci and the surface CSF of a region
            mask = (q > 0) & ((sl.band_csf & (d < 3.0 + 12.0 * les.size)) | (d < csf_layer))
            if les.cisternal:
                _draw_cisternal_blood(plan, grid, sl, les)
        sl.hu.reshape(-1)[band[mask]] = les.hu
        return int(np.count_nonzero(mask))
    if les.kind == "intraparenchymal":
        radius = les.size * zf
        win = grid.window(les.x, les.y, 1.3 * radius + les.rim + 1.0)
        if win is None:
            return 0
        dx, dy = grid.X[win] - les.x, grid.Y[win] - les.y
        r = np.hypot(dx, dy)
        phi = np.arctan2(dy, dx)
        edge = radius * (1.0 + 0.16 * np.sin(3 * phi + les.angle) + 0.08 * np.sin(5 * phi - les.angle))
        inside = sl.depth[win] > 1.0
        sub = sl.hu[win]
        sub[(r < edge + les.rim) & inside] = an.white + OEDEMA_HU  # oedema: darker than white matter
        blood = (r < edge) & inside
        sub[blood] = les.hu
        return int(np.count_nonzero(blood))
    if les.kind == "intraventricular":
        fill = les.size * (0.5 + 0.5 * zf)
        count = 0
        for x0, y0, rx, ry, ang in sl.ventricles:
            # Blood settles in the dependent (posterior, +y) part of each ventricle; a cast when severe.
            win = grid.window(x0, y0, max(rx, ry))
            if win is None:
                continue
            dx, dy = grid.X[win] - x0, grid.Y[win] - y0
            ca, sa = math.cos(ang), math.sin(ang)
            u, w = dx * ca + dy * sa, dy * ca - dx * sa
            blood = ((u / rx) ** 2 + (w / ry) ** 2 < 1.0) & (dy > ry * (1.0 - 2.0 * fill))
            sl.hu[win][blood] = les.hu
            count += int(np.count_nonzero(blood))
        return count
    raise ValueError(f"unknown haemorrhage kind {les.kind!r}")


def _draw_cisternal_blood(plan: PatientPlan, grid: _HeadGrid, sl: _Slice, les: Lesion) -> None:
    an, hu = plan.anatomy, sl.hu
    f = _bell(sl.h, *SUPRASELLAR)
    if f > 0:
        _ellipse(grid, hu, 0.0, -16.0, 9.0 * f, 7.0 * f, les.hu)
    f = _bell(sl.h, *AMBIENT)
    if f > 0 and _ellipse(grid, hu, 0.0, 8.0, 14.0 * f + 1.5, 12.0 * f + 1.5, les.hu):
        _ellipse(grid, hu, 0.0, 8.0, 14.0 * f, 12.0 * f, an.grey - 4.0)
    f = _bell(sl.h, *SYLVIAN)
    if f > 0:
        for side in (-1, 1):
            _ellipse(
                grid,
                hu,
                side * (an.a * sl.s - 14.0),
                -6.0,
                14.0 * f,
                0.8 + 1.6 * an.atrophy,
                les.hu,
                angle=side * 0.35,
            )


# ---------------------------------------------------------------------------------------------
# Encoding and writing.


def encode_pixels(hu: np.ndarray, encoding: str) -> tuple[np.ndarray, dict]:
    """Stored pixel values (rounded) and the pixel-module header for one slice in HU.

    - "signed16": PixelRepresentation 1, BitsStored 16, stored = HU + 1024, intercept -1024.
    - "unsigned12": PixelRepresentation 0, BitsStored 12, stored = HU + 1024 in [0, 4095], intercept -1024.
    - "quirk12": the RSNA dataset's known fault. The header says unsigned 12-bit with an intercept
      near 0 (> -100), but the stored values are HU as 12-bit two's complement, so air (-1000 HU) is
      stored as 3096 and a plain slope/intercept reading turns air into dense bone. The community fix
      (Kaggle RSNA 2019, e.g. J. Howard's `fix_pxrepr`) detects BitsStored 12, PixelRepresentation 0
      and intercept > -100, adds 1000, subtracts 4096 where the result is >= 4096 and uses intercept
      -1000. We write intercept 0 and keep HU within [-1000, 2047], where that fix and 12-bit sign
      extension agree.
    """
    if encoding in ("signed16", "unsigned12"):
        shifted = hu + np.float32(1024.5)  # + 0.5, then truncation: round half up
        np.clip(shifted, 0, 4095, out=shifted)
        if encoding == "signed16":
            return shifted.astype("<i2"), {
                "BitsStored": 16,
                "HighBit": 15,
                "PixelRepresentation": 1,
                "RescaleIntercept": -1024,
            }
        return shifted.astype("<u2"), {
            "BitsStored": 12,
            "HighBit": 11,
            "PixelRepresentation": 0,
            "RescaleIntercept": -1024,
        }
    if encoding == "quirk12":
        values = np.floor(np.clip(hu, -1000, 2047) + 0.5).astype(np.int32)
        return (values % 4096).astype("<u2"), {
            "BitsStored": 12,
            "HighBit": 11,
            "PixelRepresentation": 0,
            "RescaleIntercept": 0,
        }
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")


def series_header(plan: PatientPlan) -> Dataset:
    """The elements a patient's slices share: patient, study, series, equipment, geometry, pixel module."""
    an = plan.anatomy
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = "20190101"
    ds.StudyTime = "000000"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = ""
    ds.ReferringPhysicianName = ""
    ds.PatientName = ""
    ds.PatientID = plan.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.SliceThickness = f"{abs(float(plan.z[1] - plan.z[0])):.3f}" if len(plan.z) > 1 else "5.0"
    ds.KVP = "120"
    ds.StudyInstanceUID = plan.study_uid
    ds.SeriesInstanceUID = plan.series_uid
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = plan.study_uid + ".1"
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = plan.matrix
    ds.Columns = plan.matrix
    ds.PixelSpacing = [f"{an.spacing:.6f}", f"{an.spacing:.6f}"]
    ds.BitsAllocated = 16
    _, pixel_module = encode_pixels(np.zeros((1, 1), np.float32), plan.encoding)
    for key, value in pixel_module.items():
        setattr(ds, key, value)
    center, width = plan.window
    ds.WindowCenter = center if len(center) > 1 else center[0]
    ds.WindowWidth = width if len(width) > 1 else width[0]
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    return ds


# Per-slice elements, in tag order; everything else comes from `series_header`.
_SLICE_TAGS = (
    (0x00080018, "UI"),  # SOPInstanceUID
    (0x00200013, "IS"),  # InstanceNumber
    (0x00200032, "DS"),  # ImagePositionPatient
    (0x00201041, "DS"),  # SliceLocation
    (0x7FE00010, "OW"),  # PixelData
)


def _encode(elements: Sequence[DataElement]) -> bytes:
    """Elements encoded by pydicom as Explicit VR Little Endian."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    ds = Dataset()
    for elem in elements:
        ds.add(elem)
    write_dataset(fp, ds)
    return fp.getvalue()


class SeriesWriter:
    """Writes a patient's slices as DICOM Part 10 files (CT Image Storage, Explicit VR Little Endian).

    pydicom encodes every element; the elements shared by the series are encoded once and the
    per-slice ones (UID, instance number, position, pixels) are encoded for each slice and spliced in
    tag order, which keeps writing at about a millisecond per slice.
    """

    def __init__(self, plan: PatientPlan):
        self.plan = plan
        shared = list(series_header(plan))  # elements in tag order
        self.chunks = []
        for tag, _ in _SLICE_TAGS:
            self.chunks.append(_encode([e for e in shared if e.tag < tag]))
            shared = [e for e in shared if e.tag > tag]
        self.tail = _encode(shared)
        self.meta = FileMetaDataset()
        self.meta.MediaStorageSOPClassUID = CTImageStorage
        self.meta.TransferSyntaxUID = ExplicitVRLittleEndian
        self.meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    def encode(self, k: int, hu: np.ndarray) -> bytes:
        plan, an = self.plan, self.plan.anatomy
        stored, _ = encode_pixels(hu, plan.encoding)
        origin = f"{-plan.matrix / 2 * an.spacing:.3f}"
        z = f"{plan.table_z + float(plan.z[k]):.3f}"
        values = (plan.sop_uids[k], str(k + 1), [origin, origin, z], z, stored.tobytes())
        self.meta.MediaStorageSOPInstanceUID = plan.sop_uids[k]
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = False
        fp.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(fp, self.meta, enforce_standard=True)
        for chunk, (tag, vr), value in zip(self.chunks, _SLICE_TAGS, values, strict=True):
            fp.write(chunk)
            write_data_element(fp, DataElement(tag, vr, value))
        fp.write(self.tail)
        return fp.getvalue()

    def write(self, path: Path, k: int, hu: np.ndarray) -> None:
        """Write slice k (pixels in HU, (matrix, matrix)) to `path`."""
        path.write_bytes(self.encode(k, hu))


def render_patient(plan: PatientPlan, seed: int = 0) -> np.ndarray:
    """All slices of one patient in HU, float32 (n_slices, matrix, matrix): for tests and figures."""
    rng = np.random.default_rng(seed)
    grid = render_grid(plan, _Banks(rng, render_size(plan.matrix)))
    return np.stack([render_matrix_slice(plan, grid, k, rng) for k in range(len(plan.z))])


def _csv_rows(plans: Sequence[PatientPlan], rng: np.random.Generator) -> list[str]:
    """Kaggle's long format: six rows per image, images in random order, a few images repeated."""
    images = [(img, lab) for p in plans for img, lab in zip(p.image_ids, p.labels, strict=True)]
    order = [int(i) for i in rng.permutation(len(images))]
    n_dup = min(len(images), 1 + len(images) // DUPLICATE_EVERY)
    for i in rng.choice(len(images), size=n_dup, replace=False):
        order.insert(int(rng.integers(order.index(int(i)) + 1, len(order) + 1)), int(i))
    rows = []
    for i in order:
        img, lab = images[i]
        rows += [f"{img}_{t},{int(v)}" for t, v in zip(RSNA_CSV_TYPES, lab, strict=True)]
    return rows


def make_rsna(
    root: str | Path,
    n_patients: int,
    seed: int,
    *,
    slices_per_patient: tuple[int, int] = (12, 20),
    quirk_fraction: float = 0.03,
    matrix: int = SIZE,
    progress: bool | None = None,
) -> Path:
    """Write a phantom RSNA ICH stage 2 training set under `root`; return `root` as a Path.

    Same seed, same files: the CSV is byte-identical and so are the DICOM files. `matrix`: rows and
    columns of every slice (RSNA: 512). A smaller matrix keeps the field of view on larger pixels; it
    is drawn at `render_size(matrix)` and block-averaged in HU, which costs a fraction of 512 and
    stores 512/matrix squared times fewer bytes. `progress`: show a tqdm bar (None: only on a terminal).
    """
    root = Path(root)
    image_dir = root / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_patients(n_patients, seed, slices_per_patient, quirk_fraction, matrix)
    pixel_seed, csv_seed = np.random.SeedSequence([seed, 1]).spawn(2)
    pixel_rng = np.random.default_rng(pixel_seed)
    banks = _Banks(pixel_rng, render_size(matrix))
    bar = tqdm(plans, desc="RSNA phantoms", unit="patient", disable=None if progress is None else not progress)
    for plan in bar:
        grid = render_grid(plan, banks)
        writer = SeriesWriter(plan)
        for k, image_id in enumerate(plan.image_ids):
            writer.write(image_dir / f"{image_id}.dcm", k, render_matrix_slice(plan, grid, k, pixel_rng))
    rows = _csv_rows(plans, np.random.default_rng(csv_seed))
    (root / CSV_NAME).write_text("ID,Label\n" + "\n".join(rows) + "\n", newline="")
    return root
