"""Data throughput on one core: phantom CT generation, DICOM -> 128x128 windowed uint8, JPEG -> array.

Goals (issue 3): writing a phantom CT slice (render + DICOM encode + file write) in at most 8 ms, and
reading at least 300 slices/s per core from DICOM to the paper's 128x128 brain-window uint8 image
(`synthmed.data.rsna.load_image`). The chest line times `synthmed.data.chexpert.load_image` (JPEG ->
256x256 uint8) on phantom chest films.

Usage: .venv/bin/python benchmarks/data_throughput.py [--patients 6] [--repeats 3] [--matrix 512]
       [--rsna-root DIR] [--chest-root DIR]   (real downloads instead of phantoms)

`--matrix 128` times the phantom slices the cpu profile writes (`DataConfig.brain_matrix`).

Reading times are the best of `--repeats` passes over the same files, so the files are in the page
cache: this measures decoding and preprocessing, not the disk.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

from synthmed.data import rsna
from synthmed.data.phantoms import brain


def _best_rate(paths: list[str], load, repeats: int) -> float:
    """Items per second, best of `repeats` passes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            load(path)
        best = min(best, time.perf_counter() - start)
    return len(paths) / best


def bench_generation(root: Path, patients: int, repeats: int, matrix: int) -> list[str]:
    """Phantom slices written per second (render + encode + write), best of `repeats` runs."""
    best, n = float("inf"), 0
    for i in range(repeats):
        out = root / f"gen{i}"
        start = time.perf_counter()
        brain.make_rsna(out, patients, seed=i, matrix=matrix, progress=False)
        best = min(best, time.perf_counter() - start)
        n = len(list((out / brain.IMAGE_DIR).iterdir()))
    return [
        f"phantom CT generation ({matrix}x{matrix}): {best / n * 1e3:.2f} ms/slice ({n} slices, goal <= 8 ms; "
        f"includes per-dataset noise banks)"
    ]


def bench_rsna(root: Path, repeats: int) -> tuple[list[str], list[str]]:
    index = rsna.read_index(root)
    paths = list(index["path"])
    lines = []
    rate = _best_rate(paths, lambda p: rsna.load_image(p, 128), repeats)
    lines.append(f"DICOM -> 128x128 brain-window uint8: {rate:.0f} slices/s ({len(paths)} slices, goal >= 300)")
    rate_hu = _best_rate(paths, rsna.load_hu, repeats)
    lines.append(f"DICOM -> HU float32 (as stored):     {rate_hu:.0f} slices/s")
    start = time.perf_counter()
    rsna.read_index(root)
    lines.append(f"read_index (CSV + headers):          {len(paths) / (time.perf_counter() - start):.0f} slices/s")
    return lines, paths


def bench_chest(root: Path | None, work: Path, repeats: int) -> list[str]:
    if importlib.util.find_spec("synthmed.data.chexpert") is None:
        return ["JPEG -> array (chest): skipped: synthmed.data.chexpert does not exist yet"]
    from synthmed.data import chexpert

    if not hasattr(chexpert, "load_image"):
        return ["JPEG -> array (chest): skipped: synthmed.data.chexpert has no load_image yet"]
    if root is None:
        try:
            from synthmed.data.phantoms import make_chexpert
        except ImportError as err:
            return [f"JPEG -> array (chest): skipped: no chest phantoms to read ({err})"]
        root = make_chexpert(work / "chest", n_patients=12, seed=0, progress=False)
    paths = sorted(str(p) for p in root.rglob("*.jpg"))[:300]
    if not paths:
        return [f"JPEG -> array (chest): skipped: no JPEG files under {root}"]
    rate = _best_rate(paths, lambda p: chexpert.load_image(p, chexpert.BASE_RESOLUTION), repeats)
    shape = chexpert.load_image(paths[0], chexpert.BASE_RESOLUTION).shape
    return [f"JPEG -> {shape[0]}x{shape[1]} uint8 (chest):       {rate:.0f} images/s ({len(paths)} images)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=6, help="phantom CT patients (12-20 slices each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--matrix", type=int, default=brain.SIZE, help="phantom slice rows and columns")
    parser.add_argument("--rsna-root", type=Path, help="a real RSNA stage 2 folder instead of phantoms")
    parser.add_argument("--chest-root", type=Path, help="a folder of CheXpert JPEGs instead of phantoms")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, whatever the machine has
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lines = []
        if args.rsna_root is None:
            lines += bench_generation(work, args.patients, args.repeats, args.matrix)
            rsna_root = work / "gen0"
        else:
            rsna_root = args.rsna_root
        rsna_lines, _ = bench_rsna(rsna_root, args.repeats)
        lines += rsna_lines
        lines += bench_chest(args.chest_root, work, args.repeats)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
