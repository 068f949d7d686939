# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["remove-cell", "install"]
# Opened in Colab, Binder or a Jupyter without synthmed, this cell installs it (with CPU torch where torch is
# missing); where synthmed is installed (make book, papermill, the tests) it does nothing. The notebooks that the
# book's launch buttons open run at the tiny profile (next code cell), sized for a free session.
try:
    import synthmed  # noqa: F401
except ImportError:
    import pathlib
    import sys

    _repo = pathlib.Path.cwd().parent  # a clone (Binder, JupyterHub) installs itself, anywhere else from GitHub
    _source = _repo.as_uri() if (_repo / "synthmed" / "__init__.py").is_file() else "git+REPOSITORY@REF"
    # %pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu "synthmed[labels] @ {_source}"
    if "google.colab" in sys.modules:  # Colab shows ipywidgets 8 through its custom widget manager only
        from google.colab import output

        output.enable_custom_widget_manager()

# %% [markdown]
# # The data
#
# The paper trains on two public datasets: chest radiographs from CheXpert-v1.0-small and brain CT
# slices from the RSNA Intracranial Hemorrhage Detection challenge. Neither can be downloaded
# without registering, so by default this chapter *makes* both, as phantom datasets written in the
# two datasets' exact public formats, and then reads them back through the same readers a
# researcher points at the real downloads (set `data_root` below). Everything after this chapter
# starts from the index these readers build.

# %% tags=["parameters"]
profile = "cpu"  # tiny, cpu or paper: sizes of the phantom sets and of the classifier check
seed = 0  # phantom content
data_root = ""  # empty: phantoms; else a folder with CheXpert-v1.0-small/ and stage_2_train.csv
classifier_weights = ""  # imagenet, none or a densenet121 state dict's path; empty: the profile's (paper: imagenet)
precision = ""  # fp32 or bf16 (GAN and classifier training); empty: the profile's (fp32)
modality = "both"  # "chest", "brain" or "both"
chest_patients = None  # None: the profile's size
brain_patients = None
difficulty_check = True  # train a classifier on real (phantom) images to measure how hard they are

# %%
import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from synthmed import paper_results, plots, profiles, widgets
from synthmed.config import REAL_SOURCE_IMAGES
from synthmed.data import BRAIN_LABELS, CHEXPERT_LABELS, RSNA_SUBTYPES, benchmarks, chexpert, rsna
from synthmed.data.phantoms import chest as chest_phantoms
from synthmed.data.summary import example_per_label, label_frequencies, labels_of
from synthmed.experiments import load_source, prepare_data, real_baseline, whole_split

logging.basicConfig(level=logging.WARNING)
plots.style()
data = profiles.get(profile).data_config(seed=seed, chest_patients=chest_patients, brain_patients=brain_patients)
modalities = ["chest", "brain"] if modality == "both" else [modality]
DIFFICULTY_RESOLUTION = 32  # the classes and samples benchmarks' resolution
# Build the datasets and train the difficulty classifiers, both modalities at once (cpu: two processes).
prepare_data(
    modalities,
    data,
    data_root or None,
    profile,
    seed=seed,
    difficulty_resolution=DIFFICULTY_RESOLUTION if difficulty_check else None,
    classifier_weights=classifier_weights or None, precision=precision or None,
)
sources = {m: load_source(m, data, data_root or None) for m in modalities}
label_table, label_source = chest_phantoms.chexpert_label_table(data.chest_label_source)
using_phantoms = not data_root

# %% [markdown]
# ## What was built

# %%
formats = {"chest": "CheXpert-v1.0-small format", "brain": "RSNA stage 2 format"}
summary = pd.DataFrame(
    [
        {
            "dataset": f"{m} ({formats[m]})",
            "source": "phantom" if using_phantoms else str(src.root),
            "patients": src.index["patient"].nunique(),
            "images in the source table": src.n_source_images,
            "images after the paper's rules": len(src.index),
            "fraction of the real dataset": src.n_source_images / REAL_SOURCE_IMAGES[m],
            "benchmark scale": src.scale,
            "training-set factor": src.train_scale,
        }
        for m, src in sources.items()
    ]
).set_index("dataset")
display(
    summary.style.format(
        {"benchmark scale": "{:.3f}", "training-set factor": "{:.2f}", "fraction of the real dataset": "{:.4f}"}
    )
)
rows_from = {
    "torchxrayvision": "CheXpert's real train.csv, as shipped by the torchxrayvision package",
    "synthetic": "a simple synthetic label model (torchxrayvision is not installed)",
}[label_source]
display(
    Markdown(
        f"The chest phantoms take their rows (patients, studies, views, sex, age and the 14 labels) from "
        f"**{rows_from}**. "
        f"Every per-class count and frequency threshold of the paper's benchmarks is multiplied by the "
        f"profile's benchmark scale (the dataset's size against the real one), so a small dataset keeps "
        f"the paper's structure. The training-set factor then shrinks only the training sets whose size "
        f"is not a benchmark's axis (the classes benchmark's per-class counts and the resolution "
        f"benchmark's training split); test and validation splits and the samples benchmark's "
        f"per-class counts are never shrunk by it. The real datasets have {REAL_SOURCE_IMAGES['chest']:,} "
        f"chest and {REAL_SOURCE_IMAGES['brain']:,} brain images."
    )
)

