"""The reader's reusable RGB converter gives what PyAV's own conversion gives, clip after clip."""

from __future__ import annotations

import av
import numpy as np

from autoblur.io import VideoReader
from autoblur.io.convert import reformat
from tests.conftest import write_tiny_video


def _reference(path):
    """Per frame: PyAV's own full-size RGB and 40-wide AREA preview (a new context each)."""
    with av.open(str(path)) as container:
        out = []
        for frame in container.decode(video=0):
            height = max(1, round(frame.height * 40 / frame.width))
            small = frame.reformat(width=40, height=height, format="rgb24", interpolation="AREA")
            out.append((frame.to_ndarray(format="rgb24"), small.to_ndarray()))
        return out


def test_rgb_and_previews_match_pyav_across_sizes_and_formats(tmp_path):
    # 4:2:0 and 4:4:4 (odd size) clips read in turn through the same thread's converter.
    clips = [
        write_tiny_video(tmp_path / "a.mp4", (96, 64), frames=4, audio=False),
        write_tiny_video(tmp_path / "b.mp4", (75, 51), frames=4, audio=False),
        write_tiny_video(tmp_path / "c.mp4", (96, 64), frames=4, audio=False),
    ]
    for path in clips * 2:
        with VideoReader(path) as reader:
            frames = list(reader.frames())
        wanted = _reference(path)
        assert len(frames) == len(wanted) == 4
        for frame, (rgb, preview) in zip(frames, wanted, strict=True):
            assert np.array_equal(frame.preview(40), preview)  # before rgb: made from the source
            assert np.array_equal(frame.rgb, rgb)


def test_ten_bit_422_patches_convert_the_same_every_time():
    """FFmpeg 8.1's sliced swscale sometimes greys a chroma row of a 48-pixel-wide RGB ->
    yuv422p10le conversion (the width of a logo's patch): the conversions here must not."""
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:] = (255, 0, 0)
    picture = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    results = {
        b"".join(bytes(p) for p in reformat(picture, format="yuv422p10le").planes)
        for _ in range(4000)
    }
    assert len(results) == 1
