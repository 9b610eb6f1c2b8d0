"""`l2tww check`, beyond loading the params: what can be checked before any job runs.

- Sources from your own state_dict are loaded into their arch now (a few seconds at most), so a
  file of another architecture is refused here, in one line naming the first tensor that does not
  fit, not hours later by the first training job.
- Warnings for settings that are valid but do nothing (an image folder's `test` hold-out when the
  folder has its own test/ images).
"""

from __future__ import annotations

from pathlib import Path

from ..catalog import IMAGE_FOLDER
from ..config import ConfigError, Params
from .inputs import source_inputs


def check_weights(params: Params) -> None:
    """Load every `format: state_dict` source into its arch; ConfigError naming the source otherwise."""
    from ..models import build_model
    from ..training.weights import load_weights

    for name, src in params["sources"].items():
        weights = src.get("weights")
        if not weights or weights["format"] != "state_dict":
            continue
        inputs = source_inputs(params, name)
        model = build_model(inputs["arch"], inputs["num_classes"], inputs["channels"])
        try:
            load_weights(model, weights, Path(inputs["weights_cache"]))
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(f"{params.origin}: sources.{name}.weights: {exc}") from None


def check_warnings(params: Params) -> list[str]:
    out = []
    for name, ds in params["datasets"].items():
        if ds["builder"] == IMAGE_FOLDER and "test" in ds and params.info(name).has_test:
            out.append(
                f"datasets.{name}.test: not used: {ds['root']}/test holds the test images (the hold-out applies only "
                "without a test/ folder)"
            )
    return out
