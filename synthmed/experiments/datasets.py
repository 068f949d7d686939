"""The datasets a run reads: a modality's source (phantoms or the real download) and its paper index,
and the check that a `paper` run has the data, the GPU and the weights it needs, before any work."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from synthmed import profiles
from synthmed.config import DataConfig
from synthmed.data import benchmarks, labels_for, sources


@dataclass
class Source:
    """A modality's dataset as the experiments use it."""

    modality: str
    root: Path
    index: pd.DataFrame  # the paper index: one row per kept image, 0/1 label columns
    n_source_images: int  # rows of the source table before the paper's rules
    real_data: bool
    scale: float  # the profile's benchmark scale for this modality (synthmed.config.DataConfig)
    train_scale: float = 1.0  # the profile's training-set factor for this modality (DataConfig)


def load_source(modality: str, data: DataConfig, data_root: str | None = None) -> Source:
    """Locate or make the dataset, read it, and apply the paper's label rules."""
    root = sources.source_root(modality, data, data_root)
    raw = sources.read_raw_index(modality, root)
    index = sources.to_paper_index(modality, raw)
    return Source(modality, root, index, len(raw), bool(data_root), data.scale(modality), data.train_scale(modality))


class NotReady(RuntimeError):
    """A `paper` run asked of a machine that lacks what it needs (the datasets, a CUDA GPU, the weights)."""


def check_paper_ready(
    profile: str,
    data_root: str | None,
    device: str = "auto",
    modalities=("chest", "brain"),
    classifier_weights: str | None = None,
) -> None:
    """At profile `paper`, raise NotReady with one line naming what is missing, before any work.

    The paper profile runs on the real CheXpert and RSNA downloads (`data_root`; phantoms at paper
    scale would take days to write and prove nothing), on a CUDA GPU (a DenseNet-121 at 224 px and
    the paper-width GANs on a CPU would take months), and, with ImageNet classifier weights (its
    default), on torchvision's weights file, which this fetches into torchvision's cache (or says
    where to place it); likewise the FID Inception's weights (`synthmed.gan.inception`: early stopping's
    and the Inception fidelity panel's). Other profiles pass unchecked.
    """
    if not profiles.get(profile).needs_real_data:
        return
    if not data_root:
        raise NotReady("profile paper needs the real datasets: set data_root (params/paper.yaml or --data-root) to "
                       "the folder holding CheXpert-v1.0-small/ and stage_2_train.csv; phantoms run at profile cpu")
    for modality in modalities:
        sources.source_root(modality, profiles.get(profile).data, data_root)  # names the missing file
    import torch

    chosen = torch.device("cuda" if device == "auto" else device)
    if chosen.type != "cuda" or not torch.cuda.is_available():
        found = "no CUDA GPU is visible" if not torch.cuda.is_available() else f"device is {device!r}"
        raise NotReady(f"profile paper needs a CUDA GPU and {found}; use device auto or cuda on a GPU machine, "
                       "or profile cpu here")
    from synthmed.classify.models import IMAGENET, fetch_imagenet_weights

    if profiles.get(profile).classifier_config(weights=classifier_weights).weights == IMAGENET:
        fetch_imagenet_weights()
    if profiles.get(profile).fd_features == "inception" or profiles.get(profile).inception_panels:
        from synthmed.gan.inception import inception_extractor

        inception_extractor(device="cpu")  # loads (or downloads) it once; InceptionUnavailable names the file


def load_sources(profile: str, modalities, data_root: str | None = None, **overrides) -> dict[str, Source]:
    check_paper_ready(profile, data_root, modalities=tuple(modalities))
    data = profiles.get(profile).data_config(**overrides)
    return {m: load_source(m, data, data_root) for m in modalities}


def whole_split(source: Source) -> benchmarks.Subset:
    """The source's images in the paper's patient-level 80/10/10 split, outside any benchmark.

    With a training-set factor below 1 (`Source.train_scale`) train keeps that fraction of its rows,
    and val and test at most the resolution benchmark's ~4,000 each (times the data scale): random
    rows, seeded, in index order. Label columns with no positive in train are dropped, as the
    benchmarks do. Used to measure how hard a dataset is.
    """
    params = benchmarks.PAPER_PARAMS[source.modality]
    seed = params.split_seed
    train, val, test = benchmarks.patient_split(source.index, seed)
    if source.train_scale < 1:
        cap = params.scaled(source.scale).resolution_val_test
        train = train.sample(frac=source.train_scale, random_state=seed).sort_index()
        val, test = (part.sample(n=min(cap, len(part)), random_state=seed + 1).sort_index() for part in (val, test))
    labels = tuple(label for label in labels_for(source.modality) if train[label].any())
    return benchmarks.Subset(None, 1.0, train, val, test, labels, ())
