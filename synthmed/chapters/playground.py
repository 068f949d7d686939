"""The playground: one benchmark point, chosen with widgets and run end to end in a live kernel.

A student picks the modality, benchmark and setting, the generator, how long it trains (a factor on the
profile's schedule), the classifier's epochs and a seed; *Run* calls `experiments.run_point` with those
overrides (every step cached under the configs they make) and shows the samples, the per-label AUROCs and
the utility gap beside the book's own result at the nearest setting. Nothing here runs without a kernel:
the static page shows a run recorded when the book was built.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthmed import generators, profiles

LENGTHS = (0.25, 0.5, 1.0, 2.0)  # training length: factors on the profile's schedule
MODALITIES = ("chest", "brain")
STOP_REASONS = {"total_kimg": "the end of its schedule", "patience": "early stopped"}


@dataclass(frozen=True)
class Choice:
    """One playground run: a benchmark point, a generator and how long both networks train."""

    modality: str
    benchmark: str
    setting: int
    generator: str
    length: float = 0.5  # factor on every kimg of the profile's generator schedule
    epochs: int = 2  # the classifiers' most epochs
    seed: int = 0

    def describe(self) -> str:
        return (f"{self.modality}, {self.benchmark} {self.setting}, {self.generator} at {self.length:g}x the "
                f"profile's schedule, classifiers at most {self.epochs} epochs, seed {self.seed}")


def default_choice(profile: str, seed: int = 0) -> Choice:
    """The quickest point of the profile's classes sweep (its fewest combinations), with cpD-GAN."""
    settings = profiles.get(profile).settings
    return Choice("chest", "classes", min(settings["chest", "classes"]), "cpD-GAN", seed=seed)


def scaled_schedule(config, factor: float) -> dict[str, float]:
    """Every kimg field of a generator config (`total_kimg`, the Fréchet evaluations' start and spacing,
    prog-GAN's growth) times `factor`, as `dataclasses.replace` overrides: the schedule keeps its shape."""
    if factor <= 0:
        raise ValueError(f"training length {factor} must be positive")
    return {f.name: getattr(config, f.name) * factor for f in dataclasses.fields(config)
            if f.name.endswith("_kimg") and getattr(config, f.name)}


@dataclass
class Result:
    choice: Choice
    run: object  # experiments.PointRun
    seconds: float


def run(choice: Choice, profile: str, *, data_root: str = "", classifier_weights: str = "", precision: str = "",
        progress: bool = True) -> Result:
    """`run_point` at the choice's point with its schedule factor and epochs (cached like every run);
    `classifier_weights` and `precision` as `run_point`'s ("": the profile's)."""
    from synthmed.experiments import generator_config, run_point

    settings = profiles.get(profile)
    if choice.setting not in settings.settings.get((choice.modality, choice.benchmark), ()):
        raise ValueError(f"{choice.modality} {choice.benchmark} has no setting {choice.setting} at profile "
                         f"{profile}; it has {settings.settings.get((choice.modality, choice.benchmark))}")
    if choice.epochs < 1:
        raise ValueError(f"classifier epochs {choice.epochs} must be at least 1")
    resolution = settings.point_resolution(choice.benchmark, choice.setting)
    # The config's label count only sizes the networks; the schedule's kimg fields do not depend on it.
    base = generator_config(choice.generator, profile, resolution, 1)
    start = time.perf_counter()
    point = run_point(choice.modality, choice.benchmark, choice.setting, choice.generator, profile, choice.seed,
                      data_root=data_root or None, progress=progress,
                      classifier_weights=classifier_weights or None, precision=precision or None,
                      generator_overrides=scaled_schedule(base, choice.length),
                      classifier_overrides={"max_epochs": choice.epochs})
    return Result(choice, point, time.perf_counter() - start)


def book_result(choice: Choice, profile: str, loader: Callable | None = None) -> pd.Series | None:
    """The book's own result at the choice's nearest setting (same modality, benchmark and generator, mean
    over seeds) from the saved sweep table; None when that sweep has not run or lacks the generator."""
    from synthmed.experiments import load_results

    try:
        table = (loader or load_results)(choice.modality, choice.benchmark, profile)
    except (FileNotFoundError, ValueError):
        return None
    table = table[table["generator"] == choice.generator]
    if table.empty:
        return None
    settings = np.array(sorted(set(table["setting"])))
    nearest = int(settings[np.argmin(np.abs(np.log(settings) - np.log(choice.setting)))])
    rows = table[table["setting"] == nearest]
    return rows[["auc_real", "auc_synthetic", "gap"]].mean().rename(f"the book: {choice.benchmark} {nearest}, "
                                                                    f"{len(rows)} seed(s), full schedule")


