"""RSNA Intracranial Hemorrhage (Kaggle 2019, stage 2) reader and the brain preprocessing.

`read_labels` turns Kaggle's long `stage_2_train.csv` into one row per image; `read_index` joins it
with patient, study, series and slice position read from the DICOM headers (the CSV has no patient
id); `paper_index` applies the paper's label rule; `load_hu`, `window` and `load_image` turn a slice
into Hounsfield units, a display window and the paper's uint8 image. The same functions read a real
download and the phantoms of `synthmed.data.phantoms.brain`.

The paper's code starts from ready-made 128x128 PNGs and does not say how they were made from DICOM
(paper-spec §1.2: "NOT IN THE REPO"). Our choice, stated in the book: the brain window (centre 40,
width 80), 512 -> 128 by 4x4 box averaging, then the paper's own steps (divide by the image maximum,
x255, uint8; lower resolutions by 2x2 box averaging).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
from PIL import Image
from pydicom import config as pydicom_config
from pydicom.errors import InvalidDicomError
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from tqdm.auto import tqdm

from synthmed.data import RSNA_CSV_TYPES, RSNA_SUBTYPES, DataError
from synthmed.data.resample import downsample_box

log = logging.getLogger(__name__)

IMAGE_DIR = "stage_2_train"
CSV_NAME = "stage_2_train.csv"
# The paper's brain images are 128x128 (paper-spec §1.2); lower resolutions are box-averaged from it.
BASE_RESOLUTION = 128

# Named windows (centre, width) in HU. The paper does not say which it used (paper-spec §1.2);
# "brain" is our default, "subdural" and "bone" are the usual companions in the RSNA challenge.
WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (80.0, 200.0),
    "bone": (600.0, 2800.0),
}

_CT_SOP_CLASSES = {CTImageStorage, EnhancedCTImageStorage}
_UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_ID_PATTERN = re.compile(r"^(ID_[0-9A-Za-z]+)_(" + "|".join(RSNA_CSV_TYPES) + r")$")
_ON_ERROR = ("raise", "skip")


@contextlib.contextmanager
def _lenient_values() -> Iterator[None]:
    """Read values pydicom considers invalid without a warning per file.

    The real RSNA files carry anonymised UIDs such as "ID_6ad6a5c8d5", which are not valid DICOM
    UIDs; pydicom would warn (and log) for each of 750,000 files.
    """
    old = pydicom_config.settings.reading_validation_mode
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    try:
        yield
    finally:
        pydicom_config.settings.reading_validation_mode = old


def _read(path: Path, headers_only: bool) -> pydicom.Dataset:
    """A DICOM dataset, checked to be a single-frame CT image; DataError naming the file otherwise.

    Call inside `_lenient_values()`.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found; expected a DICOM CT slice")
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=headers_only)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{path}: not a readable DICOM file ({type(err).__name__}: {err})") from err
    sop_class = ds.get("SOPClassUID")
    modality = ds.get("Modality")
    named = modality is not None or sop_class is not None  # a file cut inside its header names neither
    if named and (modality != "CT" or (sop_class is not None and sop_class not in _CT_SOP_CLASSES)):
        name = getattr(sop_class, "name", sop_class)
        raise DataError(
            f"{path}: expected a CT image (Modality CT, SOP class CT Image Storage), "
            f"got Modality {modality!r}, SOP class {name!r}"
        )
    missing = [t for t in ("Modality", "Rows", "Columns", "BitsAllocated", "PixelRepresentation") if t not in ds]
    if not headers_only and "PixelData" not in ds:
        missing.append("PixelData")
    if missing:
        raise DataError(f"{path}: truncated or incomplete DICOM: missing {', '.join(missing)}")
    if int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise DataError(
            f"{path}: expected one single-channel frame, got SamplesPerPixel "
            f"{ds.get('SamplesPerPixel')}, NumberOfFrames {ds.get('NumberOfFrames')}"
        )
    return ds


