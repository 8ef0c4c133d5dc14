"""Segmenters: turn detection boxes into precise masks on keyframes."""

from __future__ import annotations

from autoblur.config import PipelineConfig
from autoblur.registry import build_preferred
from autoblur.segment.base import SEGMENTERS, Segmenter
from autoblur.segment.classical import DetectorMasks, GrabCutMasks

_CLASSICAL = "grabcut"
_SAM_MODULE = "autoblur.segment.sam"


def build_segmenter(
    config: PipelineConfig, notices: list[str], boxes_expected: bool = True
) -> Segmenter:
    """The segmenter the config names.

    ``auto`` uses SAM when some detector of the run finds bare boxes (``boxes_expected``) and
    SAM's extra and checkpoint are there, and otherwise GrabCut (saying why in ``notices``
    when SAM was wanted); a run whose detectors all bring exact masks loads no model.

    Raises:
        CheckpointError: ``sam`` was asked for by name and cannot be loaded.
        ConfigError: unknown backend name.
    """
    return build_preferred(
        SEGMENTERS,
        config.segment.backend,
        "sam",
        _CLASSICAL,
        _SAM_MODULE,
        config,
        notices,
        worth_trying=lambda: boxes_expected,
    )


__all__ = ["SEGMENTERS", "DetectorMasks", "GrabCutMasks", "Segmenter", "build_segmenter"]
