"""Fine-tuning (the reference row): the target starts from the source's weights, classifier excepted."""

from __future__ import annotations

import pytest
import torch

from l2tww.methods import MethodSpec, build_method
from l2tww.models import build_model, net_shapes

ARCH = {"name": "vgg_bn", "cfg": [4, "M", 8, "M"]}


def _nets(source_arch=ARCH):
    torch.manual_seed(0)
    source = build_model(source_arch, 7, 1).eval()
    for m in source.modules():  # BN statistics off their init, so copying them is visible
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_()
    torch.manual_seed(1)
    target = build_model(ARCH, 10, 1)
    return source, target


def test_every_tensor_but_the_classifier_comes_from_the_source():
    source, target = _nets()
    head_before = {k: v.clone() for k, v in target.state_dict().items() if k.startswith("fc.")}
    method = build_method(MethodSpec("ft", "finetune"), net_shapes(target, [source], (1, 32, 32)))
    method.initialize(target, [source])
    src = source.state_dict()
    for key, value in target.state_dict().items():
        if key.startswith("fc."):
            assert torch.equal(value, head_before[key]), key  # a new classifier: 10 classes, seeded init
        else:
            assert torch.equal(value, src[key]), key
    assert not method.needs_sources and not list(method.student_parameters())


def test_a_source_of_another_architecture_is_refused():
    source, target = _nets({"name": "vgg_bn", "cfg": [8, "M", 8, "M"]})
    with pytest.raises(ValueError, match="fine-tuning needs the target's architecture"):
        build_method(MethodSpec("ft", "finetune"), net_shapes(target, [source], (1, 32, 32)))


def test_fine_tuning_starts_from_exactly_one_source():
    source, target = _nets()
    for sources in ([], [source, source]):
        with pytest.raises(ValueError, match=rf"starts from exactly one source, got {len(sources)}"):
            build_method(MethodSpec("ft", "finetune"), net_shapes(target, sources, (1, 32, 32)))


def test_the_head_is_the_classifier_of_every_architecture():
    from l2tww.methods.finetune import _head

    _, vgg = _nets()
    resnet = build_model({"name": "cifar_resnet", "depth": 8, "width": 4}, 10, 1)
    tv = build_model({"name": "resnet_tv", "depth": 18}, 10, 3)
    assert (_head(vgg), _head(resnet), _head(tv)) == ("fc", "fc", "net.fc")
