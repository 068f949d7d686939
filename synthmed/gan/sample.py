"""A synthetic split: exactly one generated image per label vector, the paper's inference (paper-spec §3.1).

The paper's ``test.py`` generates one image per real record of each split with latents drawn from
N(0, I) by ``RandomState(random_seed)``, maps the generator's [-1, 1] output to uint8 and stores it
at the GAN's resolution. We do the same with the EMA generator ``G_ema``: all latents are drawn
first from one seeded ``torch.Generator``, so the images do not depend on the batch size (up to
float rounding of a pixel exactly between two grey levels), and come back as the uint8 arrays
(N, R, R) the image store holds for real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthmed.gan.checkpoint import load_generator
from synthmed.torch_utils import multi_hot


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> uint8 [0, 255]: ``rint((x + 1) * 127.5)``, clipped (PGGAN's convert).

    [N, C, R, R] float -> [N, C, R, R] uint8; rounding is half-to-even, as NumPy's ``rint``.
    """
    return torch.round((images.float() + 1.0) * 127.5).clamp_(0, 255).to(torch.uint8)


@torch.no_grad()
def generate_uint8(
    G: nn.Module,  # Generator: G(z, labels, lod) -> [N, C, R, R] in about [-1, 1]
    latents: torch.Tensor,  # [N, latent], on any device
    labels: torch.Tensor,  # [N, L] multi-hot, float
    *,
    lod: float = 0.0,  # Level of detail (prog-GAN); 0 = full resolution
    batch_size: int = 256,  # Images per forward pass; does not change the images
) -> np.ndarray:
    """Run G in eval mode over batches of (latents, labels) -> uint8 (N, R, R), or (N, R, R, C) when C > 1."""
    if batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size}")
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    batches = []
    try:
        for start in range(0, len(latents), batch_size):
            z = latents[start : start + batch_size].to(device)
            y = labels[start : start + batch_size].to(device)
            batches.append(to_uint8(G(z, y, lod)).cpu())  # [B, C, R, R]
    finally:
        G.train(was_training)
    images = torch.cat(batches).permute(0, 2, 3, 1).numpy()  # [N, R, R, C]
    return images[..., 0] if images.shape[-1] == 1 else images


def sample(
    checkpoint_or_G: str | Path | nn.Module,  # A checkpoint (best.pt, last.pt) or a generator (G_ema)
    labels: np.ndarray | torch.Tensor,  # (N, L) 0/1: one image per row
    *,
    seed: int,  # Seeds the latents
    batch_size: int = 256,  # Images per forward pass (the paper used 20); does not change the images
    device: str = "auto",  # For a checkpoint: "auto" = CUDA when present; a module stays where it is
    lod: float = 0.0,  # Level of detail; 0 = full resolution (a finished prog-GAN)
) -> np.ndarray:
    """Exactly one image per label vector -> uint8 (N, R, R), deterministic for a seed.

    From a checkpoint the EMA generator is used (paper-spec §3.1: ``Gs`` is used for inference);
    a module is used as given, so pass ``G_ema``.
    """
    if isinstance(checkpoint_or_G, nn.Module):
        G = checkpoint_or_G
    else:
        G, _ = load_generator(checkpoint_or_G, device=device)
    y = torch.from_numpy(multi_hot(labels, n_labels=G.n_labels))
    latents = torch.randn(len(y), G.latent, generator=torch.Generator().manual_seed(seed))  # [N, latent], CPU
    return generate_uint8(G, latents, y, lod=lod, batch_size=batch_size)
