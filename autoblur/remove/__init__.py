"""Removers: replace the pixels of masked logos (inpaint, blur, pixelate, fill)."""

from autoblur.remove.base import (
    INPAINTERS,
    REMOVERS,
    MaskedFrame,
    Remover,
    add_repairs,
    apply_removers,
    masked_frame,
)
from autoblur.remove.build import build_removers

__all__ = [
    "INPAINTERS",
    "REMOVERS",
    "MaskedFrame",
    "Remover",
    "add_repairs",
    "apply_removers",
    "build_removers",
    "masked_frame",
]
