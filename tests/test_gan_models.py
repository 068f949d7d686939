"""The two GANs' layers, networks, growing schedule, losses and settings (no training)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from synthmed.gan import losses
from synthmed.gan.config import GANConfig, build
from synthmed.gan.layers import (
    ConditionalPixelNorm,
    DiscriminatorOutput,
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    downsample_box,
    downsample_fir,
    pixel_norm,
    upsample_fir,
    upsample_nearest,
)
from synthmed.gan.progan import fade_reals, full_resolution_kimg, lod_at, resolution_at

torch.set_num_threads(1)

N_LABELS = 5


def _labels(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, N_LABELS, generator=g) < 0.4).float()
    y[:, 0] = 1.0  # no empty rows
    return y


def _z(n: int, latent: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))


def _tiny(arch: str, resolution: int) -> tuple[GANConfig, torch.nn.Module, torch.nn.Module]:
    config = GANConfig.tiny(arch, resolution, N_LABELS)
    G, D = build(config, seed=1)
    return config, G.eval(), D.eval()


# ----------------------------------------------------------------------------
# Layers.


def test_equalized_linear_stores_unit_normal_weights_and_scales_them_at_run_time() -> None:
    torch.manual_seed(0)
    layer = EqualizedLinear(2048, 256, gain=1.0, bias_init=0.5)
    assert abs(layer.weight.std().item() - 1.0) < 0.02
    x = torch.randn(64, 2048)
    expected = x @ (layer.weight / math.sqrt(2048)).T + 0.5
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    # Unit-variance input -> output variance gain^2 (here 1) around the bias.
    assert abs((layer(x) - 0.5).std().item() - 1.0) < 0.1


def test_equalized_lr_multiplier_divides_the_stored_weight_but_not_the_effective_one() -> None:
    torch.manual_seed(0)
    layer = EqualizedLinear(1024, 128, gain=1.0, lr_multiplier=0.01, bias_init=2.0)
    assert abs(layer.weight.std().item() - 100.0) < 3.0  # stored N(0, 1) / 0.01
    effective = layer.weight * layer.weight_gain
    assert abs(effective.std().item() - 1 / math.sqrt(1024)) < 1e-3
    torch.testing.assert_close(layer(torch.zeros(1, 1024)), torch.full((1, 128), 2.0))


def test_equalized_conv_uses_he_gain_over_fan_in() -> None:
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 32, 3)  # default gain sqrt(2)
    x = torch.randn(8, 64, 16, 16)
    expected = F.conv2d(x, conv.weight * math.sqrt(2) / math.sqrt(64 * 9), conv.bias, padding=1)
    out = conv(x)
    assert out.shape == (8, 32, 16, 16)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert abs(out[:, :, 1:-1, 1:-1].var().item() - 2.0) < 0.2  # gain^2 away from the zero-padded border


def test_pixel_norm_gives_unit_rms_per_pixel() -> None:
    x = torch.randn(3, 7, 4, 4) * 5 + 1
    rms = pixel_norm(x).square().mean(dim=1).sqrt()
    torch.testing.assert_close(rms, torch.ones(3, 4, 4))


def test_conditional_pixel_norm_scales_and_shifts_by_projections_of_the_condition() -> None:
    torch.manual_seed(0)
    cpn = ConditionalPixelNorm(channels=6, cond_features=10)
    x = torch.randn(4, 6, 3, 3)
    cond = pixel_norm(torch.randn(4, 10))
    gamma = cpn.gamma(cond)[:, :, None, None]
    beta = cpn.beta(cond)[:, :, None, None]
    torch.testing.assert_close(cpn(x, cond), pixel_norm(x) * gamma + beta)
    assert not torch.allclose(cpn(x, cond), cpn(x, pixel_norm(torch.randn(4, 10))))
    # gamma starts around 1 and beta around 0.
    big = ConditionalPixelNorm(channels=512, cond_features=64)
    c = pixel_norm(torch.randn(256, 64))
    assert abs(big.gamma(c).mean().item() - 1.0) < 0.1
    assert abs(big.beta(c).mean().item()) < 0.1


def _pggan_mbstd(x: torch.Tensor, group: int) -> torch.Tensor:
    """PGGAN's minibatch_stddev_layer, transcribed (needs N divisible by the group)."""
    N, C, H, W = x.shape
    y = x.reshape(group, -1, 1, C, H, W)
    y = y - y.mean(dim=0, keepdim=True)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()
    y = y.mean(dim=(2, 3, 4), keepdim=True).mean(dim=2)  # [M, 1, 1, 1]
    y = y.repeat(group, 1, H, W)
    return torch.cat([x, y], dim=1)


