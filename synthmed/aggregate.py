"""Seed means: the one rule by which figures (`plots.curve_table`) and verdicts (`claims.seed_means`)
average a results table over seeds, so that a figure and a verdict never disagree about a number.

The rule, per group (a modality, benchmark, setting and series or generator) and per column:

- the mean is over the group's seeds whose value is a number: a NaN (a run without that number,
  say an AUROC undefined on a label with one class) is left out, never counted as zero, and a
  column that is NaN for every seed stays NaN;
- the spread across seeds is the sample SD (ddof 1) over the same seeds: NaN with fewer than two;
- ``n_seeds`` counts the group's runs, those with a NaN included.

Each run counts once: the caller passes one row per seed and series (the real-trained classifier,
which the generators of one seed share, is one run per seed, not one per generator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def mean_over_seeds(
    runs: pd.DataFrame,  # One row per run: the group columns, a seed, the value columns
    keys: Sequence[str],  # The group columns; one output row per group
    values: Sequence[str],  # Columns averaged over seeds (NaN left out)
    sd: Mapping[str, str] | None = None,  # {column: output name} of seed SDs to add
    *,
    sort: bool = True,  # Groups in sorted order (else in order of appearance)
) -> pd.DataFrame:
    """Keys, the mean of each value column, the requested SDs and n_seeds: one row per group."""
    grouped = runs.groupby(list(keys), sort=sort)
    table = grouped[list(values)].mean()  # pandas skips NaN: the rule above
    for column, name in (sd or {}).items():
        table[name] = grouped[column].std(ddof=1)
    table["n_seeds"] = grouped.size()
    return table.reset_index()
