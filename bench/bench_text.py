"""Wordmark detector benchmark: OCR time per keyframe at 720p and 1080p.

Frames of ../shared/data/videos/bigbuckbunny.mp4 (720p, and upscaled to 1080p) with the word
GLOBEX drawn on them; prints the mean and worst time of ``TextDetector.detect`` per keyframe
for the default OCR input cap (1280 px) and without a cap.

Usage: python bench/bench_text.py [--data ../shared/data] [--frames 8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import DetectConfig, TextDetectorConfig
from autoblur.io import VideoReader
from autoblur.types import BrandCue
from detectors.text import TextDetector

ROOT = Path(__file__).resolve().parent.parent


def keyframes(video: Path, count: int) -> list[np.ndarray]:
    """``count`` frames spread over the clip, with a word drawn on each."""
    with VideoReader(video) as reader:
        frames = [f.rgb for f in reader.frames() if f.index % 12 == 0][:count]
    for i, rgb in enumerate(frames):
        cv2.putText(
            rgb, "GLOBEX", (200 + 20 * i, 360), cv2.FONT_HERSHEY_DUPLEX, 3, (200, 20, 20), 7
        )
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    frames_720 = keyframes(args.data / "videos/bigbuckbunny.mp4", args.frames)
    sizes = {
        "1280x720": frames_720,
        "1920x1080": [
            cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in frames_720
        ],
    }
    cue = [BrandCue("Globex", "blur", text=("GLOBEX",))]
    print(f"{'frame size':<10} {'OCR cap':>8} {'mean ms':>8} {'max ms':>8} {'found':>6}")
    for cap in (1280, 1920):
        detector = TextDetector(cue, DetectConfig(text=TextDetectorConfig(max_side=cap)))
        detector.detect(frames_720[0])  # warm-up: ONNX sessions build lazily
        for name, frames in sizes.items():
            times, found = [], 0
            for rgb in frames:
                started = time.perf_counter()
                found += len(detector.detect(rgb)) > 0
                times.append(1000 * (time.perf_counter() - started))
            hits = f"{found}/{len(frames)}"
            print(f"{name:<10} {cap:>8} {np.mean(times):>8.0f} {max(times):>8.0f} {hits:>6}")


if __name__ == "__main__":
    main()
