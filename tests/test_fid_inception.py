"""The standard FID's Inception features, run with random weights of the same architecture (nothing downloads)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from synthmed.gan import inception
from synthmed.gan.frechet import frechet_distance

torch.set_num_threads(1)


def _no_download(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("no network in tests")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache under tmp_path, with downloads failing as on a machine without internet."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_download)
    inception._pool3_network.cache_clear()
    yield tmp_path / "torch" / "hub" / "checkpoints"
    inception._pool3_network.cache_clear()


@pytest.fixture
def random_weights(hub: Path) -> Path:
    """A state dict of pytorch-fid's FID Inception with random weights, placed where the real file goes."""
    import pytorch_fid.inception as fid

    built: dict[str, torch.nn.Module] = {}
    real_build = fid._inception_v3

    def build(*args: object, **kwargs: object) -> torch.nn.Module:
        built["net"] = real_build(*args, **kwargs)
        return built["net"]

    with pytest.MonkeyPatch.context() as patch:  # build the architecture once, loading its own random weights
        patch.setattr(fid, "_inception_v3", build)
        patch.setattr(fid, "load_state_dict_from_url", lambda *a, **k: built["net"].state_dict())
        torch.manual_seed(0)
        fid.fid_inception_v3()
    path = inception.weights_path()
    path.parent.mkdir(parents=True)
    torch.save(built["net"].state_dict(), path)
    return path


def test_weights_go_into_torchs_hub_cache_under_torch_home(hub: Path) -> None:
    assert inception.weights_path() == hub / "pt_inception-2015-12-05-6726825d.pth"


def test_offline_without_the_file_one_error_names_the_file_and_where_it_goes(hub: Path) -> None:
    with pytest.raises(inception.InceptionUnavailable) as error:
        inception.inception_extractor(device="cpu")
    message = str(error.value)
    assert "\n" not in message and "could not be downloaded" in message
    assert f"at {hub / 'pt_inception-2015-12-05-6726825d.pth'}" in message and inception.weights_url() in message
    assert not hub.exists() or not any(hub.iterdir())  # nothing half-written was left behind


def test_a_damaged_weights_file_is_named_as_such(hub: Path) -> None:
    hub.mkdir(parents=True)
    inception.weights_path().write_bytes(b"not a state dict")
    with pytest.raises(inception.InceptionUnavailable, match="could not be loaded.*replace the file"):
        inception.inception_extractor(device="cpu")


def test_pool3_features_of_tiled_grayscale_images(random_weights: Path) -> None:
    import pytorch_fid.inception as fid

    extract = inception.inception_extractor(device="cpu", batch_size=3)
    assert extract.name == "inception-v3-pool3-ttur"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 32, 32), dtype=np.uint8)
    features = extract(images)
    assert features.shape == (5, 2048) and features.dtype == np.float32 and np.isfinite(features).all()
    # The same as pytorch-fid's own network on the images in [0, 1], tiled to three channels.
    network = fid.InceptionV3([3]).eval()  # finds the random weights in the hub cache
    with torch.no_grad():
        x = torch.from_numpy(images).float().div(255)[:, None].repeat(1, 3, 1, 1)
        expected = network(x)[0].flatten(1).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(extract(images[2:4]), features[2:4], rtol=1e-4, atol=1e-5)  # per image
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    other = extract(np.full((5, 32, 32), 255, np.uint8))
    assert frechet_distance(features, other) > 0


def test_the_paper_profile_stops_on_inception_fid_and_keeps_the_in_domain_distance_beside(
    random_weights: Path,
) -> None:
    from synthmed.gan.frechet import DownsampledPixels
    from synthmed.generators import fd_setup

    domain = DownsampledPixels(4)
    paper = fd_setup("paper", domain, device="cpu")
    assert paper["extractor"].name == inception.NAME and paper["monitors"] == {"domain": domain}
    assert paper["fd_reals"] == "fresh"
    for profile in ("cpu", "tiny"):
        assert fd_setup(profile, domain, device="cpu") == {"extractor": domain, "monitors": None, "fd_reals": "fixed"}
