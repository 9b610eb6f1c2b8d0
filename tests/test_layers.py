"""The house in layers (issue 20), kept by tests rather than by habit:

- only the stages layer, the config package and the CLI know `Params` and `Layout` (the library
  below takes plain values);
- no import circle between the package's modules;
- no two modules share a name, no two public classes share a name (near-twins mislead readers);
- the general statistics (statistics/) import nothing else of the package;
- N per class and a result's cell are spelled in one place (results/cells.py).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from l2tww.stages.codehash import PACKAGE, ROOT, _imports

MODULES = sorted(
    f"{PACKAGE}." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in ROOT.rglob("*.py")
)


def _files():
    return sorted(ROOT.rglob("*.py"))


def test_only_the_stages_the_config_and_the_cli_read_params_and_layout():
    allowed = ("config/", "stages/", "cli.py")
    readers = [str(p.relative_to(ROOT)) for p in _files() if re.search(r"\b(Params|Layout)\b", p.read_text())]
    assert [r for r in readers if not r.startswith(allowed)] == []


def test_no_import_circle():
    """A module's imports of its own parent packages (which `import a.b.c` runs) are not circles."""
    graph = {m: {i for i in _imports(m) if not m.startswith(i + ".") and i != m} for m in MODULES}
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(n) :] + [n]))
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in MODULES:
        if m not in state:
            visit(m, [m])


def test_no_two_modules_and_no_two_public_classes_share_a_name():
    modules, classes = defaultdict(list), defaultdict(list)
    for p in _files():
        name = p.parent.name if p.name == "__init__.py" else p.stem
        modules[name].append(str(p.relative_to(ROOT)))
        for node in ast.parse(p.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                classes[node.name].append(str(p.relative_to(ROOT)))
    modules.pop(PACKAGE, None)
    assert {k: v for k, v in modules.items() if len(v) > 1} == {}
    assert {k: v for k, v in classes.items() if len(v) > 1} == {}


def test_the_general_statistics_import_no_other_l2tww_module():
    """statistics/ names no claim of the paper: nothing of results/ (claims, verdicts, cells) or
    above reaches it, so its functions stay general and testable alone."""
    package = f"{PACKAGE}.statistics"
    statistics = [m for m in MODULES if m == package or m.startswith(package + ".")]
    assert len(statistics) >= 5
    outside = {
        m: sorted(i for i in _imports(m) if not (i == package or i.startswith(package + "."))) for m in statistics
    }
    assert {m: i for m, i in outside.items() if i} == {}


def test_n_and_the_cell_key_have_one_definition():
    spellings = {
        "the N tag": r"\"nall\"|f\"n\{",
        "N as text": r"\"all\" if .* is None",
        "grouping by (target, method, N)": (
            r"\(r\[\"target\"\], r\[\"method\"\], r\[\"n_per_class\"\]\)"
            r"|\(run\.target, run\.method, run\.n_per_class\)"
        ),
    }
    for what, pattern in spellings.items():
        found = [str(p.relative_to(ROOT)) for p in _files() if re.search(pattern, p.read_text())]
        assert set(found) <= {"results/cells.py"}, (what, found)


# The artifact file names config/layout.py spells (its upper-case constants), and where else they may
# still appear: the report notebooks' helpers move into report/ in issue 31 (read there, not here);
# prose of the rendered pages that names a file to the reader.
ARTIFACT_NAME = re.compile(r"^[\w-]+\.(json|pt|csv|html|md)$")  # the report's pages (.html, .md) too
NAMES_ELSEWHERE = {
    "report/notebooks/l2tww_report.py": {"history.json", "metrics.json"},
    "report/notebooks/l2tww_transfer.py": {"transfer.json"},
    "report/cost.py": {"timing.json"},  # the cost page's sentence on where its numbers come from
}


def _artifact_names() -> set[str]:
    from l2tww.config import layout

    names = {v for k, v in vars(layout).items() if k.isupper() and isinstance(v, str) and ARTIFACT_NAME.match(v)}
    return names | {"base.json"}  # a dataset's base split (Layout.base_split)


def _spelled(text: str, names: set[str]) -> set[str]:
    return {n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text)}


def _code_strings(path) -> str:
    """The string constants of a module, docstrings left out (they may name a file to a reader)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return "\n".join(
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    )


def _report_folders() -> dict[str, str]:
    """The report's folders and its cost figures' name pattern, as config/layout.py spells them,
    each with the pattern that finds a path spelled from it in a string: "figures/...", and
    f"cost-{target}.png"'s first part."""
    from l2tww.config import layout

    folders = {name: rf"(?<![\w.-]){name}/" for name in (layout.FIGURES_DIR, layout.PLOTS_DIR, layout.COST_DIR)}
    return {**folders, layout.COST_FIGURES: "^" + re.escape(layout.COST_FIGURES.split("*")[0]) + "$"}


def _folders_built(path, folders: dict[str, str]) -> set[str]:
    """The `folders` a module builds a path from: one joined by `/` (`out / "cost"`; a bare "cost"
    elsewhere may be a dict key) or a string matching its pattern."""
    tree = ast.parse(path.read_text())
    joined = {
        n.right.value
        for n in ast.walk(tree)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and isinstance(n.right, ast.Constant)
    }
    texts = _code_strings(path).splitlines()
    return {name for name, pattern in folders.items() if name in joined or any(re.search(pattern, t) for t in texts)}


def test_no_module_spells_an_artifact_file_name_outside_the_layout():
    names = _artifact_names()
    assert {"metrics.json", "model.pt", "meta.json", "checkpoint.pt", "history.json", "runs.csv"} <= names
    assert {"l2tww-report.html", "summary.md", "cost.md"} <= names
    folders = _report_folders()
    found = {}
    for p in _files():
        rel = str(p.relative_to(ROOT))
        if rel == "config/layout.py":
            continue
        spelled = (_spelled(_code_strings(p), names) | _folders_built(p, folders)) - NAMES_ELSEWHERE.get(rel, set())
        if spelled:
            found[rel] = sorted(spelled)
    workflow = ROOT.parents[1] / "workflow"
    for p in sorted([*workflow.rglob("*.smk"), workflow.parent / "Snakefile"]):
        code = "\n".join(line.split("#", 1)[0] for line in p.read_text().splitlines())  # comments may name files
        spelled = _spelled(" ".join(re.findall(r"\"[^\"\n]*\"|'[^'\n]*'", code)), names)
        if spelled:
            found[str(p.relative_to(workflow.parent))] = sorted(spelled)
    assert found == {}, "spell these through config.layout (Layout's methods or its constants)"


def test_the_folder_check_sees_a_joined_folder_and_the_cost_figures_name_and_not_a_key(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        'def f(d, t, files):\n    files["cost"]\n    return d / "plots", f"cost-{t}.png", f"figures/{t}"\n'
    )
    assert _folders_built(module, _report_folders()) == {"plots", "cost-*.png", "figures"}


def test_the_name_check_sees_a_spelled_name_and_ignores_a_docstring(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Writes metrics.json."""\n\ndef f(d):\n    """model.pt"""\n    return d / "history.json"\n')
    assert _spelled(_code_strings(module), _artifact_names()) == {"history.json"}
