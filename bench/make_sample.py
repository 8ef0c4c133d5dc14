"""Make examples/sample.mp4: Big Buck Bunny at 640x360 with two logos moving over it.

The placements are kept here so that benchmarks can rebuild the sample's true masks
(:func:`true_masks`) and clean frames (:func:`clean_frames`).

Usage: python bench/make_sample.py [../shared/data]
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from autoblur.synth import moving_placement
from autoblur.types import RegionMask
from detectors.reference import read_logo, silhouette_of

ROOT = Path(__file__).resolve().parent.parent
SIZE_WH = (640, 360)
SAMPLE = ROOT / "examples/sample.mp4"


@dataclass
class SampleLogo:
    """One logo of the sample.

    Attributes:
        brand: the brand's name in ``brand_lists/kr.yaml``.
        rgb: (h, w, 3) uint8 RGB logo image.
        weight: (h, w) float32 coverage in [0, 1].
        place: frame index to the 3x3 homography from logo to frame pixels, or None.
    """

    brand: str
    rgb: np.ndarray
    weight: np.ndarray
    place: Callable[[int], np.ndarray | None]


def sample_logos() -> list[SampleLogo]:
    """The sample's two logos and where they sit on each frame."""
    logos = []
    for brand, path, kwargs, shift in (
        (
            "Windows",
            ROOT / "brand_lists/logos/windows.jpg",
            {"width_frac": 0.2, "speed_px": 3, "start_frame": 15},
            np.eye(3),
        ),
        (
            "OpenCV",
            ROOT / "brand_lists/logos/opencv.png",
            {"width_frac": 0.16, "speed_px": 2, "tilt": 0.05},
            np.array([[1, 0, -120], [0, 1, -80], [0, 0, 1]], np.float64),  # top-left corner
        ),
    ):
        rgb, alpha = read_logo(path)
        weight = alpha / 255.0 if alpha is not None else silhouette_of(rgb, None).astype(float)
        placement = moving_placement(rgb.shape[:2], **kwargs)

        def place(index: int, placement=placement, shift=shift) -> np.ndarray | None:
            homography = placement(index, (SIZE_WH[1], SIZE_WH[0]))
            return None if homography is None else shift @ homography

        logos.append(SampleLogo(brand, rgb, weight.astype(np.float32), place))
    return logos


def true_masks(logo: SampleLogo, frame_count: int) -> list[RegionMask | None]:
    """Per frame, the pixels where ``logo`` covers more than half of the picture."""
    masks = []
    for index in range(frame_count):
        homography = logo.place(index)
        if homography is None:
            masks.append(None)
            continue
        weight = cv2.warpPerspective(logo.weight, homography, SIZE_WH)
        masks.append(RegionMask.from_dense(weight > 0.5))
    return masks


def clean_frames(data: Path, frame_count: int | None = None) -> list[np.ndarray]:
    """The sample's frames without logos: (360, 640, 3) uint8 RGB each."""
    frames = []
    with VideoReader(data / "videos/bigbuckbunny.mp4") as reader:
        for frame in reader.frames():
            if frame_count is not None and frame.index >= frame_count:
                break
            frames.append(cv2.resize(frame.rgb, SIZE_WH, interpolation=cv2.INTER_AREA))
    return frames


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
    logos = sample_logos()
    with VideoReader(data / "videos/bigbuckbunny.mp4") as reader:
        info = dataclasses.replace(
            reader.info, width=SIZE_WH[0], height=SIZE_WH[1], pix_fmt="yuv420p"
        )
        with VideoWriter(SAMPLE, info, EncodeConfig(crf=20), reader.audio_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                frame.rgb = cv2.resize(frame.rgb, SIZE_WH, interpolation=cv2.INTER_AREA)
                frame.source = None
                for logo in logos:
                    homography = logo.place(frame.index)
                    if homography is None:
                        continue
                    art = cv2.warpPerspective(logo.rgb, homography, SIZE_WH)
                    w = cv2.warpPerspective(logo.weight, homography, SIZE_WH)[..., None]
                    frame.rgb = np.clip(w * art + (1 - w) * frame.rgb + 0.5, 0, 255).astype(
                        np.uint8
                    )
                writer.write(frame, None)
    print(f"wrote {SAMPLE}")


if __name__ == "__main__":
    main()
