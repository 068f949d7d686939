"""CheXpert reader, the paper's chest rules and preprocessing, and the chest phantom writer."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.transform import resize

from synthmed.data import CHEXPERT_LABELS, DataError, chexpert
from synthmed.data.chexpert import CSV_COLUMNS, downsample_box, load_image, paper_index, read_index
from synthmed.data.phantoms import chest

HAS_XRV = importlib.util.find_spec("torchxrayvision") is not None
needs_xrv = pytest.mark.skipif(
    not HAS_XRV,
    reason="torchxrayvision (synthmed[labels]) is not installed, so CheXpert's real label table is not available",
)


# ---------------------------------------------------------------------------------------------
# Hand-made datasets.


def label_fields(**values: str) -> list[str]:
    """The 14 label fields, blank unless given (keys use underscores for spaces)."""
    return [values.get(name.replace(" ", "_"), "") for name in CHEXPERT_LABELS]


def write_dataset(root: Path, rows: list[list[str]], images: bool = True) -> Path:
    """Write CheXpert-v1.0-small/train.csv with `rows` under root, and a tiny JPEG per row's Path."""
    folder = root / "CheXpert-v1.0-small"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    if images:
        for k, row in enumerate(rows):
            path = root / row[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = (np.arange(12 * 10).reshape(12, 10) * (k + 1) % 256).astype(np.uint8)
            Image.fromarray(pixels).save(path, format="JPEG")
    return root


def row(patient: int, study: int, view: str, labels: list[str], ap_pa: str = "AP") -> list[str]:
    kind = "Frontal" if "frontal" in view else "Lateral"
    path = f"CheXpert-v1.0-small/train/patient{patient:05d}/study{study}/{view}.jpg"
    return [path, "Female", "61", kind, ap_pa if kind == "Frontal" else "", *labels]


# ---------------------------------------------------------------------------------------------
# The paper's rules on hand-made rows.


def test_paper_rules_on_hand_made_rows(tmp_path):
    rows = [
        row(1, 1, "view1_frontal", label_fields(Cardiomegaly="-1.0", Edema="1.0", Fracture="0.0")),
        row(1, 1, "view2_lateral", label_fields(Cardiomegaly="1.0")),  # lateral: dropped
        row(2, 1, "view1_frontal", label_fields(Pneumonia="0.0", Atelectasis="")),  # all zero: dropped
        row(2, 2, "view2_frontal", label_fields(No_Finding="1.0")),  # "No Finding" only: kept
        row(3, 1, "view3_frontal", label_fields(Edema="1.0")),  # view3: not in the paper's filter
        row(4, 1, "view1_frontal", label_fields(Support_Devices="1.0", Lung_Opacity="-1.0"), ap_pa="PA"),
    ]
    index = read_index(write_dataset(tmp_path, rows))
    assert len(index) == 6
    assert np.isnan(index.loc[0, "Pneumonia"]) and index.loc[0, "Cardiomegaly"] == -1.0
    assert index.loc[0, "Fracture"] == 0.0

    kept = paper_index(index)
    assert [Path(p).parts[-3:] for p in kept["path"]] == [
        ("patient00001", "study1", "view1_frontal.jpg"),
        ("patient00002", "study2", "view2_frontal.jpg"),
        ("patient00004", "study1", "view1_frontal.jpg"),
    ]
    assert list(kept["patient"]) == ["patient00001", "patient00002", "patient00004"]
    assert all(kept[name].dtype == np.int8 for name in CHEXPERT_LABELS)
    first = kept.iloc[0][CHEXPERT_LABELS]
    assert first["Cardiomegaly"] == 1 and first["Edema"] == 1  # U-Ones
    assert first["Fracture"] == 0 and first["Pneumonia"] == 0  # 0.0 and blank -> 0
    assert kept.iloc[1][CHEXPERT_LABELS].tolist() == [1] + [0] * 13
    assert kept.iloc[2][["Support Devices", "Lung Opacity"]].tolist() == [1, 1]
    assert kept[CHEXPERT_LABELS].to_numpy().sum(axis=1).min() > 0


def test_read_index_columns_and_absolute_paths(tmp_path):
    rows = [row(7, 2, "view1_frontal", label_fields(Edema="1.0"))]
    index = read_index(write_dataset(tmp_path, rows))
    record = index.iloc[0]
    assert Path(record["path"]).is_absolute() and Path(record["path"]).is_file()
    assert (record["patient"], record["study"], record["view"]) == ("patient00007", "study2", "view1_frontal")
    assert (record["frontal_lateral"], record["ap_pa"], record["sex"], record["age"]) == ("Frontal", "AP", "Female", 61)
    assert index["Edema"].dtype == np.float64 and index.attrs["skipped"] == []


# ---------------------------------------------------------------------------------------------
# Bad input.


GOOD = row(1, 1, "view1_frontal", label_fields(Edema="1.0"))


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (GOOD[:-1], "has 18 fields; expected 19"),
        (GOOD + ["1.0"], "has 20 fields"),
        (row(2, 1, "view1_frontal", label_fields(Edema="yes")), "Edema is 'yes', not a number"),
        (row(2, 1, "view1_frontal", label_fields(Cardiomegaly="2.0")), "Cardiomegaly is '2.0'; expected 1.0"),
        (row(2, 1, "view1_frontal", label_fields(Fracture="-0.5")), "Fracture is '-0.5'"),
        ([*row(2, 1, "view1_frontal", label_fields())[:2], "sixty", *GOOD[3:]], "Age 'sixty'"),
        ([GOOD[0].replace("patient00001", "p1"), *GOOD[1:]], "is not of the form"),
    ],
)
def test_bad_rows_raise_naming_the_row(tmp_path, bad_row, expected):
    root = write_dataset(tmp_path, [GOOD, bad_row], images=False)
    with pytest.raises(DataError, match=expected) as info:
        chexpert.read_label_table(root / "CheXpert-v1.0-small" / "train.csv")
    assert "train.csv line 3" in str(info.value)


