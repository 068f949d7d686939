"""A machine reader: a small CNN trained to tell real from synthetic images, reported like a reader.

Readers at chance do not make synthetic images indistinguishable: a classifier may still separate
them, which matters for the privacy argument. The machine reader is the project's classifier with
one output, "synthetic", trained on images that the quiz does not use and tested on held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthmed import generators
from synthmed.classify.metrics import mean_auc
from synthmed.classify.models import ClassifierConfig
from synthmed.classify.train import predict, train_cached, train_classifier
from synthmed.experiments.point import SYNTHETIC_SEED_OFFSET, synthetic_seed
from synthmed.reader.study import binomial_p_value, clopper_pearson

if TYPE_CHECKING:
    from synthmed.experiments import PointRun


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
    cached: bool = False,
) -> dict[str, float]:
    """Train on (real_train, synthetic_train), test on the held-out pair; uint8 images (N, R, R).

    The decision threshold is the one that maximises accuracy on the validation split (a short run
    ranks well before its probabilities are calibrated). Returns the test images called correctly
    (`n_correct` of `n_test`), the accuracy with its Clopper-Pearson interval at the default alpha
    (`synthmed.reader.study.chance_tests` gives the interval and the decision at any alpha), the
    exact binomial p-value against chance, sensitivity (synthetic called synthetic), specificity and
    AUROC. `cached=True` reuses a finished training run with the same config and images
    (`synthmed.classify.train.train_cached`), so a rebuilt book retrains nothing.
    """
    rng = np.random.default_rng(seed)
    (train_x, train_y), (val_x, val_y) = _split(real_train, synthetic_train, val_fraction, rng)
    train = train_cached if cached else train_classifier
    model, history = train(train_x, train_y, val_x, val_y, config)
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
        "n_correct": correct,
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


# ---------------------------------------------------------------------------------------------
# The machine reader on a benchmark point of `synthmed.experiments.run_point`.

# run_point samples each synthetic split with the run's seed plus its own offset, so no two splits share
# latents; the test split's is the one a run without synthetic test images is completed with.
TEST_SEED_OFFSET = SYNTHETIC_SEED_OFFSET["test"]


@dataclass(frozen=True)
class ReaderImages:
    """One benchmark point's real and synthetic images, split so the machine reader and the quiz share none.

    Machine reader: trained on the real train split against the synthetic train split (one image
    per real train label vector, what the generator was trained and sampled for), tested on the real
    test split against images generated for the test split's label vectors. Quiz: the real
    validation split against the synthetic validation split. All uint8 (N, R, R).
    """

    modality: str
    resolution: int
    generator: str
    real_train: np.ndarray
    synthetic_train: np.ndarray
    real_test: np.ndarray
    synthetic_test: np.ndarray
    quiz_real: np.ndarray
    quiz_synthetic: np.ndarray


def point_images(run: PointRun, *, device: str = "auto") -> ReaderImages:
    """Split a `PointRun`'s images for the machine reader and the quiz (see `ReaderImages`).

    The synthetic test images are the run's synthetic test split (`run_point` samples it, one per
    real test label vector, with latents seeded by the run's seed + `TEST_SEED_OFFSET`); a run
    without one has it generated here the same way from the run's sampled checkpoint.
    """
    for split in ("train", "val", "test"):
        if split not in run.arrays:
            raise ValueError(f"run {run.row.get('modality')}/{run.row.get('setting')}: no real {split!r} split")
    for split in ("train", "val"):
        if len(run.synthetic[split]) != len(run.arrays[split][0]):
            raise ValueError(
                f"run {run.row.get('modality')}/{run.row.get('setting')}: {len(run.synthetic[split])} synthetic "
                f"{split} images for {len(run.arrays[split][0])} real ones; expected one per real label vector"
            )
    real_test, test_labels = run.arrays["test"]
    synthetic_test = run.synthetic.get("test")
    if synthetic_test is None:
        spec = generators.get(str(run.row["generator"]))
        synthetic_test = spec.sample(run.trained, test_labels, seed=synthetic_seed(run.row["seed"], "test"),
                                     device=device)
    elif len(synthetic_test) != len(real_test):
        raise ValueError(f"run {run.row.get('modality')}/{run.row.get('setting')}: {len(synthetic_test)} synthetic "
                         f"test images for {len(real_test)} real ones; expected one per real label vector")
    return ReaderImages(
        modality=str(run.row["modality"]),
        resolution=int(run.row["resolution"]),
        generator=str(run.row["generator"]),
        real_train=run.arrays["train"][0],
        synthetic_train=run.synthetic["train"],
        real_test=real_test,
        synthetic_test=synthetic_test,
        quiz_real=run.arrays["val"][0],
        quiz_synthetic=run.synthetic["val"],
    )


def machine_read(
    images: ReaderImages, config: ClassifierConfig, *, seed: int = 0, cached: bool = True
) -> dict[str, object]:
    """`machine_reader` on a point's held-out images (`point_images`): one result row.

    Keys: modality, resolution, generator, n_train (real + synthetic training images, validation
    included), then `machine_reader`'s results (n_test, n_correct, accuracy, accuracy_low/high, p_vs_chance, ...).
    """
    result = machine_reader(
        images.real_train,
        images.synthetic_train,
        images.real_test,
        images.synthetic_test,
        config,
        seed=seed,
        cached=cached,
    )
    return {
        "modality": images.modality,
        "resolution": images.resolution,
        "generator": images.generator,
        "n_train": len(images.real_train) + len(images.synthetic_train),
        **result,
    }
