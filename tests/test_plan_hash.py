"""The plan you can verify (issue 29, item 7): every shipped claims section records its own hash, so
no role, gate, margin or SD changes without the hash changing; the first commit containing the
hash is found; the report prints when the plan was fixed and what kind of run it judged."""

import copy
import json
import subprocess
from pathlib import Path

import pytest

from l2tww import config
from l2tww.report import evidence
from l2tww.results import plan_hash
from l2tww.stages import run_provenance

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [ROOT / "params.yaml", ROOT / "workflow" / "presets" / "paper.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_claims_section_records_its_own_hash(path):
    """Fails when the claims section changes and its recorded hash does not: record the new hash
    (`l2tww check` prints it) and say in the plan why it changed."""
    claims = config.load(path).data["claims"]
    assert claims["plan"].get("hash") == plan_hash.plan_hash(claims), plan_hash.hash_problem(claims)


def test_any_change_of_the_claims_section_changes_the_hash():
    claims = config.load(ROOT / "workflow" / "presets" / "study.yaml").data["claims"]  # two gates
    changed = copy.deepcopy(claims)
    changed["plan"]["rows"]["transfers_at_all@n50"]["margin"] = 1.1
    moved = copy.deepcopy(claims)
    moved["plan"]["gates"].reverse()
    renamed = copy.deepcopy(claims)
    renamed["frozen"] = ["fashion", "fm_all_to_all"]
    hashes = {plan_hash.plan_hash(c) for c in (claims, changed, moved, renamed)}
    assert len(hashes) == 4 and plan_hash.plan_hash(claims) == claims["plan"]["hash"]
    assert "is not the claims section's hash" in plan_hash.hash_problem(changed)


def _repository(folder):
    """A fresh git repository in `folder` and a function running git there (its stdout, stripped)."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    return git


def test_the_first_commit_containing_the_hash_is_found(tmp_path):
    git = _repository(tmp_path)
    (tmp_path / "params.yaml").write_text("claims: {}\n")
    git("add", ".")
    git("commit", "-qm", "before the plan")
    (tmp_path / "params.yaml").write_text("claims: {plan: {hash: 00aa11bb22cc33dd}}\n")
    git("commit", "-qam", "the plan")
    (tmp_path / "runs.csv").write_text("run\n")
    git("add", ".")
    git("commit", "-qm", "the confirmation")
    commit, date = plan_hash.first_commit("00aa11bb22cc33dd", tmp_path)
    head = subprocess.run(["git", "rev-parse", "HEAD~1"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert commit == head and date[:4].isdigit()
    after = plan_hash.first_commit_after(commit, tmp_path / "runs.csv", tmp_path)
    assert after is not None and after[0] != commit
    assert plan_hash.first_commit("ffffffffffffffff", tmp_path) is None
    # A Snakemake job reads an untracked copy of the params (.snakemake/l2tww/params.yaml) and looks
    # from its folder: the plan's commit is still the one that put the hash into params.yaml.
    effective = tmp_path / ".snakemake" / "l2tww"
    effective.mkdir(parents=True)
    (effective / "params.yaml").write_text((tmp_path / "params.yaml").read_text())
    assert plan_hash.first_commit("00aa11bb22cc33dd", effective) == (commit, date)


def test_the_report_line_says_when_the_plan_was_fixed_and_what_the_run_is():
    record = {"hash": "00aa11bb22cc33dd", "first_commit": "abcdef1234567890", "first_commit_date": "2026-12-07"}
    line = evidence.plan_line({**record, "status": "confirmation", "first_run_date": "2026-12-08"})
    assert line == "plan 00aa11bb22cc33dd fixed at abcdef1234, 2026-12-07; first confirmation run 2026-12-08."
    assert "RE-ANALYSIS" in evidence.plan_line({**record, "status": "re-analysis"})
    assert "not committed yet" in evidence.plan_line({**record, "first_commit": None, "status": "confirmation"})
    # A second confirmation of the same plan (new seeds) names its own runs beside the first one's date.
    made = "made at 1234567890 (committed 2026-12-09T10:00:00+00:00), after the plan"
    line = evidence.plan_line({**record, "status": "confirmation", "first_run_date": "2026-12-08", "runs_made": made})
    assert line.endswith("first confirmation run 2026-12-08; these runs " + made + ".")
    assert evidence.plan_line({**record, "status": "confirmation", "first_run_date": made, "runs_made": made}) == (
        f"plan 00aa11bb22cc33dd fixed at abcdef1234, 2026-12-07; first confirmation run {made}."
    )  # before the results commit: the runs' own record, said once


def test_the_confirmations_seeds_are_fresh_and_labelled_so():
    """Issue 29: the default and the study run on seeds from 4000 that no design or earlier run used
    (0-9, 1000-1006, 2000-2019, and 3000-3039: the first confirmation, before issue 28 moved the float
    order); only then may their plan's status say confirmation."""
    used = set(range(10)) | set(range(1000, 1007)) | set(range(2000, 2020)) | set(range(3000, 3040))
    for path in (ROOT / "params.yaml", ROOT / "workflow" / "presets" / "study.yaml"):
        params = config.load(path)
        seeds = {s for t in params.data["targets"].values() for block in t["runs"] for s in block["seeds"]}
        assert not seeds & used and min(seeds) == 4000, path.name
        assert params.data["claims"]["plan"]["status"] == "confirmation", path.name


def test_a_reports_first_run_is_the_commit_its_runs_record_relative_to_the_plan(tmp_path):
    """Before the results are committed (the confirmation's own report) the first confirmation run is
    read from the runs' timing.json: after the plan when their commit descends from the plan's, and
    flagged when one does not (a run made before the plan must never read as a confirmation)."""

    git = _repository(tmp_path)
    (tmp_path / "a").write_text("1")
    git("add", ".")
    git("commit", "-qm", "before the plan")
    before = git("rev-parse", "HEAD")
    (tmp_path / "a").write_text("2")
    git("commit", "-qam", "the plan")
    plan = git("rev-parse", "HEAD")
    (tmp_path / "a").write_text("3")
    git("commit", "-qam", "the code the runs ran at")
    after = git("rev-parse", "HEAD")

    def run_at(name, sha, dirty=False):
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "timing.json").write_text(json.dumps({"machine": {"git_sha": sha, "git_dirty": dirty}}))
        return {"dir": str(folder), "run_id": name}

    runs = [run_at("r1", after), run_at("r2", after, dirty=True)]
    text = run_provenance.runs_after_plan(plan, runs, tmp_path)
    assert text.startswith(f"made at {after[:10]} (committed ") and text.endswith(", after the plan")
    assert "uncommitted changes" in text
    early = run_provenance.runs_after_plan(plan, [*runs, run_at("r3", before)], tmp_path)
    assert early.startswith(f"NOT after the plan: runs made at {before[:10]}")
    assert run_provenance.runs_after_plan(plan, [run_at("r4", "f" * 40)], tmp_path) is None  # unknown commit
