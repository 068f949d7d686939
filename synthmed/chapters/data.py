"""The data chapter: the datasets a profile builds or reads, examples of each, the paper's subset rules on them,
and how hard a real-trained classifier finds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthmed import paper_results, profiles
from synthmed.config import REAL_SOURCE_IMAGES
from synthmed.data import BRAIN_LABELS, CHEXPERT_LABELS, RSNA_SUBTYPES, benchmarks, chexpert, rsna
from synthmed.data.phantoms import chest as chest_phantoms
from synthmed.data.summary import example_per_label, label_frequencies, labels_of

DIFFICULTY_RESOLUTION = 32  # the classes and samples benchmarks' resolution
FORMATS = {"chest": "CheXpert-v1.0-small format", "brain": "RSNA stage 2 format"}
LABEL_ROWS = {
    "torchxrayvision": "CheXpert's real train.csv, as shipped by the torchxrayvision package",
    "synthetic": "a simple synthetic label model (torchxrayvision is not installed)",
}


@dataclass
class Datasets:
    """The chapter's datasets (`experiments.Source` per modality) and the CheXpert label table beside them."""

    profile: str
    seed: int
    sources: dict[str, object]  # modality -> experiments.Source
    label_table: pd.DataFrame  # CheXpert's label rows the chest phantoms draw from
    label_source: str  # "torchxrayvision" or "synthetic"
    phantoms: bool

    @property
    def chest(self):
        return self.sources.get("chest")

    @property
    def brain(self):
        return self.sources.get("brain")


def datasets(profile: str, seed: int, modality: str = "both", *, chest_patients: int | None = None,
             brain_patients: int | None = None, data_root: str = "", difficulty_check: bool = True,
             classifier_weights: str = "", precision: str = "") -> Datasets:
    """Build (or find) the datasets and, with `difficulty_check`, train their difficulty classifiers, both
    modalities at once in the profile's worker processes (`experiments.prepare_data`)."""
    from synthmed.experiments import load_source, prepare_data

    data = profiles.get(profile).data_config(seed=seed, chest_patients=chest_patients, brain_patients=brain_patients)
    modalities = ["chest", "brain"] if modality == "both" else [modality]
    prepare_data(modalities, data, data_root or None, profile, seed=seed,
                 difficulty_resolution=DIFFICULTY_RESOLUTION if difficulty_check else None,
                 classifier_weights=classifier_weights or None, precision=precision or None)
    sources = {m: load_source(m, data, data_root or None) for m in modalities}
    label_table, label_source = chest_phantoms.chexpert_label_table(data.chest_label_source)
    return Datasets(profile, seed, sources, label_table, label_source, not data_root)


def source_summary(found: Datasets) -> pd.DataFrame:
    """One row per dataset: where it comes from, its size and the profile's scale factors."""
    return pd.DataFrame(
        [
            {
                "dataset": f"{m} ({FORMATS[m]})",
                "source": "phantom" if found.phantoms else str(src.root),
                "patients": src.index["patient"].nunique(),
                "images in the source table": src.n_source_images,
                "images after the paper's rules": len(src.index),
                "fraction of the real dataset": src.n_source_images / REAL_SOURCE_IMAGES[m],
                "benchmark scale": src.scale,
                "training-set factor": src.train_scale,
            }
            for m, src in found.sources.items()
        ]
    ).set_index("dataset")


def scale_note(found: Datasets) -> str:
    return (
        f"The chest phantoms take their rows (patients, studies, views, sex, age and the 14 labels) from "
        f"**{LABEL_ROWS[found.label_source]}**. "
        f"Every per-class count and frequency threshold of the paper's benchmarks is multiplied by the "
        f"profile's benchmark scale (the dataset's size against the real one), so a small dataset keeps "
        f"the paper's structure. The training-set factor then shrinks only the training sets whose size "
        f"is not a benchmark's axis (the classes benchmark's per-class counts and the resolution "
        f"benchmark's training split); test and validation splits and the samples benchmark's "
        f"per-class counts are never shrunk by it. The real datasets have {REAL_SOURCE_IMAGES['chest']:,} "
        f"chest and {REAL_SOURCE_IMAGES['brain']:,} brain images."
    )


def chest_examples(found: Datasets, size: int = 256) -> tuple[list[np.ndarray], list[str]]:
    """One chest image per finding, with how many labels it carries."""
    examples = example_per_label(found.chest.index, CHEXPERT_LABELS, seed=found.seed)
    images = [chexpert.load_image(row["path"], size) for row in examples.values()]
    titles = [f"{label}\n({labels_of(row, CHEXPERT_LABELS).count(',') + 1} labels)" for label, row in examples.items()]
    return images, titles


def chest_stacks(found: Datasets, per_label: int = 5, size: int = 256) -> dict[str, np.ndarray]:
    """Finding -> up to `per_label` chest images with it (uint8 (K, size, size)), for the resolution browser."""
    stacks = {}
    for label in CHEXPERT_LABELS:
        rows = found.chest.index[found.chest.index[label] == 1].head(per_label)
        stacks[label] = np.stack([chexpert.load_image(p, size) for p in rows["path"]]) if len(rows) else np.empty((0,))
    return stacks


