"""Released source weights, fetched by their own workflow rules (workflow/rules/weights.smk), never
inside a training job: a GPU node without internet runs the jobs, the machine with the network
(a login node: the rules are local rules) fetches the files first. Torch-free: the Snakefile
imports it.

- torchvision (the 224 px ResNet34): downloaded from `url` (default: torchvision's IMAGENET1K_V1
  file of the arch's depth) into `path` or the source's cache folder; checked against the sha256
  prefix in the file's name and the full sha256 in workflow/checksums.json.
- official_checkpoint (the authors' TinyImageNet ResNet32): downloaded from `url` if one is given;
  else copied into the configured `path` from the first folder of L2TWW_WEIGHTS_DIR (a list of
  folders, like PATH) that holds a file of that name; its sha256 is checked before it is used.

    python -m l2tww.stages.fetch_weights --params PARAMS SOURCE    # what the rules run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

from ..data.download import fetch, verify

# torchvision's IMAGENET1K_V1 files (torchvision.models.ResNet{18,34}_Weights; tests/test_weights.py
# keeps them equal), written out so that planning the workflow never imports torchvision.
TORCHVISION_URLS = {
    18: "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    34: "https://download.pytorch.org/models/resnet34-b627a593.pth",
}
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")  # torchvision's convention: <name>-<sha256 prefix>.pth
SEARCH_ENV = "L2TWW_WEIGHTS_DIR"
FETCHED = ("official_checkpoint", "torchvision")  # state_dict is your own local file: nothing to fetch


def _name(url: str) -> str:
    return Path(url.split("?")[0]).name


def torchvision_url(cfg: dict, depth: int) -> str:
    return cfg.get("url") or TORCHVISION_URLS[depth]


def released_file(cfg: dict, cache_dir: Path, depth: int | None) -> Path:
    """Where a released file lives once fetched (what a training job loads)."""
    if cfg.get("path"):
        return Path(cfg["path"])
    if cfg["format"] == "torchvision":
        return Path(cache_dir) / _name(torchvision_url(cfg, depth))
    if cfg.get("url"):
        return Path(cache_dir) / _name(cfg["url"])
    raise ValueError(f"weights.path: a local checkpoint file is required for format {cfg['format']!r}")


def released_files(params) -> dict[str, str]:
    """{source: file} of every released file the configured runs' sources need fetched."""
    out = {}
    for name in dict.fromkeys(s for t in params["targets"].values() for s in t["sources"]):
        cfg = params["sources"][name]
        if cfg.get("weights") and cfg["weights"]["format"] in FETCHED:
            cache = params.layout.raw(f"weights-{name}")
            out[name] = str(released_file(cfg["weights"], cache, cfg["arch"].get("depth")))
    return out


def fetch_released(cfg: dict, cache_dir: Path, depth: int | None) -> Path:
    """Download or copy one released file into place, checked; returns its path."""
    dest = released_file(cfg, cache_dir, depth)
    if cfg["format"] == "torchvision":
        url = torchvision_url(cfg, depth)
        prefix = HASH_IN_NAME.search(_name(url))
        return fetch(
            url, dest, cfg.get("sha256"), sha256_prefix=prefix.group(1) if prefix else None, key=f"weights/{_name(url)}"
        )
    if cfg.get("url") and not cfg.get("path"):
        return fetch(cfg["url"], dest, cfg.get("sha256"))
    if not dest.is_file():
        found = [Path(d) / dest.name for d in os.environ.get(SEARCH_ENV, "").split(os.pathsep) if d]
        found = [f for f in found if f.is_file()]
        if not found:
            raise FileNotFoundError(
                f"{dest}: weights.path not found, nor in {SEARCH_ENV} ({os.environ.get(SEARCH_ENV, 'unset')}); "
                "the authors' release: github.com/alinlab/L2T-ww (docs/offline.md)"
            )
        if cfg.get("sha256"):
            verify(found[0], cfg["sha256"], quarantine=False)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], dest.with_name(dest.name + ".part"))
        dest.with_name(dest.name + ".part").replace(dest)
    if cfg.get("sha256"):
        verify(dest, cfg["sha256"], quarantine=False)
    return dest


def main(argv: list[str] | None = None) -> None:
    from ..config import load

    ap = argparse.ArgumentParser(description="fetch one source's released weights (a workflow rule)")
    ap.add_argument("--params", required=True)
    ap.add_argument("source")
    args = ap.parse_args(argv)
    params = load(args.params)
    cfg = params["sources"].get(args.source)
    if not cfg or not cfg.get("weights") or cfg["weights"]["format"] not in FETCHED:
        raise SystemExit(f"{args.params}: sources.{args.source}: no released weights to fetch")
    path = fetch_released(cfg["weights"], params.layout.raw(f"weights-{args.source}"), cfg["arch"].get("depth"))
    print(f"sources.{args.source}: {path}")


if __name__ == "__main__":
    main()
