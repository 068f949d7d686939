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

Modules, in the order data flows through them:

- `labels`: the rows: CheXpert's real table or the synthetic label model, and patients drawn from it.
- `textures`: vessel, noise and mottle banks, made once per process from a fixed seed.
- `film`: one image's acquisition (size, framing, exposure) and its drawing surface.
- `anatomy`: each patient's build and the normal structures of frontal and lateral films.
- `findings`: severities from labels, and the sign each finding draws.
- `devices`: the support devices' tubes, lines and wires.
- `render`: one row to one image, drawing anatomy and findings in order.
- `writer`: `make_chexpert`, which writes train.csv and the JPEGs.
"""

from synthmed.data.phantoms.chest.film import SHORT_SIDE
from synthmed.data.phantoms.chest.findings import P_STRONG, P_UNCERTAIN_SHOWN, severities
from synthmed.data.phantoms.chest.labels import (
    CHEXPERT_TRAIN_PATIENTS,
    LABEL_SOURCES,
    chexpert_label_table,
    real_label_file,
    synthetic_label_rows,
)
from synthmed.data.phantoms.chest.labels import _resolve_source as _resolve_source  # the tests check it directly
from synthmed.data.phantoms.chest.render import render_row
from synthmed.data.phantoms.chest.writer import JPEG_QUALITY, make_chexpert

__all__ = [
    "CHEXPERT_TRAIN_PATIENTS",
    "JPEG_QUALITY",
    "LABEL_SOURCES",
    "P_STRONG",
    "P_UNCERTAIN_SHOWN",
    "SHORT_SIDE",
    "chexpert_label_table",
    "make_chexpert",
    "real_label_file",
    "render_row",
    "severities",
    "synthetic_label_rows",
]
