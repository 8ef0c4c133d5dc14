"""Field-I/O benchmark: each corpus master through ``run --mode blur``.

The corpus (``bench/make_io_corpus.py``) is written from ../shared/data/videos/bigbuckbunny.mp4
with the Windows logo composited on some frames. Per case it prints: does it run, the format
that comes out, which properties survive, the share of untouched frames whose packets are
byte-identical to the input's, and the run's time against a plain PyAV decode+encode of the
whole file in the same codec (``encode.copy_untouched`` off).

Cases ``h264:short`` and ``hevc10:short`` have the logo on frames 10-17 only: their unchanged
GOPs are copied.

Targets (issue 15): ``prores`` with the logo on under 10% of its frames at most 0.5x the plain
re-encode with at least 95% of the untouched packets identical; ``h264`` (720p, the logo on
every frame) at most 1.3x.

The machine is shared and noisy: ``--repeat N`` times the plain and the blur run N times each,
alternating, and prints the median ratio with its range.

``--floor`` also times ``render`` of a scan's saved masks without verification, alternating
with the others: applying the masks alone (decode, blur, re-encode; no detection, no
tracking), which no blur run can go below.

Usage: python bench/bench_io.py [--data ../shared/data] [--frames 100] [--size 1280x720]
    [--cases prores,h264,...] [--repeat N] [--floor]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import av

from autoblur.config import EncodeConfig, load_config
from autoblur.errors import AutoblurError
from autoblur.io import VideoReader, VideoWriter
from autoblur.pipeline import Job, Pipeline
from autoblur.render import render_video
from autoblur.synth import composite_logo, moving_placement
from autoblur.types import BrandCue
from bench.make_io_corpus import CASES, clip_frames, video_props, write_case
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent
# Frames with the logo on: a short appearance for the intra-only masters (and the long-GOP
# cases named NAME:short), else every frame.
SHORT_APPEARANCE = (10, 17)
INTRA = {"prores", "dnxhr", "mjpeg_avi", "dv"}
SHORT_TOO = ("h264", "hevc10")


def plain_transcode(src: Path, dst: Path) -> float:
    """Seconds to decode ``src`` and re-encode every frame in its own format."""
    started = time.perf_counter()
    with (
        VideoReader(src) as reader,
        VideoWriter(
            dst, reader.info, EncodeConfig(copy_untouched=False), reader.audio_streams
        ) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            writer.write(frame, None)
    return time.perf_counter() - started


def blur_run(src: Path, dst: Path, logo: Path) -> tuple[float, dict]:
    """Seconds and report of ``run --mode blur`` in this process."""
    config = load_config(None, {"remove": {"mode": "blur"}})
    cue = BrandCue(name=logo.stem, action="blur", logos=(logo,))
    started = time.perf_counter()
    report = Pipeline(Job(input_path=src, output_path=dst, cues=[cue], config=config)).run()
    return time.perf_counter() - started, report


def save_masks(src: Path, logo: Path, report: Path) -> None:
    """Scan ``src`` for the logo, saving its detections (masks per frame) to ``report``."""
    cue = BrandCue(name=logo.stem, action="blur", logos=(logo,))
    job = Job(
        input_path=src, output_path=None, cues=[cue], config=load_config(None), report_path=report
    )
    Pipeline(job).run()


def video_packets(path: Path) -> list[bytes]:
    """The video packets' bytes in display order (as intra-only codecs store them)."""
    with av.open(str(path)) as container:
        found = [p for p in container.demux(video=0) if p.size]
    return [bytes(p) for p in sorted(found, key=lambda p: p.pts if p.pts is not None else 0)]


def identical_share(src: Path, out: Path, touched: set[int]) -> str:
    """Share of the untouched frames whose packet in ``out`` is byte-identical to ``src``'s."""
    before, after = video_packets(src), video_packets(out)
    untouched = [i for i in range(min(len(before), len(after))) if i not in touched]
    if not untouched:
        return "n/a (no untouched frame)"
    same = sum(before[i] == after[i] for i in untouched)
    return f"{100 * same / len(untouched):.0f}% of {len(untouched)}"


