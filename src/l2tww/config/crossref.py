"""Cross-reference checks of a schema-valid params dict: what JSON Schema cannot say (a name that
must exist elsewhere, a count that must fit a folder, a claim arm that must be run).

`problems` yields every problem, not the first: a user who copies a preset and trims it meets all
of them in one `check`, each message naming the key, the value and the edit that fixes it.
`drop_unrun_claims` is what `claims.unrun: skip` does: the claims whose arms are not in the run
matrix are left out, so a preset trimmed to fewer methods needs that one line, not one edit per claim.
"""

from __future__ import annotations

import itertools
from typing import Iterator, Mapping

from ..catalog import num_taps
from ..data.tree_scan import ImageTree
from ..results.cells import n_tag
from .facts import dataset_info, folder_refs, smallest_class

LIST_ROLES = ("baselines", "single_sources")  # claims roles holding a list of arms
SETTINGS = ("plan", "unrun")  # claims keys that are settings, not arms
UNRUN_FIX = "or set claims.unrun: skip to leave out every claim whose arms are not run"


def expand_pairs(spec) -> list[tuple[int, int]]:
    """A pair set is a list of [source tap, target tap] or a product {source: [...], target: [...]}."""
    if isinstance(spec, Mapping):
        return [(s, t) for s in spec["source"] for t in spec["target"]]
    return [(int(s), int(t)) for s, t in spec]


def problems(p: dict, trees: Mapping[str, ImageTree]) -> Iterator[str]:
    """Every cross-reference problem of `p`, one message each."""
    yield from _source_refs(p)
    infos = {name: dataset_info(ds, trees.get(name)) for name, ds in p["datasets"].items()}
    yield from _dataset_refs(p, infos)
    for tname in p["targets"]:
        yield from _target_refs(p, tname, infos, trees)
    yield from _claim_refs(p)


def _source_refs(p: dict) -> Iterator[str]:
    datasets, recipes = p["datasets"], p["recipes"]
    for name, src in p["sources"].items():
        if src["dataset"] not in datasets:
            yield f"sources.{name}.dataset: unknown dataset {src['dataset']!r}; expected one of {sorted(datasets)}"
        if "weights" not in src and "recipe" not in src:
            yield f"sources.{name}: needs a 'recipe' to pretrain, or 'weights' to load; add one of them"
        if "recipe" in src and src["recipe"] not in recipes:
            yield f"sources.{name}.recipe: unknown recipe {src['recipe']!r}; expected one of {sorted(recipes)}"
        if src.get("weights", {}).get("format") == "state_dict" and "url" in src["weights"]:
            yield f"sources.{name}.weights.url: format state_dict reads the local file `path`; remove url"


def _dataset_refs(p: dict, infos: dict) -> Iterator[str]:
    for name, ds in p["datasets"].items():
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
                    "pool); remove one of them"
                )
        for key in ("mean", "std"):
            if len(ds["normalize"][key]) != info.channels:
                yield (
                    f"datasets.{name}.normalize.{key}: {ds['normalize'][key]} has {len(ds['normalize'][key])} "
                    f"values; {ds['builder']} images have {info.channels} channel(s)"
                )


def _target_refs(p: dict, tname: str, infos: dict, trees: Mapping[str, ImageTree]) -> Iterator[str]:
    datasets, recipes, sources, methods = p["datasets"], p["recipes"], p["sources"], p["methods"]
    t = p["targets"][tname]
    where = f"targets.{tname}"
    if t["dataset"] not in datasets:
        yield f"{where}.dataset: unknown dataset {t['dataset']!r}; expected one of {sorted(datasets)}"
        return
    if t["recipe"] not in recipes:
        yield f"{where}.recipe: unknown recipe {t['recipe']!r}; expected one of {sorted(recipes)}"
    for s in t["sources"]:
        if s not in sources:
            yield f"{where}.sources: unknown source {s!r}; expected one of {sorted(sources)}"
    if any(s not in sources for s in t["sources"]):
        return
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
    class_size = pool_per_class(ds, info.min_train_per_class)
    held = held_out(ds, class_size, info.has_test)
    smallest = smallest_class(ds, trees.get(t["dataset"]))
    capacity = class_size - held
    if held >= class_size:
        yield (
            f"datasets.{t['dataset']}: val + test hold out {held} images per class, but {smallest} has {class_size}; "
            "lower val/test per_class or add images"
        )
    for src_name in [s for s in t["sources"] if sources[s]["dataset"] in datasets]:  # unknown: reported above
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
                yield f"{where}.runs[{i}].{key}: {twice[0]!r} is listed twice; remove one"
        for run in itertools.product(block["methods"], block["n_per_class"], block["seeds"]):
            if seen_runs.setdefault(run, i) != i:
                method, n, seed = run
                yield (
                    f"{where}.runs[{i}]: the run {tname}-{method}-{n_tag(n)}-s{seed} is already in "
                    f"runs[{seen_runs[run]}]; remove it from one block"
                )
        for m in block["methods"]:
            if m not in methods:
                yield f"{where}.runs[{i}].methods: unknown method {m!r}; expected one of {sorted(methods)}"
            elif "pairs" in methods[m] and methods[m]["pairs"] not in t["pairs"]:
                yield (
                    f"{where}.pairs: method {m!r} needs pair set {methods[m]['pairs']!r}, which {tname} does not "
                    f"define; add {where}.pairs.{methods[m]['pairs']}"
                )
        if held >= class_size:
            continue
        for n in block["n_per_class"]:
            if n is not None and n > capacity:
                yield (
                    f"{where}.runs[{i}].n_per_class: {n} exceeds the {capacity} train images per class of "
                    f"{t['dataset']!r} after val/test hold-out"
                    + (f" ({smallest} has {class_size}, val + test take {held})" if t["dataset"] in trees else "")
                    + f"; lower it to at most {capacity} or add images"
                )