def test_minibatch_stddev_matches_pggan_when_the_group_divides_the_batch() -> None:
    x = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    out = MinibatchStddev(group_size=4)(x)
    assert out.shape == (8, 4, 4, 4)
    torch.testing.assert_close(out[:, :3], x)
    torch.testing.assert_close(out, _pggan_mbstd(x, 4))


def test_minibatch_stddev_handles_batches_not_divisible_by_the_group() -> None:
    x = torch.randn(6, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    out = MinibatchStddev(group_size=4)(x)  # 2 groups: samples {0, 2, 4} and {1, 3, 5}
    assert out.shape == (6, 3, 3, 3)
    for members in ([0, 2, 4], [1, 3, 5]):
        group = x[members]
        std = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        for i in members:
            torch.testing.assert_close(out[i, 2], torch.full((3, 3), std.item()))
    # A batch of one has no spread: the feature is sqrt(eps).
    single = MinibatchStddev(group_size=4)(x[:1])
    torch.testing.assert_close(single[0, 2], torch.full((3, 3), 1e-4))


def test_resampling_helpers_preserve_constants_and_invert_each_other() -> None:
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    up = upsample_nearest(x)
    assert up.shape == (2, 3, 16, 16)
    torch.testing.assert_close(downsample_box(up), x)
    ones = torch.ones(1, 2, 8, 8)
    torch.testing.assert_close(upsample_fir(ones)[:, :, 1:-1, 1:-1], torch.ones(1, 2, 14, 14))
    torch.testing.assert_close(downsample_fir(ones)[:, :, 1:-1, 1:-1], torch.ones(1, 2, 2, 2))
    assert upsample_fir(x).shape == (2, 3, 16, 16) and downsample_fir(x).shape == (2, 3, 4, 4)


# ----------------------------------------------------------------------------
# Growing schedule.


def test_lod_schedule_at_known_kimg() -> None:
    # paper-spec §3.2, 32x32: 1400 kimg per level and per fade-in, from 8x8 (lod 2).
    expected = {0: 2.0, 1400: 2.0, 2100: 1.5, 2800: 1.0, 4200: 1.0, 4550: 0.75, 5600: 0.0, 12_000: 0.0}
    for kimg, lod in expected.items():
        assert lod_at(kimg, 32, 1400, 1400) == pytest.approx(lod), kimg
    # 64x64 and 128x128: 1000/1000, full resolution reached at 6000 and 8000 kimg (paper-spec §3.2 table).
    assert lod_at(0, 64, 1000, 1000) == 3.0
    assert lod_at(5500, 64, 1000, 1000) == pytest.approx(0.5)
    assert lod_at(6000, 64, 1000, 1000) == 0.0
    assert lod_at(7999, 128, 1000, 1000) > 0.0 and lod_at(8000, 128, 1000, 1000) == 0.0
    assert [full_resolution_kimg(r, k, k) for r, k in ((32, 1400), (64, 1000), (128, 1000))] == [5600, 6000, 8000]
    assert resolution_at(1.5, 32) == 16 and resolution_at(2.0, 32) == 8 and resolution_at(0.0, 32) == 32
    with pytest.raises(ValueError, match="resolution"):
        lod_at(0, 48, 1400, 1400)


def test_minibatch_follows_the_current_resolution() -> None:
    config = GANConfig.paper("progan", 32, 14)
    assert [config.minibatch_at(config.lod(k)) for k in (0, 2100, 3000, 6000)] == [256, 128, 128, 64]
    assert GANConfig.paper("cpdgan", 32, 14).lod(100) == 0.0


# ----------------------------------------------------------------------------
# Networks.


@pytest.mark.parametrize("resolution", [16, 32, 64])
@pytest.mark.parametrize("arch", ["progan", "cpdgan"])
def test_shapes_and_value_ranges(arch: str, resolution: int) -> None:
    config, G, D = _tiny(arch, resolution)
    n = 6  # not a multiple of the minibatch-stddev group
    y = _labels(n)
    lods = [0.0, 0.5, float(G.max_lod)] if arch == "progan" else [0.0]
    with torch.no_grad():
        for lod in lods:
            images = G(_z(n, config.latent), y, lod)
            assert images.shape == (n, 1, resolution, resolution)
            assert torch.isfinite(images).all()
            # Equalised LR keeps the untrained output at unit scale, not exploding or vanishing.
            assert 0.05 < images.std().item() < 10.0, (lod, images.std().item())
            out = D(images, y, lod=lod)
            assert isinstance(out, DiscriminatorOutput)
            assert out.score.shape == (n,) and torch.isfinite(out.score).all()
            if arch == "progan":
                assert out.label_logits is not None and out.label_logits.shape == (n, N_LABELS)
            else:
                assert out.label_logits is None


@pytest.mark.parametrize("arch", ["progan", "cpdgan"])
def test_label_vector_changes_the_generated_image(arch: str) -> None:
    config, G, D = _tiny(arch, 16)
    z = _z(4, config.latent)
    y = _labels(4)
    y_other = y.clone()
    y_other[:, 1] = 1 - y_other[:, 1]
    with torch.no_grad():
        a, b = G(z, y), G(z, y_other)
        assert (a - b).abs().mean() > 1e-3 * a.abs().mean()
        torch.testing.assert_close(G(z, y), a)  # deterministic given z and y
        if arch == "cpdgan":  # projection D: the score depends on the labels
            assert not torch.allclose(D(a, y).score, D(a, y_other).score)


def test_progan_generator_fade_in_blends_the_two_levels_with_the_scheduled_alpha() -> None:
    config, G, _ = _tiny("progan", 16)
    z, y = _z(4, config.latent), _labels(4)
    with torch.no_grad():
        full, coarse = G(z, y, 0.0), G(z, y, 1.0)
        # At lod 1 the image is the 8x8 level's, pixel-repeated.
        torch.testing.assert_close(coarse, upsample_nearest(downsample_box(coarse)))
        assert not torch.allclose(full, upsample_nearest(downsample_box(full)))
        torch.testing.assert_close(G(z, y, 0.5), 0.5 * full + 0.5 * coarse)
        # Mid-transition kimg from the tiny schedule (0.25 kimg per level and per fade-in): lod 0.8.
        lod = config.lod(0.3)
        assert lod == pytest.approx(0.8)
        torch.testing.assert_close(G(z, y, lod), (1 - lod) * full + lod * coarse)


def test_progan_discriminator_fade_in_is_continuous_at_both_ends() -> None:
    _, _, D = _tiny("progan", 16)
    images = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        at0, at1 = D(images, lod=0.0).score, D(images, lod=1.0).score
        torch.testing.assert_close(D(images, lod=1e-6).score, at0, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(D(images, lod=1 - 1e-6).score, at1, rtol=1e-4, atol=1e-5)
        mid = D(images, lod=0.5).score
        assert not torch.allclose(mid, at0) and not torch.allclose(mid, at1)
        # At lod 1 D only sees the 8x8 image.
        torch.testing.assert_close(D(fade_reals(images, 1.0), lod=1.0).score, at1)


def test_fade_reals_blends_real_images_like_the_networks() -> None:
    images = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(fade_reals(images, 0.0), images)
    coarse = fade_reals(images, 1.0)
    torch.testing.assert_close(coarse, upsample_nearest(downsample_box(images)))
    torch.testing.assert_close(fade_reals(images, 0.25), 0.75 * images + 0.25 * coarse)


def test_bad_inputs_are_refused_with_the_expected_shape() -> None:
    config, G, D = _tiny("progan", 16)
    with pytest.raises(ValueError, match="lod must lie in"):
        G(_z(2, config.latent), _labels(2), 2.5)
    with pytest.raises(ValueError, match=r"labels \[N, 5\]"):
        G(_z(2, config.latent), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"images \[N, 1, 16, 16\]"):
        D(torch.zeros(2, 1, 8, 8))
    config, G, D = _tiny("cpdgan", 16)
    with pytest.raises(ValueError, match="does not grow"):
        G(_z(2, config.latent), _labels(2), 1.0)


def test_parameter_counts_at_paper_widths() -> None:
    L = 14
    G, D = build(GANConfig.paper("progan", 32, L))
    conv512 = 512 * 512 * 9 + 512
    # PGGAN G at 32x32, all levels 512 wide: dense to 4x4, 7 convs (1 at 4x4, 2 per level above), 4 toRGBs.
    expected_g = (512 + L) * 512 * 16 + 512 * 16 + 7 * conv512 + 4 * (512 + 1)
    # D: 4 fromRGBs, 6 convs in the 8..32 levels, then conv on 513 maps, dense 8192 -> 512, dense 512 -> 1 + L.
    expected_d = 4 * (512 + 512) + 6 * conv512 + (513 * 512 * 9 + 512) + (8192 * 512 + 512) + (512 * (1 + L) + 1 + L)
    assert sum(p.numel() for p in G.parameters()) == expected_g  # about 20.8M
    assert sum(p.numel() for p in D.parameters()) == expected_d
    G, D = build(GANConfig.paper("cpdgan", 32, L))
    # cpD-GAN adds gamma/beta projections (2 x (526 x 512 + 512)) to each of its 8 normalised layers.
    cpn = 2 * ((512 + L) * 512 + 512)
    expected_g = (512 + L) * 512 * 16 + 512 * 16 + 7 * conv512 + 4 * (512 + 1) + 8 * cpn
    assert sum(p.numel() for p in G.parameters()) == expected_g  # about 25.2M
    assert 15e6 < sum(p.numel() for p in D.parameters()) < 30e6


# ----------------------------------------------------------------------------
# Losses.


class _LinearCritic(torch.nn.Module):
    """D(x) = <w, x> with label logits <V, x>: grad_x D = w everywhere."""

    def __init__(self, w: torch.Tensor, v: torch.Tensor | None) -> None:
        super().__init__()
        self.w, self.v = w, v

    def forward(self, images: torch.Tensor, labels: torch.Tensor, lod: float = 0.0) -> DiscriminatorOutput:
        flat = images.flatten(1)
        return DiscriminatorOutput(flat @ self.w, None if self.v is None else flat @ self.v)


def test_gradient_penalty_and_drift_match_hand_computed_values() -> None:
    w = torch.zeros(4)
    w[0], w[3] = 2.0, math.sqrt(5.0)  # ||w|| = 3
    critic = _LinearCritic(w, None)
    reals = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 1.0]]).view(2, 1, 2, 2)  # scores 2, sqrt 5
    fakes = torch.zeros(2, 1, 2, 2)  # scores 0
    labels = torch.ones(2, 3)
    gp, norms = losses.gradient_penalty(critic, reals, fakes, labels, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(norms, torch.full((2,), 3.0))
    torch.testing.assert_close(gp, torch.full((2,), 4.0))  # (3 - 1)^2
    gp2, _ = losses.gradient_penalty(critic, reals, fakes, labels, target=2.0)
    torch.testing.assert_close(gp2, torch.full((2,), 0.25))  # (3 - 2)^2 / 2^2
    loss, stats = losses.discriminator_loss(critic, reals, fakes, labels, ac_weight=0.0)
    # fake - real + 10 * 4 + 0.001 * real^2
    expected = torch.tensor([0 - 2 + 40 + 0.001 * 4, 0 - math.sqrt(5) + 40 + 0.001 * 5])
    torch.testing.assert_close(loss, expected)
    assert stats["Loss/D/gp"].item() == pytest.approx(4.0)
    assert stats["Loss/D/drift"].item() == pytest.approx(4.5)
    assert "Loss/D/ac_real" not in stats


def test_gradient_penalty_is_taken_at_the_interpolates() -> None:
    class HalfSquare(torch.nn.Module):  # D(x) = ||x||^2 / 2, so grad = x
        def forward(self, images, labels, lod=0.0):  # noqa: ANN001, ANN202
            return DiscriminatorOutput(0.5 * images.flatten(1).square().sum(1), None)

    reals = torch.tensor([3.0, 4.0, 0.0, 0.0]).view(1, 1, 2, 2)
    _, norms = losses.gradient_penalty(HalfSquare(), reals, reals.clone(), torch.ones(1, 2))
    torch.testing.assert_close(norms, torch.tensor([5.0]))  # interpolate of equal images is the image
    # Toward an all-zero fake the interpolate is (1 - u) * reals, u the generator's first draw.
    u = torch.rand(1, generator=torch.Generator().manual_seed(9)).item()
    fakes = torch.zeros_like(reals)
    _, norms = losses.gradient_penalty(
        HalfSquare(), reals, fakes, torch.ones(1, 2), generator=torch.Generator().manual_seed(9)
    )
    torch.testing.assert_close(norms, torch.tensor([5.0 * (1 - u)]))


def test_auxiliary_classifier_loss_uses_labels_normalised_to_sum_one() -> None:
    logits = torch.tensor([[0.0, 0.0, math.log(2.0)], [1.0, 2.0, 3.0]])  # row 0: softmax (1/4, 1/4, 1/2)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    ce = losses.label_cross_entropy(logits, labels)
    # -(1/2) ln(1/4) - (1/2) ln(1/2) = 1.5 ln 2; an all-zero row has no target and costs 0.
    torch.testing.assert_close(ce, torch.tensor([1.5 * math.log(2.0), 0.0]))

    v = torch.zeros(4, 3)
    v[0, 2] = math.log(2.0)  # first pixel drives the third logit
    critic = _LinearCritic(torch.zeros(4), v)
    images = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)  # logits (0, 0, ln 2)
    loss, stats = losses.generator_loss(critic, images, labels[:1])
    torch.testing.assert_close(loss, torch.tensor([1.5 * math.log(2.0)]))  # -D = 0, plus CE
    loss_d, stats_d = losses.discriminator_loss(critic, images, images.clone(), labels[:1], gp_lambda=0.0)
    torch.testing.assert_close(loss_d, torch.tensor([2 * 1.5 * math.log(2.0)]))  # reals and fakes
    assert stats_d["Loss/D/ac_real"].item() == pytest.approx(1.5 * math.log(2.0))
    with pytest.raises(ValueError, match="label logits"):
        losses.generator_loss(_LinearCritic(torch.zeros(4), None), images, labels[:1])


