"""Where a modality's source dataset lives: a real download under `data_root`, or cached phantoms.

`source_root` returns the folder a reader takes (the one holding `CheXpert-v1.0-small/` or
`stage_2_train.csv`). With no `data_root` it writes phantoms once under the run directory, keyed
by their settings, through `synthmed.cache`: one process writes them into a temporary folder that is
renamed into place when complete, with a manifest checked on every later use (a damaged folder is
rebuilt), while other processes wanting the same phantoms wait for it; temporary folders left by
processes that died are removed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import pandas as pd

from synthmed import cache
from synthmed.config import DataConfig, home, stable_hash
from synthmed.data import MODALITIES

log = logging.getLogger(__name__)

# The file a download of each modality's dataset holds, relative to the folder `data_root` names.
_MARKER = {"chest": "CheXpert-v1.0-small/train.csv", "brain": "stage_2_train.csv"}


def source_root(modality: str, data: DataConfig, data_root: str | os.PathLike | None = None) -> Path:
    """The dataset folder for `modality`: `data_root` when given, else phantoms made once and cached."""
    _check_modality(modality)
    if data_root:
        root, marker = Path(data_root).expanduser().resolve(), _MARKER[modality]
        if not root.is_dir():
            raise FileNotFoundError(f"data_root {root} is not a folder; for {modality} it should hold {marker}")
        if not (root / marker).exists():
            raise FileNotFoundError(f"data_root {root} has no {marker}")
        return root
    return phantom_root(modality, data)


def phantom_root(modality: str, data: DataConfig) -> Path:
    """The phantom dataset for `modality` at `data`'s settings, written once under the run directory."""
    _check_modality(modality)
    from synthmed.data import phantoms

    n_patients = data.chest_patients if modality == "chest" else data.brain_patients
    # Film size and slice matrix enter the key only when not the renderer's default, so earlier keys hold.
    if modality == "chest":
        extra = (data.chest_short_side,) if data.chest_short_side != phantoms.chest.SHORT_SIDE else ()
    else:
        extra = (data.brain_matrix,) if data.brain_matrix != phantoms.brain.SIZE else ()
    version = phantoms.PHANTOM_VERSIONS.get(modality)
    key = stable_hash(modality, n_patients, data.seed, data.chest_label_source, version, *extra)
    final = home() / "phantoms" / f"{modality}-{key}"
    if cache.verify_folder(final, what="phantom dataset"):
        return final

    def build(tmp: Path) -> None:
        log.info("writing %s phantoms (%d patients) to %s", modality, n_patients, final)
        if modality == "chest":
            phantoms.make_chexpert(
                tmp, n_patients=n_patients, seed=data.seed, label_source=data.chest_label_source,
                short_side=data.chest_short_side, progress=False,
            )
        else:
            phantoms.make_rsna(
                tmp, n_patients=n_patients, seed=data.seed, matrix=data.brain_matrix, progress=False
            )

    with cache.locked(final, what="phantom dataset"):
        _remove_old_temporaries(final.parent)
        if cache.check_folder(final) is None:  # written by another process while we waited
            return final
        cache.atomic_folder(final, build)
    return final


# Temporary folders of versions before synthmed.cache: "<modality>-<key>.tmp<pid>".
_OLD_TEMP = re.compile(r"^(chest|brain)-[0-9a-f]+\.tmp(?P<pid>\d+)$")


def _remove_old_temporaries(folder: Path) -> None:
    for child in folder.iterdir():
        match = _OLD_TEMP.match(child.name)
        if match and child.is_dir() and not cache.pid_alive(int(match["pid"])):
            log.info("removing %s, a temporary phantom folder left by process %s", child, match["pid"])
            shutil.rmtree(child, ignore_errors=True)


def read_raw_index(modality: str, root: Path) -> pd.DataFrame:
    """One row per image file of the dataset under `root`, with the labels as the files code them."""
    _check_modality(modality)
    if modality == "chest":
        from synthmed.data import chexpert

        return chexpert.read_index(root)
    return _brain_index(root)


# Bump when rsna.read_index's output changes, so that cached header indexes are read again.
BRAIN_INDEX_VERSION = 1
_BRAIN_INDEX_DTYPES = {"path": str, "image_id": str, "patient": str, "study": str, "series": str, "z": "float64"}


def _brain_index(root: Path) -> pd.DataFrame:
    """`rsna.read_index(root)`, cached under the run directory.

    It reads every slice's DICOM header (about 0.45 ms each: two minutes for the cpu profile's
    264,000 slices, or six for RSNA's 752,803), and every process of a build needs it. The key holds
    the folder, the label file's size and time and the image folder's time, which changes when
    files are added, removed or renamed; a file rewritten in place is not noticed (delete
    `.synthmed/index` to read the headers again). Only a complete index is cached: bad files raise.
    """
    from synthmed.data import rsna

    try:
        files = [(root / name).stat() for name in (rsna.CSV_NAME, rsna.IMAGE_DIR)]
    except OSError:
        return rsna.read_index(root, progress=False)  # the reader names what is missing
    stats = [(st.st_size, st.st_mtime_ns) for st in files]
    key = stable_hash("rsna-index", str(root), stats, BRAIN_INDEX_VERSION)
    path = home() / "index" / f"brain-{key}.csv"
    if not cache.verify(path, what="brain header index"):
        with cache.locked(path, what="brain header index"):
            if cache.check(path) is not None:  # not written by another process while we waited
                index = rsna.read_index(root, progress=False)
                cache.atomic_write(path, lambda temp: index.to_csv(temp, index=False))
                return index
    dtypes = {**_BRAIN_INDEX_DTYPES, **{c: "int8" for c in rsna.RSNA_CSV_TYPES}}
    index = pd.read_csv(path, dtype=dtypes, keep_default_na=False)
    index.attrs["skipped"] = []
    return index


def to_paper_index(modality: str, raw: pd.DataFrame) -> pd.DataFrame:
    """The paper's label rules applied to a raw index: one row per kept image, 0/1 label columns."""
    _check_modality(modality)
    if modality == "chest":
        from synthmed.data import chexpert

        return chexpert.paper_index(raw)
    from synthmed.data import rsna

    return rsna.paper_index(raw)


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")
