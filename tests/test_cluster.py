"""The SLURM profile on a real SLURM: the tiny pipeline through `--profile workflow/profiles/slurm`.

By default the tests start a single-node SLURM with accounting on this machine
(workflow/cluster/local-slurm.sh: root and apt-get) and stop its daemons by pid afterwards, failed
or not. With L2TWW_SLURM=existing they submit to the cluster this machine already submits to
(a login node; docs/cluster.md). Either way they check that every non-local job ran as a SLURM job,
that the results equal a local run's bit for bit, and that a training job cancelled mid-run is
resubmitted by the profile's retries and resumes from its checkpoint to the same result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from l2tww import io

from .conftest import REPO
from .test_workflow import make_project, sh

pytestmark = pytest.mark.cluster

BIN = str(Path(sys.executable).parent)
SCRIPT = REPO / "workflow" / "cluster" / "local-slurm.sh"
CANNOT_RUN_HERE = 3  # local-slurm.sh's exit status for "not root / no apt-get / a real cluster here"
# Enough epochs that the killed run is still training when the signal lands (~0.1 s an epoch
# here), few enough that both pipelines finish in about a minute each.
EPOCHS = 100
KILL_AFTER_EPOCH = 2
KILLED_RUN = "animal/scratch/n5-s0"
KILLED_WILDCARDS = "animal_scratch_n5_0"  # the plugin's SLURM log folder: the wildcard values joined by _
RULES_ON_SLURM = {"prepare": 2, "pretrain": 1, "train": 2, "report": 1}  # the rest are localrules


def _free_ports(count: int = 4) -> int:
    """First of `count` consecutive free TCP ports on 127.0.0.1 (slurmctld, slurmd, slurmdbd, MariaDB)."""
    for first in range(16817, 40000, 10):
        socks = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no 4 consecutive free ports between 16817 and 40000")


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory) -> dict:
    """Environment and partition of a SLURM cluster to submit to."""
    if os.environ.get("L2TWW_SLURM") == "existing":
        if not shutil.which("sbatch") or not shutil.which("sacct"):
            pytest.fail("L2TWW_SLURM=existing but sbatch/sacct are not on PATH")
        return {"env": dict(os.environ), "partition": os.environ.get("L2TWW_SLURM_PARTITION")}
    if os.geteuid() != 0:
        pytest.skip("cluster tests start SLURM daemons: run as root (or L2TWW_SLURM=existing on a login node)")
    state = tmp_path_factory.mktemp("slurm")
    env = {
        **os.environ,
        "L2TWW_SLURM_DIR": str(state),
        "L2TWW_SLURM_PORT": str(_free_ports()),
        "L2TWW_SLURM_PARTITION": "cpu",
    }

    def stop():  # by the pids in the state folder, also after a failed or partial start
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state / "mysql", ignore_errors=True)  # the database; the logs stay

    request.addfinalizer(stop)
    started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=900)
    if started.returncode == CANNOT_RUN_HERE:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, f"local-slurm.sh start failed:\n{started.stdout}{started.stderr}"
    env["SLURM_CONF"] = str(state / "etc" / "slurm.conf")
    return {"env": env, "partition": "cpu"}


def _project(root: Path) -> Path:
    project = make_project(root)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["recipes"]["target"]["epochs"] = EPOCHS
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return project


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    project = _project(tmp_path_factory.mktemp("local") / "project")
    sh(["snakemake", "--cores", "2", "all"], project)
    return project


def slurm_command(partition: str | None) -> list[str]:
    """The profile, with only what a small CPU-only test node needs changed (docs/cluster.md)."""
    defaults = ["mem_mb=2000", "runtime=15"] + ([f"slurm_partition={partition}"] if partition else [])
    if os.environ.get("L2TWW_SLURM_ACCOUNT"):
        defaults.append(f"slurm_account={os.environ['L2TWW_SLURM_ACCOUNT']}")
    return [
        "snakemake", "all", "--profile", "workflow/profiles/slurm",
        "--default-resources", *defaults,
        "--set-resources", "pretrain:gpu=0", "train:gpu=0",
        # Polling: the plugin first looks after 40 s, then ever later; the tiny jobs take seconds.
        "--slurm-init-seconds-before-status-checks", "2",
    ]  # fmt: skip


def _checkpoint_epoch(path: Path) -> int:
    try:
        return io.load_torch(path)["epoch"] if path.exists() else -1
    except (ValueError, FileNotFoundError):
        return -1


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> dict:
    """The tiny pipeline through the SLURM profile; KILLED_RUN's training process is killed mid-run.

    The kill is `scancel --signal=TERM`: the SIGTERM a time limit sends, to the job's steps, once
    the checkpoint of epoch KILL_AFTER_EPOCH exists. The job then ends FAILED and Snakemake
    resubmits it. Not a real time limit: SLURM counts them in whole minutes and checks them every
    30 s, so the run would have to train for 90 s. Not a plain scancel: its job state, "CANCELLED
    by <uid>", is not one the plugin (2.8.0) recognises, and Snakemake would wait forever.
    """
    project = _project(tmp_path_factory.mktemp("slurm-run") / "project")
    env = {**cluster["env"], "PATH": f"{BIN}:{cluster['env']['PATH']}", "DVC_NO_ANALYTICS": "1"}
    log = project / "snakemake.out"
    with log.open("w") as out:
        proc = subprocess.Popen(
            slurm_command(cluster["partition"]),
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        checkpoint = project / "results/runs" / KILLED_RUN / "checkpoint.pt"
        slurm_logs = project / ".snakemake/slurm_logs/rule_train" / KILLED_WILDCARDS
        deadline = time.time() + 600
        while _checkpoint_epoch(checkpoint) < KILL_AFTER_EPOCH:
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail(
                    f"{KILLED_RUN} wrote no checkpoint of epoch {KILL_AFTER_EPOCH} before snakemake ended or 600 s "
                    f"passed:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.05)
        (job_log,) = slurm_logs.glob("*.log")
        killed = job_log.stem
        cancel = subprocess.run(["scancel", "--signal=TERM", killed], env=env, capture_output=True, text=True)
        assert cancel.returncode == 0 and not cancel.stderr, f"scancel {killed}: {cancel.stderr}"
        try:
            returncode = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            pytest.fail(f"snakemake still running 600 s after the kill:\n{log.read_text()[-5000:]}")
        assert returncode == 0, f"snakemake failed:\n{log.read_text()[-5000:]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: snakemake scancels its jobs and stops
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    jobs = {}  # SLURM job id -> (rule, wildcards), from the profile's per-job SLURM logs
    for path in (project / ".snakemake/slurm_logs").rglob("*.log"):
        rule = path.relative_to(project / ".snakemake/slurm_logs").parts[0].removeprefix("rule_")
        jobs[path.stem] = (rule, path.parent.name)
    sacct = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-j", ",".join(jobs), "--format=JobIDRaw,State,ExitCode"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    states = {line.split("|")[0]: line.split("|")[1] for line in sacct.splitlines()}
    return {"project": project, "killed": killed, "jobs": jobs, "states": states, "log": log.read_text()}


def test_every_job_ran_as_a_slurm_job_with_its_log(slurm_run):
    jobs, states = slurm_run["jobs"], slurm_run["states"]
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", slurm_run["log"]))
    assert submitted == set(jobs)  # one kept SLURM log per submission
    assert set(states) == set(jobs)  # and sacct knows every one
    completed = {}
    for job_id, (rule, _) in jobs.items():
        if job_id != slurm_run["killed"]:
            assert states[job_id] == "COMPLETED", (job_id, rule, states[job_id])
            completed[rule] = completed.get(rule, 0) + 1
            text = (slurm_run["project"] / ".snakemake/slurm_logs" / f"rule_{rule}").rglob(f"{job_id}.log")
            assert "1 of 1 steps (100%) done" in next(text).read_text()
    assert completed == RULES_ON_SLURM
    assert "localrule split:" in slurm_run["log"] and "localrule summarize:" in slurm_run["log"]


def _run_files(project: Path) -> dict[str, Path]:
    """Every trained model's folder (metrics.json, history.json, model.pt) under results/."""
    return {p.parent.relative_to(project).as_posix(): p.parent for p in (project / "results").rglob("model.pt")}


