"""`l2tww prepare <dataset>`."""

from __future__ import annotations

from ..config import Params
from ..data.store import prepare
from .identity import digest, prepare_identity


def prepare_dataset(params: Params, dataset: str) -> dict:
    layout = params.layout
    return prepare(
        dataset,
        params["datasets"][dataset]["builder"],
        layout.raw(dataset),
        layout.prepared(dataset),
        identity=digest(prepare_identity(params, dataset)),
    )
