"""Writes a phantom RSNA ICH stage 2 training set: DICOM slices and Kaggle's long-format label CSV."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset, write_file_meta_info
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian
from tqdm.auto import tqdm

from synthmed.data import RSNA_CSV_TYPES
from synthmed.data.phantoms.brain.grid import Banks
from synthmed.data.phantoms.brain.head import SIZE
from synthmed.data.phantoms.brain.labels import ENCODINGS, PatientPlan, plan_patients
from synthmed.data.phantoms.brain.render import render_grid, render_matrix_slice, render_size

IMAGE_DIR = "stage_2_train"
CSV_NAME = "stage_2_train.csv"
# The real file repeats the six rows of 4 of its 752,803 images; a phantom repeats one image per
# this many images (at least one), so that readers meet duplicates even in small phantoms.
DUPLICATE_EVERY = 5000


def encode_pixels(hu: np.ndarray, encoding: str) -> tuple[np.ndarray, dict]:
    """Stored pixel values (rounded) and the pixel-module header for one slice in HU.

    - "signed16": PixelRepresentation 1, BitsStored 16, stored = HU + 1024, intercept -1024.
    - "unsigned12": PixelRepresentation 0, BitsStored 12, stored = HU + 1024 in [0, 4095], intercept -1024.
    - "quirk12": the RSNA dataset's known fault. The header says unsigned 12-bit with an intercept
      near 0 (> -100), but the stored values are HU as 12-bit two's complement, so air (-1000 HU) is
      stored as 3096 and a plain slope/intercept reading turns air into dense bone. The community fix
      (Kaggle RSNA 2019, e.g. J. Howard's `fix_pxrepr`) detects BitsStored 12, PixelRepresentation 0
      and intercept > -100, adds 1000, subtracts 4096 where the result is >= 4096 and uses intercept
      -1000. We write intercept 0 and keep HU within [-1000, 2047], where that fix and 12-bit sign
      extension agree.
    """
    if encoding in ("signed16", "unsigned12"):
        shifted = hu + np.float32(1024.5)  # + 0.5, then truncation: round half up
        np.clip(shifted, 0, 4095, out=shifted)
        if encoding == "signed16":
            return shifted.astype("<i2"), {
                "BitsStored": 16,
                "HighBit": 15,
                "PixelRepresentation": 1,
                "RescaleIntercept": -1024,
            }
        return shifted.astype("<u2"), {
            "BitsStored": 12,
            "HighBit": 11,
            "PixelRepresentation": 0,
            "RescaleIntercept": -1024,
        }
    if encoding == "quirk12":
        values = np.floor(np.clip(hu, -1000, 2047) + 0.5).astype(np.int32)
        return (values % 4096).astype("<u2"), {
            "BitsStored": 12,
            "HighBit": 11,
            "PixelRepresentation": 0,
            "RescaleIntercept": 0,
        }
    raise ValueError(f"unknown encoding {encoding!r}; expected one of {ENCODINGS}")


def series_header(plan: PatientPlan) -> Dataset:
    """The elements a patient's slices share: patient, study, series, equipment, geometry, pixel module."""
    an = plan.anatomy
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate = "20190101"
    ds.StudyTime = "000000"
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    ds.Manufacturer = ""
    ds.ReferringPhysicianName = ""
    ds.PatientName = ""
    ds.PatientID = plan.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.SliceThickness = f"{abs(float(plan.z[1] - plan.z[0])):.3f}" if len(plan.z) > 1 else "5.0"
    ds.KVP = "120"
    ds.StudyInstanceUID = plan.study_uid
    ds.SeriesInstanceUID = plan.series_uid
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.AcquisitionNumber = 1
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = plan.study_uid + ".1"
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = plan.matrix
    ds.Columns = plan.matrix
    ds.PixelSpacing = [f"{an.spacing:.6f}", f"{an.spacing:.6f}"]
    ds.BitsAllocated = 16
    _, pixel_module = encode_pixels(np.zeros((1, 1), np.float32), plan.encoding)
    for key, value in pixel_module.items():
        setattr(ds, key, value)
    center, width = plan.window
    ds.WindowCenter = center if len(center) > 1 else center[0]
    ds.WindowWidth = width if len(width) > 1 else width[0]
    ds.RescaleSlope = 1
    ds.RescaleType = "HU"
    return ds


# Per-slice elements, in tag order; everything else comes from `series_header`.
_SLICE_TAGS = (
    (0x00080018, "UI"),  # SOPInstanceUID
    (0x00200013, "IS"),  # InstanceNumber
    (0x00200032, "DS"),  # ImagePositionPatient
    (0x00201041, "DS"),  # SliceLocation
    (0x7FE00010, "OW"),  # PixelData
)


def _encode(elements: Sequence[DataElement]) -> bytes:
    """Elements encoded by pydicom as Explicit VR Little Endian."""
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = False
    ds = Dataset()
    for elem in elements:
        ds.add(elem)
    write_dataset(fp, ds)
    return fp.getvalue()


class SeriesWriter:
    """Writes a patient's slices as DICOM Part 10 files (CT Image Storage, Explicit VR Little Endian).

    pydicom encodes every element; the elements shared by the series are encoded once and the
    per-slice ones (UID, instance number, position, pixels) are encoded for each slice and spliced in
    tag order, which keeps writing at about a millisecond per slice.
    """

    def __init__(self, plan: PatientPlan):
        self.plan = plan
        shared = list(series_header(plan))  # elements in tag order
        self.chunks = []
        for tag, _ in _SLICE_TAGS:
            self.chunks.append(_encode([e for e in shared if e.tag < tag]))
            shared = [e for e in shared if e.tag > tag]
        self.tail = _encode(shared)
        self.meta = FileMetaDataset()
        self.meta.MediaStorageSOPClassUID = CTImageStorage
        self.meta.TransferSyntaxUID = ExplicitVRLittleEndian
        self.meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    def encode(self, k: int, hu: np.ndarray) -> bytes:
        plan, an = self.plan, self.plan.anatomy
        stored, _ = encode_pixels(hu, plan.encoding)
        origin = f"{-plan.matrix / 2 * an.spacing:.3f}"
        z = f"{plan.table_z + float(plan.z[k]):.3f}"
        values = (plan.sop_uids[k], str(k + 1), [origin, origin, z], z, stored.tobytes())
        self.meta.MediaStorageSOPInstanceUID = plan.sop_uids[k]
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = False
        fp.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(fp, self.meta, enforce_standard=True)
        for chunk, (tag, vr), value in zip(self.chunks, _SLICE_TAGS, values, strict=True):
            fp.write(chunk)
            write_data_element(fp, DataElement(tag, vr, value))
        fp.write(self.tail)
        return fp.getvalue()

    def write(self, path: Path, k: int, hu: np.ndarray) -> None:
        """Write slice k (pixels in HU, (matrix, matrix)) to `path`."""
        path.write_bytes(self.encode(k, hu))


def _csv_rows(plans: Sequence[PatientPlan], rng: np.random.Generator) -> list[str]:
    """Kaggle's long format: six rows per image, images in random order, a few images repeated."""
    images = [(img, lab) for p in plans for img, lab in zip(p.image_ids, p.labels, strict=True)]
    order = [int(i) for i in rng.permutation(len(images))]
    n_dup = min(len(images), 1 + len(images) // DUPLICATE_EVERY)
    for i in rng.choice(len(images), size=n_dup, replace=False):
        order.insert(int(rng.integers(order.index(int(i)) + 1, len(order) + 1)), int(i))
    rows = []
    for i in order:
        img, lab = images[i]
        rows += [f"{img}_{t},{int(v)}" for t, v in zip(RSNA_CSV_TYPES, lab, strict=True)]
    return rows


def make_rsna(
    root: str | Path,
    n_patients: int,
    seed: int,
    *,
    slices_per_patient: tuple[int, int] = (12, 20),
    quirk_fraction: float = 0.03,
    matrix: int = SIZE,
    progress: bool | None = None,
) -> Path:
    """Write a phantom RSNA ICH stage 2 training set under `root`; return `root` as a Path.

    Same seed, same files: the CSV is byte-identical and so are the DICOM files. `matrix`: rows and
    columns of every slice (RSNA: 512). A smaller matrix keeps the field of view on larger pixels; it
    is drawn at `render_size(matrix)` and block-averaged in HU, which costs a fraction of 512 and
    stores 512/matrix squared times fewer bytes. `progress`: show a tqdm bar (None: only on a terminal).
    """
    root = Path(root)
    image_dir = root / IMAGE_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_patients(n_patients, seed, slices_per_patient, quirk_fraction, matrix)
    pixel_seed, csv_seed = np.random.SeedSequence([seed, 1]).spawn(2)
    pixel_rng = np.random.default_rng(pixel_seed)
    banks = Banks(pixel_rng, render_size(matrix))
    bar = tqdm(plans, desc="RSNA phantoms", unit="patient", disable=None if progress is None else not progress)
    for plan in bar:
        grid = render_grid(plan, banks)
        writer = SeriesWriter(plan)
        for k, image_id in enumerate(plan.image_ids):
            writer.write(image_dir / f"{image_id}.dcm", k, render_matrix_slice(plan, grid, k, pixel_rng))
    rows = _csv_rows(plans, np.random.default_rng(csv_seed))
    (root / CSV_NAME).write_text("ID,Label\n" + "\n".join(rows) + "\n", newline="")
    return root
