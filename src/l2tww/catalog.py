"""What exists, torch-free: dataset builders, architectures and their taps, method kinds, and the
resolved description of a method (its pairs and hyperparameters).

The config checks, the Snakefile and the stages read these facts without importing torch; the
library below builds what they name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple


# -- dataset builders --------------------------------------------------------------------------
# `min_train_per_class` is the smallest class of the official train set (after deduplication for
# Animal-MNIST): config checks use it to reject an N per class that cannot be drawn.
# `storage`: "tensor" datasets are prepared into one uint8 tensor file; "folder" datasets into
# `<root>/{train,test}/<class>/<img>` image folders (spec §6); "none": only the class count of a
# source loaded from released weights (ImageNet for torchvision's ResNet34); never prepared.
@dataclass(frozen=True)
class BuilderInfo:
    channels: int
    num_classes: int
    min_train_per_class: int
    has_test: bool
    storage: str  # "tensor" | "folder" | "none"
    # The l2tww.data module whose function of the builder's name builds it (None: never prepared).
    module: str | None = None


BUILDERS: dict[str, BuilderInfo] = {
    # embedded (installed with the project)
    "fashion_mnist": BuilderInfo(1, 10, 6000, True, "tensor", module="embedded"),
    "mnist5k": BuilderInfo(1, 10, 500, False, "tensor", module="embedded"),
    "animal_mnist": BuilderInfo(1, 10, 812, False, "tensor", module="embedded"),
    # paper, 32 px
    "cifar10": BuilderInfo(3, 10, 5000, True, "tensor", module="paper_datasets"),
    "cifar100": BuilderInfo(3, 100, 500, True, "tensor", module="paper_datasets"),
    "stl10": BuilderInfo(3, 10, 500, True, "tensor", module="paper_datasets"),
    "tinyimagenet": BuilderInfo(3, 200, 500, True, "tensor", module="paper_datasets"),
    # paper, 224 px
    "cub200": BuilderInfo(3, 200, 29, True, "folder", module="paper_datasets"),
    "dogs": BuilderInfo(3, 120, 100, True, "folder", module="paper_datasets"),
    "mit67": BuilderInfo(3, 67, 80, True, "folder", module="paper_datasets"),
    "stanford40": BuilderInfo(3, 40, 100, True, "folder", module="paper_datasets"),
    # the 224px source's classes (torchvision ImageNet weights); LwF's extra head has 1000 outputs
    "imagenet": BuilderInfo(3, 1000, 732, True, "none"),
}

# Your own images (`builder: image_folder`, `root: <folder>`): its facts are not static. They come
# from the folder tree (data/tree_scan.py: classes, the smallest class, a test/ folder or not),
# read once per params load (config/facts.py) without opening an image.
IMAGE_FOLDER = "image_folder"
# Image folders up to this size (the 32 px setting) are stored as one uint8 tensor file, like
# CIFAR: the 32px recipe's crop-with-padding and flip run batch-wise on the device, and no image is
# decoded again at each epoch (at 32 px decoding would cost more than the network). Larger ones
# (224 px) keep their image files: RandomResizedCrop needs the full-resolution image, and 224 px
# tensors of a large folder would not fit in memory.
TENSOR_MAX_SIZE = 64


def folder_storage(image_size: int) -> str:
    """How an image folder at `image_size` px is prepared: "tensor" or "folder" (see TENSOR_MAX_SIZE)."""
    return "tensor" if image_size <= TENSOR_MAX_SIZE else "folder"


# -- architectures ------------------------------------------------------------------------------
ARCHITECTURES = ("cifar_resnet", "vgg_bn", "resnet_tv")
VGG9 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]  # spec §2


def num_taps(arch: Mapping[str, Any]) -> int:
    """How many feature taps `arch` exposes, without building it (for config checks)."""
    name = arch["name"]
    if name == "cifar_resnet":
        return 3 * ((arch.get("depth", 32) - 2) // 6)
    if name == "vgg_bn":
        return sum(1 for item in arch.get("cfg", VGG9) if item == "M")
    if name == "resnet_tv":
        return 5
    raise ValueError(f"arch.name: unknown architecture {name!r}; expected one of {ARCHITECTURES}")


# -- methods ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pair:
    """One transfer link: tap `source_layer` of source `source` -> tap `target_layer` of the target."""

    source: int
    source_layer: int
    target_layer: int

    @property
    def key(self) -> str:
        return f"s{self.source}.{self.source_layer}-t{self.target_layer}"


@dataclass(frozen=True)
class MethodSpec:
    """A method as resolved from params.yaml: kind, its pairs and its hyperparameters."""

    name: str
    kind: str
    pairs: tuple[Pair, ...] = ()
    hparams: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain JSON-able form (what the stages layer hands to training and the report)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "pairs": [[p.source, p.source_layer, p.target_layer] for p in self.pairs],
            "hparams": self.hparams,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "MethodSpec":
        return cls(d["name"], d["kind"], tuple(Pair(*p) for p in d["pairs"]), dict(d["hparams"]))


@dataclass(frozen=True)
class NetShapes:
    """(C, H, W) per tap, read from dummy forwards, plus the facts the methods need."""

    target: list[tuple[int, int, int]]
    sources: list[list[tuple[int, int, int]]]
    target_embedding: int
    source_classes: list[int]


class MethodInfo(NamedTuple):
    module: str  # of l2tww.methods
    cls: str
    # Whether a run of this kind loads its target's source networks: a run that reads none names
    # none in its identity, inputs and planned files, and starts before any source is pretrained.
    reads_sources: bool = True


# kind in params.yaml -> MethodInfo: the registry, torch-free so the stages layer can name a run's
# method module and what it reads without importing it.
METHODS: dict[str, MethodInfo] = {
    "scratch": MethodInfo("scratch", "Scratch", reads_sources=False),
    "finetune": MethodInfo("finetune", "FineTune"),
    "lwf": MethodInfo("lwf", "LwF"),
    "at": MethodInfo("at", "AttentionTransfer"),
    "lwf_at": MethodInfo("lwf_at", "LwFAT"),
    "fm": MethodInfo("fm", "FeatureMatching"),
    "l2t": MethodInfo("l2t", "L2T"),
}
