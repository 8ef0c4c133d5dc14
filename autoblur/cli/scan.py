"""``autoblur scan``: detect and track brands, report them, write no video."""

from __future__ import annotations

import json
from typing import Any

import click

from autoblur.cli.common import build_job, execute, handle_errors, shared_options, summary_line
from autoblur.exit_codes import ExitCode


@click.command()
@shared_options
@handle_errors
def scan(**options: Any) -> int:
    """Detect and track brands in INPUT_PATH without writing video.

    Exit code 0 when nothing was found, 1 when brands were found.
    """
    quiet = options["quiet"]
    job = build_job(options, None, {})
    report = execute(job, "scanning", quiet, options["html_path"])
    if options["report_path"] is None and not quiet:
        click.echo(
            json.dumps({k: report[k] for k in ("brands_found", "occurrences", "tracks")}, indent=2)
        )
    if not quiet:
        click.echo(f"autoblur: scanned {job.input_path}: {summary_line(report)}", err=True)
    return ExitCode.FOUND if report["tracks"] else 0
