"""How alike a synthetic set and its real training set are, in one feature space: the fidelity panel.

Every metric here takes feature arrays (N, D), not images: the caller chooses the space. The experiments
use the point's real-trained classifier's pooled features (`synthmed.features.real_classifier_features`),
the space the CPU profiles' early stopping measures its Fréchet distance in, so the panel and the stopping
distance speak of the same thing; at the paper profile also the FID Inception's pool_3 features, the space
the paper early-stops in (`synthmed.experiments.panels`).

- Fréchet distance (`synthmed.gan.frechet.frechet_distance`, the one early stopping uses);
- kernel inception distance (Bińkowski et al. 2018) with its standard deviation over subsets, by
  torchmetrics' `KernelInceptionDistance`. Its default feature extractor is torch-fidelity's Inception-v3,
  whose weights are downloaded; we pass it an identity module instead and give it our features, so it
  computes exactly its cubic-polynomial-kernel MMD over random subsets on them, with no download;
- precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020) by the
  authors' own package, `prdc`, with its k nearest neighbours (k = 5, the value Naeem et al. recommend).

`fidelity_panel` subsamples both sets to a fixed cap (the experiments pass the profile's `fd_images`), so
the cost of a panel does not grow with the training split: the pairwise distances prdc needs are
(cap x cap) matrices.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import asdict, dataclass

import numpy as np

NEAREST_K = 5  # prdc's k: Naeem et al. 2020 recommend 5
KID_SUBSETS = 100  # torchmetrics' default number of subsets
KID_SUBSET_SIZE = 1000  # torchmetrics' default subset size


def _features(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name}: expected features (N, D) with N >= 1, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: features hold NaN or infinite values")
    return x


def kernel_distance(real: np.ndarray, fake: np.ndarray, *, subsets: int = KID_SUBSETS,
                    subset_size: int | None = None, degree: int = 3, seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance of two feature sets (N, D), (M, D): torchmetrics' `KernelInceptionDistance`
    on our features (its extractor replaced by an identity module). The unbiased MMD^2 with the kernel
    (x.y / D + 1)^degree, averaged over `subsets` random draws of `subset_size` images from each set (at
    most the smaller set's size; None: torchmetrics' 1,000, or half the smaller set where that is fewer, so
    that the subsets differ and their SD means something); returns (mean, standard deviation over the
    subsets). The draws use torch's generator seeded with `seed` inside a forked RNG, so the global RNG is
    left as it was."""
    import torch
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = _features(real, "real"), _features(fake, "fake")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real and fake features differ in dimension: {a.shape[1]} and {b.shape[1]}")
    smaller = min(len(a), len(b))
    size = min(KID_SUBSET_SIZE, max(2, smaller // 2)) if subset_size is None else min(subset_size, smaller)
    if size < 2:
        raise ValueError(f"kernel_distance needs at least 2 images per set, got {len(a)} and {len(b)}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=subsets, subset_size=size,
                                         degree=degree)
    metric.update(torch.from_numpy(a), real=True)
    metric.update(torch.from_numpy(b), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def precision_recall_density_coverage(real: np.ndarray, fake: np.ndarray, k: int = NEAREST_K) -> dict[str, float]:
    """prdc's `compute_prdc` (Naeem et al.'s code) on two feature sets, Euclidean distances:

    - precision: the share of fake images inside some real image's k-nearest-neighbour ball;
    - recall: the share of real images inside some fake image's ball;
    - density: the mean number of real balls holding a fake image, over k (1 for identical sets);
    - coverage: the share of real images whose ball holds some fake image.

    prdc prints the set sizes; that line is swallowed."""
    a, b = _features(real, "real"), _features(fake, "fake")
    if min(len(a), len(b)) <= k:
        raise ValueError(f"precision/recall need more than k = {k} images per set, got {len(a)} and {len(b)}")
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):
        found = compute_prdc(real_features=a, fake_features=b, nearest_k=k)
    return {name: float(value) for name, value in found.items()}


@dataclass(frozen=True)
class FidelityPanel:
    """The fidelity metrics of one synthetic set against its real set, on `n_real` and `n_fake` images."""

    fd: float
    kid: float
    kid_std: float
    precision: float
    recall: float
    density: float
    coverage: float
    n_real: int
    n_fake: int

    def as_row(self) -> dict:
        return asdict(self)


def subsample(n: int, cap: int, seed: int) -> np.ndarray:
    """Positions of at most `cap` of `n` items: all of them in order when n <= cap, else a seeded draw
    without replacement, sorted."""
    if cap < 1:
        raise ValueError(f"cap: expected at least 1, got {cap}")
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def panel_draws(n_real: int, n_fake: int, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the real and fake items `fidelity_panel` keeps (`subsample`, seeds `seed` and
    `seed + 1`): a caller that computes features itself may draw the images first and extract fewer."""
    return subsample(n_real, cap, seed), subsample(n_fake, cap, seed + 1)


def fidelity_panel(real: np.ndarray, fake: np.ndarray, *, cap: int, seed: int = 0, k: int = NEAREST_K
                   ) -> FidelityPanel:
    """Every fidelity metric of `fake` against `real` (features (N, D)), each set first subsampled to at
    most `cap` images (a seeded draw, `panel_draws`), so that the panel's cost is bounded whatever the split's
    size."""
    from synthmed.gan.frechet import frechet_distance

    keep_real, keep_fake = panel_draws(len(real), len(fake), cap, seed)
    real = _features(real, "real")[keep_real]
    fake = _features(fake, "fake")[keep_fake]
    kid, kid_std = kernel_distance(real, fake, seed=seed)
    found = precision_recall_density_coverage(real, fake, k=k)
    return FidelityPanel(fd=float(frechet_distance(real, fake)), kid=kid, kid_std=kid_std, n_real=len(real),
                         n_fake=len(fake), **found)
