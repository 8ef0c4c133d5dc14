"""Detectors: each finds brands on keyframes from one kind of cue and returns Detections."""

from __future__ import annotations

import importlib

from detectors.base import CUE_FIELDS, DETECTORS, Detector

# Modules whose import registers a detector; a module that fails to import (a missing optional
# dependency) leaves its detector unavailable.
_MODULES = {
    "logo": "detectors.logo",
    "text": "detectors.text",
    "grounding_dino": "detectors.grounding_dino",
}


def available_detectors() -> list[str]:
    """Names of the detectors that can run in this installation."""
    for module in _MODULES.values():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    return DETECTORS.names()


__all__ = ["CUE_FIELDS", "DETECTORS", "Detector", "available_detectors"]
