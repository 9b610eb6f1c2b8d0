"""Per-meta-step diagnostics of the hypergradient (issue 29, items 4-5): how far fast mode points
where exact does, and which way a meta-step moves the pair weights λ.

Fast mode (`hypergradient: fast`) is a first-order variant: the small-lr limit of exact's
look-ahead (tests/test_hypergradient.py checks that its error shrinks like lr). At the embedded
default's lr 0.1 with momentum 0.9 it is not an approximation of exact: issue 29 measured a cosine
of -0.11 and 0.00 to exact over the first 12 meta-steps of two seeds, fast raising λ where exact
lowers it. These functions give those two numbers for any pair of hypergradients:

- cosine(a, b): the cosine between two hypergradients, flattened over every meta-parameter;
- lambda_direction(lambdas, phi, hyper): d mean(λ) / dη of a gradient step φ − η · hyper at η = 0,
  i.e. −<∇_φ mean(λ), hyper>: > 0 when the step raises the mean pair weight, < 0 when it lowers it
  (Adam rescales each coordinate, so this is the direction of a plain step, not Adam's magnitude).

Every L2T run with where-nets notes lambda_rate (the same number as a tensor) at each meta-step and
logs, per epoch, how many were negative (L2T.epoch_statistics; the diagnostics' λ-direction row).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MetaStepDiagnostic:
    cosine: float  # cos(exact, fast) over every meta-parameter
    exact_direction: float  # lambda_direction of exact's step
    fast_direction: float

    @property
    def same_direction(self) -> bool:
        return (self.exact_direction > 0) == (self.fast_direction > 0)


def cosine(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """cos between two lists of tensors read as one vector; 0 when either is all zeros."""
    dot = sum(float((x.double() * y.double()).sum()) for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(float((x.double() ** 2).sum()) for x in a))
    nb = math.sqrt(sum(float((y.double() ** 2).sum()) for y in b))
    return 0.0 if na == 0 or nb == 0 else dot / (na * nb)


def lambda_direction(
    lambdas: Sequence[torch.Tensor], phi: Sequence[torch.Tensor], hyper: Sequence[torch.Tensor]
) -> float:
    """−<∇_φ mean(λ), hyper>: the rate at which a gradient step along −hyper changes the mean λ.
    lambdas must be differentiable in phi (L2T.meta_outputs' second output)."""
    return float(lambda_rate(lambdas, phi, hyper))


def lambda_rate(
    lambdas: Sequence[torch.Tensor], phi: Sequence[torch.Tensor], hyper: Sequence[torch.Tensor]
) -> torch.Tensor:
    """lambda_direction as a float64 tensor on phi's device: no host sync, so a run can note it at
    every meta-step and read the epoch's values once (L2T.epoch_statistics)."""
    mean = torch.cat([lam.reshape(-1) for lam in lambdas]).mean()
    grads = torch.autograd.grad(mean, list(phi), allow_unused=True, retain_graph=True)
    terms = [(g.double() * h.double()).sum() for g, h in zip(grads, hyper, strict=True) if g is not None]
    return -sum(terms, torch.zeros((), dtype=torch.float64, device=mean.device))


def meta_step_diagnostic(exact, fast, lambdas, phi) -> MetaStepDiagnostic:
    """The cosine of fast to exact and the λ direction of each, at one meta-step."""
    return MetaStepDiagnostic(
        cosine(exact, fast), lambda_direction(lambdas, phi, exact), lambda_direction(lambdas, phi, fast)
    )
