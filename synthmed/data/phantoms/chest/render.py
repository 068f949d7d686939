"""One train.csv row to one chest film: the order in which anatomy and findings are drawn.

All randomness is seeded from (seed, patient, study, view): a patient's build is shared by all of
their studies and views, a study's findings by its views, and each view has its own exposure. So
an image depends only on its row, the seed and the size, and any subset of rows renders the same.
Order matters twice: later layers cover earlier ones (pleural fluid takes the place of lung air),
and float32 sums depend on the order of their terms, which keeps the images byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from synthmed.data import CHEXPERT_LABELS, DataError
from synthmed.data.phantoms.chest import anatomy, devices, findings
from synthmed.data.phantoms.chest.anatomy import Patient, draw_patient
from synthmed.data.phantoms.chest.film import SHORT_SIDE, Film, Shot, draw_shot
from synthmed.data.phantoms.chest.labels import LABEL_INDEX

_PATH_NUMBERS = re.compile(r"patient(\d+)/study(\d+)/view(\d+)_(frontal|lateral)\.jpg$")
N_DRAWS = 12  # uniform draws per finding and study: two for its severity, the rest to place its sign
DEFAULT_AGE = 60.0  # for rows whose age is not a number
LATERAL_GAIN = 0.85  # lateral films are developed with less attenuation gain (exposed for the thicker path)


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
        age = DEFAULT_AGE
    patient = draw_patient(np.random.default_rng([seed, 0, pid]), female=row[1] == "Female", age=age)
    study_rng = np.random.default_rng([seed, 2, pid, study])
    draws = study_rng.random((len(CHEXPERT_LABELS), N_DRAWS))
    signs = findings.severities(labels, draws)
    shot = draw_shot(
        np.random.default_rng([seed, 1, pid, study, view]), ap=row[4] == "AP", lateral=lateral, short_side=short_side
    )
    if lateral:
        return render_lateral(patient, shot, signs, draws)
    return render_frontal(patient, shot, signs, draws)


def _finding(name: str, sev: np.ndarray, draws: np.ndarray) -> tuple[float, np.ndarray]:
    return sev[LABEL_INDEX[name]], draws[LABEL_INDEX[name]]


def render_frontal(p: Patient, shot: Shot, sev: np.ndarray, draws: np.ndarray) -> np.ndarray:
    low = Film(shot, scale=2)
    th = anatomy.frontal_anatomy(low, p, shot, sev, draws)

    # Lung air; pleural findings take its place: fluid (effusion), air without markings (pneumothorax).
    air = anatomy.lung_air(low, th)
    no_markings = np.zeros_like(low.D)
    findings.effusion(low, th, air, no_markings, *_finding("Pleural Effusion", sev, draws))
    collapsed = findings.pneumothorax(low, th, no_markings, *_finding("Pneumothorax", sev, draws))
    anatomy.aerate(low, p, th, air, no_markings, sev[LABEL_INDEX["Edema"]])  # markings more prominent with edema

    anatomy.ribs(low, p, th)
    findings.parenchymal_findings(low, th, p, sev, draws)
    findings.pleural_thickening(low, th, *_finding("Pleural Other", sev, draws))

    # Thin and small details at full resolution.
    film = low.full_resolution(shot)
    if collapsed is not None:
        findings.pleural_line(film, collapsed)
    findings.fracture(film, p, th, *_finding("Fracture", sev, draws))
    findings.small_findings(film, th, sev, draws)
    devices.frontal_devices(film, th, *_finding("Support Devices", sev, draws))
    return film.develop(shot)


def render_lateral(p: Patient, shot: Shot, sev: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The patient faces the image's left (anterior at negative u)."""
    low = Film(shot, scale=2)
    chest = anatomy.lateral_anatomy(low, p, shot, sev[LABEL_INDEX["Cardiomegaly"]])
    findings.lateral_mediastinum(low, sev[LABEL_INDEX["Enlarged Cardiomediastinum"]])
    findings.lateral_effusion(low, chest, sev[LABEL_INDEX["Pleural Effusion"]])
    anatomy.aerate_lateral(low, p, chest, sev[LABEL_INDEX["Edema"]])
    findings.lateral_blobs(low, chest, sev, draws)

    # Devices at full resolution: a tube down the midline, a pacemaker in front.
    film = low.full_resolution(shot)
    devices.lateral_devices(film, *_finding("Support Devices", sev, draws))
    return film.develop(shot, gain=LATERAL_GAIN)
