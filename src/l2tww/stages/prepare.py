"""`l2tww prepare <dataset>`."""

from __future__ import annotations

from ..config import Params
from ..data.store import prepare


def prepare_dataset(params: Params, dataset: str) -> dict:
    layout = params.layout
    return prepare(dataset, params["datasets"][dataset]["builder"], layout.raw(dataset), layout.prepared(dataset))
