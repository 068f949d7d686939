"""The classifiers: the paper's DenseNet-121 and a compact residual CNN for the CPU profiles.

Every model here takes the stored images as they are, a float tensor (N, 1, R, R) with values in
[0, 1] (uint8 / 255; a uint8 tensor is divided by 255 on the way in), and is built of three parts:

- `preprocess`: whatever the architecture needs before its first layer (resize, normalisation);
- `body`: preprocessed images -> global-pool features (N, D), D = `feature_dim`;
- `head`: a linear layer, features -> logits (N, L), one per label (sigmoid lives in the loss and in
  `synthmed.classify.train.predict`).

`features(x)` is `body(preprocess(x))` (the nearest-neighbour analysis uses it) and `forward(x)` is
`head(features(x))`. Occlusion maps mask in preprocessed space through the same three parts.

Initial weights (`ClassifierConfig.weights`): "none" trains from scratch; "imagenet" starts the
DenseNet-121 from torchvision's `DenseNet121_Weights.IMAGENET1K_V1` (the paper fine-tuned an
ImageNet DenseNet-121, paper-spec §4), which torchvision keeps in its cache under TORCH_HOME and
which is downloaded there on first use; any other value is the path of a local state dict in
torchvision's densenet121 format. Offline, a missing ImageNet file raises `WeightsUnavailable`
naming the exact file to place and where. Nothing is downloaded for "none" or a path.

Precision (`ClassifierConfig.precision`, `Classifier.precision`): "fp32" (the paper's) or "bf16":
bf16 autocast for preprocessing and body on any device; the head and the loss always run in fp32.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.error
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

ARCHITECTURES = ("densenet121", "compact")
PRECISIONS = ("fp32", "bf16")
# `ClassifierConfig.weights` besides a file path: ImageNet (the paper's start) or from scratch.
IMAGENET = "imagenet"
NO_WEIGHTS = "none"
IMAGENET_WEIGHTS = "DenseNet121_Weights.IMAGENET1K_V1"  # torchvision's name, also part of cache keys

# paper-spec §4 "Input": Keras' DenseNet-121 saw every image bilinearly resized to 224x224 and
# normalised with the ImageNet channel statistics.
DENSENET_INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DENSENET_FEATURES = 1024  # paper-spec §5: the 1024-d 'avg_pool' output

# The compact CNN brings larger images down to COMPACT_STEM_SIZE with strided stem convs, then halves
# the resolution per residual stage until the feature map is COMPACT_FINAL_SIZE, doubling its channels
# up to COMPACT_MAX_WIDTH_MULTIPLE times its width.
COMPACT_STEM_SIZE = 32
COMPACT_FINAL_SIZE = 4
COMPACT_MAX_WIDTH_MULTIPLE = 8

# Keys of torchvision's original DenseNet checkpoints ("...denselayer1.norm.1.weight") as opposed to the
# current module names ("...denselayer1.norm1.weight"); torchvision renames them the same way on load.
# Those files predate BatchNorm's num_batches_tracked, so a missing counter is not an error.
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
    r"([12]\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


@dataclass(frozen=True)
class ClassifierConfig:
    """Settings of one classifier training run; every field goes into the cache key.

    The defaults are the paper's (paper-spec §4): Adam lr 1e-4, batch 48, "epochs" of
    min(N_train, 5000) images, at most 100 of them, lr x0.1 after 2 epochs without a better
    validation mean AUROC (floor 1e-8), early stop after 3, random horizontal flips.
    """

    arch: str = "densenet121"  # "densenet121" (paper) or "compact" (CPU profiles)
    width: int = 16  # compact CNN: channels of its first stage (doubled per stage); unused by DenseNet
    weights: str = NO_WEIGHTS  # DenseNet: "imagenet", "none" (from scratch) or a local torchvision state dict
    lr: float = 1e-4
    batch: int = 48
    epoch_images: int = 5000  # an "epoch" is min(N_train, epoch_images) // batch steps
    max_epochs: int = 100
    lr_patience: int = 2  # epochs without improvement before lr *= lr_factor
    lr_factor: float = 0.1
    min_lr: float = 1e-8
    stop_patience: int = 3  # epochs without improvement before training stops
    hflip: bool = True
    seed: int = 0  # model initialisation, shuffling and flips
    device: str = "auto"  # "auto": CUDA when present, else CPU
    eval_batch: int = 128  # batch for validation and prediction (no effect on the result)
    precision: str = "fp32"  # "fp32" (the paper's) or "bf16" (autocast; the head and loss stay fp32)

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"ClassifierConfig.arch: expected one of {ARCHITECTURES}, got {self.arch!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"ClassifierConfig.precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.weights, str) or not self.weights:
            raise ValueError(f"ClassifierConfig.weights: expected 'imagenet', 'none' or a file path, "
                             f"got {self.weights!r}")
        if self.arch == "compact" and self.weights != NO_WEIGHTS:
            raise ValueError(f"ClassifierConfig.weights = {self.weights!r}: the compact CNN has no pretrained "
                             "weights; use 'none', or arch 'densenet121' (the paper profile)")
        positive = ("width", "lr", "batch", "epoch_images", "max_epochs", "lr_patience", "stop_patience",
                    "eval_batch")
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"ClassifierConfig.{name}: expected a positive number, got {value!r}")
        if not 0.0 < self.lr_factor <= 1.0:
            raise ValueError(f"ClassifierConfig.lr_factor: expected a number in (0, 1], "
                             f"got {self.lr_factor!r}")
        if self.min_lr < 0:
            raise ValueError(f"ClassifierConfig.min_lr: expected >= 0, got {self.min_lr!r}")

    @property
    def weights_path(self) -> Path | None:
        """The local state-dict file `weights` names; None for "imagenet" and "none"."""
        return None if self.weights in (IMAGENET, NO_WEIGHTS) else Path(self.weights).expanduser()

    def key_fields(self) -> dict[str, Any]:
        """The fields as cache keys and result hashes see them.

        Laid out as before `weights` and `precision` existed (a `weights_path` entry, None when from
        scratch; `precision` only when not fp32), so the keys of runs cached then still hold. A local
        weights file enters keys through its contents too (`synthmed.classify.train.cache_key`).
        """
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        weights, precision = fields.pop("weights"), fields.pop("precision")
        fields["weights_path"] = {NO_WEIGHTS: None, IMAGENET: f"torchvision:{IMAGENET_WEIGHTS}"}.get(weights, weights)
        if precision != "fp32":
            fields["precision"] = precision
        return fields

    @classmethod
    def paper(cls, **overrides: object) -> ClassifierConfig:
        """The paper's DenseNet-121 and schedule (paper-spec §4), from ImageNet weights, in fp32."""
        return dataclasses.replace(cls(weights=IMAGENET), **overrides)

    @classmethod
    def cpu(cls, **overrides: object) -> ClassifierConfig:
        """The `cpu` profile: compact CNN at native resolution, the paper's schedule at a smaller scale.

        Sized by the project's CPU yardsticks (a small residual CNN trains at about 580 images/s at
        32 px on 2 free cores; this one, 0.31M parameters, ran at about 270 images/s on one busy
        core): an epoch of 2,000 images takes 4-8 s, so a run that never stops early (15 epochs)
        costs one to two minutes. Shorter runs (1,000-image epochs, at most 10) cut the chest
        phantoms' real-trained mean AUROC from 0.78 to 0.69, too weak a baseline. lr 1e-3: the
        paper's 1e-4 suits an ImageNet-initialised DenseNet; a small CNN from scratch barely moves
        at 1e-4 within a few thousand images. No ImageNet weights exist for it, so it starts from
        scratch (weights "none"), in fp32 as the paper.
        """
        base = cls(arch="compact", width=16, lr=1e-3, epoch_images=2000, max_epochs=15)
        return dataclasses.replace(base, **overrides)

    @classmethod
    def tiny(cls, **overrides: object) -> ClassifierConfig:
        """The `tiny` profile (tests, CI): a narrow compact CNN, a few epochs of 480 images (seconds)."""
        base = cls(arch="compact", width=8, lr=1e-3, epoch_images=480, max_epochs=4)
        return dataclasses.replace(base, **overrides)


