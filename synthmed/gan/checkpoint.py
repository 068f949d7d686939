"""GAN checkpoints: their format, the architecture check, and loading one (or its EMA generator).

Its own module so that sampling (``sample``) and training (``train``, which writes checkpoints and
samples for its evaluations) both import it without importing each other. Checkpoints are read
with ``torch.load(..., weights_only=True)``: never unpickle arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthmed import cache
from synthmed.gan.config import GANConfig, build
from synthmed.torch_utils import resolve_device

CHECKPOINT_FORMAT = "synthmed.gan.checkpoint/1"
# Config fields that fix the networks' parameter shapes: a checkpoint must agree on all of them.
ARCHITECTURE_FIELDS = ("arch", "resolution", "n_labels", "channels", "latent", "fmap_base", "fmap_max")


def describe(config: GANConfig | dict[str, Any]) -> str:
    """One line naming a config's architecture: 'progan 32x32, 14 labels, 1 channel(s), latent 512, ...'."""
    c = config if isinstance(config, dict) else config.to_dict()
    size = f"{c.get('resolution')}x{c.get('resolution')}"
    return (f"{c.get('arch')} {size}, {c.get('n_labels')} labels, {c.get('channels')} channel(s), "
            f"latent {c.get('latent')}, fmap {c.get('fmap_base')}/{c.get('fmap_max')}")


def check_compatible(saved: dict[str, Any], config: GANConfig, where: str | Path) -> None:
    """Refuse a checkpoint whose networks differ from ``config``'s, naming both architectures."""
    current = config.to_dict()
    differ = [name for name in ARCHITECTURE_FIELDS if saved.get(name) != current[name]]
    if differ:
        raise ValueError(f"{where}: the checkpoint holds a {describe(saved)} model, but this run is "
                         f"{describe(current)} (they differ in {', '.join(differ)}); use another run "
                         "directory or the matching config")


def load_checkpoint(path: str | Path, config: GANConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; with ``config``, refuse one of another architecture."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GAN checkpoint not found")
    if cache.manifest_path(path).exists():  # written by train_gan: it must match (a file from elsewhere has none)
        problem = cache.check(path)
        if problem is not None:
            raise ValueError(f"{path}: not a usable GAN checkpoint ({problem})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated file, or one that would need arbitrary unpickling
        raise ValueError(f"{path}: not a readable synthmed GAN checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{path}: expected a synthmed GAN checkpoint ({CHECKPOINT_FORMAT}), "
                         f"found {found!r}")
    if config is not None:
        check_compatible(checkpoint["config"], config, path)
    return checkpoint


def load_generator(
    path: str | Path, *, device: str = "auto", config: GANConfig | None = None
) -> tuple[nn.Module, GANConfig]:
    """The EMA generator of a checkpoint (best.pt or last.pt), in eval mode, and its config."""
    checkpoint = load_checkpoint(path, config)
    saved_config = GANConfig.from_dict(checkpoint["config"])
    G, _ = build(saved_config, seed=0)  # weights replaced below
    G.load_state_dict(checkpoint["G_ema"])
    return G.to(resolve_device(device)).eval().requires_grad_(False), saved_config
