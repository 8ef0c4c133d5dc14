"""Pipeline benchmark: speed against plain transcoding, and memory against video length.

On ../shared/data/videos/bigbuckbunny.mp4 (720p) with a composited moving logo, prints:
- fps of ``run --mode blur`` and ``run --mode inpaint``;
- the time of a plain PyAV decode+encode of the same clip (same encoder settings), and the
  ratio of the blur run to it (target: at most 2.5x);
- peak RSS of a blur and of an inpaint run on the clip and on the clip repeated 10 times
  (target: within 10%).

Usage: python bench/bench_pipeline.py [--data ../shared/data] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoblur.config import EncodeConfig, load_config
from autoblur.io import VideoReader, VideoWriter
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.synth import composite_logo, moving_placement
from autoblur.types import BrandCue
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent


def plain_transcode(src: Path, dst: Path, encode: EncodeConfig) -> float:
    """Seconds to decode ``src`` and encode every frame unchanged (audio copied).

    Every frame is re-encoded: untouched frames are not copied (``copy_untouched`` off).
    """
    encode = encode.model_copy(update={"copy_untouched": False})
    started = time.perf_counter()
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, encode, reader.audio_streams) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            writer.write(frame, None)
    return time.perf_counter() - started


def removal_run(src: Path, dst: Path, logo: Path, mode: str) -> dict:
    """Run the pipeline in this process; return its report."""
    config = load_config(None, {"remove": {"mode": mode}})
    cue = BrandCue(name=logo.stem, action=mode, logos=(logo,))
    return Pipeline(Job(input_path=src, output_path=dst, cues=[cue], config=config)).run()


def repeat_clip(src: Path, dst: Path, times: int) -> None:
    """Write ``src`` ``times`` times in a row as one video (timestamps continued)."""
    with VideoReader(src) as first:
        info = first.info
    with VideoWriter(dst, info, EncodeConfig(crf=18, preset="veryfast")) as writer:
        offset = 0
        for _ in range(times):
            last = 0
            with VideoReader(src) as reader:
                for frame in reader.frames():
                    last = frame.pts
                    frame.pts += offset
                    writer.write(frame, None)
            offset += last + round(1 / (info.fps * info.time_base))


def child_peak_rss(src: Path, logo: Path, out: Path, mode: str) -> tuple[float, int]:
    """Peak RSS (MiB) and frame count of a removal run (``mode``) in a fresh process.

    The peak is the child's own (VmHWM): its ``ru_maxrss`` would also count the pages it
    shared with this process between fork and exec, so it could not be below this process's
    size at that moment.
    """
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(ROOT)!r});"
        "from bench.bench_pipeline import own_peak_rss, removal_run; from pathlib import Path;"
        f"r = removal_run(Path({str(src)!r}), Path({str(out)!r}), Path({str(logo)!r}), {mode!r});"
        "print(json.dumps([own_peak_rss(), r['input']['frame_count']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    rss, frames = json.loads(result.stdout.strip().splitlines()[-1])
    return rss, frames


def own_peak_rss() -> float:
    """This process's peak resident memory in MiB (VmHWM where /proc has it)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    logo = args.data / "images" / "WindowsLogo.jpg"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = tmp / "bunny_logo.mp4"
        rgb, _ = read_logo(logo)
        composite_logo(
            args.data / "videos/bigbuckbunny.mp4",
            logo,
            clip,
            moving_placement(rgb.shape[:2], start_frame=10, speed_px=6),
        )
        encode = load_config(None).encode
        plain = plain_transcode(clip, tmp / "plain.mp4", encode)
        rows = []
        for mode in ("blur", "inpaint"):
            report = removal_run(clip, tmp / f"{mode}.mp4", logo, mode)
            rows.append(
                (
                    mode,
                    report["timing"]["seconds"],
                    report["timing"]["fps"],
                    report["input"]["frame_count"],
                )
            )
        frames = rows[0][3]
        print(f"clip: bigbuckbunny.mp4 1280x720, {frames} frames, WindowsLogo composited")
        print(f"plain decode+encode   {plain:7.2f} s  {frames / plain:6.1f} fps")
        for mode, seconds, fps, _ in rows:
            ratio = seconds / plain
            print(f"run --mode {mode:<8} {seconds:7.2f} s  {fps:6.1f} fps  ({ratio:.2f}x plain)")
        long_clip = tmp / "bunny_long.mp4"
        repeat_clip(clip, long_clip, args.repeat)
        for mode in ("blur", "inpaint"):
            rss_1, n_1 = child_peak_rss(clip, logo, tmp / "rss1.mp4", mode)
            rss_n, n_n = child_peak_rss(long_clip, logo, tmp / "rssn.mp4", mode)
            print(
                f"peak RSS, {mode} run: {n_1} frames {rss_1:.0f} MiB; {n_n} frames "
                f"{rss_n:.0f} MiB ({100 * (rss_n / rss_1 - 1):+.1f}%)"
            )


if __name__ == "__main__":
    main()
