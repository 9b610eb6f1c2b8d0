"""The params and the layout: params.yaml (validated against `params.schema.yaml`, defaults
filled, cross-references checked) and where every artifact lives. Only the stages layer and the
CLI read them; the library below receives plain values."""

from .layout import Layout
from .loading import from_mapping, load
from .matrix import Job, Run
from .params import Params
from .validation import SCHEMA_PATH, ConfigError, validate

__all__ = ["SCHEMA_PATH", "ConfigError", "Job", "Layout", "Params", "Run", "from_mapping", "load", "validate"]
