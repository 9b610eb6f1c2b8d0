"""torchvision ResNet-18/34 with feature taps, the 224px setting of the paper (spec §1-2).

Taps: 0 = stem after ReLU, before the max-pool; 1-4 = outputs of layer1..layer4.
torchvision's default init equals the paper's target init (conv N(0, 2/(k^2 C_out)), BN 1/0, no
zero-init of residual BNs). Weights are never fetched here: `l2tww.training.weights.load_torchvision` loads them.
"""

from __future__ import annotations

import torch
from torch import nn

from .feature_net import FeatureNet, NetOutput


class TorchvisionResNet(FeatureNet):
    def __init__(self, depth: int, num_classes: int, in_channels: int = 3):
        super().__init__()
        import torchvision  # imported here: the 32px pipeline never needs it

        builders = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34}
        if depth not in builders:
            raise ValueError(f"torchvision ResNet depth must be 18 or 34, got {depth}")
        self.net = builders[depth](weights=None, num_classes=num_classes)
        if in_channels != 3:
            self.net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.embedding_dim = self.net.fc.in_features

    def forward(self, x: torch.Tensor) -> NetOutput:
        n = self.net
        x = n.relu(n.bn1(n.conv1(x)))
        features = [x]
        x = n.maxpool(x)
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            x = layer(x)
            features.append(x)
        # torchvision's avgpool (adaptive, to 1x1) as a mean: the same numbers on the CPU, and a
        # deterministic CUDA backward (adaptive_avg_pool2d's has none: runtime.deterministic).
        embedding = x.mean(dim=(2, 3))
        return NetOutput(n.fc(embedding), features, embedding)
