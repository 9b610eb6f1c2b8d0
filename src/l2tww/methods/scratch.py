"""Scratch: the target trained alone on cross-entropy (Table 1's first row)."""

from __future__ import annotations

from .transfer_method import TransferMethod


class Scratch(TransferMethod):
    needs_sources = False
