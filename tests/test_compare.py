"""Comparing two result sets paired by (target, method, n, seed), from lists, from files and from git
revisions. Fixture: B - A per seed is 3,4,3,4,3.5 for l2tww N=5 (CI [2.88, 4.12], t_{.975,4} = 2.776:
beyond noise) and 1.5,-.5,1,0,.5 for fm N=5
(mean 0.5, s = 0.7906, CI [-0.48, 1.48]: a shift within seed noise); scratch is unchanged."""

import csv
import subprocess

import pytest

from l2tww.results import compare

SCRATCH = [40.0, 42.0, 38.0, 41.0, 39.0]
FIELDS = ["target", "method", "n_per_class", "seed", "test_acc", "val_acc"]


def _runs(method, n, accs, target="animal"):
    return [
        {"target": target, "method": method, "n_per_class": n, "seed": s, "test_acc": a, "val_acc": 50.0}
        for s, a in enumerate(accs)
    ]


A = [*_runs("scratch", 5, SCRATCH), *_runs("l2tww", 5, SCRATCH), *_runs("fm", 5, SCRATCH), *_runs("at", "all", SCRATCH)]
B = [
    *_runs("scratch", 5, SCRATCH),
    *_runs("l2tww", 5, [a + d for a, d in zip(SCRATCH, [3, 4, 3, 4, 3.5])]),
    *_runs("fm", 5, [a + d for a, d in zip(SCRATCH, [1.5, -0.5, 1, 0, 0.5])]),
    *_runs("lwf", 25, SCRATCH),
]


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_changed_cells_are_paired_and_judged_against_seed_noise():
    cmp = compare.compare(A, B)
    assert cmp.unchanged == 1  # scratch
    assert cmp.only_a == [
        ("animal", "at", None)
    ]  # "all" and None both mean the full training set and cmp.only_b == [("animal", "lwf", 25)]
    by_method = {d.cell[1]: d for d in cmp.changed}
    l2t, fm = by_method["l2tww"], by_method["fm"]
    assert (l2t.mean_a, l2t.mean_b, l2t.paired.ci.mean) == (40.0, 43.5, 3.5)
    assert (l2t.paired.ci.low, l2t.paired.ci.high) == (pytest.approx(2.879, abs=1e-3), pytest.approx(4.121, abs=1e-3))
    assert l2t.beyond_noise and not fm.beyond_noise


def test_a_changed_seed_set_is_a_change_and_unpaired_seeds_are_counted():
    cmp = compare.compare(_runs("scratch", 5, SCRATCH[:3]), _runs("scratch", 5, SCRATCH))
    (d,) = cmp.changed
    assert (d.paired.ci.n, d.a_only, d.b_only) == (3, 0, 2)
    assert "(+2 B-only, 0 A-only seeds ignored)" in compare.format_comparison(cmp)


def test_format_is_an_aligned_table():
    text = compare.format_comparison(compare.compare(A, B), "HEAD", "workspace")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("target"))
    rows = [line for line in lines if line.startswith("animal")]
    col = header.index("B−A")
    assert all(r[col] in "+-" for r in rows)  # every diff starts under its header
    l2t = next(r for r in rows if " l2tww " in r)
    assert "+3.50" in l2t and "[+2.88, +4.12]" in l2t and l2t.endswith("yes")
    fm = next(r for r in rows if " fm " in r)
    assert "+0.50" in fm and "[-0.48, +1.48]" in fm and fm.endswith("no")
    assert (
        "unchanged cells: 1" in text
        and "only in A (HEAD): animal/at/nall" in text
        and "only in B (workspace): animal/lwf/n25" in text
    )


def test_records_parse_from_csv_and_json_and_reject_bad_values(tmp_path):
    _csv(tmp_path / "runs.csv", A)
    loaded = compare.load_records("runs.csv", repo=tmp_path)
    assert loaded[0]["seed"] == 0 and loaded[0]["test_acc"] == 40.0 and loaded[-1]["n_per_class"] is None
    assert compare.compare(loaded, A).unchanged == 4
    assert (
        compare.parse_records('[{"target": "t", "method": "m", "n_per_class": 5, "seed": 1, "test_acc": 9}]', "x.json")[
            0
        ]["test_acc"]
        == 9.0
    )
    with pytest.raises(ValueError, match=r"runs.csv: row 3: .*test_acc='abc'"):
        compare.parse_records("target,method,n_per_class,seed,test_acc\nt,m,5,0,1\nt,m,5,1,abc\n", "runs.csv")
    with pytest.raises(FileNotFoundError, match="per-seed results not found"):
        compare.load_records("missing.csv", repo=tmp_path)


def test_main_compare_reads_two_git_revisions_and_the_workspace(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
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


def test_the_cli_compares_the_summary_runs_file_of_two_revisions(tmp_path, monkeypatch, capsys):
    import yaml

    from l2tww import cli

    from .conftest import tiny_raw

    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_raw()))
    for rows, msg in ((A, "a"), (B, "b")):
        _csv(tmp_path / "results" / "summary" / "runs.csv", rows)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", msg], check=True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", "HEAD~1"]) == 0  # B defaults to the workspace, here equal to HEAD
    assert "[+2.88, +4.12]" in capsys.readouterr().out


def _claims(baseline: str, verdict_best: str, verdict_scratch: str = "supported") -> dict:
    row = {"seeds": 5, "mean": 2.0, "low": 0.5, "high": 3.5, "reason": "r"}
    return {
        "L2T-ww > scratch": {"l2tww − scratch on animal, N=5": {**row, "verdict": verdict_scratch}},
        "L2T-ww > the best baseline": {f"l2tww − {baseline} on animal, N=5": {**row, "verdict": verdict_best}},
    }


def test_verdicts_pair_by_claim_and_position_even_when_val_picked_another_baseline():
    pairs = compare.pair_verdicts(_claims("lwf", "inconclusive"), _claims("fm", "inconclusive"))
    assert [p.same for p in pairs] == [True, True]  # the baseline's name differs, the verdict does not
    flipped = compare.pair_verdicts(_claims("lwf", "inconclusive"), _claims("lwf", "supported"))
    assert [p.same for p in flipped] == [True, False]
    text = compare.format_verdicts(flipped, "HEAD", "/tmp/other")
    assert "verdicts: 1 of 2 the same" in text
    changed = next(line for line in text.splitlines() if line.startswith("CHANGED"))
    assert (
        "L2T-ww > the best baseline" in changed
        and "inconclusive +2.00 [+0.50, +3.50]" in changed
        and changed.endswith("supported +2.00 [+0.50, +3.50]")
    )
    one_sided = compare.pair_verdicts({}, _claims("lwf", "supported"))
    assert not any(p.same for p in one_sided) and "absent" in compare.format_verdicts(one_sided)


def test_a_directory_is_read_as_another_checkout_and_a_changed_verdict_fails_the_check(tmp_path, monkeypatch, capsys):
    import json

    import yaml

    from l2tww import cli

    from .conftest import tiny_raw

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
    (tmp_path / "there" / "results" / "summary" / "metrics.json").unlink()  # nothing to check is no pass
    assert cli.main(["compare", str(tmp_path / "here"), str(tmp_path / "there"), "--same-verdicts"]) == 1
    assert "has no claims table on both sides" in capsys.readouterr().err
