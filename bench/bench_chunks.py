"""A long programme scanned in pieces on several processes against one process (issue 30).

Assembles a programme from the shared clips (every clip in turn as a shot, 640x360 at 25 fps,
long-GOP H.264 with closed GOPs of one second and an AAC track), with a real logo drawn on a
third of its shots (the Windows logo, textured, and a flat brand mark, in turn; drifting), then
runs ``autoblur scan`` on it from the command line, as a user does:

- in one process (``--jobs 1``, not split: the file's length is under ``chunk.min_seconds``
  set by ``--config``),
- split into pieces of ``--chunk-seconds`` on 1 process, and on 2,

alternating the three (``--repeat`` rounds), and prints the wall times, the speed-up of
``--jobs 2`` over ``--jobs 1`` (target at least 1.6x) and whether the split scans found the
same tracks, occurrences and masks on every frame as the one process. Then a paper plan:
hours of programme per hour of wall time on 1, 8 and 64 nodes, from the measured cost per
piece, the plan's serial cost (finding cuts near the borders) and the join's.

Usage: python bench/bench_chunks.py [--data ../shared/data] [--minutes 20] [--chunk-seconds 60]
    [--repeat 1] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autoblur.review.saved_detections import SavedMasks, masks_path_for  # noqa: E402
from bench.make_io_corpus import _add_audio, _encode_audio, _encode_video, _video_stream  # noqa: E402
from detectors.reference import read_logo, silhouette_of  # noqa: E402

SIZE = (640, 360)
RATE = Fraction(25)
CLIPS = ("bikes.mp4", "vtest.avi", "bigbuckbunny.mp4", "tree.avi", "carphone_pristine.mp4")
MARKS = ("images/WindowsLogo.jpg", "brand_marks/bitcoin.png")


def _shots(data: Path) -> list[list[np.ndarray]]:
    """Each shared clip's frames at the programme's size (each clip is one or more shots)."""
    shots = []
    for name in CLIPS:
        with av.open(str(data / "videos" / name)) as container:
            shots.append(
                [
                    f.to_ndarray(format="rgb24", width=SIZE[0], height=SIZE[1])
                    for f in container.decode(video=0)
                ]
            )
    return shots


def _marks(data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for name in MARKS:
        rgb, alpha = read_logo(data / name)
        weight = alpha.astype(np.float32) / 255 if alpha is not None else None
        if weight is None:
            weight = silhouette_of(rgb, None).astype(np.float32)
        out.append((rgb, weight))
    return out


def programme_frames(data: Path, frames: int) -> tuple[Iterator[np.ndarray], list[tuple]]:
    """The programme's frames and its logo appearances (first frame, last frame, mark)."""
    shots = _shots(data)
    marks = _marks(data)
    appearances = []
    plan = []
    at = shot = 0
    while at < frames:
        clip = shots[shot % len(shots)]
        length = min(len(clip), frames - at)
        mark = (shot // 3) % len(marks) if shot % 3 == 0 else None  # a third of the shots
        plan.append((at, length, shot % len(shots), mark))
        if mark is not None:
            appearances.append((at, at + length - 1, MARKS[mark]))
        at += length
        shot += 1

    def generate() -> Iterator[np.ndarray]:
        for start, length, clip_index, mark in plan:
            for k in range(length):
                rgb = shots[clip_index][k].copy()
                if mark is not None:
                    art, weight = marks[mark]
                    scale = 120 / art.shape[1]
                    x, y = 40 + 2 * k % 400, 30 + 15 * np.sin((start + k) / 20)
                    place = np.array([[scale, 0, x], [0, scale, y]], np.float32)
                    w = cv2.warpAffine(weight, place, SIZE)[..., None]
                    drawn = cv2.warpAffine(art, place, SIZE).astype(np.float32)
                    rgb = (w * drawn + (1 - w) * rgb).astype(np.uint8)
                yield rgb

    return generate(), appearances


def write_programme(path: Path, data: Path, frames: int) -> list[tuple]:
    """Write the programme (long-GOP H.264, one-second closed GOPs, AAC); its appearances."""
    pictures, appearances = programme_frames(data, frames)
    with av.open(str(path), "w", format="mp4") as out:
        video = _video_stream(out, "libx264", RATE, SIZE, "yuv420p", {"g": "25", "crf": "20"})
        audio = _add_audio(out, "aac", 48000, "mono")
        _encode_video(out, video, pictures)
        _encode_audio(out, audio, frames / RATE)
    return appearances


def scan(clip: Path, report: Path, data: Path, extra: list[str]) -> float:
    """Wall seconds of ``autoblur scan`` on ``clip`` (report and saved masks at ``report``)."""
    args = [sys.executable, "-m", "autoblur", "scan", str(clip), "-q", "--report", str(report)]
    for mark in MARKS:
        args += ["--logo", str(data / mark)]
    started = time.perf_counter()
    done = subprocess.run([*args, *extra], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - started


def summary(report_path: Path) -> tuple:
    """Tracks, occurrences and every frame's masks of a scan, to compare."""
    report = json.loads(report_path.read_text())
    tracks = [
        (
            t["id"],
            t["brand"],
            t["first_frame"],
            t["last_frame"],
            [k["frame"] for k in t["keyframes"]],
        )
        for t in report["tracks"]
    ]
    occurrences = [
        (o["track_ids"], o["start_frame"], o["end_frame"]) for o in report["occurrences"]
    ]
    saved = SavedMasks(masks_path_for(report_path))
    masks = {
        frame: {k: (m.x0, m.y0, m.bitmap.tobytes()) for k, m in found.items()}
        for frame, found in saved.frames()
    }
    saved.close()
    return tracks, occurrences, masks, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--chunk-seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    frames = round(args.minutes * 60 * RATE)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = folder / "programme.mp4"
        started = time.perf_counter()
        appearances = write_programme(clip, args.data, frames)
        print(f"programme: {frames} frames ({args.minutes} min), {len(appearances)} logo "
              f"appearances, written in {time.perf_counter() - started:.0f} s")  # fmt: skip
        one_piece = folder / "one_piece.yaml"
        one_piece.write_text(f"chunk:\n  min_seconds: {args.minutes * 60 + 1}\n")
        runs = {
            "one process": ["--jobs", "1", "--config", str(one_piece)],
            "pieces, --jobs 1": ["--jobs", "1", "--chunk-seconds", str(args.chunk_seconds)],
            "pieces, --jobs 2": ["--jobs", "2", "--chunk-seconds", str(args.chunk_seconds)],
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for k, (name, extra) in enumerate(runs.items()):
                times[name].append(scan(clip, folder / f"scan{k}.json", args.data, extra))
                print(f"  {name}: {times[name][-1]:.1f} s", flush=True)
        one = summary(folder / "scan0.json")
        results = {"frames": frames, "appearances": len(appearances), "runs": {}}
        for k, name in enumerate(runs):
            tracks, occurrences, masks, report = summary(folder / f"scan{k}.json")
            same = (tracks, occurrences, masks) == one[:3]
            frames_differing = sum(
                1 for f in set(masks) | set(one[2]) if masks.get(f) != one[2].get(f)
            )
            results["runs"][name] = {
                "wall_s": statistics.median(times[name]),
                "all_wall_s": times[name],
                "same_as_one_process": same,
                "frames_with_other_masks": frames_differing,
                "tracks": len(tracks),
                "occurrences": len(occurrences),
                "chunks": report.get("chunks", {})
                | {"pieces": len(report.get("chunks", {}).get("pieces", []))},
                "stages": report["timing"]["stages"],
            }
        _print(results, args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")


def _chunks(report: dict) -> dict:
    """The report's plan, its pieces counted."""
    chunks = report.get("chunks", {})
    return chunks | {"pieces": len(chunks.get("pieces", []))}


def _print(results: dict, args: argparse.Namespace) -> None:
    runs = results["runs"]
    one = runs["one process"]["wall_s"]
    print("\n| run | wall s | x one process | same tracks, occurrences, masks | frames differing |")
    print("| --- | --- | --- | --- | --- |")
    for name, run in runs.items():
        print(f"| {name} | {run['wall_s']:.1f} | {one / run['wall_s']:.2f}x | "
              f"{run['same_as_one_process']} | {run['frames_with_other_masks']} |")  # fmt: skip
    j1, j2 = runs["pieces, --jobs 1"]["wall_s"], runs["pieces, --jobs 2"]["wall_s"]
    print(f"\n--jobs 2 over --jobs 1: {j1 / j2:.2f}x (target 1.6x)")
    # Paper plan: a piece's cost from the split run on one process (pieces one after the
    # other), the parts that do not run side by side (plan, join) measured there too.
    chunks = runs["pieces, --jobs 1"]["chunks"]
    pieces = chunks["pieces"]
    per_piece = chunks["pieces_s"] / max(pieces, 1)
    serial = chunks["plan_s"] + chunks["join_s"]
    length = results["frames"] / float(RATE)  # seconds of programme
    piece_s = length / max(pieces, 1)
    print(
        f"\nPaper plan: {pieces} pieces of {piece_s:.0f} s of programme, {per_piece:.1f} s each "
        f"on one core here; plan {chunks['plan_s']:.1f} s and join {chunks['join_s']:.1f} s "
        f"per file (not side by side; {chunks['frames_decoded_for_cuts']} frames decoded to "
        f"find cuts); frames read with the lead frames: {chunks['frames_read']} for "
        f"{results['frames']}."
    )
    hour = 3600 / length  # this file's serial parts scaled to an hour of programme
    for nodes in (1, 8, 64):
        cores = 2 * nodes
        # A day's schedule: every file's pieces share the cores; each file's plan and join run
        # beside other files' pieces, so the cores bound it.
        schedule = cores * piece_s / per_piece
        # One hour-long file alone: its plan, then its pieces in waves, then its join.
        waves = -(-round(3600 / piece_s) // cores)
        alone = serial * hour + waves * per_piece
        print(
            f"  {nodes:>2} node(s) of 2 cores: a day's schedule {schedule:.2f} programme-hours per "
            f"wall hour; one 60-minute file alone {alone / 60:.1f} min "
            f"(plan + join {serial * hour / 60:.1f} min of it)"
        )


if __name__ == "__main__":
    main()
