"""Seaborn and matplotlib figures in one style. Each function returns its Figure; notebooks show it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from synthmed import generators
from synthmed.aggregate import mean_over_seeds

REAL_COLOUR = "#4d4d4d"  # the real-trained classifier; each generator's colour is its registry entry's


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


# ---------------------------------------------------------------------------------------------
# GAN training: curves from a run's log.jsonl, and grids of generated next to real images.

# Panels of training_curves: (title, y label, how to get the value from a tick record).
_CURVES = (
    ("D loss", "loss per sample", lambda t: t["Loss/D/loss"]),
    ("G loss", "loss per sample", lambda t: t["Loss/G/loss"]),
    ("critic's Wasserstein estimate", "mean D(real) - D(fake)", lambda t: -t["Loss/D/wgan"]),
    ("gradient penalty", "(|grad D| - 1)^2", lambda t: t["Loss/D/gp"]),
)


def _log_tables(records: Sequence[Mapping]) -> tuple[pd.DataFrame, pd.DataFrame, Mapping | None]:
    """A run's log records -> (ticks, Fréchet evaluations, the last stop record or None), one row per kimg."""
    records = list(records)

    def table(kind: str) -> pd.DataFrame:
        rows = [r for r in records if r.get("kind") == kind]
        frame = pd.DataFrame(rows, columns=None if rows else ["kimg", "nimg"])
        if len(frame):  # a resumed run may repeat a step; its last record wins
            frame = frame.drop_duplicates("nimg", keep="last").sort_values("nimg")
        return frame.reset_index(drop=True)

    stops = [r for r in records if r.get("kind") == "stop"]
    return table("tick"), table("fd"), (stops[-1] if stops else None)


def training_curves(runs: Mapping[str, Sequence[Mapping]], title: str | None = None) -> plt.Figure:
    """Losses, Fréchet distance and level of detail per kimg for GAN runs, from their logs.

    `runs` maps a generator's name (its colour from `synthmed.generators`) to its log records
    (`synthmed.gan.train.read_log`: tick, fd and stop records, each with `kimg`). Six panels: D and G
    loss, the critic's Wasserstein estimate (mean real minus fake score), the gradient penalty, the
    Fréchet distance at each evaluation, and the level of detail (0 = full resolution). On the
    Fréchet panel a star marks the kept (best) checkpoint and a dotted line the kimg where training
    stopped; the legend says which is which. A run whose ticks hold no GAN losses (the diffusion model's,
    `denoising_curves`) appears on the Fréchet panel only.
    """
    if not runs:
        raise ValueError("training_curves needs at least one run")
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.6), sharex=True)  # one kimg axis for every panel
    curve_axes = [axes[0, 0], axes[0, 1], axes[0, 2], axes[1, 0]]
    fd_ax, lod_ax = axes[1, 1], axes[1, 2]
    for name, records in runs.items():
        ticks, _, _ = _log_tables(records)
        color = generators.colour(name)
        if len(ticks) and "Loss/D/loss" in ticks:
            for ax, (_, _, value) in zip(curve_axes, _CURVES, strict=True):
                values = [value(t) for t in ticks.to_dict("records")]
                ax.plot(ticks["kimg"], values, color=color, label=name, lw=1.2)
            lod_ax.plot(ticks["kimg"], ticks["lod"], color=color, label=name, lw=1.2)
    _frechet_panel(fd_ax, runs)
    for ax, (panel, ylabel, _) in zip(curve_axes, _CURVES, strict=True):
        ax.set(title=panel, ylabel=ylabel)
    axes[1, 0].set_xlabel("kimg")
    lod_ax.set(title="level of detail", xlabel="kimg", ylabel="lod (0 = full resolution)")
    if axes[0, 0].lines:
        axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def denoising_curves(runs: Mapping[str, Sequence[Mapping]], title: str | None = None) -> plt.Figure:
    """A diffusion model's training loss (the mean squared error of its noise prediction) and Fréchet distance
    per kimg, from its log (`synthmed.diffusion.train.read_log`), marked as `training_curves` marks them."""
    if not runs:
        raise ValueError("denoising_curves needs at least one run")
    fig, (loss_ax, fd_ax) = plt.subplots(1, 2, figsize=(8, 2.9), sharex=True)
    for name, records in runs.items():
        ticks, _, _ = _log_tables(records)
        if len(ticks):
            loss_ax.plot(ticks["kimg"], ticks["loss"], color=generators.colour(name), label=name, lw=1.2)
    loss_ax.set(title="denoising loss", xlabel="kimg", ylabel="MSE of the predicted noise")
    loss_ax.legend(fontsize=7)
    _frechet_panel(fd_ax, runs)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _frechet_panel(ax: plt.Axes, runs: Mapping[str, Sequence[Mapping]]) -> None:
    """Each run's Fréchet distance per evaluation, a star at the kept one and a dotted line where it stopped."""
    for name, records in runs.items():
        _, fds, stop = _log_tables(records)
        color = generators.colour(name)
        if len(fds):
            ax.plot(fds["kimg"], fds["fd"], marker="o", markersize=3, color=color, label=name, lw=1.2)
            best = fds.loc[fds["fd"].idxmin()]
            ax.plot([best["kimg"]], [best["fd"]], marker="*", markersize=13, color=color, linestyle="none")
        if stop is not None:
            ax.axvline(stop["kimg"], color=color, linestyle=":", lw=1.2)
    ax.set(title="Fréchet distance (EMA weights)", xlabel="kimg", ylabel="distance")
    marks = [
        plt.Line2D([], [], color="grey", marker="*", markersize=10, linestyle="none", label="kept (best)"),
        plt.Line2D([], [], color="grey", linestyle=":", label="stopped"),
    ]
    ax.legend(handles=marks, fontsize=7)


