"""Rebuild tests/data from the project's shared media (../shared/data beside the repository).

Clips the tests use whole are copied byte for byte (their exact frames, audio track, scene
cuts and lying header are what the tests rely on); ``vtest.avi`` is cut to its first
``VTEST_FRAMES`` frames by copying packets, so the frames kept decode to the same pixels.

Usage: python tests/data/make_data.py [--source ../shared/data]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
COPIED = [
    "videos/bigbuckbunny.mp4",
    "videos/bikes.mp4",
    "videos/carphone_pristine.mp4",
    "videos/tree.avi",
    "images/LinuxLogo.jpg",
    "images/WindowsLogo.jpg",
    "images/box.png",
    "images/box_in_scene.png",
    "images/graf1.png",
    "images/graf3.png",
    "images/opencv-logo.png",
]
VTEST_FRAMES = 64
MARKS = {"brand_marks/googlecalendar.png": "images/googlecalendar.png"}
# The recall benchmark's case where SIFT fitted a reference onto foliage: seed, case, frame.
FOLIAGE = (2207, 13, 36)


def remux_head(src: Path, dst: Path, frames: int) -> None:
    """Copy the first ``frames`` video packets of ``src`` into ``dst`` (no re-encoding).

    ``src`` must start with a keyframe and its video stream must be its only stream.
    """
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        kept = 0
        for packet in source.demux(stream):
            if packet.size == 0:
                continue
            packet.stream = out
            target.mux(packet)
            kept += 1
            if kept == frames:
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE.parents[2] / "shared" / "data")
    args = parser.parse_args()
    for name in COPIED:
        (HERE / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.source / name, HERE / name)
    remux_head(args.source / "videos/vtest.avi", HERE / "videos/vtest.avi", VTEST_FRAMES)
    for name, kept_as in MARKS.items():
        shutil.copyfile(args.source / name, HERE / kept_as)
    foliage_frame(args.source, HERE / "images/foliage.png")


def foliage_frame(source: Path, dst: Path) -> None:
    """Frame ``FOLIAGE`` of the recall benchmark's bare segment of that case, as PNG."""
    import sys
    import tempfile

    import cv2

    sys.path.insert(0, str(HERE.parents[1]))
    from autoblur.io import VideoReader
    from bench.bench_recall import clips_for
    from bench.recall_cases import load_marks, make_cases, render_case

    seed, case_index, frame_index = FOLIAGE
    clips = clips_for(source)
    case = make_cases(seed, load_marks(source / "brand_marks"), clips)[case_index]
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_case(
            case, source / "brand_marks" / case.mark, clips[case.clip].path,
            Path(tmp) / "in.mp4", Path(tmp) / "clean.mp4",
        )  # fmt: skip
        with VideoReader(rendered.clean_path) as reader:
            rgb = next(f.rgb for f in reader.frames() if f.index == frame_index)
    cv2.imwrite(str(dst), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
