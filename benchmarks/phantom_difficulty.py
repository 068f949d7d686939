"""How hard are the chest phantoms? Train a small CNN on real phantoms, test on held-out patients.

Makes a chest phantom set (CheXpert's real label rows when torchxrayvision is installed), applies the
paper's rules and preprocessing at 32x32, splits patients 80/20, trains a small CNN on one thread
for a fixed time and prints per-finding and mean AUROC on the held-out patients.

Goal (issue 3, "Difficulty"): mean AUROC roughly 0.75-0.95 at the cpu profile, easy findings
(support devices, cardiomegaly) clearly above hard ones (fracture). Not a test; it prints figures.

    .venv/bin/python benchmarks/phantom_difficulty.py [--patients 900] [--train-seconds 75]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from synthmed.data import CHEXPERT_LABELS
from synthmed.data.chexpert import load_image, paper_index, read_index
from synthmed.data.phantoms.chest import make_chexpert


def small_cnn(n_labels: int) -> nn.Module:
    """About 110k parameters: conv blocks at 32, 16, 8 and 4 px, global pooling, one linear layer."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, 16),
        nn.MaxPool2d(2),
        *block(16, 32),
        *block(32, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        *block(64, 64),
        nn.MaxPool2d(2),
        *block(64, 96),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(96, n_labels),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=900)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--train-seconds", type=float, default=75.0)
    parser.add_argument("--label-source", default="auto")
    parser.add_argument("--data", type=Path, default=None, help="reuse or keep the phantom set here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    workdir = tempfile.TemporaryDirectory() if args.data is None else None
    root = Path(workdir.name) if workdir else args.data
    t0 = time.perf_counter()
    if not (root / "CheXpert-v1.0-small" / "train.csv").exists():
        make_chexpert(root, n_patients=args.patients, seed=args.seed, label_source=args.label_source, progress=False)
        made = time.perf_counter() - t0
        n_written = len(read_index(root))
        print(f"rendered {n_written} images in {made:.1f} s ({1000 * made / n_written:.1f} ms/image incl. JPEG)")
    index = paper_index(read_index(root))
    t1 = time.perf_counter()
    images = np.stack([load_image(p, args.resolution) for p in index["path"]])
    print(
        f"{len(index)} frontal images (paper rules) loaded at {args.resolution}x{args.resolution} "
        f"in {time.perf_counter() - t1:.1f} s"
    )

    # Patient split, 80/20.
    patients = np.unique(index["patient"].to_numpy())
    np.random.RandomState(args.seed).shuffle(patients)
    test_patients = set(patients[int(0.8 * len(patients)) :])
    is_test = torch.tensor(index["patient"].isin(test_patients).to_numpy())
    x = torch.from_numpy(images).float().div(255.0).unsqueeze(1)
    y = torch.tensor(index[CHEXPERT_LABELS].to_numpy(np.float32))
    x_train, y_train, x_test, y_test = x[~is_test], y[~is_test], x[is_test], y[is_test]
    print(f"train {len(x_train)} images, test {len(x_test)} images ({len(test_patients)} patients)")

    model = small_cnn(len(CHEXPERT_LABELS))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(args.seed)
    start, epochs = time.perf_counter(), 0
    while time.perf_counter() - start < args.train_seconds:
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), 64):
            batch = order[i : i + 64]
            optimiser.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimiser.step()
        epochs += 1
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.0f} s (1 thread)")

    model.eval()
    with torch.no_grad():
        scores = torch.cat([model(x_test[i : i + 256]) for i in range(0, len(x_test), 256)]).numpy()
    truth = y_test.numpy()
    aucs = {}
    print(f"{'finding':28s} {'test pos':>8s} {'AUROC':>6s}")
    for k, name in enumerate(CHEXPERT_LABELS):
        positives = int(truth[:, k].sum())
        if 0 < positives < len(truth):
            aucs[name] = roc_auc_score(truth[:, k], scores[:, k])
            print(f"{name:28s} {positives:8d} {aucs[name]:6.3f}")
        else:
            print(f"{name:28s} {positives:8d}    n/a")
    print(f"{'mean over ' + str(len(aucs)) + ' findings':28s} {'':8s} {np.mean(list(aucs.values())):6.3f}")
    if workdir:
        workdir.cleanup()


if __name__ == "__main__":
    main()
