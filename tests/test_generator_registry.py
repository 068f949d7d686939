"""Adding a generator is one registry entry: a toy generator registered here (the mean training image of
each label vector) runs through a tiny sweep, the results schema, the figures, the claims, the results
explorer and the machine reader without any other file knowing its name."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from synthmed import claims, experiments, generators, plots, profiles, widgets
from synthmed.reader.machine import point_images

matplotlib.use("Agg")
TOY = "mean-image"


@dataclass(frozen=True)
class MeanImageConfig:
    resolution: int
    n_labels: int
    noise: float = 8.0  # grey levels of seeded noise on each sample, so that samples differ with the seed

    def to_dict(self) -> dict:
        return asdict(self)


def _config(profile: str, resolution: int, n_labels: int, precision: str | None = None, *,
            shared: bool = False) -> MeanImageConfig:
    profiles.get(profile)  # an unknown profile fails here as for the GANs
    return MeanImageConfig(resolution, n_labels)


def _train(config, images, labels, *, seed, profile, domain, device="auto", progress=False) -> generators.Trained:
    keys = [tuple(row) for row in labels.astype(np.int8)]
    means = {key: images[[k == key for k in keys]].mean(axis=0) for key in set(keys)}
    means[None] = images.mean(axis=0)
    nan = float("nan")
    return generators.Trained(model=(config, means), log_path=None, stop_metric="fd_domain", stop_value=nan,
                              fd_domain=nan, best_kimg=nan, sampled_kimg=len(images) / 1000,
                              train_kimg=len(images) / 1000, stop_reason="total_kimg", train_seconds=0.0)


def _sample(trained: generators.Trained, labels: np.ndarray, *, seed: int, device: str = "auto") -> np.ndarray:
    config, means = trained.model
    rng = np.random.default_rng(seed)
    rows = [means.get(tuple(row), means[None]) for row in np.asarray(labels).astype(np.int8)]
    noisy = np.stack(rows) + rng.normal(0, config.noise, (len(rows), *rows[0].shape))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def toy():
    spec = generators.register(generators.Generator(
        name=TOY, colour="#2ca02c", description="the mean training image of each label vector (a test toy)",
        config=_config, train=_train, sample=_sample,
    ))
    yield spec
    generators.unregister(TOY)


@pytest.fixture(scope="module")
def sweep(toy, tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHMED_HOME", str(tmp_path_factory.mktemp("toy-home")))
        patch.setenv("TQDM_DISABLE", "1")
        source = experiments.load_source("chest", profiles.get("tiny").data_config(chest_patients=80))
        results = experiments.run_sweep("chest", "classes", "tiny", settings=(20, 6), generators=(TOY,),
                                        source=source, progress=False)
        labels = experiments.load_results("chest", "classes", "tiny", per_label=True)
        run = experiments.run_point("chest", "classes", 20, TOY, "tiny", source=source)
        yield results, labels, run


def test_a_registered_generator_joins_the_registry_and_an_unknown_one_is_named(toy) -> None:
    assert generators.names()[-1] == TOY and generators.get(TOY) is toy
    assert set(generators.paper_names()) == {"cpD-GAN", "prog-GAN"}  # the paper's claims still compare those two
    with pytest.raises(ValueError, match="registered already"):
        generators.register(toy)
    with pytest.raises(ValueError, match=f"unknown generator 'diffusion'; expected one of .*{TOY}"):
        generators.get("diffusion")


def test_a_tiny_sweep_runs_the_toy_generator_into_a_valid_results_table(sweep) -> None:
    results, labels, _ = sweep
    assert results["generator"].tolist() == [TOY, TOY] and results["setting"].tolist() == [20, 6]
    assert list(results.columns) == list(experiments.RESULT_COLUMNS)
    assert (results["stop_reason"] == "total_kimg").all() and results["stop_value"].isna().all()
    assert np.allclose(results["train_kimg"], results["n_train"] / 1000)
    assert results[["auc_real", "auc_synthetic"]].notna().all().all()
    assert set(labels["trained_on"]) == {"real", TOY}
    # The saved table reads back with the toy's rows: validation knows every registered generator.
    saved = experiments.load_results("chest", "classes", "tiny")
    pd.testing.assert_frame_equal(saved, results, check_like=True)


def test_the_toy_samples_one_image_per_label_vector_that_depends_on_the_labels_and_the_seed(sweep) -> None:
    _, _, run = sweep
    (x_train, y_train), (_, y_test) = run.arrays["train"], run.arrays["test"]
    assert run.synthetic["train"].shape == x_train.shape and run.synthetic["test"].shape[0] == len(y_test)
    spec = generators.get(TOY)
    again = spec.sample(run.trained, y_train, seed=0)
    np.testing.assert_array_equal(again, run.synthetic["train"])  # the train split is drawn with the run's seed
    assert not np.array_equal(spec.sample(run.trained, y_train, seed=1), again)
    first, other = y_train[:1], next(y_train[i:i + 1] for i in range(len(y_train)) if (y_train[i] != y_train[0]).any())
    assert not np.array_equal(spec.sample(run.trained, first, seed=0), spec.sample(run.trained, other, seed=0))


def test_figures_claims_and_the_explorer_show_the_toy_as_a_series(sweep) -> None:
    results, _, _ = sweep
    assert plots.curve_series(results) == ("real", TOY)
    fig = plots.benchmark_curves(results)
    drawn = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert TOY in drawn
    assert any(matplotlib.colors.same_color(line.get_color(), "#2ca02c") for ax in fig.axes for line in ax.get_lines()
               if line.get_label() == TOY)
    verdicts = claims.check_benchmark(results, "classes")
    assert [v.claim for v in verdicts] == ["T1", "T2"]
    assert verdicts[0].status == "undecided"  # T1 compares the paper's two GANs, absent here
    assert TOY in verdicts[1].scope
    explorer = widgets.benchmark_explorer(results)
    dropdowns = [c for c in explorer.children if getattr(c, "description", "") == "generator"]
    if not dropdowns:  # the controls sit in a box
        dropdowns = [c for box in explorer.children for c in getattr(box, "children", ())
                     if getattr(c, "description", "") == "generator"]
    assert dropdowns and TOY in dropdowns[0].options


def test_the_machine_reader_completes_a_run_without_a_synthetic_test_split_through_the_registry(sweep) -> None:
    _, _, run = sweep
    synthetic = {k: v for k, v in run.synthetic.items() if k != "test"}
    partial = experiments.PointRun(run.row, run.subset, run.arrays, synthetic, run.real_model, run.synthetic_model,
                                   run.scores_real, run.scores_synthetic, run.trained, run.evaluation)
    images = point_images(partial, device="cpu")
    np.testing.assert_array_equal(images.synthetic_test, run.synthetic["test"])
