"""What a synthetic set reveals about its training images: a black-box membership-inference attack.

The attack of Chen et al. 2020 ("GAN-Leaks", the full black-box setting): the attacker holds only the
released synthetic images and a real image, and guesses that the image was in the generator's training
set when some synthetic image lies close to it. Its score is minus the distance from the image to its
nearest synthetic image. Here the distance is the cosine distance between the point's real-classifier
features (`synthmed.analysis.neighbours.nearest_neighbours`, the memorisation chapter's distance), so an
attack, the memorisation statistic and the fidelity panel all see the same space.

The attack is scored on members (the generator's training images) against non-members (real images of
the same benchmark subset that the generator never saw), equally many of each (the larger group is
subsampled, seeded), as the area under the ROC curve (0.5: the synthetic set tells nothing about who was
in the training set; 1: it gives every member away) with a stratified bootstrap interval, and as the
true-positive rate at a 1% false-positive rate, the figure Carlini et al. 2022 ("Membership inference
attacks from first principles") argue matters for privacy: how many members an attacker finds while
hardly ever accusing a non-member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from synthmed.analysis.neighbours import nearest_neighbours

LOW_FPR = 0.01  # the false-positive rate of the TPR figure (Carlini et al. 2022)


def attack_scores(queries: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """GAN-Leaks' black-box score of each query (features (Q, D)): minus the cosine distance to its nearest
    synthetic image (features (S, D)); higher means "more likely a member"."""
    _, distance = nearest_neighbours(np.asarray(queries), np.asarray(synthetic), k=1)
    return -distance[:, 0]


def auroc(members: np.ndarray, nonmembers: np.ndarray) -> float:
    """P(a member scores above a non-member) + half P(tie): the Mann-Whitney form of the ROC area."""
    m, n = np.asarray(members, dtype=np.float64), np.sort(np.asarray(nonmembers, dtype=np.float64))
    below = np.searchsorted(n, m, side="left")
    ties = np.searchsorted(n, m, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(m) * len(n)))


def tpr_at_fpr(members: np.ndarray, nonmembers: np.ndarray, fpr: float = LOW_FPR) -> float:
    """The largest share of members an attacker flags with a threshold that flags at most `fpr` of the
    non-members (a member is flagged when its score is strictly above the threshold). With fewer than
    1 / fpr non-members that means flagging none of them."""
    m, n = np.asarray(members, dtype=np.float64), np.sort(np.asarray(nonmembers, dtype=np.float64))[::-1]
    allowed = int(np.floor(fpr * len(n) + 1e-9))  # non-members that may be flagged
    threshold = n[allowed] if allowed < len(n) else -np.inf  # flags only scores above it: `allowed` non-members
    return float(np.mean(m > threshold))


@dataclass(frozen=True)
class MembershipAttack:
    """The attack's result on one synthetic set: AUROC with its bootstrap interval, TPR at `LOW_FPR`."""

    auc: float
    auc_low: float
    auc_high: float
    tpr_at_low_fpr: float
    n_members: int  # members and non-members scored (equal)
    n_nonmembers: int

    def as_row(self) -> dict:
        return asdict(self)


def membership_attack(members: np.ndarray, nonmembers: np.ndarray, synthetic: np.ndarray, *, cap: int | None = None,
                      n_boot: int = 1000, ci: float = 0.95, seed: int = 0) -> MembershipAttack:
    """GAN-Leaks' black-box attack: score members' and non-members' features (N, D) by their nearest
    `synthetic` feature, on equally many of each (the smaller group's size, at most `cap`; a seeded draw
    without replacement), then the AUROC with a `ci` percentile interval from `n_boot` bootstrap resamples
    of both groups (each resampled within itself) and the TPR at 1% FPR. The whole synthetic set is the
    reference: the attacker has all of it."""
    members, nonmembers = np.asarray(members), np.asarray(nonmembers)
    n = min(len(members), len(nonmembers), cap if cap is not None else len(members))
    if n < 2:
        raise ValueError(f"membership_attack needs at least 2 members and non-members, got {len(members)} and "
                         f"{len(nonmembers)}")
    if len(synthetic) < 1:
        raise ValueError("membership_attack needs at least one synthetic image")
    rng = np.random.default_rng(seed)
    chosen_m = np.sort(rng.choice(len(members), size=n, replace=False))
    chosen_n = np.sort(rng.choice(len(nonmembers), size=n, replace=False))
    score_m = attack_scores(members[chosen_m], synthetic)
    score_n = attack_scores(nonmembers[chosen_n], synthetic)
    replicates = np.array([
        auroc(score_m[rng.integers(0, n, n)], score_n[rng.integers(0, n, n)]) for _ in range(n_boot)
    ])
    tail = (1.0 - ci) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail]) if n_boot else (np.nan, np.nan)
    return MembershipAttack(auc=auroc(score_m, score_n), auc_low=float(low), auc_high=float(high),
                            tpr_at_low_fpr=tpr_at_fpr(score_m, score_n), n_members=n, n_nonmembers=n)
