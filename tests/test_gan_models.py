"""The two GANs' layers, networks, growing schedule, losses and settings (no training)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from synthmed.gan import cpdgan, losses, progan
from synthmed.gan.config import GANConfig, build
from synthmed.gan.cpdgan import RESAMPLE_GAIN, CpdConvLayer, CpdDiscriminator, CpdGenerator, CpdResBlock
from synthmed.gan.layers import (
    ConditionalPixelNorm,
    DiscriminatorOutput,
    EqualizedConv2d,
    EqualizedDownConv2d,
    EqualizedLinear,
    EqualizedUpConv2d,
    MinibatchStddev,
    downsample_box,
    pixel_norm,
    shift_sum_kernel,
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


def test_conditional_pixel_norm_projects_the_raw_condition_with_zero_initial_bias() -> None:
    torch.manual_seed(0)
    cpn = ConditionalPixelNorm(channels=6, cond_features=10)
    # conditional_pixel_norm: gamma and beta are dense layers (gain 1) whose biases start at 0.
    assert torch.equal(cpn.gamma.bias, torch.zeros(6)) and torch.equal(cpn.beta.bias, torch.zeros(6))
    x = torch.randn(4, 6, 3, 3)
    cond = torch.randn(4, 10) * 3  # not unit RMS
    gamma = (cond @ cpn.gamma.weight.T / math.sqrt(10))[:, :, None, None]
    beta = (cond @ cpn.beta.weight.T / math.sqrt(10))[:, :, None, None]
    torch.testing.assert_close(cpn(x, cond), pixel_norm(x) * gamma + beta)
    # The projections see the condition as given: scaling it scales gamma and beta (a pixel norm
    # of the condition would have undone the scaling).
    torch.testing.assert_close(cpn(x, 2 * cond), pixel_norm(x) * 2 * gamma + 2 * beta)
    assert not torch.allclose(cpn(x, 2 * cond), cpn(x, cond))
    torch.testing.assert_close(cpn(x, torch.zeros(4, 10)), torch.zeros_like(x))  # gamma starts at 0, not 1
    # With a unit-variance condition both start at 0 +- 1.
    big = ConditionalPixelNorm(channels=512, cond_features=64)
    c = torch.randn(256, 64)
    for proj in (big.gamma(c), big.beta(c)):
        assert abs(proj.mean().item()) < 0.05 and abs(proj.std().item() - 1.0) < 0.05


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


def _repeat_pixels(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """PGGAN's upscale2d (tile each pixel factor x factor times), the reference for upsample_nearest."""
    return x.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def test_resampling_helpers_on_a_known_input() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    expected = torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]).view(1, 1, 4, 4)
    assert torch.equal(upsample_nearest(x), expected)
    assert torch.equal(downsample_box(x), torch.tensor(2.5).view(1, 1, 1, 1))
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    up = upsample_nearest(x)
    assert up.shape == (2, 3, 16, 16)
    torch.testing.assert_close(downsample_box(up), x)


def test_upsample_nearest_is_bit_identical_to_repeating_pixels() -> None:
    # prog-GAN relied on repeat_interleave; interpolate must give the same bits at every factor it uses.
    x = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(2))
    for factor in (1, 2, 3, 4, 8, 16, 32):
        assert torch.equal(upsample_nearest(x, factor), _repeat_pixels(x, factor)), factor
    assert torch.equal(upsample_nearest(x.bfloat16(), 4), _repeat_pixels(x.bfloat16(), 4))
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(upsample_nearest(cl, 8), _repeat_pixels(x, 8))


