"""The paper's reported numbers (Jang et al., ICML 2019, arXiv 1905.05901), as data for the report.

Source: docs/ spec §8. Every number carries its mark:
- "V": stated in the paper's abstract/summary (verified);
- "R": recalled, unverified; check against arXiv 1905.05901 before relying on it.
The report prints verified and unverified numbers apart and never mixes them silently.

A preset's target maps to a paper column through its dataset's *builder* (cifar100, stl10, cub200,
mit67, stanford40, dogs); a method maps to a paper row through its kind (and, for L2T, its pair set
and where-net switch). Table 1 uses the full training sets, so the report only compares runs with
N = all; the low-data numbers (CIFAR-10) are compared at their own N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class PaperNumber:
    value: float  # test top-1, %
    mark: str  # "V" verified | "R" recalled, unverified
    note: str = ""

    def text(self) -> str:
        approx = "≈" if "approx" in self.note else ""
        return f"{approx}{self.value:.2f} [{self.mark}]"


# Table 1, accuracy %, mean of 3 runs [R]. Columns by dataset builder, rows by paper method.
# 32 px: TinyImageNet ResNet32 -> VGG9-BN; 224 px: ImageNet ResNet34 -> ResNet18.
_R, _V = "R", "V"
TABLE1: dict[str, dict[str, PaperNumber]] = {
    "cifar100": {
        "scratch": PaperNumber(67.69, _R),
        "lwf": PaperNumber(69.23, _R),
        "at": PaperNumber(67.54, _R),
        "lwf_at": PaperNumber(68.75, _R),
        "l2tww": PaperNumber(70.96, _R),
    },
    "stl10": {
        "scratch": PaperNumber(65.18, _R),
        "lwf": PaperNumber(68.64, _R),
        "at": PaperNumber(74.19, _R),
        "lwf_at": PaperNumber(75.06, _R),
        "l2tww": PaperNumber(78.31, _R),
    },
    "cub200": {
        "scratch": PaperNumber(42.15, _R),
        "lwf": PaperNumber(45.52, _R),
        "at": PaperNumber(57.74, _R),
        "lwf_at": PaperNumber(58.90, _V, "second best"),
        "l2tww": PaperNumber(65.05, _V),
    },
    "mit67": {
        "scratch": PaperNumber(48.91, _R),
        "lwf": PaperNumber(53.73, _R),
        "at": PaperNumber(59.18, _R),
        "lwf_at": PaperNumber(61.42, _R),
        "l2tww": PaperNumber(64.85, _R),
    },
    "stanford40": {
        "scratch": PaperNumber(36.93, _R),
        "lwf": PaperNumber(39.73, _R),
        "at": PaperNumber(59.29, _R),
        "lwf_at": PaperNumber(60.2, _R, "approx"),
        "l2tww": PaperNumber(63.08, _R),
    },
    "dogs": {
        "scratch": PaperNumber(58.08, _R),
        "lwf": PaperNumber(66.33, _R),
        "at": PaperNumber(69.70, _R),
        "lwf_at": PaperNumber(72.67, _R),
        "l2tww": PaperNumber(78.08, _R),
    },
}

# Low-data CIFAR-10 (VGG9-BN target, TinyImageNet ResNet32 source): the only cells the abstract states.
LOWDATA: dict[str, dict[tuple[str, int], PaperNumber]] = {
    "cifar10": {("l2tww", 50): PaperNumber(64.91, _V), ("lwf", 250): PaperNumber(53.76, _V)},
}

TABLE1_CAPTION = (
    "Table 1 of the paper: test top-1 (%), mean of 3 runs; FM and L2T-w rows exist in the paper but their "
    "values are not recalled."
)


def paper_row(method_cfg: Mapping[str, Any]) -> str | None:
    """The paper row a configured method reproduces, or None (FM, L2T-w: no recalled numbers)."""
    kind = method_cfg["kind"]
    if kind in ("scratch", "lwf", "lwf_at"):
        return kind
    if kind == "at":
        return "at" if method_cfg.get("pairs") == "one_to_one" else None
    if kind == "l2t":
        full = method_cfg.get("what", True) and method_cfg.get("where", True)
        return "l2tww" if full and method_cfg.get("pairs") == "all_to_all" else None
    return None


# The one source behind every Table 1 and low-data number: a run from other sources (multi-source,
# CIFAR-10 -> STL-10) is another experiment, never compared with these.
PAPER_SOURCE = {
    **{b: "tinyimagenet" for b in ("cifar100", "stl10", "cifar10")},
    **{b: "imagenet" for b in ("cub200", "mit67", "stanford40", "dogs")},
}


def _same_setting(builder: str, source_builders: list[str] | None) -> bool:
    return source_builders is None or list(source_builders) == [PAPER_SOURCE.get(builder)]


def table1_number(
    builder: str, method_cfg: Mapping[str, Any], source_builders: list[str] | None = None
) -> PaperNumber | None:
    """The paper's Table 1 cell for this dataset and method; None where the run's sources
    (dataset builders, if given) are not the paper's single source for that column."""
    row = paper_row(method_cfg)
    return TABLE1.get(builder, {}).get(row) if row and _same_setting(builder, source_builders) else None


def lowdata_number(
    builder: str, method_cfg: Mapping[str, Any], n_per_class: int | None, source_builders: list[str] | None = None
) -> PaperNumber | None:
    row = paper_row(method_cfg)
    return LOWDATA.get(builder, {}).get((row, n_per_class)) if row and _same_setting(builder, source_builders) else None


def has_paper_numbers(builders: list[str]) -> bool:
    return any(b in TABLE1 or b in LOWDATA for b in builders)
