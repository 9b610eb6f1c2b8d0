"""Comparing two result sets paired by (target, method, N, seed), from lists, from files and from git
revisions: every cell is identical, equivalent (90% CI of B − A within ±margin), different (95% CI
excludes 0) or can't tell.

Fixture: B − A per seed is 3,4,3,4,3.5 for l2tww N=5 (mean 3.5, s 0.5: 95% CI [2.88, 4.12], 90% CI
3.5 ± 2.132 * 0.2236 = [3.02, 3.98]: different), .2,-.1,.1,0,-.2 for fm N=5 (mean 0, s 0.158,
90% CI ± 0.151: equivalent) and +5,-5 on 2 seeds for lwf (mean 0, s 7.07, 95% CI ± 63.5: can't tell);
scratch is bit-equal (identical)."""

import csv
import json
import subprocess

import pytest
import yaml

from l2tww import cli
from l2tww.results import compare, revisions

from .conftest import tiny_raw

SCRATCH = [40.0, 42.0, 38.0, 41.0, 39.0]
FIELDS = ["target", "method", "n_per_class", "seed", "test_acc", "val_acc"]


def _runs(method, n, accs, target="animal"):
    return [
        {"target": target, "method": method, "n_per_class": n, "seed": s, "test_acc": a, "val_acc": 50.0}
        for s, a in enumerate(accs)
    ]


def _shift(accs, diffs):
    return [a + d for a, d in zip(accs, diffs)]


A = [
    *_runs("scratch", 5, SCRATCH),
    *_runs("l2tww", 5, SCRATCH),
    *_runs("fm", 5, SCRATCH),
    *_runs("lwf", 5, SCRATCH[:2]),
    *_runs("at", "all", SCRATCH),
]
B = [
    *_runs("scratch", 5, SCRATCH),
    *_runs("l2tww", 5, _shift(SCRATCH, [3, 4, 3, 4, 3.5])),
    *_runs("fm", 5, _shift(SCRATCH, [0.2, -0.1, 0.1, 0, -0.2])),
    *_runs("lwf", 5, _shift(SCRATCH[:2], [5, -5])),
    *_runs("lwf", 25, SCRATCH),
]


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _readings(cmp):
    return {(d.cell.method, d.cell.n_per_class): d.reading for d in cmp.cells}


def test_the_same_results_are_identical_and_seed_noise_within_the_margin_is_equivalent():
    assert set(_readings(compare.compare(A, A)).values()) == {compare.IDENTICAL}
    jitter = [{**r, "test_acc": r["test_acc"] + (0.3 if r["seed"] % 2 else -0.3)} for r in A if r["method"] != "lwf"]
    readings = _readings(compare.compare([r for r in A if r["method"] != "lwf"], jitter))
    assert set(readings.values()) == {compare.EQUIVALENT}  # +-0.3 on 5 seeds: 90% CI ~ +-0.3, within +-1


def test_each_reading_by_hand():
    cmp = compare.compare(A, B)
    assert _readings(cmp) == {
        ("scratch", 5): compare.IDENTICAL,
        ("l2tww", 5): compare.DIFFERENT,  # shifted by 3-4 pt
        ("fm", 5): compare.EQUIVALENT,
        ("lwf", 5): compare.CANT_TELL,  # 2 seeds of +-5 pt
    }
    by_method = {d.cell.method: d for d in cmp.cells}
    l2t, fm, lwf = by_method["l2tww"], by_method["fm"], by_method["lwf"]
    assert (l2t.mean_a, l2t.mean_b, l2t.paired.ci.mean) == (40.0, 43.5, 3.5)
    assert (l2t.tost.ci.low, l2t.tost.ci.high) == (pytest.approx(3.023, abs=1e-3), pytest.approx(3.977, abs=1e-3))
    assert l2t.why() == "95% CI [+2.88, +4.12] excludes 0"
    assert fm.why().startswith("90% CI [-0.15, +0.15] within ±1")
    assert lwf.why() == "95% CI [-63.53, +63.53] contains 0 and the 90% CI [-31.57, +31.57] is not within ±1"
    assert cmp.only_a == [("animal", "at", None)] and cmp.only_b == [("animal", "lwf", 25)]


def test_a_narrower_margin_turns_equivalent_into_cant_tell_and_a_shift_is_named():
    assert _readings(compare.compare(A, B, margin=0.1))[("fm", 5)] == compare.CANT_TELL
    steady = _runs("fm", 5, _shift(SCRATCH, [0.3, 0.31, 0.29, 0.3, 0.3]))  # tiny but consistent
    (d,) = compare.compare(_runs("fm", 5, SCRATCH), steady).cells
    assert d.reading == compare.EQUIVALENT and "shifted beyond seed noise" in d.why()


