"""Box downsampling of uint8 images: the one implementation the readers, the image store and the widgets share.

A leaf module (NumPy only), so the readers (`chexpert`, `rsna`) and the store, which imports the
readers' loaders, all import it without importing each other.
"""

from __future__ import annotations

import numpy as np


def box_downsample(images: np.ndarray, factor: int) -> np.ndarray:
    """(N, R, R) uint8 -> (N, R/factor, R/factor) uint8: the mean of each factor x factor block,
    rounded half to even. Equal to the original's repeated float 2x2 averaging followed by
    `np.rint` (paper-spec §1.1), because those float sums are exact."""
    n, r, c = images.shape
    if factor < 1 or r % factor or c % factor:
        raise ValueError(f"cannot box-average {r}x{c} images by {factor}")
    blocks = images.reshape(n, r // factor, factor, c // factor, factor)
    sums = blocks.sum(axis=(2, 4), dtype=np.uint32)
    return np.rint(sums / factor**2).astype(np.uint8)


def downsample_box(img: np.ndarray, resolution: int) -> np.ndarray:
    """Repeated 2x2 box averaging of a square uint8 image down to (resolution, resolution).

    As in the paper's dataset tool (the progressive-GAN exporter, paper-spec §1.1-1.2): levels are
    averaged in float and the output is rounded once with `np.rint`, without re-quantising between levels.
    """
    size = img.shape[0]
    if img.ndim != 2 or img.shape[1] != size:
        raise ValueError(f"expected a square 2-D image, got shape {img.shape}")
    factor = size // resolution if resolution > 0 else 0
    if factor < 1 or factor * resolution != size or factor & (factor - 1):
        raise ValueError(f"resolution {resolution} must be {size} divided by a power of two")
    if factor == 1:
        return img.astype(np.uint8, copy=True)
    return box_downsample(img[None].astype(np.uint8, copy=False), factor)[0]
