"""Speed against the targets of issue 29, every figure from the command line as a user runs it.

Measured in child processes of ``python -m autoblur`` (wall seconds include starting Python, as
a user waits for them; CPU seconds are the children's user + system time):

- the README sample: ``run examples/sample.mp4 -o OUT --rules brand_lists/kr.yaml`` (target at
  most 20 s);
- ``run --mode blur`` against a plain PyAV decode+encode of the same file at the same encoder
  settings (``bench.bench_pipeline.plain_transcode``), 720p long-GOP H.264 (Big Buck Bunny,
  132 frames), a mark on every frame, verification on, for each kind of mark: a textured logo
  (the Windows logo), a flat emblem (``bitcoin.png`` of the brand marks), a wordmark (GLOBEX,
  found by ``--text``) and all three at once (target at most 1.5x);
- ``run`` (inpaint, the default ``propagate``) on the textured and the flat clip: frames per
  second of the whole run (target at least 15);
- ``scan`` of a 1080p25 file (the textured clip enlarged): frames per second (target at least
  100, four times real time).

Each measurement alternates its runs (``--repeat`` rounds) and reports medians. With
``--baseline ROOT`` every command also runs with the code of another checkout (its own
``examples/`` and ``brand_lists/``), alternating with this one, so "before" and "now" come from
the same minutes; ratios between them are the figure to read on a shared machine.

Usage: python bench/bench_speed.py [--data ../shared/data] [--repeat 2] [--baseline ROOT]
    [--only sample,blur,inpaint,scan] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.io import VideoFrame, VideoReader, VideoWriter
from autoblur.synth import composite_logo, moving_placement
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent
FRAMES = 132
WORD = "GLOBEX"
MASTER = EncodeConfig(crf=18, preset="medium")  # a long-GOP H.264 master, as broadcasters have


def timed(root: Path, args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s, exit code) of ``python ARGS`` run in ``root`` with that checkout's code.

    Exit codes 0, 1 (a scan found brands) and 4 (a run not verified clean) are measurements;
    any other stops the benchmark.
    """
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=root, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1, 4):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def wordmark_png(path: Path) -> None:
    """A white wordmark with a dark outline on a transparent ground (RGBA PNG)."""
    image = np.zeros((90, 420, 4), np.uint8)
    for colour, thickness in (((20, 20, 20, 255), 14), ((250, 250, 250, 255), 6)):
        cv2.putText(image, WORD, (12, 70), cv2.FONT_HERSHEY_DUPLEX, 2.4, colour, thickness)
    cv2.imwrite(str(path), image)


def clips(data: Path, tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    """Per kind of mark, the 720p clip with it on every frame and the run's cue arguments."""
    source = data / "videos/bigbuckbunny.mp4"
    windows = data / "images/WindowsLogo.jpg"
    emblem = data / "brand_marks/bitcoin.png"
    word = tmp / "globex.png"
    wordmark_png(word)
    marks = {"textured": windows, "flat": emblem, "wordmark": word}
    out: dict[str, tuple[Path, list[str]]] = {}
    for kind, mark in marks.items():  # each alone: 22 % of the frame width, drifting
        clip = tmp / f"{kind}.mp4"
        placement = moving_placement(read_logo(mark)[0].shape[:2], start_frame=0, speed_px=4)
        composite_logo(source, mark, clip, placement, FRAMES, MASTER)
        cue = ["--text", WORD] if kind == "wordmark" else ["--logo", str(mark)]
        out[kind] = (clip, cue)
    # All three at once, 12 % of the width each, drifting together apart from each other.
    shifts = {"textured": (-450, -170), "flat": (-100, -170), "wordmark": (-300, 200)}
    several = source
    for kind, mark in marks.items():
        shape = read_logo(mark)[0].shape[:2]
        placement = moving_placement(shape, width_frac=0.12, start_frame=0, speed_px=4)
        target = tmp / f"several_{kind}.mp4"
        composite_logo(several, mark, target, _offset(placement, shifts[kind]), FRAMES, MASTER)
        several = target
    out["several"] = (several, [arg for _, cue in out.values() for arg in cue])
    return out


def _offset(placement, shift: tuple[int, int]):
    """``placement`` moved by ``shift`` pixels (x, y), so several marks do not overlap."""
    move = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1]], np.float64)
    return lambda index, frame_hw: move @ placement(index, frame_hw)