def test_results_equal_the_local_run(slurm_run, local_run):
    runs = _run_files(local_run)
    assert (
        set(runs)
        == set(_run_files(slurm_run["project"]))
        == {"results/sources/digits", "results/runs/animal/scratch/n5-s0", "results/runs/animal/fm_single/n5-s0"}
    )
    for rel, local in runs.items():
        cluster = slurm_run["project"] / rel
        metrics = [io.read_json(d / "metrics.json") for d in (local, cluster)]
        assert metrics[0] == metrics[1], rel
        history = [io.read_json(d / "history.json") for d in (local, cluster)]
        assert history[0] == history[1], rel  # every epoch's losses, bit for bit
        models = [io.load_torch(d / "model.pt") for d in (local, cluster)]  # target, method, best_epoch
        assert models[0]["best_epoch"] == models[1]["best_epoch"], rel
        for part in ("target", "method"):
            assert models[0][part].keys() == models[1][part].keys(), (rel, part)
            assert all(torch.equal(models[0][part][k], models[1][part][k]) for k in models[0][part]), (rel, part)


def test_a_killed_training_job_is_resubmitted_and_resumes(slurm_run, local_run):
    killed = slurm_run["killed"]
    assert slurm_run["jobs"][killed][0] == "train"
    assert slurm_run["states"][killed] == "FAILED"
    retried = [
        j
        for j, (rule, wc) in slurm_run["jobs"].items()
        if rule == "train" and wc == slurm_run["jobs"][killed][1] and j != killed
    ]
    assert len(retried) == 1 and int(retried[0]) > int(killed) and slurm_run["states"][retried[0]] == "COMPLETED"
    run_log = (slurm_run["project"] / "results/logs/train" / f"{KILLED_RUN}.log").read_text()
    resumed = re.search(r"resuming \S+checkpoint\.pt after epoch (\d+)", run_log)
    assert resumed and int(resumed.group(1)) >= KILL_AFTER_EPOCH, run_log[-2000:]
    assert not (slurm_run["project"] / "results/runs" / KILLED_RUN / "checkpoint.pt").exists()
    rel = f"results/runs/{KILLED_RUN}"
    final = [json.loads((p / rel / "metrics.json").read_text()) for p in (local_run, slurm_run["project"])]
    assert final[0]["epochs"] == final[1]["epochs"] == EPOCHS
    assert final[0] == final[1]
