"""`Params`: the validated params (config/loading.py reads them) with the helpers that read them:
the run matrix and its training jobs, the splits they need, method specs. Only the stages layer
and the CLI hold a `Params`; the library receives plain dicts and values from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from ..catalog import BuilderInfo, MethodSpec, Pair
from ..data.tree_scan import ImageTree
from .crossref import expand_pairs
from .facts import dataset_info
from .layout import Layout
from .matrix import Job, Run, group_jobs, run_matrix
from .validation import ConfigError


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
        return run_matrix(self.data["targets"])

    def run_jobs(self) -> list[Job]:
        """The runs as training jobs: up to `runtime.runs_per_job` seeds of one (target, method, N)
        each, in matrix order. One process then trains them in turn, which spares every later run
        the interpreter's start (importing torch, warming its kernels: ~5 s on a CPU)."""
        return group_jobs(self.runs(), self.data["runtime"]["runs_per_job"])

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
