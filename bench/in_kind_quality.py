"""Quality of the in-kind re-encodes: each field corpus case written again with frames 0-2 painted.

Per case it prints the lowest PSNR of the untouched frames against the input's (copied ones
are exact), and of the painted frames outside the painted box, both over every decoded RGB
pixel; and the file sizes.

Usage: python bench/in_kind_quality.py [--data ../shared/data] [--frames 12] [--size 640x360]
    [--cases mpeg2_ps,sd_ts,...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from bench.bench_io import ROOT, composite_frames
from bench.make_io_corpus import write_case

BOX = (16, 16, 64, 48)  # x0, y0, x1, y1 painted on frames 0-2
PAINTED = 3
FIELD_CASES = "mpeg2_ps,sd_ts,mjpeg_avi,dv,ffv1,wmv,vp8_ogv,xavc_mxf"


def rewrite(src: Path, dst: Path) -> None:
    """``src`` written again in its own format, a red box on its first frames."""
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, EncodeConfig(), reader.copied_streams) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            box = None
            if frame.index < PAINTED:
                x0, y0, x1, y1 = box = BOX
                frame.rgb[y0:y1, x0:x1] = (255, 0, 0)
            writer.write(frame, box)


def decoded(path: Path) -> list[np.ndarray]:
    """Every frame as (H, W, 3) float RGB."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(float) for f in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def main() -> None:
    """Write each case, rewrite it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--cases", default=FIELD_CASES)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    logo = args.data / "images" / "WindowsLogo.jpg"
    frames = composite_frames(args.data, logo, args.frames, size, (args.frames, args.frames))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for case in args.cases.split(","):
            src = write_case(case, tmp, frames)
            out = tmp / f"out_{src.name}"
            rewrite(src, out)
            before, after = decoded(src), decoded(out)
            pairs = list(zip(before, after, strict=True))
            untouched = min(psnr(a, b) for a, b in pairs[PAINTED:])
            outside = np.ones(before[0].shape[:2], bool)
            x0, y0, x1, y1 = BOX
            outside[y0:y1, x0:x1] = False
            painted = min(psnr(a[outside], b[outside]) for a, b in pairs[:PAINTED])
            print(
                f"{case}: untouched frames min {untouched:.1f} dB, painted frames outside the "
                f"box min {painted:.1f} dB; {src.stat().st_size // 1000} kB -> "
                f"{out.stat().st_size // 1000} kB"
            )


if __name__ == "__main__":
    main()
