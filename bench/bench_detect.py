"""Detection coverage: flat and small marks, entering, leaving, half out, spinning, and none.

Composites flat marks (autoblur.synth.flat_mark: an open red ring, a green disc and a blue bar;
or the ring and the bar) onto the shared clips with exact masks, runs the pipeline as
``autoblur scan --masks`` does (default config, so removal masks include the 6 px margin), and
prints per case: the share of the frames with the mark on screen where at least 99 % of its
pixels are inside the removal mask, the first frame on screen and the first frame covered (at
99 %), missed frames (under 50 % covered), and ms per keyframe of the logo detector (SIFT plus
the flat-mark matcher). ``examples/sample.mp4`` is checked against the OpenCV logo's true masks
(from bench/make_sample.py). The same marks are then searched on every keyframe of the shared
clips without them: false detections per minute and per detector.

Targets: at least 97 % of on-screen frames at 99 % coverage, the first on-screen frame covered,
no false detection.

Usage: python bench/bench_detect.py [--data ../shared/data] [--only CASE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.pipeline import Job, Pipeline
from autoblur.synth import Composite, Placement, composite_logo, flat_mark
from autoblur.types import BrandCue, RegionMask, box_iou
from detectors.logo import LogoDetector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from make_sample import sample_logos, true_masks  # noqa: E402

MARK_SIDE = 240  # flat_mark's image side


def placement(
    mark_px: float,
    start: int = 0,
    turn_deg: float = 50.0,
    spin_deg: float = 0.0,
    path: Callable[[float, tuple[int, int]], tuple[float, float]] | None = None,
    tilt: float = 0.25,
) -> Placement:
    """The mark ``mark_px`` wide from frame ``start``: turning by up to ``turn_deg`` (plus
    ``spin_deg`` per frame), tilting in perspective, its centre on ``path(t, frame_hw)``."""

    def place(index: float, frame_hw: tuple[int, int]) -> np.ndarray | None:
        if index < start:
            return None
        t = index - start
        fh, fw = frame_hw
        cx, cy = path(t, frame_hw) if path else (fw * 0.5, fh * 0.5)
        angle = np.radians(turn_deg * np.sin(t / 14) + spin_deg * t)
        c, s = np.cos(angle), np.sin(angle)
        scale = mark_px / MARK_SIDE * (1 + 0.1 * np.sin(t / 11))
        to_centre = np.array([[1, 0, -MARK_SIDE / 2], [0, 1, -MARK_SIDE / 2], [0, 0, 1.0]])
        perspective = np.array(
            [[1, 0, 0], [0, 1, 0], [tilt * np.sin(t / 9) / MARK_SIDE, tilt / 2 / MARK_SIDE, 1]]
        )
        turn = np.array([[scale * c, -scale * s, cx], [scale * s, scale * c, cy], [0, 0, 1]])
        return turn @ perspective @ to_centre

    return place


def swing(t: float, frame_hw: tuple[int, int]) -> tuple[float, float]:
    """Across the frame and back, the centre reaching both side edges (half out)."""
    fh, fw = frame_hw
    return fw * (0.5 + 0.5 * np.sin(t / 16)), fh * (0.5 + 0.2 * np.sin(t / 9))


def leave_right(t: float, frame_hw: tuple[int, int]) -> tuple[float, float]:
    """From the left third out through the right edge, 8 px a frame."""
    fh, fw = frame_hw
    return fw * 0.3 + 8 * t, fh * 0.45 + 20 * np.sin(t / 10)


def wander(t: float, frame_hw: tuple[int, int]) -> tuple[float, float]:
    """A slow loop inside the frame."""
    fh, fw = frame_hw
    return fw * (0.5 + 0.3 * np.sin(t / 20)), fh * (0.5 + 0.25 * np.sin(t / 13))


@dataclass
class Case:
    """One composite: clip, mark, placement, frames, motion-blur samples."""

    name: str
    video: str
    colours: int
    place: Placement
    frames: int
    blur: int = 1


def cases(video_hw: dict[str, tuple[int, int]]) -> list[Case]:
    """The benchmark's composites; the big marks cover about 2 % of the frame."""

    def two_percent(video: str, colours: int) -> float:
        fh, fw = video_hw[video]
        share = 0.3 if colours == 3 else 0.24  # silhouette share of the mark's square image
        return float(np.sqrt(0.02 * fh * fw / share))

    return [
        Case("flat3 swing half out", "bigbuckbunny.mp4", 3,
             placement(two_percent("bigbuckbunny.mp4", 3), path=swing), 132),
        Case("flat2 swing half out", "vtest.avi", 2,
             placement(two_percent("vtest.avi", 2), path=swing), 150),
        Case("flat3 on bikes (cuts)", "bikes.mp4", 3,
             placement(two_percent("bikes.mp4", 3) * 1.3, path=wander), 120),
        Case("small 48px enters f17", "bigbuckbunny.mp4", 3,
             placement(48, start=17, path=wander, tilt=0.1), 132),
        Case("small 56px 2col enters f29", "vtest.avi", 2,
             placement(56, start=29, path=wander, tilt=0.1), 120),
        Case("flat3 leaves right edge", "bigbuckbunny.mp4", 3,
             placement(two_percent("bigbuckbunny.mp4", 3), path=leave_right), 132),
        Case("flat3 spin 12deg/f + blur", "vtest.avi", 3,
             placement(two_percent("vtest.avi", 3), start=-5, spin_deg=12, path=wander), 120,
             blur=5),
    ]  # fmt: skip


