"""Segmenters: turn detection boxes into precise masks on keyframes."""

from __future__ import annotations

from autoblur.config import PipelineConfig
from autoblur.registry import build_preferred
from autoblur.segment.base import SEGMENTERS, Segmenter
from autoblur.segment.classical import DetectorMasks, GrabCutMasks

_CLASSICAL = "grabcut"
_SAM_MODULE = "autoblur.segment.sam"


def build_segmenter(config: PipelineConfig, notices: list[str]) -> Segmenter:
    """The segmenter the config names.

    ``auto`` uses SAM when its extra is installed and its checkpoint present, and otherwise
    falls back to GrabCut, saying so once in ``notices``.

    Raises:
        CheckpointError: ``sam`` was asked for by name and cannot be loaded.
        ConfigError: unknown backend name.
    """
    return build_preferred(
        SEGMENTERS, config.segment.backend, "sam", _CLASSICAL, _SAM_MODULE, config, notices
    )


__all__ = ["SEGMENTERS", "DetectorMasks", "GrabCutMasks", "Segmenter", "build_segmenter"]