def _stored_pixels(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    """Stored pixel values as pydicom's `pixel_array` gives them (unused high bits masked or sign-extended).

    Uncompressed 16-bit data is read straight from the buffer (about twice as fast as pixel_array);
    anything else goes through pydicom's decoders.
    """
    rows, cols = int(ds.Rows), int(ds.Columns)
    signed = int(ds.PixelRepresentation) == 1
    if int(ds.BitsAllocated) == 16 and ds.file_meta.get("TransferSyntaxUID") in _UNCOMPRESSED:
        data = ds.PixelData
        if len(data) < rows * cols * 2:
            raise DataError(f"{path}: pixel data truncated: {len(data)} bytes, expected {rows * cols * 2}")
        if len(data) > rows * cols * 2:  # headers that understate the image would crop it silently
            raise DataError(
                f"{path}: pixel data holds {len(data)} bytes, but Rows x Columns ({rows} x {cols}) "
                f"at 16 bits is {rows * cols * 2}: the headers disagree with the image"
            )
        raw = np.frombuffer(data, dtype="<i2" if signed else "<u2", count=rows * cols).reshape(rows, cols)
        bits = int(ds.get("BitsStored", 16))
        if bits < 16:
            if signed:  # sign-extend from BitsStored bits
                shift = 16 - bits
                raw = (raw << shift) >> shift
            else:
                raw = raw & ((1 << bits) - 1)
        return raw
    try:
        pixels = ds.pixel_array
    except Exception as err:  # pydicom raises many types for broken or unsupported pixel data
        raise DataError(f"{path}: cannot decode pixel data ({type(err).__name__}: {err})") from err
    if pixels.shape != (rows, cols):
        raise DataError(f"{path}: pixel data decodes to {pixels.shape}, but Rows x Columns is {rows} x {cols}")
    return pixels


def has_12bit_quirk(ds: pydicom.Dataset) -> bool:
    """The RSNA dataset's known fault: unsigned 12-bit header, but HU stored as 12-bit two's complement.

    Detected as the community fix does (Kaggle RSNA 2019, J. Howard's `fix_pxrepr` and the many
    kernels that copied it): BitsStored 12, PixelRepresentation 0 and RescaleIntercept > -100.
    """
    return (
        int(ds.get("BitsStored", 16)) == 12
        and int(ds.PixelRepresentation) == 0
        and float(ds.get("RescaleIntercept", 0)) > -100
    )


def _rescale(ds: pydicom.Dataset, path: Path) -> tuple[float, float]:
    """RescaleSlope and RescaleIntercept (defaults 1 and 0); DataError for a zero or non-finite value."""
    values = []
    for name, default in (("RescaleSlope", 1.0), ("RescaleIntercept", 0.0)):
        raw = ds.get(name, default)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DataError(f"{path}: {name} {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise DataError(f"{path}: {name} is {value}; expected a finite number")
        values.append(value)
    if values[0] == 0:
        raise DataError(f"{path}: RescaleSlope is 0, which maps every pixel to the intercept")
    return values[0], values[1]


def _to_hu(ds: pydicom.Dataset, raw: np.ndarray, path: Path) -> np.ndarray:
    slope_value, intercept_value = _rescale(ds, path)
    slope = np.float32(slope_value)
    if has_12bit_quirk(ds):
        # The community fix: add 1000, wrap values at 4096, intercept -1000 (the header's is ignored).
        shifted = raw.astype(np.int32) + 1000
        shifted[shifted >= 4096] -= 4096
        hu = shifted.astype(np.float32)
        intercept = np.float32(-1000.0)
    else:
        hu = raw.astype(np.float32)
        intercept = np.float32(intercept_value)
    if slope != 1:
        hu *= slope
    hu += intercept
    return hu


def load_hu(path: str | os.PathLike) -> np.ndarray:
    """A CT slice in Hounsfield units, float32 (rows, columns): slope and intercept applied, quirk fixed.

    Raises DataError naming the file for a missing, unreadable or truncated file, or a non-CT image.
    """
    path = Path(path)
    with _lenient_values():
        ds = _read(path, headers_only=False)
        return _to_hu(ds, _stored_pixels(ds, path), path)


def window(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    """HU mapped linearly to [0, 1] over [center - width/2, center + width/2], clipped; float32."""
    return _windowed(hu, center, width)


def _windowed(hu: np.ndarray, center: float, width: float) -> np.ndarray:
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = np.float32(center - width / 2)
    out = np.asarray(hu, dtype=np.float32) - low
    out *= np.float32(1.0 / width)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _window_params(name_or_params: str | tuple[float, float]) -> tuple[float, float]:
    if isinstance(name_or_params, str):
        if name_or_params not in WINDOWS:
            raise ValueError(
                f"unknown window {name_or_params!r}; expected one of {', '.join(WINDOWS)} or a (center, width) pair"
            )
        return WINDOWS[name_or_params]
    center, width = name_or_params
    return float(center), float(width)


def window_stack(hu: np.ndarray) -> np.ndarray:
    """The brain, subdural and bone windows stacked: float32 (3, rows, columns) in [0, 1]."""
    return np.stack([window(hu, *WINDOWS[name]) for name in ("brain", "subdural", "bone")])


def _box_mean(img: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping factor x factor blocks (the 'reshape mean', summed in a faster order)."""
    rows, cols = img.shape
    out = img.reshape(rows // factor, factor, cols).sum(axis=1)
    out = out.reshape(rows // factor, cols // factor, factor).sum(axis=2)
    out *= np.float32(1.0 / (factor * factor))
    return out


def load_image(
    path: str | os.PathLike, resolution: int = BASE_RESOLUTION, window: str | tuple[float, float] = "brain"
) -> np.ndarray:
    """A slice preprocessed for the paper's pipeline: uint8 (resolution, resolution).

    HU -> window (default brain, 40/80) -> 128x128 by block means (512 -> 128: 4x4 blocks; other square
    multiples of 128 likewise; any other shape by PIL's box filter) -> divided by the image maximum,
    x255, truncated to uint8 as the paper's PNGs were (paper-spec §1.2) -> lower resolutions by 2x2
    box averaging with rounding. An all-black image stays black.
    """
    windowed = _windowed(load_hu(path), *_window_params(window))
    rows, cols = windowed.shape
    if rows == cols and rows % BASE_RESOLUTION == 0:
        base = _box_mean(windowed, rows // BASE_RESOLUTION)
    else:  # a few real slices are not 512x512: area averaging onto the 128 grid, aspect ratio not kept
        size = (BASE_RESOLUTION, BASE_RESOLUTION)
        base = np.asarray(Image.fromarray(windowed).resize(size, Image.Resampling.BOX), dtype=np.float32)
    peak = float(base.max())
    if peak <= 0:
        image = np.zeros((BASE_RESOLUTION, BASE_RESOLUTION), dtype=np.uint8)
    else:
        image = (base / np.float32(peak) * np.float32(255.0)).astype(np.uint8)  # the paper's order: / max * 255
    return downsample_box(image, resolution)


# ---------------------------------------------------------------------------------------------
# Labels and the index.


def read_labels(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Kaggle's long label file as one row per image: `image_id` and the six columns of RSNA_CSV_TYPES (int8).

    Rows must read `ID_<id>_<type>,<0|1>`. Exact duplicate rows (the real file repeats a few images)
    are dropped; duplicates with different labels, images missing one of the six rows, unparsable
    rows and an "any" that is not the maximum of the five subtypes raise DataError naming the rows.
    Images keep the order of their first row.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"{csv_path}: label file not found")
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{csv_path}: empty file; expected the header 'ID,Label', a row per image and type") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{csv_path}: not a readable CSV file ({err})") from err
    if list(table.columns) != ["ID", "Label"]:
        raise DataError(f"{csv_path}: expected the header 'ID,Label', got {','.join(map(str, table.columns))}")
    # Plain Python over the raw strings: several times faster than pandas' .str methods on 4.5M rows.
    ids = table["ID"].to_numpy(dtype=object)
    values = table["Label"].to_numpy(dtype=object)
    matches = [_ID_PATTERN.match(text) for text in ids]
    label_ok = (values == "0") | (values == "1")
    bad = [i for i, m in enumerate(matches) if m is None or not label_ok[i]]
    if bad:
        rows = [f"line {i + 2}: {ids[i]!r},{values[i]!r}" for i in bad[:5]]  # line 1 is the header
        raise DataError(
            f"{csv_path}: {len(bad)} row(s) do not parse; expected 'ID_<id>_<type>,<0|1>' "
            f"with <type> one of {', '.join(RSNA_CSV_TYPES)}: {'; '.join(rows)}"
        )
    type_index = {t: j for j, t in enumerate(RSNA_CSV_TYPES)}
    image_code, image_ids = pd.factorize(np.array([m.group(1) for m in matches], dtype=object))  # first-row order
    type_code = np.array([type_index[m.group(2)] for m in matches], dtype=np.int64)
    label = (values == "1").astype(np.int8)
    key = image_code * len(RSNA_CSV_TYPES) + type_code
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1])  # the real file repeats a few images
    conflicts = repeated[label[order][1:][repeated] != label[order][:-1][repeated]]
    if len(conflicts):
        first = key[order][conflicts[0]]
        lines = sorted(int(i) + 2 for i in np.flatnonzero(key == first))
        name = f"{image_ids[first // len(RSNA_CSV_TYPES)]}_{RSNA_CSV_TYPES[first % len(RSNA_CSV_TYPES)]}"
        raise DataError(
            f"{csv_path}: {len(conflicts)} duplicated (image, type) row(s) with different labels, "
            f"e.g. {name} on lines {lines}"
        )
    wide = np.full((len(image_ids), len(RSNA_CSV_TYPES)), -1, dtype=np.int8)
    wide[image_code, type_code] = label
    incomplete = np.flatnonzero((wide < 0).any(axis=1))
    if len(incomplete):
        have = [t for t, v in zip(RSNA_CSV_TYPES, wide[incomplete[0]], strict=True) if v >= 0]
        raise DataError(
            f"{csv_path}: {len(incomplete)} image(s) lack some of the six rows, e.g. "
            f"{image_ids[incomplete[0]]} has only {', '.join(have)}"
        )
    inconsistent = np.flatnonzero(wide[:, -1] != wide[:, :-1].max(axis=1))
    if len(inconsistent):
        raise DataError(
            f"{csv_path}: {len(inconsistent)} image(s) whose 'any' is not the maximum of "
            f"the five subtypes, e.g. {image_ids[inconsistent[0]]}"
        )
    out = pd.DataFrame(wide, columns=RSNA_CSV_TYPES)
    out.insert(0, "image_id", pd.array(image_ids, dtype=str))
    return out


def _header_row(path: Path) -> dict:
    with _lenient_values():  # pydicom converts (and validates) values when they are first read
        return _header_values(path, _read(path, headers_only=True))


def _header_values(path: Path, ds: pydicom.Dataset) -> dict:
    rows, cols, bits = int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated)
    if ds.file_meta.get("TransferSyntaxUID") in _UNCOMPRESSED:  # a cut-off file is shorter than its pixels
        size = path.stat().st_size
        if size < rows * cols * bits // 8:
            raise DataError(f"{path}: truncated: {size} bytes, less than its {rows}x{cols} pixels need")
    missing = [t for t in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "ImagePositionPatient") if t not in ds]
    if missing:
        raise DataError(f"{path}: missing {', '.join(missing)}; expected RSNA-style headers")
    position = ds.ImagePositionPatient
    if len(position) != 3:
        raise DataError(f"{path}: ImagePositionPatient has {len(position)} values, expected 3")
    return {
        "patient": str(ds.PatientID),
        "study": str(ds.StudyInstanceUID),
        "series": str(ds.SeriesInstanceUID),
        "z": float(position[2]),
    }


def read_index(root: str | os.PathLike, on_error: str = "raise", progress: bool | None = None) -> pd.DataFrame:
    """One row per labelled image of an RSNA stage 2 training set under `root`.

    Columns: path (absolute str), image_id, patient, study, series (str), z (ImagePositionPatient[2],
    mm) and the six Kaggle label columns (int8), rows in the label file's order. Patient and study ids
    come from the DICOM headers, read without pixel data.

    on_error="raise": the first bad image (missing, unreadable, truncated, not CT, headers missing)
    raises DataError naming it. on_error="skip": bad images are left out, each listed with its reason
    in `index.attrs["skipped"]` as (path, reason), and a warning is logged. Label file errors always raise.
    """
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
    root = Path(root).expanduser().resolve()
    labels = read_labels(root / CSV_NAME)
    image_dir = root / IMAGE_DIR
    records, keep, skipped = [], [], []
    bar = tqdm(
        labels["image_id"],
        desc="RSNA headers",
        unit="file",
        disable=None if progress is None else not progress,
    )
    for i, image_id in enumerate(bar):
        path = image_dir / f"{image_id}.dcm"
        try:
            records.append(_header_row(path))
        except DataError as err:
            if on_error == "raise":
                raise
            skipped.append((str(path), str(err).removeprefix(f"{path}: ")))
            continue
        keep.append(i)
    meta = pd.DataFrame.from_records(records, columns=["patient", "study", "series", "z"])
    kept = labels.iloc[keep].reset_index(drop=True)
    paths = pd.Series([str(image_dir / f"{i}.dcm") for i in kept["image_id"]], name="path")
    index = pd.concat([paths, kept[["image_id"]], meta, kept[RSNA_CSV_TYPES]], axis=1)
    if skipped:
        log.warning(
            "%s: skipped %d of %d image(s); see index.attrs['skipped'] (first: %s: %s)",
            root,
            len(skipped),
            len(labels),
            *skipped[0],
        )
    index.attrs["skipped"] = skipped
    return index


def paper_index(index: pd.DataFrame) -> pd.DataFrame:
    """The paper's brain labels: the five subtypes plus `no_finding` (1 iff no subtype), replacing "any".

    Columns as synthmed.data.BRAIN_LABELS, int8; the other columns and the row order are kept.
    Label values other than 0 count as 1, as in the paper's code (paper-spec §1.2).
    """
    missing = [c for c in RSNA_SUBTYPES if c not in index.columns]
    if missing:
        raise ValueError(f"index lacks label column(s) {missing}; expected the output of read_index")
    out = index.drop(columns=[c for c in RSNA_CSV_TYPES if c in index.columns])
    subtypes = (index[RSNA_SUBTYPES].to_numpy() != 0).astype(np.int8)
    for j, name in enumerate(RSNA_SUBTYPES):
        out[name] = subtypes[:, j]
    out["no_finding"] = (subtypes.max(axis=1) == 0).astype(np.int8)
    out.attrs = dict(index.attrs)
    return out