def removal_masks(video: Path, logos: list[Path]) -> tuple[list[np.ndarray], dict]:
    """Per frame the (H, W) bool removal mask of a scan with ``logos``, and the report."""
    with tempfile.TemporaryDirectory() as tmp_name:
        masks_dir = Path(tmp_name) / "masks"
        cues = [BrandCue(p.stem, "inpaint", (p,)) for p in logos]
        report = Pipeline(Job(video, None, cues, load_config(None), masks_dir=masks_dir)).run()
        masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0 for p in sorted(masks_dir.iterdir())]
    return masks, report


def coverage_row(
    name: str, truth: list[RegionMask | None], masks: list[np.ndarray], report: dict
) -> str:
    """One table row: coverage figures of ``masks`` against the true masks."""
    on = [i for i, t in enumerate(truth) if t is not None]
    share = {i: masks[i][truth[i].to_dense()].mean() for i in on}
    good = [i for i in on if share[i] >= 0.99]
    missed = [i for i in on if share[i] < 0.5]
    first_good = good[0] if good else None
    keyframe_ms = np.mean(report_detect_ms(report)) if report_detect_ms(report) else float("nan")
    return (
        f"| {name} | {len(on)} | {100 * len(good) / max(len(on), 1):.1f} % | {on[0]} | "
        f"{first_good} | {len(missed)} | {keyframe_ms:.0f} |"
    )


def tally_detections(
    truth: list[RegionMask | None], report: dict, tally: dict[str, list[int]]
) -> None:
    """Add each keyframe detection of the report to ``tally[source]`` = [true, false].

    A detection is true when its box overlaps the mark's true box by IoU 0.3 or more.
    """
    for track in report["tracks"]:
        counts = tally.setdefault(track["source"], [0, 0])
        for record in track["keyframes"]:
            mask = truth[record["frame"]] if record["frame"] < len(truth) else None
            hit = mask is not None and box_iou(mask.xyxy, np.array(record["xyxy"]))[0, 0] >= 0.3
            counts[0 if hit else 1] += 1


def report_detect_ms(report: dict) -> list[float]:
    """The logo detector's ms per keyframe from a scan report."""
    timing = report.get("timing", {}).get("detect_ms_per_keyframe_by_detector", {})
    return [timing["logo"]] if "logo" in timing else []


