"""Everything in the master besides the picture: tracks, timecode, metadata and chapters.

Audio, subtitle and data streams are copied packet for packet (``-map 0 -c copy``); timecode is
carried as the ``timecode`` tag, from which the MOV and MXF muxers write their own timecode
track; container metadata and chapters are copied where the output container holds them.
What cannot travel is named in a notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import av.error

from autoblur.io.streams import is_cover, main_video_stream
from autoblur.timecode import start_timecode

log = logging.getLogger(__name__)

# Tags that muxers write for themselves (brands, tool names, MXF identifiers).
_OWN_TAGS = {
    "encoder",
    "major_brand",
    "minor_version",
    "compatible_brands",
    "handler_name",
    "vendor_id",
    "software",
}
_OWN_TAG_PREFIXES = ("product_", "toolkit_", "material_package", "file_package", "generation_uid")
_COPIED_TYPES = {"audio", "subtitle", "data"}
ATTACHING_CONTAINERS = {"matroska"}  # the muxers that store attached files


@dataclass
class Carried:
    """What travels from the input's container to the output's.

    Attributes:
        streams: input stream index -> the output stream its packets go to.
        table: one entry per input stream: index, type, codec and what happens to it
            (``re-encoded`` for the video, ``copied`` or ``dropped`` for the others).
        notices: one line per thing left out.
    """

    streams: dict[int, av.stream.Stream] = field(default_factory=dict)
    table: list[dict] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _own_tag(key: str) -> bool:
    return key in _OWN_TAGS or key.startswith(_OWN_TAG_PREFIXES) or key in ("uid",)


def copy_metadata(src: dict[str, str], dst: dict[str, str]) -> None:
    """Copy the tags of one dictionary into another, leaving out those muxers write."""
    for key, value in src.items():
        if not _own_tag(key):
            dst[key] = value


def carry_over(
    source: av.container.InputContainer,
    output: av.container.OutputContainer,
    add_video: Callable[[], av.VideoStream],
    copy_from: list[av.stream.Stream],
) -> tuple[av.VideoStream, Carried]:
    """Set up the output's streams in the input's order, with its tags, timecode and chapters.

    Args:
        source: the input, opened for reading (only its headers are used).
        output: the output, before its header is written.
        add_video: adds the output's video stream (called at the input video's place).
        copy_from: the input streams (of the reader's container) whose packets will be
            copied; their indexes match ``source``'s.

    Returns:
        The output's video stream, and what else travels.
    """
    carried = Carried()
    video_in = main_video_stream(source)
    wanted = {s.index: s for s in copy_from}
    video_out = None
    for stream in source.streams:
        entry = {"index": stream.index, "type": stream.type, "codec": _codec_name(stream)}
        carried.table.append(entry)
        if stream.index == video_in.index:
            video_out = add_video()
            entry["action"] = "re-encoded"
            continue
        if stream.type == "data" and "timecode" in stream.metadata:
            entry["action"] = "copied"  # as the video's timecode tag: the muxer rewrites it
            continue
        if stream.type == "attachment":  # fonts for styled subtitles, cover images in MKV
            entry["action"] = _attach(output, stream)
            if entry["action"] == "dropped":
                carried.notices.append(f"stream {stream.index} (attachment {stream.name})")
            continue
        template = wanted.get(stream.index)
        if template is None or (stream.type not in _COPIED_TYPES and not is_cover(stream)):
            entry["action"] = "dropped"
            why = ": only the main picture is cleaned" if stream.type == "video" else ""
            carried.notices.append(
                f"stream {stream.index} ({entry['type']}, {entry['codec']}{why})"
            )
            continue
        try:
            out = _copy_stream(output, template)
        except (av.error.FFmpegError, ValueError) as exc:
            log.debug("stream %d not copied: %s", stream.index, exc)
            entry["action"] = "dropped"
            carried.notices.append(f"stream {stream.index} ({entry['type']}, {entry['codec']})")
            continue
        if is_cover(stream):
            out.disposition = av.stream.Disposition.attached_pic
        copy_metadata(stream.metadata, out.metadata)
        carried.streams[stream.index] = out
        entry["action"] = "copied"
    copy_metadata(video_in.metadata, video_out.metadata)
    copy_metadata(source.metadata, output.metadata)
    timecode = start_timecode(source)
    if timecode:
        video_out.metadata["timecode"] = timecode
        output.metadata["timecode"] = timecode
    chapters = source.chapters()
    if chapters:
        try:
            output.set_chapters(chapters)
        except (av.error.FFmpegError, ValueError, TypeError):
            carried.notices.append(f"{len(chapters)} chapters")
    if carried.notices:
        carried.notices = [
            f"left out of the {output.format.name} output: " + ", ".join(carried.notices)
        ]
    return video_out, carried


def _copy_stream(
    output: av.container.OutputContainer, template: av.stream.Stream
) -> av.stream.Stream:
    """An output stream that input packets of ``template`` are copied into as they are.

    AVI's muxer writes a copied AC-3 or MP2 track's block size as its sample size, and
    demuxers then time the track by bytes (every packet at 0): there, an audio track without
    extradata is described by an encoder's context instead, as when it was first written.
    """
    ctx = template.codec_context
    if output.format.name != "avi" or template.type != "audio" or ctx.extradata:
        return output.add_stream_from_template(template)
    try:
        out = output.add_stream(ctx.name, rate=ctx.sample_rate, layout=ctx.layout.name)
    except (av.error.FFmpegError, ValueError):  # no such encoder here
        return output.add_stream_from_template(template)
    out.codec_context.bit_rate = ctx.bit_rate
    out.time_base = template.time_base
    return out


def _attach(output: av.container.OutputContainer, stream: av.stream.AttachmentStream) -> str:
    """Copy an attachment (its file name, type, bytes and tags): ``copied`` or ``dropped``."""
    if output.format.name not in ATTACHING_CONTAINERS or not stream.name:
        return "dropped"
    out = output.add_attachment(stream.name, stream.mimetype or "", stream.data)
    copy_metadata(stream.metadata, out.metadata)
    return "copied"


def _codec_name(stream: av.stream.Stream) -> str | None:
    context = stream.codec_context
    return context.name if context is not None else None
