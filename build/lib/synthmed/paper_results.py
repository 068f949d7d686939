"""The paper's published benchmark values, as data, for side-by-side figures and the claims check.

Source: the teaser figure (`teaser.png`) of the paper's repository, AugustDS/synthetic-medical-benchmark
(October 2020, presumably the arXiv v1 figures; the npj figures may differ), four bar charts of mean
AUROC at 32x32: classes and samples per class, chest (CheXpert) and brain (RSNA ICH). Values were
digitised from the figure's pixels, about +/-0.005 AUROC (paper-spec §6). Two brain real values are
read off a wide band and are rougher still (`approximate`). The resolution benchmark has no
published numbers (paper-spec §6, trend 4), so it has no rows here.

These are results on the real datasets with the paper's full-size models; they are never mixed
with this project's results (phantom data, small CPU profiles).
"""

from __future__ import annotations

import pandas as pd

SOURCE = (
    "digitised from the teaser figure of the paper's repository (AugustDS/synthetic-medical-benchmark), "
    "about ±0.005 AUROC"
)
DIGITISATION_ERROR = 0.005  # AUROC, paper-spec §6
LABEL = "paper, real CheXpert/RSNA"  # how every figure and table names these values

# (modality, benchmark) -> settings and mean AUROC per series, in the teaser's left-to-right order.
_TABLES: dict[tuple[str, str], dict[str, tuple]] = {
    ("chest", "classes"): {
        "setting": (20, 15, 10, 6, 4, 2),
        "real": (0.789, 0.783, 0.822, 0.879, 0.923, 0.966),
        "cpD-GAN": (0.754, 0.739, 0.783, 0.853, 0.912, 0.955),
        "prog-GAN": (0.703, 0.697, 0.741, 0.833, 0.890, 0.953),
    },
    ("brain", "classes"): {
        "setting": (10, 8, 6, 4, 2),
        "real": (0.872, 0.896, 0.907, 0.886, 0.928),
        "cpD-GAN": (0.799, 0.833, 0.837, 0.809, 0.904),
        "prog-GAN": (0.705, 0.752, 0.752, 0.664, 0.806),  # 2 classes: large error bar, about ±0.04
    },
    ("chest", "samples"): {
        "setting": (5950, 4500, 3000, 1500, 1000, 500, 400, 200),
        "real": (0.925, 0.919, 0.916, 0.902, 0.897, 0.887, 0.873, 0.857),
        "cpD-GAN": (0.907, 0.903, 0.899, 0.886, 0.881, 0.872, 0.862, 0.848),
        "prog-GAN": (0.898, 0.895, 0.886, 0.872, 0.862, 0.837, 0.842, 0.832),
    },
    ("brain", "samples"): {
        "setting": (5400, 4500, 3000, 1500, 1000, 500, 300, 100),
        "real": (0.912, 0.907, 0.903, 0.883, 0.868, 0.837, 0.80, 0.72),  # 300, 100: "~0.80", "~0.72 (band ±0.04)"
        "cpD-GAN": (0.843, 0.834, 0.830, 0.791, 0.774, 0.755, 0.746, 0.701),
        "prog-GAN": (0.760, 0.764, 0.750, 0.740, 0.728, 0.712, 0.683, 0.640),
    },
}
_APPROXIMATE = {("brain", "samples", "real", 300), ("brain", "samples", "real", 100)}
SERIES = ("real", "cpD-GAN", "prog-GAN")


def paper_values(modality: str | None = None, benchmark: str | None = None) -> pd.DataFrame:
    """The published mean AUROCs, tidy: modality, benchmark, setting, series (real, cpD-GAN, prog-GAN),
    auc, approximate (True where the figure gives only a rough value). Empty for the resolution benchmark."""
    rows = []
    for (mod, bench), table in _TABLES.items():
        if (modality is not None and mod != modality) or (benchmark is not None and bench != benchmark):
            continue
        for series in SERIES:
            for setting, auc in zip(table["setting"], table[series], strict=True):
                rows.append(
                    {
                        "modality": mod,
                        "benchmark": bench,
                        "setting": setting,
                        "series": series,
                        "auc": auc,
                        "approximate": (mod, bench, series, setting) in _APPROXIMATE,
                    }
                )
    return pd.DataFrame(rows, columns=["modality", "benchmark", "setting", "series", "auc", "approximate"])


def paper_as_results(modality: str | None = None, benchmark: str | None = None) -> pd.DataFrame:
    """The published values in the shape of a results table (one row per point and generator, seed 0):
    modality, benchmark, setting, generator, seed, auc_real, auc_synthetic, gap. Lets the claims be
    checked on the paper's own numbers with the same functions as on ours."""
    values = paper_values(modality, benchmark)
    if values.empty:
        return pd.DataFrame(
            columns=["modality", "benchmark", "setting", "generator", "seed", "auc_real", "auc_synthetic", "gap"]
        )
    wide = values.pivot_table(index=["modality", "benchmark", "setting"], columns="series", values="auc")
    rows = []
    for (mod, bench, setting), row in wide.iterrows():
        for generator in ("cpD-GAN", "prog-GAN"):
            rows.append(
                {
                    "modality": mod,
                    "benchmark": bench,
                    "setting": int(setting),
                    "generator": generator,
                    "seed": 0,
                    "auc_real": row["real"],
                    "auc_synthetic": row[generator],
                    "gap": row["real"] - row[generator],
                }
            )
    return pd.DataFrame(rows)
