"""synthmed.data.sources: which folder a modality's data comes from, and the index read from it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmed.config import DataConfig
from synthmed.data import CHEXPERT_LABELS, DataError
from synthmed.data.chexpert import CSV_COLUMNS
from synthmed.data.sources import phantom_root, read_raw_index, source_root, to_paper_index

DATA = DataConfig(chest_patients=4, brain_patients=2, chest_scale=1.0, brain_scale=1.0)
MARKERS = {"chest": "CheXpert-v1.0-small/train.csv", "brain": "stage_2_train.csv"}


@pytest.fixture(autouse=True)
def run_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty run directory, so a phantom written by mistake would show."""
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTHMED_HOME", str(home))
    return home


def _written(home: Path) -> list[Path]:
    return sorted(home.rglob("*")) if home.exists() else []


@pytest.mark.parametrize("modality", ["chest", "brain"])
def test_a_data_root_that_is_not_a_folder_is_refused_naming_it(tmp_path, run_home, modality):
    missing = tmp_path / "downloads" / "nowhere"
    with pytest.raises(FileNotFoundError) as caught:
        source_root(modality, DATA, missing)
    message = str(caught.value)
    assert str(missing) in message and "not a folder" in message and MARKERS[modality] in message
    assert _written(run_home) == []  # no phantom was made in its place


@pytest.mark.parametrize(("modality", "other"), [("chest", "brain"), ("brain", "chest")])
def test_a_data_root_without_the_modalitys_files_is_refused_naming_what_is_missing(tmp_path, run_home, modality,
                                                                                  other):
    root = tmp_path / "download"
    marker = root / MARKERS[other]  # the other modality's download is there, this one's is not
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    with pytest.raises(FileNotFoundError, match=f"data_root {root} has no {MARKERS[modality]}"):
        source_root(modality, DATA, root)
    assert source_root(other, DATA, root) == root
    assert _written(run_home) == []


def test_a_data_root_is_used_as_given_resolved_and_nothing_is_written(tmp_path, run_home, monkeypatch):
    root = tmp_path / "download"
    for marker in MARKERS.values():
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).write_text("")
    monkeypatch.chdir(tmp_path)
    for modality in MARKERS:
        found = source_root(modality, DATA, "download")  # relative to the working folder
        assert found.is_absolute() and found == root.resolve()
        assert source_root(modality, DATA, Path("sub/../download")) == found
    assert _written(run_home) == []


def test_an_unknown_modality_is_refused_by_every_step_before_anything_is_written(tmp_path, run_home):
    for call in (
        lambda: source_root("knee", DATA, tmp_path),
        lambda: source_root("knee", DATA),
        lambda: phantom_root("knee", DATA),
        lambda: read_raw_index("knee", tmp_path),
        lambda: to_paper_index("knee", None),
    ):
        with pytest.raises(ValueError, match="unknown modality 'knee'; expected one of chest, brain"):
            call()
    assert _written(run_home) == []


@pytest.mark.parametrize("modality", ["chest", "brain"])
def test_reading_an_empty_folder_names_the_missing_label_file(tmp_path, modality):
    with pytest.raises(DataError, match=str(tmp_path / MARKERS[modality])):
        read_raw_index(modality, tmp_path)


def _chexpert_row(patient: int, view: str, **labels: str) -> list[str]:
    kind = "Frontal" if "frontal" in view else "Lateral"
    path = f"CheXpert-v1.0-small/train/patient{patient:05d}/study1/{view}.jpg"
    fields = [labels.get(name.replace(" ", "_"), "") for name in CHEXPERT_LABELS]
    return [path, "Male", "50", kind, "PA" if kind == "Frontal" else "", *fields]


def test_chest_index_and_the_paper_rules_through_the_sources(tmp_path):
    rows = [
        _chexpert_row(1, "view1_frontal", Cardiomegaly="1.0", Edema="0.0"),
        _chexpert_row(1, "view2_lateral", Edema="1.0"),  # lateral: left out by the paper's rules
        _chexpert_row(2, "view1_frontal", Edema="0.0"),  # no positive label: left out
        _chexpert_row(3, "view1_frontal", Edema="-1.0"),  # uncertain: counted as present (U-Ones)
    ]
    folder = tmp_path / "CheXpert-v1.0-small"
    folder.mkdir()
    with open(folder / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    for row in rows:
        (tmp_path / row[0]).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((12, 10), 90, np.uint8)).save(tmp_path / row[0], format="JPEG")

    raw = read_raw_index("chest", tmp_path)
    assert len(raw) == 4 and raw["path"].tolist() == [str(tmp_path / row[0]) for row in rows]
    assert raw.loc[3, "Edema"] == -1.0  # as the file codes it
    paper = to_paper_index("chest", raw)
    assert paper["path"].tolist() == [str(tmp_path / rows[0][0]), str(tmp_path / rows[3][0])]
    assert paper[["Cardiomegaly", "Edema"]].to_numpy().tolist() == [[1, 0], [0, 1]]
    assert paper[CHEXPERT_LABELS].to_numpy().sum() == 2  # every other label 0