@pytest.mark.parametrize("arch", ["progan", "cpdgan"])
def test_losses_train_the_right_network(arch: str) -> None:
    config, G, D = _tiny(arch, 16)
    n, lod = 4, (0.5 if arch == "progan" else 0.0)
    y = _labels(n)
    reals = fade_reals(torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1, lod)
    fakes = G(_z(n, config.latent), y, lod)
    loss, stats = losses.discriminator_loss(D, reals, fakes, y, lod=lod, ac_weight=config.ac_weight)
    loss.mean().backward()
    assert all(p.grad is None for p in G.parameters())  # D's step leaves G alone
    unused = {name for name, p in D.named_parameters() if p.grad is None}
    # At lod 0.5 of 16x16 the 4x4 level's fromRGB is the only part of D not on the path.
    assert unused == ({"from_rgb.0.weight", "from_rgb.0.bias"} if arch == "progan" else set())
    assert torch.isfinite(stats["Loss/D/loss"]) and stats["Loss/D/gp"] >= 0
    D.zero_grad(set_to_none=True)
    loss, stats = losses.generator_loss(D, G(_z(n, config.latent, 1), y, lod), y, lod=lod, ac_weight=config.ac_weight)
    loss.mean().backward()
    assert sum(p.grad.abs().sum() for p in G.parameters() if p.grad is not None) > 0
    assert ("Loss/G/ac" in stats) == (arch == "progan")