def sample_grid(
    rows: Mapping[str, Mapping[str, np.ndarray]],
    size: float = 0.85,
    label_width: float = 1.9,
    suptitle: str | None = None,
) -> plt.Figure:
    """Rows of image groups side by side: `rows[row][group]` is uint8 (k, R, R).

    Each group (e.g. "real", "prog-GAN") gets as many columns as its longest row, and a title over
    its first column on the top row; each row's name stands at its left, wrapped. A group missing
    from a row, or shorter there, leaves blank cells.
    """
    import textwrap

    if not rows:
        raise ValueError("sample_grid needs at least one row")
    groups: dict[str, int] = {}
    for row in rows.values():
        for group, images in row.items():
            groups[group] = max(groups.get(group, 0), len(images))
    if not groups or not sum(groups.values()):
        raise ValueError("sample_grid needs at least one image")
    # One narrow blank column between groups.
    widths, starts, col = [], {}, 0
    for k, (group, n) in enumerate(groups.items()):
        if k:
            widths.append(0.25)
            col += 1
        starts[group] = col
        widths += [1.0] * n
        col += n
    nrows = len(rows)
    fig, axes = plt.subplots(
        nrows,
        len(widths),
        figsize=(label_width + size * sum(widths), nrows * size + 0.45),
        squeeze=False,
        gridspec_kw={"width_ratios": widths, "wspace": 0.04, "hspace": 0.06},
    )
    for ax in axes.flat:
        ax.axis("off")
    for i, (row_name, row) in enumerate(rows.items()):
        for group, images in row.items():
            for j, image in enumerate(images):
                vmax = 255 if np.asarray(image).dtype == np.uint8 else None
                axes[i, starts[group] + j].imshow(image, cmap="gray", vmin=0, vmax=vmax)
        axes[i, 0].text(
            -0.12, 0.5, textwrap.fill(row_name, 24), transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=7
        )
    for group in groups:
        axes[0, starts[group]].set_title(group, fontsize=8, loc="left")
    fig.subplots_adjust(
        left=label_width / (label_width + size * sum(widths)),
        right=0.99,
        top=1 - 0.35 / (nrows * size + 0.45),
        bottom=0.01,
    )
    if suptitle:
        fig.suptitle(suptitle, fontsize=9, y=1.0)
    return fig


# ---------------------------------------------------------------------------------------------
# Utility of synthetic data: per-label AUCs, ROC curves, utility gaps; nearest neighbours and
# occlusion maps.


def _colour(name: str, k: int) -> str:
    """The colour of "real" or of a registered generator, else the k-th colour of the cycle."""
    if name == "real":
        return REAL_COLOUR
    return generators.colour(name) or sns.color_palette()[k % 10]


def auc_bars(evaluation: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """Per-label ROC AUC with its bootstrap CI, one bar per classifier, labels top to bottom.

    `evaluation` is tidy, as `synthmed.experiments.PointRun.evaluation`: columns label, auc, ci_low,
    ci_high and trained_on (one row per label and classifier; the `mean` row is drawn last, below a
    line). Labels keep their first-seen order and classifiers their order of appearance. A label
    whose test images hold one class only has no AUC: it is marked "n/a". The dotted line is chance.
    """
    needed = {"label", "auc", "ci_low", "ci_high", "trained_on"}
    if missing := needed - set(evaluation.columns):
        raise ValueError(f"auc_bars: evaluation lacks columns {sorted(missing)}")
    labels = list(dict.fromkeys(evaluation["label"]))
    if "mean" in labels:  # the mean over labels goes last, whatever the order of the rows
        labels = [label for label in labels if label != "mean"] + ["mean"]
    classifiers = list(dict.fromkeys(evaluation["trained_on"]))
    height = 0.8 / len(classifiers)
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(labels) * max(2, len(classifiers)) / 2 + 1.2))
    table = evaluation.set_index(["label", "trained_on"])
    for k, name in enumerate(classifiers):
        y = np.arange(len(labels)) + (k - (len(classifiers) - 1) / 2) * height
        rows = table.reindex([(label, name) for label in labels])
        auc = rows["auc"].to_numpy(dtype=float)
        low, high = rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float)
        ax.barh(y, np.nan_to_num(auc), height=height, color=_colour(name, k), label=name)
        err = np.vstack([auc - low, high - auc])
        ok = ~np.isnan(err).any(axis=0)
        ax.errorbar(auc[ok], y[ok], xerr=err[:, ok], fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        for yi in y[np.isnan(auc)]:
            ax.text(0.01, yi, "n/a", va="center", fontsize=6, color="grey")
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    if "mean" in labels:
        ax.axhline(len(labels) - 1.5, color="black", linewidth=0.6)
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="ROC AUC on the real test split (bars: 95% bootstrap CI)", title=title)
    ax.legend(fontsize=7, loc="lower right", title="trained on", title_fontsize=7)
    fig.tight_layout()
    return fig


