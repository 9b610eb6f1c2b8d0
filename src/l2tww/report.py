"""`l2tww report`: render the papermill report (HTML, code hidden) and a markdown summary.

    l2tww --params params.yaml report --out reports

reports/*.py are jupytext percent notebooks with a cell tagged `parameters`. Each is converted to
.ipynb, executed by papermill in a python3 kernel that runs *this* interpreter (the venv's), and
exported with `nbconvert --no-input`-equivalent settings to a self-contained HTML (figures inlined
as base64). Everything is written atomically: a killed report leaves the previous files.

The tables are built here (pure Python, no torch, no pandas) so the notebook and the markdown
summary print the same numbers. Every accuracy is the test top-1 at each run's best-val epoch,
mean ± sample std over seeds, with n seeds stated.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import paper
from .config import Params
from .io import read_json, write_text
from .paths import Layout

TEMPLATES = Path(__file__).resolve().parents[2] / "reports"
# Executed in this order and joined into one HTML page: the results (tables, curves, cost), then
# the learned transfer (where, what, saliency). Two files keep each template short.
NOTEBOOKS = ["l2tww_report.py", "l2tww_transfer.py"]
HTML_NAME = "l2tww-report.html"


# -- loading -------------------------------------------------------------------------------------
def load_runs(params: Params) -> list[dict]:
    """metrics.json of every run of the matrix (+ its folder), in params order."""
    layout = Layout.of(params)
    runs = []
    for run in params.runs():
        folder = layout.run_dir(run.relpath)
        runs.append({**read_json(folder / "metrics.json", f"metrics of {run.run_id}"), "dir": str(folder)})
    return runs


def group(runs: list[dict]) -> dict[tuple, list[dict]]:
    """(target, method, N) -> the runs over seeds, in first-seen order."""
    out: dict[tuple, list[dict]] = {}
    for r in runs:
        out.setdefault((r["target"], r["method"], r["n_per_class"]), []).append(r)
    return out


def n_text(n) -> str:
    return "all" if n is None else str(n)


def _n_key(n) -> float:
    return math.inf if n is None else n


def methods_of(params: Params, target: str) -> list[str]:
    """A target's methods in the order its run blocks list them (the params mapping's own key
    order is lost: validation round-trips it through a sorted YAML dump)."""
    return list(dict.fromkeys(m for block in params["targets"][target]["runs"] for m in block["methods"]))


def primary_n(params: Params, target: str) -> int | None:
    """The N at which a target runs the most methods (ties: the largest N): its Table-1 column."""
    count: dict = {}
    for block in params["targets"][target]["runs"]:
        for n in block["n_per_class"]:
            count.setdefault(n, set()).update(block["methods"])
    return max(count, key=lambda n: (len(count[n]), _n_key(n)))


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def acc_text(members: list[dict], key: str = "test_acc") -> str:
    m, s = mean_std([r[key] for r in members])
    return f"{m:.2f} ± {s:.2f}"


def epochs_text(members: list[dict]) -> str:
    return ", ".join(str(r["best_epoch"]) for r in members)


def builder(params: Params, target: str) -> str:
    return params["datasets"][params["targets"][target]["dataset"]]["builder"]


# -- tables ------------------------------------------------------------------------------------------
def table1(params: Params, runs: list[dict]) -> list[list[str]]:
    """Every target x method at the target's primary N, with the paper's number and the delta."""
    groups = group(runs)
    rows = []
    for target in params["targets"]:
        n = primary_n(params, target)
        for method in methods_of(params, target):
            members = groups.get((target, method, n))
            if not members:
                continue
            ref = paper.table1_number(builder(params, target), params["methods"][method]) if n is None else None
            mean = mean_std([r["test_acc"] for r in members])[0]
            delta = f"{mean - ref.value:+.2f}" if ref else "–"
            rows.append([target, n_text(n), params.label(method), str(len(members)), acc_text(members), epochs_text(members), ref.text() if ref else "–", delta])
    return rows


TABLE1_HEADER = ["target", "N/class", "method", "seeds", "test top-1 % (mean ± std)", "best-val epoch per seed", "paper", "Δ vs paper"]


def lowdata(params: Params, runs: list[dict]) -> dict[str, dict[str, list[tuple]]]:
    """target -> method -> [(N, mean, std, seeds, paper number or None)], for methods run at > 1 N."""
    groups = group(runs)
    out: dict = {}
    for target in params["targets"]:
        for method in methods_of(params, target):
            points = [
                (n, *mean_std([r["test_acc"] for r in ms]), len(ms), paper.lowdata_number(builder(params, target), params["methods"][method], n))
                for (t, m, n), ms in groups.items() if (t, m) == (target, method)
            ]
            if len(points) > 1:
                out.setdefault(target, {})[method] = sorted(points, key=lambda p: _n_key(p[0]))
    return out


def lowdata_table(params: Params, curves: dict) -> tuple[list[str], list[list[str]]]:
    ns = sorted({p[0] for methods in curves.values() for points in methods.values() for p in points}, key=_n_key)
    header = ["target", "method"] + [f"N={n_text(n)}" for n in ns]
    rows = []
    for target, methods in curves.items():
        for method, points in methods.items():
            cell = {p[0]: f"{p[1]:.2f} ± {p[2]:.2f} (n={p[3]})" + (f"; paper {p[4].text()}" if p[4] else "") for p in points}
            rows.append([target, params.label(method)] + [cell.get(n, "–") for n in ns])
    return header, rows


def multisource(params: Params, runs: list[dict]) -> list[list[str]]:
    """Targets with > 1 source, beside single-source targets on the same data, arch, method and N."""
    groups = group(runs)
    targets = params["targets"]
    rows = []
    for name, t in targets.items():
        if len(t["sources"]) < 2:
            continue
        for (target, method, n), members in groups.items():
            if target != name:
                continue
            rows.append([name, " + ".join(t["sources"]), params.label(method), n_text(n), str(len(members)), acc_text(members)])
            for other, o in targets.items():
                same = o["dataset"] == t["dataset"] and o["arch"] == t["arch"] and set(o["sources"]) < set(t["sources"])
                if same and groups.get((other, method, n)):
                    ref = groups[(other, method, n)]
                    rows.append([other, " + ".join(o["sources"]), params.label(method), n_text(n), str(len(ref)), acc_text(ref)])
    return rows


MULTI_HEADER = ["target", "sources", "method", "N/class", "seeds", "test top-1 % (mean ± std)"]


def cost(params: Params, runs: list[dict]) -> list[list[str]]:
    """Time per epoch and peak memory per method, at each target's primary N; ratio to scratch."""
    groups = group(runs)
    rows = []
    for target in params["targets"]:
        n = primary_n(params, target)
        # scratch of this target, else of a target on the same data and architecture (multi-source)
        peers = [target] + [o for o, c in params["targets"].items() if (c["dataset"], c["arch"]) == (params["targets"][target]["dataset"], params["targets"][target]["arch"])]
        base = next((groups[(t, m, n)] for t in peers for m, cfg in params["methods"].items() if cfg["kind"] == "scratch" and (t, m, n) in groups), None)
        base_t = mean_std([r["time_per_epoch_s"] for r in base])[0] if base else None
        for method in methods_of(params, target):
            members = groups.get((target, method, n))
            if not members:
                continue
            t, s = mean_std([r["time_per_epoch_s"] for r in members])
            prov = members[0].get("provenance", {})
            ratio = f"{t / base_t:.1f}×" if base_t else "–"
            rows.append([target, n_text(n), params.label(method), str(len(members)), f"{t:.2f} ± {s:.2f}", ratio, f"{max(r['peak_memory_mb'] for r in members):.0f}", f"{members[0].get('student_params', 0):,} / {members[0].get('meta_params', 0):,}", f"{prov.get('device', '?')} ({prov.get('threads', '?')} threads)"])
    return rows