# ----------------------------------------------------------------------------
# Settings and the factory.


def test_paper_settings() -> None:
    pro = GANConfig.paper("progan", 32, 14)
    assert (pro.lr, pro.latent, pro.fmap_base, pro.fmap_max, pro.ac_weight) == (0.001, 512, 8192, 512, 1.0)
    assert pro.minibatch == {8: 256, 16: 128, 32: 64}
    assert (pro.total_kimg, pro.min_fid_kimg, pro.fid_every_kimg, pro.patience) == (12_000, 7_000, 400, 2)
    assert pro.full_resolution_kimg() == 5600
    assert (pro.betas, pro.eps, pro.ema_beta, pro.gp_lambda, pro.drift_weight) == ((0.0, 0.99), 1e-8, 0.999, 10, 0.001)
    cpd = GANConfig.paper("cpdgan", 128, 6)
    assert (cpd.lr, cpd.fmap_base, cpd.minibatch, cpd.ac_weight) == (0.005, 16384, {128: 256}, 0.0)
    assert (cpd.total_kimg, cpd.min_fid_kimg, cpd.fid_every_kimg) == (16_000, 9_000, 240)
    assert GANConfig.paper("progan", 64, 6).minibatch[64] == 32
    with pytest.raises(ValueError, match="presets"):
        GANConfig.paper("progan", 16, 6)