# %% [markdown]
# ## Chest films, one per finding
#
# Each phantom film is rendered from its row's labels: a body outline and soft tissue, two lung
# fields with vessel texture, heart and mediastinum, ribs, clavicles, spine and diaphragm domes,
# varied per patient in size, position, rotation, exposure and noise. Each finding has its own
# sign, strong or subtle by a severity draw: a wide mediastinum, a large heart, haze and
# opacities, nodules and masses, a pleural line, a blunted costophrenic angle, thickening, a rib
# break, tubes and lines. Below, for each label, the film in the set with the fewest other
# findings, as the paper's preprocessing stores it (256x256, squashed, scaled to its maximum).

# %%
chest = sources.get("chest")
brain = sources.get("brain")
if chest is not None:
    chest_examples = example_per_label(chest.index, CHEXPERT_LABELS, seed=seed)
    fig = plots.image_grid(
        [chexpert.load_image(row["path"], 256) for row in chest_examples.values()],
        [
            f"{label}\n({labels_of(row, CHEXPERT_LABELS).count(',') + 1} labels)"
            for label, row in chest_examples.items()
        ],
        ncols=7,
    )
    plt.show(fig)

# %% [markdown]
# Some signs are small on purpose, so that resolution matters: the explorer shows a film at the
# paper's resolutions 256, 64 and 32. In a live notebook, pick a finding and an example; in the
# static book the first one is shown.

# %%
stacks = {}
for label in CHEXPERT_LABELS if chest is not None else []:
    rows = chest.index[chest.index[label] == 1].head(5)
    stacks[label] = np.stack([chexpert.load_image(p, 256) for p in rows["path"]]) if len(rows) else np.empty((0,))

# %% tags=["widget"]
if stacks:
    display(widgets.resolution_browser(stacks, (256, 64, 32)))

# %% [markdown]
# ## Brain CT slices, one per haemorrhage type
#
# Each phantom slice is a CT image in Hounsfield units, written as a DICOM file with the
# headers the real data carries (rescale slope and intercept, window, pixel spacing, patient,
# study and series identifiers, slice position). Air, skull, grey and white matter, ventricles
# and sulci vary from slice to slice through the head. Each haemorrhage type has its own shape
# and place at blood density: epidural (a lens against the skull), subdural (a crescent along
# it), subarachnoid (thin, in sulci and cisterns), intraparenchymal (a blob with a darker rim),
# intraventricular (inside the ventricles). The paper's code does not say how it windowed the
# slices; we use the brain window (centre 40, width 80) and show the subdural and bone windows
# beside it. RSNA's slices are 512x512; the `cpu` and `tiny` profiles write smaller matrices over
# the same field of view (`DataConfig.brain_matrix`, printed below), since the paper's pipeline
# averages every slice down to 128x128 anyway and a 512x512 file costs 16 times the disk.

# %%
brain_examples = example_per_label(brain.index, BRAIN_LABELS, seed=seed) if brain is not None else {}
images, titles = [], []
for label, row in brain_examples.items():
    hu = rsna.load_hu(row["path"])
    if not images:
        print(f"slice matrix: {hu.shape[0]}x{hu.shape[1]} pixels")
    for name in ("brain", "subdural", "bone"):
        images.append((rsna.window(hu, *rsna.WINDOWS[name]) * 255).astype(np.uint8))
        titles.append(f"{label}\n{name} window")
if images:
    plt.show(plots.image_grid(images, titles, ncols=6, size=1.9))

# %% [markdown]
# One patient's consecutive slices (brain window). The patient id lives only in the DICOM
# headers, as in the real data, and bleeding spans neighbouring slices.