def test_added_seeds_are_counted_and_the_shared_ones_still_read_identical():
    """More seeds on one side (a cell re-run on a wider range) say nothing about the shared ones:
    bit-equal there is "identical", and the unpaired seeds are counted, not compared."""
    cmp = compare.compare(_runs("scratch", 5, SCRATCH[:3]), _runs("scratch", 5, SCRATCH))
    (d,) = cmp.cells
    assert (d.paired.ci.n, d.a_only, d.b_only, d.reading) == (3, 0, 2, compare.IDENTICAL)
    assert "(+2 B-only, 0 A-only seeds ignored)" in compare.format_comparison(cmp)
    moved = [{**r, "test_acc": r["test_acc"] + 0.01} if r["seed"] == 1 else r for r in _runs("scratch", 5, SCRATCH)]
    (d,) = compare.compare(_runs("scratch", 5, SCRATCH[:3]), moved).cells
    assert d.reading != compare.IDENTICAL  # one shared seed moved by 0.01


def test_a_method_on_one_side_only_is_listed_with_its_likely_rename():
    a = [*_runs("scratch", 5, SCRATCH), *_runs("l2tww_frozen", 5, SCRATCH), *_runs("gone", 5, SCRATCH[:2])]
    b = [*_runs("scratch", 5, SCRATCH), *_runs("frozen", 5, SCRATCH), *_runs("l2tww", 5, SCRATCH, "other")]
    cmp = compare.compare(a, b)
    assert ("animal", "l2tww_frozen") in cmp.arms_only_a and (("animal", "l2tww_frozen"), ("animal", "frozen")) in (
        cmp.renames
    )
    text = compare.format_comparison(cmp)
    assert (
        "warning: animal/l2tww_frozen only in A, not compared; likely renamed: animal/frozen (only in B, same N and "
        "seeds)" in text
    )
    assert "warning: animal/gone only in A, not compared; no arm only in B has its N and seeds" in text
    assert (
        "warning: other/l2tww only in B" in text
        and "likely renamed: animal/l2tww_frozen" not in text.split("other/l2tww only in B")[1].splitlines()[0]
    )


def test_format_is_an_aligned_table_with_a_count_per_reading():
    text = compare.format_comparison(compare.compare(A, B), "HEAD", "workspace")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("target"))
    rows = [line for line in lines if line.startswith("animal")]
    col = header.index("B−A")
    assert all(r[col] in "+-" for r in rows)  # every diff starts under its header
    assert "cells: identical 1, equivalent 1, different 1, can't tell 1" in text
    assert "only in A (HEAD): animal/at/nall" in text and "only in B (workspace): animal/lwf/n25" in text
    assert next(r for r in rows if " l2tww " in r).split("  ")[-2].strip() == "different"


def test_records_parse_from_csv_and_json_and_reject_bad_values(tmp_path):
    _csv(tmp_path / "runs.csv", A)
    loaded = revisions.load_records("runs.csv", repo=tmp_path)
    assert loaded[0]["seed"] == 0 and loaded[0]["test_acc"] == 40.0 and loaded[-1]["n_per_class"] is None
    assert compare.compare(loaded, A).count(compare.IDENTICAL) == 5
    record = '[{"target": "t", "method": "m", "n_per_class": 5, "seed": 1, "test_acc": 9}]'
    assert revisions.parse_records(record, "x.json")[0]["test_acc"] == 9.0
    with pytest.raises(ValueError, match=r"runs.csv: row 3: .*test_acc='abc'"):
        revisions.parse_records("target,method,n_per_class,seed,test_acc\nt,m,5,0,1\nt,m,5,1,abc\n", "runs.csv")
    with pytest.raises(FileNotFoundError, match="per-seed results not found"):
        revisions.load_records("missing.csv", repo=tmp_path)


def _git(tmp_path):
    return ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


@pytest.mark.integration
def test_main_compare_reads_two_git_revisions_and_the_workspace(tmp_path):
    git = _git(tmp_path)
    subprocess.run([*git, "init", "-q"], check=True)
    results = tmp_path / "results" / "runs.csv"
    for rows, msg in ((A, "a"), (B, "b")):
        _csv(results, rows)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", msg], check=True)
    between, _ = compare.main_compare("HEAD~1", "HEAD", "results/runs.csv", repo=tmp_path)
    assert "B = HEAD vs A = HEAD~1" in between and "[+2.88, +4.12]" in between
    _csv(results, A)  # uncommitted: the workspace undoes the last commit
    undo, _ = compare.main_compare("HEAD", None, "results/runs.csv", repo=tmp_path)
    assert "B = workspace vs A = HEAD" in undo and "[-4.12, -2.88]" in undo
    with pytest.raises(FileNotFoundError, match="HEAD~1:results/other.csv"):
        compare.main_compare("HEAD~1", "HEAD", "results/other.csv", repo=tmp_path)


