"""Make examples/sample.mp4: Big Buck Bunny at 640x360 with two logos moving over it.

Usage: python bench/make_sample.py [../shared/data]
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from autoblur.synth import Placement, moving_placement
from detectors.logo import read_logo, silhouette_of

ROOT = Path(__file__).resolve().parent.parent


SIZE = (640, 360)


def sample_logos() -> list[tuple[Path, Placement]]:
    """The sample's logos and their placements (homography from logo to 640x360 frame)."""
    logos = []
    for path, kwargs in (
        (
            ROOT / "brand_lists/logos/windows.jpg",
            {"width_frac": 0.2, "speed_px": 3, "start_frame": 15},
        ),
        (ROOT / "brand_lists/logos/opencv.png", {"width_frac": 0.16, "speed_px": 2, "tilt": 0.05}),
    ):
        logos.append((path, moving_placement(read_logo(path)[0].shape[:2], **kwargs)))
    opencv_path, opencv_place = logos[1]

    def in_corner(index: int, frame_hw: tuple[int, int]) -> np.ndarray | None:
        """The second logo sits in the top-left corner."""
        homography = opencv_place(index, frame_hw)
        if homography is None:
            return None
        return np.array([[1, 0, -120], [0, 1, -80], [0, 0, 1]]) @ homography

    return [logos[0], (opencv_path, in_corner)]


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
    logos = []
    for path, place in sample_logos():
        rgb, alpha = read_logo(path)
        weight = alpha / 255.0 if alpha is not None else silhouette_of(rgb, None).astype(float)
        logos.append((rgb, weight.astype(np.float32), place))
    out = ROOT / "examples/sample.mp4"
    with VideoReader(data / "videos/bigbuckbunny.mp4") as reader:
        info = dataclasses.replace(reader.info, width=SIZE[0], height=SIZE[1], pix_fmt="yuv420p")
        with VideoWriter(out, info, EncodeConfig(crf=20), reader.audio_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                frame.rgb = cv2.resize(frame.rgb, SIZE, interpolation=cv2.INTER_AREA)
                frame.source = None
                for rgb, weight, place in logos:
                    homography = place(frame.index, (SIZE[1], SIZE[0]))
                    if homography is None:
                        continue
                    art = cv2.warpPerspective(rgb, homography, SIZE)
                    w = cv2.warpPerspective(weight, homography, SIZE)[..., None]
                    frame.rgb = np.clip(w * art + (1 - w) * frame.rgb + 0.5, 0, 255).astype(
                        np.uint8
                    )
                writer.write(frame, None)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