def roc_curves(
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    labels: Sequence[str],
    ncols: int = 4,
    title: str | None = None,
) -> plt.Figure:
    """ROC curves on one test set: a panel per label with both classes, a curve per classifier.

    y_true: 0/1 (N, L); scores: classifier name -> (N, L) scores for the same images; labels: the L
    names. The legend gives each curve's AUC. Labels with one class in y_true have no curve and are
    listed under the figure; if no label has two classes the figure says so instead.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y = np.asarray(y_true)
    if y.ndim != 2 or y.shape[1] != len(labels):
        raise ValueError(f"roc_curves: y_true must be (N, {len(labels)}), got shape {y.shape}")
    for name, s in scores.items():
        if np.shape(s) != y.shape:
            raise ValueError(f"roc_curves: scores[{name!r}] has shape {np.shape(s)}, expected {y.shape} like y_true")
    present = [j for j in range(len(labels)) if 0 < y[:, j].sum() < len(y)]
    absent = [labels[j] for j in range(len(labels)) if j not in present]
    ncols = max(1, min(ncols, len(present)))
    nrows = max(1, int(np.ceil(len(present) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows + 0.3), squeeze=False)
    for ax in axes.flat[len(present) :]:
        ax.axis("off")
    for ax, j in zip(axes.flat, present, strict=False):
        for k, (name, s) in enumerate(scores.items()):
            fpr, tpr, _ = roc_curve(y[:, j], np.asarray(s)[:, j])
            auc = roc_auc_score(y[:, j], np.asarray(s)[:, j])
            ax.plot(fpr, tpr, color=_colour(name, k), lw=1.3, label=f"{name} {auc:.2f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", lw=0.8)
        n_pos = int(y[:, j].sum())
        ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal", title=f"{labels[j]} ({n_pos}+ / {len(y) - n_pos}-)")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=6, loc="lower right", title="AUC", title_fontsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("false positive rate", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("true positive rate", fontsize=8)
    if not present:
        axes[0, 0].text(0.5, 0.5, "no label has both classes\nin the test split", ha="center", va="center")
    notes = [title] if title else []
    if absent:
        notes.append(f"one class only in the test split, no curve: {', '.join(absent)}")
    if notes:
        fig.suptitle("\n".join(notes), fontsize=8)
    fig.tight_layout()
    return fig


def utility_gaps(rows: pd.DataFrame) -> plt.Figure:
    """Utility gap with its CI for each run, one row per modality and generator, DeLong p at the right.

    `rows` holds `synthmed.experiments.PointRun.row` dicts: columns modality, generator, gap,
    gap_low, gap_high, delong_p. Positive gap: the real-trained classifier is better.
    """
    needed = {"modality", "generator", "gap", "gap_low", "gap_high", "delong_p"}
    if missing := needed - set(rows.columns):
        raise ValueError(f"utility_gaps: rows lack columns {sorted(missing)}")
    rows = rows.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.1))
    y = np.arange(len(rows))
    names = list(dict.fromkeys(rows["generator"]))
    for i, row in rows.iterrows():
        color = _colour(row["generator"], names.index(row["generator"]))
        err = [[row["gap"] - row["gap_low"]], [row["gap_high"] - row["gap"]]]
        ax.errorbar(row["gap"], i, xerr=err, fmt="o", color=color, capsize=3, markersize=5)
        # NaN: a label had fewer than 2 positive or negative test images (metrics.delong_test)
        p_text = "p undefined" if np.isnan(row["delong_p"]) else f"p = {row['delong_p']:.2g}"
        ax.annotate(p_text, (1.01, i), xycoords=("axes fraction", "data"), va="center", fontsize=7)
    ax.axvline(0, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(y, [f"{m}, {g}" for m, g in zip(rows["modality"], rows["generator"], strict=True)])
    ax.invert_yaxis()
    ax.set(xlabel="utility gap: mean AUROC (real-trained) - mean AUROC (synthetic-trained), 95% CI")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    fig.tight_layout()
    return fig


def neighbour_pairs(
    queries: np.ndarray,
    neighbours: np.ndarray,
    distances: np.ndarray,
    ncols: int = 4,
    size: float = 1.5,
    titles: Sequence[str] | None = None,
    suptitle: str | None = None,
) -> plt.Figure:
    """Synthetic images beside their nearest real training images, pair by pair.

    queries, neighbours: uint8 (Q, R, R), neighbours[i] the nearest real image of queries[i];
    distances: (Q,) their cosine distances, printed over the real image. `titles` (one per pair) go
    over the synthetic image. `ncols` pairs per row.
    """
    queries, neighbours = np.asarray(queries), np.asarray(neighbours)
    if queries.shape != neighbours.shape or len(distances) != len(queries):
        raise ValueError(
            f"neighbour_pairs: expected queries and neighbours of one shape and one distance per pair, got "
            f"{queries.shape}, {neighbours.shape} and {len(distances)} distances"
        )
    images, names = [], []
    for i in range(len(queries)):
        images += [queries[i], neighbours[i]]
        head = titles[i] if titles is not None else "synthetic"
        names += [head, f"nearest real\nd = {distances[i]:.3g}"]
    ncols = max(1, min(ncols, len(queries)))
    return image_grid(images, names, ncols=2 * ncols, size=size, suptitle=suptitle)


def distance_histograms(results: Mapping[str, object], ncols: int = 2, bins: int = 30) -> plt.Figure:
    """Nearest-training-image distances of synthetic and of held-out real test images, a panel per run.

    `results` maps a run's name to a `synthmed.analysis.neighbours.Memorisation` (synthetic_to_train,
    test_to_train, threshold, fraction_below, expected_fraction). Densities on shared bins; the dashed
    line is the threshold (a low percentile of test-to-train distances). A run whose name contains a
    generator's name (e.g. "chest, cpD-GAN") draws its synthetic histogram in that generator's colour.
    """
    if not results:
        raise ValueError("distance_histograms needs at least one run")
    ncols = max(1, min(ncols, len(results)))
    nrows = int(np.ceil(len(results) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 2.7 * nrows), squeeze=False)
    for ax in axes.flat[len(results) :]:
        ax.axis("off")
    for ax, (name, m) in zip(axes.flat, results.items(), strict=False):
        synthetic, test = np.asarray(m.synthetic_to_train), np.asarray(m.test_to_train)
        edges = np.histogram_bin_edges(np.concatenate([synthetic, test]), bins=bins)
        colour = next((spec.colour for g, spec in generators.REGISTRY.items() if g in name), "#1f77b4")
        ax.hist(test, bins=edges, density=True, color=REAL_COLOUR, alpha=0.45, label="real test -> train")
        ax.hist(synthetic, bins=edges, density=True, color=colour, alpha=0.55, label="synthetic -> train")
        ax.axvline(m.threshold, color="black", linestyle="--", linewidth=0.9)
        ax.set_title(
            f"{name}\n{m.fraction_below:.0%} of synthetic below the dashed line (expected {m.expected_fraction:.0%})",
            fontsize=8,
        )
        ax.set_xlabel("cosine distance to the nearest training image", fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def attribution_pairs(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    titles: Sequence[str] | None = None,
    size: float = 1.7,
    suptitle: str | None = None,
) -> plt.Figure:
    """Occlusion maps of several classifiers on the same images: a row per image.

    images: uint8 (N, R, R); maps: classifier name -> (N, R, R) attribution (increase of the loss
    when a patch is masked, `synthmed.analysis.attribution.occlusion_maps`). The first column is the
    image (title from `titles`), then each classifier's map over a faint copy of it. Within a row all
    maps share one colour scale (0 to the row's largest value, printed), so a flat map means that
    classifier hardly cared where the image was masked.
    """
    images = np.asarray(images)
    for name, m in maps.items():
        if np.shape(m) != images.shape:
            raise ValueError(f"attribution_pairs: maps[{name!r}] has shape {np.shape(m)}, expected {images.shape}")
    ncols = 1 + len(maps)
    fig, axes = plt.subplots(len(images), ncols, figsize=(ncols * size, len(images) * (size + 0.3)), squeeze=False)
    for i, image in enumerate(images):
        vmax = max(float(np.max(m[i])) for m in maps.values()) if maps else 1.0
        axes[i, 0].imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
        axes[i, 0].set_title(titles[i] if titles is not None else "image", fontsize=7)
        for j, (name, m) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else None)
            axes[i, j].imshow(m[i], cmap="magma", vmin=0, vmax=vmax, alpha=0.75)
            axes[i, j].set_title(f"{name}\nmax {float(np.max(m[i])):.2g}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Reader study: readers' (people's or the machine reader's) accuracy against chance, and power.

MODALITY_COLOURS = {"chest": "#2a9d8f", "brain": "#e76f51"}
SIMULATED_MARK = "SIMULATED"


def _reader_title(fig: plt.Figure, title: str | None, simulated: bool) -> None:
    """Title a figure; a simulated one's title starts with SIMULATED and a faint watermark says so too."""
    if simulated:
        if not (title or "").startswith(SIMULATED_MARK):
            title = f"{SIMULATED_MARK}: {title}" if title else SIMULATED_MARK
        fig.text(
            0.5,
            0.5,
            SIMULATED_MARK,
            fontsize=44,
            color="grey",
            alpha=0.13,
            rotation=20,
            ha="center",
            va="center",
            zorder=0,
        )
    if title:
        fig.suptitle(title, fontsize=10)


def _require_columns(table: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: the table lacks columns {missing}; it has {list(table.columns)}")


def reader_accuracy(
    table: pd.DataFrame,
    *,
    low: str = "accuracy_low",
    high: str = "accuracy_high",
    n: str | None = None,
    title: str | None = None,
    simulated: bool = False,
    chance: float = 0.5,
) -> plt.Figure:
    """Accuracy at telling real from synthetic, with its interval, per resolution; one colour per modality.

    `table`: one row per (modality, resolution), columns modality, resolution, accuracy and the
    interval bounds `low`, `high` (fractions). Resolutions sit at even steps (they double). With `n`,
    each point is labelled with that column (e.g. the number of reads). The dashed line is chance.
    """
    _require_columns(table, ["modality", "resolution", "accuracy", low, high], "reader_accuracy")
    resolutions = sorted(table["resolution"].unique())
    modalities = list(dict.fromkeys(table["modality"]))
    fig, ax = plt.subplots(figsize=(1.3 * len(resolutions) + 3.2, 3.4))
    width = 0.18
    for k, modality in enumerate(modalities):
        rows = table[table["modality"] == modality].sort_values("resolution")
        x = np.array([resolutions.index(r) for r in rows["resolution"]]) + (k - (len(modalities) - 1) / 2) * width
        y = rows["accuracy"].to_numpy(dtype=float)
        err = np.vstack([y - rows[low].to_numpy(dtype=float), rows[high].to_numpy(dtype=float) - y])
        colour = MODALITY_COLOURS.get(modality, f"C{k}")
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=4, color=colour, label=modality, lw=1.4)
        if n is not None:  # under the interval, so the labels of neighbouring modalities do not collide
            for xi, yi, ni in zip(x, rows[low].to_numpy(dtype=float), rows[n], strict=True):
                ax.annotate(
                    f"n={ni}",
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(0, -11),
                    fontsize=7,
                    color=colour,
                    ha="center",
                )
    ax.axhline(chance, color="grey", linestyle="--", lw=1, label="chance")
    ax.set(
        xticks=range(len(resolutions)),
        xticklabels=[f"{r}x{r}" for r in resolutions],
        xlim=(-0.6, len(resolutions) - 0.4),
        ylim=(0, 1.02),
        xlabel="resolution",
        ylabel="accuracy (real vs synthetic)",
    )
    ax.legend(fontsize=8, loc="lower right")
    _reader_title(fig, title, simulated)
    fig.tight_layout()
    return fig


def reader_forest(
    per_reader: pd.DataFrame,
    pooled: pd.DataFrame,
    *,
    facet: str = "setting",
    margin: float | None = None,
    title: str | None = None,
    simulated: bool = False,
    ncols: int = 3,
    chance: float = 0.5,
) -> plt.Figure:
    """Per-reader accuracy with Clopper-Pearson intervals and the pooled estimate, a panel per `facet`.

    `per_reader`: columns `facet`, reader_id, accuracy, cp_low, cp_high. `pooled`: one row per
    `facet` value, columns accuracy, cluster_low, cluster_high (the cluster-robust interval,
    `synthmed.reader.study.summarise`); panels follow its row order. Dashed line: chance; with
    `margin`, the TOST equivalence band chance ± margin is shaded.
    """
    _require_columns(per_reader, [facet, "reader_id", "accuracy", "cp_low", "cp_high"], "reader_forest per_reader")
    _require_columns(pooled, [facet, "accuracy", "cluster_low", "cluster_high"], "reader_forest pooled")
    panels = list(dict.fromkeys([*pooled[facet], *per_reader[facet]]))
    readers = sorted(per_reader["reader_id"].unique())
    ncols = min(ncols, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    height = 0.28 * (len(readers) + 1) + 1.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, height * nrows), squeeze=False, sharex=True)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax, panel in zip(axes.flat, panels, strict=False):
        rows = per_reader[per_reader[facet] == panel].set_index("reader_id").reindex(readers)
        y = np.arange(len(readers))[::-1] + 1
        acc = rows["accuracy"].to_numpy(dtype=float)
        ax.errorbar(
            acc,
            y,
            xerr=np.vstack([acc - rows["cp_low"], rows["cp_high"] - acc]),
            fmt="o",
            color="#4d4d4d",
            capsize=3,
            markersize=4,
            lw=1.1,
        )
        total = pooled[pooled[facet] == panel]
        if len(total):
            p = total.iloc[0]
            ax.errorbar(
                [p["accuracy"]],
                [0],
                xerr=[[p["accuracy"] - p["cluster_low"]], [p["cluster_high"] - p["accuracy"]]],
                fmt="D",
                color="black",
                capsize=4,
                markersize=6,
                lw=2,
            )
        if margin is not None:
            ax.axvspan(chance - margin, chance + margin, color="#8ecae6", alpha=0.3, lw=0)
        ax.axvline(chance, color="grey", linestyle="--", lw=1)
        ax.set_yticks([*y, 0], [*readers, "pooled"], fontsize=7)
        ax.set(xlim=(0, 1), title=str(panel), xlabel="accuracy")
        ax.title.set_fontsize(9)
    _reader_title(fig, title, simulated)
    fig.tight_layout()
    return fig