@pytest.mark.integration
def test_the_cli_compares_the_summary_runs_file_of_two_revisions(tmp_path, monkeypatch, capsys):
    git = _git(tmp_path)
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_raw()))
    for rows, msg in ((A, "a"), (B, "b")):
        _csv(tmp_path / "results" / "summary" / "runs.csv", rows)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", msg], check=True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", "HEAD~1"]) == 0  # B defaults to the workspace, here equal to HEAD
    out = capsys.readouterr().out
    assert "[+2.88, +4.12]" in out and "equivalent: 90% CI within ±1 pt" in out
    assert cli.main(["compare", "HEAD~1", "--margin", "0.1"]) == 0
    assert "within ±0.1 pt" in capsys.readouterr().out
    assert cli.main(["compare", "HEAD~1", "--margin", "0"]) == 2
    assert "--margin 0: expected a positive number" in capsys.readouterr().err


def _claims(baseline: str, verdict_best: str, verdict_scratch: str = "supported") -> dict:
    row = {"n": 5, "mean": 2.0, "low": 0.5, "high": 3.5, "reason": "r"}
    return {
        "l2tww_vs_scratch@n5": {**row, "comparison": "l2tww − scratch on animal, N=5", "verdict": verdict_scratch},
        "l2tww_vs_best_baseline@n5": {
            **row,
            "comparison": f"l2tww − {baseline} on animal, N=5",
            "verdict": verdict_best,
        },
    }


def test_verdicts_pair_by_claim_id_even_when_val_picked_another_baseline():
    pairs = compare.pair_verdicts(_claims("lwf", "inconclusive"), _claims("fm", "inconclusive"))
    assert [p.same for p in pairs] == [True, True]  # the baseline's name differs, the claim does not
    flipped = compare.pair_verdicts(_claims("lwf", "inconclusive"), _claims("lwf", "supported"))
    assert [p.same for p in flipped] == [True, False]
    text = compare.format_verdicts(flipped, "HEAD", "/tmp/other")
    assert "verdicts: 1 of 2 the same" in text
    changed = next(line for line in text.splitlines() if line.startswith("CHANGED"))
    assert (
        "l2tww_vs_best_baseline@n5" in changed
        and "inconclusive +2.00 [+0.50, +3.50]" in changed
        and changed.endswith("supported +2.00 [+0.50, +3.50]")
    )
    reordered = dict(reversed(list(_claims("lwf", "supported").items())))  # position does not matter
    assert all(p.same for p in compare.pair_verdicts(_claims("lwf", "supported"), reordered))
    one_sided = compare.pair_verdicts({}, _claims("lwf", "supported"))
    assert not any(p.same for p in one_sided) and "absent" in compare.format_verdicts(one_sided)


def test_a_claims_table_of_the_old_format_matches_no_id():
    old = {"L2T-ww > scratch": {"l2tww − scratch on animal, N=5": {"verdict": "supported", "mean": 1.0}}}
    pairs = compare.pair_verdicts(old, _claims("lwf", "supported"))
    assert [p.id for p in pairs][0] == "L2T-ww > scratch: l2tww − scratch on animal, N=5"
    assert not any(p.same for p in pairs)


def test_a_directory_is_read_as_another_checkout_and_a_changed_verdict_fails_the_check(tmp_path, monkeypatch, capsys):
    for name, rows, verdict in (("here", A, "inconclusive"), ("there", B, "supported")):
        root = tmp_path / name
        _csv(root / "results" / "summary" / "runs.csv", rows)
        (root / "results" / "summary" / "metrics.json").write_text(json.dumps({"claims": _claims("lwf", verdict)}))
        (root / "params.yaml").write_text(yaml.safe_dump(tiny_raw()))
    monkeypatch.chdir(tmp_path / "here")
    assert cli.main(["compare", str(tmp_path / "here"), str(tmp_path / "there")]) == 0
    out = capsys.readouterr().out
    assert "[+2.88, +4.12]" in out and "verdicts: 1 of 2 the same" in out
    assert cli.main(["compare", str(tmp_path / "here"), str(tmp_path / "there"), "--same-verdicts"]) == 1
    assert cli.main(["compare", str(tmp_path / "here"), str(tmp_path / "here"), "--same-verdicts"]) == 0
    assert "identical 5, equivalent 0, different 0, can't tell 0" in capsys.readouterr().out
    (tmp_path / "there" / "results" / "summary" / "metrics.json").unlink()  # nothing to check is no pass
    assert cli.main(["compare", str(tmp_path / "here"), str(tmp_path / "there"), "--same-verdicts"]) == 1
    assert "has no claims table on both sides" in capsys.readouterr().err