def test_progan_is_unchanged_by_the_interpolate_upsampling(monkeypatch: pytest.MonkeyPatch) -> None:
    config, G, D = _tiny("progan", 32)
    z, y = _z(6, config.latent), _labels(6)
    lods = [0.0, 0.3, 1.0, 1.7, float(G.max_lod)]

    def run() -> list[torch.Tensor]:
        out = []
        with torch.no_grad():
            for lod in lods:
                images = G(z, y, lod)
                scores = D(images, y, lod=lod)
                out += [images, fade_reals(images, lod), scores.score, scores.label_logits]
        return out

    now = run()
    monkeypatch.setattr(progan, "upsample_nearest", _repeat_pixels)
    before = run()  # prog-GAN with the old repeat_interleave up-sampling
    assert all(torch.equal(a, b) for a, b in zip(now, before, strict=True))


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
    # cpD-GAN adds gamma/beta projections (2 x (526 x 512 + 512)) to each of its 8 normalised layers;
    # its 4x4 dense layer has one bias per channel (apply_bias after the reshape), not per output.
    cpn = 2 * ((512 + L) * 512 + 512)
    expected_g = (512 + L) * 512 * 16 + 512 + 7 * conv512 + 4 * (512 + 1) + 8 * cpn
    assert sum(p.numel() for p in G.parameters()) == expected_g  # about 25.2M
    assert 15e6 < sum(p.numel() for p in D.parameters()) < 30e6


# ----------------------------------------------------------------------------
# cpD-GAN against the original TensorFlow code (GAN_cpd/networks.py of
# AugustDS/synthetic-medical-benchmark): G_paper, D_paper and their helpers, transcribed below.
# Weights are handled in TF's layouts: dense [in, out], conv2d [k, k, in, out], and
# conv2d_transpose [k, k, out, in] (upscale2d_conv2d's get_weight shape).


def _tf_lrelu(x: torch.Tensor) -> torch.Tensor:
    return torch.maximum(x * 0.2, x)  # leaky_relu: slope 0.2, no gain


def _tf_get_weight(layer: torch.nn.Module, gain: float) -> torch.Tensor:
    """get_weight(shape, gain, use_wscale=True) with the layer's N(0, 1) weight in TF's layout.

    Ours are stored [out, in] (dense), [out, in, k, k] (conv) and [in, out, k, k] (transposed conv);
    each is TF's shape reversed, so one permutation serves the convs. fan_in = prod(shape[:-1]) of
    the TF shape, as there.
    """
    w = layer.weight.T if layer.weight.ndim == 2 else layer.weight.permute(2, 3, 1, 0)
    return w * (gain / math.sqrt(math.prod(w.shape[:-1])))


