"""The house in layers (issue 20), kept by tests rather than by habit:

- only the stages layer, the config package and the CLI know `Params` and `Layout` (the library
  below takes plain values);
- no import circle between the package's modules;
- no two modules share a name, no two public classes share a name (near-twins mislead readers);
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
