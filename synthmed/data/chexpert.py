"""CheXpert-v1.0-small reader and the paper's chest preprocessing.

`read_index` turns `<root>/CheXpert-v1.0-small/train.csv` into one row per image with the raw label
values; `paper_index` applies the paper's label rules; `load_image` applies its pixel preprocessing.
The same functions read a real download and the phantoms of `synthmed.data.phantoms.chest`.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from skimage.transform import resize

from synthmed.data import CHEXPERT_LABELS, DataError
from synthmed.data.resample import downsample_box

log = logging.getLogger(__name__)

DATASET_DIR = "CheXpert-v1.0-small"
CSV_NAME = "train.csv"
# train.csv's header: five metadata columns, then the 14 observations (paper-spec §1.1).
CSV_COLUMNS = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *CHEXPERT_LABELS]
# The paper's preprocessing resizes every image to 256x256 first (paper-spec §1.1).
BASE_RESOLUTION = 256
# paper-spec §1.1: the frontal filter is a substring test on these two file names; laterals and any
# view3_frontal are dropped with it.
PAPER_FRONTAL_NAMES = ("view1_frontal.jpg", "view2_frontal.jpg")

# `.../patient00001/study1/view1_frontal.jpg`; the patient id is the folder name (paper-spec §1.1).
_PATH_PATTERN = re.compile(r"(?:^|/)(patient\d+)/(study\d+)/(view\d+)_(frontal|lateral)\.jpg$")
# The CSV codes labels as 1.0 / 0.0 / -1.0 or blank; integer spellings are accepted too.
_LABEL_TOKENS = {"1.0": 1.0, "0.0": 0.0, "-1.0": -1.0, "1": 1.0, "0": 0.0, "-1": -1.0, "": np.nan}
_ALLOWED_LABELS = {1.0, 0.0, -1.0}
_ON_ERROR = ("raise", "skip")


def read_index(root: str | os.PathLike, on_error: str = "raise") -> pd.DataFrame:
    """One row per image listed in `<root>/CheXpert-v1.0-small/train.csv`.

    `root` is the folder that contains `CheXpert-v1.0-small/`, as for a real download. Columns:
    `path` (absolute image path, str), `patient` ("patient00001"), `study` ("study1"), `view`
    ("view1_frontal"), `frontal_lateral`, `ap_pa` ("" when blank), `sex`, `age` (int), then the 14
    labels of `CHEXPERT_LABELS` as float (1.0, 0.0, -1.0, NaN for blank).

    A row that does not parse, a label outside {1, 0, -1, blank} or a missing image file raises
    `DataError` naming the row (on_error="raise"), or is left out and listed in
    `index.attrs["skipped"]` as (path or row, reason) with a logged warning (on_error="skip").
    """
    _check_on_error(on_error)
    root = Path(root).expanduser().resolve()
    csv_path = root / DATASET_DIR / CSV_NAME
    table = read_label_table(csv_path, on_error=on_error)
    skipped = list(table.attrs.get("skipped", []))

    paths = [str(root / p) for p in table["path"]]
    exists = np.fromiter((os.path.isfile(p) for p in paths), dtype=bool, count=len(paths))
    if not exists.all():
        missing = np.flatnonzero(~exists)
        reasons = [(paths[i], f"image file missing ({csv_path} line {table['line'].iat[i]})") for i in missing]
        if on_error == "raise":
            where, reason = reasons[0]
            raise DataError(f"{where}: {reason}")
        skipped += reasons
    table = table.assign(path=paths)[exists].reset_index(drop=True)
    table = table.drop(columns="line")
    _report_skipped(csv_path, skipped)
    _check_frontal(csv_path, table, skipped)
    table.attrs["skipped"] = skipped
    return table


def read_label_table(csv_path: str | os.PathLike, on_error: str = "raise") -> pd.DataFrame:
    """Parse a CheXpert train.csv into `read_index`'s columns, without looking at image files.

    `path` stays as written in the CSV (relative to the folder holding `CheXpert-v1.0-small/`);
    an extra `line` column gives each row's line number in the file (the header is line 1).
    """
    _check_on_error(on_error)
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: CheXpert label file not found")
    try:
        # utf-8-sig: a byte-order mark (spreadsheets write one) would otherwise spoil the header's first name
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            return parse_label_rows(csv.reader(handle), str(csv_path), on_error=on_error)
    except UnicodeDecodeError as err:
        raise DataError(f"{csv_path}: not a UTF-8 CSV file ({err})") from err


def parse_label_rows(rows: Iterable[list[str]], source: str, on_error: str = "raise") -> pd.DataFrame:
    """Validate and convert CSV rows (the header first) of a CheXpert train.csv; see `read_label_table`.

    `source` names the file in error messages.
    """
    _check_on_error(on_error)
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise DataError(f"{source}: empty file; expected the header {','.join(CSV_COLUMNS)}")
    header = [h.strip() for h in header]
    if header != CSV_COLUMNS:
        raise DataError(f"{source}: header is {','.join(header)}; expected {','.join(CSV_COLUMNS)}")

    skipped: list[tuple[str, str]] = []

    def bad(line: int, row: list[str], reason: str) -> None:
        where = f"{source} line {line}" + (f" ({row[0]})" if row and row[0] else "")
        if on_error == "raise":
            raise DataError(f"{where}: {reason}")
        skipped.append((row[0] if row and row[0] else f"{source} line {line}", reason))

    good: list[list[str]] = []
    lines: list[int] = []
    for line, row in enumerate(rows, start=2):
        if not row:  # a blank line is not a record
            continue
        if len(row) != len(CSV_COLUMNS):
            bad(line, row, f"has {len(row)} fields; expected {len(CSV_COLUMNS)} ({','.join(CSV_COLUMNS)})")
            continue
        good.append(row)
        lines.append(line)

    raw = pd.DataFrame(good, columns=CSV_COLUMNS, dtype=object) if good else pd.DataFrame(columns=CSV_COLUMNS)
    table = parse_label_frame(raw, source, on_error=on_error, lines=np.asarray(lines, dtype=np.int64))
    table.attrs["skipped"] = skipped + table.attrs["skipped"]
    return table


def parse_label_frame(
    raw: pd.DataFrame, source: str, on_error: str = "raise", lines: np.ndarray | None = None
) -> pd.DataFrame:
    """Validate and convert a DataFrame of train.csv's string fields (columns `CSV_COLUMNS`).

    `lines` gives each row's line number in the file for error messages (default: row + 2).
    Returns `read_label_table`'s columns; rows that fail are skipped or raise as `on_error` says.
    """
    _check_on_error(on_error)
    if list(raw.columns) != CSV_COLUMNS:
        raise DataError(f"{source}: columns are {list(raw.columns)}; expected {CSV_COLUMNS}")
    raw = raw.reset_index(drop=True)
    lines = np.arange(2, len(raw) + 2, dtype=np.int64) if lines is None else lines
    paths = raw["Path"].astype(str).to_numpy()
    keep = np.ones(len(raw), dtype=bool)
    skipped: list[tuple[str, str]] = []

    def bad(i: int, reason: str) -> None:
        keep[i] = False
        where = f"{source} line {lines[i]}" + (f" ({paths[i]})" if paths[i] else "")
        if on_error == "raise":
            raise DataError(f"{where}: {reason}")
        skipped.append((paths[i] or f"{source} line {lines[i]}", reason))

    # Path: patient, study and view come from the folder and file names.
    matches = [_PATH_PATTERN.search(path) for path in paths]
    parts = [m.groups() if m else (None, None, None, None) for m in matches]
    for i in np.flatnonzero(np.fromiter((m is None for m in matches), dtype=bool, count=len(matches))):
        bad(i, f"Path {paths[i]!r} is not of the form .../patientN/studyN/viewN_frontal.jpg or _lateral.jpg")

    # Each column holds few distinct tokens: convert those, then spread them back by code.
    codes, tokens = pd.factorize(raw["Age"].astype(str), use_na_sentinel=False)
    token_ages = pd.to_numeric(pd.Series(tokens).str.strip(), errors="coerce").to_numpy()
    ages = token_ages[codes]
    for i in np.flatnonzero((np.isnan(ages) | (ages != np.round(ages))) & keep):
        bad(i, f"Age {tokens[codes[i]]!r} is not a whole number")

    labels = {}
    for name in CHEXPERT_LABELS:
        codes, tokens = pd.factorize(raw[name].astype(str), use_na_sentinel=False)
        token_values = np.empty(len(tokens), dtype=np.float64)
        token_errors: dict[int, str] = {}
        for t, token in enumerate(tokens):
            token_values[t], error = _label_value(name, str(token))
            if error:
                token_errors[t] = error
        values = token_values[codes]
        for t, error in token_errors.items():
            for i in np.flatnonzero((codes == t) & keep):
                bad(i, error)
        labels[name] = values

    table = pd.DataFrame(
        {
            "path": paths,
            "patient": [part[0] for part in parts],
            "study": [part[1] for part in parts],
            "view": [f"{part[2]}_{part[3]}" if part[2] else None for part in parts],
            "frontal_lateral": raw["Frontal/Lateral"].astype(str).to_numpy(),
            "ap_pa": raw["AP/PA"].astype(str).to_numpy(),
            "sex": raw["Sex"].astype(str).to_numpy(),
            "age": np.nan_to_num(ages, nan=-1).astype(np.int64),
            **labels,
            "line": lines,
        }
    )
    table = table[keep].reset_index(drop=True)
    table.attrs["skipped"] = skipped
    return table


def _label_value(name: str, token: str) -> tuple[float, str]:
    """A label token's value (NaN for blank) and an error message ("" when valid)."""
    token = token.strip()
    if token in _LABEL_TOKENS:
        return _LABEL_TOKENS[token], ""
    try:
        number = float(token)
    except ValueError:
        return np.nan, f"{name} is {token!r}, not a number; expected 1.0, 0.0, -1.0 or blank"
    if number in _ALLOWED_LABELS:  # another spelling of a valid code, e.g. "1.00"
        return number, ""
    return np.nan, f"{name} is {token!r}; expected 1.0, 0.0, -1.0 or blank"


