"""The cpu profile's benchmark points, built on the index alone (no image is read or trained): the
test and validation splits are at least the paper's own and the samples axis keeps the paper's
per-class counts (the cpu-science issue's goals 2 and 3), for the chest and for the brain."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from synthmed import profiles
from synthmed.data import RSNA_CSV_TYPES, chexpert, rsna
from synthmed.data import benchmarks as bm

# paper-spec §2: per-combination val and test of the classes and samples benchmarks; ~4,000 each
# for the resolution benchmark (its StratifiedShuffleSplit keeps 4,000 before our train-combination filter).
PAPER_EVAL_PER_CLASS = {
    "chest": {"classes": (190, 170), "samples": (750, 750)},
    "brain": {"classes": (300, 200), "samples": (500, 500)},
}
PAPER_RESOLUTION_EVAL = 4000


@pytest.fixture(scope="module")
def cpu_chest_index():
    phantoms = pytest.importorskip("synthmed.data.phantoms.chest")
    data = profiles.get("cpu").data
    table, source = phantoms.chexpert_label_table(data.chest_label_source)
    if source != "torchxrayvision":
        pytest.skip("needs CheXpert's real label table (torchxrayvision)")
    # The cpu phantoms draw every patient of the table, so their index is the table's paper index.
    assert data.chest_patients == phantoms.CHEXPERT_TRAIN_PATIENTS
    return chexpert.paper_index(table), data


@pytest.mark.parametrize("benchmark", ["classes", "samples", "resolution"])
def test_cpu_chest_points_evaluate_on_the_papers_split_sizes(cpu_chest_index, benchmark) -> None:
    index, data = cpu_chest_index
    settings = profiles.get("cpu").settings["chest", benchmark]
    subsets = bm.build_benchmark(index, "chest", benchmark, data.chest_scale, data.chest_train_scale)
    for setting in settings:
        s = subsets[setting] if benchmark != "resolution" else next(iter(subsets.values()))
        k = len(s.classes)
        if benchmark == "resolution":
            assert len(s.val) >= 0.99 * PAPER_RESOLUTION_EVAL and len(s.test) >= 0.99 * PAPER_RESOLUTION_EVAL
            # the training split is shrunk (not an axis), to the profile's fraction of the whole 80%
            whole = bm.build_benchmark(index, "chest", benchmark, data.chest_scale)[32].train
            assert len(s.train) == pytest.approx(data.chest_train_scale * len(whole), rel=0.01)
            continue
        assert k == (setting if benchmark == "classes" else 3)  # the axis: the paper's class counts
        val, test = PAPER_EVAL_PER_CLASS["chest"][benchmark]
        assert (len(s.val), len(s.test)) == (val * k, test * k), f"chest {benchmark} {setting}"
        per_class = s.train.groupby(list(s.labels)).size()
        if benchmark == "samples":  # the axis: the paper's images per combination, not scaled
            assert (per_class == setting).all(), per_class.to_dict()
        else:
            paper = dict(zip(bm.PAPER_PARAMS["chest"].classes, bm.PAPER_PARAMS["chest"].classes_train, strict=True))
            assert (per_class == math.floor(paper[setting] * data.chest_train_scale + 0.5)).all()  # half up


def test_train_scale_shrinks_training_sets_only(cpu_chest_index) -> None:
    index, _ = cpu_chest_index
    full = bm.build_point(index, bm.BenchmarkPoint("chest", "classes", 6))
    half = bm.build_point(index, bm.BenchmarkPoint("chest", "classes", 6), train_scale=0.5)
    assert len(half.train) == len(full.train) // 2
    assert half.val.index.equals(full.val.index) and half.test.index.equals(full.test.index)
    samples = bm.build_point(index, bm.BenchmarkPoint("chest", "samples", 1000), train_scale=0.5)
    assert len(samples.train) == 3 * 1000
    with pytest.raises(ValueError, match="train_scale"):
        bm.build_point(index, bm.BenchmarkPoint("chest", "classes", 6), train_scale=1.5)


@pytest.fixture(scope="module")
def cpu_brain_index():
    """The cpu brain phantoms' paper index from their plans (labels and patients; no pixels)."""
    from synthmed.data.phantoms import brain

    data = profiles.get("cpu").data
    plans = brain.plan_patients(data.brain_patients, data.seed, matrix=data.brain_matrix)
    rows = [(img, p.patient_id, *lab) for p in plans for img, lab in zip(p.image_ids, p.labels, strict=True)]
    index = pd.DataFrame(rows, columns=["path", "patient", *RSNA_CSV_TYPES])  # an image id stands for its path
    return rsna.paper_index(index), data


@pytest.mark.parametrize("benchmark", ["classes", "samples", "resolution"])
def test_cpu_brain_points_evaluate_on_the_papers_split_sizes(cpu_brain_index, benchmark) -> None:
    index, data = cpu_brain_index
    settings = profiles.get("cpu").settings["brain", benchmark]
    subsets = bm.build_benchmark(index, "brain", benchmark, data.brain_scale, data.brain_train_scale)
    for setting in settings:
        s = subsets[setting]
        k = len(s.classes)
        if benchmark == "resolution":
            assert len(s.val) >= 0.99 * PAPER_RESOLUTION_EVAL and len(s.test) >= 0.99 * PAPER_RESOLUTION_EVAL
            continue
        assert k == (setting if benchmark == "classes" else 6)  # paper-spec §2.3: the top 6 combinations
        val, test = PAPER_EVAL_PER_CLASS["brain"][benchmark]
        assert (len(s.val), len(s.test)) == (val * k, test * k), f"brain {benchmark} {setting}"
        per_class = s.train.groupby(list(s.labels)).size()
        if benchmark == "samples":  # the axis: the paper's images per combination, not scaled
            assert (per_class == setting).all(), per_class.to_dict()
        else:
            paper = dict(zip(bm.PAPER_PARAMS["brain"].classes, bm.PAPER_PARAMS["brain"].classes_train, strict=True))
            assert (per_class == math.floor(paper[setting] * data.brain_train_scale + 0.5)).all()
