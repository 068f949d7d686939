"""WGAN-GP with drift, plus the auxiliary-classifier (AC) label loss (paper-spec §3.1, §3.2).

Both GANs: D minimises ``D(fake) - D(real) + lambda * (||grad D(mix)|| - target)^2 / target^2
+ drift * D(real)^2`` and G minimises ``-D(fake)`` (PGGAN's ``D_wgangp`` / ``G_wgan``; lambda 10,
target 1, drift 0.001). prog-GAN adds the AC term with weight 1: softmax cross-entropy of D's label
logits against the label vector normalised to sum 1, on reals and fakes in the D loss and on
fakes in the G loss (``D_wgangp_acgan`` / ``G_wgan_acgan``). cpD-GAN uses no AC term.

The discriminator is any callable ``D(images, labels, lod=lod) -> DiscriminatorOutput``; both
``ProDiscriminator`` and ``CpdDiscriminator`` are. Each loss returns the per-sample loss [N] (the
training loop takes the mean, as PGGAN does) and a dict of batch means under slash names such as
``Loss/D/gp`` for logging; those are detached 0-dim tensors, so reading them is the caller's sync.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from synthmed.gan.layers import DiscriminatorOutput

Discriminator = Callable[..., DiscriminatorOutput]

GP_LAMBDA = 10.0  # paper-spec §3.1: WGAN-GP lambda 10
GP_TARGET = 1.0  # paper-spec §3.1: target gradient norm 1
DRIFT_WEIGHT = 0.001  # paper-spec §3.1: drift 0.001 * D(real)^2
AC_WEIGHT = 1.0  # paper-spec §3.2: label loss weight 1.0 (prog-GAN only)


def label_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of ``logits`` [N, L] against ``labels`` [N, L] normalised to sum 1 -> [N].

    A row of all-zero labels has no target distribution and contributes 0.
    """
    if logits.shape != labels.shape:
        raise ValueError(f"label logits {list(logits.shape)} and labels {list(labels.shape)} differ in shape")
    labels = labels.float()  # multi-hot 0/1 (not checked here: that would sync the GPU every step)
    target = labels / labels.sum(dim=1, keepdim=True).clamp_min(1e-12)  # [N, L], rows sum to 1 (or 0)
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1)


def drift_penalty(real_scores: torch.Tensor) -> torch.Tensor:
    """PGGAN's epsilon (drift) penalty before weighting: D(real)^2, [N] -> [N]."""
    return real_scores.float().square()


