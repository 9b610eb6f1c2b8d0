"""Resolved method descriptions shared by the config (torch-free) and the methods."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pair:
    """One transfer link: tap `source_layer` of source `source` -> tap `target_layer` of the target."""

    source: int
    source_layer: int
    target_layer: int

    @property
    def key(self) -> str:
        return f"s{self.source}.{self.source_layer}-t{self.target_layer}"


@dataclass(frozen=True)
class MethodSpec:
    """A method as resolved from params.yaml: kind, its pairs and its hyperparameters."""

    name: str
    kind: str
    pairs: tuple[Pair, ...] = ()
    hparams: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain JSON-able form (what the stages layer hands to training and the report)."""
        return {"name": self.name, "kind": self.kind, "pairs": [[p.source, p.source_layer, p.target_layer] for p in self.pairs], "hparams": self.hparams}

    @classmethod
    def from_dict(cls, d: dict) -> "MethodSpec":
        return cls(d["name"], d["kind"], tuple(Pair(*p) for p in d["pairs"]), dict(d["hparams"]))


@dataclass(frozen=True)
class NetShapes:
    """(C, H, W) per tap, read from dummy forwards, plus the facts the methods need."""

    target: list[tuple[int, int, int]]
    sources: list[list[tuple[int, int, int]]]
    target_embedding: int
    source_classes: list[int]


# kind in params.yaml -> (module of l2tww.methods, class): the registry, torch-free so the stages
# layer can name a run's method module without importing it.
METHODS: dict[str, tuple[str, str]] = {
    "scratch": ("scratch", "Scratch"),
    "finetune": ("finetune", "FineTune"),
    "lwf": ("lwf", "LwF"),
    "at": ("at", "AttentionTransfer"),
    "lwf_at": ("lwf_at", "LwFAT"),
    "fm": ("fm", "FeatureMatching"),
    "l2t": ("l2t", "L2T"),
}
