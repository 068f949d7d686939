"""The fidelity and privacy panels of one benchmark point and generator: the result row's columns beyond
the utility gap (`RESULT_COLUMNS`, from `fd_synthetic` on), computed by `run_point` and cached.

Every panel is computed in the point's real-trained classifier's pooled features (the space the CPU profiles'
early stopping measures its Fréchet distance in; `synthmed.classify.train.extract_features`; at the paper
profile DenseNet-121's). Where the profile asks for it (`Profile.inception_panels`: paper), the fidelity panel
is computed a second time in the FID Inception's pool_3 features (`synthmed.gan.inception`, the space the paper
early-stops in), as the columns `fd_inception` ... `coverage_inception` (`INCEPTION_COLUMNS`); elsewhere they
are NaN (tiny and cpu: no Inception weights offline, and phantoms are far from ImageNet). Without the weights
the Inception panel raises `InceptionUnavailable` naming the file, before it extracts anything (and
`run_point` asks for the extractor before it trains).

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
reference would hide copies of the images left out). The Inception panel draws the images first and extracts
only those (`analysis.fidelity.panel_draws`, the draw `fidelity_panel` makes). The panels are cached per
feature space (home()/panels/): the classifier's panels by a digest of the five image arrays they read, the
feature space and their settings; the Inception panel by the two it reads, the extractor's name and the cap
and seed, so a profile that adds it leaves the classifier's panels cached.
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

# The panel columns of the real classifier's features, in the order the result row holds them (all float64 but
# the image counts).
DOMAIN_COLUMNS: dict[str, str] = {
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
# The fidelity panel again in the FID Inception's features (`Profile.inception_panels`), on the same images as the
# classifier's (`fidelity_images`); NaN where the profile does not compute it.
INCEPTION_COLUMNS: dict[str, str] = {
    "fd_inception": "float64",  # the Fréchet inception distance (FID) of the synthetic train split
    "kid_inception": "float64",
    "kid_std_inception": "float64",
    "precision_inception": "float64",
    "recall_inception": "float64",
    "density_inception": "float64",
    "coverage_inception": "float64",
}
PANEL_COLUMNS: dict[str, str] = {**DOMAIN_COLUMNS, **INCEPTION_COLUMNS}
NO_INCEPTION: dict[str, float] = dict.fromkeys(INCEPTION_COLUMNS, float("nan"))


def _digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def compute_panels(features: dict[str, np.ndarray], *, cap: int, n_boot: int, seed: int) -> dict:
    """The panel columns of one feature space (`DOMAIN_COLUMNS`) from features (N, D) of the "train", "val" and
    "test" real splits and the "synthetic_train" and "synthetic_test" splits."""
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


def inception_columns(fidelity) -> dict:
    """`INCEPTION_COLUMNS` from an `analysis.fidelity.FidelityPanel` computed in Inception features."""
    return {"fd_inception": fidelity.fd, "kid_inception": fidelity.kid, "kid_std_inception": fidelity.kid_std,
            "precision_inception": fidelity.precision, "recall_inception": fidelity.recall,
            "density_inception": fidelity.density, "coverage_inception": fidelity.coverage}


def inception_extractor(device: str = "auto"):
    """The FID Inception's pool_3 extractor, uint8 images (N, R, R) -> (N, 2048) (`synthmed.gan.inception`);
    raises `InceptionUnavailable` naming the weights file where it is missing offline. The one place the panels
    get Inception features from (the tests put a stand-in here)."""
    from synthmed.gan.inception import inception_extractor as extractor

    return extractor(device=device)


def inception_panel(real: np.ndarray, fake: np.ndarray, *, cap: int, seed: int, device: str = "auto") -> dict:
    """`INCEPTION_COLUMNS` of synthetic training images `fake` against real ones `real` (uint8 (N, R, R)):
    `fidelity_panel` in `inception_extractor`'s features of the images it would keep (`panel_draws`), so
    that only those pass through the network; the result equals `fidelity_panel` on every image's features."""
    from synthmed.analysis.fidelity import fidelity_panel, panel_draws
    from synthmed.gan.inception import NAME

    key = stable_hash(PANEL_VERSION, NAME, cap, seed, _digest([real, fake]))
    path = home() / "panels" / f"inception-{key}.json"
    if cache.verify(path, what="Inception panel"):
        saved = json.loads(path.read_text())
        if set(saved) == set(INCEPTION_COLUMNS):
            return {c: saved[c] for c in INCEPTION_COLUMNS}
    extract = inception_extractor(device)  # InceptionUnavailable (naming the file) before any work
    keep_real, keep_fake = panel_draws(len(real), len(fake), cap, seed)
    found = fidelity_panel(extract(real[keep_real]), extract(fake[keep_fake]), cap=cap, seed=seed)
    columns = inception_columns(found)
    cache.atomic_write(path, json.dumps(columns, allow_nan=True))
    return columns


def point_panels(real_model, arrays: dict, synthetic: dict, *, cap: int, n_boot: int, seed: int,
                 feature_space: str, inception: bool = False, device: str = "auto") -> dict:
    """Every panel column (`PANEL_COLUMNS`) of one point: `compute_panels` on its real splits (`arrays`: split ->
    (images, labels)) and synthetic splits (split -> images), in `real_model`'s pooled features (`feature_space`
    names it), cached by the images' digest, the feature space and the settings; and with `inception`
    (`Profile.inception_panels`) the fidelity panel in Inception features (`inception_panel`, on `device`), else
    NaN there."""
    from synthmed.classify.train import extract_features

    images = {"train": arrays["train"][0], "val": arrays["val"][0], "test": arrays["test"][0],
              "synthetic_train": synthetic["train"], "synthetic_test": synthetic["test"]}
    key = stable_hash(PANEL_VERSION, feature_space, cap, n_boot, seed, _digest(list(images.values())))
    path = home() / "panels" / f"{key}.json"
    # The Inception panel first: a missing weights file is named before the classifier's panels are computed.
    extra = (inception_panel(images["train"], images["synthetic_train"], cap=cap, seed=seed, device=device)
             if inception else NO_INCEPTION)
    panels = None
    if cache.verify(path, what="panels"):
        saved = json.loads(path.read_text())
        if set(saved) == set(DOMAIN_COLUMNS):
            panels = {c: saved[c] for c in DOMAIN_COLUMNS}
    if panels is None:
        features = {name: extract_features(real_model, x) for name, x in images.items()}
        panels = compute_panels(features, cap=cap, n_boot=n_boot, seed=seed)
        cache.atomic_write(path, json.dumps(panels, allow_nan=True))
    return {**panels, **extra}
