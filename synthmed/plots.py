"""Seaborn and matplotlib figures in one style. Each function returns its Figure; notebooks show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = {"real": "#4d4d4d", "cpD-GAN": "#1f77b4", "prog-GAN": "#d62728"}


def style() -> None:
    """The book's figure style: white grid, readable fonts, no top and right spines."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)
    plt.rcParams.update(
        {"figure.dpi": 100, "savefig.bbox": "tight", "axes.spines.top": False, "axes.spines.right": False}
    )


def image_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 7,
    size: float = 1.7,
    cmap: str = "gray",
    suptitle: str | None = None,
) -> plt.Figure:
    """Grayscale images (H, W) in a grid, each with an optional small title."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.25)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap=cmap, vmin=0, vmax=255 if np.asarray(img).dtype == np.uint8 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def combination_curve(counts: Mapping[str, np.ndarray], thresholds: Mapping[str, float] | None = None) -> plt.Figure:
    """Images per label combination against the combination's frequency rank (log-log), per dataset."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, c in counts.items():
        c = np.sort(np.asarray(c))[::-1]
        ax.plot(np.arange(1, len(c) + 1), c, marker=".", markersize=3, linewidth=1, label=name)
    for name, value in (thresholds or {}).items():
        ax.axhline(value, linestyle="--", linewidth=0.8, color="grey")
        ax.annotate(name, (1, value), textcoords="offset points", xytext=(4, 3), fontsize=7, color="grey")
    ax.set(xscale="log", yscale="log", xlabel="label combination, by frequency rank", ylabel="images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def label_frequency(freq: pd.DataFrame) -> plt.Figure:
    """Bar chart of the fraction of images carrying each label; `freq` has columns label, fraction, dataset."""
    fig, ax = plt.subplots(figsize=(6.5, 0.28 * freq["label"].nunique() + 1.0))
    sns.barplot(data=freq, y="label", x="fraction", hue="dataset", ax=ax, orient="h")
    ax.set(xlabel="fraction of images", ylabel="")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
