"""Registry of transfer methods: `kind` in params.yaml -> class. One file per method.

Modules are imported on first use, so a run imports only the method it trains.
"""

from __future__ import annotations

import importlib

from ..catalog import METHODS
from .transfer_method import MethodSpec, NetShapes, Pair, TransferMethod


def method_class(kind: str) -> type[TransferMethod]:
    info = METHODS[kind]
    return getattr(importlib.import_module(f".{info.module}", __name__), info.cls)


def build_method(spec: MethodSpec, shapes: NetShapes) -> TransferMethod:
    if spec.kind not in METHODS:
        raise ValueError(
            f"methods.{spec.name}.kind: unknown method kind {spec.kind!r}; expected one of {sorted(METHODS)}"
        )
    return method_class(spec.kind)(spec, shapes)


__all__ = ["METHODS", "MethodSpec", "NetShapes", "Pair", "TransferMethod", "build_method", "method_class"]
