"""DeAOT tracker benchmark: fps for 1 and 5 objects at 480p and 720p, memory over length.

Tracks boxes on frames of ../shared/data/videos/bigbuckbunny.mp4 (scaled to 480p and 720p)
through ``DeAOTPropagator`` as the pipeline's forward pass does: a keyframe every
``--interval`` frames re-seeds the memory. Speed does not depend on the weights, so the
official checkpoint is used when present and random weights otherwise. Prints fps per setting
and the memory in use after 100 frames and after ``--long`` frames (GPU memory on CUDA, the
process's resident memory on a CPU): flat means memory does not grow with length.

Usage: python bench/bench_deaot.py [--device auto] [--frames 60] [--long 1000]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.models import checkpoint_path, load_manifest
from autoblur.track.deaot.model import DeAOT
from autoblur.track.deaot.propagator import DeAOTPropagator
from autoblur.types import RegionMask

ROOT = Path(__file__).resolve().parent.parent


def clip(video: Path, count: int, height: int) -> list[np.ndarray]:
    frames = []
    with VideoReader(video) as reader:
        for frame in reader.frames():
            rgb = frame.rgb
            width = round(rgb.shape[1] * height / rgb.shape[0] / 2) * 2
            frames.append(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
            if len(frames) == count:
                break
    return frames


def objects(frame_hw: tuple[int, int], count: int) -> dict[int, RegionMask]:
    """``count`` (up to 15) boxes, a tenth of the width each, five to a row; ids from 1."""
    h, w = frame_hw
    masks = {}
    for i in range(count):
        dense = np.zeros((h, w), bool)
        x0, y0 = int(w * (0.1 + 0.16 * (i % 5))), int(h * (0.4 + 0.2 * (i // 5)))
        dense[y0 : y0 + h // 8, x0 : x0 + w // 10] = True
        masks[i + 1] = RegionMask.from_dense(dense)
    return masks


def memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(propagator: DeAOTPropagator, frames, count: int, total: int, interval: int) -> float:
    """Seconds per frame tracking ``count`` objects over ``total`` frames (frames repeat)."""
    propagator.reset()
    starts = objects(frames[0].shape[:2], count)
    done, started = 0, time.perf_counter()
    while done < total:
        first = done % (len(frames) - interval)
        window = frames[first : first + interval + 1]
        result = propagator.propagate(window, starts, continues=True)
        starts = {**objects(frames[0].shape[:2], count), **result[-1]}
        done += interval
    if propagator.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=60, help="frames per speed setting")
    parser.add_argument("--long", type=int, default=1000, help="frames of the memory run")
    parser.add_argument("--interval", type=int, default=12, help="keyframe interval")
    args = parser.parse_args()
    config = load_config(None, {"device": args.device, "track": {"backend": "deaot"}})
    model = DeAOT()
    path = checkpoint_path(load_manifest().get("deaot_r50_l"))
    weights = "official checkpoint" if path.is_file() else "random weights"
    if path.is_file():
        from autoblur.models.torch_io import load_checkpoint

        load_checkpoint(model, path)
    propagator = DeAOTPropagator(config, model)
    print(f"device: {propagator.device}; {weights}; working side {config.track.deaot.max_side}")
    video = args.data / "videos" / "bigbuckbunny.mp4"
    for height in (480, 720):
        frames = clip(video, 48, height)
        for count in (1, 5):
            run(propagator, frames, count, args.interval, args.interval)  # warm-up
            seconds = run(propagator, frames, count, args.frames, args.interval)
            print(f"{height}p, {count} object(s): {1 / seconds:.2f} fps")
    frames = clip(video, 48, 720)
    if propagator.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run(propagator, frames, 5, 100, args.interval)
    after_100 = memory_mb(propagator.device)
    run(propagator, frames, 5, args.long, args.interval)
    after_long = memory_mb(propagator.device)
    kind = "GPU memory allocated" if propagator.device.type == "cuda" else "peak RSS"
    print(
        f"720p, 5 objects, {kind}: {after_100:.0f} MiB after 100 frames, "
        f"{after_long:.0f} MiB after {args.long} frames"
    )


if __name__ == "__main__":
    main()
