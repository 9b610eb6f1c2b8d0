"""Architectures: tap shapes of spec §1, and every trainable parameter receives a gradient."""

from __future__ import annotations

import pytest
import torch

from l2tww.models import VGG9, build_model, feature_shapes, num_taps
from l2tww.models.vgg import VGGBN, max_pool_2x2


def test_resnet32_taps_match_the_paper():
    model = build_model({"name": "cifar_resnet", "depth": 32}, 200, 3)
    shapes = feature_shapes(model, (3, 32, 32))
    assert shapes[:5] == [(16, 32, 32)] * 5
    assert shapes[5:10] == [(32, 16, 16)] * 5
    assert shapes[10:] == [(64, 8, 8)] * 5


def test_vgg9_taps_match_the_paper():
    model = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
    assert feature_shapes(model, (3, 32, 32)) == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]


@pytest.mark.parametrize("depth", [18, 34])
def test_torchvision_resnet_taps(depth):
    model = build_model({"name": "resnet_tv", "depth": depth}, 10, 3)
    shapes = feature_shapes(model, (3, 224, 224))
    assert shapes == [(64, 112, 112), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


@pytest.mark.parametrize(
    "arch,input_shape",
    [
        ({"name": "cifar_resnet", "depth": 14, "width": 4}, (1, 32, 32)),
        ({"name": "vgg_bn", "cfg": [8, "M", 16, "M", 16, "M"]}, (3, 32, 32)),
        ({"name": "resnet_tv", "depth": 18}, (3, 64, 64)),
    ],
)
def test_every_parameter_gets_a_gradient(arch, input_shape):
    torch.manual_seed(0)
    model = build_model(arch, 5, input_shape[0])
    out = model(torch.randn(2, *input_shape))
    assert len(out.features) == num_taps(arch)
    (out.logits.sum() + sum(f.mean() for f in out.features)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert out.embedding.shape == (2, model.embedding_dim)


def test_vgg_init_follows_the_spec():
    model = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
    assert float(model.fc.weight.detach().std()) == pytest.approx(0.01, rel=0.1)
    assert all(float(m.bias.detach().abs().max()) == 0 for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_bad_depth_is_rejected():
    with pytest.raises(ValueError, match="6k\\+2"):
        build_model({"name": "cifar_resnet", "depth": 30}, 10, 3)


@pytest.mark.parametrize("shape", [(4, 3, 8, 8), (2, 5, 7, 9), (1, 2, 2, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_evaluation_pool_equals_the_max_pool_bit_for_bit(shape, channels_last):
    """VGG's evaluation pool (no indices) gives nn.MaxPool2d(2)'s numbers and layout: odd sizes
    floored, a NaN propagated. Catches a wrong stride or offset of one of the four views."""
    x = torch.randn(shape)
    x[0, 0, 0, 1] = float("nan")
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected, got = torch.nn.MaxPool2d(2)(x), max_pool_2x2(x)
    assert torch.equal(expected.nan_to_num(-1.0), got.nan_to_num(-1.0)) and got.isnan().sum() == 1
    for layout in (torch.contiguous_format, torch.channels_last):
        assert got.is_contiguous(memory_format=layout) == expected.is_contiguous(memory_format=layout)


def test_vgg_evaluates_with_the_same_numbers_as_its_training_pool(monkeypatch):
    """The eval-mode, no-autograd forward (evaluation's) equals the same forward with autograd on
    (the nn.MaxPool2d path); a forward that autograd or training mode may go back through never
    takes the indexless pool (its gradient would split between tied maxima)."""
    from l2tww.models import vgg

    torch.manual_seed(0)
    net = VGGBN([8, "M", 16, "M"], 10, in_channels=1).eval()
    x = torch.randn(6, 1, 8, 8)
    with torch.no_grad():
        fast = net(x)
    slow = net(x)
    assert torch.equal(fast.logits, slow.logits.detach())
    assert all(torch.equal(a, b.detach()) for a, b in zip(fast.features, slow.features))
    calls = []
    monkeypatch.setattr(vgg, "max_pool_2x2", lambda t: calls.append(t) or max_pool_2x2(t))
    net(x)  # eval mode, autograd on (saliency's input gradients)
    with torch.no_grad():
        net.train()(x)  # training mode without autograd (the frozen control's BN replay)
    assert calls == []
    with torch.no_grad():
        net.eval()(x)
    assert len(calls) == 2  # one per stage
