"""What every row of the acceptance script builds on: the presets' settings, the sizes (GPU or the
CPU's toy form), the source networks, synthetic data and seeded networks, all through the package.

32 px: `paper.yaml`'s target cifar100 (VGG9-BN, recipe target32: batch 128, SGD lr 0.1) and its
source, the authors' released TinyImageNet ResNet32, loaded from a file whose sha256 must be the
release's (workflow/checksums.json): a row that needs it refuses to run without it, never on other
weights. 224 px: `paper-224px.yaml`'s cub200 (ResNet18, batch 64) from the ImageNet ResNet34, 16
pairs; its rows report s/iter and memory only, which do not depend on weight values, so torchvision's
file is loaded when given and the table says when the source is at its initialisation instead.
Data: synthetic images (a smooth pattern per class + noise), learnable in a few steps; 32 px as
tensors through the project's on-device loader, 224 px written as JPEGs and read back through the
image-folder loader a 224 px run uses (data/folder_loader.py: decode, RandomResizedCrop, flip, workers).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from l2tww import config
from l2tww.catalog import BUILDERS, VGG9
from l2tww.data.loader import TensorLoader, tensor_loader
from l2tww.methods import MethodSpec, build_method
from l2tww.models import build_model, net_shapes
from l2tww.training.runtime import seed_everything
from l2tww.training.sources import freeze
from l2tww.training.trainer import epoch_generator
from l2tww.training.weights import load_weights

from .budget import Refused

REPO = Path(__file__).resolve().parents[2]
PRESET_32 = REPO / "workflow" / "presets" / "paper.yaml"
PRESET_224 = REPO / "workflow" / "presets" / "paper-224px.yaml"
TARGET_32, TARGET_224 = "cifar100", "cub200"
RELEASED = "tinyimagenet-200-resnet32.pth.tar"
MODES = ("scratch", "exact", "fast")  # scratch, L2T-ww with the exact and the fast hypergradient


@dataclass(frozen=True)
class Sizes:
    """How much each row does. GPU: the presets' batches; toy (--ci): the same code paths in seconds
    on one CPU thread (target widths / 8, tiny batches), numbers that say nothing about a GPU."""

    batch32: int = 128  # the recipe's
    iters32: int = 60  # per 32 px row, after the warm-up
    warmup: int = 10
    parity_batch: int = 32  # the float64 CPU reference's cost grows with it
    narrow: int = 1  # target conv widths divided by this
    batch224: int = 64  # the recipe's
    size224: int = 224
    iters224: int = 15
    warmup224: int = 3
    jpeg224: int = 256  # the generated JPEGs' side: RandomResizedCrop(224) crops and rescales them
    workers224: int = 8  # the presets' runtime.workers: JPEG-decoding processes
    distinct_batches: int = 4  # synthetic batches per timed row, cycled
    resume_steps: int = 30  # batches per epoch of the end-to-end runs (a kill lands mid-epoch)


TOY = Sizes(
    batch32=4, iters32=2, warmup=0, parity_batch=4, narrow=8, batch224=4, size224=32, iters224=4, warmup224=0,
    jpeg224=40, workers224=0, distinct_batches=1, resume_steps=4,
)  # fmt: skip


@dataclass
class Setting:
    device: torch.device
    sizes: Sizes
    source_weights: Path  # the released ResNet32
    resnet34_weights: Path | None  # torchvision's ImageNet file, optional
    params: config.Params = field(default_factory=lambda: config.load(PRESET_32))
    params224: config.Params = field(default_factory=lambda: config.load(PRESET_224))
    _sources: dict = field(default_factory=dict)
    cublas_at_cuda_start: str | None = None  # CUBLAS_WORKSPACE_CONFIG before CUDA started (gpu_smoke.run)

    def source32(self) -> torch.nn.Module:
        """The released ResNet32 on the CPU in float32 (rows copy it to their device and dtype)."""
        if "32" not in self._sources:
            self._sources["32"] = load_released(self.params, TARGET_32, self.source_weights)
        return self._sources["32"]

    def source224(self) -> tuple[torch.nn.Module, str]:
        if "224" not in self._sources:
            self._sources["224"] = load_resnet34(self.params224, TARGET_224, self.resnet34_weights)
        return self._sources["224"]


def release_sha256() -> str:
    sums = json.loads((REPO / "workflow" / "checksums.json").read_text())
    return sums[f"weights/{RELEASED}"]["sha256"]


def default_source_weights(params: config.Params) -> Path:
    """The preset's path if the file is there, else the project's shared data beside this checkout
    (as tests/test_weights.py), else the preset's path (which the refusal then names)."""
    configured = REPO / params["sources"][params["targets"][TARGET_32]["sources"][0]]["weights"]["path"]
    for candidate in (
        configured,
        REPO.parent / "shared" / "official" / RELEASED,
        Path("/work/shared/official") / RELEASED,
    ):
        if candidate.is_file():
            return candidate
    return configured


def _source_cfg(params: config.Params, target: str) -> tuple[str, dict, int]:
    name = params["targets"][target]["sources"][0]
    cfg = params["sources"][name]
    return name, cfg, BUILDERS[params["datasets"][cfg["dataset"]]["builder"]].num_classes


def load_released(params: config.Params, target: str, path: Path) -> torch.nn.Module:
    name, cfg, classes = _source_cfg(params, target)
    sha = release_sha256()
    if not path.is_file():
        raise Refused(
            f"{path} not found: the authors' released TinyImageNet ResNet32 ({RELEASED}, sha256 {sha[:16]}...), "
            "from github.com/alinlab/L2T-ww's release or this project's shared data (official/); copy it there or "
            "pass --source-weights FILE"
        )
    model = build_model(cfg["arch"], classes, 3)
    try:
        load_weights(model, {**cfg["weights"], "path": str(path), "sha256": sha}, Path(path).parent)
    except ValueError as exc:  # the hash or the contents are not the release's
        raise Refused(f"{path}: not the authors' release ({str(exc).splitlines()[0]})") from None
    return freeze(model)


