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
        # Evaluation (eval mode, no autograd) pools without the indices a backward would need.
        pool = self.pool if self.training or torch.is_grad_enabled() else max_pool_2x2
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
            x = pool(x)
        embedding = x.mean(dim=(2, 3))  # global average pool (B, C)
        return NetOutput(self.fc(embedding), features, embedding)


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """nn.MaxPool2d(2)'s values, without autograd: the elementwise maximum of a map's four 2x2-strided
    views (rows and columns beyond an even size dropped, as the pool's floor mode does).

    The maximum is exact, so the numbers are the pool's bit for bit. It runs 2x faster on a CPU:
    the pool also writes the index of every maximum, which only its backward reads (16% of an
    evaluation's forward at the embedded width, issue 28)."""
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w]
    top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
    return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))
