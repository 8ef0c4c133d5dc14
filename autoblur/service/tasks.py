"""What a worker runs for one job spec: a scan, a removal, or a render with decisions."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from autoblur.config import PipelineConfig, load_config
from autoblur.errors import ConfigError
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.progress import Progress
from autoblur.report.build import write_json_atomic
from autoblur.rules import load_rules


def remove_partials(path: Path) -> None:
    """Delete the temporary files that a killed writer of ``path`` left beside it.

    Video writers use ``.STEM.partial-PID.EXT``; reports, a scan's saved masks and a render's
    audit record ``.STEM.SOMETHING.partial-PID``.
    """
    for partial in path.parent.glob(f".{path.stem}.*partial-*"):
        partial.unlink(missing_ok=True)


def outputs_of(spec: dict[str, Any]) -> list[Path]:
    """The files a job writes at their final paths."""
    return [Path(spec[key]) for key in ("output", "report") if spec.get(key)]


def _render_video():  # noqa: ANN202 - the render module's function, imported when needed
    try:
        return importlib.import_module("autoblur.render").render_video
    except ImportError:
        raise ConfigError(
            "rendering with decisions needs autoblur.render, which this installation lacks"
        ) from None


def run_spec(spec: dict[str, Any], progress: Progress | None = None) -> None:
    """Run one job; its report (and video) are written at the spec's paths, temp + rename.

    Raises:
        AutoblurError: bad input, rules, decisions or output.
    """
    for path in outputs_of(spec):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_partials(path)  # an earlier attempt killed mid-write
    if spec.get("decisions"):
        _render(spec, progress)
    else:
        _pipeline(spec, load_config(spec.get("config")), progress)


def _render(spec: dict[str, Any], progress: Progress | None) -> None:
    """Render from the spec's scan report (scanning first when it names none)."""
    report = Path(spec["report"])
    scan = Path(spec["scan"]) if spec.get("scan") else report.with_name("scan.json")
    if not spec.get("scan"):
        remove_partials(scan)
        scan_spec = {**spec, "report": str(scan), "output": None}
        _pipeline(scan_spec, load_config(spec.get("config")), progress)
    render = _render_video()(
        Path(spec["input"]),
        scan,
        Path(spec["output"]),
        Path(spec["decisions"]),
        config=load_config(spec["config"]) if spec.get("config") else None,  # None: the scan's
        progress=progress,
    )
    write_json_atomic(report, render)


def _pipeline(spec: dict[str, Any], config: PipelineConfig, progress: Progress | None) -> None:
    rules = load_rules(spec["rules"], fallback_action=config.remove.default_action)
    job = Job(
        input_path=Path(spec["input"]),
        output_path=Path(spec["output"]) if spec.get("output") else None,
        cues=rules.brands,
        config=config,
        rules=rules,
        report_path=Path(spec["report"]),
        thumbnails=True,
    )
    Pipeline(job, progress).run()
