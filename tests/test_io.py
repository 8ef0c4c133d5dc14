from fractions import Fraction

import av
import numpy as np
import pytest

from autoblur.config import EncodeConfig
from autoblur.errors import VideoError
from autoblur.io import VideoReader, VideoWriter
from autoblur.io.writer import check_output_path
from tests.conftest import VIDEOS, write_empty_video, write_tiny_video


def copy_video(src, dst, edit=None):
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, EncodeConfig(), reader.audio_streams) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            box = edit(frame) if edit else None
            writer.write(frame, box)
        return reader.info


def decode_all(path):
    with VideoReader(path) as reader:
        return [(f.time_s, f.rgb) for f in reader.frames()], reader.info


def test_30000_1001_fps_timestamps_and_audio_survive(tmp_path):
    src = write_tiny_video(tmp_path / "in.mp4", rate=Fraction(30000, 1001), frames=15)
    info = copy_video(src, tmp_path / "out.mp4")
    assert info.fps == Fraction(30000, 1001) and isinstance(info.fps, Fraction)
    before, _ = decode_all(src)
    after, out_info = decode_all(tmp_path / "out.mp4")
    assert len(after) == len(before) == 15
    assert [round(t, 4) for t, _ in after] == [round(t, 4) for t, _ in before]
    assert out_info.fps == info.fps and out_info.audio_streams == 1
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mp4")) as b:
        packets_in = [bytes(p) for p in a.demux(audio=0) if p.size]
        packets_out = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert packets_in == packets_out  # copied, not re-encoded


def test_odd_frame_size_and_no_audio(tmp_path):
    src = write_tiny_video(tmp_path / "odd.mp4", size_wh=(75, 49), audio=False)
    copy_video(src, tmp_path / "out.mp4")
    frames, info = decode_all(tmp_path / "out.mp4")
    assert (info.width, info.height, info.audio_streams) == (75, 49, 0)
    assert len(frames) == 12


def test_untouched_pixels_pass_through_and_edits_land(tmp_path, real_media):
    def paint(frame):
        frame.rgb[40:80, 100:180] = (255, 0, 0)
        return (100, 40, 180, 80)

    copy_video(VIDEOS / "carphone_pristine.mp4", tmp_path / "out.mp4", paint)
    before, _ = decode_all(VIDEOS / "carphone_pristine.mp4")
    after, _ = decode_all(tmp_path / "out.mp4")
    outside = np.ones(before[0][1].shape[:2], bool)
    outside[32:88, 92:176] = False
    mse = np.mean(
        [
            np.mean((a[outside].astype(float) - b[outside]) ** 2)
            for (_, a), (_, b) in zip(before, after, strict=True)
        ]
    )
    assert 10 * np.log10(255**2 / mse) > 40
    assert np.all(
        np.abs(after[5][1][45:75, 105:175].astype(int) - (255, 0, 0)).mean(axis=(0, 1)) < 25
    )


def test_header_that_lies_about_frame_count(tmp_path, real_media, caplog):
    frames, info = decode_all(VIDEOS / "tree.avi")
    assert info.frame_count_header == 444
    assert len(frames) == 68
    assert "claims 444 frames but 68 decoded" in caplog.text
    copy_video(VIDEOS / "tree.avi", tmp_path / "tree.mp4")
    out, _ = decode_all(tmp_path / "tree.mp4")
    assert [round(t, 3) for t, _ in out] == [round(t, 3) for t, _ in frames]


def test_edits_never_reach_the_decoder(real_media):
    """Cinepak decodes to RGB and builds each frame on the last one: editing a frame's pixels
    must not leak into the frames decoded after it."""
    clean, _ = decode_all(VIDEOS / "tree.avi")
    with VideoReader(VIDEOS / "tree.avi") as reader:
        seen_while_editing = []
        for frame in reader.frames():
            seen_while_editing.append(frame.rgb.copy())
            frame.rgb[:] = 0  # what a remover does to the masked pixels, everywhere
    assert len(seen_while_editing) == len(clean)
    for index, (_, pixels) in enumerate(clean):
        assert np.array_equal(seen_while_editing[index], pixels), index


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 50])
def test_not_a_video(tmp_path, content):
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match="cannot be read as a video"):
        VideoReader(path)


def test_missing_truncated_and_empty(tmp_path, real_media):
    with pytest.raises(VideoError, match="input file not found"):
        VideoReader(tmp_path / "nope.mp4")
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes((VIDEOS / "bikes.mp4").read_bytes()[:200_000])
    with pytest.raises(VideoError, match="truncated"):
        VideoReader(truncated)
    with pytest.raises(VideoError, match="empty"):
        with VideoReader(write_empty_video(tmp_path / "empty.mp4")) as reader:
            list(reader.frames())


def test_failed_write_leaves_no_file(tmp_path):
    src = write_tiny_video(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with VideoReader(src) as reader, VideoWriter(out, reader.info, EncodeConfig()) as writer:
            for frame in reader.frames():
                writer.write(frame, None)
                raise RuntimeError("stop half-way")
    assert list(tmp_path.iterdir()) == [src]


def test_an_encoder_failure_reaches_the_caller_and_leaves_no_file(tmp_path):
    # Frames that all claim the same timestamp: the muxer refuses them once the encoder
    # (on its own thread, behind the caller) hands out packets. The error must reach the
    # caller, and the partial file must go, whichever call sees it.
    from autoblur.io.reader import VideoFrame

    src = write_tiny_video(tmp_path / "in.mp4")
    with VideoReader(src) as reader:
        info = reader.info
    black = np.zeros((info.height, info.width, 3), np.uint8)
    for frames in (3, 120):  # the error comes at the final flush, or while writing
        with pytest.raises(VideoError, match="writing failed"):
            with VideoWriter(tmp_path / "out.mp4", info, EncodeConfig()) as writer:
                for _ in range(frames):
                    writer.write(VideoFrame(0, 7, 0.0, black.copy()), None)
        assert list(tmp_path.iterdir()) == [src]


def test_output_path_checks(tmp_path):
    src = write_tiny_video(tmp_path / "in.mp4")
    with pytest.raises(VideoError, match="output path is the input"):
        check_output_path(src, tmp_path / "." / "in.mp4")
    with pytest.raises(VideoError, match="does not exist"):
        check_output_path(src, tmp_path / "missing" / "out.mp4")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not __import__("os").access(locked, __import__("os").W_OK):
        with pytest.raises(VideoError, match="not writable"):
            check_output_path(src, locked / "out.mp4")
    with pytest.raises(VideoError, match="no file extension"):
        check_output_path(src, tmp_path / "out")
