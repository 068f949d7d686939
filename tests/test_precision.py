"""GANConfig.precision: fp32 (the original's) by default, bf16 autocast when asked; part of the cache key."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from synthmed.experiments import generator_config
from synthmed.gan.config import GANConfig
from synthmed.gan.frechet import DownsampledPixels
from synthmed.gan.train import load_checkpoint, train_gan

torch.set_num_threads(1)


def narrow(arch: str, **changes: object) -> GANConfig:
    base = GANConfig.tiny(arch, 16, 3)
    return dataclasses.replace(base, fmap_base=32, fmap_max=8, latent=8, minibatch={r: 8 for r in base.minibatch},
                               lod_initial_resolution=16 if arch == "progan" else 8, total_kimg=0.064,
                               min_fid_kimg=10, fid_every_kimg=10, **changes)


def test_precision_defaults_to_fp32_and_keeps_earlier_keys() -> None:
    for profile in ("tiny", "cpu", "paper"):
        assert generator_config("cpD-GAN", profile, 32, 3).precision == "fp32"
    assert generator_config("prog-GAN", "paper", 32, 3, "bf16").precision == "bf16"
    fp32 = GANConfig.tiny("cpdgan", 16, 3)
    assert "precision" not in fp32.to_dict()  # the dict (and so the key) of runs made before the option
    bf16 = dataclasses.replace(fp32, precision="bf16")
    assert bf16.to_dict()["precision"] == "bf16" and bf16.to_dict() != fp32.to_dict()
    assert GANConfig.from_dict(bf16.to_dict()) == bf16 and GANConfig.from_dict(fp32.to_dict()) == fp32
    with pytest.raises(ValueError, match="precision"):
        dataclasses.replace(fp32, precision="fp16")


@pytest.mark.parametrize("arch", ["cpdgan", "progan"])
def test_bf16_trains_under_autocast_and_says_so(arch: str, tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 16, 16), dtype=np.uint8)
    labels = (rng.random((64, 3)) < 0.5).astype(np.float32)
    weights = {}
    for precision in ("fp32", "bf16"):
        config = narrow(arch, precision=precision)
        run = tmp_path / precision
        result = train_gan(config, images, labels, run, seed=0, extractor=DownsampledPixels(4), fd_images=16,
                           device="cpu", grid_every_kimg=0)
        assert result.finished
        assert json.loads((run / "run.json").read_text())["precision"] == precision
        checkpoint = load_checkpoint(run / "last.pt")
        assert GANConfig.from_dict(checkpoint["config"]).precision == precision
        weights[precision] = checkpoint["G"]
        assert all(v.dtype != torch.bfloat16 for v in weights[precision].values())  # the weights stay fp32
    # Same seed, same data: only the arithmetic differs, and it shows in the weights.
    assert any(not torch.equal(weights["fp32"][k], weights["bf16"][k]) for k in weights["fp32"])
