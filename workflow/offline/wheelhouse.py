"""`make wheelhouse`: the wheels a node with its own torch lacks, for another Python and platform.

    python workflow/offline/wheelhouse.py --dest wheelhouse --python-version 3.12 --arch x86_64 --glibc 2.28

Runs where a package index is reachable. Writes into --dest every wheel of node_requirements.py's
list (never torch, torchvision or their CUDA libraries: the node keeps its own build) for CPython
--python-version on manylinux --arch with glibc <= --glibc, and the two lists the node's
`make install-offline` installs from it (requirements.txt, no-deps.txt). pip can fetch wheels for
another platform only when every package is a wheel, so the few that PyPI has only as source
(connection_pool, antlr4-python3-runtime) are built here first; each must build to a pure-Python
wheel (py3-none-any), else this stops and names it. docs/offline.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from node_requirements import NODE_HAS, no_deps_requirements, requirements  # noqa: E402

# The node's own torch pulls these in (its CUDA libraries: nvidia_cublas_cu12, ...); a wheelhouse
# holding one would shadow the node's build. nvidia_ml_py (NVML bindings, pure Python) is not one.
FORBIDDEN = re.compile("^(" + "|".join(NODE_HAS) + r"|triton)-|^nvidia_(?!ml_py-)")


def platforms(arch: str, glibc: str) -> list[str]:
    """Every manylinux tag a glibc-`glibc` machine accepts (pip does not expand a tag by itself)."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2:
        raise SystemExit(f"--glibc: {glibc!r}; expected 2.N")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    return tags + [f"{tag}_{arch}" for m, tag in legacy.items() if minor >= m]


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"wheelhouse: failed: {' '.join(cmd)}")


def source_only(reqs: Path) -> list[str]:
    """name==version of each package the resolver would take as a source archive (this machine's
    resolution of the same list: which projects publish no wheel does not depend on the platform)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip("install", "-q", "--dry-run", "--ignore-installed", "--report", str(report), "-r", str(reqs))
        installs = json.loads(report.read_text())["install"]
    return [
        f"{i['metadata']['name']}=={i['metadata']['version']}"
        for i in installs
        if not i["download_info"]["url"].split("#")[0].endswith(".whl")
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", required=True, type=Path)
    ap.add_argument("--python-version", required=True, help="the node's Python, e.g. 3.12")
    ap.add_argument("--arch", default="x86_64")
    ap.add_argument("--glibc", default="2.28", help="the node's glibc (ldd --version), e.g. 2.28")
    args = ap.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    reqs, no_deps = args.dest / "requirements.txt", args.dest / "no-deps.txt"
    reqs.write_text("\n".join(requirements()) + "\n")
    no_deps.write_text("\n".join(no_deps_requirements()) + "\n")

    for spec in source_only(reqs):
        pip("wheel", "-q", "--no-deps", "-w", str(args.dest), spec)
    impure = [p.name for p in args.dest.glob("*.whl") if not p.name.endswith("-none-any.whl") and "-cp" not in p.name]
    if impure:
        raise SystemExit(f"wheelhouse: {impure}: built here but not pure Python; build them on the node's platform")

    target = ["--only-binary=:all:", "--implementation", "cp", "--python-version", args.python_version]
    for tag in platforms(args.arch, args.glibc):
        target += ["--platform", tag]
    dest = ["-d", str(args.dest), "--find-links", str(args.dest)]
    pip("download", "-q", *dest, *target, "-r", str(reqs))
    pip("download", "-q", *dest, *target, "--no-deps", "-r", str(no_deps))

    bad = [p.name for p in args.dest.glob("*.whl") if FORBIDDEN.match(p.name.lower())]
    if bad:
        raise SystemExit(f"wheelhouse: {bad}: the node's own torch provides these; a dependency asked for them")
    wheels = sorted(args.dest.glob("*.whl"))
    size = sum(p.stat().st_size for p in wheels) / 2**20
    print(
        f"wheelhouse: {len(wheels)} wheels, {size:.0f} MB in {args.dest} (CPython {args.python_version}, {args.arch})"
    )


if __name__ == "__main__":
    main()