def comparison(result: Result, book: pd.Series | None) -> pd.DataFrame:
    """This run's mean AUROCs and gap (with its interval) beside the book's at the nearest setting."""
    row = result.run.row
    ours = pd.Series({"auc_real": row["auc_real"], "auc_synthetic": row["auc_synthetic"], "gap": row["gap"]},
                     name=f"this run ({result.seconds:.0f} s)")
    table = pd.DataFrame([ours] + ([book] if book is not None else []))
    table.insert(3, "gap 95% CI", [f"{row['gap_low']:+.3f} to {row['gap_high']:+.3f}"] + [""] * (book is not None))
    return table


def summary(result: Result, book: pd.Series | None) -> str:
    row = result.run.row
    why = STOP_REASONS.get(row["stop_reason"], row["stop_reason"])
    text = (f"**{result.choice.describe()}**: {row['n_train']:,} training images, generator trained to "
            f"{row['train_kimg']:,g} kimg ({why}); synthetic-trained mean AUROC "
            f"{row['auc_synthetic']:.3f} against {row['auc_real']:.3f} real-trained, a gap of {row['gap']:+.3f}.")
    if book is None:
        return text + " The book has no saved result for this benchmark and generator yet (build its chapter)."
    return text + f" The book's run at the nearest setting ({book.name}) has a gap of {book['gap']:+.3f}."


def samples(result: Result, k: int = 8) -> tuple[list[np.ndarray], list[str]]:
    """`k` real test images and the synthetic images drawn for the same label vectors, with titles."""
    point = result.run
    real, labels = point.arrays["test"]
    k = min(k, len(real))
    names = list(point.subset.labels)

    def title(vector) -> str:  # short enough for a column: the first finding and how many more
        found = [n for n, v in zip(names, vector, strict=True) if v]
        if not found:
            return "no finding"
        return found[0][:14] + (f" +{len(found) - 1}" if len(found) > 1 else "")

    images = list(real[:k]) + list(point.synthetic["test"][:k])
    titles = [f"real\n{title(v)}" for v in labels[:k]] + [f"{result.choice.generator}\n{title(v)}" for v in labels[:k]]
    return images, titles


def show(result: Result, profile: str) -> None:
    """Display a run: summary, samples, per-label AUROCs and the comparison with the book."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from synthmed import plots

    book = book_result(result.choice, profile)
    display(Markdown(summary(result, book)))
    images, titles = samples(result)
    plt.show(plots.image_grid(images, titles, ncols=len(images) // 2, size=1.3))
    plt.show(plots.auc_bars(result.run.evaluation, title=result.choice.describe()))
    display(comparison(result, book).round(3))


def controls(profile: str, choice: Choice, *, data_root: str = "", classifier_weights: str = "", precision: str = "",
             runner: Callable[..., Result] = run, shower: Callable[[Result, str], None] = show):
    """The playground's widgets: a control per `Choice` field, a Run button and an output. Clicking Run runs
    the chosen point (`runner`) in the kernel and shows it (`shower`); without a kernel nothing happens, and
    the output says so until the first run."""
    import ipywidgets as w

    settings = profiles.get(profile)
    modality = w.Dropdown(options=MODALITIES, value=choice.modality, description="modality")
    benchmark = w.Dropdown(options=("classes", "samples", "resolution"), value=choice.benchmark,
                           description="benchmark")
    setting = w.Dropdown(options=settings.settings[choice.modality, choice.benchmark], value=choice.setting,
                         description="setting")
    generator = w.Dropdown(options=generators.names(), value=choice.generator, description="generator")
    length = w.SelectionSlider(options=LENGTHS, value=choice.length, description="training x")
    epochs = w.IntSlider(value=choice.epochs, min=1, max=10, description="epochs")
    seed = w.IntText(value=choice.seed, description="seed")
    button = w.Button(description="Run", button_style="primary", icon="play")
    out = w.Output()
    with out:
        from IPython.display import Markdown, display

        display(Markdown("*Running needs a live kernel (the launch buttons at the top of the page open one). "
                         "Below the controls on the static page is a run recorded when the book was built.*"))

    def on_point(_change=None) -> None:
        setting.options = settings.settings[modality.value, benchmark.value]

    modality.observe(on_point, names="value")
    benchmark.observe(on_point, names="value")

    def on_run(_button=None) -> None:
        chosen = Choice(modality.value, benchmark.value, int(setting.value), generator.value, float(length.value),
                        int(epochs.value), int(seed.value))
        button.disabled = True
        out.clear_output()
        try:
            with out:
                print(f"Running {chosen.describe()} ...")
                shower(runner(chosen, profile, data_root=data_root, classifier_weights=classifier_weights,
                              precision=precision), profile)
        finally:
            button.disabled = False

    button.on_click(on_run)
    box = w.VBox([w.HBox([modality, benchmark, setting]), w.HBox([generator, length, epochs]), w.HBox([seed, button]),
                  out])
    box.run = on_run  # for tests and scripts: the same as clicking Run
    return box
