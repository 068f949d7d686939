"""RSNA brain CT: the phantom writer, the DICOM and label readers, and the paper's preprocessing."""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

from synthmed.data import BRAIN_LABELS, RSNA_CSV_TYPES, RSNA_SUBTYPES, DataError, rsna
from synthmed.data.phantoms import brain

N_PATIENTS, SEED, SLICES = 3, 7, (4, 6)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three phantom patients; quirk_fraction 0.3 makes exactly one of them use the 12-bit quirk."""
    root = tmp_path_factory.mktemp("rsna")
    return brain.make_rsna(root, N_PATIENTS, SEED, slices_per_patient=SLICES, quirk_fraction=0.3)


@pytest.fixture(scope="module")
def plans() -> list[brain.PatientPlan]:
    return brain.plan_patients(N_PATIENTS, SEED, SLICES, quirk_fraction=0.3)


def _copy(phantom: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(phantom, dest)
    return dest


def _write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("ID,Label\n" + "\n".join(rows) + "\n")
    return path


def _image_rows(image_id: str, labels: list[int]) -> list[str]:
    return [f"{image_id}_{t},{v}" for t, v in zip(RSNA_CSV_TYPES, labels, strict=True)]


# ---------------------------------------------------------------------------------------------
# The writer's files, read back.


def test_index_reads_what_the_writer_wrote(phantom, plans):
    index = rsna.read_index(phantom)
    expected = {img: lab for p in plans for img, lab in zip(p.image_ids, p.labels, strict=True)}
    assert sorted(index["image_id"]) == sorted(expected)
    assert list(index.columns) == ["path", "image_id", "patient", "study", "series", "z", *RSNA_CSV_TYPES]
    for row in index.itertuples():
        assert Path(row.path).is_absolute() and Path(row.path).name == f"{row.image_id}.dcm"
        assert [getattr(row, t) for t in RSNA_CSV_TYPES] == list(expected[row.image_id])
    assert all(index[t].dtype == np.int8 for t in RSNA_CSV_TYPES)
    # Patients come from the headers only: one study and series each, slices at distinct heights.
    assert index["patient"].nunique() == N_PATIENTS
    assert sorted(index["patient"].unique()) == sorted(p.patient_id for p in plans)
    assert (index.groupby("patient")[["study", "series"]].nunique() == 1).all().all()
    assert (index.groupby("patient")["z"].nunique() == index.groupby("patient").size()).all()
    csv_text = (phantom / brain.CSV_NAME).read_text()
    assert not any(p.patient_id in csv_text for p in plans)
    assert index.attrs["skipped"] == []


def test_csv_is_kaggles_long_format_with_a_duplicated_image(phantom, plans):
    lines = (phantom / brain.CSV_NAME).read_text().splitlines()
    assert lines[0] == "ID,Label"
    body = lines[1:]
    n_images = sum(len(p.image_ids) for p in plans)
    assert len(body) == 6 * (n_images + 1)  # one image's six rows appear twice
    assert len(set(body)) == 6 * n_images
    for start in range(0, len(body), 6):  # six rows per image, in Kaggle's type order
        block = [row.split(",")[0] for row in body[start : start + 6]]
        image_id = block[0].rsplit("_", 1)[0]
        assert block == [f"{image_id}_{t}" for t in RSNA_CSV_TYPES]
    labels = rsna.read_labels(phantom / brain.CSV_NAME)
    assert len(labels) == n_images and labels["image_id"].is_unique


def test_dicom_files_are_ct_image_storage(phantom, plans):
    plan = plans[0]
    ds = pydicom.dcmread(phantom / brain.IMAGE_DIR / f"{plan.image_ids[0]}.dcm")
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.SOPClassUID == CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.Modality == "CT" and ds.PatientID == plan.patient_id
    assert (ds.Rows, ds.Columns) == (512, 512) and ds.pixel_array.shape == (512, 512)
    assert ds.pixel_array.dtype.itemsize == 2
    assert float(ds.PixelSpacing[0]) == pytest.approx(plan.anatomy.spacing, abs=1e-5)
    for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert uid.is_valid
    assert {"RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth", "ImagePositionPatient"} <= set(ds.dir())


@pytest.mark.parametrize("encoding", brain.ENCODINGS)
def test_every_pixel_encoding_reads_back_as_the_written_hu(tmp_path, plans, encoding):
    plan = dataclasses.replace(plans[0], encoding=encoding)
    hu = (np.round(np.linspace(-1000, 2047, 512 * 512) * 4) / 4).astype(np.float32).reshape(512, 512)
    hu[0, :4] = [-1000.0, -0.25, 0.75, 39.5]  # quarter steps are exact in float32; halves round up
    path = tmp_path / f"{encoding}.dcm"
    brain.SeriesWriter(plan).write(path, 0, hu)
    loaded = rsna.load_hu(path)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, np.floor(hu + 0.5))


def test_12bit_quirk_reads_wrong_without_the_fix_and_right_with_it(tmp_path, plans):
    plan = dataclasses.replace(plans[0], encoding="quirk12")
    hu = np.full((512, 512), -1000.0, dtype=np.float32)
    hu[200:300, 200:300] = 35.0  # brain
    hu[100:110, :] = 1400.0  # bone
    path = tmp_path / "quirk.dcm"
    brain.SeriesWriter(plan).write(path, 0, hu)
    ds = pydicom.dcmread(path)
    assert (ds.BitsStored, ds.PixelRepresentation) == (12, 0) and float(ds.RescaleIntercept) > -100
    assert rsna.has_12bit_quirk(ds)
    naive = apply_modality_lut(ds.pixel_array, ds)
    assert naive[0, 0] == 3096  # air read as dense bone: the reason the fix exists
    fixed = rsna.load_hu(path)
    assert fixed[0, 0] == -1000 and fixed[250, 250] == 35 and fixed[105, 0] == 1400


def test_phantom_set_contains_a_quirk_patient_and_the_reader_fixes_it(phantom, plans):
    quirky = [p for p in plans if p.encoding == "quirk12"]
    assert len(quirky) == 1
    path = phantom / brain.IMAGE_DIR / f"{quirky[0].image_ids[len(quirky[0].z) // 2]}.dcm"
    assert rsna.has_12bit_quirk(pydicom.dcmread(path, stop_before_pixels=True))
    hu = rsna.load_hu(path)
    assert np.median(hu[:8, :8]) == pytest.approx(-1000, abs=20)  # the corner is air
    assert np.mean((hu > 15) & (hu < 50)) > 0.1  # brain tissue


def test_ct_small_loads_with_plausible_hu():
    path = get_testdata_file("CT_small.dcm")
    hu = rsna.load_hu(path)
    ds = pydicom.dcmread(path)
    assert hu.dtype == np.float32 and hu.shape == (ds.Rows, ds.Columns)
    np.testing.assert_array_equal(hu, apply_modality_lut(ds.pixel_array, ds))
    assert -1100 <= hu.min() < -500  # air
    assert -150 < np.median(hu) < 150  # soft tissue
    assert 300 < hu.max() <= 3100  # bone
    image = rsna.load_image(path, 32)
    assert image.shape == (32, 32) and image.dtype == np.uint8


def test_kaggle_style_anonymised_uids_read_without_warnings(phantom, tmp_path):
    root = _copy(phantom, tmp_path)
    path = sorted((root / brain.IMAGE_DIR).iterdir())[0]
    ds = pydicom.dcmread(path)
    old = pydicom.config.settings.writing_validation_mode
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.StudyInstanceUID = "ID_6ad6a5c8d5"  # as in the real files: not a valid UID
            ds.save_as(path)
    finally:
        pydicom.config.settings.writing_validation_mode = old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = rsna.read_index(root)
    assert "ID_6ad6a5c8d5" in set(index["study"])


# ---------------------------------------------------------------------------------------------
# Windowing and the paper's image preprocessing.


def test_window_maps_the_window_to_unit_range():
    hu = np.array([-100.0, 0.0, 40.0, 60.0, 80.0, 500.0])
    np.testing.assert_allclose(rsna.window(hu, 40, 80), [0, 0, 0.5, 0.75, 1, 1])
    assert rsna.window(hu, *rsna.WINDOWS["subdural"]).dtype == np.float32
    stack = rsna.window_stack(np.full((4, 5), 100.0))
    assert stack.shape == (3, 4, 5)
    np.testing.assert_allclose(stack[:, 0, 0], [1.0, 0.6, (100 - (600 - 1400)) / 2800], rtol=1e-6)
    with pytest.raises(ValueError):
        rsna.window(hu, 40, 0)


def test_load_image_is_window_box_mean_max_normalised(phantom, plans):
    path = phantom / brain.IMAGE_DIR / f"{plans[1].image_ids[2]}.dcm"
    image = rsna.load_image(path, 128)
    assert image.dtype == np.uint8 and image.shape == (128, 128) and image.max() == 255
    # Independent computation: brain window, 4x4 block means, / max * 255, truncation.
    base = rsna.window(rsna.load_hu(path), 40, 80).astype(np.float64).reshape(128, 4, 128, 4).mean(axis=(1, 3))
    expected = (base / base.max() * 255).astype(np.uint8)
    diff = np.abs(image.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # float summation order only
    # Lower resolutions: repeated 2x2 box means of the 128 image, rounded.
    low = image.astype(np.float64).reshape(32, 4, 32, 4).mean(axis=(1, 3))
    np.testing.assert_array_equal(rsna.load_image(path, 32), np.rint(low).astype(np.uint8))
    assert not np.array_equal(rsna.load_image(path, 128, window="bone"), image)
    for bad in (256, 48, 0):
        with pytest.raises(ValueError):
            rsna.load_image(path, bad)
    with pytest.raises(ValueError, match="unknown window"):
        rsna.load_image(path, 64, window="lung")


def test_load_image_of_a_slice_that_is_not_512_square(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PixelData = ds.pixel_array[:120, :100].tobytes()
    ds.Rows, ds.Columns = 120, 100
    path = tmp_path / "odd.dcm"
    ds.save_as(path)
    image = rsna.load_image(path, 64)
    assert image.shape == (64, 64) and image.dtype == np.uint8 and image.max() > 200


def test_load_image_of_an_empty_window_stays_black(tmp_path, plans):
    path = tmp_path / "air.dcm"
    brain.SeriesWriter(plans[0]).write(path, 0, np.full((512, 512), -1000.0, dtype=np.float32))
    image = rsna.load_image(path, 64)
    assert image.shape == (64, 64) and image.max() == 0


# ---------------------------------------------------------------------------------------------
# Labels.


def test_labels_round_trip_and_exact_duplicates_are_dropped(tmp_path):
    rows = (
        _image_rows("ID_aaa", [0, 1, 0, 1, 0, 1])
        + _image_rows("ID_bbb", [0, 0, 0, 0, 0, 0])
        + _image_rows("ID_aaa", [0, 1, 0, 1, 0, 1])
    )
    labels = rsna.read_labels(_write_csv(tmp_path / "l.csv", rows))
    assert list(labels.columns) == ["image_id", *RSNA_CSV_TYPES]
    assert labels["image_id"].tolist() == ["ID_aaa", "ID_bbb"]
    assert labels.iloc[0, 1:].tolist() == [0, 1, 0, 1, 0, 1]
    assert labels.iloc[1, 1:].tolist() == [0] * 6
    assert all(labels[t].dtype == np.int8 for t in RSNA_CSV_TYPES)


def test_conflicting_duplicates_raise_naming_the_rows(tmp_path):
    rows = _image_rows("ID_aaa", [0, 1, 0, 0, 0, 1]) + ["ID_aaa_intraparenchymal,0"]
    with pytest.raises(DataError, match=r"ID_aaa_intraparenchymal on lines \[3, 8\]"):
        rsna.read_labels(_write_csv(tmp_path / "l.csv", rows))


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("ID_ccc_epidural,2", r"line 8: 'ID_ccc_epidural','2'"),
        ("ID_ccc_haematoma,0", r"line 8: 'ID_ccc_haematoma','0'"),
        ("nonsense,1", r"line 8: 'nonsense','1'"),
    ],
)
def test_a_row_that_does_not_parse_raises_naming_it(tmp_path, bad_row, message):
    path = _write_csv(tmp_path / "l.csv", [*_image_rows("ID_aaa", [0] * 6), bad_row])
    with pytest.raises(DataError, match=message) as err:
        rsna.read_labels(path)
    assert str(path) in str(err.value)


def test_incomplete_images_wrong_header_and_inconsistent_any_raise(tmp_path):
    path = _write_csv(tmp_path / "a.csv", _image_rows("ID_aaa", [0] * 6)[:5])
    with pytest.raises(DataError, match="ID_aaa has only"):
        rsna.read_labels(path)
    path = _write_csv(tmp_path / "b.csv", _image_rows("ID_aaa", [0, 0, 0, 1, 0, 0]))
    with pytest.raises(DataError, match="'any' is not the maximum"):
        rsna.read_labels(path)
    path = tmp_path / "c.csv"
    path.write_text("Image,Label\nID_aaa_any,0\n")
    with pytest.raises(DataError, match="expected the header 'ID,Label'"):
        rsna.read_labels(path)
    with pytest.raises(DataError, match="label file not found"):
        rsna.read_labels(tmp_path / "missing.csv")


def test_paper_index_replaces_any_by_no_finding():
    index = pd.DataFrame(
        {
            "path": ["a", "b", "c"],
            "patient": ["p1", "p1", "p2"],
            "epidural": [0, 0, 1],
            "intraparenchymal": [0, 1, 0],
            "intraventricular": [0, 1, 0],
            "subarachnoid": [0, 0, 0],
            "subdural": [0, 0, 0],
            "any": [0, 1, 1],
        }
    )
    out = rsna.paper_index(index)
    assert list(out.columns) == ["path", "patient", *BRAIN_LABELS]
    assert out["no_finding"].tolist() == [1, 0, 0]
    assert out[RSNA_SUBTYPES].to_numpy().tolist() == index[RSNA_SUBTYPES].to_numpy().tolist()
    assert all(out[c].dtype == np.int8 for c in BRAIN_LABELS)
    assert "any" in index.columns  # the input is left alone


# ---------------------------------------------------------------------------------------------
# Bad files.


def test_every_bad_file_raises_naming_it(phantom, tmp_path):
    good = sorted((phantom / brain.IMAGE_DIR).iterdir())[0]
    data = good.read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(data[: len(data) // 2])
    header_cut = tmp_path / "header_cut.dcm"
    header_cut.write_bytes(data[:300])
    text = tmp_path / "text.dcm"
    text.write_text("not a DICOM file")
    mr = tmp_path / "mr.dcm"
    shutil.copy(get_testdata_file("MR_small.dcm"), mr)
    cases = [
        (truncated, "truncated"),
        (header_cut, "truncated or incomplete"),
        (text, "not a readable DICOM"),
        (mr, "expected a CT image"),
        (tmp_path / "missing.dcm", "file not found"),
    ]
    for path, reason in cases:
        with pytest.raises(DataError, match=reason) as err:
            rsna.load_hu(path)
        assert str(path) in str(err.value)
        with pytest.raises(DataError, match=str(path)):
            rsna.load_image(path)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("Rows", 256, "headers disagree with the image"),
        ("Columns", 128, "headers disagree with the image"),
        ("RescaleSlope", 0, "RescaleSlope is 0"),
        ("RescaleSlope", "NaN", "RescaleSlope is nan"),
        ("RescaleIntercept", "inf", "RescaleIntercept is inf"),
    ],
)
def test_headers_that_contradict_the_pixels_raise_naming_the_file(phantom, tmp_path, header, value, reason):
    """A header that understates the image would crop it; a zero or non-finite rescale blanks it."""
    good = sorted((phantom / brain.IMAGE_DIR).iterdir())[0]
    ds = pydicom.dcmread(good)
    setattr(ds, header, value)
    path = tmp_path / "contradiction.dcm"
    ds.save_as(path)
    with pytest.raises(DataError, match=reason) as err:
        rsna.load_hu(path)
    assert str(path) in str(err.value)


def _damage(root: Path) -> dict[str, str]:
    """Break three files of a copied phantom set; returns {file name: expected reason}."""
    files = sorted((root / brain.IMAGE_DIR).iterdir())
    files[0].unlink()
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) // 2])
    shutil.copy(get_testdata_file("MR_small.dcm"), files[2])
    return {files[0].name: "file not found", files[1].name: "truncated", files[2].name: "expected a CT image"}


def test_index_raise_mode_names_the_bad_file(phantom, tmp_path):
    root = _copy(phantom, tmp_path)
    broken = _damage(root)
    with pytest.raises(DataError) as err:
        rsna.read_index(root)
    assert any(name in str(err.value) for name in broken)


def test_index_skip_mode_keeps_good_files_and_lists_bad_ones(phantom, tmp_path, caplog):
    root = _copy(phantom, tmp_path)
    broken = _damage(root)
    n_images = len(rsna.read_labels(root / brain.CSV_NAME))
    with caplog.at_level(logging.WARNING, logger="synthmed.data.rsna"):
        index = rsna.read_index(root, on_error="skip")
    assert len(index) == n_images - 3
    assert not set(index["path"].map(lambda p: Path(p).name)) & set(broken)
    skipped = {Path(path).name: reason for path, reason in index.attrs["skipped"]}
    assert set(skipped) == set(broken)
    for name, reason in broken.items():
        assert reason in skipped[name]
    assert "skipped 3" in caplog.text
    with pytest.raises(ValueError, match="on_error"):
        rsna.read_index(root, on_error="ignore")


# ---------------------------------------------------------------------------------------------
# The phantom's content.


def test_same_seed_writes_identical_files(tmp_path):
    roots = [
        brain.make_rsna(tmp_path / name, 2, seed, slices_per_patient=(3, 3))
        for name, seed in (("a", 11), ("b", 11), ("c", 12))
    ]
    csvs = [(r / brain.CSV_NAME).read_bytes() for r in roots]
    assert csvs[0] == csvs[1] != csvs[2]
    name = sorted((roots[0] / brain.IMAGE_DIR).iterdir())[0].name
    assert (roots[0] / brain.IMAGE_DIR / name).read_bytes() == (roots[1] / brain.IMAGE_DIR / name).read_bytes()


def _with_lesion(plan: brain.PatientPlan, lesion: brain.Lesion) -> brain.PatientPlan:
    return dataclasses.replace(plan, lesions=(lesion,), labels=brain.slice_labels([lesion], plan.z, plan.anatomy))


def _pixel(plan: brain.PatientPlan, x: float, y: float) -> tuple[int, int]:
    row, col = brain.head_to_pixel(plan.anatomy, x, y)
    return int(row), int(col)


def test_a_parenchymal_haematoma_is_blood_with_a_darker_rim(plans):
    plan = plans[0]
    k = len(plan.z) // 2
    lesion = brain.Lesion(
        "intraparenchymal", z=float(plan.z[k]), z_half=12.0, hu=70.0, size=10.0, x=-30.0, y=-20.0, rim=4.0
    )
    plan = _with_lesion(plan, lesion)
    assert plan.labels[k].tolist() == [0, 1, 0, 0, 0, 1]
    hu = brain.render_patient(plan)[k]
    r, c = _pixel(plan, -30.0, -20.0)
    assert 60 < hu[r - 3 : r + 4, c - 3 : c + 4].mean() < 80  # blood density at the centre
    r, c = _pixel(plan, -30.0 - 12.0, -20.0)  # 12 mm out: in the rim (10 mm radius + 4 mm rim)
    rim = hu[r - 2 : r + 3, c - 2 : c + 3].mean()
    assert rim == pytest.approx(plan.anatomy.white + brain.OEDEMA_HU, abs=6)  # darker than white matter


def test_an_epidural_lens_lies_against_the_skull_on_its_side(plans):
    plan = plans[1]
    k = len(plan.z) // 2
    lesion = brain.Lesion("epidural", z=float(plan.z[k]), z_half=15.0, hu=75.0, angle=0.0, span=0.45, size=14.0)
    plan = _with_lesion(plan, lesion)
    assert plan.labels[k].tolist() == [1, 0, 0, 0, 0, 1]
    hu = brain.render_patient(plan)[k]
    inner = plan.anatomy.a * brain.brain_scale(float(plan.z[k]), plan.anatomy)  # inner table at angle 0
    for side, blood in ((1.0, True), (-1.0, False)):
        r, c = _pixel(plan, side * (inner - 4.0), 0.0)  # 4 mm inside the skull
        value = hu[r - 2 : r + 3, c - 2 : c + 3].mean()
        assert (65 < value < 85) if blood else (value < 55)


def test_labels_follow_the_lesions_over_consecutive_slices(plans):
    plan = plans[2]
    lesion = brain.Lesion(
        "subdural",
        z=float(plan.z[2]),
        z_half=float(plan.z[1] - plan.z[0]) * 1.5,
        hu=65.0,
        angle=math.pi,
        span=1.0,
        size=6.0,
    )
    plan = _with_lesion(plan, lesion)
    assert plan.labels[:, RSNA_SUBTYPES.index("subdural")].tolist()[:5] == [0, 1, 1, 1, 0]
    assert (plan.labels[:, -1] == plan.labels[:, :5].max(axis=1)).all()


def test_prevalence_and_co_occurrence_look_like_rsna():
    many = brain.plan_patients(600, seed=1)
    labels = np.concatenate([p.labels for p in many]).astype(float)
    freq = dict(zip(RSNA_CSV_TYPES, labels.mean(axis=0), strict=True))
    # Every phantom patient bleeds (RSNA: about 14% of slices), yet most slices show no blood.
    assert 0.25 < freq["any"] < 0.5
    assert freq["epidural"] == min(freq.values()) and freq["epidural"] < 0.06 * freq["any"]  # RSNA: 3%
    subtypes_by_frequency = sorted(RSNA_SUBTYPES, key=freq.get)
    assert set(subtypes_by_frequency[-3:]) == {"subdural", "subarachnoid", "intraparenchymal"}
    positive = labels[labels[:, -1] == 1, :5]
    assert positive.sum(axis=1).mean() > 1.1  # subtypes co-occur on the same slices
    # A subtype's positive slices form at most as many runs as the patient has lesions of it.
    for plan in many[:200]:
        for j, kind in enumerate(RSNA_SUBTYPES):
            runs = np.count_nonzero(np.diff(np.concatenate([[0], plan.labels[:, j], [0]])) == 1)
            assert runs <= sum(les.kind == kind for les in plan.lesions)


def test_every_positive_label_has_blood_pixels_of_its_lesion():
    """Labels and pixels agree, checked where it is hardest: a lesion's first and last slices."""
    rng = np.random.default_rng(0)
    banks = brain.Banks(rng)
    checked = set()
    for plan in brain.plan_patients(120, seed=3):
        if not plan.lesions:
            continue
        grid = brain.HeadGrid(plan.anatomy, banks)
        runs = [np.flatnonzero(col) for col in plan.labels[:, :5].T]
        edges = {int(k) for run in runs if len(run) for k in (run[0], run[-1])}
        for k in sorted(edges):
            painted: dict = {}
            brain.render_slice(plan, grid, k, rng, painted)
            for i, les in enumerate(plan.lesions):
                if brain.lesion_on_slice(les, float(plan.z[k]), plan.anatomy):
                    assert painted[i] >= 3, (plan.patient_id, k, les)
                    checked.add(les.kind)
            on_slice = {plan.lesions[i].kind for i in painted}
            assert on_slice == {t for t, v in zip(RSNA_SUBTYPES, plan.labels[k, :5], strict=True) if v}
    assert checked == set(RSNA_SUBTYPES)


