"""What one Hessian-vector product costs next to one plain gradient: the floor of exact L2T-ww.

    python benchmarks/bench_hvp.py              # VGG9-BN, batch 128, 3x32x32, 100 classes, 2 threads

The exact hypergradient with T = 2 differentiates through two look-ahead updates, so whatever
the implementation it needs two Hessian-vector products (H_t b, spec §4's adjoint recursion) on
top of about five first-order passes. This prints, measured in one run on the paper's 32px target
(CE loss, BatchNorm in training mode), the fastest of 3 calls after a warm-up of each:
- the plain gradient (one forward + backward: a scratch step without the SGD update);
- the HVP by reverse-over-reverse (backward with create_graph, then a second backward), as the
  engine does;
- the HVP by forward-over-reverse (torch.func.jvp of torch.func.grad), the usual alternative,
  with its relative difference from the first (both are exact up to rounding).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jvp

from l2tww.models import VGG9, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model({"name": "vgg_bn", "cfg": VGG9}, 100, 3)
    x, y = torch.randn(args.batch, 3, 32, 32), torch.randint(0, 100, (args.batch,))
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    vector = {k: torch.randn_like(v) for k, v in params.items()}

    def loss(p: dict) -> torch.Tensor:
        fresh = {k: b.clone() for k, b in buffers.items()}  # training-mode BN writes its statistics
        return F.cross_entropy(functional_call(model, {**p, **fresh}, (x,)).logits, y)

    def leaves() -> dict:
        return {k: v.clone().requires_grad_(True) for k, v in params.items()}

    def plain_gradient():
        p = leaves()
        return torch.autograd.grad(loss(p), list(p.values()))

    def reverse_over_reverse():
        p = leaves()
        g = torch.autograd.grad(loss(p), list(p.values()), create_graph=True)
        return torch.autograd.grad(g, list(p.values()), grad_outputs=list(vector.values()))

    def forward_over_reverse():
        return list(jvp(grad(loss), (params,), (vector,))[1].values())

    def fastest(fn) -> float:
        fn()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    base = fastest(plain_gradient)
    rr, fr = reverse_over_reverse(), forward_over_reverse()
    flat_rr, flat_fr = torch.cat([t.flatten() for t in rr]), torch.cat([t.flatten() for t in fr])
    diff = ((flat_rr - flat_fr).norm() / flat_rr.norm()).item()
    print(f"torch {torch.__version__}, {args.threads} threads, VGG9-BN batch {args.batch} 3x32x32, fastest of 3")
    print(f"{'pass':<34} {'s':>7} {'x gradient':>11}")
    print(f"{'plain gradient':<34} {base:>7.3f} {1.0:>11.1f}")
    for name, fn in (
        ("HVP reverse-over-reverse (engine)", reverse_over_reverse),
        ("HVP forward-over-reverse", forward_over_reverse),
    ):
        seconds = fastest(fn)
        print(f"{name:<34} {seconds:>7.3f} {seconds / base:>11.1f}")
    print(f"relative difference of the two HVPs (whole vector): {diff:.1e}")


if __name__ == "__main__":
    main()