def paper_index(index: pd.DataFrame) -> pd.DataFrame:
    """Apply the paper's rules to `read_index`'s output (paper-spec §1.1).

    Frontal views only (path contains view1_frontal.jpg or view2_frontal.jpg), uncertain -1 -> 1
    (U-Ones), blank -> 0, then rows whose 14 labels are all 0 are dropped. Label columns become
    int8 0/1; `path`, `patient`, `study`, `view`, `sex`, `age`, `ap_pa` are kept. The row order is
    the CSV's.
    """
    missing = [c for c in ("path", "patient", *CHEXPERT_LABELS) if c not in index.columns]
    if missing:
        raise DataError(f"index lacks columns {missing}; expected read_index's output")
    path = index["path"].astype(str)
    frontal = np.zeros(len(index), dtype=bool)
    for name in PAPER_FRONTAL_NAMES:
        frontal |= path.str.contains(name, regex=False).to_numpy()
    raw = index[CHEXPERT_LABELS].to_numpy(dtype=np.float64)
    binary = ((raw == 1.0) | (raw == -1.0)).astype(np.int8)  # U-Ones; blank (NaN) and 0 -> 0
    keep = frontal & (binary.sum(axis=1) > 0)
    meta = [c for c in ("path", "patient", "study", "view", "sex", "age", "ap_pa") if c in index.columns]
    out = index.loc[keep, meta].reset_index(drop=True)
    out["patient"] = out["patient"].astype(str)
    labels = pd.DataFrame(binary[keep], columns=CHEXPERT_LABELS)
    return pd.concat([out, labels], axis=1)


