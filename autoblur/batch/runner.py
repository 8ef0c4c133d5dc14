"""Running a batch: each item in a worker (local processes or Ray tasks), state after each."""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoblur.batch.items import BatchItem
from autoblur.batch.state import BatchState, file_digest, rules_digest
from autoblur.cluster import start_ray
from autoblur.config import PipelineConfig
from autoblur.errors import AutoblurError, ConfigError
from autoblur.exit_codes import ExitCode
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.remove.worker import share_cores
from autoblur.report.build import write_json_atomic
from autoblur.report.html import write_batch_html, write_video_html
from autoblur.rules import load_rules

SUMMARY_JSON = "batch_summary.json"
SUMMARY_CSV = "batch_summary.csv"
SUMMARY_HTML = "batch_report.html"


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch.

    Attributes:
        out_dir: where outputs, reports, the state file and the summary go.
        config: pipeline settings for every item.
        scan_only: detect and report, write no video.
        workers: items run at once (local executor).
        executor: ``local`` (processes on this machine) or ``ray``.
        gpus_per_task: GPUs Ray reserves for each item.
        html: also write self-contained HTML reports.
    """

    out_dir: Path
    config: PipelineConfig
    scan_only: bool = False
    workers: int = 1
    executor: str = "local"
    gpus_per_task: float = 0.0
    html: bool = False


def run_item(item: BatchItem, options: BatchOptions) -> dict:
    """Process one item; never raises for a bad video: the failure is in the result."""
    started = time.perf_counter()
    report_path = options.out_dir / Path(item.output_name).with_suffix(".report.json")
    output = None if options.scan_only else options.out_dir / item.output_name
    result: dict[str, Any] = {"key": item.key, "input": str(item.input_path)}
    try:
        if item.problem:
            raise ConfigError(item.problem)
        if output is not None and output.resolve() == item.input_path.resolve():
            raise ConfigError("the output would overwrite the input")
        report_path.parent.mkdir(parents=True, exist_ok=True)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
        rules = load_rules(item.rules_path, fallback_action=options.config.remove.default_action)
        job = Job(
            input_path=item.input_path,
            output_path=output,
            cues=rules.brands,
            config=options.config,
            rules=rules,
            report_path=report_path,
            thumbnails=options.html,
        )
        report = Pipeline(job).run()
        if options.html:
            write_video_html(report_path.with_suffix(".html"), report)
        found = report["brands_found"]
        status = "clean" if not found else ("found" if options.scan_only else "removed")
        verification = report.get("verification")
        reason = None
        if verification is not None and not verification["verified_clean"]:
            status = "residual"  # something was still found in the output
            frames = sorted({r["frame"] for r in verification["residual"]})
            reason = f"brands still found on frames {frames} after the second pass"
        result.update(
            status=status,
            reason=reason,
            brands=found,
            occurrences=len(report["occurrences"]),
            frames=report["input"]["frame_count"],
            output=None if output is None else str(output),
            report=str(report_path),
        )
    except AutoblurError as exc:
        result.update(
            status="failed", reason=str(exc), brands={}, occurrences=0, output=None, report=None
        )
    except Exception as exc:  # noqa: BLE001 - one broken item must never stop the batch
        result.update(
            status="failed",
            reason=f"{type(exc).__name__}: {exc}",
            brands={},
            occurrences=0,
            output=None,
            report=None,
        )
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _fingerprint(item: BatchItem, options: BatchOptions) -> dict:
    fingerprint = {"scan_only": options.scan_only, "config": options.config.model_dump(mode="json")}
    try:
        fingerprint["input"] = file_digest(item.input_path)
        fingerprint["rules"] = rules_digest(item.rules_path) if item.rules_path else None
    except (OSError, AutoblurError):
        fingerprint["input"] = None  # unreadable: the item runs and reports why
    return fingerprint


def _local_results(pending: list[BatchItem], options: BatchOptions) -> Iterator[dict]:
    if options.workers <= 1:
        for item in pending:
            yield run_item(item, options)
        return
    # Each item's inpainting workers take the item's share of the cores.
    with ProcessPoolExecutor(
        max_workers=options.workers, initializer=share_cores, initargs=(options.workers,)
    ) as pool:
        futures: set[Future] = {pool.submit(run_item, item, options) for item in pending}
        try:
            while futures:
                done, futures = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _ray_results(pending: list[BatchItem], options: BatchOptions) -> Iterator[dict]:
    ray = start_ray()
    remote = ray.remote(num_cpus=1, num_gpus=options.gpus_per_task)(run_item)
    waiting = [remote.remote(item, options) for item in pending]
    try:
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            for ref in done:
                yield ray.get(ref)
    except BaseException:
        for ref in waiting:
            ray.cancel(ref, force=True)
        raise


def _remove_stale_partials(out_dir: Path) -> None:
    """Delete temporary files a killed run left behind (never finished outputs)."""
    for partial in out_dir.rglob(".*.partial-*"):
        if partial.is_file():
            partial.unlink(missing_ok=True)


def run_batch(
    items: list[BatchItem], options: BatchOptions, on_result: Callable[[dict], None] | None = None
) -> dict:
    """Run every item not already finished with the same input and rules; write the summary.

    Returns:
        The summary: one entry per item and totals per status and brand.
    """
    options.out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(options.out_dir)
    state = BatchState(options.out_dir)
    results: dict[str, dict] = {}
    pending, fingerprints = [], {}
    for item in items:
        fingerprints[item.key] = _fingerprint(item, options)
        saved = state.finished(item.key, fingerprints[item.key])
        if saved is not None:
            results[item.key] = {**saved, "skipped": True}
        else:
            pending.append(item)
    runner = _ray_results if options.executor == "ray" else _local_results
    for result in runner(pending, options):
        result["fingerprint"] = fingerprints[result["key"]]
        state.record(result["key"], result)
        results[result["key"]] = {**result, "skipped": False}
        if on_result is not None:
            on_result(result)
    ordered = [results[item.key] for item in items]
    summary = _summary(ordered, options)
    write_json_atomic(options.out_dir / SUMMARY_JSON, summary)
    _write_csv(options.out_dir / SUMMARY_CSV, ordered)
    if options.html:
        write_batch_html(options.out_dir / SUMMARY_HTML, summary)
    return summary


def _summary(results: list[dict], options: BatchOptions) -> dict:
    brands: Counter[str] = Counter()
    for result in results:
        brands.update(result.get("brands") or {})
    statuses = Counter(r["status"] for r in results)
    return {
        "mode": "scan" if options.scan_only else "run",
        "items": [{k: v for k, v in r.items() if k != "fingerprint"} for r in results],
        "status_counts": dict(statuses),
        "brand_counts": dict(brands),
        "seconds": round(sum(r.get("seconds", 0.0) for r in results if not r["skipped"]), 3),
    }


def _write_csv(path: Path, results: list[dict]) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    columns = [
        "key",
        "input",
        "status",
        "reason",
        "brands",
        "occurrences",
        "seconds",
        "output",
        "report",
        "skipped",
    ]
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        for result in results:
            brands = ";".join(f"{b}:{n}" for b, n in sorted((result.get("brands") or {}).items()))
            writer.writerow({**result, "brands": brands})
    os.replace(partial, path)


def exit_code(summary: dict) -> int:
    """0 all clean or removed; 1 brands found in a scan; 3 some item failed; 4 residual."""
    counts = summary["status_counts"]
    if counts.get("failed"):
        return ExitCode.ITEM_FAILED
    if counts.get("residual"):
        return ExitCode.RESIDUAL
    return ExitCode.FOUND if counts.get("found") else ExitCode.OK
