"""Load, validate and resolve params.yaml.

params.yaml -> JSON Schema (defaults filled) -> cross-reference checks -> `Params`, a frozen view
with the helpers that read it (the run matrix, method specs). Every problem is reported as one
line naming the file, the key path, the value and what was expected (`ConfigError`). Only the
stages layer and the CLI hold a `Params`; the library receives plain dicts and values from them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml
from jsonschema import Draft202012Validator, validators

from ..catalog import BuilderInfo, MethodSpec, Pair
from ..data.tree_scan import ImageTree
from ..results.cells import group_cells, n_tag
from .crossref import drop_unrun_claims, expand_pairs, problems
from .facts import dataset_info, scan_folders
from .layout import Layout, seeds_tag

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


_SCHEMA = None


def schema() -> dict:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
    return _SCHEMA


def _key_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error) -> str:
    path = _key_path(error.absolute_path)
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


# ----------------------------------------------------------------------------------------------
# Resolved, typed view
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One training job: the target, method, N per class (None = all) and seed."""

    target: str
    method: str
    n_per_class: int | None
    seed: int

    @property
    def run_id(self) -> str:
        return f"{self.target}-{self.method}-{n_tag(self.n_per_class)}-s{self.seed}"

    @property
    def relpath(self) -> str:
        return f"{self.target}/{self.method}/{n_tag(self.n_per_class)}-s{self.seed}"


@dataclass(frozen=True)
class Job:
    """A training job: seeds of one (target, method, N), trained in turn by one process."""

    runs: tuple[Run, ...]

    @property
    def wildcards(self) -> dict[str, str]:
        first = self.runs[0]
        return {
            "target": first.target,
            "method": first.method,
            "ntag": n_tag(first.n_per_class),
            "seeds": seeds_tag(r.seed for r in self.runs),
        }

    @property
    def tag(self) -> str:
        """target/method/n<N>-s<seeds>, e.g. fashion/l2tww/n5-s0-4: what `l2tww train --job` takes."""
        w = self.wildcards
        return f"{w['target']}/{w['method']}/{w['ntag']}-s{w['seeds']}"


@dataclass(frozen=True)
class Params:
    """The validated params plus the helpers that read them. `data` is the defaults-filled dict;
    `trees` the folder tree of each image_folder dataset, read once when the params were loaded."""

    data: dict
    origin: str = "params.yaml"
    trees: Mapping[str, ImageTree] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def info(self, dataset: str) -> BuilderInfo:
        """A dataset's facts: catalog.BUILDERS' for a built-in builder, its folder's for an image folder."""
        return dataset_info(self.data["datasets"][dataset], self.trees.get(dataset))

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.data["data_root"], self.data["results_root"], self.data["reports_root"])

    # -- run matrix ------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        seen: dict[Run, None] = {}
        for tname, target in self.data["targets"].items():
            for block in target["runs"]:
                for method, n, seed in itertools.product(block["methods"], block["n_per_class"], block["seeds"]):
                    seen[Run(tname, method, n, seed)] = None
        return list(seen)

    def run_jobs(self) -> list[Job]:
        """The runs as training jobs: up to `runtime.runs_per_job` seeds of one (target, method, N)
        each, in matrix order. One process then trains them in turn, which spares every later run
        the interpreter's start (importing torch, warming its kernels: ~5 s on a CPU)."""
        size = self.data["runtime"]["runs_per_job"]
        cells = group_cells(self.runs())
        return [Job(tuple(runs[i : i + size])) for runs in cells.values() for i in range(0, len(runs), size)]

    @cached_property
    def _jobs(self) -> dict[tuple[str, str, str, str], Job]:
        return {tuple(job.wildcards.values()): job for job in self.run_jobs()}

    def job_at(self, target: str, method: str, ntag: str, seeds: str) -> Job:
        """The job of a rule's wildcards (Job.wildcards, in their order): the job itself, looked up
        by what names it, never rebuilt from a tag string."""
        job = self._jobs.get((target, method, ntag, seeds))
        if job is None:
            self._no_job(f"{target}/{method}/{ntag}-s{seeds}")
        return job

    def job(self, tag: str) -> Job:
        """The job of a tag (Job.tag, as `l2tww train --job` takes it), or a one-line error naming the
        tags there are."""
        jobs = {job.tag: job for job in self._jobs.values()}
        if tag not in jobs:
            self._no_job(tag)
        return jobs[tag]

    def _no_job(self, tag: str) -> None:
        tags = [job.tag for job in self._jobs.values()]
        shown = ", ".join(tags[:3]) + (", ..." if len(tags) > 3 else "")
        raise ConfigError(
            f"{self.origin}: no training job {tag!r} in the run matrix with runtime.runs_per_job "
            f"{self.data['runtime']['runs_per_job']} (jobs: {shown})"
        )

    def splits_needed(self, sources: list[str] | None = None) -> list[tuple[str, int | None, int]]:
        """(dataset, N, seed) of every split file a run or the pretraining of `sources` (default:
        every pretrained source) reads: sources first, then runs, each once."""
        out: dict[tuple, None] = {}
        for name in self.pretrained_sources() if sources is None else sources:
            src = self.data["sources"][name]
            out[(src["dataset"], src.get("n_per_class"), src["seed"])] = None
        for run in self.runs():
            out[(self.data["targets"][run.target]["dataset"], run.n_per_class, run.seed)] = None
        return list(out)

    def is_pretrained(self, source: str) -> bool:
        """Pretrained here (`l2tww pretrain`), or loaded from released weights (`weights:`)."""
        return "weights" not in self.data["sources"][source]

    def pretrained_sources(self) -> list[str]:
        return [name for name in self.data["sources"] if self.is_pretrained(name)]

    # -- resolution --------------------------------------------------------------------------
    def method_spec(self, target: str, method: str) -> MethodSpec:
        m = dict(self.data["methods"][method])
        kind = m.pop("kind")
        m.pop("label", None)
        set_name = m.pop("pairs", None)
        pairs: tuple[Pair, ...] = ()
        if set_name is not None:
            tcfg = self.data["targets"][target]
            pairs = tuple(
                Pair(si, s, t) for si in range(len(tcfg["sources"])) for s, t in expand_pairs(tcfg["pairs"][set_name])
            )
        return MethodSpec(name=method, kind=kind, pairs=pairs, hparams=m)

    def label(self, method: str) -> str:
        return self.data["methods"][method].get("label", method)


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
        yield f"{_key_path(path)}: {node} is not a finite number"
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
