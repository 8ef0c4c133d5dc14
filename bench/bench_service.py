"""Service benchmark: jobs per hour with 1 and 2 workers, and API latency while they work.

Starts a real ``autoblur serve`` on 127.0.0.1 for each worker count, submits 20 short clips
(the first 48 frames of examples/sample.mp4, 640x360, as ``remove`` jobs with a logo-only
rule file), and while they run sends ``GET /api/jobs/{id}`` 20 times a second, one request at
a time, as a client following its jobs would. Prints jobs per hour (first submit to last
finish), the p50/p99 of those requests' latency, and the machine's load average.

Usage: python bench/bench_service.py [--clips 20] [--frames 48] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tests.service_server import SAMPLE, Server, logo_rules, trim

_POLL_S = 0.05


def run(workers: int, clips: list[Path], rules: Path, folder: Path) -> dict:
    """One server with ``workers`` workers: every clip as a job; throughput and latency."""
    server = Server(folder / f"data-{workers}", [folder], "--workers", str(workers)).wait_ready()
    try:
        started = time.perf_counter()
        ids = [
            server.submit(
                input=clip, rules=rules, mode="remove", output=folder / f"out-{workers}" / clip.name
            )  # fmt: skip
            for clip in clips
        ]
        latencies: list[float] = []
        pending = set(ids)
        index = 0
        while pending:
            job_id = ids[index % len(ids)]
            index += 1
            sent = time.perf_counter()
            job = server.job(job_id)
            latencies.append(time.perf_counter() - sent)
            time.sleep(_POLL_S)
            if job["status"] != "queued" and job["status"] != "running":
                if job["status"] != "done":
                    raise SystemExit(f"job {job_id} {job['status']}: {job['error']}")
                pending.discard(job_id)
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    latencies.sort()
    return {
        "workers": workers,
        "jobs": len(clips),
        "seconds": round(seconds, 1),
        "jobs_per_hour": round(len(clips) / seconds * 3600),
        "requests": len(latencies),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
        "load_average_1min": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_service_"))
    try:
        first = trim(SAMPLE, folder / "clip00.mp4", args.frames)
        clips = [first]
        for number in range(1, args.clips):
            clips.append(Path(shutil.copy(first, folder / f"clip{number:02d}.mp4")))
        for count in args.workers:
            (folder / f"out-{count}").mkdir()
        rows = [run(count, clips, logo_rules(folder), folder) for count in args.workers]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(rows, indent=2))
    print(
        "| workers | jobs | seconds | jobs/hour | GET /api/jobs/{id} p50 | p99 | requests | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['workers']} | {row['jobs']} | {row['seconds']} | {row['jobs_per_hour']} "
            f"| {row['p50_ms']} ms | {row['p99_ms']} ms | {row['requests']} "
            f"| {row['load_average_1min']:.1f} |"
        )


if __name__ == "__main__":
    main()
