"""`l2tww report`: render the papermill report (HTML, code hidden) and a markdown summary.

The notebooks under `notebooks/` are jupytext percent files with a cell tagged `parameters`;
they ship inside the package, so an installed (non-editable) l2tww renders too. Each is converted
to .ipynb, executed by papermill in a python3 kernel that runs *this* interpreter (the venv's), and
exported with `nbconvert --no-input`-equivalent settings to one self-contained HTML page (figures
inlined as base64). Everything is written atomically: a killed report leaves the previous files.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..io import write_text
from . import NOTEBOOKS
from .context import ReportContext
from .cost import write_cost
from .tables import markdown_summary

TEMPLATES = Path(__file__).with_name("notebooks")


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
            papermill.execute_notebook(
                str(src),
                str(done),
                parameters=parameters,
                kernel_name="python3",
                cwd=os.getcwd(),
                progress_bar=False,
                log_output=False,
            )
        except papermill.PapermillExecutionError as exc:
            raise RuntimeError(
                f"report: {template.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
            ) from None
    return nbformat.read(done, as_version=4)


def _join(notebooks: list):
    """One notebook holding every executed notebook's cells, in order (one HTML page). Cell ids are
    renumbered: nbformat and papermill draw them at random, and the HTML carries them, so the page
    would differ at every render."""
    joined = notebooks[0]
    for nb in notebooks[1:]:
        joined.cells.extend(nb.cells)
    for i, cell in enumerate(joined.cells):
        cell.id = f"cell-{i}"
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


def _link(path: Path, page: Path) -> str:
    """`path` as a page's relative link (the pages link to each other and to the figures)."""
    return Path(os.path.relpath(path, page.parent)).as_posix()


def render(ctx: ReportContext, files: dict[str, Path], templates: Path = TEMPLATES) -> Path:
    """Execute every template; write the HTML page, the figures' PNGs, the plots' CSVs (for dvc
    plots), the markdown summary and the cost page (timings, apart) where `files` says
    (config/layout.py: report_outputs); returns its "dir"."""
    files = {key: Path(path).resolve() for key, path in files.items()}
    files["dir"].mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".render-", dir=files["dir"]) as tmp:
        work = Path(tmp)
        ctx.save(work / "context.json")
        parameters = {
            "context_path": str(work / "context.json"),
            "figures_dir": str(work / files["figures"].name),
            "plots_dir": str(work / files["plots"].name),
            "cost_page": _link(files["cost"], files["html"]),
        }
        executed = [_execute(templates / name, work, parameters) for name in NOTEBOOKS]
        page = _html(_join(executed))
        published = _publish(work / files["figures"].name, files["figures"])
        _publish(work / files["plots"].name, files["plots"])
    figures = [_link(files["figures"] / name, files["summary"]) for name in published]
    links = {"html": _link(files["html"], files["summary"]), "cost": _link(files["cost"], files["summary"])}
    write_text(files["html"], page)
    write_text(files["summary"], markdown_summary(ctx, ctx.runs, figures, links))
    write_cost(ctx, files["cost"], files["cost_figures"])
    return files["dir"]