# ---------------------------------------------------------------------------------------------
# Shared parts


def _check_input(x: torch.Tensor, resolution: int | None = None) -> torch.Tensor:
    """(N, 1, R, R) uint8 or float in [0, 1] -> float; names the shape that was expected."""
    if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != x.shape[3]:
        raise ValueError(f"classifier input: expected shape (N, 1, R, R), got {tuple(x.shape)}")
    if resolution is not None and x.shape[2] != resolution:
        raise ValueError(f"classifier input: expected {resolution}x{resolution} images, "
                         f"got {x.shape[2]}x{x.shape[3]}")
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not x.is_floating_point():
        raise ValueError(f"classifier input: expected uint8 or float values in [0, 1], got dtype {x.dtype}")
    return x


class DenseNetPreprocess(nn.Module):
    """(N, 1, R, R) in [0, 1] -> (N, 3, 224, 224) ImageNet-normalised, as the paper's input pipeline.

    paper-spec §4 "Input": tile to 3 channels, bilinear resize to 224, ImageNet mean/std. Resizing
    one channel and then tiling gives the same result for a third of the work. torch's bilinear
    resize uses half-pixel centres; the paper's TF1 `tf.image.resize_images` did not, a sub-pixel
    shift of the upsampled image.

    How the 1-channel images meet ImageNet's 3-channel first conv: the conv is kept as it is and the
    grey image is tiled to R, G and B, each normalised with its channel's mean and std, as the
    paper's Keras code did. On the interior of the image this is a 1-channel conv whose kernel is the
    RGB kernels each divided by its channel's std and summed over RGB, plus a constant per filter
    (minus the sum of kernel x mean / std); only within 3 px of the border, where the conv pads with
    zeros in normalised space, does it differ. We tile rather than fold so that the border matches
    the original too; two more input channels in one 7x7 conv cost nothing measurable.
    """

    def __init__(self, size: int = DENSENET_INPUT_SIZE) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x)
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (x.expand(-1, 3, -1, -1) - self.mean) / self.std


