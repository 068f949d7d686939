"""Train a classifier with the paper's schedule, predict with it, and cache trained classifiers.

paper-spec §4 "Optimisation": Adam lr 1e-4, batch 48, random horizontal flips (p=0.5), "epochs"
of min(N_train, 5000) // 48 = 104 steps drawn from a stream that reshuffles the training set each
pass, mean validation AUROC over the whole validation set after every epoch, lr x0.1 after 2
epochs without improvement (floor 1e-8), early stop after 3, best weights restored.

Loss: unweighted binary cross-entropy. The paper's code computed per-label class weights but
passed them to Keras 2.2.4 `fit_generator` as a list of dicts, which that Keras silently ignores
(keras-team/keras#9737), so the published classifiers were trained unweighted; we match that.

Images are the stored uint8 arrays (N, R, R); labels are (N, L) arrays of 0/1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from synthmed import cache
from synthmed import config as settings
from synthmed.classify.metrics import mean_auc
from synthmed.classify.models import Classifier, ClassifierConfig, build_classifier
from synthmed.torch_utils import multi_hot, resolve_device

log = logging.getLogger(__name__)

# Part of every cache key: bump it when a change here would change what a cached run holds.
CACHE_VERSION = 1

# On a GPU the training set moves to device memory once when it is at most this large.
_DEVICE_DATA_BYTES = 2 << 30

ImageArray = np.ndarray | torch.Tensor  # uint8 (N, R, R)


# ---------------------------------------------------------------------------------------------
# History


@dataclass
class EpochRecord:
    epoch: int  # 1-based
    images_seen: int  # training images drawn so far, all epochs together
    train_loss: float  # mean BCE over this epoch's steps
    val_auc: float  # mean validation AUROC over labels with both classes
    lr: float  # learning rate used during this epoch
    seconds: float  # wall time of this epoch, validation included


@dataclass
class TrainingHistory:
    """What happened during training: one record per epoch and which epoch's weights were kept."""

    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0  # 1-based epoch whose weights the model holds
    best_val_auc: float = -math.inf
    stop_reason: str = ""  # "early_stop" or "max_epochs"
    device: str = ""
    from_cache: bool = False  # set when train_cached loaded the run instead of training

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("from_cache")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingHistory:
        epochs = [EpochRecord(**record) for record in data["epochs"]]
        return cls(**{**data, "epochs": epochs})

    def frame(self) -> Any:
        """The per-epoch records as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(r) for r in self.epochs]).set_index("epoch")


# ---------------------------------------------------------------------------------------------
# Input checks and devices


def _check_images(images: np.ndarray, what: str, resolution: int | None = None) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim != 3 or array.shape[1] != array.shape[2] or array.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty uint8 array (N, R, R), got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"{what}: expected dtype uint8 (the stored images), got {array.dtype}")
    if resolution is not None and array.shape[1] != resolution:
        raise ValueError(f"{what}: expected {resolution}x{resolution} images like the training set, "
                         f"got {array.shape[1]}x{array.shape[2]}")
    if not array.flags.writeable:  # a read-only memory map: torch wants memory it may write
        return array.copy()
    return np.ascontiguousarray(array)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _as_batch(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, R, R) -> float (B, 1, R, R) in [0, 1] on `device` (channels-last on CUDA)."""
    x = images.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _autocast(device: torch.device, precision: str) -> Any:
    # bf16 only when asked for (ClassifierConfig.precision); the paper trained in fp32.
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


# ---------------------------------------------------------------------------------------------
# Prediction


def _to_uint8_tensor(images: ImageArray) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        images = images.cpu().numpy()
    return torch.from_numpy(_check_images(images, "images"))


@torch.no_grad()
def _map_batches(model: Classifier, images: ImageArray, batch_size: int, what: str) -> np.ndarray:
    x = _to_uint8_tensor(images)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(x), batch_size):
            with _autocast(device, model.precision):
                features = model.features(_as_batch(x[start:start + batch_size], device))
            # The head runs in fp32: bf16 logits would tie many scores and bias the AUROC.
            features = features.float()
            out = torch.sigmoid(model.head(features)) if what == "scores" else features
            outputs.append(out.cpu())
    finally:
        model.train(was_training)
    return torch.cat(outputs).numpy()


def predict(model: Classifier, images: ImageArray, batch_size: int = 128) -> np.ndarray:
    """uint8 images (N, R, R) -> sigmoid probabilities (N, L), float32, in eval mode on the model's device."""
    return _map_batches(model, images, batch_size, "scores")