def brain_windows(found: Datasets) -> tuple[list[np.ndarray], list[str], tuple[int, int]]:
    """One brain slice per finding in the brain, subdural and bone windows; and the slice matrix's shape."""
    images, titles, shape = [], [], (0, 0)
    for label, row in example_per_label(found.brain.index, BRAIN_LABELS, seed=found.seed).items():
        hu = rsna.load_hu(row["path"])
        shape = hu.shape
        for name in ("brain", "subdural", "bone"):
            images.append((rsna.window(hu, *rsna.WINDOWS[name]) * 255).astype(np.uint8))
            titles.append(f"{label}\n{name} window")
    return images, titles, shape


def brain_patient(found: Datasets, size: int = 128) -> tuple[list[np.ndarray], list[str]]:
    """Every slice of one patient (the first with a haemorrhage, if any), in order along z, with its labels."""
    index = found.brain.index
    positive = index[index[RSNA_SUBTYPES].sum(axis=1) > 0]
    patient = positive["patient"].iloc[0] if len(positive) else index["patient"].iloc[0]
    slices = index[index["patient"] == patient].sort_values("z")
    titles = [f"z={z:.0f} mm\n{labels_of(r, RSNA_SUBTYPES)}" for z, (_, r) in zip(slices["z"], slices.iterrows(),
                                                                                   strict=True)]
    return [rsna.load_image(p, size) for p in slices["path"]], titles


def combination_counts(found: Datasets) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, float]]:
    """The paper's frontal CheXpert table, the sorted counts of its label combinations (and the chest
    phantoms'), and the paper's two count thresholds on the full table."""
    full_chest = chexpert.paper_index(found.label_table)
    counts = {
        f"CheXpert labels, all {len(full_chest):,} frontal images ({found.label_source})":
            benchmarks.combination_counts(full_chest, CHEXPERT_LABELS)["count"].to_numpy(),
    }
    if found.chest is not None:
        counts[f"chest phantoms ({len(found.chest.index):,} images)"] = benchmarks.combination_counts(
            found.chest.index, CHEXPERT_LABELS
        )["count"].to_numpy()
    params = benchmarks.PAPER_PARAMS["chest"]
    thresholds = {"> 256 (full table)": params.frequency_threshold, "> 7,400 (full table)": params.samples_threshold}
    return full_chest, counts, thresholds


def label_frequency_tables(found: Datasets, full_chest: pd.DataFrame) -> list[pd.DataFrame]:
    """Label frequencies: CheXpert's table beside the chest phantoms, then the brain phantoms."""
    chest_sets = {"CheXpert labels": full_chest} | ({"chest phantoms": found.chest.index} if found.chest else {})
    tables = [label_frequencies(chest_sets, CHEXPERT_LABELS)]
    if found.brain is not None:
        tables.append(label_frequencies({"brain phantoms": found.brain.index}, BRAIN_LABELS))
    return tables


def benchmark_tables(found: Datasets, full_chest: pd.DataFrame) -> pd.DataFrame:
    """Every benchmark's subsets by the paper's rules: on CheXpert's full label table (scale 1), and on this
    profile's datasets at their scale."""
    paper_table = benchmarks.benchmark_table(full_chest, "chest", scale=1.0)
    paper_table.insert(0, "data", f"CheXpert label table ({found.label_source})")
    ours = [
        benchmarks.benchmark_table(src.index, src.modality, scale=src.scale, train_scale=src.train_scale).assign(
            data=f"{src.modality} {'phantoms' if found.phantoms else 'data'} (scale {src.scale}, "
            f"training-set factor {src.train_scale})"
        )
        for src in found.sources.values()
    ]
    table = pd.concat([paper_table, *ours], ignore_index=True)
    return table.set_index(["data", "benchmark", "setting"]).drop(columns="modality")


def difficulty(found: Datasets, *, classifier_weights: str = "", precision: str = "") -> dict[str, tuple]:
    """Modality -> (per-label evaluation, training history) of a classifier trained on the whole real training
    split at `DIFFICULTY_RESOLUTION` (cached; `datasets` trained it)."""
    from synthmed.experiments import real_baseline, whole_split

    return {
        src.modality: real_baseline(src, whole_split(src), DIFFICULTY_RESOLUTION, found.profile, seed=found.seed,
                                    classifier_weights=classifier_weights or None, precision=precision or None)
        for src in found.sources.values()
    }


def difficulty_note(evaluations: dict[str, pd.DataFrame], profile: str) -> str:
    """The real-trained classifiers' mean AUROC beside the paper's range."""
    means = {m: float(t.loc[t["label"] == "mean", "auc"].iloc[0]) for m, t in evaluations.items()}
    published = paper_results.paper_values()
    paper_real = published.loc[published["series"] == "real", "auc"]
    return (
        "Mean AUROC of the real-trained classifier: "
        + ", ".join(f"{m} **{v:.3f}**" for m, v in means.items())
        + f" (profile `{profile}`). The paper's real-data classifiers reached "
        f"{paper_real.min():.2f}-{paper_real.max():.2f} in its classes and samples benchmarks "
        f"({paper_results.SOURCE})."
    )