def test_missing_image_raises_naming_the_file(tmp_path):
    root = write_dataset(tmp_path, [GOOD, row(2, 1, "view1_frontal", label_fields(Edema="0.0"))])
    missing = root / "CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg"
    missing.unlink()
    with pytest.raises(DataError, match="image file missing") as info:
        read_index(root)
    assert str(missing) in str(info.value)


def test_bad_header_and_missing_csv(tmp_path):
    with pytest.raises(DataError, match="label file not found"):
        read_index(tmp_path)
    folder = tmp_path / "CheXpert-v1.0-small"
    folder.mkdir()
    (folder / "train.csv").write_text("Path,Sex,Age\n")
    with pytest.raises(DataError, match="train.csv: header is Path,Sex,Age; expected Path,Sex,Age,Frontal"):
        read_index(tmp_path)


def test_skip_mode_keeps_good_rows_and_lists_the_rest(tmp_path, caplog):
    good_2 = row(3, 1, "view1_frontal", label_fields(Atelectasis="-1.0"))
    rows = [GOOD, row(2, 1, "view1_frontal", label_fields(Edema="2.0")), good_2, GOOD[:-2]]
    root = write_dataset(tmp_path, rows[:3])
    write_dataset(tmp_path, rows, images=False)  # the short last row has no image of its own
    (root / good_2[0]).unlink()
    with caplog.at_level(logging.WARNING):
        index = read_index(root, on_error="skip")
    assert list(index["patient"]) == ["patient00001"]
    reasons = dict(index.attrs["skipped"])
    assert len(reasons) == 3
    assert "Edema is '2.0'" in reasons[rows[1][0]]
    assert "has 17 fields" in reasons[GOOD[0]]
    assert "image file missing" in reasons[str(root / good_2[0])]
    assert "skipped 3 row(s)" in caplog.text
    with pytest.raises(ValueError, match="on_error"):
        read_index(root, on_error="ignore")


