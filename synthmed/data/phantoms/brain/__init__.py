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
dataset's known 12-bit quirk (see `writer.encode_pixels`).

Anatomy is drawn in Hounsfield units from a per-patient head model: an ellipsoidal skull with
scalp, a CSF layer, a cortical grey-matter ribbon folded around sulci, white matter, deep grey
nuclei, lateral/third/fourth ventricles, the interhemispheric and Sylvian fissures, basal cisterns
and skull-base bone, with per-patient size, position, rotation, atrophy, tissue contrast, noise and
calcified distractors (choroid plexus, pineal, falx). Each haemorrhage subtype has its own shape and
place at blood density; a severity draw makes some of them large and some hard to see. Slice labels
come from the same lesion geometry the renderer uses, so a positive label always has blood pixels.

Modules, in the order data flows through them:

- `head`: each patient's head (`Anatomy`) and which structures a slice at height z cuts.
- `labels`: patients planned before any pixel: haemorrhages, slice labels, ids, encodings.
- `grid`: the per-patient coordinate grid and the random fields a slice is drawn on.
- `anatomy`: normal anatomy on a slice, in HU.
- `findings`: each haemorrhage subtype drawn at blood density.
- `render`: a planned patient's slices: anatomy, haemorrhages, noise, block-averaging.
- `writer`: `make_rsna`, which writes the DICOM files and stage_2_train.csv.
"""

from synthmed.data.phantoms.brain.findings import OEDEMA_HU
from synthmed.data.phantoms.brain.grid import Banks, HeadGrid, head_to_pixel
from synthmed.data.phantoms.brain.head import SIZE, Anatomy, brain_scale, check_matrix
from synthmed.data.phantoms.brain.labels import (
    ENCODINGS,
    RSNA_SLICE_PREVALENCE,
    Lesion,
    PatientPlan,
    lesion_on_slice,
    plan_patients,
    slice_labels,
    unique_ids,
)
from synthmed.data.phantoms.brain.render import render_matrix_slice, render_patient, render_size, render_slice
from synthmed.data.phantoms.brain.writer import CSV_NAME, IMAGE_DIR, SeriesWriter, encode_pixels, make_rsna

__all__ = [
    "CSV_NAME",
    "ENCODINGS",
    "IMAGE_DIR",
    "OEDEMA_HU",
    "RSNA_SLICE_PREVALENCE",
    "SIZE",
    "Anatomy",
    "Banks",
    "HeadGrid",
    "Lesion",
    "PatientPlan",
    "SeriesWriter",
    "brain_scale",
    "check_matrix",
    "encode_pixels",
    "head_to_pixel",
    "lesion_on_slice",
    "make_rsna",
    "plan_patients",
    "render_matrix_slice",
    "render_patient",
    "render_size",
    "render_slice",
    "slice_labels",
    "unique_ids",
]
