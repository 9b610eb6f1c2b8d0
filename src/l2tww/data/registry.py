"""What each dataset builder provides, for config checks and for the prepare/split stages.

`min_train_per_class` is the smallest class of the official train set (after deduplication for
Animal-MNIST): config checks use it to reject an N per class that cannot be drawn.
`storage`: "tensor" datasets are prepared into one uint8 tensor file; "folder" datasets into
`<root>/{train,test}/<class>/<img>` image folders (spec §6); "none": only the class count of a
source loaded from released weights (ImageNet for torchvision's ResNet34); never prepared.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuilderInfo:
    channels: int
    num_classes: int
    min_train_per_class: int
    has_test: bool
    storage: str  # "tensor" | "folder"


BUILDERS: dict[str, BuilderInfo] = {
    # embedded (installed with the project)
    "fashion_mnist": BuilderInfo(1, 10, 6000, True, "tensor"),
    "mnist5k": BuilderInfo(1, 10, 500, False, "tensor"),
    "animal_mnist": BuilderInfo(1, 10, 812, False, "tensor"),
    # paper, 32 px
    "cifar10": BuilderInfo(3, 10, 5000, True, "tensor"),
    "cifar100": BuilderInfo(3, 100, 500, True, "tensor"),
    "stl10": BuilderInfo(3, 10, 500, True, "tensor"),
    "tinyimagenet": BuilderInfo(3, 200, 500, True, "tensor"),
    # paper, 224 px
    "cub200": BuilderInfo(3, 200, 29, True, "folder"),
    "dogs": BuilderInfo(3, 120, 100, True, "folder"),
    "mit67": BuilderInfo(3, 67, 80, True, "folder"),
    "stanford40": BuilderInfo(3, 40, 100, True, "folder"),
    # the 224px source's classes (torchvision ImageNet weights); LwF's extra head has 1000 outputs
    "imagenet": BuilderInfo(3, 1000, 732, True, "none"),
}