def load_image(path: str | os.PathLike, resolution: int = BASE_RESOLUTION) -> np.ndarray:
    """An image preprocessed as the paper did: uint8 array of shape (resolution, resolution).

    PIL grayscale, `skimage.transform.resize` to 256x256 (aspect ratio not kept, skimage defaults),
    divided by the image's own maximum, times 255, truncated to uint8; lower resolutions by
    `downsample_box` (paper-spec §1.1). Unreadable or truncated files raise `DataError`.
    """
    try:
        with Image.open(path) as img:
            if img.mode in ("I", "F") or img.mode.startswith("I;"):
                # convert("L") clips 16-bit and float pixels at 255: most of the image would turn white
                raise DataError(
                    f"{path}: a {img.format or 'non-JPEG'} image with {img.mode} pixels (16-bit or more); "
                    "expected an 8-bit JPEG as CheXpert ships"
                )
            gray = np.asarray(img.convert("L"))
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: cannot read image ({err}); expected a readable JPEG") from err
    resized = resize(gray, (BASE_RESOLUTION, BASE_RESOLUTION))  # float in [0, 1]
    peak = resized.max()
    if peak <= 0:  # an all-black image: the paper's division would give NaN; keep it black
        base = np.zeros((BASE_RESOLUTION, BASE_RESOLUTION), dtype=np.uint8)
    else:
        base = (resized / peak * 255).astype(np.uint8)
    return downsample_box(base, resolution)


def _check_frontal(csv_path: Path, table: pd.DataFrame, skipped: list[tuple[str, str]]) -> None:
    """DataError naming the file when no image the paper keeps (a frontal view) is left."""
    names = " or ".join(PAPER_FRONTAL_NAMES)
    if table.empty:
        what = f"all {len(skipped)} rows were skipped" if skipped else "no image rows below the header"
        raise DataError(f"{csv_path}: {what}; no frontal image ({names}) remains for the paper's rules")
    path = table["path"].astype(str)
    if not any(path.str.contains(name, regex=False).any() for name in PAPER_FRONTAL_NAMES):
        raise DataError(
            f"{csv_path}: none of its {len(table)} images is a frontal view ({names}); the paper keeps "
            "frontal views only, so no image remains"
        )


def _check_on_error(on_error: str) -> None:
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")


def _report_skipped(source: Path, skipped: list[tuple[str, str]]) -> None:
    if skipped:
        log.warning(
            "%s: skipped %d row(s); see index.attrs['skipped'] (first: %s: %s)",
            source,
            len(skipped),
            *skipped[0],
        )
