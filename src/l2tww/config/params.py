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

from ..catalog import BuilderInfo, MethodSpec, Pair, num_taps
from ..data.tree_scan import ImageTree
from ..results.cells import group_cells, n_tag
from .facts import dataset_info, folder_refs, scan_folders, smallest_class
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


def expand_pairs(spec) -> list[tuple[int, int]]:
    """A pair set is a list of [source tap, target tap] or a product {source: [...], target: [...]}."""
    if isinstance(spec, Mapping):
        return [(s, t) for s in spec["source"] for t in spec["target"]]
    return [(int(s), int(t)) for s, t in spec]


def _walk_refs(p: dict, trees: Mapping[str, ImageTree]) -> Iterator[str]:
    """Cross-reference checks, yielding one message per problem."""
    datasets, recipes, sources, methods = p["datasets"], p["recipes"], p["sources"], p["methods"]
    for name, src in sources.items():
        if src["dataset"] not in datasets:
            yield f"sources.{name}.dataset: unknown dataset {src['dataset']!r}; expected one of {sorted(datasets)}"
        if "weights" not in src and "recipe" not in src:
            yield f"sources.{name}: needs a 'recipe' to pretrain, or 'weights' to load"
        if "recipe" in src and src["recipe"] not in recipes:
            yield f"sources.{name}.recipe: unknown recipe {src['recipe']!r}; expected one of {sorted(recipes)}"
        if src.get("weights", {}).get("format") == "state_dict" and "url" in src["weights"]:
            yield f"sources.{name}.weights.url: format state_dict reads the local file `path`; remove url"
    infos = {name: dataset_info(ds, trees.get(name)) for name, ds in datasets.items()}
    for name, ds in datasets.items():
        info = infos[name]
        yield from folder_refs(name, ds)
        if "test" not in ds and "official_splits" not in ds and not info.has_test:
            yield (
                f"datasets.{name}.test: builder {ds['builder']!r} has no official test set; give test: {{per_class: N}}"
            )
        part = ds.get("partition")
        if part is not None:
            if sum(part["fractions"]) > 1 + 1e-9:
                yield (
                    f"datasets.{name}.partition.fractions: {part['fractions']} sum to {sum(part['fractions']):g}; "
                    "expected at most 1"
                )
            if part["part"] >= len(part["fractions"]):
                yield (
                    f"datasets.{name}.partition.part: {part['part']} out of range; {len(part['fractions'])} "
                    f"fractions give parts 0..{len(part['fractions']) - 1}"
                )
            elif "official_splits" in ds:
                yield (
                    f"datasets.{name}.partition: cannot be combined with official_splits (the authors' files fix the "
                    "pool)"
                )
        for key in ("mean", "std"):
            if len(ds["normalize"][key]) != info.channels:
                yield (
                    f"datasets.{name}.normalize.{key}: {ds['normalize'][key]} has {len(ds['normalize'][key])} "
                    f"values; {ds['builder']} images have {info.channels} channel(s)"
                )
    for tname, t in p["targets"].items():
        where = f"targets.{tname}"
        if t["dataset"] not in datasets:
            yield f"{where}.dataset: unknown dataset {t['dataset']!r}; expected one of {sorted(datasets)}"
            continue
        if t["recipe"] not in recipes:
            yield f"{where}.recipe: unknown recipe {t['recipe']!r}; expected one of {sorted(recipes)}"
        for s in t["sources"]:
            if s not in sources:
                yield f"{where}.sources: unknown source {s!r}; expected one of {sorted(sources)}"
        if any(s not in sources for s in t["sources"]):
            continue
        t_taps = num_taps(t["arch"])
        for set_name, spec in t["pairs"].items():
            for s, tt in expand_pairs(spec):
                if tt >= t_taps:
                    yield (
                        f"{where}.pairs.{set_name}: target tap {tt} out of range; {t['arch']['name']} has taps "
                        f"0..{t_taps - 1}"
                    )
                for src_name in t["sources"]:
                    s_taps = num_taps(sources[src_name]["arch"])
                    if s >= s_taps:
                        yield (
                            f"{where}.pairs.{set_name}: source tap {s} out of range for source {src_name!r}; "
                            f"{sources[src_name]['arch']['name']} has taps 0..{s_taps - 1}"
                        )
        ds, info = datasets[t["dataset"]], infos[t["dataset"]]
        class_size = _pool_per_class(ds, info.min_train_per_class)
        held = _held_out(ds, class_size, info.has_test)
        smallest = smallest_class(ds, trees.get(t["dataset"]))
        if held >= class_size:
            yield (
                f"datasets.{t['dataset']}: val + test hold out {held} images per class, but {smallest} has {class_size}"
            )
            continue
        capacity = class_size - held
        for src_name in t["sources"]:
            if t.get("overlap") != "allowed" and (shared := _shared_images(datasets, t["dataset"], sources[src_name])):
                yield (
                    f"{where}: its dataset {t['dataset']!r} and source {src_name!r}'s dataset "
                    f"{sources[src_name]['dataset']!r} {shared}; give each a different `partition.part` of one cut, or "
                    f"set {where}.overlap: allowed"
                )
        seen_runs: dict[tuple, int] = {}
        for i, block in enumerate(t["runs"]):
            for key in ("methods", "n_per_class", "seeds"):
                twice = sorted({x for x in block[key] if block[key].count(x) > 1}, key=str)
                if twice:
                    yield f"{where}.runs[{i}].{key}: {twice[0]!r} is listed twice"
            for run in itertools.product(block["methods"], block["n_per_class"], block["seeds"]):
                if seen_runs.setdefault(run, i) != i:
                    method, n, seed = run
                    yield (
                        f"{where}.runs[{i}]: the run {tname}-{method}-{n_tag(n)}-s{seed} is already in "
                        f"runs[{seen_runs[run]}]"
                    )
            for m in block["methods"]:
                if m not in methods:
                    yield f"{where}.runs[{i}].methods: unknown method {m!r}; expected one of {sorted(methods)}"
                elif "pairs" in methods[m] and methods[m]["pairs"] not in t["pairs"]:
                    yield (
                        f"{where}.pairs: method {m!r} needs pair set {methods[m]['pairs']!r}, which {tname} does not "
                        "define"
                    )
            for n in block["n_per_class"]:
                if n is not None and n > capacity:
                    yield (
                        f"{where}.runs[{i}].n_per_class: {n} exceeds the {capacity} train images per class of "
                        f"{t['dataset']!r} after val/test hold-out"
                        + (f" ({smallest} has {class_size}, val + test take {held})" if t["dataset"] in trees else "")
                    )
    run_arms = {(t, m) for t, target in p["targets"].items() for block in target["runs"] for m in block["methods"]}
    for key, (target, method) in _claim_arms(p.get("claims", {})):
        if (target, method) not in run_arms:
            yield f"{key}: [{target}, {method}] is not in the run matrix (targets.<t>.runs)"
    yield from _not_a_baseline(p.get("claims", {}), methods)


