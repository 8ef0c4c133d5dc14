"""Streaming encoder that writes to a temporary file and renames it only on success."""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from pathlib import Path

import av
import av.error
import numpy as np

from autoblur.config import EncodeConfig
from autoblur.errors import VideoError
from autoblur.io.convert import reformat
from autoblur.io.format_plan import COUNTED_CONTAINERS, OutputPlan, plan_output, yuv_layout
from autoblur.io.palette import PALETTE_FORMAT, PaletteEncoder
from autoblur.io.passthrough import carry_over
from autoblur.io.reader import VideoFrame, VideoInfo
from autoblur.io.smart_render import GopSplicer, VideoEncoder
from autoblur.io.streams import main_video_stream
from autoblur.io.timestamps import CountedPlacement, FrameTickEncoder, counted_read_delay

log = logging.getLogger(__name__)

_PLANAR_YUV = re.compile(r"^yuva?4[0-4][0-4]p(9|1[0-6])?(le)?$")  # planes the writer can patch
WRAPPING_CONTAINERS = {"mpegts", "mpeg", "vob", "dvd", "svcd", "vcd"}
M2TS_SUFFIXES = {".m2ts", ".mts"}  # Blu-ray and AVCHD transport streams
_QUEUED_FRAMES = 4  # frames waiting for the encoder thread; bounds the memory it holds


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
    """Encode frames in the input's own format, size, rate and timestamps; copy the rest.

    The output format follows ``autoblur.io.format_plan`` (the master's codec, profile,
    bit depth, chroma and colour properties unless ``encode.codec`` names an encoder); audio
    and subtitle streams, timecode, tags and chapters travel with it
    (``autoblur.io.passthrough``). Untouched frames of intra-only codecs are copied packet for
    packet.

    Encoding and muxing run on a thread of their own, a few frames behind the caller, so the
    encoder works while the next frames are decoded and processed. A frame must not be
    edited after it is written. An error of that thread is raised by the next call.

    Args:
        path: the final output file; nothing appears there until ``close`` succeeds.
        info: the input's properties, which the output keeps.
        encode: codec and quality settings.
        audio_streams: input streams (audio, subtitles, data: ``VideoReader.copied_streams``)
            whose packets ``mux_audio`` copies.
        plan: the output encoding; None plans it from the input (``info.path``).

    Raises:
        VideoError: the container or codec cannot be opened.
        ConfigError: the codec or encoder asked for cannot be used.
    """

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        encode: EncodeConfig,
        audio_streams: list[av.stream.Stream] | None = None,
        plan: OutputPlan | None = None,
    ) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(
            f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}"
        )
        self._time_base = info.time_base
        self._worker: threading.Thread | None = None
        # Wall and CPU seconds the encoder thread spent on its jobs (not waiting for them).
        self.thread_seconds = [0.0, 0.0]
        self._splicer: GopSplicer | None = None
        self._encoder: VideoEncoder | None = None  # the output stream's, where not spliced
        self._placement: CountedPlacement | None = None  # AVI: times from the frame count
        self._durations: dict[int, int] = {}  # pts -> input frame duration, until encoded
        self._copied_dts: dict[int, int] = {}  # input stream index -> last copied packet's dts
        try:
            self._container = av.open(str(self._tmp), "w")
        except (av.error.FFmpegError, ValueError) as exc:
            raise VideoError(f"{self.path}: cannot create output ({exc})") from None
        if self._container.format.name in COUNTED_CONTAINERS | WRAPPING_CONTAINERS:
            # AVI files pictures by decode time and takes other packets as they come: making a
            # copied track's negative start (AAC priming) zero would move the video a chunk.
            # MPEG-TS/PS store times modulo 2**33: a recording across the wrap, which the
            # demuxer reads as negative times, is written back as it was.
            self._container.options["avoid_negative_ts"] = "disabled"
        if self.path.suffix.lower() in M2TS_SUFFIXES and self._container.format.name == "mpegts":
            # Blu-ray/AVCHD transport streams: 192-byte packets with arrival times, which
            # FFmpeg writes only for a name ending in .m2ts (its temporary name here does not).
            self._container.options["mpegts_m2ts_mode"] = "1"
        try:
            with av.open(str(info.path)) as source:
                self.plan = plan or plan_output(
                    main_video_stream(source),
                    encode,
                    self._container.format.name,
                    _video_bit_rate(source),
                    (info.width, info.height, info.pix_fmt),
                )
                template = main_video_stream(source)
                self._video, self.carried = carry_over(
                    source,
                    self._container,
                    lambda: (
                        self._add_copied_video_stream(template, info)
                        if self.plan.gop_copy
                        else self._add_video_stream(info, self.plan)
                    ),
                    list(audio_streams or []),
                )
                rotation = _rotation(source)
                if rotation and not self.plan.gop_copy:  # a copied stream keeps its own
                    self._video.set_display_rotation(rotation)
            self._time_base = self.plan.time_base or info.time_base
            self._rescale = info.time_base / self._time_base  # 1 unless the plan's differs
            self._last_pts: int | None = None
            if self.plan.gop_copy:
                self._splicer = GopSplicer(
                    str(info.path),
                    self._video,
                    self._mux,
                    self._encodable,
                    lambda: self._ticking(self._gop_encoder(info)),
                    1 / (info.fps * info.time_base),
                )
            elif self._container.format.name in COUNTED_CONTAINERS:
                delay = counted_read_delay(self._gop_encoder(info), self._container.format.name)
                self._placement = CountedPlacement(delay)
            self._encoder = None if self.plan.gop_copy else self._ticking(self._video.codec_context)
        except (av.error.FFmpegError, ValueError) as exc:
            self.abort()
            raise VideoError(
                f"{self.path}: cannot set up encoding ({exc}); give the output the input's "
                "extension, or .mkv, or another --codec"
            ) from None
        except BaseException:
            self.abort()
            raise
        self._audio = self.carried.streams
        self.frames_written = 0
        self.frames_copied = 0
        self._jobs: queue.Queue = queue.Queue(maxsize=_QUEUED_FRAMES)
        self._failure: Exception | None = None
        self._worker = threading.Thread(target=self._run_jobs, name="autoblur-encode", daemon=True)
        self._worker.start()

    def _add_video_stream(self, info: VideoInfo, plan: OutputPlan) -> av.VideoStream:
        stream = self._container.add_stream(plan.codec, rate=info.fps, options=plan.options)
        stream.width, stream.height = info.width, info.height
        stream.pix_fmt = plan.pix_fmt
        stream.time_base = plan.time_base or info.time_base
        stream.codec_context.time_base = plan.frame_tick or plan.time_base or info.time_base
        for name, value in plan.context.items():
            target = stream if name == "codec_tag" else stream.codec_context
            setattr(target, name, value)
        return stream

    def _add_copied_video_stream(self, template: av.VideoStream, info: VideoInfo) -> av.VideoStream:
        """The output stream for copied GOPs, made from the input's, at the input's frame rate.

        The frame rate is set explicitly: a template may carry none, and the MOV/MP4 muxers
        then derive the timecode track's rate from the time base (1/12800: "fps too large").
        """
        stream = self._container.add_stream_from_template(template)
        stream.codec_context.framerate = info.fps
        if "codec_tag" in self.plan.context:  # avc3: parameter sets in band, as splices have
            stream.codec_tag = self.plan.context["codec_tag"]
        return stream

    def _gop_encoder(self, info: VideoInfo) -> av.VideoCodecContext:
        """A fresh encoder for one run of re-encoded GOPs (parameter sets in band)."""
        context = av.CodecContext.create(self.plan.codec, "w")
        context.width, context.height = info.width, info.height
        context.pix_fmt = self.plan.pix_fmt
        context.time_base = self.plan.frame_tick or self._time_base
        context.framerate = info.fps
        for name, value in self.plan.context.items():
            if name != "codec_tag":
                setattr(context, name, value)
        context.options = dict(self.plan.options)
        context.open()
        return context

    def _ticking(self, context: av.VideoCodecContext) -> VideoEncoder:
        """``context``, wrapped where the codec needs it.

        Encoders that count time in frames are fed and read in the output's time base;
        palette codecs (GIF) get each frame's own palette.
        """
        if self.plan.frame_tick:
            return FrameTickEncoder(context, self._time_base)
        return PaletteEncoder(context) if self.plan.pix_fmt == PALETTE_FORMAT else context

    def _encode_video(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        """The packets the output's encoder gives for ``frame`` (None: flush)."""
        packets = self._encoder.encode(frame)
        for packet in packets:
            packet.stream = self._video
        return packets

    def describe(self) -> dict:
        """The output's format and what happened to each input stream, for the report."""
        copied = self.frames_copied + (self._splicer.frames_copied if self._splicer else 0)
        encoded = self.frames_written - copied
        video = "copied" if not encoded else "re-encoded" if not copied else "partly copied"
        streams = [
            {**entry, "action": video} if entry["action"] == "re-encoded" else entry
            for entry in self.carried.table
        ]
        return {
            **self.plan.describe(self._container.format.name),
            "frames_copied": copied,
            "frames_encoded": encoded,
            "streams": streams,
        }

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
        if self._splicer is not None:
            try:
                self._splicer.write(frame, changed_xyxy)
            except ValueError as exc:
                raise VideoError(f"{self.path}: writing failed ({exc})") from None
            return
        untouched = changed_xyxy is None and frame.source is not None
        if untouched and self.plan.copy_untouched and frame.packet is not None:
            packet = frame.packet
            packet.stream = self._video
            packet.pts = packet.dts = self._out_pts(frame.pts)
            packet.time_base = self._time_base
            self.frames_copied += 1
            self._mux(self._placed([packet]))
            return
        out = self._encodable(frame, changed_xyxy)
        out.pict_type = av.video.frame.PictureType.NONE  # the input's frame types bind nothing
        out.pts = self._out_pts(frame.pts)
        if frame.source is not None and frame.source.duration:
            self._durations[out.pts] = max(1, round(frame.source.duration * self._rescale))
        out.time_base = self._time_base
        self._mux(self._placed(self._with_durations(self._encode_video(out))))

    def _out_pts(self, pts: int) -> int:
        """A frame's time in the output's time base, after the previous frame's."""
        if self._rescale != 1:
            pts = round(pts * self._rescale)
            if self._last_pts is not None and pts <= self._last_pts:
                pts = self._last_pts + 1  # two frames in one AVI chunk: the next chunk
        self._last_pts = pts
        return pts

    def _encodable(
        self, frame: VideoFrame, changed_xyxy: tuple[int, int, int, int] | None
    ) -> av.VideoFrame:
        pix_fmt = self.plan.pix_fmt if self.plan.pix_fmt != PALETTE_FORMAT else "rgba"
        source = frame.source
        if source is not None and _deeper_twin(source.format.name, pix_fmt):
            source = reformat(source, format=pix_fmt)  # ProRes 4444's 12 bits -> 10, alpha kept
        if source is None or source.format.name != pix_fmt or not _PLANAR_YUV.match(pix_fmt):
            return reformat(
                _with_alpha(frame, pix_fmt),
                format=pix_fmt,
                dst_colorspace=self.plan.context.get("colorspace"),
                dst_color_range=self.plan.context.get("color_range"),
            )
        if changed_xyxy is None:
            return source
        # Patch the decoded frame itself (on a private copy of its buffers), so that what the
        # decoder attached to it (A/53 captions and other side data, interlacing, colour
        # tags) reaches the encoder with it.
        source.make_writable()
        planes = _planes(source)
        sub_x = source.width // planes[1].shape[1]
        sub_y = source.height // planes[1].shape[0]
        x0, y0, x1, y1 = changed_xyxy
        x0, y0 = x0 - x0 % sub_x, y0 - y0 % sub_y
        x1 = min(x1 + (-x1) % sub_x, source.width)
        y1 = min(y1 + (-y1) % sub_y, source.height)
        patch = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.rgb[y0:y1, x0:x1]), "rgb24")
        patch = reformat(
            patch,
            format=pix_fmt,
            dst_colorspace=source.colorspace or None,
            dst_color_range=source.color_range or None,
        )
        # Y, U and V only: an alpha plane keeps the picture's own transparency.
        for c, (plane, patched) in enumerate(zip(planes[:3], _planes(patch)[:3], strict=True)):
            sx, sy = (1, 1) if c == 0 else (sub_x, sub_y)
            plane[y0 // sy : y1 // sy, x0 // sx : x1 // sx] = patched
        return source

    def _with_durations(self, packets: list[av.Packet]) -> list[av.Packet]:
        """Give encoded packets their input frames' durations (the last one sets the end)."""
        for packet in packets:
            packet.duration = self._durations.pop(packet.pts, packet.duration)
        return packets

    def _placed(self, packets: list[av.Packet]) -> list[av.Packet]:
        """Video packets with the decode times that show them at their own times."""
        return self._placement.place(packets, self._video) if self._placement else packets

    def mux_audio(self, packet: av.Packet) -> None:
        """Copy one input audio (or subtitle, or data) packet into the output as it is."""
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
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                if isinstance(job[0], VideoFrame):
                    self._encode(*job)
                else:
                    packet, out = job
                    self._mux([self._in_order(packet, out)])
            except Exception as exc:  # raised to the caller by its next call
                self._failure = exc
            self.thread_seconds[0] += time.perf_counter() - wall
            self.thread_seconds[1] += time.thread_time() - cpu

    def _in_order(self, packet: av.Packet, out: av.stream.Stream) -> av.Packet:
        """A copied packet for ``out``, its decode time after the last one's.

        Joined recordings can step back in time (two MPEG-TS files one after the other); as
        ffmpeg does, such a packet is moved to just after the one before it.
        """
        index = packet.stream.index
        last = self._copied_dts.get(index)
        if packet.dts is not None:
            if last is not None and packet.dts <= last:
                log.info("%s: stream %d steps back in time; moved on", self.path, index)
                packet.dts = last + 1
                if packet.pts is not None and packet.pts < packet.dts:
                    packet.pts = packet.dts
            self._copied_dts[index] = packet.dts
        packet.stream = out
        return packet

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
            if self._splicer is not None:
                self._splicer.close()
            else:
                self._mux(self._placed(self._with_durations(self._encode_video(None))))
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
        if self._splicer is not None:
            self._splicer.discard()
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


def _rotation(source: av.container.InputContainer) -> int:
    """The input's display rotation in degrees counter-clockwise (phones' portrait video)."""
    for frame in source.decode(main_video_stream(source)):
        return frame.rotation
    return 0


def _video_bit_rate(source: av.container.InputContainer) -> int | None:
    """The video's bit rate from the container's, less the audio's (for MXF and the like)."""
    if not source.bit_rate:
        return None
    audio = sum(s.codec_context.bit_rate or 0 for s in source.streams.audio)
    return max(source.bit_rate - audio, 0) or None


def _deeper_twin(decoded: str, encoded: str) -> bool:
    """Whether the decoder's format is the encoder's layout (alpha, chroma) at another depth."""
    have, want = yuv_layout(decoded), yuv_layout(encoded)
    return decoded != encoded and have is not None and want is not None and have[:2] == want[:2]


def _has_alpha(pix_fmt: str) -> bool:
    """Whether pictures in ``pix_fmt`` can be transparent (a palette's entries can)."""
    if pix_fmt == PALETTE_FORMAT:
        return True
    return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)


def _with_alpha(frame: VideoFrame, pix_fmt: str) -> av.VideoFrame:
    """``frame``'s RGB pixels as a frame, with the decoded picture's alpha where both have one."""
    source = frame.source
    if source is None or not _has_alpha(pix_fmt) or not _has_alpha(source.format.name):
        return av.VideoFrame.from_ndarray(frame.rgb, format="rgb24")
    alpha = reformat(source, format="rgba").to_ndarray()[..., 3:]
    return av.VideoFrame.from_ndarray(np.concatenate([frame.rgb, alpha], axis=2), format="rgba")


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """(height, width) views of a planar frame's planes, without their row padding.

    uint8 for 8-bit formats, uint16 (native byte order, as the ``le`` formats are) for deeper.
    """
    dtype = np.uint16 if frame.format.components[0].bits > 8 else np.uint8
    views = []
    for plane in frame.planes:
        width = plane.line_size // np.dtype(dtype).itemsize
        rows = np.frombuffer(plane, dtype).reshape(plane.height, width)
        views.append(rows[:, : plane.width])
    return views
