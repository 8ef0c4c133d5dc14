"""Every GPU figure in one run: one table on stdout, also written as JSON into ``--out``.

Steps (``bench/gpu_steps.py``): Grounding-DINO tiny per keyframe (720p and 1080p, batch 1 and
4, fp32/bf16/fp16), SAM ViT-B/L/H embedding + masks per keyframe, DeAOT at 480p/720p with 1,
3 and 10 objects, E2FGVI and E2FGVI-HQ per frame on crops and on the full frame, NVENC
(h264_nvenc, hevc_nvenc) against libx264 through PyAV, and the whole pipeline at 1080p
(prompts + SAM + DeAOT + E2FGVI-HQ) with 1 and 3 logos for 300 frames, then at 100 and 1,000
frames for peak GPU memory. Each step runs in its own process under its own time limit: a step
that overruns is recorded as timed out and the suite goes on; the whole suite stops starting
steps once ``--budget`` seconds are spent. ``--smoke`` runs the same steps on the CPU at tiny
sizes, so that the suite cannot rot. Exit code 1 when a step failed, timed out or was not run.

Usage: bench/gpu_suite.sh [--smoke] [--out DIR] [--only STEP ...] [--budget 470] [--parallel N]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Time limits in seconds (full run, smoke run), in the order the steps run.
LIMITS = {
    "encode": (40, 30),
    "grounding_dino": (70, 40),
    "sam": (80, 40),
    "deaot": (45, 40),
    "e2fgvi": (60, 60),
    "pipeline": (100, 60),
    "pipeline_memory": (130, 60),
}


def run_suite(
    steps: list[str], smoke: bool, device: str, out: Path, budget: float, parallel: int = 1
) -> tuple[list[dict], int]:
    """Run ``steps`` one process each, ``parallel`` at a time; every row (one per failed step
    too), and the failures."""
    rows_file = out / "rows.jsonl"
    rows_file.write_text("")
    started = time.monotonic()

    def one(name: str) -> dict | None:
        left = budget - (time.monotonic() - started)
        if left < 5:
            return _row(name, f"not run: the suite's {budget:.0f} s budget is spent")
        limit = min(LIMITS[name][1 if smoke else 0], left)
        step_started = time.monotonic()
        failure = None
        with tempfile.TemporaryDirectory() as work:
            command = [sys.executable, "-m", "bench.gpu_suite", "--step", name, "--device",
                       device, "--rows", str(rows_file), "--work", work]  # fmt: skip
            if smoke:
                command.append("--smoke")
            try:
                done = subprocess.run(
                    command, cwd=ROOT, capture_output=True, text=True, timeout=limit, check=False
                )
            except subprocess.TimeoutExpired:
                failure = _row(name, f"timed out after {limit:.0f} s")
            else:
                if done.returncode != 0:
                    lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
                    failure = _row(name, f"failed: {lines[-1]}")
                    (out / f"{name}.stderr.txt").write_text(done.stderr)
        print(f"[{name}: {time.monotonic() - step_started:.0f} s]", file=sys.stderr, flush=True)
        return failure

    # Each step appends its rows to the file in single short writes, so steps side by side
    # do not mix their lines.
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        failures = [f for f in pool.map(one, steps) if f is not None]
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    return sorted(rows + failures, key=lambda row: steps.index(row["step"])), len(failures)


def _row(step: str, note: str) -> dict:
    return {"step": step, "case": "-", "value": None, "unit": "", "peak_gpu_mib": None,
            "note": note}  # fmt: skip


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = ["| step | case | value | peak GPU MiB | note |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        value = "-" if r["value"] is None else f"{r['value']:.2f} {r['unit']}"
        peak = "-" if r["peak_gpu_mib"] is None else f"{r['peak_gpu_mib']:.0f}"
        lines.append(f"| {r['step']} | {r['case']} | {value} | {peak} | {r['note']} |")
    return "\n".join(lines)


def machine(device: str) -> dict:
    """What the figures were taken on."""
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "device": device}
    if torch.cuda.is_available() and device != "cpu":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "gpu_suite")
    parser.add_argument("--only", nargs="+", choices=list(LIMITS), help="run these steps only")
    parser.add_argument("--device", default=None, help="default: cpu with --smoke, else auto")
    parser.add_argument("--budget", type=float, help="seconds for all steps (470; smoke 280)")
    parser.add_argument(
        "--parallel", type=int, default=1,
        help="steps run side by side (a smoke run's steps use one thread each; GPU steps: 1)",
    )  # fmt: skip
    parser.add_argument("--step", choices=list(LIMITS), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = args.device or ("cpu" if args.smoke else "auto")
    if args.step:  # one step, in the process the suite started for it
        from bench.gpu_steps import run_step

        run_step(args.step, args.smoke, device, args.rows, args.work)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    budget = args.budget or (280 if args.smoke else 470)
    rows, failures = run_suite(
        args.only or list(LIMITS), args.smoke, device, args.out, budget, args.parallel
    )
    result = {**machine(device), "smoke": args.smoke, "seconds": time.monotonic() - started,
              "rows": rows}  # fmt: skip
    (args.out / "gpu_suite.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "gpu_suite.md").write_text(table(rows) + "\n")
    print(table(rows))
    print(f"{result['seconds']:.0f} s on {result.get('gpu', device)}; JSON: {args.out}")
    if failures:
        sys.exit(f"gpu_suite: {failures} step(s) failed, timed out or were not run")


if __name__ == "__main__":
    main()
