"""Writes a phantom CheXpert-v1.0-small: `train.csv`, a `phantom.json` note and one JPEG per row."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from synthmed.data.chexpert import CSV_COLUMNS, CSV_NAME, DATASET_DIR
from synthmed.data.phantoms.chest.film import SHORT_SIDE
from synthmed.data.phantoms.chest.labels import phantom_rows
from synthmed.data.phantoms.chest.render import render_row

log = logging.getLogger(__name__)

JPEG_QUALITY = 90


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
    rows, source = phantom_rows(n_patients, seed, label_source)

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
