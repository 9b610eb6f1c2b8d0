"""`l2tww prepare <dataset> [--stats]`."""

from __future__ import annotations

from ..catalog import IMAGE_FOLDER
from ..config import ConfigError, Params
from ..data.store import prepare, write_prepared
from .identity import digest, prepare_identity


def prepare_dataset(params: Params, dataset: str) -> dict:
    layout = params.layout
    identity = digest(prepare_identity(params, dataset))
    cfg = params["datasets"][dataset]
    out_dir = layout.prepared(dataset)
    if cfg["builder"] != IMAGE_FOLDER:
        return prepare(dataset, cfg["builder"], layout.raw(dataset), layout.prepared_files(out_dir), identity)
    from ..data.own_images import build_image_folder  # PIL; your own images

    storage = params.info(dataset).storage
    files = layout.prepared_files(out_dir)
    built = build_image_folder(
        dataset, params.trees[dataset], files, cfg["image_size"], storage, cfg.get("skip_unreadable", False)
    )
    return write_prepared(dataset, IMAGE_FOLDER, storage, built, files, identity)


def dataset_stats(params: Params, dataset: str) -> str:
    """Per-channel mean and std of an image folder's train images, as a `normalize:` line to paste
    into the params (nothing is written)."""
    cfg = params["datasets"][dataset]
    if cfg["builder"] != IMAGE_FOLDER:
        raise ConfigError(
            f"{params.origin}: prepare --stats: datasets.{dataset} is built in ({cfg['builder']!r}); --stats reads an "
            "image_folder's images"
        )
    from ..data.own_images import channel_stats

    stats = channel_stats(params.trees[dataset], cfg["image_size"], cfg.get("skip_unreadable", False))
    skipped = f", {stats['skipped_unreadable']} unreadable skipped" if stats["skipped_unreadable"] else ""
    return (
        f"# datasets.{dataset}: {stats['images']} images of {cfg['root']}/train at {cfg['image_size']} px{skipped}\n"
        f"normalize: {{mean: {stats['mean']}, std: {stats['std']}}}"
    )