def test_profiles_are_narrow_and_valid() -> None:
    for make in (GANConfig.cpu, GANConfig.tiny):
        for arch in ("progan", "cpdgan"):
            config = make(arch, 32, N_LABELS)
            G, D = build(config)
            assert sum(p.numel() for p in G.parameters()) < 400_000
            assert config.total_kimg > config.min_fid_kimg >= config.full_resolution_kimg()
    for make in (GANConfig.paper, GANConfig.cpu, GANConfig.tiny):  # the paper gives both GANs one schedule length
        for resolution in (32, 64):
            prog, cpd = make("progan", resolution, N_LABELS), make("cpdgan", resolution, N_LABELS)
            assert (cpd.total_kimg, cpd.min_fid_kimg) == (prog.total_kimg, prog.min_fid_kimg)
            assert cpd.full_resolution_kimg() == 0 < prog.full_resolution_kimg()
    cpu = GANConfig.cpu("progan", 32, N_LABELS)
    assert build(cpu)[0].blocks[-1].conv1.out_channels == 16  # 16 channels at 32x32


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"GANConfig.resolution = 48"):
        GANConfig.tiny("progan", 48, 3)
    with pytest.raises(ValueError, match=r"GANConfig.arch"):
        GANConfig(
            arch="dcgan",
            resolution=32,
            n_labels=3,
            latent=8,
            fmap_base=64,
            fmap_max=8,
            lr=1e-3,
            minibatch={32: 8},
            total_kimg=1,
            min_fid_kimg=0,
            fid_every_kimg=1,
        )
    with pytest.raises(ValueError, match=r"GANConfig.minibatch"):
        GANConfig(
            arch="progan",
            resolution=32,
            n_labels=3,
            latent=8,
            fmap_base=64,
            fmap_max=8,
            lr=1e-3,
            minibatch={32: 8},
            total_kimg=1,
            min_fid_kimg=0,
            fid_every_kimg=1,
            lod_train_kimg=1,
        )
    with pytest.raises(ValueError, match=r"GANConfig.ac_weight"):
        GANConfig(
            arch="cpdgan",
            resolution=32,
            n_labels=3,
            latent=8,
            fmap_base=64,
            fmap_max=8,
            lr=1e-3,
            minibatch={32: 8},
            total_kimg=1,
            min_fid_kimg=0,
            fid_every_kimg=1,
            ac_weight=1.0,
        )


def test_config_round_trips_through_json() -> None:
    config = GANConfig.cpu("progan", 64, 6)
    again = GANConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(ValueError, match="unknown fields"):
        GANConfig.from_dict({**config.to_dict(), "colour": 1})


def test_build_is_seeded_and_leaves_the_global_rng_alone() -> None:
    config = GANConfig.tiny("cpdgan", 16, N_LABELS)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    G1, _ = build(config, seed=7)
    after = torch.rand(1)
    torch.testing.assert_close(before, after)
    G2, _ = build(config, seed=7)
    G3, _ = build(config, seed=8)
    w1, w2, w3 = (next(g.parameters()) for g in (G1, G2, G3))
    torch.testing.assert_close(w1, w2)
    assert not torch.allclose(w1, w3)
