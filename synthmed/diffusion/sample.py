"""Sampling: classifier-free guidance and the DDIM sampler, one uint8 image per label vector.

Guidance (Ho & Salimans 2022), with scale w::

    eps = eps_u + w * (eps_c - eps_u)

where eps_c is the network's noise prediction given the label vector and eps_u given "no label".
w = 0 is the unconditional model (the labels are ignored), w = 1 the plain conditional model, and
w > 1 pushes samples further towards their labels at some cost in diversity. Ho & Salimans write
the same rule as (1 + w') eps_c - w' eps_u, so their w' is our w - 1. At w = 0 and w = 1 one pass
of the network suffices and only that pass is run; otherwise both run as one batch.

The sampler is diffusers' ``DDIMScheduler`` (Song et al. 2021) with eta = 0, deterministic given
the starting noise: all starting noise is drawn first from one seeded generator, so an image depends
on its seed and row, not on the batch it is computed in (up to float rounding at a grey level's
edge). Its timesteps are "trailing" (the first step starts at t = T - 1; Lin et al. 2024), and its
predicted clean image is clipped to [-1, 1] at every step (Ho et al. 2020's sampler does the same).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler

from synthmed.diffusion.checkpoint import load_model
from synthmed.diffusion.config import DiffusionConfig
from synthmed.diffusion.unet import UNet
from synthmed.torch_utils import multi_hot


def guided_eps(model: UNet, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, guidance: float) -> torch.Tensor:
    """The guided noise prediction ``eps_u + guidance * (eps_c - eps_u)`` for noisy images x [B, C, R, R]."""
    if guidance == 1:
        return model(x, t, labels)
    if guidance == 0:
        return model(x, t, None)
    uncond = torch.arange(2 * len(x), device=x.device) >= len(x)  # first half conditional, second "no label"
    eps_c, eps_u = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, labels]), uncond).chunk(2)
    return eps_u + guidance * (eps_c - eps_u)


def ddim_scheduler(config: DiffusionConfig, steps: int) -> DDIMScheduler:
    """diffusers' DDIM sampler over the config's noise schedule, set to ``steps`` trailing timesteps."""
    if not 1 <= steps <= config.timesteps:
        raise ValueError(f"steps: expected an integer from 1 to {config.timesteps} (the timesteps), got {steps}")
    scheduler = DDIMScheduler(**config.scheduler_kwargs(), timestep_spacing="trailing", set_alpha_to_one=True)
    scheduler.set_timesteps(steps)
    return scheduler


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 [0, 255]: ``round((x + 1) * 127.5)`` clipped, half to even (as the GANs' samples)."""
    return torch.round((x.float() + 1.0) * 127.5).clamp_(0, 255).to(torch.uint8)


@torch.no_grad()
def generate_uint8(
    model: UNet,  # the EMA network, on any device
    noise: torch.Tensor,  # [N, C, R, R] starting noise x_T
    labels: torch.Tensor,  # [N, L] multi-hot floats
    *,
    steps: int,
    guidance: float,
    batch_size: int = 256,  # images per pass; does not change the images
) -> np.ndarray:
    """Run DDIM from ``noise`` for each label vector -> uint8 (N, R, R)."""
    if batch_size < 1:
        raise ValueError(f"batch_size: expected an integer >= 1, got {batch_size}")
    if not (np.isfinite(guidance) and guidance >= 0):
        raise ValueError(f"guidance: expected a number >= 0, got {guidance}")
    config: DiffusionConfig = model.config
    scheduler = ddim_scheduler(config, steps)
    device = next(model.parameters()).device
    bf16 = config.precision == "bf16"
    was_training = model.training
    model.eval()
    batches = []
    try:
        for start in range(0, len(noise), batch_size):
            x = noise[start : start + batch_size].to(device)
            y = labels[start : start + batch_size].to(device)
            for t in scheduler.timesteps:
                t_batch = torch.full((len(x),), int(t), device=device, dtype=torch.long)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    eps = guided_eps(model, x, t_batch, y, guidance).float()
                x = scheduler.step(eps, int(t), x, eta=0.0).prev_sample
            batches.append(to_uint8(x).cpu())
    finally:
        model.train(was_training)
    return torch.cat(batches)[:, 0].numpy()  # grayscale: (N, R, R)


def sample(
    checkpoint_or_model: str | Path | UNet,  # a checkpoint (best.pt, last.pt: its EMA network) or a network
    labels: np.ndarray | torch.Tensor,  # (N, L) 0/1: one image per row
    *,
    seed: int,  # seeds the starting noise
    guidance: float | None = None,  # None: the config's (DiffusionConfig.guidance)
    steps: int | None = None,  # DDIM steps; None: the config's (DiffusionConfig.sample_steps)
    device: str = "auto",  # for a checkpoint ("auto": CUDA when present); a network stays where it is
    batch_size: int | None = None,  # images per pass (None: 256 on a GPU, 16 on the CPU, where small runs faster)
) -> np.ndarray:
    """Exactly one image per label vector -> uint8 (N, R, R), deterministic for a seed."""
    model = checkpoint_or_model if isinstance(checkpoint_or_model, torch.nn.Module) else \
        load_model(checkpoint_or_model, device=device)
    config: DiffusionConfig = model.config
    y = torch.from_numpy(multi_hot(labels, n_labels=config.n_labels))
    shape = (len(y), config.channels, config.resolution, config.resolution)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))  # all drawn first, on the CPU
    if batch_size is None:
        batch_size = 256 if next(model.parameters()).device.type == "cuda" else 16
    return generate_uint8(model, noise, y, steps=config.sample_steps if steps is None else steps,
                          guidance=config.guidance if guidance is None else guidance, batch_size=batch_size)
