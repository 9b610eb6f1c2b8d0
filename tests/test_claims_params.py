"""params.yaml's `claims:` section: roles and plan validated in one line each, and turned into the
library's ClaimsSpec by the summarize stage under the same role names."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from l2tww import cli, config
from l2tww.results.verdicts import Plan
from l2tww.stages.summarize import claims_spec

from .conftest import tiny_raw


def _raw(claims: dict) -> dict:
    raw = tiny_raw()
    raw["methods"].update(
        {
            "frozen": {"kind": "l2t", "pairs": "single", "frozen": True},
            "ft": {"kind": "finetune"},
            "fm_all": {"kind": "fm", "pairs": "all_to_all"},
        }
    )
    raw["targets"]["animal"]["pairs"]["all_to_all"] = {"source": [2], "target": [0, 1]}
    raw["targets"]["animal"]["runs"][0]["methods"] += ["frozen", "ft", "fm_all"]
    raw["claims"] = {"l2tww": ["animal", "fm_single"], "scratch": ["animal", "scratch"], **claims}
    return raw


CASES = [
    ({"frozen": ["animal", "l2tww_frozen"]}, ["claims.frozen", "[animal, l2tww_frozen] is not in the run matrix"]),
    ({"what_control": ["animal"]}, ["claims.what_control", "['animal']"]),
    ({"baselines": [["animal", "ft"]]}, ["claims.baselines[0]", "method 'ft' is a control or the reference"]),
    ({"baselines": [["animal", "fm_all"]]}, ["claims.baselines[0]", "'fm_all'", "expected one of the paper's"]),
    ({"baselines": [["animal", "frozen"]]}, ["claims.baselines[0]", "'frozen' is a control"]),
    ({"baselines": [["animal", "fm_single"]]}, ["claims.baselines[0]", "[animal, fm_single] is the l2tww arm"]),
    ({"plan": {"level": 0.7}}, ["claims.plan.level", "0.7"]),
    ({"plan": {"power": 1}}, ["claims.plan.power", "1"]),
    ({"plan": {"alpha": 0.05}}, ["claims.plan", "'alpha'"]),
    ({"plan": {"design_sd": {"learning_helps@5": 2.0}}}, ["claims.plan.design_sd", "'learning_helps@5'"]),
    ({"plan": {"design_sd": {"learning_helps@n5": 0}}}, ["claims.plan.design_sd.learning_helps@n5", "0"]),
    ({"frozn": ["animal", "frozen"]}, ["claims", "unknown key 'frozn'"]),
    ({"plan": {"margin": 0}}, ["claims.plan.margin", "0"]),
    (
        {"plan": {"gates": [{"name": "g", "test": "decide", "rows": ["gain_grows"]}]}},
        ["claims.plan.gates (g)", "claims.plan.rows"],
    ),
    (
        {
            "plan": {
                "gates": [
                    {"name": "a", "test": "decide", "rows": ["gain_grows"]},
                    {"name": "b", "rows": ["gain_grows"]},
                ],
                "rows": {"gain_grows": {"effect": 1, "margin": 1}},
            }
        },
        # two problems, each on its own line: check reports every problem at once (issue 31)
        ["claims.plan.gates[0] (a): a decide gate passes no level on", "\n", "row 'gain_grows' is already in an"],
    ),
    ({"plan": {"rows": {"gain_grows": {"effect": 1}}}}, ["claims.plan.rows.gain_grows", "'margin'"]),
    ({"plan": {"hash": "0123456789abcdef"}}, ["claims.plan.hash 0123456789abcdef is not the claims section's hash"]),
]


@pytest.mark.parametrize("claims,expected", CASES, ids=[str(c[0])[:40] for c in CASES])
def test_bad_claims_exit_2_with_one_line(tmp_path: Path, capsys, claims, expected):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_raw(claims)))
    assert cli.main(["--params", str(params), "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 + expected.count("\n"), err
    assert all(line.startswith("l2tww: error: ") for line in err.splitlines()), err
    for fragment in expected:
        assert fragment in err, (fragment, err)


def test_roles_and_plan_reach_the_spec_under_their_own_names():
    raw = _raw(
        {
            "frozen": ["animal", "frozen"],
            "fm_all_to_all": ["animal", "fm_all"],
            "reference": ["animal", "ft"],
            "baselines": [["animal", "scratch"]],
            "plan": {"margin": 2.0, "design_sd": {"learning_helps@n5": 1.7, "gain_grows": 3.0}},
        }
    )
    spec = claims_spec(config.from_mapping(raw))
    assert (spec.l2tww, spec.frozen, spec.fm_all_to_all, spec.reference) == (
        ("animal", "fm_single"),
        ("animal", "frozen"),
        ("animal", "fm_all"),
        ("animal", "ft"),
    )
    assert spec.baselines == (("animal", "scratch"),) and spec.what is None
    assert spec.plan == Plan(margin=2.0, design_sd={"learning_helps@n5": 1.7, "gain_grows": 3.0})
    defaults = claims_spec(config.from_mapping(_raw({})))
    assert defaults.plan == Plan()  # level 0.05, power 0.8, margin 1.0, no gates: every row descriptive
    no_claims = copy.deepcopy(raw)
    del no_claims["claims"]
    assert claims_spec(config.from_mapping(no_claims)) is None


def test_the_shipped_params_name_the_roles_the_code_uses():
    params = config.load(Path(__file__).resolve().parents[1] / "params.yaml")
    spec = claims_spec(params)
    assert spec.what == ("fashion", "l2tw_one_to_one") and spec.what_control == ("fashion", "fm_one_to_one")
    assert all(arm[1] not in ("finetune", "l2tww", "l2tww_fast") for arm in spec.baselines)


def test_a_new_plan_changes_the_summary_identity():
    from l2tww.stages.identity import summary_identity

    before = summary_identity(config.from_mapping(_raw({})))
    after = summary_identity(config.from_mapping(_raw({"plan": {"design_sd": {"gain_grows": 2.0}}})))
    assert before["claims"] != after["claims"] and before["code"] == after["code"]


def test_claims_of_unrun_arms_are_all_reported_with_their_fix(tmp_path: Path, capsys):
    """A preset trimmed to fewer methods: every claim of an unrun arm in one `check`, each naming the
    edit that fixes it (issue 31: the user met them one `check` at a time)."""
    raw = _raw({"frozen": ["animal", "nope1"], "baselines": [["animal", "nope2"], ["animal", "scratch"]]})
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    assert cli.main(["--params", str(params), "check"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    text = "\n".join(lines)
    assert "claims.frozen: [animal, nope1] is not in the run matrix; remove claims.frozen, or run nope1" in text
    assert "remove claims.baselines[0], or run nope2 on animal" in text
    assert all("claims.unrun: skip" in line for line in lines)


def test_claims_unrun_skip_leaves_out_the_unrun_arms_in_one_line():
    raw = _raw({"frozen": ["animal", "nope1"], "baselines": [["animal", "nope2"], ["animal", "scratch"]]})
    raw["claims"]["unrun"] = "skip"
    claims = config.from_mapping(raw)["claims"]
    assert claims == {"l2tww": ["animal", "fm_single"], "scratch": ["animal", "scratch"],
                      "baselines": [["animal", "scratch"]], "plan": claims["plan"]}  # fmt: skip
    raw["claims"]["l2tww"] = ["animal", "nope3"]  # no l2tww arm: no claim left to test, still valid
    assert "claims" not in config.from_mapping(raw).data
