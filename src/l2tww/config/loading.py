"""Reading a params file: YAML (duplicate keys refused) -> finite numbers -> the schema (defaults
filled) -> the image folders scanned -> every cross-reference problem at once -> `Params`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .crossref import drop_unrun_claims, problems
from .facts import scan_folders
from .params import Params
from .validation import ConfigError, key_path, validate


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's spec forbids duplicate keys; PyYAML keeps the last silently. Refuse them."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r} (YAML keeps only the last; remove one)"
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _non_finite(node, path=()) -> Iterator[str]:
    if isinstance(node, float) and not math.isfinite(node):
        yield f"{key_path(path)}: {node} is not a finite number"
    elif isinstance(node, Mapping):
        for k, v in node.items():
            yield from _non_finite(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, (*path, i))


def load(path: str | Path = "params.yaml") -> Params:
    """Read, validate and cross-check a params file. Raises ConfigError with one line."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return from_mapping(raw, origin=str(path))


def from_mapping(raw: Mapping[str, Any], origin: str = "params.yaml") -> Params:
    for problem in _non_finite(raw):  # JSON Schema's number bounds let NaN through (NaN < 0 is False)
        raise ConfigError(f"{origin}: {problem}")
    data = validate(raw, origin)
    try:
        trees = scan_folders(data["datasets"])
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    # Every problem at once, one line each (a trimmed preset meets them all in one `check`).
    found = [f"{origin}: {problem}" for problem in problems(data, trees)]
    if found:
        raise ConfigError("\n".join(found))
    drop_unrun_claims(data)
    return Params(data, origin, trees)