def _tf_bias(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return x + (b if x.ndim == 2 else b.view(1, -1, 1, 1))  # apply_bias


def _tf_conv2d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding='SAME', data_format='NCHW'); w: [k, k, in, out], k odd."""
    return F.conv2d(x, w.permute(3, 2, 0, 1), padding=w.shape[0] // 2)


def _tf_fuse(w: torch.Tensor) -> torch.Tensor:
    """tf.pad(w, [[1, 1], [1, 1], [0, 0], [0, 0]]), then add_n of w[1:, 1:], w[:-1, 1:], w[1:, :-1], w[:-1, :-1]."""
    k, _, a, b = w.shape
    p = torch.zeros(k + 2, k + 2, a, b, dtype=w.dtype)
    p[1:-1, 1:-1] = w
    return p[1:, 1:] + p[:-1, 1:] + p[1:, :-1] + p[:-1, :-1]


def _tf_upscale2d_conv2d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """upscale2d_conv2d after get_weight; w: [k, k, fmaps_out, fmaps_in].

    tf.nn.conv2d_transpose(x, fused w, [N, fmaps_out, 2H, 2W], strides 2, 'SAME'): TF's transposed-conv
    filter [k, k, out, in] is PyTorch's [in, out, k, k] (both are the adjoint of a correlation, so no
    mirroring), and 'SAME' pads (k + 1 - 2) / 2 on each side: 1 for k = 3.
    """
    fused = _tf_fuse(w)  # [k + 1, k + 1, out, in]
    return F.conv_transpose2d(x, fused.permute(3, 2, 0, 1), stride=2, padding=(fused.shape[0] - 2) // 2)


def _tf_conv2d_downscale2d(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """conv2d_downscale2d after get_weight; w: [k, k, fmaps_in, fmaps_out].

    tf.nn.conv2d(x, fused w * 0.25, strides 2, 'SAME'), which for an even input pads (k + 1 - 2) / 2
    on each side: 1 for k = 3, 0 for k = 1.
    """
    fused = _tf_fuse(w) * 0.25  # [k + 1, k + 1, in, out]
    return F.conv2d(x, fused.permute(3, 2, 0, 1), stride=2, padding=(fused.shape[0] - 2) // 2)


def _randomise_biases(*modules: torch.nn.Module) -> None:
    """Every bias starts at 0; give them values so that where each is added shows."""
    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for module in modules:
            for name, p in module.named_parameters():
                if name.endswith("bias"):
                    p.copy_(torch.randn(p.shape, generator=g))


def _g_paper(G: CpdGenerator, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """G_paper(architecture='skip') with G's parameters; TF weight shapes give the fan-ins."""
    combo = torch.cat([z, labels], dim=1)  # combo_in

    def pn(x: torch.Tensor) -> torch.Tensor:  # pixel_norm
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)

    def cpn(norm: ConditionalPixelNorm, x: torch.Tensor) -> torch.Tensor:  # conditional_pixel_norm(x, combo_in)
        beta = _tf_bias(combo @ _tf_get_weight(norm.beta, 1.0), norm.beta.bias)
        gamma = _tf_bias(combo @ _tf_get_weight(norm.gamma, 1.0), norm.gamma.bias)
        return pn(x) * gamma[:, :, None, None] + beta[:, :, None, None]

    def conv(layer: EqualizedConv2d, x: torch.Tensor) -> torch.Tensor:  # conv2d_layer, gain 1, + apply_bias
        return _tf_bias(_tf_conv2d(x, _tf_get_weight(layer, 1.0)), layer.bias)

    c4 = G.c4
    x = pn(combo) @ _tf_get_weight(G.dense, 1.0)  # '4x4/Dense': normalize_latents, dense_layer
    x = cpn(G.dense_norm, _tf_lrelu(_tf_bias(x.view(-1, c4, 4, 4), G.dense_bias)))
    x = cpn(G.conv4.norm, _tf_lrelu(conv(G.conv4.conv, x)))  # '4x4/Conv'
    y = conv(G.to_rgb[0], x)  # torgb
    for k, (conv0, conv1) in enumerate(G.blocks, start=1):
        # 'Conv0_up': upscale2d_conv2d with its default gain sqrt(2); the TF weight is
        # [3, 3, fmaps_out, fmaps_in], so get_weight's fan_in is 9 * C_out.
        w = _tf_get_weight(conv0.conv, math.sqrt(2))
        x = cpn(conv0.norm, _tf_lrelu(_tf_bias(_tf_upscale2d_conv2d(x, w), conv0.conv.bias)))
        x = cpn(conv1.norm, _tf_lrelu(conv(conv1.conv, x)))  # 'Conv1'
        y = _repeat_pixels(y) + conv(G.to_rgb[k], x)  # upscale2d(y) + torgb
    return y


