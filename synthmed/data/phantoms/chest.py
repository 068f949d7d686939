"""Phantom chest radiographs written as CheXpert-v1.0-small (`train.csv` + grayscale JPEGs).

Rows (patients, studies, views, sex, age and the 14 label values) come by default from CheXpert's
real train.csv, which the torchxrayvision package ships; only the pixels are rendered here. Without
that package a simple synthetic label model stands in. Each image is drawn from its row: a chest
film (body, lungs with vessels, heart, mediastinum, ribs, clavicles, spine, diaphragm) that varies
per patient and per image, plus a distinct visual sign for each positive finding, strong or subtle.

Uncertain labels (-1): the paper maps them to 1 (U-Ones), but the report behind them was unsure. We
render the sign at subtle severity for half of them and not at all for the other half (a seeded
draw per study), so an uncertain label is positive in the index but only sometimes visible.

All randomness is seeded from (seed, patient, study, view), so the same seed writes byte-identical
CSVs and JPEGs, and a patient's anatomy is shared by all of their studies and views.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.resources
import importlib.util
import io
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage
from tqdm.auto import tqdm

from synthmed.data import CHEXPERT_LABELS, DataError
from synthmed.data.chexpert import CSV_COLUMNS, CSV_NAME, DATASET_DIR, parse_label_frame

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

log = logging.getLogger(__name__)

LABEL_SOURCES = ("auto", "torchxrayvision", "synthetic")
# CheXpert-v1.0-small's train.csv inside the torchxrayvision wheel (an optional dependency).
_XRV_PACKAGE = "torchxrayvision"
_XRV_TABLE = ("data", "chexpert_train.csv.gz")
# Patients in CheXpert-v1.0-small's train.csv (patient00001 ... patient64540); the size of the
# synthetic stand-in for the full table.
CHEXPERT_TRAIN_PATIENTS = 64_540

JPEG_QUALITY = 90
SHORT_SIDE = 320  # CheXpert-small images are about 320 px on the short side and not square
P_STRONG = 0.5  # a positive label's sign is strong with this probability, else subtle
P_UNCERTAIN_SHOWN = 0.5  # an uncertain label's sign is drawn (subtle) with this probability
_P_MASS = 0.6  # a strong lung lesion is a mass with this probability, else a nodule

_IDX = {name: k for k, name in enumerate(CHEXPERT_LABELS)}
_PATH_NUMBERS = re.compile(r"patient(\d+)/study(\d+)/view(\d+)_(frontal|lateral)\.jpg$")
_TEXTURE_SEED = 2012_03769  # fixed: the texture banks are part of the renderer, not of a dataset
_N_VESSEL_TEXTURES = 8
_TEX = 256  # vessel texture side, covering anatomy coordinates [-1, 1]^2


# ---------------------------------------------------------------------------------------------
# Label rows.


def real_label_file() -> Traversable | None:
    """torchxrayvision's copy of CheXpert-small's train.csv.gz as an importlib.resources Traversable,
    or None when the package is not installed. The package is located, not imported (importing it
    loads torch, about 10 s)."""
    spec = importlib.util.find_spec(_XRV_PACKAGE)
    if spec is None or spec.loader is None:
        return None
    reader = spec.loader.get_resource_reader(spec.name)
    if reader is not None and hasattr(reader, "files"):
        resource = reader.files().joinpath(*_XRV_TABLE)
    else:  # a loader without a files() reader: fall back to importing the package
        resource = importlib.resources.files(_XRV_PACKAGE).joinpath(*_XRV_TABLE)
    return resource if resource.is_file() else None


def _resolve_source(source: str) -> str:
    if source not in LABEL_SOURCES:
        raise ValueError(f"label_source must be one of {LABEL_SOURCES}, got {source!r}")
    if source == "synthetic":
        return "synthetic"
    if real_label_file() is not None:
        return "torchxrayvision"
    if source == "torchxrayvision":
        raise DataError(
            f"label_source='torchxrayvision' but {'/'.join(_XRV_TABLE)} of package {_XRV_PACKAGE} is not "
            "installed; install synthmed[labels] or use label_source='synthetic'"
        )
    log.info("torchxrayvision is not installed: chest phantom labels come from the synthetic model")
    return "synthetic"


@functools.lru_cache(maxsize=1)
def _real_raw_rows() -> pd.DataFrame:
    """CheXpert-small's train.csv as strings (223,414 rows), exactly as written in the file."""
    resource = real_label_file()
    if resource is None:
        raise DataError(f"{_XRV_PACKAGE} is not installed; its {'/'.join(_XRV_TABLE)} is needed")
    with resource.open("rb") as handle, gzip.open(handle, "rt", encoding="utf-8", newline="") as text:
        table = pd.read_csv(text, dtype=str, keep_default_na=False, na_filter=False)
    if list(table.columns) != CSV_COLUMNS:
        raise DataError(f"{resource}: columns {list(table.columns)}; expected {CSV_COLUMNS}")
    return table


def chexpert_label_table(source: str = "auto") -> tuple[pd.DataFrame, str]:
    """The full CheXpert-small label table and the source it came from.

    With torchxrayvision installed ("auto" or "torchxrayvision") it is the real train.csv: 223,414
    rows of 64,540 patients. Otherwise ("auto" without it, or "synthetic") it is the synthetic label
    model at the same number of patients (seed 0). The DataFrame has `read_index`'s columns except
    that `path` stays relative (no images exist for it), plus `line`, the row's line in the CSV.
    """
    name = _resolve_source(source)
    return _parsed_table(name).copy(), name


@functools.lru_cache(maxsize=2)
def _parsed_table(source: str) -> pd.DataFrame:
    raw = _real_raw_rows() if source == "torchxrayvision" else synthetic_label_rows(CHEXPERT_TRAIN_PATIENTS, 0)
    return parse_label_frame(raw, f"{source} CheXpert train.csv")


# Per-image fractions of each code in CheXpert-small's train.csv (measured on torchxrayvision's copy,
# 223,414 rows): P(1.0), P(-1.0), P(0.0); the rest is blank. "No Finding" is derived, not drawn.
_SYNTH_CODE_RATES = {
    "Enlarged Cardiomediastinum": (0.048, 0.056, 0.097),
    "Cardiomegaly": (0.121, 0.036, 0.050),
    "Lung Opacity": (0.473, 0.025, 0.030),
    "Lung Lesion": (0.041, 0.007, 0.006),
    "Edema": (0.234, 0.058, 0.093),
    "Consolidation": (0.066, 0.124, 0.126),
    "Pneumonia": (0.027, 0.084, 0.013),
    "Atelectasis": (0.149, 0.151, 0.006),
    "Pneumothorax": (0.087, 0.014, 0.252),
    "Pleural Effusion": (0.386, 0.052, 0.158),
    "Pleural Other": (0.016, 0.012, 0.001),
    "Fracture": (0.040, 0.003, 0.011),
    "Support Devices": (0.519, 0.005, 0.027),
}


