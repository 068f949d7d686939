"""The reader-study responses CSV: its schema, a validating loader and a writer.

One row is one *read*: one reader judging one image as real or synthetic. The file is plain CSV
(UTF-8, comma-separated, a header row naming the columns); `RESPONSE_COLUMNS` documents each column.
The quiz (`synthmed.reader.quiz`) writes it, contributors may send their own, and
`synthmed.reader.study` analyses it.

Conventions the schema fixes (the paper's own study design is unknown, paper-spec §7):
- `image_id` names the *stimulus*: one image file at the resolution it was shown. Its truth,
  modality and resolution must agree on every row that names it, and a reader reads it at most
  once (a repeated read would count twice in accuracy and break Fleiss' kappa). Show the same
  underlying image at two resolutions, or in two sets, under two ids.
- `generator` names the GAN whose synthetic images made up the set the image was shown in, for
  real images too: a real image carries its set's generator, so per-generator sensitivity and
  specificity compare each GAN's fakes with the real images they were mixed with. It is never empty.
- Positive = synthetic: the study asks whether readers can spot synthetic images.

Extra columns beyond the schema are allowed and kept as text (e.g. `simulated` from
`synthmed.reader.study.simulate_panel`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from synthmed import cache
from synthmed.data import MODALITIES, DataError

# Column name -> what it holds. The order is the order `write_responses` writes.
RESPONSE_COLUMNS: dict[str, str] = {
    "reader_id": "who read: a stable pseudonymous id (non-empty text)",
    "reader_experience": "the reader's training, free text (e.g. 'radiologist, 8 years'); may be empty",
    "image_id": "the stimulus: one image file at the resolution shown (non-empty text)",
    "modality": "'chest' (CheXpert radiograph) or 'brain' (RSNA head CT slice)",
    "resolution": "side length in pixels of the image as generated, a positive integer (e.g. 32, 64, 128)",
    "generator": "the generator whose synthetic images were in the set, e.g. 'prog-GAN' or 'cpD-GAN'; "
    "real images carry their set's generator (non-empty text)",
    "truth": "what the image is: 'real' or 'synthetic'",
    "answer": "what the reader said: 'real' or 'synthetic'",
    "confidence": "the reader's confidence in the answer, an integer 1 (guess) to 5 (certain)",
    "response_time_s": "seconds from showing the image to the answer, a finite number >= 0",
}

TRUTH_VALUES = ("real", "synthetic")
CONFIDENCE_RANGE = (1, 5)

_INT_COLUMNS = ("resolution", "confidence")
_FLOAT_COLUMNS = ("response_time_s",)


def read_responses(path: str | Path) -> pd.DataFrame:
    """Read and validate a responses CSV; one row per read, columns `RESPONSE_COLUMNS` then extras.

    dtypes: `resolution` and `confidence` int64, `response_time_s` float64, the rest text.
    Raises DataError naming the file and every bad row by its line number in the file (line 1
    is the header), with what was wrong, after checking all rows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate the BOM spreadsheets write
    except FileNotFoundError as exc:
        raise DataError(f"{path}: responses file not found") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    return _parse(text, source=str(path))


def write_responses(responses: pd.DataFrame, path: str | Path) -> Path:
    """Write `responses` as a CSV that `read_responses` accepts; schema columns first, extras after.

    The text is validated before anything is written, so a bad frame raises DataError (naming the
    line each bad row would have had) and leaves `path` untouched. The file is replaced atomically,
    under the same lock as `append_responses`: a crash mid-write leaves the old file whole.
    """
    path = Path(path)
    text = _csv_text(responses, path)
    _parse(text, source=f"{path} (not written)")
    with _locked(path):
        _write_atomic(path, text)
    return path


def append_responses(responses: pd.DataFrame, path: str | Path, *, skip_repeated: bool = False) -> int:
    """Add `responses` to the file at `path`, keeping every read already in it; returns the reads added.

    Under a lock on `path`, the file is re-read as it is now (never a copy read earlier, so two
    quizzes on one file keep each other's answers), the new rows are appended to its text, the whole
    is validated and then swapped in atomically: a crash or a full disk mid-save leaves the file as it
    was. `skip_repeated`: drop new reads whose reader already read that image in the file (the same
    reader in two windows) instead of raising DataError.
    """
    path = Path(path)
    new_text = _csv_text(responses, path)
    _parse(new_text, source=f"{path} (not written)")
    with _locked(path):
        old = path.read_text(encoding="utf-8-sig") if path.exists() else ""
        if not old.strip():
            _write_atomic(path, new_text)
            return len(responses)
        existing = _parse(old, source=str(path))
        header = next(csv.reader(io.StringIO(old, newline="")))
        header = [name.strip() for name in header]
        unknown = [c for c in responses.columns if c not in header]
        if unknown:
            raise DataError(f"cannot add to {path}: its header lacks columns {unknown}")
        rows = responses.reindex(columns=header, fill_value="")
        if skip_repeated:
            done = set(zip(existing["reader_id"], existing["image_id"], strict=True))
            keep = [
                (str(r).strip(), str(i).strip()) not in done
                for r, i in zip(rows["reader_id"], rows["image_id"], strict=True)
            ]
            rows = rows[keep]
        if rows.empty:
            return 0
        merged = old if old.endswith("\n") else old + "\n"
        merged += rows.to_csv(index=False, header=False, lineterminator="\n")
        _parse(merged, source=f"{path} with the new reads (not written)")
        _write_atomic(path, merged)
        return len(rows)


