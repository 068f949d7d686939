"""A machine reader: a small CNN trained to tell real from synthetic images, reported like a reader.

Readers at chance do not make synthetic images indistinguishable: a classifier may still separate
them, which matters for the privacy argument. The machine reader is the project's classifier with
one output, "synthetic", trained on images that the quiz does not use and tested on held-out ones.
"""

from __future__ import annotations

import numpy as np

from synthmed.classify.metrics import mean_auc
from synthmed.classify.models import ClassifierConfig
from synthmed.classify.train import predict, train_classifier
from synthmed.reader.study import binomial_p_value, clopper_pearson


def _split(real: np.ndarray, synthetic: np.ndarray, fraction: float, rng: np.random.Generator):
    images = np.concatenate([real, synthetic])
    labels = np.concatenate([np.zeros(len(real)), np.ones(len(synthetic))]).astype(np.float32)[:, None]
    order = rng.permutation(len(images))
    cut = int(round(len(images) * (1 - fraction)))
    return (images[order[:cut]], labels[order[:cut]]), (images[order[cut:]], labels[order[cut:]])


def _best_threshold(scores: np.ndarray, is_synthetic: np.ndarray) -> float:
    """The score cut that classifies the validation images best (midway between neighbouring scores)."""
    order = np.sort(np.unique(scores))
    cuts = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    accuracy = [np.mean((scores >= c) == is_synthetic) for c in cuts]
    return float(cuts[int(np.argmax(accuracy))])


def machine_reader(
    real_train: np.ndarray,
    synthetic_train: np.ndarray,
    real_test: np.ndarray,
    synthetic_test: np.ndarray,
    config: ClassifierConfig,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
) -> dict[str, float]:
    """Train on (real_train, synthetic_train), test on the held-out pair; uint8 images (N, R, R).

    The decision threshold is the one that maximises accuracy on the validation split (a short run
    ranks well before its probabilities are calibrated). Returns test accuracy with its
    Clopper-Pearson interval and the exact binomial p-value against chance, sensitivity (synthetic
    called synthetic), specificity and AUROC.
    """
    rng = np.random.default_rng(seed)
    (train_x, train_y), (val_x, val_y) = _split(real_train, synthetic_train, val_fraction, rng)
    model, history = train_classifier(train_x, train_y, val_x, val_y, config)
    test_x = np.concatenate([real_test, synthetic_test])
    truth = np.concatenate([np.zeros(len(real_test)), np.ones(len(synthetic_test))]).astype(int)
    threshold = _best_threshold(predict(model, val_x)[:, 0], val_y[:, 0].astype(bool))
    scores = predict(model, test_x)[:, 0]
    called = scores >= threshold
    correct = int(np.sum(called == truth.astype(bool)))
    n = len(truth)
    low, high = clopper_pearson(correct, n)
    return {
        "n_test": n,
        "accuracy": correct / n,
        "accuracy_low": low,
        "accuracy_high": high,
        "p_vs_chance": binomial_p_value(correct, n),
        "sensitivity": float(np.mean(called[truth == 1])),
        "specificity": float(np.mean(~called[truth == 0])),
        "auc": mean_auc(truth[:, None], scores[:, None], ["synthetic"]),
        "threshold": threshold,
        "epochs": len(history.epochs),
    }
