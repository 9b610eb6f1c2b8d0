"""The report stage on a small fixture results/ tree: papermill runs, every section is rendered.

The fixture runs are fake in their numbers but real in structure: metrics.json / history.json /
transfer.json as training writes them, and model.pt files of the real model and
method classes (random weights), so the saliency and channel-weight sections execute for real.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
from html import unescape

import pytest
import torch

from l2tww import config
from l2tww.io import save_torch, write_json
from l2tww.methods import build_method
from l2tww.models import build_model, net_shapes
from l2tww.report import paper_numbers as paper
from l2tww.report import saliency
from l2tww.report.context import ReportContext
from l2tww.report.cost import write_cost
from l2tww.stages.inputs import source_inputs
from l2tww.stages.reporting import make_report, report_context
from l2tww.stages.split import make_split
from l2tww.training.sources import load_source

from .conftest import tiny_in

SECTIONS = [
    "Table 1",
    "Meta-net diagnostics (not claims)",
    "Which classes gain from transfer",
    "Low-data regime",
    "Multi-source transfer",
    "Where to transfer",
    "What to transfer",
    "Saliency maps",
    "Learning curves",
]
EPOCHS = 4


def _report_params(tiny: config.Params) -> config.Params:
    raw = copy.deepcopy(tiny.data)
    raw["sources"]["digits2"] = {**raw["sources"]["digits"], "arch": {"name": "cifar_resnet", "depth": 8, "width": 2}}
    raw["methods"].update(
        {
            "fm_one_to_one": {"kind": "fm", "label": "FM (one-to-one)", "pairs": "one_to_one", "beta": 0.5},
            "l2tw_one_to_one": {"kind": "l2t", "label": "L2T-w (one-to-one)", "pairs": "one_to_one", "where": False},
            "l2tww": {"kind": "l2t", "label": "L2T-ww", "pairs": "all_to_all"},
            "l2tww_frozen": {"kind": "l2t", "label": "L2T-ww, frozen meta-nets", "pairs": "all_to_all", "frozen": True},
        }
    )
    animal = raw["targets"]["animal"]
    animal["pairs"] = {
        "single": [[2, 1]],
        "one_to_one": [[0, 0], [2, 1]],
        "all_to_all": {"source": [0, 2], "target": [0, 1, 2]},
    }
    animal["runs"] = [
        {
            "methods": ["scratch", "fm_one_to_one", "l2tw_one_to_one", "l2tww", "l2tww_frozen"],
            "n_per_class": [5],
            "seeds": [0, 1],
        },
        {"methods": ["scratch", "l2tww"], "n_per_class": [3], "seeds": [0, 1]},
    ]
    raw["targets"]["animal_multi"] = {
        **copy.deepcopy(animal),
        "sources": ["digits", "digits2"],
        "pairs": {"all_to_all": animal["pairs"]["all_to_all"]},
        "runs": [{"methods": ["l2tww"], "n_per_class": [5], "seeds": [0]}],
    }
    raw["claims"] = {
        "l2tww": ["animal", "l2tww"],
        "scratch": ["animal", "scratch"],
        "frozen": ["animal", "l2tww_frozen"],
        "what": ["animal", "l2tw_one_to_one"],
        "what_control": ["animal", "fm_one_to_one"],
        "baselines": [["animal", "fm_one_to_one"], ["animal", "l2tw_one_to_one"]],
        "multi_source": ["animal_multi", "l2tww"],
        "single_sources": [["animal", "l2tww"]],
        "plan": {
            "gates": [{"name": "attribution", "test": "decide", "rows": ["learning_helps@n5", "learned_what@n5"]}],
            "rows": {
                "learning_helps@n5": {"effect": 1.5, "margin": 1.0},
                "learned_what@n5": {"effect": 1.5, "margin": 1.0},
            },
        },
    }
    return config.from_mapping(raw, origin="fixture")


def _fake_run(params: config.Params, run: config.Run, rng: random.Random) -> None:
    """One run folder as stages.train.train_run leaves it, with fabricated numbers."""
    layout = params.layout
    tcfg = params["targets"][run.target]
    spec = params.method_spec(run.target, run.method)
    torch.manual_seed(run.seed)
    target = build_model(tcfg["arch"], 10, 1)
    sources = (
        []
        if spec.kind == "scratch"
        else [load_source(source_inputs(params, s), torch.device("cpu")) for s in tcfg["sources"]]
    )
    method = build_method(spec, net_shapes(target, sources, (1, 32, 32)))
    frozen = spec.hparams.get("frozen", False)
    if spec.kind == "l2t" and method.meta.what is not None and not frozen:  # off uniform, as training would
        for layer in method.meta.what:
            torch.nn.init.normal_(layer.weight, std=0.5)
    out = layout.run_dir(run.relpath)
    history, transfer = (
        [],
        {"pairs": [p.key for p in spec.pairs], "epochs": [], "lambda": [], "entropy": [], "entropy_deficit": []},
    )
    for e in range(EPOCHS):
        row = {
            "epoch": e,
            "lr": 0.05,
            "train_loss": 2.3 - 0.2 * e,
            "val_acc": 20 + 10 * e + rng.random(),
            "val_loss": 2.0,
            "test_acc": None,
        }
        if spec.kind == "l2t":
            move = 0 if frozen else e  # the frozen control's meta-nets stay at their init
            entropy = [math.log(8) - 0.01 * move for _ in spec.pairs]
            row["transfer"] = {
                "lambda": [1.0 + 0.1 * move * (i % 3) * (1 + run.seed) for i in range(len(spec.pairs))],
                "entropy": entropy,
                "entropy_deficit": [1 - h / math.log(8) for h in entropy],
            }
            for key in ("lambda", "entropy", "entropy_deficit"):
                transfer[key].append(row["transfer"][key])
            transfer["epochs"].append(e)
        history.append(row)
    best = EPOCHS - 1
    history[best]["test_acc"] = 30 + 10 * rng.random()
    confusion = [[rng.randint(0, 5) for _ in range(10)] for _ in range(10)]  # rows: true class
    metrics = {
        "run_id": run.run_id,
        "target": run.target,
        "method": run.method,
        "label": params.label(run.method),
        "kind": spec.kind,
        "n_per_class": run.n_per_class,
        "seed": run.seed,
        "dataset": tcfg["dataset"],
        "sources": tcfg["sources"],
        "pairs": [p.key for p in spec.pairs],
        "hparams": spec.hparams,
        "test_acc": history[best]["test_acc"],
        "val_acc": history[best]["val_acc"],
        "best_epoch": best,
        "selection": "fixture",
        "last_epoch": best,
        "last_val_acc": history[best]["val_acc"],
        "epochs": EPOCHS,
        "student_params": 10,
        "meta_params": 5,
        "images": {"train": 10 * (run.n_per_class or 100), "val": 100, "test": 200},
        "test_class_acc": [100 * row[c] / max(1, sum(row)) for c, row in enumerate(confusion)],
        "test_confusion": confusion,
        "execution": {
            "torch": torch.__version__,
            "python": "3",
            "device": "cpu",
            "device_name": "fixture",
            "precision": "fp32",
            "deterministic": False,
        },
    }
    write_json(
        out / "timing.json",
        {
            "time_per_epoch_s": 0.1 + rng.random(),
            "train_time_s": 1.0,
            "epoch_times_s": [0.1] * EPOCHS,
            "peak_memory_mb": 500 + 100 * rng.random(),
            "machine": {"git_sha": "fixture", "device": "cpu", "threads": 1},
        },
    )
    save_torch(out / "model.pt", {"target": target.state_dict(), "method": method.state_dict(), "best_epoch": best})
    write_json(out / "history.json", history)
    if spec.kind == "l2t":
        transfer["initial"] = {"lambda": [1.0 for _ in spec.pairs], "entropy_deficit": [0.0 for _ in spec.pairs]}
        write_json(out / "transfer.json", transfer)
    write_json(out / "metrics.json", metrics)


@pytest.fixture(scope="module")
def fixture_results(tmp_path_factory, prepared_root) -> config.Params:
    """Built once for the module: its tests only read the runs (each renders or summarizes into
    a folder no other test reads)."""
    params = _report_params(tiny_in(tmp_path_factory.mktemp("report"), prepared_root))
    layout = params.layout
    for name, src in params["sources"].items():  # random-weight sources, saved as pretrain would
        model = build_model(src["arch"], 10, 1)
        save_torch(layout.source_dir(name) / "model.pt", {"target": model.state_dict()})
    make_split(params, "animal_mnist")
    for dataset, n, seed in params.splits_needed():
        if dataset == "animal_mnist":
            make_split(params, dataset, n, seed)
    rng = random.Random(0)
    for run in params.runs():
        _fake_run(params, run, rng)
    return params


@pytest.mark.integration
def test_report_renders_every_section(fixture_results, tmp_path):
    out = make_report(fixture_results, tmp_path / "reports")
    html = (out / "l2tww-report.html").read_text()
    for section in SECTIONS:
        assert section in html, section
    assert "Traceback" not in html and "Skipped" not in html
    assert "No paper numbers apply" in html  # animal_mnist is not a paper dataset
    assert "def save(" not in html  # code hidden
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {
        "saliency.png",
        "lowdata-animal.png",
        "where-animal-l2tww.png",
        "where-animal_multi-l2tww.png",
        "what-animal-l2tww.png",
        "curves-animal.png",
        "forest.png",  # every claim at a glance, at the top of the report
    } <= figures
    assert html.index("Every claim at a glance") < html.index("Table 1: every target")
    assert (out / "cost" / "cost-animal.png").exists() and "s / epoch" in (out / "cost" / "cost.md").read_text()
    assert (out / "plots" / "lowdata" / "animal-l2tww.csv").read_text().startswith("n_per_class,test_acc_mean")
    assert (out / "plots" / "learning_curves" / "animal-n5-l2tww.csv").exists()
    summary = (out / "summary.md").read_text()
    assert (
        "## Table 1" in summary and "## Low-data" in summary and "## Multi-source" in summary and "## Cost" in summary
    )
    # the claims table renders in both, one row per claim and N, each with a verdict
    assert "## The paper's claims" in summary and "The paper's claims, tested" in html
    for claim in (
        "l2tww_vs_scratch@n5",
        "l2tww_vs_scratch@n3",
        "learning_helps@n5",
        "learned_what@n5",
        "l2tww_vs_best_baseline@n5",
        "gain_grows",
        "multi_source@n5",
        "meta_moved_frozen@n5",
        "pair_agreement_l2tww@n5",
        "check of the control: ok",
    ):
        assert claim in summary and claim in unescape(html), claim
    # the plan's gate decides its rows, the others are descriptive; the plan line says it is not committed
    assert "| attribution |" in summary and "**descriptive**" in summary and "p (sign-flip)" in summary
    assert "not committed yet: it cannot be shown to precede the runs" in summary
    # per-class gains over scratch: L2T-ww, the best baseline on val and the frozen control, by class name
    assert "## Which classes gain from transfer" in summary and "animal0" in summary
    assert "frozen control − scratch (n=2)" in summary and "best baseline on val" in summary
    assert "Did the meta-networks learn?" in html
    assert "animal_multi" in summary
    # 2 seeds per cell: no interval and no ▲/▼ (two agreeing seeds give a zero-width one), said so
    table1 = summary.split("## Table 1")[1].split("\n## ")[0]
    assert "| 2 |" in table1 and not re.search(r"\d ± \d", table1) and "n too small for an interval" in summary
    per_class = summary.split("## Which classes gain from transfer")[1].split("\n## ")[0]
    assert not [row for row in per_class.splitlines() if row.startswith("|") and re.search("[▲▼]", row)]
    # every table renders: no raw markdown table row is left as text in the HTML (a `|` in a header did)
    text = unescape(re.sub(r"<[^>]+>", "", html))
    assert not re.search(r"^\s*\|.*\|\s*$", text, re.M), re.findall(r"^\s*\|.*\|\s*$", text, re.M)[:3]
    assert f"runs under `{fixture_results.layout.results}`" in summary
    # the pages link each other and the figures by paths relative to themselves (names: config/layout.py)
    assert "[l2tww-report.html](l2tww-report.html)" in summary and "[cost/cost.md](cost/cost.md)" in summary
    assert "- [forest](figures/forest.png)" in summary and 'href="cost/cost.md"' in html
    assert "![animal](cost-animal.png)" in (out / "cost" / "cost.md").read_text()
    assert not list(out.glob(".render-*"))  # the temp folder is gone


@pytest.mark.integration
def test_a_second_render_writes_the_same_bytes_except_the_timings(fixture_results, tmp_path):
    """The report is a DVC-hashed artifact: papermill metadata, figure metadata or temp names that
    leaked into it would change dvc.lock at every rerun. Only cost/ (timings) may differ."""

    def digest(folder):
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.parts[len(folder.parts)] != "cost"
        }

    first = digest(make_report(fixture_results, tmp_path / "a"))
    second = digest(make_report(fixture_results, tmp_path / "b"))
    assert first == second and "l2tww-report.html" in first


def test_the_cost_page_drops_the_figures_it_no_longer_draws_and_keeps_other_files(tmp_path):
    """Only a target with two timed methods gets a cost figure: one drawn by a previous render goes
    (the figures' name pattern comes from config/layout.py), another file in the folder stays."""
    files = config.Layout.report_outputs(tmp_path)
    target = {"dataset": "d", "arch": "a", "methods": ["scratch"], "primary_n": 5}
    ctx = ReportContext(origin="p", targets={"t": target}, methods={"scratch": {"kind": "scratch"}}, runs=[], claims=[])
    files["cost"].parent.mkdir(parents=True)
    for name in ("cost-t.png", "cost-gone.png", "notes.png"):
        (files["cost"].parent / name).write_bytes(b"x")
    assert write_cost(ctx, files["cost"], files["cost_figures"]) == files["cost"]
    assert sorted(p.name for p in files["cost"].parent.iterdir()) == ["cost.md", "notes.png"]
    assert "![" not in files["cost"].read_text()


def test_saliency_fm_loss_is_the_fm_method_loss(fixture_results):
    """The saliency's L_wfm with w = 1/C and lambda = 1 is exactly FM's training loss (spec §3)."""
    ctx = report_context(fixture_results)
    fm, l2t_w = saliency.choose_runs(ctx.methods, ctx.runs)
    assert (fm["method"], l2t_w["method"], fm["seed"]) == ("fm_one_to_one", "l2tw_one_to_one", l2t_w["seed"])
    trained = saliency.load_trained(fm)
    x, y, names = saliency.sample_images(fm, 3)
    assert x.shape == (3, 1, 32, 32) and len(set(y.tolist())) == 3 and len(names) == 3
    with torch.no_grad():
        out = trained.target(x)
        src = [s(x) for s in trained.sources]
        expected = trained.method.extra_loss(x, out, src)["fm"]
        from l2tww.methods.matching import pair_distances
        from l2tww.methods.meta_nets import weighted_matching_loss

        distances = pair_distances(
            trained.method.spec.pairs, trained.method.regressors, out.features, [s.features for s in src]
        )
        got = weighted_matching_loss(
            distances,
            saliency.weights_and_lambdas(trained.method, [s.features for s in src]),
            None,
            trained.method.beta,
        )
    torch.testing.assert_close(got, expected)
    sal = saliency.wfm_saliency(trained, x)
    assert sal.shape == (3, 32, 32) and torch.allclose(sal.flatten(1).amax(1), torch.ones(3))


def test_paper_numbers_map_by_kind_and_mark():
    l2tww = {"kind": "l2t", "pairs": "all_to_all"}
    assert paper.table1_number("cub200", l2tww).value == 65.05 and paper.table1_number("cub200", l2tww).mark == "V"
    assert paper.table1_number("cifar100", l2tww).mark == "R"
    assert (
        paper.table1_number("cub200", {"kind": "l2t", "pairs": "all_to_all", "where": False}) is None
    )  # L2T-w: not recalled
    assert paper.table1_number("cub200", {"kind": "fm", "pairs": "single"}) is None
    assert paper.lowdata_number("cifar10", l2tww, 50).text() == "64.91 [V]"
    # another experiment on the same dataset (multi-source, another source) is never compared
    assert paper.table1_number("stl10", l2tww, ["tinyimagenet"]).value == 78.31
    assert paper.table1_number("stl10", l2tww, ["tinyimagenet", "cifar10"]) is None
    assert paper.table1_number("stl10", l2tww, ["cifar10"]) is None
    assert not paper.has_paper_numbers(["animal_mnist"])


def test_summary_metrics_nest_claims_and_diagnostics_by_id_and_repeat_byte_for_byte(fixture_results):
    from l2tww.stages.summarize import summarize

    out = summarize(fixture_results)
    first = (out / "metrics.json").read_bytes()
    metrics = json.loads(first)
    assert metrics["claims"]["learning_helps@n5"]["gate"] == "attribution"
    assert metrics["claims"]["gain_grows"]["verdict"] == "descriptive"
    assert len(metrics["plan"]["hash"]) == 16 and metrics["plan"]["status"] == "confirmation"
    assert metrics["diagnostics"]["meta_moved_frozen@n5"]["reading"].startswith("check of the control: ok")
    assert "verdict" not in metrics["diagnostics"]["pair_agreement_l2tww@n5"]
    assert metrics["animal"]["l2tww"]["n5"]["seeds"] == 2  # the means, nested as before
    assert summarize(fixture_results) and (out / "metrics.json").read_bytes() == first
