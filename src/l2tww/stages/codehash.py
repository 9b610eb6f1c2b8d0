"""The code part of a result's identity: which package modules a job executes, and their hash.

A job's modules are found statically: starting from its root modules (the stage function's own
module, the method's module, ...), every import of another `l2tww` module — at the top of a file
or inside a function, since lazy imports run too — is followed. Nothing is imported, so the
Snakefile can compute identities for hundreds of jobs without loading torch.

Each module is hashed by its abstract syntax tree with docstrings removed: comments, docstrings
and formatting never change a result, so editing them re-runs nothing, while any change of
behaviour (a constant, an operator, an argument) changes the hash and re-runs the jobs that
execute that module.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "l2tww"
ROOT = Path(__file__).resolve().parents[1]  # src/l2tww


def module_file(module: str) -> Path:
    """`l2tww.methods.fm` -> src/l2tww/methods/fm.py (a package -> its __init__.py)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module}: not a module of {PACKAGE}")
    base = ROOT.joinpath(*parts[1:])
    if base.is_dir():
        return base / "__init__.py"
    path = base.with_suffix(".py")
    if not path.is_file():
        raise ValueError(f"{module}: no such module ({path})")
    return path


def _is_module(module: str) -> bool:
    base = ROOT.joinpath(*module.split(".")[1:])
    return base.is_dir() or base.with_suffix(".py").is_file()


@lru_cache(maxsize=None)
def _tree(module: str) -> ast.Module:
    return ast.parse(module_file(module).read_text(), filename=str(module_file(module)))


def _package_of(module: str) -> str:
    return module if module_file(module).name == "__init__.py" else module.rsplit(".", 1)[0]


def _imports(module: str) -> set[str]:
    """The l2tww modules `module` imports anywhere in its body (absolute or relative)."""
    found: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module).split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == PACKAGE:
                origin = node.module
            else:
                continue
            found.add(origin)
            # `from . import report` names a submodule; `from .io import read_json` a function
            found.update(f"{origin}.{a.name}" for a in node.names if _is_module(f"{origin}.{a.name}"))
    # importing a.b.c runs a/__init__ and a/b/__init__ too
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(2, m.count(".") + 1)}
    return {m for m in found | parents if _is_module(m)}


@lru_cache(maxsize=None)
def closure(roots: tuple[str, ...], stop: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every l2tww module executed by importing `roots`, sorted; modules in `stop` are neither
    included nor followed."""
    seen: set[str] = set()
    todo = [r if r.startswith(PACKAGE) else f"{PACKAGE}.{r}" for r in roots]
    while todo:
        module = todo.pop()
        if module in seen or module in stop:
            continue
        seen.add(module)
        todo.extend(_imports(module) - seen)
    return tuple(sorted(seen))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


def source_hash(text: str) -> str:
    """Hash of Python source by its syntax tree: blind to comments, docstrings and layout."""
    tree = _strip_docstrings(ast.parse(text))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()[:16]


@lru_cache(maxsize=None)
def module_hash(module: str) -> str:
    return source_hash(module_file(module).read_text())


def code_identity(roots: tuple[str, ...], stop: tuple[str, ...] = ()) -> dict[str, str]:
    """{module: hash} of everything `roots` execute (short of `stop`): the code a result depends on."""
    return {m: module_hash(m) for m in closure(tuple(sorted(roots)), tuple(sorted(stop)))}


def text_hash(module: str) -> str:
    """The module's exact text (for files whose comments are content, like notebook markdown)."""
    return hashlib.sha256(module_file(module).read_bytes()).hexdigest()[:16]
