"""Registry of transfer methods: `kind` in params.yaml -> class. One file per method."""
from __future__ import annotations

from .base import MethodSpec, NetShapes, Pair, TransferMethod
from .scratch import Scratch

METHODS: dict[str, type[TransferMethod]] = {
    "scratch": Scratch,
}


def build_method(spec: MethodSpec, shapes: NetShapes) -> TransferMethod:
    try:
        cls = METHODS[spec.kind]
    except KeyError:
        raise ValueError(f"methods.{spec.name}.kind: unknown method kind {spec.kind!r}; expected one of {sorted(METHODS)}") from None
    return cls(spec, shapes)


__all__ = ["METHODS", "MethodSpec", "NetShapes", "Pair", "TransferMethod", "build_method"]