def load_resnet34(params: config.Params, target: str, path: Path | None) -> tuple[torch.nn.Module, str]:
    """(the 224 px source, what its weights are)."""
    name, cfg, classes = _source_cfg(params, target)
    model = build_model(cfg["arch"], classes, 3)
    if path is None:
        return freeze(model), "ResNet34 at torchvision's initialisation (no file given: s/iter and memory only)"
    if not path.is_file():
        raise Refused(f"{path} not found (--resnet34-weights: torchvision's resnet34-b627a593.pth)")
    load_weights(model, {"format": "torchvision", "path": str(path)}, path.parent)
    return freeze(model), f"ImageNet ResNet34 from {path}"


def synthetic(classes: int, n: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) uint8 images and (n,) labels: a smooth random pattern per class + noise,
    learnable in a few steps and robust to crops and flips."""
    gen = torch.Generator().manual_seed(seed)
    patterns = F.interpolate(
        torch.rand(classes, 3, 4, 4, generator=gen), size=(size, size), mode="bilinear", align_corners=False
    )
    labels = torch.randperm(n, generator=gen) % classes
    noisy = patterns[labels] * 200 + 28 + torch.randn(n, 3, size, size, generator=gen) * 20
    return noisy.clamp(0, 255).to(torch.uint8), labels


JPEG_CLASSES = 8  # the generated JPEGs' classes (the first of the target's): a loss that can fall in a few steps


def write_jpegs(folder: Path, n: int, side: int, seed: int = 0) -> list[tuple[str, int]]:
    """n synthetic JPEGs (side x side, quality 90) in class folders: (path, label) as ImageFolder lists them."""
    from PIL import Image

    images, labels = synthetic(JPEG_CLASSES, n, seed, side)
    samples = []
    for i, (image, label) in enumerate(zip(images, labels.tolist())):
        path = folder / f"c{label}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(path, quality=90)
        samples.append((str(path), label))
    return samples


def folder_loader(params: config.Params, target: str, samples, batch: int, size: int, device, workers: int):
    """The 224 px training loader of data/folder_loader.py with the target dataset's transforms (at `size`
    px in the toy form: the same transforms, cropped smaller)."""
    from l2tww.data.folder_loader import FolderLoader, transforms_for

    ds = params["datasets"][params["targets"][target]["dataset"]]
    if size != ds["image_size"]:
        ds = {**ds, "image_size": size, "augment": {**ds.get("augment", {}), "random_resized_crop": size}}
    return FolderLoader(samples, transforms_for(ds, train=True), batch, True, device, workers, False)


def train_loader(params: config.Params, target: str, images, labels, batch: int, device, channels_last=False):
    """The project's on-device loader with the target dataset's crop, flip and normalisation."""
    ds = params["datasets"][params["targets"][target]["dataset"]]
    return tensor_loader(images, labels, ds, batch, device, train=True, channels_last=channels_last)


def stream(loader: TensorLoader, seed: int = 0):
    """Batches forever, epoch after epoch, shuffled and augmented as the trainer does."""
    epoch = 0
    while True:
        yield from loader.epoch(epoch_generator(seed, epoch))
        epoch += 1


def num_classes(params: config.Params, target: str) -> int:
    return BUILDERS[params["datasets"][params["targets"][target]["dataset"]]["builder"]].num_classes


def method_spec(params: config.Params, target: str, mode: str) -> MethodSpec:
    """scratch, or the preset's L2T-ww (all-to-all, T = 2, a meta-step every batch) in `mode`."""
    if mode == "scratch":
        return MethodSpec("scratch", "scratch")
    spec = params.method_spec(target, "l2tww")
    return MethodSpec(spec.name, spec.kind, spec.pairs, {**spec.hparams, "hypergradient": mode, "meta_every": 1})


def narrowed(arch: dict, divisor: int) -> dict:
    """The target architecture with its conv widths divided by `divisor` (the toy form's 8)."""
    if divisor == 1 or arch["name"] != "vgg_bn":
        return arch
    return {**arch, "cfg": [c if c == "M" else max(1, c // divisor) for c in arch.get("cfg", VGG9)]}


def fresh(params: config.Params, target: str, mode: str, source, size: int, narrow: int = 1):
    """A seeded target and method on the CPU in float32, as `l2tww train` builds them: every row
    and every precision starts from the same weights."""
    seed_everything(0)
    model = build_model(narrowed(params["targets"][target]["arch"], narrow), num_classes(params, target), 3)
    spec = method_spec(params, target, mode)
    sources = [source] if spec.kind != "scratch" else []
    method = build_method(spec, net_shapes(model, sources, (3, size, size)))
    method.initialize(model, sources)
    return model, method


def placed(module: torch.nn.Module, device, dtype=torch.float32, channels_last: bool = False) -> torch.nn.Module:
    """A copy of `module` on `device` in `dtype` (and channels_last)."""
    module = copy.deepcopy(module).to(device=device, dtype=dtype)
    return module.to(memory_format=torch.channels_last) if channels_last else module


def sgd(params: config.Params, target: str, model, method) -> torch.optim.SGD:
    recipe = params["recipes"][params["targets"][target]["recipe"]]
    return torch.optim.SGD(
        list(model.parameters()) + list(method.student_parameters()),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
        nesterov=False,
    )


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
