"""Fine-tuning: the target starts from a source network of its own architecture, pretrained on the
source data, with a new classifier, then trains on cross-entropy alone like scratch.

Not one of the paper's methods (its sources and targets differ in architecture); a reference row
that shows how much transfer the data allows (issue 12). Every tensor of the source whose name and
shape match the target's is copied, BatchNorm statistics included; the classifier (another class
count, or the same classes in another order of importance) is left at its seeded initialisation.
"""

from __future__ import annotations

import torch

from ..models import FeatureNet
from .transfer_method import MethodSpec, NetShapes, TransferMethod


class FineTune(TransferMethod):
    needs_sources = False  # the source is copied once, never run during training

    def __init__(self, spec: MethodSpec, shapes: NetShapes):
        super().__init__(spec, shapes)
        if len(shapes.sources) != 1:
            raise ValueError(
                f"methods.{spec.name}: fine-tuning starts from exactly one source, got {len(shapes.sources)}"
            )
        if shapes.sources[0] != shapes.target:
            raise ValueError(
                f"methods.{spec.name}: the source's feature taps {shapes.sources[0]} differ from the target's "
                f"{shapes.target}; fine-tuning needs the target's architecture"
            )

    @torch.no_grad()
    def initialize(self, target: FeatureNet, sources: list[FeatureNet]) -> None:
        own = target.state_dict()
        head = _head(target) + "."
        copied = {
            k: v
            for k, v in sources[0].state_dict().items()
            if k in own and own[k].shape == v.shape and not k.startswith(head)
        }
        target.load_state_dict({**own, **copied})


def _head(target: FeatureNet) -> str:
    """The classifier's module name: the last linear layer (`fc` of the VGG and CIFAR ResNet, `net.fc`
    of the torchvision ResNet)."""
    return [name for name, module in target.named_modules() if isinstance(module, torch.nn.Linear)][-1]