def test_unreadable_or_truncated_jpeg_raises_naming_the_file(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(np.full((40, 30), 200, np.uint8)).save(good, format="JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    text = tmp_path / "text.jpg"
    text.write_text("not an image")
    for path in (truncated, text, tmp_path / "absent.jpg"):
        with pytest.raises(DataError, match="cannot read image") as info:
            load_image(path, 32)
        assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------
# Pixel preprocessing.


def test_load_image_follows_the_paper(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(20, 180, size=(48, 40)).astype(np.uint8)  # not square, max below 255
    path = tmp_path / "x.png"
    Image.fromarray(pixels).save(path)  # lossless, so the expected values are exact
    resized = resize(pixels, (256, 256))
    expected = (resized / resized.max() * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(path, 256), expected)
    small = load_image(path, 32)
    assert small.shape == (32, 32) and small.dtype == np.uint8
    np.testing.assert_array_equal(small, downsample_box(expected, 32))


def test_downsample_box_is_repeated_2x2_averaging_rounded_once():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(16, 16)).astype(np.uint8)
    for resolution, factor in ((8, 2), (4, 4), (1, 16)):
        blocks = img.astype(np.float64).reshape(resolution, factor, resolution, factor).mean(axis=(1, 3))
        np.testing.assert_array_equal(downsample_box(img, resolution), np.rint(blocks).astype(np.uint8))
    # levels stay float: rounding 0.5 at each level would give 0 (round half to even), not 1
    img = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 1, 1], [1, 0, 1, 0]], np.uint8)
    assert downsample_box(img, 1)[0, 0] == 1
    np.testing.assert_array_equal(downsample_box(img, 4), img)
    for bad in (3, 5, 0, 32):
        with pytest.raises(ValueError):
            downsample_box(img, bad)


# ---------------------------------------------------------------------------------------------
# The phantom writer, read back through the reader.


@pytest.fixture(scope="module")
def synthetic_phantoms(tmp_path_factory) -> Path:
    return chest.make_chexpert(
        tmp_path_factory.mktemp("synth"), n_patients=8, seed=5, label_source="synthetic", progress=False
    )


def test_reader_reads_what_the_phantom_writer_writes(synthetic_phantoms):
    root = synthetic_phantoms
    with open(root / "CheXpert-v1.0-small" / "train.csv", newline="") as handle:
        records = list(csv.reader(handle))
    assert records[0] == CSV_COLUMNS
    index = read_index(root)
    assert len(index) == len(records) - 1
    expected = chest.synthetic_label_rows(8, 5)
    assert list(index["path"]) == [str(root / p) for p in expected["Path"]]
    for name in CHEXPERT_LABELS:  # labels round-trip through the CSV coding
        written = expected[name].map({"1.0": 1.0, "0.0": 0.0, "-1.0": -1.0, "": np.nan}).to_numpy(float)
        np.testing.assert_array_equal(index[name].to_numpy(), written)
    codes = set(np.unique(expected[CHEXPERT_LABELS].to_numpy()))
    assert codes <= {"1.0", "0.0", "-1.0", ""} and {"1.0", "-1.0", ""} <= codes
    sizes = set()
    for path in index["path"]:
        with Image.open(path) as img:
            assert img.format == "JPEG" and img.mode == "L"
            sizes.add(img.size)
            assert min(img.size) == 320 and max(img.size) > 340  # CheXpert-small: ~320 short side
    assert len(sizes) > 1
    # several studies per patient and several views per study, so the frontal filter and the
    # patient-level split both matter
    assert index.groupby("patient")["study"].nunique().max() > 1
    assert index.groupby(["patient", "study"]).size().max() > 1
    assert set(index["frontal_lateral"]) == {"Frontal", "Lateral"}
    kept = paper_index(index)
    assert 0 < len(kept) < len(index)
    image = load_image(kept["path"].iloc[0], 256)
    assert image.shape == (256, 256) and image.max() == 255  # divided by its own maximum


def test_same_seed_writes_identical_bytes(tmp_path, synthetic_phantoms):
    again = chest.make_chexpert(tmp_path / "again", n_patients=8, seed=5, label_source="synthetic", progress=False)
    csv_path = Path("CheXpert-v1.0-small/train.csv")
    assert (again / csv_path).read_bytes() == (synthetic_phantoms / csv_path).read_bytes()
    for image in read_index(again)["path"]:
        relative = Path(image).relative_to(again)
        assert (again / relative).read_bytes() == (synthetic_phantoms / relative).read_bytes()
    other = chest.make_chexpert(tmp_path / "other", n_patients=8, seed=6, label_source="synthetic", progress=False)
    assert (other / csv_path).read_bytes() != (again / csv_path).read_bytes()


