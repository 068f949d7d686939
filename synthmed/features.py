"""Fréchet-distance feature extractors built on synthmed classifiers.

``synthmed.gan`` knows nothing of classifiers: its training loop takes any callable
``extract(images uint8 (N, R, R)) -> (N, D) float`` (``synthmed.gan.frechet.FeatureExtractor``).
This module, above both ``gan`` and ``classify``, holds the classifier-based ones the experiments
pass in: the point's real-trained classifier (:func:`real_classifier_features`, the CPU profiles'
stopping distance and the paper profile's monitor) and a compact in-domain classifier trained for
the purpose (:func:`domain_feature_extractor`). Both are one :class:`ClassifierFeatures`.

Heavy imports (torch, the classifiers) happen inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class ClassifierFeatures:
    """Global-pool features of a trained synthmed classifier (``synthmed.classify.train.extract_features``).

    ``name`` identifies the feature space in GAN logs and cache keys; ``batch_size`` only groups the
    forward passes.
    """

    model: Any  # a synthmed.classify model
    name: str
    batch_size: int = 128

    def __call__(self, images: np.ndarray) -> np.ndarray:
        from synthmed.classify.train import extract_features
        from synthmed.gan.frechet import _check_images

        return extract_features(self.model, _check_images(images), self.batch_size)


def real_classifier_features(model: Any, key: str) -> ClassifierFeatures:
    """The point's real-trained classifier (cache key ``key``) as the Fréchet-distance extractor.

    The paper used Inception features (the paper profile does too, ``experiments.fd_setup``); at the
    CPU profiles the distance is computed in an in-domain feature space: the point's own real-trained
    classifier, trained on the same real training split the GAN learns from. At paper it is logged
    beside FID.
    """
    return ClassifierFeatures(model, name=f"real-classifier-{key}")


def domain_feature_extractor(
    train_images: np.ndarray,  # uint8 (N, R, R): the GAN's real training split
    train_labels: np.ndarray,  # 0/1 (N, L), its label vectors
    resolution: int,  # R, checked against the images
    cache_dir: str | Path | None = None,  # Classifier cache; None = synthmed.config.home() / "fd_extractors"
    seed: int = 0,  # Classifier initialisation, shuffling and the held-out split
    *,
    config: object | None = None,  # A synthmed.classify.models.ClassifierConfig; None = the cpu profile's CNN
    val_fraction: float = 0.1,  # Share of the training split held out to early-stop the classifier
    device: str = "auto",
    progress: bool = False,
) -> ClassifierFeatures:
    """A stand-in for Inception: a compact CNN trained on the real training split, cached, giving features.

    Trained once per dataset and resolution (the cache key covers the images, labels and settings)
    with synthmed.classify's schedule; a seeded ``val_fraction`` of the split (at most 2,000
    images) is held out for its early stopping. Returns an extractor whose features (N, D) are the
    classifier's global-pool activations (D = 64 at 16 px, 128 at 32 px and above for width 16).
    """
    from synthmed import config as settings
    from synthmed.classify.models import ClassifierConfig
    from synthmed.classify.train import cache_key, train_cached
    from synthmed.gan.frechet import _check_images

    images = _check_images(train_images)
    labels = np.asarray(train_labels)
    if images.shape[1] != resolution:
        raise ValueError(f"domain_feature_extractor: expected {resolution}x{resolution} images, "
                         f"got {images.shape[1]}x{images.shape[2]}")
    if labels.ndim != 2 or labels.shape[0] != len(images):
        raise ValueError(f"domain_feature_extractor: expected labels ({len(images)}, L), "
                         f"got shape {labels.shape}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    classifier_config = config if config is not None else ClassifierConfig.cpu()
    if not isinstance(classifier_config, ClassifierConfig):
        raise ValueError(f"config: expected a ClassifierConfig, got {type(classifier_config).__name__}")
    classifier_config = dataclasses.replace(classifier_config, seed=seed, device=device)

    order = np.random.default_rng(seed).permutation(len(images))
    n_val = min(2000, max(2, round(val_fraction * len(images))))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 2:
        raise ValueError(f"domain_feature_extractor: {len(images)} images are too few to train a classifier")
    val_labels = labels[val]
    if not ((val_labels.min(axis=0) == 0) & (val_labels.max(axis=0) == 1)).any():
        raise ValueError(f"domain_feature_extractor: the {n_val} held-out images have no label with both "
                         "classes present, so the classifier cannot be early-stopped; pass more images")
    root = Path(cache_dir) if cache_dir is not None else settings.home() / "fd_extractors"
    key = cache_key(classifier_config, images[train], labels[train], images[val], val_labels)
    model, history = train_cached(images[train], labels[train], images[val], val_labels, classifier_config,
                                  cache_dir=root, progress=progress)
    log.info("Fréchet feature extractor %s: classifier val AUROC %.3f%s", key, history.best_val_auc,
             " (cached)" if history.from_cache else "")
    return ClassifierFeatures(model, name=f"domain-{classifier_config.arch}-{key}", batch_size=256)
