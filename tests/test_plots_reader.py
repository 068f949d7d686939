"""The reader-study figures: what they draw, and that simulated ones say so."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from synthmed import plots
from synthmed.reader.study import power_of_test, simulate_panel, summarise


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def _machine_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "modality": ["chest", "chest", "brain"],
            "resolution": [32, 64, 32],
            "accuracy": [0.6, 0.9, 0.5],
            "accuracy_low": [0.5, 0.8, 0.3],
            "accuracy_high": [0.7, 0.95, 0.7],
            "n_test": [100, 100, 40],
        }
    )


def test_reader_accuracy_draws_each_interval_where_its_resolution_is() -> None:
    fig = plots.reader_accuracy(_machine_table(), n="n_test", title="machine reader")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["32x32", "64x64"]
    chest = next(c for c in ax.containers if c.get_label() == "chest")
    x, y = chest.lines[0].get_data()
    assert x[1] > x[0] and list(y) == [0.6, 0.9]  # sorted by resolution, 64 to the right of 32
    segments = chest.lines[2][0].get_segments()  # the vertical error bars
    assert [tuple(np.round([s[0][1], s[1][1]], 3)) for s in segments] == [(0.5, 0.7), (0.8, 0.95)]
    assert "n=40" in _texts(fig) and "SIMULATED" not in " ".join(_texts(fig))
    assert fig._suptitle.get_text() == "machine reader"
    plt.close(fig)


def test_simulated_figures_say_so_in_their_title() -> None:
    fig = plots.reader_accuracy(_machine_table(), title="a panel", simulated=True)
    assert fig._suptitle.get_text().startswith("SIMULATED")
    assert sum(t == "SIMULATED" for t in _texts(fig)) == 1  # the watermark
    plt.close(fig)
    already = plots.reader_accuracy(_machine_table(), title="SIMULATED panel", simulated=True)
    assert already._suptitle.get_text() == "SIMULATED panel"
    plt.close(already)


def test_reader_forest_has_a_row_per_reader_and_the_pooled_estimate() -> None:
    panel = pd.concat(
        [
            simulate_panel(3, 20, [0.5, 0.6, 0.7], seed=0, resolution=32),
            simulate_panel(3, 20, [0.5, 0.6, 0.7], seed=1, resolution=64),
        ],
        ignore_index=True,
    )
    per_reader = summarise(panel, ["resolution", "reader_id"]).rename(columns={"resolution": "setting"})
    pooled = summarise(panel, ["resolution"]).rename(columns={"resolution": "setting"})
    fig = plots.reader_forest(per_reader, pooled, margin=0.1, title="readers", simulated=True)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in panels] == ["32", "64"]
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["sim-reader-01", "sim-reader-02", "sim-reader-03", "pooled"]
    pooled_marker = panels[0].containers[-1].lines[0].get_data()
    assert pooled_marker[0][0] == pytest.approx(pooled.loc[0, "accuracy"])
    assert fig._suptitle.get_text() == "SIMULATED: readers"
    plt.close(fig)


def test_reader_figures_name_missing_columns() -> None:
    with pytest.raises(ValueError, match=r"lacks columns \['accuracy_high'\]"):
        plots.reader_accuracy(_machine_table().drop(columns="accuracy_high"))


def test_power_curves_mark_the_reads_needed_on_the_target() -> None:
    reads = np.arange(10, 400, 10)
    power = {a: power_of_test(reads, a) for a in (0.6, 0.7)}
    fig = plots.power_curves(reads, power, target=0.8, needed={0.7: 50}, title="power")
    ax = fig.axes[0]
    marks = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(marks) == 1 and tuple(marks[0].get_xydata()[0]) == (50, 0.8)
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="shape"):
        plots.power_curves(reads, {0.6: power[0.6][:-1]})
    plt.close("all")
