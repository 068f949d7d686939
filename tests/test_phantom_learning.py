"""The classifier learns phantom findings in a short CPU run, tested on held-out patients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synthmed.classify.metrics import per_label_auc
from synthmed.classify.models import ClassifierConfig
from synthmed.classify.train import predict, train_classifier
from synthmed.data import chexpert
from synthmed.data.phantoms import make_chexpert

FINDINGS = ["Support Devices", "Edema"]  # an easy and a middling sign of the chest phantoms


def test_a_short_cpu_run_learns_chest_phantom_findings_well_above_chance(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    root = make_chexpert(tmp_path, n_patients=200, seed=0, progress=False)
    index = chexpert.paper_index(chexpert.read_index(root))
    images = np.stack([chexpert.load_image(path, 32) for path in index["path"]])
    labels = index[FINDINGS].to_numpy(np.float32)
    patients = index["patient"].unique()
    test = index["patient"].isin(patients[::4]).to_numpy()
    val = index["patient"].isin(patients[1::4]).to_numpy()
    train = ~(test | val)

    config = ClassifierConfig.cpu(seed=0, epoch_images=960, max_epochs=8)
    model, _ = train_classifier(images[train], labels[train], images[val], labels[val], config)
    auc = per_label_auc(labels[test].astype(int), predict(model, images[test]), FINDINGS)
    assert auc["Support Devices"] > 0.75, auc
    assert auc["Edema"] > 0.65, auc