def synthetic_label_rows(n_patients: int, seed: int) -> pd.DataFrame:
    """A stand-in for CheXpert's label table: raw string rows (train.csv's columns) for n_patients.

    Each patient has a geometric number of studies (2.9 on average, as CheXpert), each study a
    frontal view and sometimes a second frontal and a lateral. A per-patient acuity shared by all
    findings makes them co-occur; each finding's rate of 1.0 / -1.0 / 0.0 / blank follows
    CheXpert's per-image rates on average.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    rng = np.random.default_rng([seed, 7])
    n_studies = np.minimum(rng.geometric(1 / 2.9, n_patients), 40)  # CheXpert: 187,641 studies / 64,540
    patient_of_study = np.repeat(np.arange(n_patients), n_studies)
    study_num = np.concatenate([np.arange(n, 0, -1) for n in n_studies])  # CheXpert lists newest first
    n_st = len(patient_of_study)
    acuity = rng.beta(1.2, 1.2, n_patients)[patient_of_study]
    age0 = np.clip(rng.normal(61, 17, n_patients), 18, 90).round()
    sex = np.where(rng.random(n_patients) < 0.594, "Male", "Female")[patient_of_study]
    ap = rng.random(n_st) < 0.846

    # Finding states per study: positive with a rate scaled by acuity (mean ~1), then coded.
    codes = np.full((n_st, len(CHEXPERT_LABELS)), "", dtype=object)
    any_pos = np.zeros(n_st, dtype=bool)
    for name, (p1, pu, p0) in _SYNTH_CODE_RATES.items():
        k = _IDX[name]
        pos_rate = np.clip((p1 + pu) * (0.15 + 1.7 * acuity), 0, 0.97)
        positive = rng.random(n_st) < pos_rate
        uncertain = rng.random(n_st) < pu / (p1 + pu)
        negative_said = rng.random(n_st) < p0 / max(1e-9, 1 - p1 - pu)
        col = np.where(positive, np.where(uncertain, "-1.0", "1.0"), np.where(negative_said, "0.0", ""))
        codes[:, k] = col
        if name != "Support Devices":  # CheXpert allows "No Finding" together with support devices
            any_pos |= positive
    codes[:, _IDX["No Finding"]] = np.where(any_pos, "", "1.0")

    # Views: view1_frontal always; sometimes a second frontal; a lateral in about 15% of studies.
    second_frontal = rng.random(n_st) < 0.02
    lateral = rng.random(n_st) < 0.15
    rows = []
    for i in range(n_st):
        pid = patient_of_study[i]
        age = int(age0[pid] + (n_studies[pid] - study_num[i]) // 2)
        base = f"{DATASET_DIR}/train/patient{pid + 1:05d}/study{study_num[i]}/"
        views = [("frontal", "AP" if ap[i] else "PA")]
        if second_frontal[i]:
            views.append(("frontal", "AP" if ap[i] else "PA"))
        if lateral[i]:
            views.append(("lateral", ""))
        for v, (kind, appa) in enumerate(views, start=1):
            rows.append([f"{base}view{v}_{kind}.jpg", sex[i], str(min(age, 90)), kind.capitalize(), appa, *codes[i]])
    return pd.DataFrame(rows, columns=CSV_COLUMNS, dtype=str)


# ---------------------------------------------------------------------------------------------
# Writing the dataset.


def make_chexpert(
    root: str | os.PathLike,
    n_patients: int,
    seed: int,
    label_source: str = "auto",
    progress: bool = True,
    short_side: int = SHORT_SIDE,
) -> Path:
    """Write a phantom CheXpert-v1.0-small under `root` and return `root` (what `read_index` takes).

    Writes `root/CheXpert-v1.0-small/train.csv` (CheXpert's columns and 1.0/0.0/-1.0/blank coding)
    and one grayscale JPEG per row at `root/<Path>`, `short_side` px on the short side (CheXpert-small:
    about 320). With real
    labels, `n_patients` whole patients (all studies and views) are drawn from CheXpert's table and
    keep their original paths and rows; with synthetic labels, patients are numbered 1..n_patients.
    A `phantom.json` beside train.csv records the seed, patients and label source.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    source = _resolve_source(label_source)
    if source == "torchxrayvision":
        rows = _draw_patients(_real_raw_rows(), n_patients, seed)
    else:
        rows = synthetic_label_rows(n_patients, seed)

    root = Path(root).expanduser().resolve()
    dataset = root / DATASET_DIR
    dataset.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows.to_numpy().tolist())
    (dataset / CSV_NAME).write_text(buffer.getvalue(), encoding="utf-8")
    meta = {"seed": seed, "n_patients": n_patients, "label_source": source, "images": len(rows),
            "short_side": short_side}
    (dataset / "phantom.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    made_dirs: set[Path] = set()
    for row in tqdm(
        rows.itertuples(index=False), total=len(rows), disable=not progress, desc="chest phantoms", unit="img"
    ):
        out = root / row[0]
        if out.parent not in made_dirs:
            out.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(out.parent)
        image = render_row(row, seed, short_side)
        Image.fromarray(image).save(out, format="JPEG", quality=JPEG_QUALITY)
    log.info(
        "wrote %d chest phantom images of %d patients (%s labels) to %s",
        len(rows),
        n_patients,
        source,
        dataset,
    )
    return root


def _draw_patients(table: pd.DataFrame, n_patients: int, seed: int) -> pd.DataFrame:
    """All rows of n_patients patients drawn without replacement, in the table's row order."""
    patient = table["Path"].str.extract(r"(patient\d+)/", expand=False)
    unique = pd.unique(patient)
    if n_patients > len(unique):
        raise ValueError(f"n_patients={n_patients} exceeds the {len(unique)} patients of the label table")
    chosen = np.random.default_rng([seed, 3]).choice(len(unique), size=n_patients, replace=False)
    keep = patient.isin(set(unique[chosen])).to_numpy()
    return table[keep].reset_index(drop=True)


def render_row(row: Sequence[str], seed: int, short_side: int = SHORT_SIDE) -> np.ndarray:
    """Render one train.csv row (its fields in column order) as a uint8 (height, width) image.

    The image depends only on the row, the seed and `short_side` (pixels), so any subset of rows
    renders the same.
    """
    path = str(row[0])
    match = _PATH_NUMBERS.search(path)
    if match is None:
        raise DataError(f"cannot render {path!r}: expected .../patientN/studyN/viewN_frontal|lateral.jpg")
    pid, study, view = (int(match.group(i)) for i in (1, 2, 3))
    lateral = match.group(4) == "lateral"
    labels = np.array([float(x) if x != "" else np.nan for x in row[5 : 5 + len(CHEXPERT_LABELS)]])
    try:
        age = float(row[2])
    except ValueError:
        age = 60.0
    patient = _draw_patient(np.random.default_rng([seed, 0, pid]), female=row[1] == "Female", age=age)
    study_rng = np.random.default_rng([seed, 2, pid, study])
    draws = study_rng.random((len(CHEXPERT_LABELS), 12))
    signs = _severities(labels, draws)
    shot = _draw_shot(
        np.random.default_rng([seed, 1, pid, study, view]), ap=row[4] == "AP", lateral=lateral, short_side=short_side
    )
    if lateral:
        return _render_lateral(patient, shot, signs, draws)
    return _render_frontal(patient, shot, signs, draws)


def _severities(labels: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Per finding: 0 (no sign), subtle (0.3-0.5) or strong (0.75-1.0), from the label and draws."""
    strong = 0.75 + 0.25 * draws[:, 1]
    subtle = 0.3 + 0.2 * draws[:, 1]
    sev = np.where(draws[:, 0] < P_STRONG, strong, subtle)
    sev = np.where(labels == 1.0, sev, 0.0)
    sev = np.where((labels == -1.0) & (draws[:, 0] < P_UNCERTAIN_SHOWN), subtle, sev)
    sev[_IDX["No Finding"]] = 0.0
    return sev


# ---------------------------------------------------------------------------------------------
# Per-patient anatomy and per-image acquisition.


@dataclass
class _Patient:
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


def _draw_patient(rng: np.random.Generator, female: bool, age: float) -> _Patient:
    return _Patient(
        body_w=rng.uniform(0.80, 0.95),
        soft=rng.uniform(0.5, 0.75),
        lung_w=rng.uniform(0.92, 1.06),
        lung_h=rng.uniform(0.9, 1.06),
        heart_w=float(np.clip(rng.normal(0.35, 0.025), 0.29, 0.41)),
        heart_h=rng.uniform(0.36, 0.42),
        med_w=float(np.clip(rng.normal(0.125, 0.012), 0.095, 0.16)),
        rib_spacing=rng.uniform(0.145, 0.17),
        rib_phase=rng.uniform(0, 1),
        dome=rng.uniform(-0.05, 0.05),
        breast=rng.uniform(0.8, 1.2) if female else 0.0,
        bone=float(np.clip(1.15 - 0.005 * (age - 20), 0.7, 1.15) * rng.uniform(0.9, 1.1)),
        texture=int(rng.integers(_N_VESSEL_TEXTURES)),
        vessels=rng.uniform(0.8, 1.2),
    )


@dataclass
class _Shot:
    height: int
    width: int
    zoom: float  # anatomy size in the frame
    tilt: float  # in-plane rotation, radians
    shift_u: float
    shift_v: float
    spine_shift: float  # patient rotation about the vertical axis moves the spine off the midline
    inspiration: float
    exposure: float
    offset: float
    contrast: float
    noise: float  # grey levels
    noise_r: int  # offsets into the noise bank
    noise_c: int
    ap: bool
    arms: bool  # the arms lie along the sides, in the frame


def _draw_shot(rng: np.random.Generator, ap: bool, lateral: bool, short_side: int = SHORT_SIDE) -> _Shot:
    if short_side < 32 or short_side % 2:
        raise ValueError(f"short_side must be an even number of pixels >= 32, got {short_side}")
    long_side = 2 * int(round(short_side * rng.uniform(1.1, 1.3) / 2))  # even: drawn at half resolution first
    portrait = rng.random() < 0.5
    height, width = (long_side, short_side) if portrait else (short_side, long_side)
    return _Shot(
        height=height,
        width=width,
        zoom=rng.uniform(0.88, 1.04),
        tilt=math.radians(float(np.clip(rng.normal(0, 2.0), -5, 5))),
        shift_u=rng.uniform(-0.06, 0.06),
        shift_v=rng.uniform(-0.08, 0.08),
        spine_shift=float(np.clip(rng.normal(0, 0.015), -0.04, 0.04)),
        inspiration=rng.uniform(0.88, 1.05) * (0.96 if ap else 1.0),
        exposure=rng.uniform(1.05, 1.4),
        offset=rng.uniform(-0.06, 0.06),
        contrast=rng.uniform(0.9, 1.15) * (0.93 if ap else 1.0),
        noise=rng.uniform(2.0, 5.0) + (1.0 if ap else 0.0),
        noise_r=int(rng.integers(0, 1024 - 420)),
        noise_c=int(rng.integers(0, 1024 - 420)),
        ap=ap,
        arms=bool(rng.random() < 0.5) and not lateral,  # on laterals the arms are raised
    )


# ---------------------------------------------------------------------------------------------
# Texture banks, made once per process from a fixed seed.


@dataclass(frozen=True)
class _Banks:
    vessels: np.ndarray  # (K, 256, 256) branching vessel trees in [0, 1], anatomy [-1, 1]^2
    vessels_half: np.ndarray  # (K, 128, 128) the same, 2x2 box-averaged, for half-resolution drawing
    noise: np.ndarray  # (1024, 1024) white noise, N(0, 1)
    mottle: np.ndarray  # (512, 512) smooth noise in [0, 1]


@functools.lru_cache(maxsize=1)
def _banks() -> _Banks:
    rng = np.random.default_rng(_TEXTURE_SEED)
    vessels = np.stack([_vessel_texture(rng) for _ in range(_N_VESSEL_TEXTURES)])
    half = vessels.reshape(_N_VESSEL_TEXTURES, _TEX // 2, 2, _TEX // 2, 2).mean(axis=(2, 4))
    noise = rng.standard_normal((1024, 1024), dtype=np.float32)
    mottle = ndimage.gaussian_filter(rng.standard_normal((512, 512)).astype(np.float32), 6.0)
    mottle = (mottle - mottle.min()) / (mottle.max() - mottle.min())
    return _Banks(vessels, half.astype(np.float32), noise, mottle.astype(np.float32))


def _vessel_texture(rng: np.random.Generator) -> np.ndarray:
    """Branching vessel trees from both hila, in anatomy coordinates [-1, 1]^2 (v down)."""
    grid = np.zeros((_TEX, _TEX), dtype=np.float32)
    texel = 2.0 / _TEX
    points_u: list[np.ndarray] = []
    points_v: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for side in (-1.0, 1.0):
        hilum = (side * 0.2, -0.06)
        lung_c, lung_a, lung_b = (side * 0.37, -0.02), 0.36, 0.82
        # (u, v, angle, length, width, generation); angle 0 points laterally, negative upwards
        stack = [
            (hilum[0], hilum[1], a, 0.11, 1.0, 0)
            for a in np.linspace(-0.85 * math.pi, 0.85 * math.pi, 9) + rng.normal(0, 0.12, 9)
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
            if gen < 6 and inside[-1]:
                spread = rng.uniform(0.3, 0.6)
                for turn in (-spread, spread * rng.uniform(0.6, 1.0)):
                    child_angle = angle + turn + rng.normal(0, 0.1)
                    stack.append((u0 + du, v0 + dv, child_angle, length * rng.uniform(0.7, 0.9), width * 0.7, gen + 1))
    pu, pv, w = np.concatenate(points_u), np.concatenate(points_v), np.concatenate(weights)
    cols = np.clip(((pu + 1) / texel).astype(int), 0, _TEX - 1)
    rows = np.clip(((pv + 1) / texel).astype(int), 0, _TEX - 1)
    np.maximum.at(grid, (rows, cols), w)
    grid = ndimage.gaussian_filter(grid, 0.8) + 0.5 * ndimage.gaussian_filter(grid, 2.0)
    return (grid / grid.max()).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Drawing surface.


class _Film:
    """One image being drawn: its pixel grid, anatomy coordinates and the density map D.

    Anatomy coordinates: u to the image's right, v down, 1 unit = half the short image side times
    the zoom. D is the projected density; `develop` turns it into film brightness. Smooth anatomy
    is drawn on a half-resolution film (`scale=2`) and upsampled; thin details at full resolution.
    """

    def __init__(self, shot: _Shot, scale: int = 1, D: np.ndarray | None = None):
        self.h, self.w = shot.height // scale, shot.width // scale
        self.ppu = min(shot.height, shot.width) / 2 * shot.zoom / scale  # pixels per anatomy unit
        self.cx = (shot.width / 2 - shot.shift_u * self.ppu * scale) / scale
        self.cy = (shot.height / 2 - shot.shift_v * self.ppu * scale) / scale
        self.cos, self.sin = math.cos(shot.tilt), math.sin(shot.tilt)
        xs = (np.arange(self.w, dtype=np.float32) + np.float32(0.5 - self.cx)) * np.float32(1 / self.ppu)
        ys = (np.arange(self.h, dtype=np.float32) + np.float32(0.5 - self.cy)) * np.float32(1 / self.ppu)
        self.u = (self.cos * xs)[None, :] + (self.sin * ys)[:, None]
        self.v = (-self.sin * xs)[None, :] + (self.cos * ys)[:, None]
        self.D = np.zeros((self.h, self.w), dtype=np.float32) if D is None else D

    def full_resolution(self, shot: _Shot) -> _Film:
        """A full-resolution film whose D is this half-resolution film's D, bilinearly upsampled."""
        return _Film(shot, scale=1, D=_upsample2(self.D))

    def box(self, u0: float, u1: float, v0: float, v1: float) -> tuple[slice, slice] | None:
        """Pixel window covering the anatomy rectangle [u0, u1] x [v0, v1], or None if off the image."""
        c, s, k = self.cos, self.sin, self.ppu
        xs = (c * u0 - s * v0, c * u1 - s * v0, c * u0 - s * v1, c * u1 - s * v1)
        ys = (s * u0 + c * v0, s * u1 + c * v0, s * u0 + c * v1, s * u1 + c * v1)
        c0, c1 = max(0, int(self.cx + min(xs) * k) - 1), min(self.w, int(self.cx + max(xs) * k) + 2)
        r0, r1 = max(0, int(self.cy + min(ys) * k) - 1), min(self.h, int(self.cy + max(ys) * k) + 2)
        if r0 >= r1 or c0 >= c1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def px(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) pixel positions of anatomy points."""
        cols = self.cx + (self.cos * u - self.sin * v) * self.ppu - 0.5
        rows = self.cy + (self.sin * u + self.cos * v) * self.ppu - 0.5
        return rows, cols

    def ellipse(self, cu, cv, ru, rv, amp, sharp=6.0, dome=0.0, mask=None, texture=None, target=None) -> None:
        """Add amp * a soft ellipse to D (or `target`); dome > 0 makes it denser in the middle (a ball)."""
        win = self.box(cu - ru, cu + ru, cv - rv, cv + rv)
        if win is None:
            return
        f = _ellipse(self.u[win], self.v[win], cu, cv, ru, rv)
        shape = _inside(f, sharp)
        if dome:
            shape *= 1.0 - dome + dome * np.clip(1.0 - f, 0.0, 1.0)
        if texture is not None:
            shape *= texture[: shape.shape[0], : shape.shape[1]]
        if mask is not None:
            shape *= mask[win]
        (self.D if target is None else target)[win] += amp * shape

    def polyline(self, layer: np.ndarray, pts_u, pts_v, half_width: float, value: float) -> None:
        """Draw a curve `half_width` anatomy units thick through anatomy points into `layer`, keeping
        the maximum where strokes cross."""
        pu, pv = np.asarray(pts_u, dtype=np.float64), np.asarray(pts_v, dtype=np.float64)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(pu), np.diff(pv)))]) * self.ppu
        steps = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / 0.7)))
        rows, cols = self.px(np.interp(steps, arc, pu), np.interp(steps, arc, pv))
        half_px = half_width * self.ppu
        reach = int(math.ceil(half_px))
        dr, dc = np.mgrid[-reach : reach + 1, -reach : reach + 1].reshape(2, -1)
        weight = value * np.minimum(1.0, half_px + 0.5 - np.hypot(dr, dc))
        keep = weight > 0
        dr, dc, weight = dr[keep], dc[keep], weight[keep].astype(np.float32)
        rr = (np.rint(rows).astype(np.int64)[:, None] + dr).ravel()
        cc = (np.rint(cols).astype(np.int64)[:, None] + dc).ravel()
        ww = np.broadcast_to(weight, (len(rows), len(weight))).ravel()
        ok = (rr >= 0) & (rr < self.h) & (cc >= 0) & (cc < self.w)
        np.maximum.at(layer.reshape(-1), rr[ok] * self.w + cc[ok], ww[ok])

    def develop(self, shot: _Shot, gain: float = 1.0) -> np.ndarray:
        """Density to an 8-bit film: exponential attenuation, exposure, contrast, noise."""
        noise = _banks().noise[shot.noise_r : shot.noise_r + self.h, shot.noise_c : shot.noise_c + self.w]
        image = np.exp(self.D * np.float32(-shot.exposure * gain))
        image *= np.float32(-255.0 * shot.contrast)
        image += np.float32(255.0 * (shot.contrast + shot.offset))
        image += noise * np.float32(shot.noise)
        return np.clip(image, 0, 255).astype(np.uint8)


def _upsample2(a: np.ndarray) -> np.ndarray:
    """Bilinear 2x upsampling with pixel centres aligned (each output pixel 1/4 pixel off an input centre)."""
    h, w = a.shape
    rows = np.empty((2 * h, w), dtype=np.float32)
    rows[0] = a[0]
    rows[2::2] = 0.75 * a[1:] + 0.25 * a[:-1]
    rows[1:-1:2] = 0.75 * a[:-1] + 0.25 * a[1:]
    rows[-1] = a[-1]
    out = np.empty((2 * h, 2 * w), dtype=np.float32)
    out[:, 0] = rows[:, 0]
    out[:, 2::2] = 0.75 * rows[:, 1:] + 0.25 * rows[:, :-1]
    out[:, 1:-1:2] = 0.75 * rows[:, :-1] + 0.25 * rows[:, 1:]
    out[:, -1] = rows[:, -1]
    return out


def _inside(f: np.ndarray, sharp: float) -> np.ndarray:
    """Soft indicator of f < 1 (f = 1 on the boundary), with an edge of width ~1/sharp in f."""
    return np.clip((1.0 - f) * sharp, 0.0, 1.0)


def _ellipse(u, v, cu, cv, ru, rv):
    """((u - cu) / ru)^2 + ((v - cv) / rv)^2: below 1 inside the ellipse."""
    du = (u - cu) * (1.0 / ru)
    dv = (v - cv) * (1.0 / rv)
    return du * du + dv * dv


def _curve(p0, p1, bend: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Points of a quadratic curve from p0 to p1 bowing sideways by `bend` (anatomy units)."""
    t = np.linspace(0, 1, n)
    mu, mv = (p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2
    du, dv = p1[0] - p0[0], p1[1] - p0[1]
    norm = math.hypot(du, dv) or 1.0
    cu, cv = mu - dv / norm * bend, mv + du / norm * bend
    us = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * cu + t**2 * p1[0]
    vs = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * cv + t**2 * p1[1]
    return us, vs


def _side(x: float) -> float:
    """A side from a uniform draw: -1 is the image's left (the patient's right), +1 the image's right."""
    return -1.0 if x < 0.5 else 1.0


def _texture_at(texture: np.ndarray, u: np.ndarray, v: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Sample a square texture covering anatomy [-1, 1]^2 at (u, v), nearest neighbour."""
    n = texture.shape[0]
    iu = np.clip((u * np.float32(scale) + np.float32(1.0)) * np.float32(n / 2), 0, n - 1).astype(np.int32)
    iv = np.clip((v + np.float32(1.0)) * np.float32(n / 2), 0, n - 1).astype(np.int32)
    return texture[iv, iu]


# ---------------------------------------------------------------------------------------------
# Frontal film.


@dataclass
class _Lung:
    side: float  # -1: image left (the patient's right lung), +1: image right
    cu: float  # ellipse centre and half-axes, anatomy units
    cv: float
    a: float
    b: float
    win: tuple[slice, slice] | None  # pixel window of the ellipse on the half-resolution film
    mask: np.ndarray  # half-resolution soft mask of the lung visible on the film (0..1)


@dataclass
class _Thorax:
    """Landmarks of one frontal film, after the findings that move anatomy."""

    mid: float  # midline of the mediastinum
    apex: float  # lung apices
    base: float  # costophrenic angles
    dome_top: tuple[float, float]  # highest point of each hemidiaphragm (image left, image right)
    lung_a: float  # lung half-width
    heart: tuple[float, float, float, float]  # centre u, v, half-width, half-height
    lungs: list[_Lung]
    lung_all: np.ndarray  # both lung masks, half resolution


AIR = 0.42  # density removed by the air of a lung at its thickest
SOFT = 1.3  # soft tissue of an average body along the central ray
RIB = 0.07  # density of a posterior rib


def _render_frontal(p: _Patient, shot: _Shot, sev: np.ndarray, draws: np.ndarray) -> np.ndarray:
    banks = _banks()
    low = _Film(shot, scale=2)
    u, v, D = low.u, low.v, low.D
    th = _frontal_anatomy(low, p, shot, sev, draws)

    # Lung air; pleural findings take its place: fluid (effusion), air without markings (pneumothorax).
    air = np.zeros_like(D)
    for lung in th.lungs:
        if lung.win is not None:
            f = _ellipse(u[lung.win], v[lung.win], lung.cu, lung.cv, lung.a, lung.b)
            air[lung.win] += lung.mask[lung.win] * (0.4 + 0.6 * np.clip(1.0 - f, 0.0, 1.0))
    no_markings = np.zeros_like(D)
    _effusion(low, th, air, no_markings, sev[_IDX["Pleural Effusion"]], draws[_IDX["Pleural Effusion"]])
    collapsed = _pneumothorax(low, th, no_markings, sev[_IDX["Pneumothorax"]], draws[_IDX["Pneumothorax"]])
    D -= AIR * air

    # Lung markings (vessels), more prominent with edema.
    win = low.box(th.mid - 0.8, th.mid + 0.8, th.apex, th.base + 0.05)
    if win is not None:
        tex = _texture_at(banks.vessels_half[p.texture], u[win] - th.mid, v[win])
        strength = 0.18 * p.vessels * (1.0 + 0.8 * sev[_IDX["Edema"]])
        D[win] += strength * tex * th.lung_all[win] * (1.0 - no_markings[win])

    _ribs(low, p, th)
    _parenchymal_findings(low, th, p, sev, draws)
    _pleural_thickening(low, th, sev[_IDX["Pleural Other"]], draws[_IDX["Pleural Other"]])

    # Thin and small details at full resolution.
    film = low.full_resolution(shot)
    if collapsed is not None:
        _pleural_line(film, collapsed)
    _fracture(film, p, th, sev[_IDX["Fracture"]], draws[_IDX["Fracture"]])
    _small_findings(film, th, sev, draws)
    _devices(film, th, sev[_IDX["Support Devices"]], draws[_IDX["Support Devices"]])
    return film.develop(shot)


def _frontal_anatomy(film: _Film, p: _Patient, shot: _Shot, sev: np.ndarray, draws: np.ndarray) -> _Thorax:
    """Body, diaphragm, lungs, heart, mediastinum, spine, clavicles, trachea; returns the landmarks."""
    u, v, D = film.u, film.v, film.D
    # Findings that move anatomy: cardiomegaly, a wide mediastinum, volume loss with atelectasis.
    s_ecm, s_cm = sev[_IDX["Enlarged Cardiomediastinum"]], sev[_IDX["Cardiomegaly"]]
    s_atel = sev[_IDX["Atelectasis"]]
    atel_side = _side(draws[_IDX["Atelectasis"], 2])
    pull = 0.09 * s_atel  # volume loss: the hemidiaphragm rises, the mediastinum shifts towards it
    mid = 0.3 * shot.spine_shift + atel_side * 0.3 * pull
    med_w = p.med_w * (1.0 + 1.0 * s_ecm)
    heart_w = p.heart_w * (1.07 if shot.ap else 1.0) * (1.0 + 0.45 * s_cm)  # AP films magnify the heart
    heart_h = p.heart_h * (1.0 + 0.12 * s_cm)

    # Body: soft tissue of a cylinder, narrowing to the neck above the shoulders.
    neck = 0.26
    rise = np.clip((v + 1.12) * 3.0, 0.0, 1.0)
    shoulder = 1.0 - ((v + 0.85) * 4.0) ** 2
    waist = (v - 0.15) * 0.25
    width = neck + (p.body_w - neck) * np.sqrt(rise) * (1.0 - waist * waist) + 0.12 * np.clip(shoulder, 0.0, 1.0)
    q = u / width
    body = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
    D += p.soft * SOFT * body

    # Diaphragm: one dome per side over the costophrenic level, the right (image left) higher.
    apex = -0.8
    base = apex + 1.4 * p.lung_h * shot.inspiration + p.dome
    lung_a = 0.31 * p.lung_w
    centres = (mid - 0.38 * p.lung_w, mid + 0.38 * p.lung_w)
    span = min(0.36, 0.37 * p.lung_w)  # half-width of a dome; the two never overlap
    dome_top = (base - 0.21 - (pull if atel_side < 0 else 0.0), base - 0.17 - (pull if atel_side > 0 else 0.0))
    diaph = np.full_like(u, base)
    for c, top in zip(centres, dome_top, strict=True):
        t = (u - c) * (1.0 / span)
        diaph -= (base - top) * np.clip(1.0 - t * t, 0.0, 1.0)
    below = np.clip((v - diaph) * 35.0, 0.0, 1.0)
    D += 0.17 * below * body
    film.ellipse(centres[1] - 0.02, dome_top[1] + 0.1, 0.09, 0.045, -0.15, sharp=4.0)  # gastric bubble

    # Lungs: ellipses cut by the diaphragm.
    lungs = []
    for side, c in zip((-1.0, 1.0), centres, strict=True):
        b = (base - apex) / 2 + 0.06
        cv = apex + b
        win = film.box(c - lung_a, c + lung_a, apex, base + 0.05)
        mask = np.zeros_like(D)
        if win is not None:
            mask[win] = _inside(_ellipse(u[win], v[win], c, cv, lung_a, b), 8.0) * (1.0 - below[win])
        lungs.append(_Lung(side, c, cv, lung_a, b, win, mask))

    # Heart: it reaches less far to the patient's right (image left) than to the left, and its lower
    # part sits behind the diaphragm, merging with the abdomen. Heart and mediastinum hide the lungs.
    hc_u = mid + 0.05 + 0.4 * (heart_w - 0.35)
    hc_v = min(dome_top) - 0.02
    right_w, left_w = 0.75 * heart_w, 1.25 * heart_w
    hide = np.zeros_like(D)
    win = film.box(hc_u - right_w, hc_u + left_w, hc_v - heart_h, hc_v + heart_h)
    if win is not None:
        uu, vv = u[win], v[win]
        du = (uu - hc_u) * (1.0 / right_w + (1.0 / left_w - 1.0 / right_w) * (uu > hc_u))
        dv = (vv - hc_v) * (1.0 / heart_h)
        f = du * du + dv * dv
        heart = _inside(f, 5.0) * (1.0 - below[win])
        hide[win] = heart
        D[win] += heart * (0.15 + 0.06 * np.clip(1.0 - f, 0.0, 1.0))
    win = film.box(mid - med_w - 0.1, mid + med_w + 0.1, -1.6, hc_v)
    if win is not None:
        uu, vv = u[win], v[win]
        knob = np.float32(0.03 + 0.05 * s_ecm) * np.clip(1.0 - ((vv + 0.45) * 9.0) ** 2, 0.0, 1.0) * (uu > mid)
        med = np.clip((med_w + knob - np.abs(uu - mid)) * 40.0, 0.0, 1.0) * np.clip((hc_v - vv) * 8.0, 0.0, 1.0)
        hide[win] = np.maximum(hide[win], med)
        D[win] += 0.14 * med
    visible = 1.0 - hide
    lung_all = np.zeros_like(D)
    for lung in lungs:
        lung.mask *= visible
        lung_all += lung.mask

    # Spine, behind everything in the midline.
    spine = mid + shot.spine_shift
    win = film.box(spine - 0.1, spine + 0.1, -2.0, 2.0)
    if win is not None:
        uu, vv = u[win], v[win]
        au = np.abs(uu - spine)
        column = np.clip((0.075 - au) * 40.0, 0.0, 1.0)
        phase = vv * (1 / 0.115)
        discs = np.abs(phase - np.floor(phase) - 0.5)  # 0 mid-vertebra, 0.5 at a disc
        pedicles = np.clip((0.016 - np.abs(au - 0.05)) * 60.0, 0.0, 1.0) * np.clip((0.3 - discs) * 5, 0, 1)
        D[win] += p.bone * column * (0.07 - 0.04 * np.clip((discs - 0.38) * 8.0, 0.0, 1.0) + 0.05 * pedicles)

    # Clavicles and the humeral heads in the shoulders; arms along the sides in some films.
    win = film.box(mid - 1.2, mid + 1.2, -1.3, -0.5)
    if win is not None:
        uu, vv = u[win], v[win]
        au = np.abs(uu - mid)
        centre = -0.71 - 0.2 * (au - 0.06) + 0.06 * np.clip(1.0 - ((au - 0.3) * 4.0) ** 2, 0.0, 1.0)
        clav = np.clip((0.038 - np.abs(vv - centre)) * 60.0, 0.0, 1.0)
        clav *= np.clip((0.6 - au) * 30.0, 0.0, 1.0) * np.clip((au - 0.05) * 30.0, 0.0, 1.0)
        head = _inside(_ellipse(au, vv, p.body_w - 0.1, -0.86, 0.13, 0.13), 2.5)
        D[win] += p.bone * (0.16 * clav + 0.15 * head)
    if shot.arms:
        for side in (-1.0, 1.0):
            cu = mid + side * (p.body_w + 0.08)
            win = film.box(cu - 0.14, cu + 0.14, -0.95, 2.0)
            if win is not None:
                du, vv = np.abs(u[win] - cu), v[win]
                top = np.clip((vv + 0.95) * 8.0, 0.0, 1.0)
                tissue = np.sqrt(np.clip(1.0 - (du * (1 / 0.12)) ** 2, 0.0, 1.0))
                humerus = np.clip((0.04 - np.abs(u[win] - cu - side * 0.01)) * 50.0, 0.0, 1.0)
                D[win] += top * (0.55 * tissue + 0.18 * p.bone * humerus)

    # Trachea and main bronchi: air in the mediastinum.
    win = film.box(mid - 0.2, mid + 0.2, -1.6, -0.2)
    if win is not None:
        uu, vv = u[win] - mid, v[win]
        tube = np.clip((0.034 - np.abs(uu + 0.01)) * 60.0, 0.0, 1.0) * np.clip((-0.36 - vv) * 20.0, 0.0, 1.0)
        for side in (-1.0, 1.0):
            along = uu * side
            tube = np.maximum(
                tube,
                np.clip((0.022 - np.abs(vv + 0.36 - 0.8 * along)) * 60.0, 0.0, 1.0)
                * np.clip(along * 30.0, 0.0, 1.0)
                * np.clip((0.15 - along) * 30.0, 0.0, 1.0),
            )
        D[win] -= 0.15 * tube

    # Breast shadows over the lower lungs.
    if p.breast > 0:
        for c in centres:
            cu, cv = c + 0.1 * np.sign(c - mid), base - 0.14
            ru, rv = 0.32 * p.breast, 0.26 * p.breast
            win = film.box(cu - ru, cu + ru, cv - rv, cv + rv)
            if win is not None:
                lower = np.clip((v[win] - (cv - 0.8 * rv)) * 2.5, 0.0, 1.0)
                D[win] += 0.08 * _inside(_ellipse(u[win], v[win], cu, cv, ru, rv), 8.0) * lower

    return _Thorax(mid, apex, base, dome_top, lung_a, (hc_u, hc_v, heart_w, heart_h), lungs, lung_all)


def _rib_phase(u, v, p: _Patient, mid: float, shift=0.0):
    """Rib coordinate: a whole number plus 0.5 on each posterior rib's centre line."""
    au = np.abs(u - mid)
    phi = v + 0.1 * au - 0.6 * au * au + shift
    return phi * (1.0 / p.rib_spacing) - p.rib_phase


def _rib_profile(t):
    """Posterior rib bands (0..1, brighter cortical edges) from the rib coordinate."""
    band = np.clip((0.2 - np.abs(t - np.floor(t) - 0.5)) * 14.0, 0.0, 1.0)
    return band + 0.8 * band * (1.0 - band)


def _ribs(film: _Film, p: _Patient, th: _Thorax) -> None:
    """Posterior ribs arching over each lung, fainter anterior ribs laterally."""
    reach = 0.38 * p.lung_w + th.lung_a + 0.06
    win = film.box(th.mid - reach, th.mid + reach, th.apex - 0.15, th.base + 0.3)
    if win is None:
        return
    uu, vv = film.u[win], film.v[win]
    au = np.abs(uu - th.mid)
    region = np.clip((reach - au) * 25.0, 0.0, 1.0) * np.clip((au - 0.07) * 25.0, 0.0, 1.0)
    region *= np.clip((th.base + 0.3 - vv) * 2.5, 0.0, 1.0)
    posterior = _rib_profile(_rib_phase(uu, vv, p, th.mid))
    ta = (vv + 0.5 * au) * (1 / 0.2)
    anterior = np.clip((0.12 - np.abs(ta - np.floor(ta) - 0.5)) * 10.0, 0.0, 1.0)
    anterior *= np.clip((au - 0.3) * 8.0, 0.0, 1.0) * np.clip((0.3 - vv) * 5.0, 0.0, 1.0)
    film.D[win] += RIB * p.bone * region * (posterior + 0.3 * anterior)


# ---------------------------------------------------------------------------------------------
# Findings on the frontal film. Each takes its severity s (0: none, 0.3-0.5 subtle, 0.75-1 strong)
# and its row of uniform draws d (d[0] and d[1] went into the severity) for placement.


def _effusion(film: _Film, th: _Thorax, air, no_markings, s: float, d: np.ndarray) -> None:
    """Fluid at the lung base with a meniscus rising laterally; subtle = a blunted costophrenic angle."""
    if s <= 0:
        return
    lungs = th.lungs if d[2] < 0.35 else [th.lungs[int(d[3] < 0.5)]]
    for lung in lungs:
        if lung.win is None:
            continue
        uu, vv = film.u[lung.win], film.v[lung.win]
        height = (0.05 + 0.5 * (s - 0.3) / 0.7) * (0.75 + 0.25 * d[4])
        lateral = np.clip(lung.side * (uu - lung.cu) * (1.0 / lung.a) + 0.3, 0.0, 1.3)
        level = th.base - height - 0.16 * lateral * lateral
        fluid = np.clip((vv - level) * 18.0, 0.0, 1.0) * _inside(
            _ellipse(uu, vv, lung.cu, lung.cv, lung.a * 1.03, lung.b * 1.04), 6.0
        )
        air[lung.win] *= 1.0 - fluid
        no_markings[lung.win] = np.maximum(no_markings[lung.win], fluid)
        film.D[lung.win] += 0.08 * fluid


def _pneumothorax(film: _Film, th: _Thorax, no_markings, s: float, d: np.ndarray) -> tuple | None:
    """Air without lung markings between the chest wall and the collapsed lung, whose edge (returned
    as (lung, centre u, centre v, half-axes, collapse)) gets a thin pleural line at full resolution."""
    if s <= 0:
        return None
    lung = th.lungs[int(d[2] < 0.5)]
    if lung.win is None:
        return None
    collapse = (0.1 + 0.3 * (s - 0.3) / 0.7) * (0.75 + 0.25 * d[3])
    # the lung shrinks towards the hilum (medial and down), opening a gap at the apex and lateral wall
    edge = (
        lung.cu - lung.side * lung.a * collapse * 0.9,
        lung.cv + lung.b * collapse,
        lung.a * (1.0 - collapse),
        lung.b * (1.0 - 0.8 * collapse),
    )
    f2 = _ellipse(film.u[lung.win], film.v[lung.win], *edge)
    outside = np.clip((f2 - 1.0) * 30.0, 0.0, 1.0) * lung.mask[lung.win]
    no_markings[lung.win] = np.maximum(no_markings[lung.win], outside)
    film.D[lung.win] -= 0.1 * outside
    return lung, edge, collapse


def _pleural_line(film: _Film, collapsed) -> None:
    lung, edge, collapse = collapsed
    cu, cv, ru, rv = edge
    win = film.box(lung.cu - lung.a, lung.cu + lung.a, lung.cv - lung.b, cv + 0.3 * rv)
    if win is None:
        return
    uu, vv = film.u[win], film.v[win]
    f2 = _ellipse(uu, vv, cu, cv, ru, rv)
    in_chest = _inside(_ellipse(uu, vv, lung.cu, lung.cv, lung.a, lung.b), 8.0)
    line = np.clip(1.0 - np.abs(f2 - 1.0) * (110.0 * (1.0 - collapse)), 0.0, 1.0)
    # only where air separates the lung from the chest wall: the lateral side and the apex
    open_side = np.clip(lung.side * (uu - cu) * (4.0 / ru) + 0.5, 0.0, 1.0) + np.clip((cv - 0.4 * rv - vv) * 10.0, 0, 1)
    film.D[win] += 0.16 * line * in_chest * np.clip(open_side, 0.0, 1.0)


def _lung_point(th: _Thorax, d0: float, d1: float, d2: float, zone=(-0.5, 0.35)) -> tuple[_Lung, float, float]:
    lung = th.lungs[int(d0 < 0.5)]
    cu = lung.cu + lung.side * lung.a * (-0.3 + 0.75 * d1)
    return lung, cu, zone[0] + (zone[1] - zone[0]) * d2


def _parenchymal_findings(film: _Film, th: _Thorax, p: _Patient, sev: np.ndarray, draws: np.ndarray) -> None:
    """The large, smooth lung findings, drawn on the half-resolution film."""
    banks = _banks()
    u, v = film.u, film.v

    # Lung opacity: one or two large, ill-defined, mottled hazy patches.
    s, d = sev[_IDX["Lung Opacity"]], draws[_IDX["Lung Opacity"]]
    if s > 0:
        for k in range(1 + int(d[9] < 0.4)):
            _, cu, cv = _lung_point(th, d[2 + 3 * k], d[3 + 3 * k], d[4 + 3 * k], zone=(-0.3, 0.3))
            r = 0.16 + 0.1 * d[8]
            tex = 0.5 + banks.mottle[int(d[2] * 250) :, int(d[3] * 250) :]
            film.ellipse(cu, cv, r * 1.1, r, 0.3 * s, sharp=1.5, dome=1.0, mask=th.lung_all, texture=tex)

    # Lung lesion, strong variant: a lobulated mass (small nodules are drawn at full resolution).
    s, d = sev[_IDX["Lung Lesion"]], draws[_IDX["Lung Lesion"]]
    if s >= 0.7 and d[5] < _P_MASS:
        _, cu, cv = _lung_point(th, d[2], d[3], d[4], zone=(-0.55, 0.25))
        r = 0.06 + 0.03 * d[9]
        for k in range(3):
            a = d[6 + k] * 2 * math.pi
            film.ellipse(cu + 0.5 * r * math.cos(a), cv + 0.5 * r * math.sin(a), r, 0.9 * r, 0.2, sharp=8.0, dome=0.4)

    # Edema: bilateral perihilar (bat-wing) haze (Kerley lines are drawn at full resolution).
    s = sev[_IDX["Edema"]]
    if s > 0:
        for lung in th.lungs:
            film.ellipse(th.mid + lung.side * 0.24, -0.05, 0.32, 0.4, 0.2 * s, sharp=1.0, dome=1.0, mask=th.lung_all)

    # Consolidation: a dense lobar opacity with a sharp fissure edge and air bronchograms.
    s, d = sev[_IDX["Consolidation"]], draws[_IDX["Consolidation"]]
    if s > 0:
        lung = th.lungs[int(d[2] < 0.5)]
        if lung.win is not None:
            uu, vv = u[lung.win], v[lung.win]
            lower = d[3] < 0.65
            if lower:
                fissure = lung.cv + lung.b * (0.1 + 0.25 * d[4])
                edge = np.clip((vv - fissure) * 40.0, 0.0, 1.0)
            else:
                fissure = lung.cv - lung.b * (0.05 + 0.2 * d[4])
                edge = np.clip((fissure - vv) * 40.0, 0.0, 1.0)
            centre_v = fissure + (0.3 if lower else -0.3) * lung.b
            extent = _inside(
                _ellipse(uu, vv, lung.cu + 0.1 * (d[5] - 0.5), centre_v, lung.a * (0.8 + 0.4 * s), lung.b * 0.5), 2.0
            )
            bronchi = _texture_at(banks.vessels_half[(p.texture + 3) % _N_VESSEL_TEXTURES], uu - th.mid, vv)
            film.D[lung.win] += edge * extent * lung.mask[lung.win] * (0.45 * s - 0.25 * s * bronchi)

    # Pneumonia: a cluster of fluffy patchy (acinar) opacities in one zone.
    s, d = sev[_IDX["Pneumonia"]], draws[_IDX["Pneumonia"]]
    if s > 0:
        _, cu, cv = _lung_point(th, d[2], d[3], d[4], zone=(-0.35, 0.3))
        spread = 0.1 + 0.08 * s
        for k in range(5 + int(d[5] * 5)):
            a, rr = (d[6] + k * 0.618) * 2 * math.pi, spread * math.sqrt((d[7] + k * 0.382) % 1.0)
            r = (0.04 + 0.035 * ((d[8] + k * 0.27) % 1.0)) * (0.8 + 0.5 * s)
            film.ellipse(
                cu + rr * math.cos(a), cv + rr * math.sin(a), r, r, 0.24 * s, sharp=1.6, dome=1.0, mask=th.lung_all
            )

    # Atelectasis: a plate-like band in a lower zone (the volume loss is drawn with the anatomy).
    s, d = sev[_IDX["Atelectasis"]], draws[_IDX["Atelectasis"]]
    if s > 0:
        lung = th.lungs[int(d[2] < 0.5)]
        cu = lung.cu + (d[4] - 0.5) * lung.a * 0.6
        cv = th.base - 0.22 - 0.2 * d[5]
        angle = (d[6] - 0.5) * 0.5
        half_len, half_thick = 0.18 + 0.08 * d[7], 0.015 + 0.025 * s
        win = film.box(cu - half_len, cu + half_len, cv - half_len, cv + half_len)
        if win is not None:
            du, dv = u[win] - cu, v[win] - cv
            along = (du * math.cos(angle) + dv * math.sin(angle)) * (1.0 / half_len)
            across = (dv * math.cos(angle) - du * math.sin(angle)) * (1.0 / half_thick)
            film.D[win] += 0.35 * _inside(along * along + across * across, 3.0) * th.lung_all[win]


def _pleural_thickening(film: _Film, th: _Thorax, s: float, d: np.ndarray) -> None:
    """Pleural other: thickening along the lateral chest wall (the strong sign's plaque is drawn later)."""
    if s <= 0:
        return
    lung = th.lungs[int(d[2] < 0.5)]
    if lung.win is None:
        return
    uu, vv = film.u[lung.win], film.v[lung.win]
    f = _ellipse(uu, vv, lung.cu, lung.cv, lung.a, lung.b)
    rim = np.clip((f - (0.93 - 0.12 * s)) * 30.0, 0.0, 1.0) * np.clip((1.0 - f) * 30.0, 0.0, 1.0)
    v_mid = lung.cv + lung.b * (-0.5 + 0.8 * d[3])
    span = lung.b * (0.25 + 0.3 * d[4])
    rim *= np.clip(lung.side * (uu - lung.cu) * 8.0, 0.0, 1.0) * np.clip((span - np.abs(vv - v_mid)) * 10.0, 0.0, 1.0)
    film.D[lung.win] += 0.3 * rim * np.clip(lung.mask[lung.win], 0.3, 1.0)


def _fracture(film: _Film, p: _Patient, th: _Thorax, s: float, d: np.ndarray) -> None:
    """Rib fractures at full resolution: a lucent gap across the rib, displaced when strong; 1-3 ribs.

    Adds the difference between the broken and the intact rib to the upsampled film.
    """
    if s <= 0:
        return
    side = _side(d[2])
    au = 0.35 + 0.25 * d[4]
    for k in range(1 if s < 0.7 else 1 + int(d[3] * 3)):
        u0 = th.mid + side * au
        v_guess = -0.45 + 0.5 * d[5] + k * p.rib_spacing
        t = float(_rib_phase(u0, v_guess, p, th.mid))
        v0 = v_guess - (t - math.floor(t) - 0.5) * p.rib_spacing  # onto the rib's centre line
        win = film.box(u0 - 0.1, u0 + 0.1, v0 - 0.08, v0 + 0.08)
        if win is None:
            continue
        uu, vv = film.u[win], film.v[win]
        slope = side * (0.1 - 1.2 * au)  # dv/du along the rib at the break
        along = ((uu - u0) + slope * (vv - v0)) * (1.0 / math.hypot(1.0, slope))
        gap = np.clip((np.abs(along) - (0.004 + 0.008 * s)) * 300.0, 0.0, 1.0)
        step = 0.25 * p.rib_spacing * s * (d[6 + k] - 0.5) * 2 if s >= 0.7 else 0.0
        intact = _rib_profile(_rib_phase(uu, vv, p, th.mid))
        broken = _rib_profile(_rib_phase(uu, vv, p, th.mid, shift=step * (along > 0))) * gap
        near = np.clip((0.09 - np.abs(uu - u0)) * 30.0, 0.0, 1.0) * np.clip((0.07 - np.abs(vv - v0)) * 30.0, 0, 1)
        film.D[win] += RIB * p.bone * near * (broken - intact)


def _small_findings(film: _Film, th: _Thorax, sev: np.ndarray, draws: np.ndarray) -> None:
    """Small signs at full resolution: nodules, Kerley B lines, a calcified pleural plaque."""
    s, d = sev[_IDX["Lung Lesion"]], draws[_IDX["Lung Lesion"]]
    if s > 0 and not (s >= 0.7 and d[5] < _P_MASS):  # a nodule: sharp, round; subtle = small and faint
        _, cu, cv = _lung_point(th, d[2], d[3], d[4], zone=(-0.55, 0.25))
        r = 0.025 + 0.045 * (s - 0.3) / 0.7 + 0.01 * d[6]
        film.ellipse(cu, cv, r, r, 0.15 + 0.25 * s, sharp=10.0, dome=0.4)
    s, d = sev[_IDX["Edema"]], draws[_IDX["Edema"]]
    if s >= 0.7:  # Kerley B lines: short horizontal lines at the lateral lung bases
        for lung in th.lungs:
            for k in range(5):
                yy = th.base - 0.1 - 0.035 * k - 0.02 * d[2 + k]
                xu = lung.cu + lung.side * (lung.a * 0.8 - 0.03 * d[7 + k % 4])
                film.ellipse(xu, yy, 0.045, 0.006, 0.15, sharp=2.0)
    s, d = sev[_IDX["Pleural Other"]], draws[_IDX["Pleural Other"]]
    if s >= 0.7:
        lung = th.lungs[int(d[2] < 0.5)]
        film.ellipse(
            lung.cu + lung.side * lung.a * 0.85, lung.cv + lung.b * (-0.5 + 0.8 * d[3]), 0.02, 0.05, 0.45, sharp=6.0
        )


def _devices(film: _Film, th: _Thorax, s: float, d: np.ndarray) -> None:
    """Support devices: strong = 2-4 of tubes, lines, a pacemaker, ECG leads, sternotomy wires;
    subtle = one thin central line or a few ECG leads."""
    if s <= 0:
        return
    metal = np.zeros_like(film.D)
    sub = np.random.default_rng(int(d[2] * 2**31))
    mid = th.mid
    hc_u, hc_v, heart_w, _ = th.heart
    kinds = ["ett", "ngt", "cvc", "pacemaker", "ecg", "sternotomy"]
    if s >= 0.7:
        chosen = list(sub.choice(kinds, size=2 + int(d[3] * 3), replace=False))
    else:
        chosen = ["cvc" if d[3] < 0.6 else "ecg"]
    stomach = (th.lungs[1].cu - 0.05, th.dome_top[1] + 0.2)
    for kind in chosen:
        if kind == "ett":  # endotracheal tube: radiolucent wall, radio-opaque stripe, tip above the carina
            us, vs = _curve((mid - 0.02, -1.5), (mid - 0.005, -0.5 - 0.08 * sub.random()), 0.02)
            film.polyline(metal, us, vs, 0.016, 0.3)
            film.polyline(metal, us, vs, 0.004, 0.8)
        elif kind == "ngt":  # nasogastric tube down the oesophagus into the stomach
            u1, v1 = _curve((mid - 0.03, -1.5), (mid + 0.03, th.dome_top[1] - 0.1), 0.03)
            u2, v2 = _curve((mid + 0.03, th.dome_top[1] - 0.1), stomach, -0.06)
            film.polyline(metal, np.r_[u1, u2], np.r_[v1, v2], 0.011, 0.35)
            film.polyline(metal, np.r_[u1, u2], np.r_[v1, v2], 0.003, 0.8)
        elif kind == "cvc":  # central venous line from a subclavian vein to the superior vena cava
            side = -1.0 if sub.random() < 0.7 else 1.0
            us, vs = _curve((mid + side * 0.75, -0.95), (mid + side * 0.06, -0.3 + 0.1 * sub.random()), 0.08 * side)
            film.polyline(metal, us, vs, 0.008 if s >= 0.7 else 0.005, 0.7 if s >= 0.7 else 0.45)
        elif kind == "pacemaker":  # generator under the clavicle, leads into the right heart
            side = 1.0 if sub.random() < 0.75 else -1.0
            gu, gv = mid + side * (0.5 + 0.1 * sub.random()), th.apex + 0.15 + 0.1 * sub.random()
            film.ellipse(gu, gv, 0.09, 0.065, 1.8, sharp=12.0, target=metal)
            for target in ((hc_u - 0.5 * heart_w, hc_v - 0.1), (hc_u + 0.2 * heart_w, hc_v + 0.08)):
                us, vs = _curve((gu, gv), target, 0.12 * side)
                film.polyline(metal, us, vs, 0.0075, 0.9)
        elif kind == "ecg":  # electrodes (rings) and their wires
            for _ in range(3 + int(sub.random() * 3)):
                eu, ev = mid + sub.uniform(-0.75, 0.75), sub.uniform(-0.8, 0.4)
                ring = np.linspace(0, 2 * math.pi, 24)
                film.polyline(metal, eu + 0.028 * np.cos(ring), ev + 0.028 * np.sin(ring), 0.0055, 0.7)
                us, vs = _curve((eu, ev), (eu + sub.uniform(-0.5, 0.5), ev - 0.8), sub.uniform(-0.2, 0.2))
                film.polyline(metal, us, vs, 0.004, 0.4)
        elif kind == "sternotomy":  # wire loops along the sternum
            for k in range(5):
                film.ellipse(mid, -0.45 + 0.13 * k, 0.035, 0.014, 1.0, sharp=5.0, target=metal)
    film.D += metal


# ---------------------------------------------------------------------------------------------
# Lateral film: the patient faces the image's left (anterior at negative u).


def _render_lateral(p: _Patient, shot: _Shot, sev: np.ndarray, draws: np.ndarray) -> np.ndarray:
    banks = _banks()
    low = _Film(shot, scale=2)
    u, v, D = low.u, low.v, low.D
    depth = 0.82 * p.body_w / 0.875  # half the front-to-back diameter

    # Body, seen through its full width; the raised arms add soft tissue and bone over the top.
    q = (u - 0.03) * (1.0 / depth)
    body = np.sqrt(np.clip(1.0 - q * q, 0.0, 1.0))
    D += (p.soft * SOFT + 0.2) * body
    low.ellipse(0.05, -1.25, 0.55, 0.45, 0.35, sharp=2.0, dome=1.0)
    for k in (-1.0, 1.0):
        us, vs = _curve((-0.2 + 0.1 * k, -1.6), (0.15 + 0.08 * k, -0.75), 0.1)
        low.polyline(D, us, vs, 0.045, 0.12 * p.bone)

    # Diaphragm: higher in front, deepest at the posterior costophrenic sulcus; two domes.
    base = -0.85 + 1.5 * p.lung_h * shot.inspiration + p.dome
    reach = np.clip((u + 0.6) * (1.0 / 1.25), 0.0, 1.0)
    diaph = base - 0.38 + 0.42 * reach * reach
    below = np.clip((v - diaph) * 30.0, 0.0, 1.0)
    D += (0.08 * below + 0.04 * np.clip((v - diaph - 0.05) * 30.0, 0.0, 1.0)) * body

    # Lungs (both superimposed), narrower at the apex, cut by the diaphragm.
    lung_b = (base + 0.9) / 2
    lc_v = -0.9 + lung_b
    y = (v - lc_v) * (1.0 / lung_b)
    x = (u + 0.01) * (1.0 / (depth * 0.8)) * (1.0 + 0.35 * np.clip(-y, 0.0, 1.0))
    x2, y2 = x * x, y * y
    lung = np.clip((1.0 - x2 * np.sqrt(x2) - y2 * np.sqrt(y2)) * 5.0, 0.0, 1.0) * (1.0 - below)
    # Heart in front and low; cardiomegaly fills the space behind it.
    s_cm = sev[_IDX["Cardiomegaly"]]
    hw, hh = (0.3 + 0.14 * s_cm) * p.heart_w / 0.35, p.heart_h * (0.85 + 0.15 * s_cm)
    hc_u, hc_v = -0.3 + 0.1 * s_cm, base - 0.22
    win = low.box(hc_u - hw, hc_u + hw, hc_v - hh, hc_v + hh)
    if win is not None:
        heart = _inside(_ellipse(u[win], v[win], hc_u, hc_v, hw, hh), 4.0) * (1.0 - below[win])
        D[win] += 0.14 * heart
        lung[win] *= 1.0 - 0.7 * heart
    us, vs = _curve((-0.3, -0.2), (0.45, -0.2), -0.3)  # the aortic arch
    low.polyline(D, np.r_[us, 0.45, 0.47], np.r_[vs, 0.2, 0.6], 0.045, 0.05)
    s_ecm = sev[_IDX["Enlarged Cardiomediastinum"]]
    if s_ecm > 0:  # a wide anterior mediastinum fills the clear space behind the sternum
        low.ellipse(-0.4, -0.35, 0.22, 0.32, 0.25 * s_ecm, sharp=2.0)
    s = sev[_IDX["Pleural Effusion"]]
    if s > 0:  # fluid in the posterior costophrenic sulcus, with a meniscus
        level = base - 0.02 - 0.35 * s - 0.15 * np.clip(u - 0.1, 0.0, 1.0)
        lung *= 1.0 - np.clip((v - level) * 15.0, 0.0, 1.0) * np.clip((u + 0.1) * 6.0, 0.0, 1.0)
    D -= 0.75 * AIR * lung
    win = low.box(-1.0, 1.0, -1.0, 1.0)
    if win is not None:
        tex = _texture_at(banks.vessels_half[p.texture], u[win], v[win], scale=0.8)
        D[win] += 0.12 * p.vessels * (1.0 + 0.8 * sev[_IDX["Edema"]]) * tex * lung[win]

    # Spine at the back (more lucent lower down), posterior ribs, the sternum in front, the trachea.
    win = low.box(0.25, 1.0, -2.0, 2.0)
    if win is not None:
        uu, vv = u[win], v[win]
        sc = depth * 0.68 + 0.06 * vv  # a gentle kyphosis
        column = np.clip((0.085 - np.abs(uu - sc)) * 40.0, 0.0, 1.0)
        phase = vv * (1 / 0.12)
        discs = np.clip((np.abs(phase - np.floor(phase) - 0.5) - 0.36) * 10.0, 0.0, 1.0)
        arch = np.clip((0.035 - np.abs(uu - sc - 0.15)) * 40.0, 0.0, 1.0)
        lucent = 1.1 - 0.25 * np.clip(vv, -1.0, 1.0)
        D[win] += p.bone * (0.16 * column * (1.0 - 0.7 * discs) + 0.08 * arch) * lucent
    t = (v - 0.6 * u) * (1.0 / p.rib_spacing)
    ribs = np.clip((0.15 - np.abs(t - np.floor(t) - 0.5)) * 10.0, 0.0, 1.0)
    D += 0.05 * p.bone * ribs * np.clip((u - 0.05) * 4.0, 0.0, 1.0) * body
    win = low.box(-1.0, -0.3, -1.0, 0.6)
    if win is not None:
        uu, vv = u[win], v[win]
        front = -depth * 0.84 + 0.07 * (vv + 0.5)
        D[win] += (
            0.2
            * p.bone
            * np.clip((0.022 - np.abs(uu - front)) * 60.0, 0.0, 1.0)
            * np.clip((0.4 - np.abs(vv + 0.15)) * 20.0, 0.0, 1.0)
        )
    win = low.box(-0.35, 0.35, -1.6, -0.1)
    if win is not None:
        uu, vv = u[win], v[win]
        centre = -0.04 + 0.12 * (vv + 0.3)
        D[win] -= 0.08 * np.clip((0.045 - np.abs(uu - centre)) * 40.0, 0.0, 1.0) * np.clip((-0.28 - vv) * 20, 0, 1)

    # Parenchymal findings as blobs where the lung is.
    lung_mask = np.clip(lung * 1.5, 0.0, 1.0)
    blobs = {
        "Lung Opacity": (0.18, 0.18, 1.5),
        "Edema": (0.35, 0.14, 1.0),
        "Consolidation": (0.2, 0.28, 3.0),
        "Pneumonia": (0.12, 0.16, 1.5),
        "Lung Lesion": (0.05, 0.3, 8.0),
        "Atelectasis": (0.16, 0.22, 2.0),
    }
    for name, (radius, amp, sharp) in blobs.items():
        s, d = sev[_IDX[name]], draws[_IDX[name]]
        if s > 0:
            flat = 0.3 if name == "Atelectasis" else 1.0
            low.ellipse(
                -0.4 + 0.8 * d[3],
                -0.5 + 0.8 * d[4],
                radius,
                radius * flat,
                amp * s,
                sharp=sharp,
                dome=1.0,
                mask=lung_mask,
            )

    # Devices at full resolution: a tube down the midline, a pacemaker in front.
    film = low.full_resolution(shot)
    s = sev[_IDX["Support Devices"]]
    if s > 0:
        metal = np.zeros_like(film.D)
        us, vs = _curve((-0.12, -1.5), (0.0, -0.45), 0.05)
        film.polyline(metal, us, vs, 0.012 if s >= 0.7 else 0.005, 0.5)
        if s >= 0.7 and draws[_IDX["Support Devices"], 4] < 0.4:
            film.ellipse(-0.6, -0.55, 0.04, 0.09, 1.8, sharp=12.0, target=metal)
        film.D += metal
    return film.develop(shot, gain=0.85)