def composite_frames(data: Path, logo: Path, frames: int, size: tuple[int, int], on: tuple):
    """Frames of the shared clip with the logo moving over frames ``on`` (first, last)."""
    rgb, _ = read_logo(logo)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "composite.mp4"
        composite_logo(
            data / "videos" / "bigbuckbunny.mp4",
            logo,
            clip,
            moving_placement(rgb.shape[:2], start_frame=on[0], end_frame=on[1], speed_px=6),
            max_frames=frames,
        )
        return clip_frames(clip, frames, size)


def cpu_seconds() -> float:
    """CPU time of this process so far, all its threads (decoder, encoder, OpenCV) together."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Write the corpus, run each case, print one block per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument(
        "--cases",
        default=",".join([*CASES, *(f"{c}:short" for c in SHORT_TOO)]),
        help="corpus cases; NAME:short puts the logo on frames 10-17 only",
    )
    parser.add_argument("--repeat", type=int, default=1, help="time each run this many times")
    parser.add_argument(
        "--floor", action="store_true", help="also time a render of saved masks, unverified"
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    logo = args.data / "images" / "WindowsLogo.jpg"
    short = composite_frames(args.data, logo, args.frames, size, SHORT_APPEARANCE)
    always = composite_frames(args.data, logo, args.frames, size, (0, args.frames - 1))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for label in args.cases.split(","):
            name, _, appearance = label.partition(":")
            frames = short if appearance == "short" or name in INTRA else always
            folder = tmp / label.replace(":", "_")
            folder.mkdir()
            src = write_case(name, folder, frames)
            out = folder / f"out_{src.name}"
            plains, runs, floors = [], [], []
            try:
                cpu_ratios, floor_cpu_ratios = [], []
                if args.floor:
                    save_masks(src, logo, folder / "scan.json")
                for _ in range(args.repeat):
                    started = cpu_seconds()
                    plains.append(plain_transcode(src, folder / f"plain_{src.name}"))
                    plain_cpu, started = cpu_seconds() - started, cpu_seconds()
                    seconds, report = blur_run(src, out, logo)
                    cpu_ratios.append((cpu_seconds() - started) / plain_cpu)
                    runs.append(seconds)
                    if args.floor:
                        started, wall = cpu_seconds(), time.perf_counter()
                        render_video(
                            src, folder / "scan.json", folder / f"render_{src.name}", verify=False
                        )
                        floors.append((time.perf_counter() - wall) / plains[-1])
                        floor_cpu_ratios.append((cpu_seconds() - started) / plain_cpu)
            except AutoblurError as exc:
                print(f"{label}: FAILS: {exc}")
                continue
            ratios = [run / plain for run, plain in zip(runs, plains, strict=True)]
            spread = f", {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} runs"
            plan = report["output_format"]
            before, after = video_props(src), video_props(out)
            kept = [k for k in before if before[k] == after[k]]
            lost = [f"{k} {before[k]} -> {after[k]}" for k in before if before[k] != after[k]]
            touched = {
                i for t in report["tracks"] for i in range(t["first_frame"], t["last_frame"] + 1)
            }
            share = identical_share(src, out, touched)
            print(
                f"{label}: runs; {report['input']['frame_count']} frames "
                f"{size[0]}x{size[1]}, logo tracked on {len(touched)}\n"
                f"  out: {plan['codec']} {plan['profile'] or ''} {plan['pix_fmt']} in "
                f"{plan['container']}; copied {plan['frames_copied']}, re-encoded "
                f"{plan['frames_encoded']}\n"
                f"  kept: {', '.join(kept)}; changed: {'; '.join(lost) or 'none'}\n"
                f"  untouched packets identical: {share}\n"
                f"  time: blur run {statistics.median(runs):.2f} s, plain decode+encode "
                f"{statistics.median(plains):.2f} s ({statistics.median(ratios):.2f}x{spread}); "
                f"CPU time {statistics.median(cpu_ratios):.2f}x "
                f"({min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})"
            )
            if floors:
                print(
                    f"  floor: render of the saved masks, unverified, "
                    f"{statistics.median(floors):.2f}x ({min(floors):.2f}-{max(floors):.2f}); "
                    f"CPU time {statistics.median(floor_cpu_ratios):.2f}x "
                    f"({min(floor_cpu_ratios):.2f}-{max(floor_cpu_ratios):.2f})"
                )


if __name__ == "__main__":
    main()
