"""Facts about the architectures that need no torch: config checks and the Snakefile use them."""
from __future__ import annotations

from typing import Any, Mapping

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
