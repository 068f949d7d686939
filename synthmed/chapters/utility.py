"""The utility chapter: the classifier, per-label AUCs, the utility gap and the paper's own AUC variant."""

from __future__ import annotations

import pandas as pd

from synthmed import paper_results
from synthmed.chapters.shared import SharedPoints
from synthmed.classify.metrics import MEAN_ROW, PAPER_TEST_MULTIPLE, paper_variant_steps

RUN_COLUMNS = ["modality", "benchmark", "setting", "resolution", "generator", "n_classes", "n_labels", "n_train",
               "n_val", "n_test", "real_epochs", "synthetic_epochs", "sampled_kimg", "stop_value"]
GAP_COLUMNS = ["modality", "generator", "auc_real", "auc_synthetic", "gap", "gap_low", "gap_high", "delong_p"]
PAPER_LARGEST_CLASSES = {"chest": 20, "brain": 10}  # the paper's largest classes point per modality


def classifier_note(classifier, paper_classifier, n_parameters: int, profile: str) -> str:
    """Which classifier ran, from which weights, on which schedule, beside the paper's (`ClassifierConfig`s)."""
    if classifier.arch == "densenet121":
        which = (
            f"the paper's **DenseNet-121** ({n_parameters:,} parameters), on images bilinearly resized to "
            "224x224 and normalised with ImageNet's channel statistics"
        )
    else:
        which = (
            f"a **compact residual CNN** ({n_parameters:,} parameters, {classifier.width} channels in its "
            "first stage) at the images' own resolution: a DenseNet-121 at 224x224 is far too slow for "
            f"the `{profile}` profile on a CPU. The `paper` profile uses the DenseNet"
        )
    if classifier.weights == "imagenet":
        weights = "fine-tuned from torchvision's **ImageNet** DenseNet-121 weights, as the paper"
    elif classifier.weights_path is not None:
        weights = f"started from the local weights file `{classifier.weights_path}`"
    elif classifier.arch == "densenet121":
        weights = "trained **from scratch** (the paper started from ImageNet weights: `classifier_weights: imagenet`)"
    else:
        weights = (
            "trained **from scratch**: the paper fine-tuned an ImageNet DenseNet-121 (the `paper` profile does, "
            "`classifier_weights: imagenet`); no ImageNet weights exist for this compact CNN"
        )
    schedule = (
        f"Adam at learning rate {classifier.lr:g} (the paper: {paper_classifier.lr:g}), batches of "
        f"{classifier.batch}, epochs of up to {classifier.epoch_images:,} images (the paper: "
        f"{paper_classifier.epoch_images:,}), at most {classifier.max_epochs} epochs (the paper: "
        f"{paper_classifier.max_epochs}), the learning rate x{classifier.lr_factor:g} after {classifier.lr_patience} "
        f"epochs without a better validation AUROC, a stop after {classifier.stop_patience}"
    )
    return (
        f"Here (profile `{profile}`) the classifier is {which}. It is {weights}. Its schedule: {schedule}. "
        "The loss is **unweighted**: the paper's code computed per-label class weights but handed them to "
        "Keras 2.2.4 in a form that version silently ignores, so the published classifiers were trained "
        "unweighted too, and so are ours."
    )


def per_label_evaluation(shared: SharedPoints, modality: str) -> tuple[pd.DataFrame, str]:
    """Per-label AUCs of the real-trained and each generator's synthetic-trained classifier (tidy, for
    `plots.auc_bars`), and the panel's title."""
    first = shared.first(modality)
    evaluation = pd.concat(
        [first.evaluation[first.evaluation["trained_on"] == "real"]]
        + [shared.runs[modality, g].evaluation[shared.runs[modality, g].evaluation["trained_on"] == g]
           for g in shared.generators],
        ignore_index=True,
    )
    row = first.row
    title = f"{first.subset.point.name} at {row['resolution']}x{row['resolution']}, {row['n_test']} test images"
    return evaluation, title


def auc_note(shared: SharedPoints, n_boot: int) -> str:
    """Mean AUROC with its interval per classifier and modality, and how wide the intervals get."""
    sentences = []
    for modality in shared.points:
        first = shared.first(modality).row
        parts = [f"real {first['auc_real']:.3f} ({first['auc_real_low']:.3f}-{first['auc_real_high']:.3f})"]
        for g in shared.generators:
            r = shared.runs[modality, g].row
            parts.append(f"{g} {r['auc_synthetic']:.3f} ({r['auc_synthetic_low']:.3f}-{r['auc_synthetic_high']:.3f})")
        sentences.append(f"- **{modality}**, mean AUROC (95% CI): " + ", ".join(parts) + ".")
    rows = shared.rows()
    widest = max((rows[f"auc_{kind}_high"] - rows[f"auc_{kind}_low"]).max() for kind in ("real", "synthetic"))
    return (
        "\n".join(sentences)
        + f"\n\nThe intervals come from {n_boot:,} bootstrap resamples of the "
        f"{rows['n_test'].min():,}-{rows['n_test'].max():,} test images; the widest is "
        f"{widest:.3f} wide. A label with a handful of positives can still swing from one end of the axis to "
        "the other, as the per-label bars above show."
    )