def test_synthetic_labels_have_chexpert_structure():
    rows = chest.synthetic_label_rows(400, seed=0)
    index = chexpert.parse_label_frame(rows, "synthetic")
    per_patient = index.groupby("patient")["study"].nunique()
    per_study = index.groupby(["patient", "study"]).size()
    assert per_patient.nunique() > 3 and 2.0 < per_patient.mean() < 4.0  # CheXpert: 2.9 studies per patient
    assert (per_study > 1).mean() > 0.05  # studies with several views
    assert 0.05 < (index["frontal_lateral"] == "Lateral").mean() < 0.3
    # "No Finding" only where no other finding except support devices is positive or uncertain
    others = index[CHEXPERT_LABELS[1:-1]].isin([1.0, -1.0]).any(axis=1)
    assert ((index["No Finding"] == 1.0) == ~others).all()
    combos = paper_index(index.assign(path=index["path"]))[CHEXPERT_LABELS].drop_duplicates()
    assert len(combos) > 50  # a long tail of label combinations


def test_falls_back_to_synthetic_labels_without_torchxrayvision(monkeypatch, tmp_path):
    monkeypatch.setattr(chest.labels, "real_label_file", lambda: None)  # where the source is resolved
    assert chest._resolve_source("auto") == "synthetic"
    with pytest.raises(DataError, match="torchxrayvision"):
        chest.make_chexpert(tmp_path, n_patients=1, seed=0, label_source="torchxrayvision")
    with pytest.raises(ValueError, match="label_source"):
        chest.make_chexpert(tmp_path, n_patients=1, seed=0, label_source="real")


@needs_xrv
def test_real_label_mode_draws_whole_patients_from_the_real_table(tmp_path):
    root = chest.make_chexpert(tmp_path, n_patients=5, seed=2, label_source="auto", progress=False)
    written = (root / "CheXpert-v1.0-small" / "train.csv").read_text().splitlines()
    with chest.real_label_file().open("rb") as handle:
        real = gzip.decompress(handle.read()).decode().splitlines()
    assert written[0] == real[0]
    patients = {line.split("/")[2] for line in written[1:]}
    assert len(patients) == 5
    # every row of the chosen patients, in the table's order and byte for byte
    assert written[1:] == [line for line in real[1:] if line.split("/")[2] in patients]
    index = read_index(root)
    assert len(index) == len(written) - 1 and index.groupby("patient").size().max() >= 1
    assert (root / "CheXpert-v1.0-small" / "phantom.json").read_text().count("torchxrayvision") == 1


@needs_xrv
def test_full_real_label_table():
    table, source = chest.chexpert_label_table()
    assert source == "torchxrayvision"
    assert len(table) == 223_414 and table["patient"].nunique() == 64_540
    assert (table["frontal_lateral"] == "Frontal").sum() == 191_027
    assert table["Support Devices"].eq(1.0).sum() == 116_001


# ---------------------------------------------------------------------------------------------
# Findings change the pixels where they should.


def render(labels: dict[str, str], view: str = "view1_frontal", study: int = 1, seed: int = 0) -> np.ndarray:
    fields = label_fields(**{k.replace(" ", "_"): v for k, v in labels.items()})
    return chest.render_row(row(17, study, view, fields, ap_pa="PA"), seed).astype(np.float64)


def test_cardiomegaly_widens_the_bright_heart():
    normal, enlarged = render({}), render({"Cardiomegaly": "1.0"})
    h, w = normal.shape
    lower_middle = (slice(int(0.45 * h), int(0.85 * h)), slice(int(0.2 * w), int(0.8 * w)))
    upper_lungs = (slice(int(0.15 * h), int(0.3 * h)), slice(0, w))
    diff = enlarged - normal
    assert diff[lower_middle].mean() > 2.0 and (diff[lower_middle] > 10).mean() > 0.05
    assert np.abs(diff[upper_lungs]).max() == 0