def sample_truth(frame_count: int) -> list[RegionMask | None]:
    """The OpenCV logo's true masks on examples/sample.mp4."""
    [opencv] = [logo for logo in sample_logos() if logo.brand == "OpenCV"]
    return true_masks(opencv, frame_count)


def false_alarms(data: Path, logos: list[Path], tally: dict[str, list[int]]) -> None:
    """Keyframe detections of ``logos`` on the shared clips without them, per detector.

    Every one is false: added to ``tally[source][1]``.
    """
    detector = LogoDetector(
        [BrandCue(p.stem, "inpaint", (p,)) for p in logos], load_config(None).detect
    )
    print("\n| clip (no marks) | keyframes | minutes | false detections (by detector) |")
    print("| --- | --- | --- | --- |")
    total_keys, total_minutes, total_false = 0, 0.0, {}
    for video in sorted((data / "videos").iterdir()):
        keys, false = 0, {}
        with VideoReader(video) as reader:
            fps = float(reader.info.fps)
            frames = 0
            for frame in reader.frames():
                frames += 1
                if frame.index % 12:
                    continue
                keys += 1
                for source in detector.detect(frame.rgb).source:
                    false[source] = false.get(source, 0) + 1
        minutes = frames / fps / 60
        total_keys, total_minutes = total_keys + keys, total_minutes + minutes
        for k, v in false.items():
            total_false[k] = total_false.get(k, 0) + v
            tally.setdefault(k, [0, 0])[1] += v
        print(f"| {video.name} | {keys} | {minutes:.2f} | {false or 0} |")
    per_minute = sum(total_false.values()) / total_minutes
    print(
        f"| all | {total_keys} | {total_minutes:.2f} | {total_false or 0} ({per_minute:.1f}/min) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--only", default=None, help="run the cases whose name contains this")
    args = parser.parse_args()
    video_hw = {}
    for video in (args.data / "videos").iterdir():
        with VideoReader(video) as reader:
            video_hw[video.name] = (reader.info.height, reader.info.width)
    print(
        "| case | frames on screen | frames >= 99 % masked | first on screen | first covered "
        "| missed (< 50 %) | ms / keyframe |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    tally: dict[str, list[int]] = {"flat": [0, 0], "logo": [0, 0]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        marks = {}
        for colours in (2, 3):
            marks[colours] = tmp / f"flat{colours}.png"
            cv2.imwrite(str(marks[colours]), cv2.cvtColor(flat_mark(colours), cv2.COLOR_RGB2BGR))
        for number, case in enumerate(cases(video_hw)):
            if args.only and args.only not in case.name:
                continue
            composite: Composite = composite_logo(
                args.data / "videos" / case.video, marks[case.colours],
                tmp / f"case{number}.mp4", case.place,
                max_frames=case.frames, blur_samples=case.blur,
            )  # fmt: skip
            masks, report = removal_masks(composite.path, [marks[case.colours]])
            tally_detections(composite.masks, report, tally)
            print(coverage_row(case.name, composite.masks, masks, report), flush=True)
        if not args.only or "sample" in args.only:
            sample = ROOT / "examples/sample.mp4"
            masks, report = removal_masks(sample, [ROOT / "brand_lists/logos/opencv.png"])
            truth = sample_truth(len(masks))
            tally_detections(truth, report, tally)
            print(coverage_row("sample.mp4 OpenCV logo", truth, masks, report))
        if not args.only or "free" in args.only:
            opencv = ROOT / "brand_lists/logos/opencv.png"
            false_alarms(args.data, [marks[2], marks[3], opencv], tally)
    print("\n| detector | keyframe detections | true | false | precision |")
    print("| --- | --- | --- | --- | --- |")
    for source, (true, false) in sorted(tally.items()):
        precision = f"{100 * true / (true + false):.1f} %" if true + false else "n/a"
        print(f"| {source} | {true + false} | {true} | {false} | {precision} |")


if __name__ == "__main__":
    main()
