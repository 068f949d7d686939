"""Diffusion checkpoints: their format, the architecture check, and loading one (or its EMA network).

Read with ``torch.load(..., weights_only=True)`` (never unpickle code); a checkpoint written by the
training loop carries a ``synthmed.cache`` manifest, checked before it is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from synthmed import cache
from synthmed.diffusion.config import DiffusionConfig, build
from synthmed.diffusion.unet import UNet
from synthmed.torch_utils import resolve_device

CHECKPOINT_FORMAT = "synthmed.diffusion.checkpoint/1"
# Config fields that fix the network's parameter shapes: a checkpoint must agree on all of them.
ARCHITECTURE_FIELDS = ("resolution", "n_labels", "channels", "width", "channel_mult", "res_blocks",
                       "attention_resolutions", "norm_groups")


def describe(config: DiffusionConfig | dict[str, Any]) -> str:
    """One line naming a config's network: 'U-Net 32x32, 14 labels, width 16 x [1, 2, 2], 1 block(s) per level'."""
    c = config if isinstance(config, dict) else config.to_dict()
    return (f"U-Net {c.get('resolution')}x{c.get('resolution')}, {c.get('n_labels')} labels, width "
            f"{c.get('width')} x {list(c.get('channel_mult') or [])}, {c.get('res_blocks')} block(s) per level")


def load_checkpoint(path: str | Path, config: DiffusionConfig | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; with ``config``, refuse one of another network."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: diffusion checkpoint not found")
    if cache.manifest_path(path).exists():  # written by train_diffusion: it must match its manifest
        problem = cache.check(path)
        if problem is not None:
            raise ValueError(f"{path}: not a usable diffusion checkpoint ({problem})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, or a file that would need arbitrary unpickling
        raise ValueError(f"{path}: not a readable synthmed diffusion checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{path}: expected a synthmed diffusion checkpoint ({CHECKPOINT_FORMAT}), found {found!r}")
    if config is not None:
        saved, current = checkpoint["config"], config.to_dict()
        differ = [name for name in ARCHITECTURE_FIELDS if saved.get(name) != current[name]]
        if differ:
            raise ValueError(f"{path}: the checkpoint holds a {describe(saved)}, but this run is a "
                             f"{describe(current)} (they differ in {', '.join(differ)}); use another run "
                             "directory or the matching config")
    return checkpoint


def load_model(path: str | Path, *, device: str = "auto") -> UNet:
    """The EMA network of a checkpoint (best.pt or last.pt), in eval mode; its config is ``model.config``."""
    checkpoint = load_checkpoint(path)
    model = build(DiffusionConfig.from_dict(checkpoint["config"]), seed=0)  # weights replaced below
    model.load_state_dict(checkpoint["ema"])
    return model.to(resolve_device(device)).eval().requires_grad_(False)
