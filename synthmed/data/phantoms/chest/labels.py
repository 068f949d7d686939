"""The chest phantoms' rows: which patients, studies and views exist and what their 14 labels say.

By default the rows are CheXpert's own (its train.csv, shipped inside the torchxrayvision wheel),
so the label structure the benchmarks depend on is the real one. Without that package a synthetic
label model stands in, at the same number of patients. No pixels here: `render` draws each row.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import importlib.util
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthmed.data import CHEXPERT_LABELS, DataError
from synthmed.data.chexpert import CSV_COLUMNS, DATASET_DIR, parse_label_frame

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

LABEL_INDEX = {name: k for k, name in enumerate(CHEXPERT_LABELS)}  # column of each finding in a label row


# ---------------------------------------------------------------------------------------------
# CheXpert's real table.


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


def phantom_rows(n_patients: int, seed: int, label_source: str) -> tuple[pd.DataFrame, str]:
    """The raw train.csv rows of a phantom of n_patients and the label source they came from.

    Real labels: whole patients (all studies and views) drawn from CheXpert's table, keeping their
    paths and rows. Synthetic labels: the synthetic model's patients 1..n_patients.
    """
    source = _resolve_source(label_source)
    if source == "torchxrayvision":
        return _draw_patients(_real_raw_rows(), n_patients, seed), source
    return synthetic_label_rows(n_patients, seed), source


def _draw_patients(table: pd.DataFrame, n_patients: int, seed: int) -> pd.DataFrame:
    """All rows of n_patients patients drawn without replacement, in the table's row order."""
    patient = table["Path"].str.extract(r"(patient\d+)/", expand=False)
    unique = pd.unique(patient)
    if n_patients > len(unique):
        raise ValueError(f"n_patients={n_patients} exceeds the {len(unique)} patients of the label table")
    chosen = np.random.default_rng([seed, 3]).choice(len(unique), size=n_patients, replace=False)
    keep = patient.isin(set(unique[chosen])).to_numpy()
    return table[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# The synthetic stand-in.


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


@dataclass(frozen=True)
class SyntheticCohort:
    """The synthetic label model's patients, studies and views, set near CheXpert's."""

    studies_mean: float = 2.9  # studies per patient, geometric (CheXpert: 187,641 studies / 64,540 patients)
    studies_max: int = 40  # a patient's studies are capped here
    acuity_beta: tuple[float, float] = (1.2, 1.2)  # per-patient acuity ~ Beta(a, b), shared by all findings
    age_mean_sd: tuple[float, float] = (61.0, 17.0)  # age at the first study, years (normal)
    age_range: tuple[int, int] = (18, 90)  # ages are clipped to this range; CheXpert writes 90 for older
    p_male: float = 0.594  # fraction of men
    p_ap: float = 0.846  # fraction of frontal views taken AP (the rest PA)
    rate_base: float = 0.15  # positive rate: CheXpert rate * (rate_base + rate_acuity * acuity),
    rate_acuity: float = 1.7  # ... about 1 on average over patients
    rate_max: float = 0.97  # ... and never above this
    p_second_frontal: float = 0.02  # studies with a second frontal view
    p_lateral: float = 0.15  # studies with a lateral view


SYNTHETIC_COHORT = SyntheticCohort()


def synthetic_label_rows(n_patients: int, seed: int) -> pd.DataFrame:
    """A stand-in for CheXpert's label table: raw string rows (train.csv's columns) for n_patients.

    Each patient has a geometric number of studies (2.9 on average, as CheXpert), each study a
    frontal view and sometimes a second frontal and a lateral. A per-patient acuity shared by all
    findings makes them co-occur; each finding's rate of 1.0 / -1.0 / 0.0 / blank follows
    CheXpert's per-image rates on average.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be >= 1, got {n_patients}")
    c = SYNTHETIC_COHORT
    rng = np.random.default_rng([seed, 7])
    n_studies = np.minimum(rng.geometric(1 / c.studies_mean, n_patients), c.studies_max)
    patient_of_study = np.repeat(np.arange(n_patients), n_studies)
    study_num = np.concatenate([np.arange(n, 0, -1) for n in n_studies])  # CheXpert lists newest first
    n_st = len(patient_of_study)
    acuity = rng.beta(*c.acuity_beta, n_patients)[patient_of_study]
    age0 = np.clip(rng.normal(*c.age_mean_sd, n_patients), *c.age_range).round()
    sex = np.where(rng.random(n_patients) < c.p_male, "Male", "Female")[patient_of_study]
    ap = rng.random(n_st) < c.p_ap

    # Finding states per study: positive with a rate scaled by acuity (mean ~1), then coded.
    codes = np.full((n_st, len(CHEXPERT_LABELS)), "", dtype=object)
    any_pos = np.zeros(n_st, dtype=bool)
    for name, (p1, pu, p0) in _SYNTH_CODE_RATES.items():
        k = LABEL_INDEX[name]
        pos_rate = np.clip((p1 + pu) * (c.rate_base + c.rate_acuity * acuity), 0, c.rate_max)
        positive = rng.random(n_st) < pos_rate
        uncertain = rng.random(n_st) < pu / (p1 + pu)
        negative_said = rng.random(n_st) < p0 / max(1e-9, 1 - p1 - pu)
        col = np.where(positive, np.where(uncertain, "-1.0", "1.0"), np.where(negative_said, "0.0", ""))
        codes[:, k] = col
        if name != "Support Devices":  # CheXpert allows "No Finding" together with support devices
            any_pos |= positive
    codes[:, LABEL_INDEX["No Finding"]] = np.where(any_pos, "", "1.0")

    # Views: view1_frontal always; sometimes a second frontal; sometimes a lateral.
    second_frontal = rng.random(n_st) < c.p_second_frontal
    lateral = rng.random(n_st) < c.p_lateral
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
            row = [f"{base}view{v}_{kind}.jpg", sex[i], str(min(age, c.age_range[1])), kind.capitalize(), appa]
            rows.append([*row, *codes[i]])
    return pd.DataFrame(rows, columns=CSV_COLUMNS, dtype=str)