def power_curves(
    reads: np.ndarray,
    power: Mapping[float, np.ndarray],
    *,
    target: float = 0.8,
    needed: Mapping[float, int] | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Power of a test against the number of reads (log scale), one line per true accuracy.

    `reads`: (K,) read counts; `power`: true accuracy -> (K,) power at those counts; `needed`:
    true accuracy -> a read count to mark on the target line (e.g. `synthmed.reader.study.reads_needed`).
    """
    reads = np.asarray(reads)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for k, (accuracy, values) in enumerate(power.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != reads.shape:
            raise ValueError(f"power_curves: power[{accuracy}] has shape {values.shape}, reads {reads.shape}")
        colour = f"C{k}"
        ax.plot(reads, values, color=colour, lw=1.2, label=f"true accuracy {accuracy:g}")
        if needed is not None and accuracy in needed:
            ax.plot([needed[accuracy]], [target], "o", color=colour, markersize=6)
            ax.annotate(
                f"{needed[accuracy]:,}",
                (needed[accuracy], target),
                textcoords="offset points",
                xytext=(3, 5),
                fontsize=7,
                color=colour,
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
    ax.axhline(target, color="grey", linestyle="--", lw=1)
    ax.set(xscale="log", ylim=(0, 1.02), xlabel="reads", ylabel="power")
    ax.legend(fontsize=8, loc="lower right")
    _reader_title(fig, title, False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Benchmark sweeps: mean AUROC and utility gap against the benchmark's setting.



def curve_series(results: pd.DataFrame) -> tuple[str, ...]:
    """The curves of a results table: the real-trained classifier, then every generator it holds, the
    registered ones in registry order first, so that no generator's series is left out."""
    present = list(dict.fromkeys(results["generator"]))
    known = [g for g in generators.names() if g in present]
    return ("real", *known, *[g for g in present if g not in known])


_SETTING_TITLES = {
    "classes": "label combinations",
    "samples": "train images per combination (paper's number)",
    "resolution": "resolution (px)",
}


def curve_table(results: pd.DataFrame) -> pd.DataFrame:
    """A results table (one row per run) as curves: one row per modality, benchmark, setting and series.

    Series are "real" (the real-trained classifier, which both generators of one seed share, counted
    once per seed) and each generator. Columns: auc (mean over seeds), seed_sd (SD across seeds, NaN
    for one seed), ci_low/ci_high (the runs' 95% bootstrap bounds, averaged over seeds), gap, gap_sd,
    gap_low/gap_high likewise (NaN for "real"), n_seeds. Seeds are averaged by
    `synthmed.aggregate.mean_over_seeds`, the rule `claims.seed_means` uses too, so a generator's
    points equal the means its verdicts compare.
    """
    needed = {"modality", "benchmark", "setting", "generator", "seed", "auc_real", "auc_synthetic", "gap"}
    if missing := needed - set(results.columns):
        raise ValueError(f"curve_table: results lack columns {sorted(missing)}")
    results = results.reset_index(drop=True)
    for column in ("auc_real_low", "auc_real_high", "auc_synthetic_low", "auc_synthetic_high", "gap_low", "gap_high"):
        if column not in results.columns:
            results[column] = np.nan
    keys = ["modality", "benchmark", "setting"]
    real = results.drop_duplicates([*keys, "seed"]).assign(
        series="real", auc=results["auc_real"], ci_low=results["auc_real_low"], ci_high=results["auc_real_high"]
    )
    real = real.assign(gap=np.nan, gap_low=np.nan, gap_high=np.nan)
    synthetic = results.assign(
        series=results["generator"],
        auc=results["auc_synthetic"],
        ci_low=results["auc_synthetic_low"],
        ci_high=results["auc_synthetic_high"],
    )
    runs = pd.concat([real, synthetic], ignore_index=True)
    return mean_over_seeds(runs, [*keys, "series"], ["auc", "ci_low", "ci_high", "gap", "gap_low", "gap_high"],
                           {"auc": "seed_sd", "gap": "gap_sd"}, sort=False)


def _setting_order(settings: Sequence[int], benchmark: str) -> list[int]:
    """Left to right as the paper draws them: most classes / samples first; lowest resolution first."""
    return sorted(set(int(s) for s in settings), reverse=benchmark != "resolution")


def _curve_axes(ax_auc, ax_gap, table: pd.DataFrame, benchmark: str, series: Sequence[str], title: str) -> None:
    """Draw one modality's AUROC and gap curves (a `curve_table` slice) on two axes."""
    order = _setting_order(table["setting"], benchmark)
    x_of = {s: i for i, s in enumerate(order)}
    offsets = {name: (k - (len(series) - 1) / 2) * 0.06 for k, name in enumerate(series)}
    for k, name in enumerate(series):
        rows = table[table["series"] == name].copy()
        if rows.empty:
            continue
        rows["x"] = rows["setting"].map(x_of) + offsets[name]
        rows = rows.sort_values("x")
        colour = _colour(name, k)
        x, auc = rows["x"].to_numpy(float), rows["auc"].to_numpy(float)
        ax_auc.plot(x, auc, marker="o", markersize=4, lw=1.4, color=colour, label=name)
        err = np.vstack([auc - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - auc])
        ok = ~np.isnan(err).any(axis=0)
        if ok.any():
            ax_auc.errorbar(x[ok], auc[ok], yerr=err[:, ok], fmt="none", ecolor=colour, elinewidth=0.8, capsize=2)
        sd = rows["seed_sd"].to_numpy(float)
        if np.isfinite(sd).any():
            ax_auc.fill_between(x, auc - np.nan_to_num(sd), auc + np.nan_to_num(sd), color=colour, alpha=0.15, lw=0)
        if name == "real" or ax_gap is None:
            continue
        gap = rows["gap"].to_numpy(float)
        ax_gap.plot(x, gap, marker="o", markersize=4, lw=1.4, color=colour, label=name)
        gerr = np.vstack([gap - rows["gap_low"].to_numpy(float), rows["gap_high"].to_numpy(float) - gap])
        ok = ~np.isnan(gerr).any(axis=0)
        if ok.any():
            ax_gap.errorbar(x[ok], gap[ok], yerr=gerr[:, ok], fmt="none", ecolor=colour, elinewidth=0.8, capsize=2)
        gsd = rows["gap_sd"].to_numpy(float)
        if np.isfinite(gsd).any():
            ax_gap.fill_between(x, gap - np.nan_to_num(gsd), gap + np.nan_to_num(gsd), color=colour, alpha=0.15, lw=0)
    for ax in (ax_auc, ax_gap):
        if ax is None:
            continue
        crowded = len(order) > 5
        ax.set_xticks(
            range(len(order)), [str(s) for s in order], fontsize=7 if crowded else None, rotation=45 if crowded else 0
        )
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_xlabel(_SETTING_TITLES.get(benchmark, "setting"), fontsize=8)
    ax_auc.set_ylabel("mean AUROC, real test split", fontsize=8)
    ax_auc.set_title(title, fontsize=9)
    ax_auc.legend(fontsize=7, loc="best")
    if ax_gap is not None:
        ax_gap.axhline(0, color="grey", linestyle=":", lw=1)
        ax_gap.set_ylabel("utility gap (real - synthetic)", fontsize=8)
        ax_gap.set_title(f"{title}: gap", fontsize=9)


def benchmark_curves(
    results: pd.DataFrame,
    *,
    modalities: Sequence[str] | None = None,
    series: Sequence[str] | None = None,
    gap: bool = True,
    title: str | None = None,
) -> plt.Figure:
    """The paper-style figure of a sweep: mean AUROC against the setting for the real-trained classifier
    and each generator, and (with `gap`) the utility gap, one row of panels per modality.

    `results` is a results table (`synthmed.experiments.RESULT_COLUMNS`; one benchmark). Points are
    seed means; error bars are the runs' 95% bootstrap CIs (averaged over seeds); a shaded band is
    +/- 1 SD across seeds when there are several. Settings run left to right as in the paper.
    """
    table = curve_table(results)
    series = curve_series(results) if series is None else series
    benchmarks_present = list(dict.fromkeys(table["benchmark"]))
    if len(benchmarks_present) != 1:
        raise ValueError(f"benchmark_curves: expected one benchmark's results, got {benchmarks_present}")
    benchmark = benchmarks_present[0]
    if modalities is None:  # chest first, as the paper's figures; any other name after, in table order
        present = list(dict.fromkeys(table["modality"]))
        modalities = [m for m in ("chest", "brain") if m in present] + [
            m for m in present if m not in ("chest", "brain")
        ]
    ncols = 2 if gap else 1
    fig, axes = plt.subplots(
        len(modalities), ncols, figsize=(6.5 if gap else 4.2, 3.0 * len(modalities)), squeeze=False
    )
    for row, modality in enumerate(modalities):
        part = table[table["modality"] == modality]
        _curve_axes(axes[row, 0], axes[row, 1] if gap else None, part, benchmark, series, modality)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def paper_curves(values: pd.DataFrame, title: str, *, gap: bool = True) -> plt.Figure:
    """The paper's published values (`synthmed.paper_results.paper_values`, one benchmark) drawn like
    `benchmark_curves`, on their own figure with `title` naming them; no intervals (none were digitised)."""
    needed = {"modality", "benchmark", "setting", "series", "auc"}
    if missing := needed - set(values.columns):
        raise ValueError(f"paper_curves: values lack columns {sorted(missing)}")
    if values.empty:
        raise ValueError("paper_curves: no published values to draw")
    wide = values.pivot_table(index=["modality", "benchmark", "setting"], columns="series", values="auc").reset_index()
    rows = [
        {
            "modality": r["modality"],
            "benchmark": r["benchmark"],
            "setting": r["setting"],
            "generator": g,
            "seed": 0,
            "auc_real": r["real"],
            "auc_synthetic": r[g],
            "gap": r["real"] - r[g],
        }
        for _, r in wide.iterrows()
        for g in wide.columns
        if g not in ("modality", "benchmark", "setting", "real")
    ]
    fig = benchmark_curves(pd.DataFrame(rows), gap=gap, title=title)
    for ax in fig.axes:
        ax.set_facecolor("#f4f1ea")  # a different ground: these are not our results
    return fig


def ours_beside_paper(tables: Mapping[str, pd.DataFrame], paper: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """One figure for the results summary: per benchmark (a row) and modality, our mean-AUROC curves (every
    series of `curve_series`) beside the paper's published ones (`paper_results.paper_as_results`; a
    grey panel that says so where the paper published none). `tables`: benchmark -> our results."""
    modalities = ("chest", "brain")
    fig, axes = plt.subplots(len(tables), 2 * len(modalities), figsize=(11, 2.6 * len(tables)), squeeze=False)
    for row, (benchmark, results) in enumerate(tables.items()):
        ours, theirs = curve_table(results), paper.get(benchmark)
        published = curve_table(theirs) if theirs is not None and len(theirs) else None
        for k, modality in enumerate(modalities):
            ax_ours, ax_paper = axes[row, 2 * k], axes[row, 2 * k + 1]
            part = ours[ours["modality"] == modality]
            if len(part):
                _curve_axes(ax_ours, None, part, benchmark, curve_series(results), f"ours: {modality} {benchmark}")
            else:
                ax_ours.axis("off")
            theirs_part = None if published is None else published[published["modality"] == modality]
            if theirs_part is None or theirs_part.empty:
                ax_paper.set_facecolor("#f4f1ea")
                ax_paper.text(0.5, 0.5, "no published values", ha="center", va="center", fontsize=8,
                              transform=ax_paper.transAxes)
                ax_paper.set_xticks([]), ax_paper.set_yticks([])
                ax_paper.set_title(f"paper: {modality} {benchmark}", fontsize=9)
                continue
            _curve_axes(ax_paper, None, theirs_part, benchmark, curve_series(theirs), f"paper: {modality} {benchmark}")
            ax_paper.set_facecolor("#f4f1ea")  # a different ground: not our results
    fig.tight_layout()
    return fig


def per_label_results(label_table: pd.DataFrame, label: str) -> pd.DataFrame:
    """One label's AUROCs from a per-label sweep table (`synthmed.experiments.LABEL_COLUMNS`) in the shape
    of a results table: per run auc_real (+ bootstrap bounds), auc_synthetic (+ bounds) and gap (no CI)."""
    needed = {
        "modality",
        "benchmark",
        "setting",
        "generator",
        "seed",
        "trained_on",
        "label",
        "auc",
        "ci_low",
        "ci_high",
    }
    if missing := needed - set(label_table.columns):
        raise ValueError(f"per_label_results: label_table lacks columns {sorted(missing)}")
    rows = label_table[label_table["label"] == label]
    if rows.empty:
        raise ValueError(f"per_label_results: no rows for label {label!r}")
    keys = ["modality", "benchmark", "setting", "generator", "seed"]
    columns = {"auc": "auc_{}", "ci_low": "auc_{}_low", "ci_high": "auc_{}_high"}
    real = rows[rows["trained_on"] == "real"].rename(columns={k: v.format("real") for k, v in columns.items()})
    synthetic = rows[rows["trained_on"] == rows["generator"]]
    synthetic = synthetic.rename(columns={k: v.format("synthetic") for k, v in columns.items()})
    merged = real[keys + [v.format("real") for v in columns.values()]].merge(
        synthetic[keys + [v.format("synthetic") for v in columns.values()]], on=keys, how="inner"
    )
    return merged.assign(gap=merged["auc_real"] - merged["auc_synthetic"], gap_low=np.nan, gap_high=np.nan)


# ---------------------------------------------------------------------------------------------
# Fidelity, utility and privacy (issue 17): every point of every benchmark, generators coloured.

BENCHMARK_MARKERS = {"classes": "o", "samples": "s", "resolution": "^"}


def _point_scatter(ax: plt.Axes, means: pd.DataFrame, x: str, y: str, names: Sequence[str]) -> None:
    for k, name in enumerate(names):
        mine = means[means["generator"] == name]
        for benchmark, marker in BENCHMARK_MARKERS.items():
            part = mine[mine["benchmark"] == benchmark] if "benchmark" in mine.columns else mine
            if len(part):
                ax.scatter(part[x], part[y], color=_colour(name, k), marker=marker, s=28, alpha=0.85,
                           edgecolor="white", linewidth=0.5)


def _legend(fig: plt.Figure, names: Sequence[str], benchmarks: Sequence[str]) -> None:
    handles = [plt.Line2D([], [], color=_colour(n, k), marker="o", linestyle="", label=n) for k, n in enumerate(names)]
    handles += [plt.Line2D([], [], color="grey", marker=BENCHMARK_MARKERS.get(b, "o"), linestyle="", label=b)
                for b in benchmarks]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.0),
               fontsize=8)