COST_HEADER = ["target", "N/class", "method", "seeds", "s / epoch (mean ± std)", "vs scratch", "peak memory MB (max)", "student / meta params", "device"]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- markdown summary -------------------------------------------------------------------------------------
def markdown_summary(params: Params, runs: list[dict], figures: list[str], html_name: str) -> str:
    from .train import SELECTION

    builders = sorted({builder(params, t) for t in params["targets"]})
    out = [
        "# L2T-ww reproduction: summary", "",
        f"Params: `{params.origin}`; {len(runs)} runs. Every accuracy: {SELECTION}; mean ± sample std over the seeds stated. "
        f"Full report with figures: [{html_name}]({html_name}).", "",
        "## Table 1", "", md_table(TABLE1_HEADER, table1(params, runs)), "",
    ]
    if not paper.has_paper_numbers(builders):
        out += [f"No paper numbers apply: the datasets ({', '.join(builders)}) are not in the paper (the embedded default is a miniature, not a reproduction).", ""]
    else:
        out += [f"{paper.TABLE1_CAPTION} [V] verified (the paper's abstract); [R] recalled, unverified. Paper numbers are compared only at N = all.", ""]
    curves = lowdata(params, runs)
    if curves:
        out += ["## Low-data", "", md_table(*lowdata_table(params, curves)), ""]
    multi = multisource(params, runs)
    if multi:
        out += ["## Multi-source", "", md_table(MULTI_HEADER, multi), ""]
    out += ["## Cost", "", md_table(COST_HEADER, cost(params, runs)), "",
            "Peak memory: CUDA max allocated on a GPU; on a CPU the process's max resident set size (data and Python included).", ""]
    if figures:
        out += ["## Figures", ""] + [f"- [{Path(f).stem}]({f})" for f in figures] + [""]
    return "\n".join(out)


