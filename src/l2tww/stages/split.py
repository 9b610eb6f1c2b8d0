"""`l2tww split <dataset> [--n N --seed S]`: the base split, or an N-per-class subset of it, each
recording the identity it was made under (`l2tww sync` compares it on a clone that pulled it)."""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..config.layout import Layout
from ..data.splits import base_split, low_data_split
from ..io import read_json, write_json
from .identity import digest, split_identity


def make_split(params: Params, dataset: str, n_per_class: int | None = None, seed: int | None = None) -> Path:
    """Without `seed`: the base split. With it: the N-per-class subset (N=None: the full train split)."""
    layout = params.layout
    cfg = params["datasets"][dataset]
    meta = read_json(layout.prepared_marker(dataset), f"prepared {dataset} (run `l2tww prepare {dataset}`)")
    try:
        if seed is None:
            out = layout.base_split(dataset)
            split = base_split(meta, cfg, params["split_seed"], dataset)
            write_json(out, {**split, "identity": digest(split_identity(params, dataset))})
            return out
        base = read_json(layout.base_split(dataset), f"base split of {dataset} (run `l2tww split {dataset}`)")
        out = layout.split(dataset, n_per_class, seed)
        split = low_data_split(base, meta, n_per_class, seed, cfg["low_data_val_fraction"], dataset)
    except ValueError as exc:  # a class too small: name the images prepare left out, if it skipped any
        raise ValueError(f"{exc}{skipped_note(layout.prepared(dataset))}") from None
    # nall copies the base split, whose identity is not this file's: replaced
    write_json(out, {**split, "identity": digest(split_identity(params, dataset, n_per_class, seed))})
    return out


def skipped_note(prepared: Path) -> str:
    """'; prepare skipped ...' naming the unreadable images an image folder's prepare left out, or ''."""
    manifest = Layout.prepared_files(prepared)["manifest"]
    skipped = read_json(manifest).get("skipped_unreadable", []) if manifest.is_file() else []
    if not skipped:
        return ""
    shown = ", ".join(e["path"] for e in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    return f"; prepare skipped {len(skipped)} unreadable image(s) (skip_unreadable: true): {shown} ({manifest})"
