"""A job request from the API, checked and turned into the spec a worker runs.

The spec is a JSON-ready dict of absolute paths: ``mode``, ``input``, ``rules``, ``output``,
``decisions``, ``scan`` (a scan report to render from), ``report`` and ``config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autoblur.batch.items import VIDEO_EXTENSIONS
from autoblur.job import default_output
from autoblur.resources import data_dir
from autoblur.service.settings import ServiceSettings


class PathRefused(Exception):
    """A request path resolves outside every allowed root (HTTP 403)."""


class FieldInvalid(Exception):
    """A request field that cannot be used, such as a missing file (HTTP 422).

    Args:
        field: the request field.
        message: why.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class JobRequest(BaseModel):
    """The body of ``POST /api/jobs``."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, description="The video to process.")
    rules: str | None = Field(None, min_length=1, description="A rule file.")
    country: str | None = Field(
        None, pattern=r"^[A-Za-z]{2}$", description="A shipped rule file, by country code."
    )
    mode: Literal["scan", "remove"] = "scan"
    output: str | None = Field(
        None, min_length=1, description="Cleaned video (remove; default: in the job's folder)."
    )
    decisions: str | None = Field(
        None, min_length=1, description="Decisions file: render a scan with these decisions."
    )
    scan: str | None = Field(
        None, min_length=1, description="Scan report to render from (with decisions)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> JobRequest:
        if self.rules is not None and self.country is not None:
            raise ValueError("give 'rules' or 'country', not both")
        if self.rules is None and self.country is None and self.scan is None:
            raise ValueError("'rules' or 'country' is required")
        if self.mode == "scan" and (self.output or self.decisions or self.scan):
            raise ValueError("'output', 'decisions' and 'scan' need mode 'remove'")
        if self.scan is not None and self.decisions is None:
            raise ValueError("'scan' needs 'decisions'")
        return self


def inside_roots(raw: str, field: str, roots: tuple[Path, ...]) -> Path:
    """``raw`` resolved (symlinks followed); it must lie inside one of ``roots``.

    Raises:
        PathRefused: it resolves outside every root.
    """
    path = Path(raw).expanduser().resolve()
    if not any(path.is_relative_to(root) for root in roots):
        raise PathRefused(f"{field}: {raw} resolves to {path}, outside the allowed --root folders")
    return path


def _existing(raw: str, field: str, roots: tuple[Path, ...]) -> Path:
    path = inside_roots(raw, field, roots)
    if not path.is_file():
        raise FieldInvalid(field, f"{raw}: file not found")
    return path


def build_spec(request: JobRequest, settings: ServiceSettings, job_id: str) -> dict[str, Any]:
    """The spec of a request, every path resolved and checked against the roots.

    Raises:
        PathRefused: a path lies outside the roots.
        FieldInvalid: a file is missing or a name cannot be used.
    """
    roots = settings.roots
    job_dir = settings.job_dir(job_id)
    input_path = _existing(request.input, "input", roots)
    if request.country is not None:
        rules: Path | None = data_dir("brand_lists") / f"{request.country.lower()}.yaml"
        if not rules.is_file():
            raise FieldInvalid("country", f"no rule file for country {request.country!r}")
    else:
        rules = None if request.rules is None else _existing(request.rules, "rules", roots)
    output = None
    if request.mode == "remove":
        if request.output is None:
            output = job_dir / default_output(input_path).name
        else:
            output = inside_roots(request.output, "output", roots)
            if output.suffix.lower() not in VIDEO_EXTENSIONS:
                raise FieldInvalid("output", f"{request.output}: use a .mp4, .mkv or .mov name")
    return {
        "mode": request.mode,
        "input": str(input_path),
        "rules": None if rules is None else str(rules),
        "output": None if output is None else str(output),
        "decisions": request.decisions and str(_existing(request.decisions, "decisions", roots)),
        "scan": request.scan and str(_existing(request.scan, "scan", roots)),
        "report": str(job_dir / "report.json"),
        "config": settings.config_name,
    }
