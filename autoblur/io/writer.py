"""Streaming encoder that writes to a temporary file and renames it only on success."""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path

import av
import av.error
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.errors import VideoError
from autoblur.io.reader import VideoFrame, VideoInfo

log = logging.getLogger(__name__)

_CRF_PRESET_CODECS = {"libx264", "h264", "libx265", "hevc"}
_PASSTHROUGH_FORMATS = {"yuv420p", "yuv422p", "yuv444p"}
_QUEUED_FRAMES = 4  # frames waiting for the encoder thread; bounds the memory it holds


def output_pix_fmt(info: VideoInfo) -> str:
    """The encoder's pixel format: the input's where possible, else full-resolution chroma.

    Keeping the input's chroma layout lets untouched pixels reach the encoder bit-exact;
    RGB sources and odd frame sizes (which 4:2:0 cannot hold) get 4:4:4.
    """
    even = not (info.width % 2 or info.height % 2)
    if even and info.pix_fmt in _PASSTHROUGH_FORMATS:
        return info.pix_fmt
    if even and info.pix_fmt == "yuvj420p":  # full-range JPEG-style input: re-range, keep 4:2:0
        return "yuv420p"
    return "yuv444p"


def check_output_path(input_path: Path, output_path: Path) -> None:
    """Refuse an output that would overwrite the input or cannot be written.

    Raises:
        VideoError: the paths are the same file, the folder is missing or not writable, or
            the extension names no container.
    """
    if output_path.resolve() == input_path.resolve() or (
        output_path.exists() and os.path.samefile(output_path, input_path)
    ):
        raise VideoError(f"{output_path}: output path is the input; choose another -o path")
    folder = output_path.parent.resolve()
    if not folder.is_dir():
        raise VideoError(f"{output_path}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise VideoError(f"{output_path}: output folder {folder} is not writable")
    if output_path.is_dir():
        raise VideoError(f"{output_path}: is a folder; give a file name such as out.mp4")
    if not output_path.suffix:
        raise VideoError(f"{output_path}: no file extension; use .mp4, .mkv or .mov")


class VideoWriter:
    """Encode RGB frames with the input's size, rate and timestamps; copy audio packets.

    Encoding and muxing run on a thread of their own, a few frames behind the caller, so the
    encoder works while the next frames are decoded and processed. A frame must not be
    edited after it is written. An error of that thread is raised by the next call.

    Args:
        path: the final output file; nothing appears there until ``close`` succeeds.
        info: the input's properties, which the output keeps.
        encode: codec and quality settings.
        audio_streams: input audio streams whose packets ``mux_audio`` will copy.

    Raises:
        VideoError: the container or codec cannot be opened.
    """

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        encode: EncodeConfig,
        audio_streams: list[av.audio.AudioStream] | None = None,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(
            f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}"
        )
        self._time_base = info.time_base
        self._worker: threading.Thread | None = None
        try:
            self._container = av.open(str(self._tmp), "w")
        except (av.error.FFmpegError, ValueError) as exc:
            raise VideoError(f"{self.path}: cannot create output ({exc})") from None
        try:
            self._video = self._add_video_stream(info, encode)
            self._audio = {
                src.index: self._container.add_stream_from_template(src)
                for src in audio_streams or []
            }
        except (av.error.FFmpegError, ValueError) as exc:
            self.abort()
            raise VideoError(f"{self.path}: cannot set up encoding ({exc})") from None
        self.frames_written = 0
        self._jobs: queue.Queue = queue.Queue(maxsize=_QUEUED_FRAMES)
        self._failure: Exception | None = None
        self._worker = threading.Thread(target=self._run_jobs, name="autoblur-encode", daemon=True)
        self._worker.start()

    def _add_video_stream(self, info: VideoInfo, encode: EncodeConfig) -> av.VideoStream:
        stream = self._container.add_stream(encode.codec, rate=info.fps)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = output_pix_fmt(info)
        stream.time_base = info.time_base
        stream.codec_context.time_base = info.time_base
        options = {"crf": str(encode.crf)}
        if encode.codec in _CRF_PRESET_CODECS:
            options["preset"] = encode.preset
        elif encode.codec.startswith("libvpx"):
            options["b"] = "0"
        if self._container.format.name == "avi":  # AVI stores no presentation times
            options["bf"] = "0"
        stream.options = options
        return stream

    def write(self, frame: VideoFrame, changed_xyxy: tuple[int, int, int, int] | None) -> None:
        """Encode one frame at its own timestamp.

        Args:
            frame: the decoded frame; its ``rgb`` holds the edited pixels.
            changed_xyxy: the box (x0, y0, x1, y1, exclusive) outside which ``rgb`` is
                untouched, or None when nothing changed. Pixels outside it go to the encoder
                in the decoder's own format, without a lossy RGB round trip.
        """
        self._submit((frame, changed_xyxy))
        self.frames_written += 1

    def _encode(self, frame: VideoFrame, changed_xyxy: tuple[int, int, int, int] | None) -> None:
        out = self._encodable(frame, changed_xyxy)
        out.pts = frame.pts
        out.time_base = self._time_base
        self._mux(self._video.encode(out))

    def _encodable(
        self, frame: VideoFrame, changed_xyxy: tuple[int, int, int, int] | None
    ) -> av.VideoFrame:
        pix_fmt = self._video.pix_fmt
        source = frame.source
        if source is None or source.format.name != pix_fmt:
            return av.VideoFrame.from_ndarray(frame.rgb, format="rgb24").reformat(format=pix_fmt)
        if changed_xyxy is None:
            return source
        planes = [_plane_array(plane).copy() for plane in source.planes]
        sub_x = source.width // planes[1].shape[1]
        sub_y = source.height // planes[1].shape[0]
        x0, y0, x1, y1 = changed_xyxy
        x0, y0 = x0 - x0 % sub_x, y0 - y0 % sub_y
        x1 = min(x1 + (-x1) % sub_x, source.width)
        y1 = min(y1 + (-y1) % sub_y, source.height)
        patch = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.rgb[y0:y1, x0:x1]), "rgb24")
        patch = patch.reformat(format=pix_fmt)
        for c, plane in enumerate(planes):
            sx, sy = (1, 1) if c == 0 else (sub_x, sub_y)
            plane[y0 // sy : y1 // sy, x0 // sx : x1 // sx] = _plane_array(patch.planes[c])
        return _frame_from_planes(planes, pix_fmt)

    def mux_audio(self, packet: av.Packet) -> None:
        """Copy one input audio packet into the output without re-encoding."""
        out = self._audio.get(packet.stream.index)
        if out is not None:
            self._submit((packet, out))

    def _submit(self, job: tuple) -> None:
        if self._failure is not None:
            raise self._failure
        self._jobs.put(job)

    def _run_jobs(self) -> None:
        """The encoder thread: encode frames and copy packets in order until told to stop."""
        while (job := self._jobs.get()) is not None:
            if self._failure is not None:
                continue  # keep draining, so that the caller never waits on a full queue
            try:
                if isinstance(job[0], VideoFrame):
                    self._encode(*job)
                else:
                    packet, out = job
                    packet.stream = out
                    self._mux([packet])
            except Exception as exc:  # raised to the caller by its next call
                self._failure = exc

    def _stop_worker(self) -> None:
        if self._worker is not None and self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join()

    def _mux(self, packets: list[av.Packet]) -> None:
        try:
            self._container.mux(packets)
        except (av.error.FFmpegError, ValueError) as exc:
            raise VideoError(f"{self.path}: writing failed ({exc})") from None

    def close(self) -> None:
        """Flush the encoder, finish the file and move it into place (or delete it on error)."""
        self._stop_worker()
        try:
            if self._failure is not None:
                raise self._failure
            self._mux(self._video.encode(None))
            try:
                self._container.close()
            except av.error.FFmpegError as exc:
                raise VideoError(f"{self.path}: finishing the file failed ({exc})") from None
        except BaseException:
            self.abort()
            raise
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Stop and delete the partial output."""
        self._stop_worker()
        try:
            self._container.close()
        except (av.error.FFmpegError, ValueError):
            pass
        self._discard()

    def _discard(self) -> None:
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A (height, width) uint8 view of one 8-bit plane, without its row padding."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _frame_from_planes(planes: list[np.ndarray], pix_fmt: str) -> av.VideoFrame:
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, pix_fmt)
    for plane, data in zip(frame.planes, planes, strict=True):
        np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width] = (
            data
        )
    return frame
