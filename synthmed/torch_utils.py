"""Small helpers every torch-using layer shares (generators, classifiers, Fréchet features): the device a
run asks for, and the check of a label array. A leaf: it imports nothing of synthmed."""

from __future__ import annotations

import numpy as np
import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> CUDA when present, else CPU; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def multi_hot(labels, what: str = "labels", *, n_images: int | None = None, n_labels: int | None = None) -> np.ndarray:
    """`labels` as a float32 (N, L) array of 0/1, one label vector per image; ValueError naming `what`, and
    the first bad row and column, otherwise. `n_images` and `n_labels`, where given, are the N and L expected."""
    array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    rows = "N" if n_images is None else n_images
    columns = "L" if n_labels is None else n_labels
    if (array.ndim != 2 or array.shape[0] == 0 or (n_images is not None and array.shape[0] != n_images)
            or (n_labels is not None and array.shape[1] != n_labels)):
        raise ValueError(f"{what}: expected a non-empty array ({rows}, {columns}), one label vector per image, "
                         f"got shape {array.shape}")
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{what} row {row}, column {col}: expected 0 or 1 (multi-hot), got {array[row, col]!r}")
    return array.astype(np.float32)
