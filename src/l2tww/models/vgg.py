"""VGG-n with BatchNorm, the 32px target of the paper (VGG9-BN, spec §2).

`cfg` is a list of conv widths and "M" (2x2 max-pool). VGG9 = [64,M,128,M,256,256,M,512,512,M,512,512,M].
Taps: the activation just before each max-pool (post-ReLU). Head: global average pool -> Linear.
Only the parameters the forward uses are created (the official class carries unused ones).
"""

from __future__ import annotations

import torch
from torch import nn

from .feature_net import FeatureNet, NetOutput


class VGGBN(FeatureNet):
    def __init__(self, cfg: list, num_classes: int, in_channels: int = 3):
        super().__init__()
        if not cfg or cfg[-1] != "M":
            raise ValueError(f"VGG cfg must end with 'M' (a tap before the last pool), got {cfg}")
        stages, layers, channels = [], [], in_channels
        for item in cfg:
            if item == "M":
                stages.append(nn.Sequential(*layers))
                layers = []
            else:
                layers += [
                    nn.Conv2d(channels, int(item), 3, padding=1, bias=True),
                    nn.BatchNorm2d(int(item)),
                    nn.ReLU(inplace=True),
                ]
                channels = int(item)
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        for m in self.modules():  # spec §2: conv Kaiming-normal fan_out, bias 0; BN 1/0; Linear N(0, 0.01^2)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> NetOutput:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
            x = self.pool(x)
        embedding = x.mean(dim=(2, 3))  # global average pool (B, C)
        return NetOutput(self.fc(embedding), features, embedding)