def _modalities(means: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    present = list(pd.unique(means["modality"]))
    return [m for m in (order or ()) if m in present] + [m for m in present if m not in (order or ())]


def fidelity_vs_gap(means: pd.DataFrame, metrics: Mapping[str, str], rho: pd.DataFrame | None = None, *,
                    modalities: Sequence[str] | None = None, log_x: Sequence[str] = ("fd_synthetic", "kid"),
                    ) -> plt.Figure:
    """Each fidelity metric (`metrics`: column -> its label; a column per panel) against the utility gap, one row
    of panels per modality (in `modalities`' order first), a dot per point (seed means: `claims.point_means`),
    coloured by generator, shaped by benchmark. `rho` (modality, metric -> rho, low, high), where given, is
    printed in each panel's title. The `log_x` metrics (distances, skewed) get a symmetric-log axis."""
    _require_columns(means, ["modality", "generator", "gap", *metrics], "fidelity_vs_gap")
    modalities = _modalities(means, modalities)
    names = [g for g in generators.names() if g in set(means["generator"])]
    fig, axes = plt.subplots(len(modalities), len(metrics), figsize=(2.6 * len(metrics), 2.5 * len(modalities) + 0.5),
                             squeeze=False)
    for i, modality in enumerate(modalities):
        mine = means[means["modality"] == modality]
        for j, (column, label) in enumerate(metrics.items()):
            ax = axes[i, j]
            _point_scatter(ax, mine, column, "gap", names)
            title = f"{modality}"
            if rho is not None and (modality, column) in rho.index:
                r = rho.loc[(modality, column)]
                title += f": rho {r['rho']:+.2f}" if np.isfinite(r["rho"]) else ": rho n/a"
            ax.set_title(title, fontsize=9)
            values = mine[column].abs()
            if column in log_x and (values > 0).any():
                ax.set_xscale("symlog", linthresh=float(values[values > 0].min()))
            ax.set_xlabel(label)
            ax.set_ylabel("utility gap" if j == 0 else "")
            ax.axhline(0, color="grey", lw=0.6, ls=":")
    _legend(fig, names, [b for b in BENCHMARK_MARKERS if b in set(means.get("benchmark", []))])
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def privacy_frontier(means: pd.DataFrame, *, modalities: Sequence[str] | None = None) -> plt.Figure:
    """The membership attack's AUROC (with its bootstrap interval, where the table has mia_auc_low/high)
    against the utility gap, one panel per modality, a dot per point, coloured by generator, shaped by
    benchmark; the dashed line is chance (0.5), the dotted one the control attack's mean (real validation
    images in place of the synthetic set), where the table has it."""
    _require_columns(means, ["modality", "generator", "gap", "mia_auc"], "privacy_frontier")
    modalities = _modalities(means, modalities)
    names = [g for g in generators.names() if g in set(means["generator"])]
    fig, axes = plt.subplots(1, len(modalities), figsize=(4.2 * len(modalities), 3.6), squeeze=False)
    for ax, modality in zip(axes[0], modalities, strict=True):
        mine = means[means["modality"] == modality]
        if {"mia_auc_low", "mia_auc_high"} <= set(mine.columns):
            for k, name in enumerate(names):
                part = mine[mine["generator"] == name]
                ax.errorbar(part["gap"], part["mia_auc"],
                            yerr=[part["mia_auc"] - part["mia_auc_low"], part["mia_auc_high"] - part["mia_auc"]],
                            fmt="none", ecolor=_colour(name, k), alpha=0.4, lw=0.8)
        _point_scatter(ax, mine, "gap", "mia_auc", names)
        ax.axhline(0.5, color="grey", ls="--", lw=0.8)
        if "mia_auc_control" in mine.columns and mine["mia_auc_control"].notna().any():
            ax.axhline(float(mine["mia_auc_control"].mean()), color="grey", ls=":", lw=0.8)
        ax.set(title=modality, xlabel="utility gap (smaller: more useful)", ylabel="attack AUROC (0.5: no leak)")
    _legend(fig, names, [b for b in BENCHMARK_MARKERS if b in set(means.get("benchmark", []))])
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig
