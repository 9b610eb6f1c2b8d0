"""Scratch: the target trained alone on cross-entropy (Table 1's first row)."""
from __future__ import annotations

from .base import TransferMethod


class Scratch(TransferMethod):
    needs_sources = False