# %%
if brain is not None:
    positive = brain.index[brain.index[RSNA_SUBTYPES].sum(axis=1) > 0]
    patient = positive["patient"].iloc[0] if len(positive) else brain.index["patient"].iloc[0]
    raw_brain = brain.index[brain.index["patient"] == patient].sort_values("z")
    plt.show(
        plots.image_grid(
            [rsna.load_image(p, 128) for p in raw_brain["path"]],
            [
                f"z={z:.0f} mm\n{labels_of(r, RSNA_SUBTYPES)}"
                for z, (_, r) in zip(raw_brain["z"], raw_brain.iterrows(), strict=True)
            ],
            ncols=8,
            size=1.5,
        )
    )

# %% [markdown]
# ## Labels: how often, and in which combinations
#
# The paper's unit of "class" is a label combination, and its benchmarks keep only frequent ones.
# The frequency of combinations has a long tail; the dashed lines are the paper's thresholds
# (more than 256 images for the chest resolution benchmark, more than 7,400 for the samples
# benchmark), scaled to each set's size.

# %%
full_chest = chexpert.paper_index(label_table)
counts = {
    f"CheXpert labels, all {len(full_chest):,} frontal images ({label_source})": benchmarks.combination_counts(
        full_chest, CHEXPERT_LABELS
    )["count"].to_numpy(),
}
if chest is not None:
    counts[f"chest phantoms ({len(chest.index):,} images)"] = benchmarks.combination_counts(
        chest.index, CHEXPERT_LABELS
    )["count"].to_numpy()
chest_params = benchmarks.PAPER_PARAMS["chest"]
plt.show(
    plots.combination_curve(
        counts,
        {
            "> 256 (full table)": chest_params.frequency_threshold,
            "> 7,400 (full table)": chest_params.samples_threshold,
        },
    )
)

# %%
chest_sets = {"CheXpert labels": full_chest} | ({"chest phantoms": chest.index} if chest is not None else {})
plt.show(plots.label_frequency(label_frequencies(chest_sets, CHEXPERT_LABELS)))
if brain is not None:
    plt.show(plots.label_frequency(label_frequencies({"brain phantoms": brain.index}, BRAIN_LABELS)))

# %% [markdown]
# ## The benchmark subsets as built
#
# Every benchmark point of the paper, built by `synthmed.data.benchmarks` with the paper's
# numbers and seeds: first at paper scale on CheXpert's full label table (the sizes a researcher
# gets from the real download), then on the phantom sets at their scale.

# %%
paper_table = benchmarks.benchmark_table(full_chest, "chest", scale=1.0)
paper_table.insert(0, "data", f"CheXpert label table ({label_source})")
phantom_tables = [
    benchmarks.benchmark_table(src.index, src.modality, scale=src.scale, train_scale=src.train_scale).assign(
        data=f"{src.modality} {'phantoms' if using_phantoms else 'data'} (scale {src.scale}, "
        f"training-set factor {src.train_scale})"
    )
    for src in sources.values()
]
table = pd.concat([paper_table, *phantom_tables], ignore_index=True)
display(table.set_index(["data", "benchmark", "setting"]).drop(columns="modality"))

# %% [markdown]
# ## How hard are the phantoms?
#
# Phantoms with only easy signs would make every classifier perfect and every comparison
# meaningless. We train the profile's classifier on the paper's patient-level training split
# (80% of patients, every frontal image, or a random fraction of them where the profile's
# training-set factor is below 1) at 32x32, the resolution of the classes and samples
# benchmarks, and test it on the held-out 10% of patients (at most about 4,000 of their images
# where the factor is below 1, as the resolution benchmark takes).

# %%
if difficulty_check:
    difficulty = {}
    for src in sources.values():
        evaluation, history = real_baseline(
            src, whole_split(src), DIFFICULTY_RESOLUTION, profile, seed=seed,
            classifier_weights=classifier_weights or None, precision=precision or None,
        )
        difficulty[src.modality] = evaluation
        display(Markdown(f"**{src.modality}**, {len(history.epochs)} epochs"))
        display(evaluation[["label", "n_pos", "auc", "ci_low", "ci_high"]].round(3))

# %%
if difficulty_check:
    means = {m: float(t.loc[t["label"] == "mean", "auc"].iloc[0]) for m, t in difficulty.items()}
    published = paper_results.paper_values()
    paper_real = published.loc[published["series"] == "real", "auc"]
    display(
        Markdown(
            "Mean AUROC of the real-trained classifier: "
            + ", ".join(f"{m} **{v:.3f}**" for m, v in means.items())
            + f" (profile `{profile}`). The paper's real-data classifiers reached "
            f"{paper_real.min():.2f}-{paper_real.max():.2f} in its classes and samples benchmarks "
            f"({paper_results.SOURCE})."
        )
    )
