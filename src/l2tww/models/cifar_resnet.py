"""CIFAR-style ResNet-n (He et al. 2016, §4.2), the 32px source of the paper (ResNet32, spec §2).

Module names match the authors' released TinyImageNet checkpoint (`conv1` with bias, `block1`,
`blocks2.*`, `block3`, ...), so `load_official_checkpoint` maps its state_dict without renaming.
Taps: the output of every residual block (after its final ReLU), in order: depth 32 gives 15 taps
(0-4 at width w, 5-9 at 2w, 10-14 at 4w).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .feature_net import FeatureNet, NetOutput


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class CifarResNet(FeatureNet):
    """ResNet-(6k+2): 3 stages of k BasicBlocks, widths (w, 2w, 4w), stride 2 entering stages 2 and 3."""

    def __init__(self, depth: int = 32, num_classes: int = 200, width: int = 16, in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6k+2 with k >= 1, got {depth}")
        k = (depth - 2) // 6
        widths = (width, 2 * width, 4 * width)
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=True)  # bias, as in the official source
        self.bn1 = nn.BatchNorm2d(width)
        # Official naming: block1, blocks2 (k-1), block3, blocks4, block5, blocks6.
        in_planes = width
        for stage, planes in enumerate(widths):
            stride = 1 if stage == 0 else 2
            setattr(self, f"block{2 * stage + 1}", BasicBlock(in_planes, planes, stride))
            setattr(
                self, f"blocks{2 * stage + 2}", nn.Sequential(*[BasicBlock(planes, planes, 1) for _ in range(k - 1)])
            )
            in_planes = planes
        self.fc = nn.Linear(widths[-1], num_classes)
        self.embedding_dim = widths[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> NetOutput:
        out = F.relu(self.bn1(self.conv1(x)))
        features = []
        for stage in range(3):
            out = getattr(self, f"block{2 * stage + 1}")(out)
            features.append(out)
            for block in getattr(self, f"blocks{2 * stage + 2}"):
                out = block(out)
                features.append(out)
        # The 8x8 average pool at 32px input, as a mean: the same numbers as adaptive_avg_pool2d on the
        # CPU, and unlike its CUDA backward it has a deterministic kernel (runtime.deterministic).
        embedding = out.mean(dim=(2, 3))
        return NetOutput(self.fc(embedding), features, embedding)
