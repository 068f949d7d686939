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
from IPython.display import Markdown, display

from synthmed import plots, widgets
from synthmed.chapters import data as chapter

logging.basicConfig(level=logging.WARNING)
plots.style()
# Build the datasets and train the difficulty classifiers, both modalities at once (cpu: two processes).
found = chapter.datasets(profile, seed, modality, chest_patients=chest_patients, brain_patients=brain_patients,
                         data_root=data_root, difficulty_check=difficulty_check,
                         classifier_weights=classifier_weights, precision=precision)

# %% [markdown]
# ## What was built

# %%
display(
    chapter.source_summary(found).style.format(
        {"benchmark scale": "{:.3f}", "training-set factor": "{:.2f}", "fraction of the real dataset": "{:.4f}"}
    )
)
display(Markdown(chapter.scale_note(found)))

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
if found.chest is not None:
    plt.show(plots.image_grid(*chapter.chest_examples(found), ncols=7))

# %% [markdown]
# Some signs are small on purpose, so that resolution matters: the explorer shows a film at the
# paper's resolutions 256, 64 and 32. Pick a finding and an example: every choice was drawn when
# the book was built, so the explorer works on the static page too.

# %%
stacks = chapter.chest_stacks(found) if found.chest is not None else {}
browser = widgets.resolution_browser(stacks, (256, 64, 32)) if stacks else None

# %% tags=["widget"]
if browser is not None:
    display(browser)

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
if found.brain is not None:
    images, titles, shape = chapter.brain_windows(found)
    print(f"slice matrix: {shape[0]}x{shape[1]} pixels")
    plt.show(plots.image_grid(images, titles, ncols=6, size=1.9))

# %% [markdown]
# One patient's consecutive slices (brain window). The patient id lives only in the DICOM
# headers, as in the real data, and bleeding spans neighbouring slices.

# %%
if found.brain is not None:
    plt.show(plots.image_grid(*chapter.brain_patient(found), ncols=8, size=1.5))

# %% [markdown]
# ## Labels: how often, and in which combinations
#
# The paper's unit of "class" is a label combination, and its benchmarks keep only frequent ones.
# The frequency of combinations has a long tail; the dashed lines are the paper's thresholds
# (more than 256 images for the chest resolution benchmark, more than 7,400 for the samples
# benchmark), scaled to each set's size.

# %%
full_chest, counts, thresholds = chapter.combination_counts(found)
plt.show(plots.combination_curve(counts, thresholds))

# %%
for frequencies in chapter.label_frequency_tables(found, full_chest):
    plt.show(plots.label_frequency(frequencies))

# %% [markdown]
# ## The benchmark subsets as built
#
# Every benchmark point of the paper, built by `synthmed.data.benchmarks` with the paper's
# numbers and seeds: first at paper scale on CheXpert's full label table (the sizes a researcher
# gets from the real download), then on the phantom sets at their scale.

# %%
display(chapter.benchmark_tables(found, full_chest))

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
    difficulty = chapter.difficulty(found, classifier_weights=classifier_weights, precision=precision)
    for name, (evaluation, history) in difficulty.items():
        display(Markdown(f"**{name}**, {len(history.epochs)} epochs"))
        display(evaluation[["label", "n_pos", "auc", "ci_low", "ci_high"]].round(3))

# %%
if difficulty_check:
    display(Markdown(chapter.difficulty_note({m: e for m, (e, _) in difficulty.items()}, profile)))
