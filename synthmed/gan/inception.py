"""The standard FID's features: pool_3 of the TTUR Inception-v3, through the ``pytorch-fid`` package.

The paper early-stops its GANs on FID computed with the TTUR code's Inception-v3 pool_3 features
(2,048 per image) of 10,000 real training images and 10,000 fakes, grayscale tiled to three
channels (paper-spec §3.1). ``pytorch-fid`` ports that network and its weights to torch; its
``InceptionV3`` resizes the input bilinearly to 299x299 and scales [0, 1] to [-1, 1] itself. The
paper profile stops on this distance; the CPU profiles keep the in-domain one
(the point's real classifier's features, ``synthmed.features``).

The weights (about 92 MB) download on first use into torch's hub cache,
``$TORCH_HOME/hub/checkpoints/`` (by default ``~/.cache/torch/hub/checkpoints/``). A machine
without internet needs the file placed there by hand; :func:`inception_extractor` then raises
:class:`InceptionUnavailable` with one line naming the file, where it comes from and where it goes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from synthmed.gan.frechet import _check_images
from synthmed.torch_utils import resolve_device

NAME = "inception-v3-pool3-ttur"  # the extractor's name: logs and the GAN cache key hold it
POOL3_DIM = 2048


class InceptionUnavailable(RuntimeError):
    """The FID Inception weights are neither in torch's hub cache nor downloadable."""


def weights_url() -> str:
    from pytorch_fid.inception import FID_WEIGHTS_URL

    return FID_WEIGHTS_URL


def weights_path() -> Path:
    """Where torch's hub cache keeps (or looks for) the FID Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights_url()).path).name


@functools.lru_cache(maxsize=1)
def _pool3_network(where: str) -> nn.Module:
    """pytorch-fid's InceptionV3 up to pool_3, in eval mode on the CPU; ``where`` (the weights' path) keys the cache."""
    from pytorch_fid.inception import InceptionV3

    path = Path(where)
    try:
        network = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[POOL3_DIM]])  # loads from path, else downloads
    except Exception as error:
        if path.is_file():  # present but unreadable: say so rather than ask for a download
            raise InceptionUnavailable(f"{path}: the FID Inception weights there could not be loaded ({error}); "
                                       f"replace the file with the one at {weights_url()}") from error
        raise InceptionUnavailable(
            f"the standard FID needs the TTUR Inception weights {path.name}, which are not in torch's hub cache "
            f"and could not be downloaded ({type(error).__name__}: {error}); place the file from {weights_url()} "
            f"at {path} (the folder follows TORCH_HOME)") from None
    return network.eval().requires_grad_(False)


@dataclass
class InceptionFeatures:
    """uint8 images (N, R, R) -> pool_3 features (N, 2048): [0, 1], tiled to RGB, through the FID Inception."""

    module: nn.Module
    batch_size: int = 100
    device: str | torch.device = "auto"
    name: str = NAME

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        array = _check_images(images)
        device = resolve_device(self.device)
        module = self.module.to(device).eval()
        outputs = []
        for start in range(0, len(array), self.batch_size):
            x = torch.from_numpy(array[start : start + self.batch_size]).to(device)
            x = x[:, None].float().div_(255.0).expand(-1, 3, -1, -1)  # grayscale tiled, as TTUR (paper-spec §3.1)
            outputs.append(module(x)[0].flatten(1).float().cpu())  # [B, 2048, 1, 1] -> [B, 2048]
        return torch.cat(outputs).numpy()


def inception_extractor(*, device: str | torch.device = "auto", batch_size: int = 100) -> InceptionFeatures:
    """The standard FID's feature extractor; downloads the weights on first use (see the module docstring)."""
    return InceptionFeatures(_pool3_network(str(weights_path())), batch_size=batch_size, device=device)
