"""E2FGVI inpainter benchmark: fps, peak memory over length, and in-mask PSNR.

Composites the Windows logo (moving) onto ../shared/data/videos/bigbuckbunny.mp4 scaled to
720p and 1080p, runs the ``e2fgvi`` or ``e2fgvi-hq`` inpainter with the true masks over
``--frames`` and ``--long`` frames (the clip repeats), and prints fps, the memory in use
(GPU memory allocated on CUDA, peak RSS on a CPU) after each length, and the in-mask PSNR
against the clean frames. Uses the official checkpoint when present; with random weights
(no checkpoint) the speed and memory figures hold but the PSNR means nothing.

Usage: python bench/bench_e2fgvi.py [--variant e2fgvi-hq] [--frames 100] [--long 1000]
       [--heights 720 1080] [--clip-frames 60] [--max-side 432]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.io.reader import VideoFrame
from autoblur.models import checkpoint_path, load_manifest
from autoblur.remove import MaskedFrame
from autoblur.remove.e2fgvi.inpainter import E2fgviInpainter
from autoblur.remove.e2fgvi.model import InpaintGenerator
from autoblur.synth import composite_logo, moving_placement
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent


def scaled(path: Path, height: int, count: int) -> list[np.ndarray]:
    out = []
    with VideoReader(path) as reader:
        for frame in itertools.islice(reader.frames(), count):
            width = round(frame.rgb.shape[1] * height / frame.rgb.shape[0] / 2) * 2
            out.append(cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_AREA))
    return out


def memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--variant", choices=["e2fgvi", "e2fgvi-hq"], default="e2fgvi-hq")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--long", type=int, default=1000)
    parser.add_argument("--heights", type=int, nargs="+", default=[720, 1080])
    parser.add_argument("--clip-frames", type=int, default=60, help="the clip repeats after")
    parser.add_argument("--max-side", type=int, default=432, help="HQ working size cap")
    args = parser.parse_args()
    hq = args.variant == "e2fgvi-hq"
    entry = load_manifest().get("e2fgvi_hq" if hq else "e2fgvi")
    model = InpaintGenerator(hq)
    weights = "random weights (PSNR meaningless)"
    if checkpoint_path(entry).is_file():
        from autoblur.models.torch_io import load_checkpoint

        load_checkpoint(model, checkpoint_path(entry), entry)
        weights = "official checkpoint"
    config = load_config(
        None, {"device": args.device, "remove": {"e2fgvi": {"max_side": args.max_side}}}
    )
    inpainter = E2fgviInpainter(config, hq=hq, model=model)
    print(f"{args.variant} on {inpainter.device}, {weights}")
    logo = args.data / "images" / "WindowsLogo.jpg"
    video = args.data / "videos" / "bigbuckbunny.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        for height in args.heights:
            source = Path(tmp) / f"clean_{height}.mp4"
            clean = scaled(video, height, args.clip_frames)
            _write(source, clean)
            placement = moving_placement(read_logo(logo)[0].shape[:2], width_frac=0.15)
            composite = composite_logo(source, logo, Path(tmp) / f"c{height}.mp4", placement)
            with VideoReader(composite.path) as reader:
                frames = [VideoFrame(f.index, f.pts, f.time_s, rgb=f.rgb) for f in reader.frames()]
            for length in (args.frames, args.long):
                if inpainter.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                items = (
                    MaskedFrame(
                        _copy(frames[i % len(frames)]),
                        {"inpaint": composite.masks[i % len(frames)].dilate(6)}
                        if composite.masks[i % len(frames)] is not None
                        else {},
                    )
                    for i in range(length)
                )
                started = time.perf_counter()
                se = n = 0.0
                for i, item in enumerate(inpainter(items)):
                    mask = composite.masks[i % len(frames)]
                    if mask is not None:
                        inside = mask.to_dense()
                        diff = item.frame.rgb[inside].astype(float) - clean[i % len(frames)][inside]
                        se, n = se + float((diff**2).sum()), n + diff.size
                seconds = time.perf_counter() - started
                psnr = 10 * np.log10(255**2 / max(se / max(n, 1), 1e-9))
                print(
                    f"{height}p, {length} frames: {length / seconds:.2f} fps, memory "
                    f"{memory_mb(inpainter.device):.0f} MiB, in-mask PSNR {psnr:.2f} dB"
                )


def _copy(frame: VideoFrame) -> VideoFrame:
    return VideoFrame(frame.index, frame.pts, frame.time_s, rgb=frame.rgb.copy())


def _write(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


if __name__ == "__main__":
    main()
