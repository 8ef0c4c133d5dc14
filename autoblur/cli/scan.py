"""``autoblur scan``: detect and track brands, report them, write no video."""

from __future__ import annotations

import json
from typing import Any

import click

from autoblur.chunks.runner import default_jobs, scan_in_pieces
from autoblur.cli.common import Bar, build_job, handle_errors, shared_options, summary_line
from autoblur.exit_codes import ExitCode
from autoblur.report.html import write_video_html


@click.command()
@shared_options
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Processes that scan the pieces of a long file side by side (default: the cores).",
)
@click.option(
    "--chunk-seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="Split the file into pieces of about this many seconds, at scene cuts where there "
    "are any (default: chunk.seconds of the config, for files longer than chunk.min_seconds).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where the pieces run: processes here, or Ray tasks on the cluster at RAY_ADDRESS "
    "(a local Ray instance when unset; the cluster must see the same paths).",
)
@handle_errors
def scan(jobs: int | None, chunk_seconds: float | None, executor: str, **options: Any) -> int:
    """Detect and track brands in INPUT_PATH without writing video.

    Exit code 0 when nothing was found, 1 when brands were found.
    """
    quiet = options["quiet"]
    job = build_job(options, None, {})
    bar = Bar("scanning", quiet)
    try:
        report = scan_in_pieces(job, jobs or default_jobs(), bar, chunk_seconds, executor)
    finally:
        bar.close()
    if options["html_path"] is not None:
        write_video_html(options["html_path"], report)
    if options["report_path"] is None and not quiet:
        click.echo(
            json.dumps({k: report[k] for k in ("brands_found", "occurrences", "tracks")}, indent=2)
        )
    if not quiet:
        chunks = report.get("chunks")
        where = f"{chunks['jobs']} processes" if chunks and chunks["jobs"] else "Ray"
        split = f" in {len(chunks['pieces'])} pieces on {where}" if chunks else ""
        line = f"autoblur: scanned {job.input_path}{split}: {summary_line(report)}"
        click.echo(line, err=True)
    return ExitCode.FOUND if report["tracks"] else 0
