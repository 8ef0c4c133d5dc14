"""Streaming decoder: frames as RGB arrays with their exact timestamps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np

from autoblur.errors import VideoError
from autoblur.io.convert import reformat
from autoblur.io.streams import is_cover, main_video_stream
from autoblur.io.timestamps import PresentationClock

log = logging.getLogger(__name__)
# How far before a piece's start the reader seeks (demuxers that land late: MPEG-TS, -PS).
_SEEK_MARGIN_S = 10


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the input.

    Attributes:
        path: the input file.
        width: frame width in pixels.
        height: frame height in pixels.
        fps: average frame rate.
        time_base: the video stream's time base; frame ``pts`` are in these units.
        frame_count_header: the frame count the container claims (may be wrong, or None).
        duration_s: the container's duration in seconds, or None.
        codec: the video codec name.
        audio_streams: number of audio streams (copied to the output untouched).
        format_name: the container format.
        pix_fmt: the decoder's pixel format (e.g. ``yuv420p``), or None if unknown.
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frame_count_header: int | None
    duration_s: float | None
    codec: str
    audio_streams: int
    format_name: str
    pix_fmt: str | None = None


class VideoFrame:
    """One decoded frame.

    Args:
        index: 0-based position in presentation order.
        pts: presentation timestamp in ``VideoInfo.time_base`` units.
        time_s: presentation time in seconds.
        rgb: (H, W, 3) uint8 RGB pixels, or None to convert ``source`` when first asked.
        source: the decoded frame in its own pixel format, so that the encoder can take
            untouched pixels without a lossy RGB round trip.
        packet: for intra-only codecs, the input packet the frame was decoded from, so that
            an untouched frame can be copied as it is.
        scaled: the picture was scaled to the stream's size and format (the stream changes
            size part-way): it is not the input's, and is never copied.

    Frames that nothing looks at at full size (a scan between keyframes) are never converted.
    """

    def __init__(
        self,
        index: int,
        pts: int,
        time_s: float,
        rgb: np.ndarray | None = None,
        source: av.VideoFrame | None = None,
        packet: av.Packet | None = None,
        scaled: bool = False,
    ) -> None:
        if rgb is None and source is None:
            raise ValueError("VideoFrame needs rgb pixels or a decoded source frame")
        self.index = index
        self.pts = pts
        self.time_s = time_s
        self._rgb = rgb
        self.source = source
        self.packet = packet
        self.scaled = scaled

    @property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels; removers edit them in place."""
        if self._rgb is None:
            self._rgb = reformat(self.source, format="rgb24").to_ndarray()
            if self.source.format.name == "rgb24":
                # No conversion took place: these are the decoder's own pixels, which codecs
                # such as Cinepak build the next frame on. Edits must not reach them.
                self._rgb = self._rgb.copy()
        return self._rgb

    @rgb.setter
    def rgb(self, pixels: np.ndarray) -> None:
        self._rgb = pixels

    def preview(self, width: int) -> np.ndarray:
        """A small (h, ``width``, 3) uint8 RGB copy, made without converting the whole frame."""
        if self._rgb is not None or self.source is None:
            height = max(1, round(self.rgb.shape[0] * width / self.rgb.shape[1]))
            return cv2.resize(self.rgb, (width, height), interpolation=cv2.INTER_AREA)
        height = max(1, round(self.source.height * width / self.source.width))
        return reformat(
            self.source, width=width, height=height, format="rgb24", interpolation="AREA"
        ).to_ndarray()


def _at_or_after(time: int, first_time: int | None, path: Path, index: int) -> bool:
    """Whether a frame shown at ``time`` is at or after a piece's start (None: no start).

    Raises:
        VideoError: the first frame after the seek is later than the start: the seek missed it.
    """
    if first_time is None or time < first_time:
        return first_time is None
    if time > first_time:
        raise VideoError(
            f"{path}: no frame shows at time {first_time} (frame {index}) after seeking there; "
            "start the piece at one of read_frame_index's starts"
        )
    return True


def _one_picture(packet: av.Packet) -> bool:
    """Whether an intra-only packet gives a picture (not empty, not cut by an edit list)."""
    return bool(packet.size) and not packet.is_discard