def gap_note(rows: pd.DataFrame, alpha: float = 0.05) -> str:
    """Per run: the gap, its interval and DeLong's verdict at level `alpha`."""
    lines = []
    for r in rows.to_dict("records"):
        if r["delong_p"] != r["delong_p"]:  # NaN: a label has fewer than 2 positive or negative test images
            verdict = "DeLong's test is undefined here (a label has fewer than 2 positive or negative test images)"
        elif r["delong_p"] >= alpha:
            verdict = f"the difference is not significant at the {alpha:.0%} level"
        else:
            better = "real" if r["gap"] > 0 else "synthetic"
            verdict = f"the {better}-trained classifier is better at the {alpha:.0%} level"
        lines.append(
            f"- **{r['modality']}, {r['generator']}**: gap {r['gap']:+.3f} (95% CI {r['gap_low']:+.3f} to "
            f"{r['gap_high']:+.3f}), DeLong p = {r['delong_p']:.3g}: {verdict}."
        )
    return "\n".join(lines)


def paper_scale_note() -> str:
    """The paper's published AUROCs at its largest classes points, for scale."""
    published = paper_results.paper_values(benchmark="classes")
    parts = []
    for modality, k in PAPER_LARGEST_CLASSES.items():
        at = published[(published["modality"] == modality) & (published["setting"] == k)].set_index("series")["auc"]
        parts.append(
            f"{modality} with {k} classes: real {at['real']:.3f}, cpD-GAN {at['cpD-GAN']:.3f}, "
            f"prog-GAN {at['prog-GAN']:.3f} (gaps {at['real'] - at['cpD-GAN']:.3f} and "
            f"{at['real'] - at['prog-GAN']:.3f})"
        )
    return (
        "For scale, the paper's results at its largest classes points (32x32, real CheXpert and RSNA data, "
        f"DenseNet-121 from ImageNet weights; mean AUROC {paper_results.SOURCE}): " + "; ".join(parts) + ". "
        "The numbers above are not comparable to these: they come from phantom images, a smaller classifier "
        "and generators trained for minutes on a CPU (at the `cpu` and `tiny` profiles), and one seed."
    )


def paper_auc_steps(shared: SharedPoints) -> pd.DataFrame:
    """Per modality and classifier: the standard mean AUROC, with the paper's flip, and with its truncation."""
    steps = []
    for modality in shared.points:
        first = shared.first(modality)
        y_test = first.arrays["test"][1]
        for name, s in shared.test_scores(modality).items():
            table = paper_variant_steps(y_test, s, list(first.subset.labels))
            per_label = table.drop(index=MEAN_ROW)
            steps.append(
                {
                    "modality": modality,
                    "trained on": name,
                    "test images": len(y_test),
                    "used by the paper": first.evaluation["n_test_paper"].iloc[0],
                    "labels below 0.5": int((per_label["auc"] < 0.5).sum()),
                    **table.loc[MEAN_ROW].to_dict(),
                }
            )
    return pd.DataFrame(steps)


def paper_auc_note(steps: pd.DataFrame) -> str:
    """What the paper's truncation and flip do to each gap (`paper_auc_steps`' table)."""
    notes = []
    for modality, part in steps.groupby("modality", sort=False):
        n_test, n_used = int(part["test images"].iloc[0]), int(part["used by the paper"].iloc[0])
        if n_used == 0:
            notes.append(
                f"- **{modality}**: the test split has {n_test} images, fewer than {PAPER_TEST_MULTIPLE}, so the "
                "paper's evaluation would have used **none** and reported nothing (NaN); only the flip can be shown."
            )
        else:
            notes.append(
                f"- **{modality}**: the paper's evaluation would have used {n_used} of the {n_test} test images "
                f"(dropping {n_test - n_used})."
            )
        real = part[part["trained on"] == "real"].iloc[0]
        for _, syn in part[part["trained on"] != "real"].iterrows():
            gap, gap_flipped, gap_paper = (real[c] - syn[c] for c in ("auc", "auc_flipped", "auc_paper"))
            paper = f", with both quirks {gap_paper:+.3f}" if pd.notna(gap_paper) else ""
            notes.append(
                f"  {syn['trained on']}: labels with an AUC below 0.5: {int(syn['labels below 0.5'])} "
                f"(the real-trained classifier: {int(real['labels below 0.5'])}); the gap is {gap:+.3f} with the "
                f"standard AUC, {gap_flipped:+.3f} with the flip alone{paper}."
            )
    return "\n".join(notes)