def test_repeated_ids_are_redrawn():
    plans = brain.plan_patients(2, seed=0, slices_per_patient=(2, 2))
    clash = [plans[0], dataclasses.replace(plans[1], patient_id=plans[0].patient_id, image_ids=plans[0].image_ids)]
    fixed = brain.unique_ids(clash, np.random.default_rng(0))
    assert fixed[0] is clash[0]
    assert fixed[1].patient_id != fixed[0].patient_id
    assert not set(fixed[0].image_ids) & set(fixed[1].image_ids)


def test_a_smaller_matrix_keeps_the_field_of_view_and_the_picture(tmp_path):
    """A 128x128 phantom is the 512x512 one on pixels four times as wide: same labels, and the same
    anatomy after the reader averages both to the paper's 128 px."""
    full = brain.make_rsna(tmp_path / "512", 3, seed=5, slices_per_patient=(6, 6), matrix=512)
    small = brain.make_rsna(tmp_path / "128", 3, seed=5, slices_per_patient=(6, 6), matrix=128)
    assert (full / brain.CSV_NAME).read_bytes() == (small / brain.CSV_NAME).read_bytes()
    for path in sorted((full / brain.IMAGE_DIR).glob("*.dcm"))[:6]:
        big, little = pydicom.dcmread(path), pydicom.dcmread(small / brain.IMAGE_DIR / path.name)
        assert (little.Rows, little.Columns) == (128, 128) and little.pixel_array.shape == (128, 128)
        assert float(little.PixelSpacing[0]) == pytest.approx(4 * float(big.PixelSpacing[0]), rel=1e-5)
        assert little.ImagePositionPatient == pytest.approx(big.ImagePositionPatient, abs=0.01)
        a, b = (rsna.load_image(p, 128).astype(float).ravel() for p in (path, small / brain.IMAGE_DIR / path.name))
        assert np.corrcoef(a, b)[0, 1] > 0.9, path.name
    with pytest.raises(ValueError, match="matrix"):
        brain.plan_patients(1, seed=0, matrix=100)


def test_the_header_index_is_read_once_and_again_when_files_change(phantom, tmp_path, monkeypatch):
    from synthmed.data import sources

    monkeypatch.setenv("SYNTHMED_HOME", str(tmp_path / "home"))
    root = _copy(phantom, tmp_path)
    calls = []
    read_index = rsna.read_index
    monkeypatch.setattr(rsna, "read_index", lambda *a, **k: calls.append(a) or read_index(*a, **k))
    first = sources.read_raw_index("brain", root)
    second = sources.read_raw_index("brain", root)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(second, first)  # same values and dtypes from the cached file
    assert second.attrs["skipped"] == []
    # A damaged cache entry is recomputed; a removed slice changes the key and is read again.
    cached = next((tmp_path / "home" / "index").glob("brain-*.csv"))
    cached.write_bytes(cached.read_bytes()[:-40])
    pd.testing.assert_frame_equal(sources.read_raw_index("brain", root), first)
    assert len(calls) == 2
    (root / brain.IMAGE_DIR / f"{first['image_id'].iloc[0]}.dcm").unlink()
    with pytest.raises(DataError, match="file not found"):
        sources.read_raw_index("brain", root)
