"""The params' schema and its errors: params.schema.yaml validates a params mapping and fills its
documented defaults; a violation is one `ConfigError` line naming the origin, the key path, the
value and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml
from jsonschema import Draft202012Validator, validators

SCHEMA_PATH = Path(__file__).with_name("params.schema.yaml")


class ConfigError(ValueError):
    """A one-line, user-facing description of a bad params file."""


def _with_defaults(cls):
    """A validator that also writes each property's `default` into the instance (jsonschema FAQ)."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and key not in instance:
                    instance[key] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


_SCHEMA = None  # read once, at the first validation


def schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
    return _SCHEMA


def key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error) -> str:
    path = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        hint = f"; expected one of {allowed}" if allowed else ""
        return f"{path}: unknown key {unexpected[0]!r}{hint}"
    if error.validator == "propertyNames":
        return f"{path}: name {error.instance!r} must match {error.validator_value.get('pattern', '')}"
    if error.validator == "const":
        return f"{path}: {error.instance!r} given; expected {error.validator_value!r}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.absolute_path)))
        return f"{path}: {error.instance!r} is not valid ({best.message})"
    return f"{path}: {error.message}"


def validate(raw: Mapping[str, Any], origin: str = "params.yaml") -> dict:
    """Schema-validate `raw`, filling defaults; returns a new dict. Raises ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    data = _copy(dict(raw))
    validator = _with_defaults(Draft202012Validator)(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(list(e.absolute_path)), str(list(e.absolute_path))))
    if errors:
        # The deepest error of the first branch names the key most precisely.
        first = errors[0]
        deepest = max(
            (e for e in errors if list(e.absolute_path)[: len(first.absolute_path)] == list(first.absolute_path)),
            key=lambda e: len(list(e.absolute_path)),
        )
        raise ConfigError(f"{origin}: {_describe(deepest)}")
    return data


def method_defaults(kind: str, pairs: str | None = None) -> dict:
    """The hyperparameters a method entry naming only its `kind` (and `pairs`) gets from the schema:
    the one home of the official defaults (spec §3-5), for code that builds a method without a
    params file (tests, benchmarks)."""
    entry = {"kind": kind, **({"pairs": pairs} if pairs else {})}
    validator = _with_defaults(Draft202012Validator)({"$defs": schema()["$defs"], "$ref": "#/$defs/method"})
    for error in validator.iter_errors(entry):
        raise ConfigError(f"method_defaults({kind!r}): {_describe(error)}")
    return {k: v for k, v in entry.items() if k not in ("kind", "label", "pairs")}
