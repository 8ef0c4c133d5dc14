"""Segmenters: turn detection boxes into precise masks on keyframes."""

from __future__ import annotations

import importlib

from autoblur.config import PipelineConfig
from autoblur.errors import CheckpointError
from autoblur.segment.base import SEGMENTERS, Segmenter
from autoblur.segment.classical import DetectorMasks, GrabCutMasks

_CLASSICAL = "grabcut"


def build_segmenter(config: PipelineConfig, notices: list[str]) -> Segmenter:
    """The segmenter the config names.

    ``auto`` uses SAM when its extra is installed and its checkpoint present, and otherwise
    falls back to GrabCut, saying so once in ``notices``.

    Raises:
        CheckpointError: ``sam`` was asked for by name and cannot be loaded.
        ConfigError: unknown backend name.
    """
    name = config.segment.backend
    if name == "sam" or name == "auto":
        try:
            importlib.import_module("autoblur.segment.sam")
        except ImportError as exc:
            if name == "sam":
                raise CheckpointError(f"--segmenter sam: {exc}") from None
            notices.append(f"segmenter auto: SAM unavailable ({exc}); using {_CLASSICAL}")
            return SEGMENTERS.build(_CLASSICAL, config)
    if name != "auto":
        return SEGMENTERS.build(name, config)
    try:
        return SEGMENTERS.build("sam", config)
    except CheckpointError as exc:
        notices.append(f"segmenter auto: SAM unavailable ({exc}); using {_CLASSICAL}")
        return SEGMENTERS.build(_CLASSICAL, config)


__all__ = ["SEGMENTERS", "DetectorMasks", "GrabCutMasks", "Segmenter", "build_segmenter"]
