"""What one run or scan is asked to do: the input, the output, the brands and the settings.

Its own module so that the pipeline and the report both read it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autoblur.config import PipelineConfig
from autoblur.errors import VideoError
from autoblur.io.writer import check_output_path
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
    """``INPUT_clean.<input's extension>``: the output keeps the input's container.

    A master's codec (ProRes, DNx, MPEG-2 in MXF) may not go into MP4.
    """
    return input_path.with_name(f"{input_path.stem}_clean{input_path.suffix or '.mp4'}")


def check_paths(job: Job) -> None:
    """Refuse, before any work, paths that would overwrite the input or cannot be written.

    Raises:
        VideoError: with the path and the fix.
    """
    if job.output_path is not None:
        check_output_path(job.input_path, job.output_path)
    for extra in (job.report_path, job.masks_dir):
        if extra is None:
            continue
        if extra.resolve() == job.input_path.resolve():
            raise VideoError(f"{extra}: would overwrite the input; choose another path")
        folder = extra.resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise VideoError(f"{extra}: folder {folder} does not exist or is not writable")
    if job.masks_dir is not None and job.masks_dir.exists():
        if not job.masks_dir.is_dir() or any(job.masks_dir.iterdir()):
            raise VideoError(f"{job.masks_dir}: --masks needs a new or empty folder")