def gradient_penalty(
    D: Discriminator,
    reals: torch.Tensor,  # [N, C, H, W]
    fakes: torch.Tensor,  # [N, C, H, W]
    labels: torch.Tensor,  # [N, L], passed to D (cpD-GAN's D reads them)
    *,
    lod: float = 0.0,  # Level of detail for D (prog-GAN); 0 for cpD-GAN.
    target: float = GP_TARGET,  # Target gradient norm.
    generator: torch.Generator | None = None,  # Draws the mixing factors; None = torch's global RNG.
    shard: tuple[int, int] = (0, 1),  # (rank, world): draw the whole batch's factors, keep samples rank::world
) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP on random interpolates: ``((||grad_x D(x)|| - target)^2 / target^2`` per sample.

    x = reals + u * (fakes - reals) with u ~ U(0, 1) per sample. Returns (penalty [N], norms [N]);
    the penalty keeps its graph (create_graph) so it can be back-propagated into D.
    """
    N = reals.shape[0]
    # Drawn where the generator lives (a CPU generator gives the same draws whatever the device).
    draw_device = generator.device if generator is not None else reals.device
    rank, world = shard
    u = torch.rand(N * world, 1, 1, 1, generator=generator, device=draw_device)
    u = (u if world == 1 else u[rank::world]).to(reals.device)  # a rank's share of the total batch's draw
    mixed = torch.lerp(reals.detach().float(), fakes.detach().float(), u).requires_grad_(True)  # fp32 under autocast
    scores = D(mixed, labels, lod=lod).score  # [N]
    (grads,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)  # [N, C, H, W]
    norms = grads.float().square().sum(dim=(1, 2, 3)).sqrt()  # [N]
    return (norms - target).square() / target**2, norms


def discriminator_loss(
    D: Discriminator,
    reals: torch.Tensor,  # [N, C, H, W] real images at the current level of detail, in [-1, 1]
    fakes: torch.Tensor,  # [N, C, H, W] G's images for the same labels; detached here
    labels: torch.Tensor,  # [N, L] the reals' multi-hot labels (also the fakes' labels)
    *,
    lod: float = 0.0,  # Level of detail for D; 0 for cpD-GAN.
    gp_lambda: float = GP_LAMBDA,  # Weight of the gradient penalty.
    gp_target: float = GP_TARGET,  # Target gradient norm.
    drift_weight: float = DRIFT_WEIGHT,  # Weight of D(real)^2.
    ac_weight: float = AC_WEIGHT,  # Weight of the label cross-entropy; 0 = no AC term (cpD-GAN).
    generator: torch.Generator | None = None,  # For the gradient penalty's mixing factors.
    shard: tuple[int, int] = (0, 1),  # (rank, world) of data-parallel training (`synthmed.gan.shard`)
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D's WGAN-GP + drift (+ AC) loss per sample [N] and its named batch means."""
    if reals.shape != fakes.shape or labels.shape[0] != reals.shape[0]:
        raise ValueError(
            f"reals {list(reals.shape)}, fakes {list(fakes.shape)} and labels "
            f"{list(labels.shape)} must share the batch and image shape"
        )
    fakes = fakes.detach()  # the D step never updates G
    real = D(reals, labels, lod=lod)
    fake = D(fakes, labels, lod=lod)
    real_scores, fake_scores = real.score.float(), fake.score.float()
    wgan = fake_scores - real_scores  # [N]
    gp, grad_norms = gradient_penalty(D, reals, fakes, labels, lod=lod, target=gp_target, generator=generator,
                                     shard=shard)
    drift = drift_penalty(real_scores)
    loss = wgan + gp_lambda * gp + drift_weight * drift
    stats = {
        "Loss/scores/real": real_scores,
        "Loss/scores/fake": fake_scores,
        "Loss/D/wgan": wgan,
        "Loss/D/gp": gp,
        "Loss/D/grad_norm": grad_norms,
        "Loss/D/drift": drift,
    }
    if ac_weight > 0:
        if real.label_logits is None or fake.label_logits is None:
            raise ValueError("ac_weight > 0 needs a discriminator with label logits (prog-GAN); use 0 for cpD-GAN")
        ac_real = label_cross_entropy(real.label_logits, labels)
        ac_fake = label_cross_entropy(fake.label_logits, labels)
        loss = loss + ac_weight * (ac_real + ac_fake)
        stats["Loss/D/ac_real"] = ac_real
        stats["Loss/D/ac_fake"] = ac_fake
    stats["Loss/D/loss"] = loss
    return loss, {name: value.detach().mean() for name, value in stats.items()}


def generator_loss(
    D: Discriminator,
    fakes: torch.Tensor,  # [N, C, H, W] G's images, with their graph
    labels: torch.Tensor,  # [N, L] the labels G was given
    *,
    lod: float = 0.0,  # Level of detail for D; 0 for cpD-GAN.
    ac_weight: float = AC_WEIGHT,  # Weight of the label cross-entropy on fakes; 0 = none (cpD-GAN).
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """G's WGAN (+ AC) loss per sample [N], ``-D(fake) + ac_weight * CE(fake logits, labels)``, and its stats."""
    fake = D(fakes, labels, lod=lod)
    wgan = -fake.score.float()
    loss = wgan
    stats = {"Loss/G/wgan": wgan}
    if ac_weight > 0:
        if fake.label_logits is None:
            raise ValueError("ac_weight > 0 needs a discriminator with label logits (prog-GAN); use 0 for cpD-GAN")
        ac = label_cross_entropy(fake.label_logits, labels)
        loss = loss + ac_weight * ac
        stats["Loss/G/ac"] = ac
    stats["Loss/G/loss"] = loss
    return loss, {name: value.detach().mean() for name, value in stats.items()}