class VideoReader:
    """Open a video for one streaming pass.

    Args:
        path: the input file.

    Raises:
        VideoError: the file is missing, not a video, or has no video stream.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: input file not found")
        if self.path.is_dir():
            raise VideoError(f"{self.path}: is a folder, not a video file")
        try:
            self._container = av.open(str(self.path), "r")
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{self.path}: cannot be read as a video "
                f"(not a video file, or truncated/corrupt: {exc.strerror})"
            ) from None
        video_stream = main_video_stream(self._container)
        if video_stream is None:
            self._container.close()
            raise VideoError(f"{self.path}: contains no video (no video stream, or an empty one)")
        self.video_stream = video_stream
        self.video_stream.thread_type = "AUTO"
        # Intra-only pictures keep a link to their packet (``VideoFrame.packet``).
        self._keep_packets = self.video_stream.codec_context.codec.intra_only
        self.video_stream.codec_context.copy_opaque = self._keep_packets
        self.audio_streams = list(self._container.streams.audio)
        self.subtitle_streams = list(self._container.streams.subtitles)
        # Data streams (KLV, SCTE-35, ...) but not a timecode track: muxers write their own
        # from the ``timecode`` tag.
        self.data_streams = [
            s for s in self._container.streams.data if "timecode" not in s.metadata
        ]
        self.cover_streams = [s for s in self._container.streams.video if is_cover(s)]
        self.copied_streams = (
            self.audio_streams + self.subtitle_streams + self.data_streams + self.cover_streams
        )
        self.notices: list[str] = []  # what the user should know about the decoded frames
        self.info = self._probe()

    def _probe(self) -> VideoInfo:
        stream = self.video_stream
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            self.close()
            raise VideoError(f"{self.path}: the video stream has no frame size (corrupt header)")
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps:
            fps = Fraction(25)
            log.warning("%s: no frame rate in the container; assuming 25 fps", self.path)
        duration = None
        if self._container.duration:
            duration = self._container.duration / av.time_base
        return VideoInfo(
            path=self.path,
            width=ctx.width,
            height=ctx.height,
            fps=Fraction(fps),
            time_base=Fraction(stream.time_base or Fraction(1, 1) / Fraction(fps)),
            frame_count_header=stream.frames or None,
            duration_s=duration,
            codec=ctx.name,
            audio_streams=len(self.audio_streams),
            format_name=self._container.format.name,
            pix_fmt=ctx.pix_fmt,
        )

    def frames(
        self,
        on_audio_packet: Callable[[av.Packet], None] | None = None,
        only: AbstractSet[int] | None = None,
        begin: tuple[int, int] | None = None,
    ) -> Iterator[VideoFrame]:
        """Decode the video stream in order; pass the other streams' packets on.

        Every packet of ``copied_streams`` (audio, subtitles, data) goes to
        ``on_audio_packet`` (if given).

        With ``only``, just the frames with those indices are handed out, and the reading
        stops after the last one. An intra-only stream then decodes nothing else (each packet
        is one picture of its own), so checking a few frames of a long master costs a few
        pictures, not the whole file.

        Frames get the input's presentation times in display order, whatever order the
        muxer stored them in (see :mod:`autoblur.io.timestamps`).

        With ``begin`` (a frame's display index and presentation time, where decoding can
        begin: a start of :func:`autoblur.chunks.read_frame_index`), reading seeks there and
        the frames are numbered from that index: a piece of a long file is read without
        decoding what comes before it.

        Raises:
            VideoError: decoding fails part-way (corrupt or truncated data), or the video has
                no decodable frame.
        """
        streams = [self.video_stream] + (self.copied_streams if on_audio_packet else [])
        index, first_time = begin if begin is not None else (0, None)
        if first_time is not None:
            # Some demuxers (MPEG-TS, MPEG-PS) land after the time asked for: ask for earlier,
            # decode from there and drop the frames before the piece's start.
            margin = round(_SEEK_MARGIN_S / self.video_stream.time_base)
            self._container.seek(first_time - margin, stream=self.video_stream, any_frame=False)
        clock = PresentationClock(1 / (self.info.fps * self.info.time_base))
        last_wanted = max(only, default=-1) if only is not None else None
        try:
            for packet in self._container.demux(streams):
                if packet.stream.index != self.video_stream.index:
                    # Cover art is one packet without times; other empty-timed packets
                    # are the demuxer's flush.
                    timed = packet.dts is not None or (is_cover(packet.stream) and packet.size)
                    if timed and on_audio_packet is not None:
                        on_audio_packet(packet)
                    continue
                if last_wanted is not None and index > last_wanted:
                    return
                clock.feed(packet)
                if self._keep_packets:
                    if only is not None and index not in only and _one_picture(packet):
                        shown = clock.next_time(packet.pts)  # not needed: not decoded
                        if _at_or_after(shown, first_time, self.path, index):
                            first_time = None  # found: every later picture counts
                            index += 1
                        continue
                    packet.opaque = packet
                for frame in packet.decode():
                    pts = clock.stamp(frame)
                    if not _at_or_after(pts, first_time, self.path, index):
                        continue  # before the piece's start
                    first_time = None  # found: every later frame counts
                    if only is None or index in only:
                        scaled = self._fit(frame, index)
                        yield VideoFrame(
                            index=index,
                            pts=pts,
                            time_s=float(pts * self.info.time_base),
                            source=scaled or frame,
                            packet=frame.opaque if self._keep_packets and not scaled else None,
                            scaled=scaled is not None,
                        )
                    index += 1
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{self.path}: corrupt or truncated video data after frame {index} "
                f"({exc.strerror}); re-export or re-download the file"
            ) from None
        if index == 0:
            raise VideoError(f"{self.path}: the video has no decodable frames (empty video)")
        self.frames_decoded = index
        claimed = self.info.frame_count_header
        if claimed and claimed != index and begin is None:
            log.warning(
                "%s: the container claims %d frames but %d decoded; used the %d decoded",
                self.path,
                claimed,
                index,
                index,
            )

    def _fit(self, frame: av.VideoFrame, index: int) -> av.VideoFrame | None:
        """``frame`` scaled to the stream's size and format (``info``) where its size differs.

        A stream may change size part-way (a recording across an SD/HD switch); players scale
        such pictures to one size, and so does this, with one notice. (A picture of the
        stream's size in another pixel format is left to the writer, which converts it.)
        """
        size = (self.info.width, self.info.height)
        if (frame.width, frame.height) == size:
            return None
        pix_fmt = self.info.pix_fmt or frame.format.name
        if not self.notices:
            self.notices.append(
                f"the video changes size part-way ({frame.width}x{frame.height} "
                f"{frame.format.name} at frame {index}); such frames are scaled to the "
                f"stream's {size[0]}x{size[1]}"
            )
            log.warning("%s: %s", self.path, self.notices[-1])
        return reformat(frame, width=size[0], height=size[1], format=pix_fmt)

    def close(self) -> None:
        """Release the file."""
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
