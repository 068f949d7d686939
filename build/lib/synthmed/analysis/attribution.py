"""Occlusion attribution maps, as the paper computed them (its `cxpl.py`).

Each non-overlapping `patch` x `patch` square of the classifier's *preprocessed* input is set to 0,
which after normalisation is the normalisation mean (ImageNet grey for DenseNet-121, mid-grey for
the compact CNN), one square at a time. The attribution of a square is how much the label-averaged
binary cross-entropy against the image's labels rises: max(BCE(masked) - BCE(original), 1e-7),
not normalised, repeated back over the square and resized to the stored image's resolution.
The paper masked 4x4 squares of the 224x224 DenseNet input (3,136 per image); on the compact CNN at
32x32 the same rule gives 64 squares, run as one batch per image.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

FLOOR = 1e-7  # the paper's lower bound on an attribution


@torch.no_grad()
def occlusion_maps(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    patch: int = 4,
    batch_size: int = 256,
) -> np.ndarray:
    """Attribution maps (N, R, R) float32 for uint8 images (N, R, R) and their 0/1 labels (N, L).

    `model` is a synthmed classifier: `preprocess`, `body` and `head` applied in turn.
    """
    if images.ndim != 3 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"expected images (N, R, R) and labels (N, L), got {images.shape} and {labels.shape}")
    model.eval()
    device = next(model.parameters()).device
    resolution = images.shape[-1]
    maps = np.empty(images.shape, dtype=np.float32)
    for i in range(len(images)):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + 1])).to(device).unsqueeze(1)
        y = torch.as_tensor(labels[i : i + 1], dtype=torch.float32, device=device)
        z = model.preprocess(x)  # (1, C, H, W), normalised
        _, _, h, w = z.shape
        if h % patch or w % patch:
            raise ValueError(f"preprocessed input {h}x{w} is not divisible into {patch}x{patch} patches")
        gh, gw = h // patch, w // patch
        base = F.binary_cross_entropy_with_logits(model.head(model.body(z)), y).item()
        increase = torch.empty(gh * gw, device=device)
        for start in range(0, gh * gw, batch_size):
            cells = torch.arange(start, min(start + batch_size, gh * gw), device=device)
            # One masked copy per square: a (B, 1, gh, gw) keep-mask upsampled to pixels.
            keep = torch.ones(len(cells), 1, gh * gw, device=device)
            keep[torch.arange(len(cells)), 0, cells] = 0.0
            keep = keep.view(len(cells), 1, gh, gw).repeat_interleave(patch, 2).repeat_interleave(patch, 3)
            logits = model.head(model.body(z * keep))
            bce = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none").mean(1)
            increase[start : start + len(cells)] = bce - base
        grid = increase.clamp_min(FLOOR).view(1, 1, gh, gw)
        mode = "nearest" if resolution >= gh else "area"  # repeat squares up, or average them down
        maps[i] = F.interpolate(grid, size=(resolution, resolution), mode=mode)[0, 0].cpu().numpy()
    return maps
