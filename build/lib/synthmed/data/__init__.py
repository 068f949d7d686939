"""Source datasets (phantom or real) in their public formats, read into one index per modality.

An *index* is a pandas DataFrame with one row per image: `path` (absolute path of the image
file), `patient` (str) and one 0/1 int8 column per label, plus modality-specific columns. The
label columns, in the paper's order, are `CHEXPERT_LABELS` for chest and `BRAIN_LABELS` for brain.
"""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data. The message names the file or CSV row and what was expected."""


# CheXpert's 14 observations, in train.csv's column order (columns 5 onward).
CHEXPERT_LABELS = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]

# RSNA's five haemorrhage subtypes as Kaggle names them; Kaggle's sixth column is "any".
RSNA_SUBTYPES = ["epidural", "intraparenchymal", "intraventricular", "subarachnoid", "subdural"]
RSNA_CSV_TYPES = [*RSNA_SUBTYPES, "any"]
# The paper replaces "any" with "no finding": 1 exactly when no subtype is present.
BRAIN_LABELS = [*RSNA_SUBTYPES, "no_finding"]

MODALITIES = ("chest", "brain")


def labels_for(modality: str) -> list[str]:
    if modality == "chest":
        return list(CHEXPERT_LABELS)
    if modality == "brain":
        return list(BRAIN_LABELS)
    raise ValueError(f"unknown modality {modality!r}; expected 'chest' or 'brain'")
