"""The fidelity and privacy panels of one benchmark point and generator: the result row's columns beyond
the utility gap (`RESULT_COLUMNS`, from `fd_synthetic` on), computed by `run_point` and cached.

All in one feature space: the point's real-trained classifier's pooled features (the space the CPU
profiles' early stopping measures its Fréchet distance in; `synthmed.classify.train.extract_features`).
At the paper profile that is DenseNet-121's; Inception features are not added here.

- Fidelity (`synthmed.analysis.fidelity`): the synthetic training split against the real training split it
  was drawn for: Fréchet distance, KID and its SD over subsets, precision, recall, density, coverage.
- Privacy (`synthmed.analysis.privacy`): GAN-Leaks' black-box attack with the whole synthetic training split
  as the released set, members = the real training split (the generator's training data), non-members =
  the real test split (never seen by the generator nor the classifiers); AUROC with its bootstrap interval
  and TPR at 1% FPR. `mia_auc_control` runs the same attack with the real validation split in place of the
  synthetic set: fresh real images that leak nothing, so it shows what "chance" is in this feature space
  (the classifier whose features we use trained on the members, which could by itself make them findable).
- The memorisation statistic of the memorisation chapter (`synthmed.analysis.neighbours.memorisation`):
  the share of synthetic test images closer to a training image than 5% of the real test images are.

Cost: every set is subsampled to the profile's `fd_images` (tiny 256, cpu 2,000, paper 10,000; a seeded
draw) before its metric, except the nearest-neighbour references: the attack's, the whole synthetic training
split, and the memorisation statistic's, the whole real training split (a search is cheap; a subsampled
reference would hide copies of the images left out). The panels are
cached by a digest of every image array they read and their settings (home()/panels/).
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np

from synthmed import cache
from synthmed.config import home, stable_hash

log = logging.getLogger(__name__)

PANEL_VERSION = 1  # bump when a panel's definition changes: the cached panels are recomputed
MEMORISATION_PERCENTILE = 5.0  # the memorisation chapter's default threshold

# The panel columns, in the order the result row holds them (all float64 but the image counts).
PANEL_COLUMNS: dict[str, str] = {
    "fd_synthetic": "float64",  # Fréchet distance, synthetic train split vs real train split
    "kid": "float64",
    "kid_std": "float64",
    "precision": "float64",
    "recall": "float64",
    "density": "float64",
    "coverage": "float64",
    "fidelity_images": "int64",  # images per set in the fidelity panel (after the cap)
    "mia_auc": "float64",
    "mia_auc_low": "float64",
    "mia_auc_high": "float64",
    "mia_tpr_at_1fpr": "float64",
    "mia_auc_control": "float64",  # the attack with real validation images as the "synthetic" set
    "mia_images": "int64",  # members scored (as many non-members)
    "memorised_fraction": "float64",  # synthetic test images below the 5th percentile of test-to-train distances
    "memorised_ratio": "float64",  # median synthetic-to-train over median test-to-train distance
}


def _digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def compute_panels(features: dict[str, np.ndarray], *, cap: int, n_boot: int, seed: int) -> dict:
    """The panel columns from features (N, D) of the "train", "val" and "test" real splits and the
    "synthetic_train" and "synthetic_test" splits (`PANEL_COLUMNS`)."""
    from synthmed.analysis.fidelity import fidelity_panel, subsample
    from synthmed.analysis.neighbours import memorisation
    from synthmed.analysis.privacy import membership_attack

    fidelity = fidelity_panel(features["train"], features["synthetic_train"], cap=cap, seed=seed)
    attack = membership_attack(features["train"], features["test"], features["synthetic_train"], cap=cap,
                               n_boot=n_boot, seed=seed)
    control = membership_attack(features["train"], features["test"], features["val"], cap=cap, n_boot=0,
                                seed=seed)
    remembered = memorisation(features["synthetic_test"][subsample(len(features["synthetic_test"]), cap, seed)],
                              features["test"][subsample(len(features["test"]), cap, seed)], features["train"],
                              MEMORISATION_PERCENTILE)
    return {
        "fd_synthetic": fidelity.fd, "kid": fidelity.kid, "kid_std": fidelity.kid_std,
        "precision": fidelity.precision, "recall": fidelity.recall, "density": fidelity.density,
        "coverage": fidelity.coverage, "fidelity_images": min(fidelity.n_real, fidelity.n_fake),
        "mia_auc": attack.auc, "mia_auc_low": attack.auc_low, "mia_auc_high": attack.auc_high,
        "mia_tpr_at_1fpr": attack.tpr_at_low_fpr, "mia_auc_control": control.auc, "mia_images": attack.n_members,
        "memorised_fraction": remembered.fraction_below, "memorised_ratio": remembered.median_ratio,
    }


def point_panels(real_model, arrays: dict, synthetic: dict, *, cap: int, n_boot: int, seed: int,
                 feature_space: str) -> dict:
    """`compute_panels` on one point's real splits (`arrays`: split -> (images, labels)) and synthetic splits
    (split -> images), in `real_model`'s pooled features (`feature_space` names it), cached by the images'
    digest, the feature space and the settings."""
    from synthmed.classify.train import extract_features

    images = {"train": arrays["train"][0], "val": arrays["val"][0], "test": arrays["test"][0],
              "synthetic_train": synthetic["train"], "synthetic_test": synthetic["test"]}
    key = stable_hash(PANEL_VERSION, feature_space, cap, n_boot, seed, _digest(list(images.values())))
    path = home() / "panels" / f"{key}.json"
    if cache.verify(path, what="panels"):
        saved = json.loads(path.read_text())
        if set(saved) == set(PANEL_COLUMNS):
            return {c: saved[c] for c in PANEL_COLUMNS}
    features = {name: extract_features(real_model, x) for name, x in images.items()}
    panels = compute_panels(features, cap=cap, n_boot=n_boot, seed=seed)
    cache.atomic_write(path, json.dumps(panels, allow_nan=True))
    return panels