class DenseNetBody(nn.Module):
    """torchvision DenseNet-121 features + ReLU + global average pool -> (N, 1024), like Keras' 'avg_pool'."""

    def __init__(self, densenet: torchvision.models.DenseNet) -> None:
        super().__init__()
        self.features = densenet.features

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.features(z))
        return torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)


class Classifier(nn.Module):
    """preprocess -> body -> linear head; see the module docstring for the contract.

    `precision` ("fp32" or "bf16") is the arithmetic `synthmed.classify.train` runs preprocess and
    body in, for training and prediction alike; it is a setting, not part of the state dict.
    """

    precision: str = "fp32"

    def __init__(self, preprocess: nn.Module, body: nn.Module, feature_dim: int, n_labels: int) -> None:
        super().__init__()
        if n_labels < 1:
            raise ValueError(f"n_labels: expected at least 1 label, got {n_labels}")
        self.preprocess = preprocess
        self.body = body
        self.head = nn.Linear(feature_dim, n_labels)
        self.feature_dim = feature_dim
        self.n_labels = n_labels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, R, R) in [0, 1] -> global-pool features (N, feature_dim)."""
        return self.body(self.preprocess(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, R, R) in [0, 1] -> logits (N, n_labels)."""
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------
# DenseNet-121 (the paper's model)


class WeightsUnavailable(RuntimeError):
    """The ImageNet weights are not in torchvision's cache and could not be downloaded."""


def imagenet_weights_file() -> Path:
    """Where torchvision keeps `DenseNet121_Weights.IMAGENET1K_V1`: <TORCH_HOME>/hub/checkpoints/<file>.

    TORCH_HOME defaults to ~/.cache/torch (or $XDG_CACHE_HOME/torch); the file name is the last part
    of the weights' URL (densenet121-a639ec97.pth), as `torch.hub.load_state_dict_from_url` names it.
    """
    url = torchvision.models.DenseNet121_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urllib.parse.urlparse(url).path).name


def fetch_imagenet_weights() -> Path:
    """The ImageNet DenseNet-121 file in torchvision's cache, downloading it there if it is missing.

    Raises WeightsUnavailable with one line naming the URL, the exact file to place and the
    alternative (a local state dict as `weights`) when the download fails (no internet).
    """
    path = imagenet_weights_file()
    if path.is_file():
        return path
    url = torchvision.models.DenseNet121_Weights.IMAGENET1K_V1.url
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torchvision's file names carry the first hex digits of the file's SHA-256: checked on download.
        match = torch.hub.HASH_REGEX.search(path.name)
        torch.hub.download_url_to_file(url, str(path), hash_prefix=match.group(1) if match else None,
                                       progress=False)
    except (OSError, urllib.error.URLError, RuntimeError) as error:
        raise WeightsUnavailable(
            f"classifier weights 'imagenet': torchvision's {IMAGENET_WEIGHTS} file {path.name} is not in "
            f"its cache and could not be downloaded ({type(error).__name__}: {error}); place {url} at "
            f"{path} (TORCH_HOME={Path(torch.hub.get_dir()).parent}), or give the path of a local "
            "densenet121 state dict as the classifier weights, or 'none' to train from scratch"
        ) from error
    return path


