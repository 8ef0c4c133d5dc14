"""Removers: replace the pixels of masked logos (inpaint, blur, pixelate, fill)."""

from autoblur.remove.base import INPAINTERS, REMOVERS, MaskedFrame, Remover, build_removers

__all__ = ["INPAINTERS", "REMOVERS", "MaskedFrame", "Remover", "build_removers"]
