"""The claims table from fixture records: each claim's pairing, its verdict branch, and the rendering.

Fixture (5 seeds, N = 5 and 25), per-seed differences chosen so every verdict is hand-checkable
(t_{.975,4} = 2.776):
- l2tww - scratch at N=5: 3,4,3,4,3.5 -> CI [2.88, 4.12], supported; at N=25: 1,-1,.5,-.5,0 -> inconclusive
- gain(N=5) - gain(N=25): 2,5,2.5,4.5,3.5 -> mean 3.5, s = 1.275, h = 1.58 > 1.5 -> supported, wide
- l2tww - lwf (lwf has the best val; fm has the better test): -2,-3,-1,-2,-2 -> contradicted
- multi-source - single: 4,-4,2,-2,0 -> h = 3.93, inconclusive, too wide
- fast - exact: .5,-.5,.3,-.3,0 -> [-0.51, 0.51], supported within +-1.5
- meta-nets: every run's entropy deficit max 0.05 (> 0.01, supported); every lambda halved (a uniform
  rescaling: spread 0 < 0.2, contradicted).
"""

import json

import pytest

from l2tww.results import claims, stats

SCRATCH5 = [40, 42, 38, 41, 39]
SCRATCH25 = [70, 71, 69, 72, 70]
L2T5 = [s + d for s, d in zip(SCRATCH5, [3, 4, 3, 4, 3.5])]
L2T25 = [s + d for s, d in zip(SCRATCH25, [1, -1, 0.5, -0.5, 0])]
HALVED = {"entropy_deficit": [0.05, 0.03], "lambda_init": [1.0, 0.5], "lambda_final": [0.5, 0.25]}


def _runs(target, method, n, accs, val=50.0, **extra):
    return [
        {"target": target, "method": method, "n_per_class": n, "seed": s, "test_acc": a, "val_acc": val, **extra}
        for s, a in enumerate(accs)
    ]


def records():
    lwf5 = [a + 2 for a in L2T5[:1]] + [L2T5[1] + 3, L2T5[2] + 1, L2T5[3] + 2, L2T5[4] + 2]
    return [
        *_runs("animal", "scratch", 5, SCRATCH5),
        {"target": "animal", "method": "scratch", "n_per_class": 5, "seed": 5, "test_acc": 45.0, "val_acc": 50.0},
        *_runs("animal", "scratch", 25, SCRATCH25),
        *_runs("animal", "l2tww", 5, L2T5, transfer=HALVED),
        *_runs("animal", "l2tww", 25, L2T25, transfer=HALVED),
        *_runs("animal", "lwf", 5, lwf5, val=60.0),
        *_runs("animal", "fm", 5, [a + 1 for a in lwf5], val=55.0),  # better on test, worse on val
        *_runs("animal_multi", "l2tww", 5, [a + d for a, d in zip(L2T5, [4, -4, 2, -2, 0])]),
        *_runs("animal", "l2tww_fast", 5, [a + d for a, d in zip(L2T5, [0.5, -0.5, 0.3, -0.3, 0])]),
        *_runs("animal_ft", "finetune", 5, [s + 10 for s in SCRATCH5]),  # +10 every seed: CI [10, 10]
    ]


SPEC = claims.ClaimsSpec(
    l2t=("animal", "l2tww"),
    scratch=("animal", "scratch"),
    baselines=(("animal", "lwf"), ("animal", "fm")),
    multi_source=("animal_multi", "l2tww"),
    single_sources=(("animal", "l2tww"), ("animal_mnist", "l2tww")),
    fast=("animal", "l2tww_fast"),
    exact=("animal", "l2tww"),
    reference=("animal_ft", "finetune"),
)


def _by_claim(rows):
    out = {}
    for r in rows:
        out.setdefault(r.claim, []).append(r)
    return out


def test_every_claim_gets_its_hand_computed_verdict():
    rows = _by_claim(claims.claims_table(records(), SPEC))
    (ref,) = rows["the source transfers at all (reference > scratch)"]  # another target, paired by seed
    assert (ref.verdict, ref.seeds, ref.mean, ref.comparison) == (
        stats.SUPPORTED,
        5,
        pytest.approx(10),
        "finetune on animal_ft − scratch on animal, N=5",
    )
    n5, n25 = rows["L2T-ww > scratch"]
    assert (n5.verdict, n5.seeds, n5.mean) == (stats.SUPPORTED, 5, pytest.approx(3.5))
    assert (n5.low, n5.high) == (pytest.approx(2.879, abs=1e-3), pytest.approx(4.121, abs=1e-3))
    assert "unpaired seeds ignored: 0 + 1" in n5.reason  # scratch's seed 5 has no L2T partner
    assert n25.verdict == stats.INCONCLUSIVE and "N=25" in n25.comparison
    (gain,) = rows["the gain over scratch grows as N shrinks"]
    assert (gain.verdict, gain.mean) == (stats.SUPPORTED, pytest.approx(3.5)) and "decided anyway" in gain.reason
    (multi,) = rows["multi-source ≥ the best single source"]
    assert (
        multi.verdict == stats.INCONCLUSIVE
        and "too wide to decide" in multi.reason
        and "animal_mnist" not in multi.comparison
    )
    (fast,) = rows["fast mode ≈ exact mode (±1.5 pt)"]
    assert fast.verdict == stats.SUPPORTED


