"""Render benchmark: ``render`` from a scan's saved detections against ``run --mode blur``.

On ../shared/data/videos/bigbuckbunny.mp4 (720p, 132 frames) with the Windows logo
composited, once on screen from frame 10 to the end and once only for frames 10-39, prints
the wall and CPU seconds (every thread of the process, the encoder's included) of a plain
decode+encode, of ``run --mode blur``, of ``scan --report`` and of ``render`` (blur), the
ratio render/run (target: at most 0.8x), and how far the render's pixels are from the run's
(they share the masks, so they should match up to codec noise). On a shared machine the CPU
seconds are the steadier figure.

Usage: python bench/bench_render.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.render import render_video
from autoblur.synth import composite_logo, moving_placement
from autoblur.types import BrandCue
from bench.bench_pipeline import plain_transcode
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of ``work()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def pipeline(src: Path, logo: Path, output: Path | None, report: Path | None) -> Pipeline:
    """A blur run (``output`` given) or a scan saving its detections (``report`` given)."""
    config = load_config(None, {"remove": {"mode": "blur"}} if output else None)
    cue = BrandCue(name=logo.stem, action="blur", logos=(logo,))
    job = Job(input_path=src, output_path=output, cues=[cue], config=config, report_path=report)
    return Pipeline(job)


def mean_difference(a: Path, b: Path) -> float:
    """Mean absolute RGB difference between two videos' frames."""
    with VideoReader(a) as first, VideoReader(b) as second:
        diffs = [
            np.abs(x.rgb.astype(np.int16) - y.rgb).mean()
            for x, y in zip(first.frames(), second.frames(), strict=True)
        ]
    return float(np.mean(diffs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    logo = args.data / "images" / "WindowsLogo.jpg"
    rgb, _ = read_logo(logo)
    encode = load_config(None).encode
    print(
        "| logo on screen | plain decode+encode | run --mode blur | scan --report | render | "
        "render / run | render vs run pixels |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label, end_frame in (("frames 10-131", None), ("frames 10-39", 39)):
            clip = tmp / "clip.mp4"
            composite_logo(
                args.data / "videos/bigbuckbunny.mp4",
                logo,
                clip,
                moving_placement(rgb.shape[:2], start_frame=10, end_frame=end_frame, speed_px=6),
            )
            plain = timed(partial(plain_transcode, clip, tmp / "plain.mp4", encode))
            run = timed(pipeline(clip, logo, tmp / "run.mp4", None).run)
            scan = timed(pipeline(clip, logo, None, tmp / "scan.json").run)
            render = timed(partial(render_video, clip, tmp / "scan.json", tmp / "render.mp4"))
            diff = mean_difference(tmp / "run.mp4", tmp / "render.mp4")
            cells = " | ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in (plain, run, scan, render))
            ratio = f"{render[0] / run[0]:.2f}x wall, {render[1] / run[1]:.2f}x CPU"
            print(f"| {label} | {cells} | {ratio} | {diff:.3f} (mean abs, 0-255) |")


if __name__ == "__main__":
    main()
