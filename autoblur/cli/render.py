"""``autoblur render``: remove what a scan found, as a reviewer decided, detecting nothing."""

from __future__ import annotations

from pathlib import Path

import click

from autoblur.cli.common import Bar, handle_errors
from autoblur.config import load_config
from autoblur.exit_codes import ExitCode
from autoblur.job import default_output
from autoblur.render import render_video
from autoblur.report.html import write_video_html


@click.command()
@click.argument("input_path", type=click.Path(path_type=Path))
@click.option(
    "--scan",
    "scan_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Report of `autoblur scan INPUT --report scan.json` (its masks file beside it).",
)
@click.option(
    "--decisions",
    "decisions_path",
    type=click.Path(path_type=Path),
    help="YAML/JSON file: occurrences: {occ-0001: keep | remove | blur | ...}, brands: {...}.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output video (default: INPUT_clean.mp4 beside the input); OUTPUT.audit.json beside it.",
)
@click.option(
    "--config",
    "config_name",
    help="Preset name or YAML file for removal and encoding (default: the scan's settings).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path),
    help="Also write the review sheet (decisions, before/after crops) as HTML here.",
)
@click.option(
    "--verify/--no-verify",
    default=None,
    help="Run the scan's detectors on the output and remove what they still find (default: "
    "config verify.enabled); exit code 4 when something is left.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes.")
@handle_errors
def render(
    input_path: Path,
    scan_path: Path,
    decisions_path: Path | None,
    output: Path | None,
    config_name: str | None,
    html_path: Path | None,
    verify: bool | None,
    quiet: bool,
) -> int:
    """Render INPUT_PATH from a scan's saved detections and a reviewer's decisions."""
    output = output or default_output(input_path)
    config = load_config(config_name) if config_name is not None else None
    bar = Bar("rendering", quiet)
    try:
        report = render_video(input_path, scan_path, output, decisions_path, config, bar, verify)
    finally:
        bar.close()
    if html_path is not None:
        write_video_html(html_path, report)
    if not quiet:
        removed = sum(o["decision"] != "keep" for o in report["occurrences"])
        click.echo(
            f"autoblur: wrote {output}: {removed} of {len(report['occurrences'])} occurrences "
            f"removed, {report['timing']['frames']} frames in {report['timing']['seconds']:.1f} s",
            err=True,
        )
    verification = report["verification"]
    if verification is not None and not verification["verified_clean"]:
        frames = sorted({r["frame"] for r in verification["residual"]})
        click.echo(
            f"autoblur: verification: brands still found on frames {frames} of {output}; "
            "check them (see the audit's 'verification')",
            err=True,
        )
        return ExitCode.RESIDUAL
    return ExitCode.OK
