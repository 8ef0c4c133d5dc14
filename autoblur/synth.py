"""Synthetic test media: a logo composited onto a real clip under a moving homography.

The composite gives exact ground truth for tests and benchmarks: the true mask of the logo
on every frame and the clean frame underneath it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from autoblur.types import RegionMask
from detectors.reference import read_logo, silhouette_of

Placement = Callable[[int, tuple[int, int]], np.ndarray | None]


def moving_placement(
    logo_hw: tuple[int, int],
    width_frac: float = 0.22,
    start_frame: int = 0,
    end_frame: int | None = None,
    speed_px: float = 3.0,
    tilt: float = 0.15,
) -> Placement:
    """A placement that drifts, turns, scales and tilts the logo smoothly over time.

    Args:
        logo_hw: the logo image's (height, width).
        width_frac: the logo's width as a share of the frame's width.
        start_frame: first frame the logo is on screen.
        end_frame: last frame the logo is on screen (inclusive); None for the end.
        speed_px: drift per frame, in pixels.
        tilt: strength of the perspective change.

    Returns:
        A function of (frame index, frame (height, width)) giving the 3x3 homography from
        logo pixels to frame pixels, or None when the logo is off screen.
    """
    lh, lw = logo_hw

    def place(index: int, frame_hw: tuple[int, int]) -> np.ndarray | None:
        if index < start_frame or (end_frame is not None and index > end_frame):
            return None
        fh, fw = frame_hw
        t = index - start_frame
        scale = width_frac * fw / lw * (1 + 0.15 * np.sin(t / 17))
        angle = 0.12 * np.sin(t / 23)
        swing = fw * 0.25
        cx = fw * 0.45 + swing * np.sin(speed_px * t / swing)
        cy = fh * 0.45 + fh * 0.12 * np.sin(t / 13)
        to_centre = np.array([[1, 0, -lw / 2], [0, 1, -lh / 2], [0, 0, 1]], np.float64)
        rotate = np.array(
            [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
        )
        perspective = np.array(
            [[1, 0, 0], [0, 1, 0], [tilt * np.sin(t / 19) / lw, tilt * 0.5 / lh, 1]], np.float64
        )
        zoom = np.diag([scale, scale, 1.0])
        move = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float64)
        return move @ zoom @ rotate @ perspective @ to_centre

    return place


@dataclass
class Composite:
    """A composited clip and its ground truth.

    Attributes:
        path: the composited video.
        masks: per frame, the logo's true region (None where it is off screen).
        frame_count: number of frames written.
    """

    path: Path
    masks: list[RegionMask | None]
    frame_count: int


def composite_logo(
    source: Path,
    logo: Path,
    output: Path,
    placement: Placement,
    max_frames: int | None = None,
    encode: EncodeConfig | None = None,
    blur_samples: int = 1,
) -> Composite:
    """Composite ``logo`` onto the frames of ``source`` and encode the result (audio kept).

    Args:
        source: a real clip.
        logo: the logo image (its alpha channel, or its silhouette, decides its shape).
        output: where to write the composite.
        placement: where the logo sits on each frame.
        max_frames: stop after this many frames.
        encode: encoder settings (default: lossless H.264, so the composite decodes to the
            same pixels on every run).
        blur_samples: motion blur: the logo is drawn at this many instants spread over each
            frame's interval and averaged (the placement is called with fractional indices);
            its true mask is where the averaged coverage exceeds one half.
    """
    rgb, alpha = read_logo(logo)
    coverage = (
        alpha.astype(np.float32) / 255
        if alpha is not None
        else silhouette_of(rgb, None).astype(np.float32)
    )
    masks: list[RegionMask | None] = []
    encode = encode or EncodeConfig(crf=0, preset="veryfast")
    with VideoReader(source) as reader:
        with VideoWriter(output, reader.info, encode, reader.audio_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                if max_frames is not None and frame.index >= max_frames:
                    break
                frame_hw = frame.rgb.shape[:2]
                size = (frame_hw[1], frame_hw[0])
                weight = np.zeros(frame_hw, np.float32)
                art = np.zeros((*frame_hw, 3), np.float32)
                for k in range(blur_samples):
                    instant = frame.index + (k + 0.5) / blur_samples - 0.5
                    homography = placement(instant if blur_samples > 1 else frame.index, frame_hw)
                    if homography is None:
                        continue
                    w = cv2.warpPerspective(coverage, homography, size, flags=cv2.INTER_LINEAR)
                    rgb_k = cv2.warpPerspective(rgb, homography, size, flags=cv2.INTER_LINEAR)
                    weight += w / blur_samples
                    art += w[..., None] * rgb_k / blur_samples
                if not weight.any():
                    masks.append(None)
                    writer.write(frame, None)
                    continue
                blended = art + (1 - weight[..., None]) * frame.rgb
                frame.rgb[:] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
                masks.append(RegionMask.from_dense(weight > 0.5))
                touched = RegionMask.from_dense(weight > 0)
                writer.write(
                    frame, None if touched is None else tuple(int(v) for v in touched.xyxy)
                )
    return Composite(path=output, masks=masks, frame_count=len(masks))


def flat_mark(colours: int = 3, size_px: int = 240) -> np.ndarray:
    """A flat brand mark on white as (size, size, 3) uint8 RGB: solid shapes, no texture.

    Args:
        colours: 3 for an open red ring, a green disc and a blue bar; 2 for the ring and the bar.
        size_px: side of the square image.
    """
    image = np.full((size_px, size_px, 3), 255, np.uint8)
    u = size_px / 240
    centre = (round(80 * u), round(80 * u))
    cv2.ellipse(
        image, centre, (round(55 * u),) * 2, 0, 40, 330, (220, 30, 40), round(22 * u), cv2.LINE_AA
    )
    if colours >= 3:
        cv2.circle(
            image, (round(175 * u), round(70 * u)), round(34 * u), (30, 170, 60), -1, cv2.LINE_AA
        )
    top_left = (round(40 * u), round(170 * u))
    bottom_right = (round(215 * u), round(205 * u))
    cv2.rectangle(image, top_left, bottom_right, (30, 70, 210), -1, cv2.LINE_AA)
    return image
