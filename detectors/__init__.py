"""Detectors: each finds brands on keyframes from one kind of cue and returns Detections."""

from __future__ import annotations

import importlib

from detectors.base import (
    BOX_ONLY_DETECTORS,
    CUE_FIELDS,
    DETECTORS,
    Detector,
    detect_crop,
    detector_brands,
    detector_sources,
)

# Modules whose import registers a detector; a module that fails to import (a missing optional
# dependency) leaves its detector unavailable.
_MODULES = {
    "logo": "detectors.logo",
    "flat": "detectors.flat",
    "text": "detectors.text",
    "grounding_dino": "detectors.grounding_dino",
}


def load_detector(name: str) -> bool:
    """Import the module of detector ``name``; False when it cannot run in this installation.

    Only the detectors a run needs are imported: the neural one pulls in torch, which takes
    seconds to import.
    """
    try:
        importlib.import_module(_MODULES[name])
    except ImportError:
        return False
    return name in DETECTORS


def available_detectors() -> list[str]:
    """Names of the detectors that can run in this installation (imports all of them)."""
    return [name for name in _MODULES if load_detector(name)]


__all__ = [
    "BOX_ONLY_DETECTORS",
    "CUE_FIELDS",
    "DETECTORS",
    "Detector",
    "available_detectors",
    "detect_crop",
    "detector_brands",
    "detector_sources",
    "load_detector",
]