def test_best_baseline_is_chosen_on_validation_and_can_contradict():
    (best,) = _by_claim(claims.claims_table(records(), SPEC))["L2T-ww > the best baseline"]
    assert best.comparison == "l2tww − lwf on animal, N=5"  # fm wins on test, lwf on val
    assert "lwf on animal is the best baseline on val (60.00)" in best.reason
    assert (best.verdict, best.mean) == (stats.CONTRADICTED, pytest.approx(-2.0))


def test_meta_claims_separate_a_uniform_rescaling_from_selection():
    rows = _by_claim(claims.claims_table(records(), SPEC))
    (nonuniform,) = rows["learned channel weights are non-uniform"]
    (selective,) = rows["pair weights are selective"]
    assert (nonuniform.verdict, nonuniform.seeds, nonuniform.mean) == (stats.SUPPORTED, 10, pytest.approx(0.05))
    assert (selective.verdict, selective.mean) == (stats.CONTRADICTED, 0.0)
    assert "10/10 runs moved" in selective.reason  # halving lambda is a 50% change from init


def test_meta_movement_by_hand():
    # relative changes -0.5, -1.0, +0.2: spread 1.2, largest 1.0; one dead pair
    m = claims.meta_movement(
        {"entropy_deficit": [0.001, 0.004], "lambda_init": [1.0, 0.5, 2.0], "lambda_final": [0.5, 0.0, 2.4]}
    )
    assert m == {
        "max_entropy_deficit": 0.004,
        "lambda_spread": pytest.approx(1.2),
        "max_lambda_change": 1.0,
        "dead_lambda": 1,
    }
    still = {"entropy_deficit": [0.005], "lambda_init": [1.0, 1.0], "lambda_final": [1.1, 1.05]}
    assert not claims.meta_moved(still)
    assert claims.meta_moved({**still, "entropy_deficit": [0.02]})


def test_absent_arms_give_not_run_rows_and_unnamed_roles_give_none():
    spec = claims.ClaimsSpec(
        l2t=("animal", "l2tww"),
        scratch=("animal", "scratch"),
        fast=("animal", "l2tww_fast"),
        exact=("animal", "l2tww_exact"),
    )
    rows = _by_claim(claims.claims_table(records(), spec))
    (fast,) = rows["fast mode ≈ exact mode (±1.5 pt)"]
    assert fast.verdict == claims.NOT_RUN and "l2tww_exact on animal" in fast.reason
    assert "L2T-ww > the best baseline" not in rows and "multi-source ≥ the best single source" not in rows


def test_records_without_transfer_stats_say_so():
    plain = [{k: v for k, v in r.items() if k != "transfer"} for r in records()]
    rows = _by_claim(claims.claims_table(plain, SPEC))
    assert rows["pair weights are selective"][0].verdict == claims.NOT_RUN
    assert "no transfer stats" in rows["pair weights are selective"][0].reason


def test_bad_records_fail_with_one_line_naming_the_cell():
    dup = records() + [records()[0]]
    with pytest.raises(ValueError, match="two records for animal/scratch/n5 seed 0"):
        claims.claims_table(dup, SPEC)
    no_val = [{**r, "val_acc": None} if r["method"] == "lwf" else r for r in records()]
    with pytest.raises(ValueError, match="method=lwf n_per_class=5: val_acc missing"):
        claims.claims_table(no_val, SPEC)


def test_renders_markdown_and_json():
    rows = claims.claims_table(records(), SPEC)
    md = claims.to_markdown(rows).splitlines()
    assert md[0].startswith("| Claim |") and len(md) == 2 + len(rows) == 2 + 9
    assert all(line.count("|") == 8 for line in md)  # no cell text breaks the table
    assert any("**contradicted**" in line and "[-2.88, -1.12]" in line for line in md)
    data = claims.to_json(rows)
    assert json.loads(json.dumps(data)) == data
    row = data["L2T-ww > scratch"]["l2tww − scratch on animal, N=5"]
    assert {k: row[k] for k in ("seeds", "mean", "low", "high", "verdict")} == {
        "seeds": 5,
        "mean": 3.5,
        "low": 2.8792,
        "high": 4.1208,
        "verdict": "supported",
    }
    assert sum(len(v) for v in data.values()) == len(rows)  # no two rows share a key