def _shared_images(datasets: dict, target_ds: str, source: dict) -> str | None:
    """How a target's train images can be a pretrained source's training images, or None. Two
    datasets on one builder share none only as different parts of the same partition cut."""
    if "weights" in source:  # released weights: their training data is not ours to compare
        return None
    a, b = datasets[target_ds], datasets[source["dataset"]]
    if a["builder"] != b["builder"]:
        return None
    pa, pb = a.get("partition"), b.get("partition")
    if pa and pb and (pa["seed"], pa["fractions"]) == (pb["seed"], pb["fractions"]) and pa["part"] != pb["part"]:
        return None
    if source["dataset"] == target_ds:
        return "are the same dataset: the target would train on the source's images"
    if pa and pb and (pa["seed"], pa["fractions"], pa["part"]) == (pb["seed"], pb["fractions"], pb["part"]):
        return (
            f"take the same partition part ({pa['part']}) of {a['builder']!r}: the target would train on the "
            "source's images"
        )
    return f"draw from the same {a['builder']!r} train images without disjoint parts of one partition"


def _claim_arms(claims: dict) -> Iterator[tuple[str, list]]:
    for role, value in claims.items():
        if role == "plan":
            continue
        for i, arm in enumerate(value if role in ("baselines", "single_sources") else [value]):
            yield (f"claims.{role}[{i}]" if role in ("baselines", "single_sources") else f"claims.{role}"), arm


def _not_a_baseline(claims: dict, methods: dict) -> Iterator[str]:
    """claims.baselines holds the paper's baselines only: a control or the fine-tuning reference
    there would let "L2T-ww > the best baseline" be decided against the wrong arm."""
    not_baselines = ("l2tww", "frozen", "fm_all_to_all", "reference", "multi_source", "fast", "exact")
    roles = {tuple(claims[k]): k for k in reversed(not_baselines) if k in claims}
    for i, (target, method) in enumerate(claims.get("baselines", [])):
        m = methods.get(method, {})
        if (target, method) in roles:
            yield f"claims.baselines[{i}]: [{target}, {method}] is the {roles[(target, method)]} arm, not a baseline"
        elif (
            m.get("kind") == "finetune" or m.get("frozen") or (m.get("kind") == "fm" and m.get("pairs") == "all_to_all")
        ):
            yield (
                f"claims.baselines[{i}]: method {method!r} is a control or the reference (fine-tuning, frozen "
                "meta-nets, FM over all pairs); expected one of the paper's baselines"
            )


def _pool_per_class(ds: dict, per_class: int) -> int:
    """Images per class of the smallest class left after `partition` (a lower bound: rounding)."""
    part = ds.get("partition")
    if part is None or part["part"] >= len(part["fractions"]):
        return per_class
    return int(part["fractions"][part["part"]] * per_class)


def _held_out(ds: dict, per_class: int, has_test: bool) -> int:
    """Images per class that val and test take out of the train pool (test: only without a test set)."""
    held = 0
    for key in ("val",) if has_test else ("val", "test"):
        spec = ds.get(key)
        if spec:
            held += spec.get("per_class", 0) or int(round(spec.get("fraction", 0) * per_class))
    return held


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
    for problem in _walk_refs(data, trees):
        raise ConfigError(f"{origin}: {problem}")
    return Params(data, origin, trees)
