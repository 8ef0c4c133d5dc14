"""What one run or scan is asked to do: the input, the output, the brands and the settings.

Its own module so that the pipeline and the report both read it without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autoblur.config import PipelineConfig
from autoblur.rules import RuleSet
from autoblur.types import BrandCue


@dataclass
class Job:
    """One video to process.

    Attributes:
        input_path: the video to read (never modified).
        output_path: where to write the cleaned video; None to scan only.
        cues: the brands to look for.
        config: pipeline settings.
        rules: the rule file the cues came from, if any.
        masks_dir: a folder to write each frame's removal mask to as PNG, if any.
        report_path: where to write the JSON report, if anywhere.
        thumbnails: put a JPEG of each track's first detection (box drawn) in the report.
        required_detectors: detectors asked for on the command line: the run fails when one
            of them cannot run, instead of noting it.
        notices: things the user should know, gathered while setting up (filled in by the run).
    """

    input_path: Path
    output_path: Path | None
    cues: Sequence[BrandCue]
    config: PipelineConfig
    rules: RuleSet | None = None
    masks_dir: Path | None = None
    report_path: Path | None = None
    thumbnails: bool = False
    required_detectors: frozenset[str] = frozenset()
    notices: list[str] = field(default_factory=list)


def default_output(input_path: Path) -> Path:
    """``INPUT_clean.<input's extension>``: the output keeps the input's container."""
    return input_path.with_name(f"{input_path.stem}_clean{input_path.suffix or '.mp4'}")