def enlarged(src: Path, dst: Path, size: tuple[int, int]) -> None:
    """``src`` resized to ``size`` (w, h), every frame, as a long-GOP H.264 master."""
    with VideoReader(src) as reader:
        info = dataclasses.replace(reader.info, width=size[0], height=size[1])
        with VideoWriter(dst, info, MASTER) as writer:
            for frame in reader.frames():
                rgb = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_CUBIC)
                writer.write(VideoFrame(frame.index, frame.pts, frame.time_s, rgb=rgb), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately")
    parser.add_argument("--only", default="sample,blur,inpaint,scan")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    only = set(args.only.split(","))
    roots = {"now": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    results: dict[str, dict[str, list[tuple[float, float, int]]]] = {}

    def measure(name: str, command: list[str]) -> None:
        """Alternate ``python COMMAND`` over the roots (run in each), ``repeat`` times."""
        for _ in range(args.repeat):
            for label, root in roots.items():
                figures = timed(root, command)
                results.setdefault(name, {}).setdefault(label, []).append(figures)
                print(
                    f"  {name:<28} {label:<8} {figures[0]:7.2f} s wall {figures[1]:7.2f} s CPU"
                    f"  exit {figures[2]}"
                )

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out = str(tmp / "out.mp4")
        if "sample" in only:
            measure(
                "README sample",
                ["-m", "autoblur", "run", "examples/sample.mp4", "-o", out,
                 "--rules", "brand_lists/kr.yaml", "-q"],
            )  # fmt: skip
        made = clips(args.data, tmp) if only & {"blur", "inpaint", "scan"} else {}
        for kind, (clip, cue) in made.items():
            if "blur" in only:
                transcode = (
                    "import sys; from pathlib import Path; from autoblur.config import "
                    "EncodeConfig; from bench.bench_pipeline import plain_transcode; "
                    "plain_transcode(Path(sys.argv[1]), Path(sys.argv[2]), EncodeConfig())"
                )
                measure(f"plain transcode, {kind}", ["-c", transcode, str(clip), out])
                measure(
                    f"run --mode blur, {kind}",
                    ["-m", "autoblur", "run", str(clip), "-o", out, "--mode", "blur", *cue,
                     "-q"],
                )  # fmt: skip
            if "inpaint" in only and kind in ("textured", "flat"):
                measure(
                    f"run (inpaint), {kind}",
                    ["-m", "autoblur", "run", str(clip), "-o", out, *cue, "-q"],
                )  # fmt: skip
        if "scan" in only:
            big = tmp / "textured_1080p.mp4"
            enlarged(made["textured"][0], big, (1920, 1080))
            measure(
                "scan 1080p, textured",
                ["-m", "autoblur", "scan", str(big), *made["textured"][1], "-q",
                 "--report", str(tmp / "scan.json")],
            )  # fmt: skip
    _print_table(results, roots)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def _median(runs: list[tuple[float, float, int]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def _print_table(results: dict, roots: dict[str, Path]) -> None:
    print()
    print(f"{'measurement':<30}" + "".join(f"{label + ' wall':>14}{'CPU':>8}" for label in roots))
    for name, by_root in results.items():
        print(
            f"{name:<30}"
            + "".join(
                f"{_median(by_root[label], 0):14.2f}{_median(by_root[label], 1):8.2f}"
                for label in roots
            )
        )
    print()
    for label in roots:
        figures = {name: by_root[label] for name, by_root in results.items()}
        print(f"against the targets ({label}):")
        if "README sample" in figures:
            wall = _median(figures["README sample"], 0)
            print(f"  README sample {wall:.1f} s (target at most 20 s)")
        for name in figures:
            if name.startswith("run --mode blur, "):
                kind = name.split(", ")[1]
                plain = figures.get(f"plain transcode, {kind}")
                if plain:
                    wall = _median(figures[name], 0) / _median(plain, 0)
                    cpu = _median(figures[name], 1) / _median(plain, 1)
                    print(
                        f"  blur / plain, {kind}: {wall:.2f}x wall, {cpu:.2f}x CPU (at most 1.5x)"
                    )
            if name.startswith("run (inpaint), "):
                fps = FRAMES / _median(figures[name], 0)
                print(f"  {name}: {fps:.1f} fps (at least 15)")
            if name.startswith("scan 1080p"):
                fps = FRAMES / _median(figures[name], 0)
                print(f"  {name}: {fps:.1f} fps (at least 100)")


if __name__ == "__main__":
    main()