def load_densenet_weights(densenet: torchvision.models.DenseNet, weights_path: str | Path) -> None:
    """Load a torchvision densenet121 state_dict file into `densenet`'s feature layers.

    The file's classifier layer is dropped (the paper replaces ImageNet's 1000-way head with one
    output per label). Old torchvision key names ("norm.1") are renamed. Raises ValueError naming the
    file when it is not a state_dict or does not fit DenseNet-121.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: DenseNet-121 weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupt file or one that needs unpickling of code
        raise ValueError(f"{path}: expected a torchvision densenet121 state_dict saved with torch.save "
                         f"({error})") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a densenet121 state_dict), "
                         f"got {type(state).__name__}")
    features = {}
    for key, tensor in state.items():
        key = _OLD_DENSENET_KEY.sub(r"\1\2", key.removeprefix("module."))
        if key.startswith("features."):
            features[key.removeprefix("features.")] = tensor
    expected = densenet.features.state_dict()
    for key in expected:
        if key.endswith("num_batches_tracked"):
            features.setdefault(key, expected[key])
    missing = sorted(set(expected) - set(features))
    unexpected = sorted(set(features) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(features) if features[k].shape != expected[k].shape)
    if missing or unexpected or wrong_shape:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing keys (e.g. features.{missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected keys (e.g. features.{unexpected[0]})")
        if wrong_shape:
            k = wrong_shape[0]
            problems.append(f"{len(wrong_shape)} tensors of the wrong shape (e.g. features.{k}: "
                            f"{tuple(features[k].shape)} instead of {tuple(expected[k].shape)})")
        raise ValueError(f"{path}: not a torchvision densenet121 state_dict: {'; '.join(problems)}")
    densenet.features.load_state_dict(features)


def densenet121(n_labels: int, weights: str | Path = NO_WEIGHTS) -> Classifier:
    """The paper's classifier: DenseNet-121 on images resized to 224, one logit per label.

    weights: "none" (from scratch), "imagenet" (torchvision's ImageNet weights from its cache,
    downloaded on first use: `fetch_imagenet_weights`) or a local torchvision densenet121 state dict
    file. The ImageNet 1000-way classifier is replaced by a fresh head; the first conv keeps its three
    input channels (`DenseNetPreprocess` says how the grey images meet it).
    """
    densenet = torchvision.models.densenet121(weights=None)  # torchvision itself never downloads here
    if str(weights) == IMAGENET:
        load_densenet_weights(densenet, fetch_imagenet_weights())
    elif str(weights) != NO_WEIGHTS:
        load_densenet_weights(densenet, Path(weights).expanduser())
    return Classifier(DenseNetPreprocess(), DenseNetBody(densenet), DENSENET_FEATURES, n_labels)


# ---------------------------------------------------------------------------------------------
# Compact residual CNN (CPU profiles)


class CompactPreprocess(nn.Module):
    """(N, 1, R, R) in [0, 1] -> [-1, 1] at native resolution (mid-grey maps to 0)."""

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.resolution = resolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _check_input(x, self.resolution) * 2.0 - 1.0


def _conv_bn_relu(channels_in: int, channels_out: int, stride: int) -> list[nn.Module]:
    conv = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
    return [conv, nn.BatchNorm2d(channels_out), nn.ReLU()]


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a shortcut (1x1 conv when the shape changes), then ReLU."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(channels_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class CompactBody(nn.Module):
    """Residual CNN: stem, one residual block, then strided residual blocks down to a 4x4 map.

    Images above 32 px first pass through stride-2 stem convs down to 32 px, so that a 64 or 128 px
    model costs about what a 32 px one does on a CPU (the paper's DenseNet likewise cost the same at
    every resolution, all being resized to 224). Each strided block halves the size and doubles the
    channels, up to 8x width: 16 px -> 2 blocks, 32 px and above -> 3.
    """

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = 1, resolution
        while size > COMPACT_STEM_SIZE:
            layers += _conv_bn_relu(channels, width, stride=2)
            channels, size = width, (size + 1) // 2  # a stride-2 3x3 conv with padding 1
        layers += [*_conv_bn_relu(channels, width, stride=1), ResidualBlock(width, width, stride=1)]
        channels = width
        while size > COMPACT_FINAL_SIZE:
            wider = min(channels * 2, width * COMPACT_MAX_WIDTH_MULTIPLE)
            layers.append(ResidualBlock(channels, wider, stride=2))
            channels, size = wider, (size + 1) // 2
        self.layers = nn.Sequential(*layers)
        self.channels = channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(z), 1), 1)


def compact_cnn(n_labels: int, resolution: int, width: int = 16) -> Classifier:
    """A small residual CNN at the stored resolution (no resize); features (N, feature_dim)."""
    if resolution < 1:
        raise ValueError(f"compact CNN: expected a positive resolution, got {resolution}")
    if width < 1:
        raise ValueError(f"compact CNN: expected width >= 1, got {width}")
    body = CompactBody(resolution, width)
    return Classifier(CompactPreprocess(resolution), body, body.channels, n_labels)


def build_classifier(config: ClassifierConfig, n_labels: int, resolution: int) -> Classifier:
    """The model `config.arch` names for `n_labels` labels and R x R images (R: resolution).

    Weights are initialised from torch's global RNG; `synthmed.classify.train` seeds it from
    `config.seed`.
    """
    if config.arch == "densenet121":
        model = densenet121(n_labels, config.weights)
    else:
        model = compact_cnn(n_labels, resolution, config.width)
    model.precision = config.precision
    return model
