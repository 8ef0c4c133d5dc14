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
from autoblur.synth import moving_placement
from detectors.logo import read_logo, silhouette_of

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
    size = (640, 360)
    logos = []
    for path, kwargs in (
        (
            ROOT / "brand_lists/logos/windows.jpg",
            {"width_frac": 0.2, "speed_px": 3, "start_frame": 15},
        ),
        (ROOT / "brand_lists/logos/opencv.png", {"width_frac": 0.16, "speed_px": 2, "tilt": 0.05}),
    ):
        rgb, alpha = read_logo(path)
        weight = alpha / 255.0 if alpha is not None else silhouette_of(rgb, None).astype(float)
        logos.append((rgb, weight.astype(np.float32), moving_placement(rgb.shape[:2], **kwargs)))
    out = ROOT / "examples/sample.mp4"
    with VideoReader(data / "videos/bigbuckbunny.mp4") as reader:
        info = dataclasses.replace(reader.info, width=size[0], height=size[1], pix_fmt="yuv420p")
        with VideoWriter(out, info, EncodeConfig(crf=20), reader.audio_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                frame.rgb = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA)
                frame.source = None
                for index, (rgb, weight, place) in enumerate(logos):
                    homography = place(frame.index, (size[1], size[0]))
                    if index == 1:  # the second logo sits in the top-left corner
                        homography = np.array([[1, 0, -120], [0, 1, -80], [0, 0, 1]]) @ homography
                    if homography is None:
                        continue
                    art = cv2.warpPerspective(rgb, homography, size)
                    w = cv2.warpPerspective(weight, homography, size)[..., None]
                    frame.rgb = np.clip(w * art + (1 - w) * frame.rgb + 0.5, 0, 255).astype(
                        np.uint8
                    )
                writer.write(frame, None)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
