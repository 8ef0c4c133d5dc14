"""Make docs/sample_strip.png: frames of the bundled sample before and after `autoblur run`.

Runs the README's command (the sample with brand_lists/kr.yaml) unless --clean gives its
output already, and puts a few frames of the input (top row) over the same frames of the
output (bottom row).

Usage: python bench/sample_strip.py [--clean sample_clean.mp4] [--frames 12 40 75 110]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples/sample.mp4"
TILE_WIDTH = 180


def frames_at(path: Path, indices: list[int]) -> list[np.ndarray]:
    """The (H, W, 3) uint8 RGB frames of ``path`` at ``indices``, in that order."""
    wanted = set(indices)
    found = {}
    with VideoReader(path) as reader:
        for frame in reader.frames():
            if frame.index in wanted:
                found[frame.index] = frame.rgb.copy()
            if len(found) == len(wanted):
                break
    return [found[i] for i in indices]


def strip(before: list[np.ndarray], after: list[np.ndarray], indices: list[int]) -> np.ndarray:
    """Input frames over output frames, each ``TILE_WIDTH`` wide, with white gaps."""
    rows = []
    for images in (before, after):
        tiles = []
        for image in images:
            scale = TILE_WIDTH / image.shape[1]
            tiles.append(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
            tiles.append(np.full((tiles[-1].shape[0], 4, 3), 255, np.uint8))
        rows.append(np.hstack(tiles[:-1]))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    for column, index in enumerate(indices):
        cv2.putText(
            rows[0],
            f"frame {index}",
            (column * (TILE_WIDTH + 4) + 6, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return np.vstack(rows[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", type=Path, help="the sample's output, if already made")
    parser.add_argument("--frames", type=int, nargs="+", default=[12, 40, 75, 110])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/sample_strip.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clean = args.clean
        if clean is None:
            clean = Path(tmp) / "sample_clean.mp4"
            config = load_config()
            rules = load_rules(ROOT / "brand_lists/kr.yaml", config.remove.default_action)
            Pipeline(Job(SAMPLE, clean, rules.brands, config, rules=rules)).run()
        image = strip(frames_at(SAMPLE, args.frames), frames_at(clean, args.frames), args.frames)
    cv2.imwrite(
        str(args.out), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
