# Shared helpers: config validation, the effective params file and the run matrix.
import hashlib
import json
import shutil
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from l2tww.config import ConfigError, Run, from_mapping
from l2tww.paths import Layout

# One schema for Snakemake and the CLI. Snakemake's validate checks the structure; l2tww's own
# loader then fills the defaults (Snakemake's filler cannot walk the schema's if/then branches)
# and checks cross-references, with one-line messages.
validate(config, "../../src/l2tww/schema/params.schema.yaml", set_default=False)
try:
    PARAMS = from_mapping(config, origin="config")
except ConfigError as exc:
    raise WorkflowError(str(exc))

LAYOUT = Layout.of(PARAMS)
DATA = str(LAYOUT.data)
RESULTS = str(LAYOUT.results)


def _effective_params_file() -> str:
    """The validated config as one file that every job's CLI reads, whatever mix of
    params.yaml, --configfile and --config produced it. Named by content, written once."""
    text = yaml.safe_dump(PARAMS.data, sort_keys=True)
    path = Path(".snakemake", "l2tww", f"params-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return str(path)


PARAMS_FILE = _effective_params_file()
L2TWW = f"l2tww --params {PARAMS_FILE}"

# GPU jobs are counted with the `gpu` resource (snakemake --resources gpu=N) only where a GPU can
# be used; on a CPU machine training jobs take none, so they run side by side.
USES_GPU = PARAMS["runtime"]["device"] != "cpu" and shutil.which("nvidia-smi") is not None
GPU = 1 if USES_GPU else 0
THREADS = PARAMS["runtime"]["threads"]

RUNS = PARAMS.runs()


def canonical(obj) -> str:
    """Rule params are compared across runs (Snakemake's params rerun trigger): a stable string."""
    return json.dumps(obj, sort_keys=True)


def n_tag(n):
    return "nall" if n is None else f"n{n}"


def parse_n(tag: str):
    return None if tag == "nall" else int(tag[1:])


wildcard_constraints:
    dataset=r"[a-z][a-z0-9_]*",
    source=r"[a-z][a-z0-9_]*",
    target=r"[a-z][a-z0-9_]*",
    method=r"[a-z][a-z0-9_]*",
    ntag=r"n(all|[0-9]+)",
    seed=r"[0-9]+",