def _claim_refs(p: dict) -> Iterator[str]:
    claims = p.get("claims", {})
    run_arms = _run_arms(p)
    for key, (target, method) in claim_arms(claims):
        if (target, method) not in run_arms and claims.get("unrun") != "skip":
            yield (
                f"{key}: [{target}, {method}] is not in the run matrix; remove {key}, or run {method} on "
                f"{target} (targets.{target}.runs), {UNRUN_FIX}"
            )
    yield from _not_a_baseline(claims, p["methods"])
    yield from _plan_problems(claims)


def _plan_problems(claims: dict) -> Iterator[str]:
    """The claims plan's gates and rows (verdicts.plan_problems) and its recorded hash (plan_hash)."""
    from ..results import plan_hash, verdicts  # results imports no config: no cycle, loaded only here

    if not claims:
        return
    yield from verdicts.plan_problems(verdicts.plan_from(claims.get("plan", {})))
    if (claims.get("plan") or {}).get("hash") is not None:
        problem = plan_hash.hash_problem(claims, "")
        if problem:
            yield problem


def _run_arms(p: dict) -> set[tuple[str, str]]:
    return {(t, m) for t, target in p["targets"].items() for block in target["runs"] for m in block["methods"]}


def drop_unrun_claims(p: dict) -> list[str]:
    """With `claims.unrun: skip`: remove from `p` (in place) every claim arm that is not run, and the
    `unrun` key itself (nothing downstream reads it); without l2tww's own arm no claim is left, so the
    claims section goes. Returns what was left out, one line each (`l2tww check` prints them)."""
    claims = p.get("claims")
    if not claims or claims.pop("unrun", "error") != "skip":
        return []
    run_arms, dropped = _run_arms(p), []
    for role in [r for r in claims if r not in SETTINGS]:
        arms = claims[role] if role in LIST_ROLES else [claims[role]]
        kept = [arm for arm in arms if tuple(arm) in run_arms]
        dropped += [f"claims.{role}: [{t}, {m}] left out (not in the run matrix; claims.unrun: skip)"
                    for t, m in arms if (t, m) not in run_arms]  # fmt: skip
        if role in LIST_ROLES and kept:
            claims[role] = kept
        elif not kept:
            del claims[role]
    if "l2tww" not in claims:
        del p["claims"]
        dropped.append("claims: no claim left (its l2tww arm is not run): the report tests none")
    return dropped


def claim_arms(claims: dict) -> Iterator[tuple[str, list]]:
    for role, value in claims.items():
        if role in SETTINGS:
            continue
        for i, arm in enumerate(value if role in LIST_ROLES else [value]):
            yield (f"claims.{role}[{i}]" if role in LIST_ROLES else f"claims.{role}"), arm


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


def _not_a_baseline(claims: dict, methods: dict) -> Iterator[str]:
    """claims.baselines holds the paper's baselines only: a control or the fine-tuning reference
    there would let "L2T-ww > the best baseline" be decided against the wrong arm."""
    not_baselines = ("l2tww", "frozen", "fm_all_to_all", "reference", "multi_source", "fast", "exact", "holdout")
    roles = {tuple(claims[k]): k for k in reversed(not_baselines) if k in claims}
    for i, (target, method) in enumerate(claims.get("baselines", [])):
        m = methods.get(method, {})
        if (target, method) in roles:
            yield (
                f"claims.baselines[{i}]: [{target}, {method}] is the {roles[(target, method)]} arm, not a baseline; "
                f"remove claims.baselines[{i}]"
            )
        elif (
            m.get("kind") == "finetune" or m.get("frozen") or (m.get("kind") == "fm" and m.get("pairs") == "all_to_all")
        ):
            yield (
                f"claims.baselines[{i}]: method {method!r} is a control or the reference (fine-tuning, frozen "
                f"meta-nets, FM over all pairs); expected one of the paper's baselines: remove claims.baselines[{i}]"
            )


def pool_per_class(ds: dict, per_class: int) -> int:
    """Images per class of the smallest class left after `partition` (a lower bound: rounding)."""
    part = ds.get("partition")
    if part is None or part["part"] >= len(part["fractions"]):
        return per_class
    return int(part["fractions"][part["part"]] * per_class)


def held_out(ds: dict, per_class: int, has_test: bool) -> int:
    """Images per class that val and test take out of the train pool (test: only without a test set)."""
    held = 0
    for key in ("val",) if has_test else ("val", "test"):
        spec = ds.get(key)
        if spec:
            held += spec.get("per_class", 0) or int(round(spec.get("fraction", 0) * per_class))
    return held
