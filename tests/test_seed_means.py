"""A figure's curve table and a verdict's seed means average seeds by one rule (synthmed.aggregate)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from synthmed import claims, plots
from synthmed.aggregate import mean_over_seeds


def three_seeds_and_a_nan() -> pd.DataFrame:
    rows = []
    for setting in (2, 20):
        for seed in range(3):
            real = 0.80 + 0.01 * seed + 0.001 * setting
            for generator, drop in (("cpD-GAN", 0.05), ("prog-GAN", 0.10)):
                synthetic = real - drop - 0.02 * seed
                rows.append(dict(modality="chest", benchmark="classes", setting=setting, generator=generator, seed=seed,
                                 auc_real=real, auc_real_low=real - 0.05, auc_real_high=real + 0.05,
                                 auc_synthetic=synthetic, auc_synthetic_low=synthetic - 0.05,
                                 auc_synthetic_high=synthetic + 0.05, gap=real - synthetic,
                                 gap_low=real - synthetic - 0.02, gap_high=real - synthetic + 0.02))
    table = pd.DataFrame(rows)
    # One run without a synthetic AUROC (hence no gap): seed 1 of cpD-GAN at 20 settings.
    lost = (table["setting"] == 20) & (table["generator"] == "cpD-GAN") & (table["seed"] == 1)
    table.loc[lost, ["auc_synthetic", "auc_synthetic_low", "auc_synthetic_high", "gap", "gap_low", "gap_high"]] = np.nan
    return table


def test_a_figure_and_a_verdict_show_the_same_seed_means() -> None:
    results = three_seeds_and_a_nan()
    curves = plots.curve_table(results).set_index(["setting", "series"])
    means = claims.seed_means(results).set_index(["setting", "generator"])
    pairs = {"auc": "auc_synthetic", "ci_low": "auc_synthetic_low", "ci_high": "auc_synthetic_high",
             "gap": "gap", "gap_low": "gap_low", "gap_high": "gap_high", "gap_sd": "gap_sd", "n_seeds": "n_seeds"}
    for (setting, generator), verdict in means.iterrows():
        figure = curves.loc[(setting, generator)]
        for column, other in pairs.items():
            assert figure[column] == pytest.approx(verdict[other], nan_ok=True), (setting, generator, column)
        # The real-trained classifier's curve is the verdict's real mean (every generator ran every seed).
        assert curves.loc[(setting, "real"), "auc"] == pytest.approx(verdict["auc_real"])
        assert curves.loc[(setting, "real"), "n_seeds"] == verdict["n_seeds"] == 3


def test_a_nan_is_left_out_of_the_mean_and_the_sd_but_its_run_is_counted() -> None:
    results = three_seeds_and_a_nan()
    means = claims.seed_means(results).set_index(["setting", "generator"])
    point = means.loc[(20, "cpD-GAN")]
    finite = results[(results["setting"] == 20) & (results["generator"] == "cpD-GAN") & (results["seed"] != 1)]
    assert point["auc_synthetic"] == pytest.approx(finite["auc_synthetic"].mean())
    assert point["gap_sd"] == pytest.approx(finite["gap"].std(ddof=1))
    assert point["n_seeds"] == 3 and not math.isnan(point["gap"])


def test_mean_over_seeds_keeps_an_all_nan_column_nan_and_one_seed_without_sd() -> None:
    runs = pd.DataFrame({"group": ["a", "a", "b"], "seed": [0, 1, 0], "x": [np.nan, np.nan, 1.0]})
    table = mean_over_seeds(runs, ["group"], ["x"], {"x": "x_sd"}).set_index("group")
    assert math.isnan(table.loc["a", "x"]) and table.loc["b", "x"] == 1.0
    assert math.isnan(table.loc["b", "x_sd"]) and list(table["n_seeds"]) == [2, 1]