LOCK_TIMEOUT_S = 60.0


def _locked(path: Path):
    """The lock on `path` (`.NAME.lock` beside it) that every writer of the file holds."""
    return cache.locked(path, timeout=LOCK_TIMEOUT_S, what="responses file")


def _write_atomic(path: Path, text: str) -> None:
    cache.atomic_write(path, text, manifest=False)  # the file is the readers' data, not a cache entry


def _csv_text(responses: pd.DataFrame, path: Path) -> str:
    """`responses` as CSV text, schema columns first, extras after; DataError when columns are missing."""
    missing = [c for c in RESPONSE_COLUMNS if c not in responses.columns]
    if missing:
        raise DataError(f"cannot write {path}: responses lack columns {missing}")
    extras = [c for c in responses.columns if c not in RESPONSE_COLUMNS]
    return responses[[*RESPONSE_COLUMNS, *extras]].to_csv(index=False, lineterminator="\n")


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per CSV record; quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next_line = 1
    for fields in reader:
        start, next_line = next_line, reader.line_num + 1
        if fields:  # a blank line is no record
            yield start, fields


def _parse(text: str, source: str) -> pd.DataFrame:
    records = _records(text)
    try:
        _, header = next(records)
    except StopIteration:
        raise DataError(f"{source}: empty file; expected a header row {list(RESPONSE_COLUMNS)}") from None
    except csv.Error as exc:
        raise DataError(f"{source}: line 1: not CSV ({exc})") from exc
    header = [name.strip() for name in header]
    missing = [c for c in RESPONSE_COLUMNS if c not in header]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or duplicated:
        raise DataError(
            f"{source}: line 1 (header): missing columns {missing}, repeated columns {duplicated}; "
            f"expected {list(RESPONSE_COLUMNS)}"
        )

    rows: list[dict[str, object]] = []
    errors: list[str] = []
    first_read: dict[tuple[str, str], int] = {}  # (reader, image) -> line
    first_image: dict[str, tuple[int, tuple[object, ...]]] = {}  # image -> (line, its attributes)
    line = 1
    try:
        for line, fields in records:
            if len(fields) != len(header):
                errors.append(f"line {line}: {len(fields)} fields, expected {len(header)}")
                continue
            row, problems = _validate_row(dict(zip(header, fields, strict=True)))
            if not problems:
                problems += _check_consistency(row, line, first_read, first_image)
            if problems:
                errors.append(f"line {line}: " + "; ".join(problems))
            else:
                rows.append(row)
    except csv.Error as exc:
        errors.append(f"after line {line}: not CSV ({exc}); later rows were not checked")
    if errors:
        raise DataError(f"{source}: {len(errors)} bad row(s):\n  " + "\n  ".join(errors))
    if not rows:
        raise DataError(f"{source}: no reads below the header")
    frame = pd.DataFrame(rows, columns=header)
    frame = frame[[*RESPONSE_COLUMNS, *(c for c in header if c not in RESPONSE_COLUMNS)]]
    return frame.astype({c: "int64" for c in _INT_COLUMNS} | {c: "float64" for c in _FLOAT_COLUMNS})


def _validate_row(raw: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """Typed row and the list of what is wrong with it (empty when valid)."""
    row: dict[str, object] = {name: value.strip() for name, value in raw.items()}
    problems: list[str] = []
    for name in ("reader_id", "image_id", "generator"):
        if not row[name]:
            problems.append(f"{name} is empty")
    if row["modality"] not in MODALITIES:
        problems.append(f"modality {row['modality']!r} is not one of {list(MODALITIES)}")
    for name in ("truth", "answer"):
        if row[name] not in TRUTH_VALUES:
            problems.append(f"{name} {row[name]!r} is not one of {list(TRUTH_VALUES)}")
    resolution = _as_int(row["resolution"])
    if resolution is None or resolution < 1:
        problems.append(f"resolution {row['resolution']!r} is not a positive integer")
    row["resolution"] = resolution
    confidence = _as_int(row["confidence"])
    low, high = CONFIDENCE_RANGE
    if confidence is None or not low <= confidence <= high:
        problems.append(f"confidence {row['confidence']!r} is not an integer {low}-{high}")
    row["confidence"] = confidence
    try:
        seconds = float(str(row["response_time_s"]))
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        problems.append(f"response_time_s {row['response_time_s']!r} is not a finite number >= 0")
    row["response_time_s"] = seconds
    return row, problems


def _check_consistency(
    row: dict[str, object],
    line: int,
    first_read: dict[tuple[str, str], int],
    first_image: dict[str, tuple[int, tuple[object, ...]]],
) -> list[str]:
    """Repeated reads and images whose truth/modality/resolution disagree with their first row."""
    problems = []
    image = str(row["image_id"])
    read = (str(row["reader_id"]), image)
    if read in first_read:
        problems.append(f"reader {read[0]!r} already read image {image!r} on line {first_read[read]}")
    else:
        first_read[read] = line
    attributes = (row["truth"], row["modality"], row["resolution"])
    if image in first_image:
        seen_line, seen = first_image[image]
        for name, now, before in zip(("truth", "modality", "resolution"), attributes, seen, strict=True):
            if now != before:
                problems.append(f"image {image!r} has {name} {now!r} here but {before!r} on line {seen_line}")
    else:
        first_image[image] = (line, attributes)
    return problems


def _as_int(text: object) -> int | None:
    """An integer written as digits (a trailing '.0' is accepted); None otherwise."""
    try:
        value = float(str(text))
    except ValueError:
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    return int(value)
