"""Shared fixtures: the real media in tests/data and composites made from them."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from autoblur.synth import Composite, composite_logo, moving_placement
from detectors.logo import read_logo

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SAMPLE = REPO / "examples" / "sample.mp4"
# The README sample's first frames: both of its logos (OpenCV from frame 0, Windows from frame
# 15) at a fifth of the full sample's cost, for tests about rules, batches and reports rather
# than detection. The full sample runs end to end in CI's first step (.ci/run: the README's
# command, which must exit 0).
SHORT_FRAMES = 24
# Its first keyframe interval (the OpenCV logo alone), for tests about batches, which need a
# branded item under every rule file but not what each detector finds.
FIRST_INTERVAL_FRAMES = 12
VIDEOS = DATA / "videos"
IMAGES = DATA / "images"
PARITY_ENV = "AUTOBLUR_PARITY_DIR"


@pytest.fixture(scope="session")
def real_media() -> Path:
    """The folder of real test media (tests/data, part of the repository)."""
    return DATA


def parity_dir(name: str) -> Path | None:
    """The parity fixture folder ``name`` inside ``$AUTOBLUR_PARITY_DIR``; None when unset.

    Raises:
        FileNotFoundError: the variable is set but that folder is not there.
    """
    root = os.environ.get(PARITY_ENV)
    if not root:
        return None
    folder = Path(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"{PARITY_ENV}={root}: no parity fixtures {folder}")
    return folder


needs_parity = pytest.mark.skipif(
    not os.environ.get(PARITY_ENV),
    reason=f"no parity fixtures: set {PARITY_ENV} (.ci/run sets it to ../shared/parity)",
)


def make_composite(
    tmp_dir: Path, video: str, logo: Path, max_frames: int, **placement: object
) -> Composite:
    rgb, _ = read_logo(logo)
    return composite_logo(
        VIDEOS / video,
        logo,
        tmp_dir / f"{Path(video).stem}_{logo.stem}.mp4",
        moving_placement(rgb.shape[:2], **placement),
        max_frames=max_frames,
    )


@pytest.fixture(scope="session")
def bunny_windows(tmp_path_factory: pytest.TempPathFactory, real_media: Path) -> Composite:
    """Big Buck Bunny (720p, with audio), 72 frames, the Windows logo moving in from frame 20."""
    return make_composite(
        tmp_path_factory.mktemp("bunny"),
        "bigbuckbunny.mp4",
        IMAGES / "WindowsLogo.jpg",
        72,
        start_frame=20,
        speed_px=6,
    )


@pytest.fixture(scope="session")
def bikes_box(tmp_path_factory: pytest.TempPathFactory, real_media: Path) -> Composite:
    """bikes.mp4 (real street footage with hard cuts), 100 frames, the box logo moving over it."""
    return make_composite(
        tmp_path_factory.mktemp("bikes"),
        "bikes.mp4",
        IMAGES / "box.png",
        100,
        start_frame=5,
        speed_px=4,
        width_frac=0.3,
    )


def write_tiny_video(
    path: Path,
    size_wh: tuple[int, int] = (96, 64),
    frames: int = 12,
    rate: Fraction = Fraction(30000, 1001),
    audio: bool = True,
) -> Path:
    """A small synthetic H.264 clip (moving gradient), optionally with an AAC track."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height = size_wh
        video.pix_fmt = "yuv444p" if size_wh[0] % 2 or size_wh[1] % 2 else "yuv420p"
        sound = container.add_stream("aac", rate=48000) if audio else None
        xs = np.linspace(0, 255, size_wh[0], dtype=np.float32)
        for i in range(frames):
            rgb = np.empty((size_wh[1], size_wh[0], 3), np.uint8)
            rgb[..., 0] = (xs + 9 * i) % 256
            rgb[..., 1] = np.linspace(0, 255, size_wh[1])[:, None]
            rgb[..., 2] = 128
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode(None))
        if sound is not None:
            samples = int(48000 * frames / rate)
            tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start : start + 1024][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate = 48000
                frame.pts = start
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path


def write_empty_video(path: Path) -> Path:
    """An MP4 with a video stream declared but no frame in it."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return path


def render_word(path: Path, word: str) -> Path:
    """A wordmark as an RGBA PNG: dark-red capitals outlined in white on a transparent ground."""
    font, scale, thickness = cv2.FONT_HERSHEY_DUPLEX, 3.0, 7
    (width, height), baseline = cv2.getTextSize(word, font, scale, thickness)
    canvas = np.zeros((height + baseline + 40, width + 40, 4), np.uint8)
    origin = (20, height + 20)
    cv2.putText(canvas, word, origin, font, scale, (255, 255, 255, 255), thickness + 8, cv2.LINE_AA)
    cv2.putText(canvas, word, origin, font, scale, (20, 20, 160, 255), thickness, cv2.LINE_AA)
    cv2.imwrite(str(path), canvas)
    return path


SKIPPED_FILE_ENV = "AUTOBLUR_SKIPPED_FILE"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Where ``$AUTOBLUR_SKIPPED_FILE`` is set, append each skipped test's id to that file.

    CI runs the README's test command on the README's install with it set, then installs the
    other extras and runs exactly the tests that were skipped.
    """
    if report.skipped and report.when in ("setup", "call"):
        _list_skipped(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module skipped whole at collection (``importorskip``) is listed as one id."""
    if report.skipped:
        _list_skipped(report.nodeid)


def _list_skipped(nodeid: str) -> None:
    path = os.environ.get(SKIPPED_FILE_ENV)
    # With pytest-xdist every report reaches the controller too: only it writes.
    if path and "PYTEST_XDIST_WORKER" not in os.environ:
        with open(path, "a", encoding="utf-8") as listing:
            listing.write(nodeid + "\n")


def head_of(source: Path, path: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` into ``path``, audio kept, with autoblur's I/O."""
    with VideoReader(source) as reader:
        with VideoWriter(path, reader.info, EncodeConfig(), reader.audio_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                if frame.index >= frames:
                    break
                writer.write(frame, None)
    return path


@pytest.fixture(scope="session")
def short_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first SHORT_FRAMES frames of the README sample (both logos)."""
    return head_of(SAMPLE, tmp_path_factory.mktemp("short") / "sample_short.mp4", SHORT_FRAMES)


@pytest.fixture(scope="session")
def first_interval_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first FIRST_INTERVAL_FRAMES frames of the README sample (the OpenCV logo)."""
    path = tmp_path_factory.mktemp("first_interval") / "sample_first_interval.mp4"
    return head_of(SAMPLE, path, FIRST_INTERVAL_FRAMES)
