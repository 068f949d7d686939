"""Fréchet distance between two sets of image features, and the feature extractors it can use.

The paper stops GAN training early on FID: the Fréchet distance between Gaussians fitted to TTUR
Inception pool_3 features of 10,000 real training images and 10,000 generated ones (paper-spec
§3.1). The GAN code knows nothing of classifiers: it takes any callable
``extract(images uint8 (N, R, R)) -> (N, D) float`` (:class:`FeatureExtractor`). The experiments
pass TTUR Inception at the paper profile (``synthmed.gan.inception``) and, at the CPU profiles, an
in-domain classifier's global-pool features (``synthmed.features``). A researcher with local
Inception weights wraps them with :func:`module_feature_extractor`::

    inception = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    inception.load_state_dict(torch.load("pt_inception_v3.pth", weights_only=True))
    inception.fc = torch.nn.Identity()  # 2048-d pool features, like TTUR's pool_3
    extract = module_feature_extractor(inception, name="inception-v3-local", input_size=299)

An extractor may carry a ``name`` attribute; the training log records it and
:func:`synthmed.gan.train.train_gan_cached` puts it into the cache key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthmed.torch_utils import resolve_device

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's Inception / DenseNet input normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


@runtime_checkable
class FeatureExtractor(Protocol):
    """uint8 images (N, R, R) -> features (N, D) float; an optional ``name`` names it in logs and caches."""

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


def extractor_name(extractor: object) -> str | None:
    """The extractor's ``name`` attribute when it has a non-empty string one, else None."""
    name = getattr(extractor, "name", None)
    return name if isinstance(name, str) and name else None


# ----------------------------------------------------------------------------
# The distance.


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean (D,) and covariance (D, D) of N feature vectors, float64: the Gaussian the distance compares."""

    mean: np.ndarray
    cov: np.ndarray
    count: int


def feature_statistics(features: np.ndarray) -> FeatureStatistics:
    """(N, D) features -> their mean and unbiased covariance (N >= 2, finite values)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"features: expected an array (N, D) with N >= 2 and D >= 1, got shape {x.shape}")
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0, 0])
        raise ValueError(f"features row {row}: expected finite values, got {x[row][~np.isfinite(x[row])][0]}")
    return FeatureStatistics(mean=x.mean(axis=0), cov=np.cov(x, rowvar=False, ddof=1).reshape(x.shape[1], -1),
                             count=x.shape[0])


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigh (eigenvalues rounded below 0 -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray | FeatureStatistics, b: np.ndarray | FeatureStatistics) -> float:
    """Fréchet distance between Gaussians fitted to feature sets (N_a, D) and (N_b, D) or their statistics.

    ``|mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))`` (Dowson & Landau 1982; the
    FID of Heusel et al. 2017 on Inception features). tr((S_a S_b)^(1/2)) is computed as the sum
    of square roots of the eigenvalues of the symmetric product S_a^(1/2) S_b S_a^(1/2), which has
    the same eigenvalues as S_a S_b but, unlike scipy's general ``sqrtm``, never produces complex
    parts or NaNs from rounding; it is also about 4x faster at D = 2048.
    """
    stats_a = a if isinstance(a, FeatureStatistics) else feature_statistics(a)
    stats_b = b if isinstance(b, FeatureStatistics) else feature_statistics(b)
    if stats_a.mean.shape != stats_b.mean.shape:
        dims = f"{stats_a.mean.shape[0]} and {stats_b.mean.shape[0]}"
        raise ValueError(f"feature sets differ in dimension: {dims}")
    sqrt_a = _psd_sqrt(stats_a.cov)
    product = sqrt_a @ stats_b.cov @ sqrt_a  # symmetric PSD, same spectrum as S_a S_b
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = stats_a.mean - stats_b.mean
    distance = diff @ diff + np.trace(stats_a.cov) + np.trace(stats_b.cov) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))  # rounding can leave -1e-12 for identical sets


# ----------------------------------------------------------------------------
# Extractors.


def _check_images(images: np.ndarray) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim != 3 or array.shape[1] != array.shape[2] or array.shape[0] == 0:
        raise ValueError(f"feature extractor input: expected uint8 images (N, R, R), got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"feature extractor input: expected dtype uint8, got {array.dtype}")
    return array


@dataclass(frozen=True)
class DownsampledPixels:
    """The simplest extractor: images box-averaged to ``size`` x ``size``, flattened: (N, size**2) in [0, 1].

    Cheap and deterministic; useful in tests and as a sanity check next to a learned extractor.
    """

    size: int = 8

    @property
    def name(self) -> str:
        return f"pixels-{self.size}x{self.size}"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(_check_images(images).astype(np.float32) / 255.0)[:, None]  # (N, 1, R, R)
        if x.shape[-1] % self.size != 0:
            raise ValueError(f"DownsampledPixels({self.size}): {x.shape[-1]} px images do not divide into it")
        return F.avg_pool2d(x, x.shape[-1] // self.size).flatten(1).numpy()  # (N, size**2)


@dataclass
class ModuleFeatureExtractor:
    """Features from a torch module that maps float images (N, C, S, S) to (N, D), e.g. a local Inception.

    uint8 (N, R, R) -> [0, 1] -> tiled to ``channels`` -> bilinear resize to ``input_size`` (None:
    keep R) -> (x - mean) / std per channel -> module, in eval mode, batched, without gradients.
    """

    module: nn.Module
    name: str
    input_size: int | None = None
    channels: int = 3
    mean: Sequence[float] | None = IMAGENET_MEAN  # None: no normalisation
    std: Sequence[float] | None = IMAGENET_STD
    batch_size: int = 64
    device: str | torch.device = "auto"

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        array = _check_images(images)
        device = resolve_device(self.device)
        module = self.module.to(device).eval()  # in eval mode torchvision's Inception returns one tensor
        outputs = []
        for start in range(0, len(array), self.batch_size):
            x = torch.from_numpy(array[start : start + self.batch_size]).to(device)
            x = x[:, None].float().div_(255.0)  # (B, 1, R, R) in [0, 1]
            if self.input_size is not None and x.shape[-1] != self.input_size:
                size = (self.input_size, self.input_size)
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            x = x.expand(-1, self.channels, -1, -1)  # grayscale tiled, as TTUR does (paper-spec §3.1)
            if self.mean is not None and self.std is not None:
                mean = torch.tensor(self.mean, device=device).view(1, -1, 1, 1)
                std = torch.tensor(self.std, device=device).view(1, -1, 1, 1)
                x = (x - mean) / std
            features = module(x)
            if isinstance(features, tuple):  # torchvision Inception in train mode returns (logits, aux)
                features = features[0]
            outputs.append(features.float().flatten(1).cpu())
        return torch.cat(outputs).numpy()


def module_feature_extractor(module: nn.Module, *, name: str, **options: object) -> ModuleFeatureExtractor:
    """Wrap a local feature network (see the module docstring); options as :class:`ModuleFeatureExtractor`."""
    return ModuleFeatureExtractor(module, name, **options)  # type: ignore[arg-type]