# -- rendering ----------------------------------------------------------------------------------------------
@contextmanager
def _this_interpreter_on_path():
    """The venv's python3 kernelspec (shipped by ipykernel) launches `python`: put this
    interpreter's folder first on PATH so the kernel is the venv even when it is not activated.
    No kernel registration is needed."""
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


def _execute(template: Path, workdir: Path, parameters: dict) -> "object":
    import jupytext
    import nbformat
    import papermill

    nb = jupytext.read(template)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, done = workdir / f"{template.stem}.ipynb", workdir / f"{template.stem}.out.ipynb"
    nbformat.write(nb, src)
    with _this_interpreter_on_path():
        try:  # cwd: the caller's, so relative data_root / results_root resolve as for every other verb
            papermill.execute_notebook(str(src), str(done), parameters=parameters, kernel_name="python3", cwd=os.getcwd(), progress_bar=False, log_output=False)
        except papermill.PapermillExecutionError as exc:
            raise RuntimeError(f"report: {template.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
    return nbformat.read(done, as_version=4)


def _join(notebooks: list):
    """One notebook holding every executed notebook's cells, in order (one HTML page)."""
    joined = notebooks[0]
    for nb in notebooks[1:]:
        joined.cells.extend(nb.cells)
    return joined


def _html(nb) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def _publish(produced: Path, dest: Path) -> list[str]:
    """Move each new file into dest (one atomic rename each; same filesystem via a sibling temp
    folder) and drop files a previous render left there that this one did not make."""
    dest.mkdir(parents=True, exist_ok=True)
    names = {p.relative_to(produced) for p in produced.rglob("*") if p.is_file()}
    for old in [p for p in dest.rglob("*") if p.is_file() and p.relative_to(dest) not in names]:
        old.unlink()
    for name in sorted(names):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(produced / name, dest / name)
    return sorted(str(n) for n in names)


def render(params: Params, out_dir: str | Path, templates: Path = TEMPLATES) -> Path:
    """Execute every template; write out_dir/*.html, figures/*.png, plots/ (for dvc plots), summary.md."""
    out_dir = Path(out_dir).resolve()
    runs = load_runs(params)  # fail fast, with one line, before starting a kernel
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".render-", dir=out_dir) as tmp:
        work = Path(tmp)
        parameters = {"params_data": params.data, "params_origin": str(params.origin), "figures_dir": str(work / "figures"), "plots_dir": str(work / "plots")}
        executed = [_execute(templates / name, work, parameters) for name in NOTEBOOKS]
        page = _html(_join(executed))
        figures = [f"figures/{f}" for f in _publish(work / "figures", out_dir / "figures")]
        _publish(work / "plots", out_dir / "plots")
    write_text(out_dir / HTML_NAME, page)
    write_text(out_dir / "summary.md", markdown_summary(params, runs, figures, HTML_NAME))
    return out_dir