def extract_features(model: Classifier, images: ImageArray, batch_size: int = 128) -> np.ndarray:
    """uint8 images (N, R, R) -> global-pool features (N, D), float32 (the nearest-neighbour space)."""
    return _map_batches(model, images, batch_size, "features")


def validation_auc(model: Classifier, images: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    """Mean AUROC over the labels with both classes in `labels` (the early-stopping criterion)."""
    scores = predict(model, images, batch_size)
    names = [f"label_{k}" for k in range(labels.shape[1])]
    return mean_auc(labels, scores, names)


# ---------------------------------------------------------------------------------------------
# Training


class _IndexStream:
    """Endless training indices: one seeded permutation of the set after another (every image per pass)."""

    def __init__(self, n: int, generator: torch.Generator) -> None:
        self.n = n
        self.generator = generator
        self.buffer = torch.empty(0, dtype=torch.long)

    def take(self, count: int) -> torch.Tensor:
        while len(self.buffer) < count:
            self.buffer = torch.cat([self.buffer, torch.randperm(self.n, generator=self.generator)])
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out


def _init_model(config: ClassifierConfig, n_labels: int, resolution: int) -> Classifier:
    """Build the model with weights initialised from config.seed, leaving torch's global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_classifier(config, n_labels, resolution)


def _write_log(log_path: Path | None, record: EpochRecord) -> None:
    if log_path is not None:
        with open(log_path, "a") as handle:
            handle.write(json.dumps(dataclasses.asdict(record)) + "\n")


def train_classifier(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config: ClassifierConfig,
    *,
    progress: bool = False,
    log_path: str | Path | None = None,
) -> tuple[Classifier, TrainingHistory]:
    """Train one classifier with the paper's schedule; return it (best weights, eval mode) and its history.

    train_images, val_images: uint8 (N, R, R); train_labels, val_labels: 0/1 (N, L). A classifier for
    synthetic data is validated on the synthetic validation split (paper-spec §4). log_path, when
    given, receives one JSON line per epoch as training goes.
    """
    train_x = torch.from_numpy(_check_images(train_images, "train_images"))
    resolution = train_x.shape[1]
    train_y = torch.from_numpy(multi_hot(train_labels, "train_labels", n_images=len(train_x)))
    n_labels = train_y.shape[1]
    val_images = _check_images(val_images, "val_images", resolution)
    val_labels = multi_hot(val_labels, "val_labels", n_images=len(val_images), n_labels=n_labels)
    both_classes = (val_labels.min(axis=0) == 0) & (val_labels.max(axis=0) == 1)
    if not both_classes.any():
        raise ValueError("val_labels: no label has both classes in the validation set, so AUROC is undefined")

    device = resolve_device(config.device)
    model = _init_model(config, n_labels, resolution).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        if train_x.numel() <= _DEVICE_DATA_BYTES:
            train_x, train_y = train_x.to(device), train_y.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    stream = _IndexStream(len(train_x), generator)
    # paper-spec §4: an epoch is min(N_train, 5000) // 48 steps of 48 images.
    steps = max(1, min(len(train_x), config.epoch_images) // config.batch)
    log_path = Path(log_path) if log_path is not None else None

    history = TrainingHistory(device=str(device))
    best_state: dict[str, torch.Tensor] | None = None
    lr = config.lr
    since_lr_change = since_best = 0
    images_seen = 0
    bar = tqdm(total=config.max_epochs, desc="classifier", unit="epoch", disable=not progress, leave=False)
    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        model.train()
        losses = torch.zeros(steps, device=device)  # kept on the device: no sync per step
        for step in range(steps):
            index = stream.take(config.batch)
            flip = torch.rand(config.batch, generator=generator) < 0.5 if config.hflip else None
            index_on = index.to(train_x.device)
            x = _as_batch(train_x[index_on], device)
            if flip is not None:
                x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(-1), x)
            y = train_y[index_on].to(device)
            with _autocast(device, config.precision):
                logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses[step] = loss.detach()
        images_seen += steps * config.batch

        auc = validation_auc(model, val_images, val_labels, config.eval_batch)
        record = EpochRecord(epoch, images_seen, float(losses.mean()), auc, lr, time.perf_counter() - start)
        history.epochs.append(record)
        _write_log(log_path, record)
        log.info("epoch %d: loss %.4f, val AUROC %.4f, lr %.1e", epoch, record.train_loss, auc, lr)
        bar.update(1)
        bar.set_postfix(loss=f"{record.train_loss:.3f}", auc=f"{auc:.3f}", lr=f"{lr:.0e}")

        if auc > history.best_val_auc:  # the paper keeps the weights of the best mean AUROC
            history.best_val_auc, history.best_epoch = auc, epoch
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            since_lr_change = since_best = 0
        else:
            since_best += 1
            since_lr_change += 1
        if since_best >= config.stop_patience:
            history.stop_reason = "early_stop"
            break
        if since_lr_change >= config.lr_patience:  # Keras ReduceLROnPlateau: drop, then count afresh
            lr = max(lr * config.lr_factor, config.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            since_lr_change = 0
    else:
        history.stop_reason = "max_epochs"
    bar.close()

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history


# ---------------------------------------------------------------------------------------------
# Cache


def _array_digest(*arrays: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def cache_key(config: ClassifierConfig, train_images: np.ndarray, train_labels: np.ndarray,
              val_images: np.ndarray, val_labels: np.ndarray) -> str:
    """Hash of the config (`ClassifierConfig.key_fields`: weights and precision included), the code
    version, the four arrays and a local weights file's contents."""
    weights = None
    if config.weights_path is not None:
        if not config.weights_path.is_file():
            raise FileNotFoundError(f"{config.weights_path}: classifier weights file not found (weights "
                                    "takes 'imagenet', 'none' or the path of a densenet121 state dict)")
        weights = cache.file_digest(config.weights_path)
    data = _array_digest(np.asarray(train_images), np.asarray(train_labels), np.asarray(val_images),
                         np.asarray(val_labels))
    return settings.stable_hash("classifier", CACHE_VERSION, config.key_fields(), data, weights)


_CACHED_FILES = ("model.pt", "history.json")  # verified against their manifests before a run is reused


def load_cached(folder: Path, config: ClassifierConfig, n_labels: int, resolution: int
                ) -> tuple[Classifier, TrainingHistory]:
    """Rebuild a cached run's model (on config.device, eval mode) and its history.

    Raises ValueError naming the file when model.pt or history.json does not match its manifest."""
    for name in _CACHED_FILES:
        problem = cache.check(folder / name)
        if problem is not None:
            raise ValueError(f"{folder / name}: not a usable cached classifier file ({problem})")
    history = TrainingHistory.from_dict(json.loads((folder / "history.json").read_text()))
    # The cached state_dict replaces every weight, so the initial weights file is not read again.
    model = _init_model(dataclasses.replace(config, weights="none"), n_labels, resolution)
    state = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    device = resolve_device(config.device)
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    history.from_cache = True
    return model.eval(), history


def _finished(folder: Path, quiet: bool = False) -> bool:
    """Whether folder holds a finished run whose files match their manifests (logged unless quiet)."""
    if quiet:
        return all(cache.check(folder / name) is None for name in _CACHED_FILES)
    return all(cache.verify(folder / name, what="cached classifier file") for name in _CACHED_FILES)


def train_cached(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config: ClassifierConfig,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[Classifier, TrainingHistory]:
    """`train_classifier`, reusing a finished run with the same config and arrays.

    A run lives in <cache_dir>/<hash>/ (default cache_dir: synthmed.config.home()/"classifiers"):
    model.pt (state_dict), history.json (written last: a run without it is unfinished and is
    retrained), config.json (for people) and train.log (one JSON line per epoch). model.pt and
    history.json are checked against their manifests before reuse; a run that fails the check is
    reported at WARNING and trained again. One process trains a run while others wanting the same
    run wait for its lock, then load it.
    """
    key = cache_key(config, train_images, train_labels, val_images, val_labels)
    root = Path(cache_dir) if cache_dir is not None else settings.home() / "classifiers"
    folder = root / key
    n_labels, resolution = np.asarray(train_labels).shape[1], np.asarray(train_images).shape[1]
    if _finished(folder):
        log.info("classifier %s: loaded from %s", key, folder)
        return load_cached(folder, config, n_labels, resolution)

    with cache.locked(folder, what="classifier run"):
        if _finished(folder, quiet=True):  # trained by another process while we waited
            log.info("classifier %s: loaded from %s", key, folder)
            return load_cached(folder, config, n_labels, resolution)
        folder.mkdir(parents=True, exist_ok=True)
        cache.clean_stale(folder)
        for name in ("history.json", "model.pt", "config.json", "train.log"):
            cache.discard(folder / name)  # history.json first: the run is unfinished from here on
        model, history = train_classifier(train_images, train_labels, val_images, val_labels, config,
                                          progress=progress, log_path=folder / "train.log")
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        cache.atomic_write(folder / "model.pt", lambda temp: torch.save(state, temp))
        cache.atomic_write(folder / "config.json", json.dumps(dataclasses.asdict(config), indent=1),
                           manifest=False)
        cache.atomic_write(folder / "history.json", json.dumps(history.to_dict(), indent=1))
    return model, history