def _d_paper(D: CpdDiscriminator, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """D_paper(architecture='resnet') with D's parameters (N must be a multiple of 4)."""

    def conv(layer: EqualizedConv2d, x: torch.Tensor) -> torch.Tensor:
        return _tf_bias(_tf_conv2d(x, _tf_get_weight(layer, 1.0)), layer.bias)

    def dense(layer: EqualizedLinear, x: torch.Tensor) -> torch.Tensor:
        return _tf_bias(x @ _tf_get_weight(layer, 1.0), layer.bias)

    x = _tf_lrelu(conv(D.from_rgb, images))  # fromrgb
    for block in D.blocks:
        t = x
        x = _tf_lrelu(conv(block.conv0, x))  # 'Conv0'
        w = _tf_get_weight(block.conv1, math.sqrt(2))  # 'Conv1_down': conv2d_downscale2d, default gain sqrt(2)
        x = _tf_lrelu(_tf_bias(_tf_conv2d_downscale2d(x, w), block.conv1.bias))
        t = _tf_conv2d_downscale2d(t, _tf_get_weight(block.skip, math.sqrt(2)))  # 'Skip': kernel 1, no bias
        x = (x + t) * (1 / math.sqrt(2))
    x = _pggan_mbstd(x, 4)  # '4x4/MinibatchStddev'
    x = _tf_lrelu(conv(D.conv4, x))  # '4x4/Conv'
    x = _tf_lrelu(dense(D.dense, x.flatten(1)))  # '4x4/Dense0'
    return (dense(D.out, x) * labels).sum(dim=1)  # 'Output'


@pytest.mark.parametrize("resolution", [8, 32])
def test_cpdgan_matches_a_transcription_of_the_original(resolution: int) -> None:
    config, G, D = _tiny("cpdgan", resolution)
    _randomise_biases(G, D)
    z, y = _z(8, config.latent), _labels(8)
    with torch.no_grad():
        images = G(z, y)
        torch.testing.assert_close(images, _g_paper(G, z, y), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(D(images, y).score, _d_paper(D, images, y), rtol=1e-4, atol=1e-4)


def test_cpdgan_layer_gains_and_biases_follow_the_original() -> None:
    config, G, D = _tiny("cpdgan", 32)  # widths 32, 32, 16, 8: the up-convs change width
    nc = config.latent + N_LABELS
    s2 = math.sqrt(2)

    def check(layer: torch.nn.Module, gain: float, fan_in: int) -> None:
        assert layer.weight_gain == pytest.approx(gain / math.sqrt(fan_in)), layer
        assert layer.bias is None or torch.equal(layer.bias, torch.zeros_like(layer.bias)), layer

    check(G.dense, 1.0, nc)
    assert G.dense.bias is None and torch.equal(G.dense_bias, torch.zeros(G.c4))  # one bias per 4x4 channel
    norms = [m for m in G.modules() if isinstance(m, ConditionalPixelNorm)]
    assert len(norms) == 2 + 2 * len(G.blocks)
    for norm in norms:
        check(norm.gamma, 1.0, nc)
        check(norm.beta, 1.0, nc)
    check(G.conv4.conv, 1.0, 9 * G.c4)
    quirk_seen = False
    for (conv0, conv1), to_rgb in zip(G.blocks, G.to_rgb[1:], strict=True):
        c_in, c_out = conv0.conv.in_channels, conv0.conv.out_channels
        assert isinstance(conv0.conv, EqualizedUpConv2d)
        assert conv0.conv.weight.shape == (c_in, c_out, 3, 3)  # TF's [3, 3, fmaps_out, fmaps_in] transposed
        check(conv0.conv, s2, 9 * c_out)  # upscale2d_conv2d: fan_in from [k, k, fmaps_out, fmaps_in]
        quirk_seen |= c_in != c_out
        check(conv1.conv, 1.0, 9 * c_out)
        check(to_rgb, 1.0, c_out)
    assert quirk_seen
    check(G.to_rgb[0], 1.0, G.c4)

    check(D.from_rgb, 1.0, 1)
    for block in D.blocks:
        c_in = block.conv0.in_channels
        check(block.conv0, 1.0, 9 * c_in)
        assert isinstance(block.conv1, EqualizedDownConv2d)
        assert block.conv1.weight.shape == (block.conv1.out_channels, c_in, 3, 3)
        check(block.conv1, s2, 9 * c_in)  # conv2d_downscale2d: the ordinary fan-in
        check(block.skip, s2, c_in)
        assert block.skip.bias is None
    c4 = D.conv4.out_channels
    check(D.conv4, 1.0, 9 * (c4 + 1))
    check(D.dense, 1.0, 16 * c4)
    check(D.out, 1.0, D.dense.out_features)
    assert RESAMPLE_GAIN == s2


def test_fused_kernel_sums_the_four_shifts() -> None:
    w = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    expected = torch.tensor([[1.0, 3, 5, 3], [5, 12, 16, 9], [11, 24, 28, 15], [7, 15, 17, 9]])
    assert torch.equal(shift_sum_kernel(w)[0, 0], expected)
    assert torch.equal(_tf_fuse(w.permute(2, 3, 0, 1))[:, :, 0, 0], expected)  # the transcription agrees
    assert torch.equal(shift_sum_kernel(torch.full((2, 3, 1, 1), 2.0)), torch.full((2, 3, 2, 2), 2.0))


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (2, 3, 3, 5)])
def test_fused_up_conv_is_upscale2d_conv2d(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    layer = EqualizedUpConv2d(3, 5, 3, gain=math.sqrt(2))
    assert layer.weight.shape == (3, 5, 3, 3) and layer.fan_in == 45  # TF [3, 3, 5, 3]: prod(shape[:-1])
    _randomise_biases(layer)
    x = torch.randn(*shape)
    out = layer(x)
    assert out.shape == (2, 5, 2 * shape[2], 2 * shape[3])
    torch.testing.assert_close(out, _tf_bias(_tf_upscale2d_conv2d(x, _tf_get_weight(layer, math.sqrt(2))), layer.bias))
    # The same map as nearest-neighbour 2x up-sampling then a 3x3 conv with the kernel mirrored,
    # borders included (cpD-GAN's unfused form before the fusing).
    w = (layer.weight * layer.weight_gain).transpose(0, 1).flip(2, 3)  # [5, 3, 3, 3]
    torch.testing.assert_close(out, F.conv2d(_repeat_pixels(x), w, layer.bias, padding=1), rtol=1e-5, atol=1e-5)
    # A known case: a single 1 in the corner and an all-ones kernel -> the 2x2 copy, blurred by 3x3.
    one = torch.zeros(1, 1, 2, 2)
    one[0, 0, 0, 0] = 1.0
    expected = torch.tensor([[4.0, 4, 2, 0], [4, 4, 2, 0], [2, 2, 1, 0], [0, 0, 0, 0]])
    ones = EqualizedUpConv2d(1, 1, 3, bias=False, gain=3.0)  # weight gain 3 / sqrt(9) = 1
    with torch.no_grad():
        ones.weight.fill_(1.0)
    assert torch.equal(ones(one)[0, 0], expected)
    assert torch.equal(_tf_upscale2d_conv2d(one, torch.ones(3, 3, 1, 1))[0, 0], expected)


@pytest.mark.parametrize("kernel", [3, 1])
def test_fused_down_conv_is_conv2d_downscale2d(kernel: int) -> None:
    torch.manual_seed(0)
    layer = EqualizedDownConv2d(3, 5, kernel, gain=math.sqrt(2))
    assert layer.weight.shape == (5, 3, kernel, kernel) and layer.fan_in == 3 * kernel * kernel
    _randomise_biases(layer)
    x = torch.randn(2, 3, 8, 6)
    out = layer(x)
    assert out.shape == (2, 5, 4, 3)
    expected = _tf_bias(_tf_conv2d_downscale2d(x, _tf_get_weight(layer, math.sqrt(2))), layer.bias)
    torch.testing.assert_close(out, expected)
    # The same map as a 'same' conv then the 2x2 mean; for kernel 1 also as the mean then the 1x1 conv.
    w = layer.weight * layer.weight_gain
    unfused = F.avg_pool2d(F.conv2d(x, w, layer.bias, padding=kernel // 2), 2)
    torch.testing.assert_close(out, unfused, rtol=1e-5, atol=1e-5)
    if kernel == 1:
        torch.testing.assert_close(out, F.conv2d(downsample_box(x), w, layer.bias), rtol=1e-5, atol=1e-5)
    # A known case: an all-ones 3x3 kernel on a 6x6 constant image gives 4 (corners), 6 (edges) and 9
    # (inside); the 2x2 means are 25/4 at the corners, 30/4 along the edges and 9 in the middle.
    expected = torch.tensor([[6.25, 7.5, 6.25], [7.5, 9.0, 7.5], [6.25, 7.5, 6.25]])
    ones = EqualizedDownConv2d(1, 1, 3, bias=False, gain=3.0)  # weight gain 1
    with torch.no_grad():
        ones.weight.fill_(1.0)
    assert torch.equal(ones(torch.ones(1, 1, 6, 6))[0, 0], expected)
    assert torch.equal(_tf_conv2d_downscale2d(torch.ones(1, 1, 6, 6), torch.ones(3, 3, 1, 1))[0, 0], expected)


def _spy_convs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...], tuple[int, ...], int]]:
    """Record (op, input shape, kernel shape, stride) of every F.conv2d / F.conv_transpose2d call."""
    calls: list[tuple[str, tuple[int, ...], tuple[int, ...], int]] = []
    for name in ("conv2d", "conv_transpose2d"):
        real = getattr(F, name)

        def spy(x, w, *args, _real=real, _name=name, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            calls.append((_name, tuple(x.shape), tuple(w.shape), kwargs.get("stride", 1)))
            return _real(x, w, *args, **kwargs)

        monkeypatch.setattr(F, name, spy)
    return calls


def test_cpd_up_conv_runs_fused_on_the_low_resolution_input(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    layer = CpdConvLayer(3, 5, 7, up=True)
    _randomise_biases(layer)
    x, cond = torch.randn(2, 3, 4, 4), torch.randn(2, 7)
    w = _tf_get_weight(layer.conv, RESAMPLE_GAIN)
    expected = layer.norm(_tf_lrelu(_tf_bias(_tf_upscale2d_conv2d(x, w), layer.conv.bias)), cond)
    calls = _spy_convs(monkeypatch)
    out = layer(x, cond)
    # One stride-2 transposed conv with the 4x4 kernel on the 4x4 input; no up-sampled copy.
    assert calls == [("conv_transpose2d", (2, 3, 4, 4), (3, 5, 4, 4), 2)]
    torch.testing.assert_close(out, expected)


def test_cpd_down_conv_runs_fused_and_the_skip_averages_first(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    block = CpdResBlock(3, 5)
    _randomise_biases(block)
    x = torch.randn(2, 3, 8, 8)
    h = _tf_lrelu(_tf_bias(_tf_conv2d(x, _tf_get_weight(block.conv0, 1.0)), block.conv0.bias))  # 'Conv0'
    down = _tf_lrelu(_tf_bias(_tf_conv2d_downscale2d(h, _tf_get_weight(block.conv1, RESAMPLE_GAIN)), block.conv1.bias))
    skip = _tf_conv2d_downscale2d(x, _tf_get_weight(block.skip, RESAMPLE_GAIN))  # fused 2x2 kernel
    calls = _spy_convs(monkeypatch)
    out = block(x)
    assert sorted(calls) == sorted(
        [
            ("conv2d", (2, 3, 4, 4), (5, 3, 1, 1), 1),  # 'Skip': 2x2 mean, then the 1x1 conv
            ("conv2d", (2, 3, 8, 8), (3, 3, 3, 3), 1),  # 'Conv0'
            ("conv2d", (2, 3, 8, 8), (5, 3, 4, 4), 2),  # 'Conv1_down': one stride-2 conv, 4x4 kernel
        ]
    )
    torch.testing.assert_close(out, (down + skip) / math.sqrt(2), rtol=1e-5, atol=1e-5)


def test_cpdgan_leaky_relu_has_no_gain(monkeypatch: pytest.MonkeyPatch) -> None:
    gains: list[float] = []
    real = cpdgan.leaky_relu

    def spy(x: torch.Tensor, *args: float, **kwargs: float) -> torch.Tensor:
        gains.append(args[0] if args else kwargs.get("gain", 1.0))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(cpdgan, "leaky_relu", spy)
    config, G, D = _tiny("cpdgan", 16)
    with torch.no_grad():
        D(G(_z(4, config.latent), _labels(4)), _labels(4))
    assert len(gains) == 2 + 2 * 2 + 1 + 2 * 2 + 2  # G: 4x4 and 2 levels; D: fromRGB, 2 blocks, 4x4
    assert set(gains) == {1.0}
    assert torch.equal(real(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([-0.2, 0.0, 2.0]))


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
    for make in (GANConfig.cpu, GANConfig.cpu_long, GANConfig.tiny):
        for arch in ("progan", "cpdgan"):
            config = make(arch, 32, N_LABELS)
            G, D = build(config)
            assert sum(p.numel() for p in G.parameters()) < 400_000
            assert config.total_kimg > config.min_fid_kimg >= config.full_resolution_kimg()
    for make in (GANConfig.paper, GANConfig.cpu, GANConfig.cpu_long, GANConfig.tiny):  # both GANs: one length
        for resolution in (32, 64):
            prog, cpd = make("progan", resolution, N_LABELS), make("cpdgan", resolution, N_LABELS)
            assert (cpd.total_kimg, cpd.min_fid_kimg) == (prog.total_kimg, prog.min_fid_kimg)
            assert cpd.full_resolution_kimg() == 0 < prog.full_resolution_kimg()
    cpu = GANConfig.cpu("progan", 32, N_LABELS)
    assert build(cpu)[0].blocks[-1].conv1.out_channels == 16  # 16 channels at 32x32
    for arch in ("progan", "cpdgan"):  # cpu: a short run is step-starved, so one small minibatch throughout
        for resolution in (32, 64):
            config = GANConfig.cpu(arch, resolution, N_LABELS)
            assert set(config.minibatch.values()) == {16}
            assert config.total_kimg * 1000 / 16 >= 500  # G steps at the end of the schedule


def test_the_shared_points_schedule_is_cpu_s_networks_with_sixteen_times_the_steps() -> None:
    from synthmed.experiments import generator_config

    for generator in ("cpD-GAN", "prog-GAN"):
        sweep = generator_config(generator, "cpu", 32, N_LABELS)
        shared = generator_config(generator, "cpu", 32, N_LABELS, shared=True)
        assert (shared.latent, shared.fmap_base, shared.fmap_max, shared.lr, shared.ema_beta) == (
            sweep.latent, sweep.fmap_base, sweep.fmap_max, sweep.lr, sweep.ema_beta)
        sweep_steps, shared_steps = (c.total_kimg * 1000 / max(c.minibatch.values()) for c in (sweep, shared))
        assert shared_steps == 16 * sweep_steps == 8000
        # Evaluations in the paper's proportions: from 7/12 of the run, every 1/30 of it.
        assert shared.min_fid_kimg == pytest.approx(shared.total_kimg * 7 / 12)
        assert shared.fid_every_kimg == pytest.approx(shared.total_kimg / 30)
        # tiny and paper: the shared points are the sweeps' own runs.
        for profile, resolution in (("tiny", 16), ("paper", 32)):
            assert generator_config(generator, profile, resolution, N_LABELS, shared=True) == generator_config(
                generator, profile, resolution, N_LABELS)


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
    w1, w2, w3 = (torch.nn.utils.parameters_to_vector(g.parameters()) for g in (G1, G2, G3))
    torch.testing.assert_close(w1, w2)
    assert not torch.allclose(w1, w3)
