"""Architectures with named feature taps, built from a config mapping by `build_model`."""

from __future__ import annotations

from typing import Any, Mapping

from ..catalog import ARCHITECTURES, VGG9, num_taps
from .cifar_resnet import CifarResNet
from .feature_net import FeatureNet, NetOutput, feature_shapes, net_shapes
from .tv_resnet import TorchvisionResNet
from .vgg import VGGBN

__all__ = ["FeatureNet", "NetOutput", "feature_shapes", "net_shapes", "build_model", "num_taps", "ARCHITECTURES"]


def build_model(arch: Mapping[str, Any], num_classes: int, in_channels: int) -> FeatureNet:
    """`arch` is a validated params entry: {name, depth?, width?, cfg?}."""
    name = arch["name"]
    if name == "cifar_resnet":
        return CifarResNet(arch.get("depth", 32), num_classes, arch.get("width", 16), in_channels)
    if name == "vgg_bn":
        return VGGBN(list(arch.get("cfg", VGG9)), num_classes, in_channels)
    if name == "resnet_tv":
        return TorchvisionResNet(arch.get("depth", 18), num_classes, in_channels)
    raise ValueError(f"arch.name: unknown architecture {name!r}; expected one of {ARCHITECTURES}")