def test_fracture_is_small_and_support_devices_are_bright():
    normal = render({})
    broken = render({"Fracture": "1.0"}, study=2)
    base = render({}, study=2)
    changed = np.abs(broken - base) > 0
    assert 0 < changed.mean() < 0.01  # a few dozen pixels around one to three ribs
    rows, cols = np.nonzero(changed)
    assert rows.max() - rows.min() < 0.5 * normal.shape[0]
    devices = render({"Support Devices": "1.0"})
    assert (devices - normal).max() > 40  # metal is far denser than anything in the body


def test_effusion_brightens_a_lung_base_and_pneumothorax_darkens_a_lung_edge():
    normal = render({})
    h = normal.shape[0]
    fluid = render({"Pleural Effusion": "1.0"}) - normal
    assert fluid[int(0.5 * h) :].sum() > 5 * np.abs(fluid[: int(0.4 * h)]).sum() and fluid.max() > 10
    air = render({"Pneumothorax": "1.0"}) - normal
    assert air.min() < -5 and (air < 0).sum() > (air > 0).sum()


def test_uncertain_labels_draw_a_subtle_sign_or_none():
    draws = np.random.default_rng(0).random((len(CHEXPERT_LABELS), 12))
    labels = np.full(len(CHEXPERT_LABELS), -1.0)
    severity = chest.severities(labels, draws)
    shown = severity > 0
    assert ((severity[shown] >= 0.3) & (severity[shown] <= 0.5)).all()
    assert not shown[0]  # "No Finding" has no sign
    np.testing.assert_array_equal(shown[1:], draws[1:, 0] < chest.P_UNCERTAIN_SHOWN)
    positive = chest.severities(np.ones(len(CHEXPERT_LABELS)), draws)
    assert positive[0] == 0 and (positive[1:] >= 0.3).all() and (positive[1:] > 0.7).any()
    images = [render({"Edema": "-1.0"}, study=s) - render({}, study=s) for s in range(1, 9)]
    drawn = [np.abs(d).max() > 0 for d in images]
    assert any(drawn) and not all(drawn)


def test_laterals_differ_from_frontals():
    def centre_over_sides(img: np.ndarray) -> float:
        """Brightness of the middle columns over that of the columns at 30% and 70% of the width."""
        h, w = img.shape
        band = img[int(0.35 * h) : int(0.55 * h)]
        sides = np.r_[band[:, int(0.25 * w) : int(0.35 * w)].ravel(), band[:, int(0.65 * w) : int(0.75 * w)].ravel()]
        return band[:, int(0.45 * w) : int(0.55 * w)].mean() / sides.mean()

    # a frontal film has two dark lungs either side of a bright mediastinum; a lateral one lung field
    for study in range(1, 4):
        assert centre_over_sides(render({}, study=study)) > 1.5
        assert centre_over_sides(render({}, view="view2_lateral", study=study)) < 1.3


# ---------------------------------------------------------------------------------------------
# Inputs that used to pass silently or fail far from their cause.


def test_a_16_bit_png_named_jpg_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "view1_frontal.jpg"
    pixels = np.linspace(0, 60000, 30 * 40).reshape(30, 40).astype(np.uint16)
    Image.fromarray(pixels).save(path, format="PNG")
    with Image.open(path) as img:
        assert img.mode.startswith("I")  # PIL keeps the 16 bits
    with pytest.raises(DataError, match="16-bit") as info:
        load_image(path, 32)
    assert str(path) in str(info.value)


def test_a_byte_order_mark_before_the_header_is_accepted(tmp_path):
    root = write_dataset(tmp_path, [GOOD])
    csv_path = root / "CheXpert-v1.0-small" / "train.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    index = read_index(root)
    assert list(index["patient"]) == ["patient00001"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], "no image rows below the header; no frontal image"),
        ([row(1, 1, "view2_lateral", label_fields(Edema="1.0"))], "none of its 1 images is a frontal view"),
    ],
)
def test_no_frontal_image_is_an_error_at_read_time(tmp_path, rows, expected):
    root = write_dataset(tmp_path, rows)
    with pytest.raises(DataError, match=expected) as info:
        read_index(root)
    assert str(root / "CheXpert-v1.0-small" / "train.csv") in str(info.value)
