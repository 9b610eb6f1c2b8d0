"""Compare two weight files tensor by tensor (spec §2: are the authors' `resnet34-333f7ec4.pth` and
torchvision's `resnet34-b627a593.pth` the same tensors?).

    l2tww weights compare data/raw/weights/resnet34-333f7ec4.pth data/raw/weights/resnet34-b627a593.pth

Prints each file's sha256 and tensor count, the names only one file has, and the largest absolute
difference over the shared tensors (and where). BatchNorm `num_batches_tracked` counters, absent
from files saved before PyTorch 0.4.1, are reported apart and never count as a difference. Exit
status 0: the same names (counters aside), shapes and values (within --atol, default exactly
equal); 1: they differ; 2: a file cannot be read. Files are loaded with weights_only=True (plain
state_dicts, or a dict holding one under "state_dict"), so no pickled code ever runs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass
class WeightsDiff:
    shared: int
    only_a: list[str]
    only_b: list[str]
    shape_mismatch: list[str]
    max_abs_diff: float  # over the shared tensors of equal shape (0.0 if there are none)
    argmax: str | None  # the tensor holding max_abs_diff (None when every shared tensor is equal)
    counters_only_in_one: list[str] = field(default_factory=list)

    def same(self, atol: float = 0.0) -> bool:
        return not (self.only_a or self.only_b or self.shape_mismatch) and self.max_abs_diff <= atol


def read_state(path: Path) -> dict[str, torch.Tensor]:
    import torch  # here, not at the top: the CLI builds its parser from this module on every call

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except Exception as exc:  # unpickling refusals and corrupt files alike: one line
        raise ValueError(
            f"{path}: cannot be read as a weights_only state_dict ({str(exc).splitlines()[0][:200]})"
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{path}: expected a state_dict (names -> tensors), got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def diff_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> WeightsDiff:
    from .weights import COUNTER

    names_a, names_b = set(a), set(b)
    counters = sorted(k for k in names_a ^ names_b if k.endswith(COUNTER))
    only_a = sorted(k for k in names_a - names_b if not k.endswith(COUNTER))
    only_b = sorted(k for k in names_b - names_a if not k.endswith(COUNTER))
    shared = sorted(names_a & names_b)
    mismatch = [k for k in shared if a[k].shape != b[k].shape]
    worst, where = 0.0, None
    for k in shared:
        if k in mismatch or not a[k].numel():
            continue
        diff = (a[k].double() - b[k].double()).abs().max().item()
        if diff > worst or diff != diff:  # NaN never passes as equal
            worst, where = diff, k
    return WeightsDiff(len(shared), only_a, only_b, mismatch, worst, where, counters)


def report(path_a: Path, path_b: Path, atol: float = 0.0) -> tuple[str, bool]:
    from ..data.download import file_hash

    a, b = read_state(path_a), read_state(path_b)
    c = diff_states(a, b)
    lines = [
        f"A: {path_a} (sha256 {file_hash(path_a)}, {len(a)} tensors)",
        f"B: {path_b} (sha256 {file_hash(path_b)}, {len(b)} tensors)",
        f"shared tensors: {c.shared}; only in A: {len(c.only_a)}; only in B: {len(c.only_b)}; shape mismatches: "
        f"{len(c.shape_mismatch)}",
    ]
    for label, names in (("only in A", c.only_a), ("only in B", c.only_b), ("shape mismatch", c.shape_mismatch)):
        if names:
            lines.append(f"  {label}: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}")
    if c.counters_only_in_one:
        lines.append(f"  BatchNorm counters in one file only (pre-0.4.1 save; ignored): {len(c.counters_only_in_one)}")
    lines.append(f"max |A - B| over shared tensors: {c.max_abs_diff:.6g}" + (f" (at {c.argmax})" if c.argmax else ""))
    same = c.same(atol)
    lines.append(
        "verdict: " + ("the same tensors" if same else "different") + (f" (atol {atol:g})" if atol else " (exact)")
    )
    return "\n".join(lines), same


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("a", type=Path, help="weights file A")
    ap.add_argument("b", type=Path, help="weights file B")
    ap.add_argument(
        "--atol", type=float, default=0.0, help="largest absolute difference still called the same (default 0: exact)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        text, same = report(args.a, args.b, args.atol)
    except (FileNotFoundError, ValueError) as exc:
        print(f"weights compare: error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m l2tww.training.weights_diff A B`: the same as `l2tww weights compare A B`."""
    ap = argparse.ArgumentParser(prog="python -m l2tww.training.weights_diff", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
