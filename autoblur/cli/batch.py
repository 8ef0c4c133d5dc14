"""``autoblur batch``: many videos against country rule files, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from autoblur.batch import BatchOptions, discover_items, run_batch
from autoblur.batch.runner import SUMMARY_JSON, exit_code
from autoblur.cli.common import handle_errors
from autoblur.config import load_config


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder: videos, reports, state and summary.",
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    help="Rule file for items whose manifest row names none.",
)
@click.option("--scan-only", is_flag=True, help="Detect and report only; write no video.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Videos processed at once (local executor).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run items here, or as Ray tasks (RAY_ADDRESS or local Ray).",
)
@click.option(
    "--gpus-per-task",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="GPUs Ray reserves per item.",
)
@click.option("--html", is_flag=True, help="Also write self-contained HTML reports.")
@click.option("--config", "config_name", help="Preset name or YAML file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def batch(
    source: Path,
    out_dir: Path,
    rules: Path | None,
    scan_only: bool,
    workers: int,
    executor: str,
    gpus_per_task: float,
    html: bool,
    config_name: str | None,
    quiet: bool,
) -> int:
    """Process every video of a folder, or of a CSV/JSONL manifest, against rule files.

    Re-running skips items already finished with the same input and rules, and retries failed
    ones. Exit code 0 all clean or removed, 1 brands found (--scan-only), 3 some item failed.
    """
    options = BatchOptions(
        out_dir=out_dir,
        config=load_config(config_name),
        scan_only=scan_only,
        workers=workers,
        executor=executor,
        gpus_per_task=gpus_per_task,
        html=html,
    )
    items = discover_items(source, out_dir, rules)
    bar = tqdm(total=len(items), desc="batch", unit="video", disable=quiet, file=sys.stderr)
    try:
        summary = run_batch(items, options, on_result=lambda result: bar.update(1))
    finally:
        bar.close()
    if not quiet:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(summary["status_counts"].items()))
        click.echo(
            f"autoblur: batch of {len(items)}: {counts}; see {out_dir / SUMMARY_JSON}", err=True
        )
    return exit_code(summary)
