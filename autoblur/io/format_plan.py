"""Output-format planning: the master's own format out, unless the user names a codec.

One decision per run, made from the input's video stream before any frame is encoded:
encoder, profile, pixel format, bit rate, GOP, colour properties, field order, sample aspect
ratio and the container. ProRes, DNxHD/HR, MPEG-1/2, H.264, HEVC, VP8/9, MJPEG, FFV1, DV, WMV
7/8 and the uncompressed and lossless codecs come out in the same codec family with the same
bit depth and chroma; anything else becomes H.264 with a notice (or, in a container that
cannot hold H.264, the codec that container is made for).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from autoblur.config import EncodeConfig
from autoblur.errors import ConfigError
from autoblur.io.chroma_location import CODED_CHROMA_CODECS, coded_chroma_location
from autoblur.io.dnxhd_rate import dnxhd_bit_rate
from autoblur.io.palette import PALETTE_CODECS, PALETTE_FORMAT
from autoblur.io.smart_render import SPLICE_ENCODERS, splice_possible
from autoblur.io.streams import first_packets, main_video_stream

_PRORES_PROFILES = {"Proxy": "0", "LT": "1", "Standard": "2", "HQ": "3", "4444": "4", "XQ": "5"}
_DNX_PROFILES = {
    "DNXHD": "dnxhd",
    "DNXHR LB": "dnxhr_lb",
    "DNXHR SQ": "dnxhr_sq",
    "DNXHR HQ": "dnxhr_hq",
    "DNXHR HQX": "dnxhr_hqx",
    "DNXHR 444": "dnxhr_444",
}
# Input decoder -> the encoder that writes the same codec.
_SAME_FAMILY = {
    "prores": "prores_ks",
    "dnxhd": "dnxhd",
    "mpeg2video": "mpeg2video",
    "h264": "libx264",
    "hevc": "libx265",
    "vp9": "libvpx-vp9",
    "vp8": "libvpx",
    "mpeg1video": "mpeg1video",
    "mjpeg": "mjpeg",
    "ffv1": "ffv1",
    "dvvideo": "dvvideo",
    "wmv1": "wmv1",
    "wmv2": "wmv2",
    "flv1": "flv",
}
# Uncompressed and lossless codecs (broadcast ``v210``, archives, motion graphics, stills)
# are written by the encoder of the same name: untouched pixels stay exact.
_SAME_FAMILY.update(
    (name, name)
    for name in (
        "v210",
        "v410",
        "r210",
        "rawvideo",
        "huffyuv",
        "ffvhuff",
        "utvideo",
        "qtrle",
        "png",
        "apng",
        "tiff",
        "bmp",
        "targa",
        "dpx",
        "qoi",
    )
)
_NVENC = {"libx264": "h264_nvenc", "libx265": "hevc_nvenc"}
_PROFILE_KEPT = {"prores_ks", "dnxhd", "mpeg2video"}  # the profile is set, not implied
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx"}
_VP8_MAX_RATE = "20M"
# Sample-entry tags an encoder does not choose by itself (Apple players want ``hvc1`` HEVC).
_KEPT_TAGS = {"hvc1", "hev1", "avc3"}
_PRESET_CODECS = {"libx264", "libx265"}
_FALLBACK = "libx264"
# Containers that cannot hold H.264 well, and the codec they are made for. In AVI, which
# stores no times, demuxers disagree on when an H.264 picture shows (FFmpeg 8 one picture
# late, 5.x on time); MPEG-4 Part 2 without B-frames shows at its chunk's time. ASF stores
# millisecond times without B-frame reordering; Ogg and WebM take no H.264 at all.
_CONTAINER_FALLBACK = {
    "avi": "mpeg4",
    "asf": "wmv2",
    "ogg": "libvpx",
    "ogv": "libvpx",
    "webm": "libvpx-vp9",
    "gif": "gif",
}
_CODEC_NAMES = {"mpeg4": "MPEG-4 Part 2", "wmv2": "WMV 8", "libvpx": "VP8", "libvpx-vp9": "VP9"}
_MPEG4_MAX_TIME_BASE_DEN = 65535  # the standard's 16-bit field; finer time bases are rounded
# Encoders set by a fixed quantiser: near-transparent; lambda is qscale * FF_QP2LAMBDA (118).
_QSCALE_CODECS = {"mpeg4", "mjpeg", "wmv1", "wmv2", "flv"}
_QSCALE = 2
# Encoders that take their frame rate from the codec time base: they count time in frames.
FRAME_TICK_CODECS = {"mpeg1video", "mpeg2video"}
# FFmpeg's MXF muxer stores H.264 pictures without their reordering (every pts is its dts):
# without B-frames each picture shows at its own time.
_UNORDERED_H264_CONTAINERS = {"mxf"}
_FIELDS = (2, 3, 4, 5)  # field orders of interlaced video: tt, bb, tb, bt
_INTRA_CODED = {"h264", "hevc", "mpeg2video"}  # long-GOP codecs masters also code all-intra
_H264_ENCODERS = {"libx264", "h264_nvenc"}
COUNTED_CONTAINERS = {"avi"}  # store decode order and a frame count only: no B-frames


@dataclass(frozen=True)
class OutputPlan:
    """How the output video is encoded and muxed.

    Attributes:
        codec: the encoder (e.g. ``prores_ks``, ``libx264``).
        pix_fmt: the encoder's pixel format (the input's where the encoder takes it).
        profile: the codec profile kept from the input (name as ffprobe prints it), or None.
        options: encoder options (``crf``, ``preset``, ``b``, ``profile``, ...).
        context: codec-context fields to set (``gop_size``, ``bit_rate``, ``color_*``,
            ``field_order``, ``sample_aspect_ratio``, ``codec_tag``, ...).
        intra_only: every output frame is a picture of its own, so that untouched frames'
            input packets can be copied as they are (same codec, profile and pixel format).
        copy_untouched: untouched frames are copied packet for packet instead of re-encoded.
        gop_copy: long-GOP H.264, HEVC or MPEG-2 whose unchanged GOPs are copied and whose
            changed GOPs are re-encoded (``autoblur.io.smart_render``).
        why_reencoded: why untouched frames are re-encoded, when they are.
        notices: what the user should know about the choice.
        time_base: the output's time base where it is not the input's, or None: in AVI, which
            counts frames, one frame (1/fps) for inputs from other containers, and a chunk
            duration MPEG-4 can hold (66667/1000000 s rounded to 1/15 s). Frame times are
            rounded to it.
        frame_tick: for encoders that count time in frames (MPEG-1/2), the frame duration
            their codec time base must be; frames keep their times (``FrameTickEncoder``).
    """

    codec: str
    pix_fmt: str
    profile: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    context: dict[str, object] = field(default_factory=dict)
    intra_only: bool = False
    copy_untouched: bool = False
    gop_copy: bool = False
    why_reencoded: str | None = None
    notices: list[str] = field(default_factory=list)
    time_base: Fraction | None = None
    frame_tick: Fraction | None = None

    def describe(self, container: str) -> dict:
        """The plan for the report: codec, profile, pixel format, container."""
        return {
            "codec": self.codec,
            "profile": self.profile,
            "pix_fmt": self.pix_fmt,
            "container": container,
            "untouched_frames": "copied"
            if self.copy_untouched
            else "unchanged GOPs copied"
            if self.gop_copy
            else "re-encoded",
            "why_reencoded": self.why_reencoded,
        }


def _bit_depth(pix_fmt: str) -> int:
    match = re.search(r"p(\d+)(le|be)$", pix_fmt)
    return int(match.group(1)) if match else 8


def encoder_pix_fmt(codec: str, pix_fmt: str | None, size_wh: tuple[int, int]) -> str:
    """The encoder's pixel format nearest the input's: same alpha, bit depth and chroma if it can.

    Alpha is kept first (ProRes 4444 with its alpha channel), then the bit depth (else the
    nearest, deeper before shallower), then the chroma layout: the input's, else the next
    finer one (4:2:2 -> 4:4:4), else the next coarser. Full-range JPEG formats (``yuvj*``)
    become the plain ones; NVENC's ``p010le`` counts as 10-bit 4:2:0.

    Args:
        codec: the encoder name.
        pix_fmt: the input's pixel format, or None.
        size_wh: the frame size; odd sizes cannot hold subsampled chroma.
    """
    supported = [f.name for f in av.codec.Codec(codec, "w").video_formats or []]
    if not supported:  # rawvideo: whatever it is given
        return pix_fmt or "yuv420p"
    if codec in PALETTE_CODECS:
        return PALETTE_FORMAT  # each frame's own palette (``autoblur.io.palette``)
    odd = bool(size_wh[0] % 2 or size_wh[1] % 2)
    name = (pix_fmt or "").replace("yuvj", "yuv")
    wanted = yuv_layout(name)
    chroma = "444" if odd or wanted is None else wanted[1]
    if name in supported and (wanted is None or chroma == wanted[1]):
        return name
    alpha = bool(wanted and wanted[0])
    depth = _bit_depth(name)
    layouts = ["420", "422", "444"]
    finer = layouts[layouts.index(chroma) :]
    order = finer + ([] if odd else layouts[: layouts.index(finer[0])][::-1])

    def rank(candidate: str) -> tuple | None:
        layout = yuv_layout(candidate)
        if layout is None or layout[1] not in order:
            return None
        has_alpha, sub, bits = layout
        return (
            has_alpha != alpha,
            bits != depth,
            order.index(sub),
            bits < depth,
            abs(bits - depth),
        )

    ranked = sorted((r, c) for c in supported if (r := rank(c)) is not None)
    return ranked[0][1] if ranked else supported[0]


_YUV = re.compile(r"^yuv(a?)(4[024][024])p(\d+)?(le)?$")
_SEMI_PLANAR = {"nv12": (False, "420", 8), "p010le": (False, "420", 10)}


def yuv_layout(pix_fmt: str | None) -> tuple[bool, str, int] | None:
    """(has alpha, chroma layout such as ``422``, bit depth) of a YUV format, else None."""
    if pix_fmt in _SEMI_PLANAR:
        return _SEMI_PLANAR[pix_fmt]
    match = _YUV.match((pix_fmt or "").replace("yuvj", "yuv"))
    if match is None:
        return None
    return bool(match.group(1)), match.group(2), int(match.group(3) or 8)


def _counted_time_base(stream: av.VideoStream) -> Fraction:
    """The chunk duration of an AVI output: the input's where it counts frames too, else 1/fps."""
    if stream.container.format.name in COUNTED_CONTAINERS:
        return Fraction(stream.time_base)
    fps = stream.average_rate or stream.guessed_rate or stream.base_rate or 25
    return 1 / Fraction(fps)


def _gop(stream: av.VideoStream) -> int | None:
    """Frames from one keyframe to the next, from the container's index where it has one."""
    keys = [e.timestamp for e in stream.index_entries[:600] if e.is_keyframe]
    if len(keys) >= 2 and len(stream.index_entries) > 1:
        entries = [e.timestamp for e in stream.index_entries[:600]]
        return entries.index(keys[1]) - entries.index(keys[0])
    return None


def _kept_properties(stream: av.VideoStream) -> dict[str, object]:
    """Colour properties, field order and sample aspect ratio, as the input has them."""
    ctx = stream.codec_context
    kept: dict[str, object] = {}
    for name in ("color_primaries", "color_trc", "colorspace", "color_range", "field_order"):
        value = getattr(ctx, name)
        if value:  # 0: unspecified / unknown
            kept[name] = value
    if ctx.sample_aspect_ratio:
        kept["sample_aspect_ratio"] = Fraction(ctx.sample_aspect_ratio)
    return kept


def plan_output(
    stream: av.VideoStream,
    encode: EncodeConfig,
    container: str,
    container_bit_rate: int | None = None,
    frames: tuple[int, int, str | None] | None = None,
) -> OutputPlan:
    """Choose the output encoding for ``stream`` (an input's video stream).

    Args:
        stream: the input's video stream (opened for decoding).
        encode: the user's settings; ``codec`` is ``auto`` (same format) or an encoder name.
        container: the output's container format name (``mov,mp4,...`` style names accepted).
        container_bit_rate: the video's bit rate where its stream does not give it (MXF).
        frames: (width, height, pixel format) of the frames to be written, where the caller
            makes them differ from the input's (resized, converted); None: the input's.
            Pictures are copied only where they are the input's.

    Raises:
        ConfigError: the codec named is unknown, or NVENC was asked for and cannot run.
    """
    ctx = stream.codec_context
    out_time_base = None
    width, height, frames_pix_fmt = frames or (ctx.width, ctx.height, ctx.pix_fmt)
    size_wh = (width, height)
    as_input = size_wh == (ctx.width, ctx.height) and frames_pix_fmt == ctx.pix_fmt
    notices: list[str] = []
    profile = stream.profile
    if encode.codec == "auto":
        codec = _SAME_FAMILY.get(ctx.name)
        if codec is None:
            codec = _CONTAINER_FALLBACK.get(container.split(",")[0], _FALLBACK)
            if codec != ctx.name:
                notices.append(
                    f"the input's codec {ctx.codec.canonical_name} is not re-encoded in kind; "
                    f"the output is {_CODEC_NAMES.get(codec, 'H.264')} (--codec names another)"
                )
    else:
        codec = encode.codec
        try:
            av.codec.Codec(codec, "w")
        except av.codec.codec.UnknownCodecError:
            raise ConfigError(f"--codec {codec}: no such encoder in this FFmpeg") from None
    codec = _pick_encoder(codec, encode.encoder)
    if container.split(",")[0] in COUNTED_CONTAINERS:
        time_base = _counted_time_base(stream)
        if codec == "mpeg4":
            time_base = time_base.limit_denominator(_MPEG4_MAX_TIME_BASE_DEN)
        out_time_base = time_base if time_base != stream.time_base else None
    pix_fmt = encoder_pix_fmt(codec, frames_pix_fmt, size_wh)
    context = _kept_properties(stream)
    options: dict[str, str] = {}
    family = _SAME_FAMILY.get(ctx.name)
    same_codec = family is not None and codec == family
    if codec == "prores_ks":
        options["profile"] = _PRORES_PROFILES.get(profile or "", "3")
        options["vendor"] = "apl0"
        if same_codec and ctx.codec_tag:
            context["codec_tag"] = ctx.codec_tag
    elif codec == "dnxhd":
        options["profile"] = _DNX_PROFILES.get(profile or "", "dnxhr_hq")
        if options["profile"] == "dnxhd":
            found = dnxhd_bit_rate(
                Path(stream.container.name), stream.index, context.get("field_order") in _FIELDS
            )
            if found is None:  # a size or rate FFmpeg's DNxHD encoder has no CID for
                options["profile"] = "dnxhr_hqx" if _bit_depth(pix_fmt) > 8 else "dnxhr_hq"
                notices.append(
                    f"the input's DNxHD format has no FFmpeg encoder; the output is "
                    f"{options['profile'].upper().replace('_', ' ')}"
                )
            else:
                context["bit_rate"], coded_in_fields = found
                if coded_in_fields:
                    options["flags"] = "+ildct"
    elif codec in FRAME_TICK_CODECS:
        rate = ctx.bit_rate or container_bit_rate
        if rate:
            options.update({"b": str(rate), "maxrate": str(rate), "bufsize": str(rate // 2)})
        if pix_fmt == "yuv422p":
            context["profile"] = 0  # 4:2:2
        context["gop_size"] = _gop(stream) or 12
        context["max_b_frames"] = 2 if ctx.has_b_frames else 0
        # Closed GOPs (fixed length: FFmpeg needs scene-cut GOPs off for them), so that a
        # copied GOP can follow a re-encoded one.
        options.update({"flags": "+cgop", "sc_threshold": "1000000000"})
        if context.get("field_order") in _FIELDS:
            options["flags"] += "+ilme+ildct"
            options["top"] = "1" if context["field_order"] in (2, 4) else "0"
    if codec in _QSCALE_CODECS:
        options.update({"flags": "+qscale", "global_quality": str(_QSCALE * 118)})
    if codec == "mpeg4" and ctx.name == "mpeg4" and ctx.codec_tag:
        context["codec_tag"] = ctx.codec_tag  # XVID, DX50, FMP4, ...
    if same_codec and ctx.codec_tag in _KEPT_TAGS:
        context["codec_tag"] = ctx.codec_tag
    if codec in _CRF_CODECS:
        options["crf"] = str(encode.crf)
    if codec == "libvpx-vp9":
        options["b"] = "0"  # constant quality
    if codec == "libvpx":
        options["b"] = _VP8_MAX_RATE  # VP8's crf is constrained quality: it needs a ceiling
    if codec in _PRESET_CODECS:
        options["preset"] = encode.preset
    if codec == "libx265":
        options["x265-params"] = "log-level=error"
    if codec in _NVENC.values():
        options.update({"rc": "vbr", "cq": str(encode.crf), "b": "0"})
    if (
        ctx.codec.canonical_name in CODED_CHROMA_CODECS
        and _no_depth(pix_fmt) == _no_depth(ctx.pix_fmt)
        and (location := coded_chroma_location(Path(stream.container.name), stream.index))
    ):
        options["chroma_sample_location"] = location  # into the VUI, and MKV/MXF headers
    if codec == "libx264" and (x264_params := _x264_params(stream, context, width)):
        options["x264-params"] = x264_params
    if codec == "prores_ks" and context.get("field_order") in _FIELDS:
        # Coded as two fields, as the input's pictures (each frame's flags, as decoded, say
        # which field comes first); DNxHD's field coding comes with its CID above.
        options["flags"] = "+ildct"
    coded_intra = same_codec and ctx.name in _INTRA_CODED and _keep_intra(stream, options, context)
    if container.split(",")[0] in COUNTED_CONTAINERS or (
        container.split(",")[0] in _UNORDERED_H264_CONTAINERS and codec in _H264_ENCODERS
    ):
        context["max_b_frames"] = 0
    same_pix_fmt = _plain_range(pix_fmt) == _plain_range(ctx.pix_fmt) or (
        # FFmpeg's ProRes decoder gives 4444 at 12 bits, which prores_ks takes at 10: the
        # pictures are still ProRes 4444 of the same profile, each one on its own.
        codec == "prores_ks" and same_codec and _no_depth(pix_fmt) == _no_depth(ctx.pix_fmt)
    )
    intra = bool(as_input and same_codec and ctx.codec.intra_only and same_pix_fmt)
    why = None
    if not as_input:
        why = "the frames written are not the input's (another size or pixel format)"
    elif not same_codec or not same_pix_fmt:
        why = f"the output ({codec}, {pix_fmt}) differs from the input ({ctx.name}, {ctx.pix_fmt})"
    elif not encode.copy_untouched:
        why = "encode.copy_untouched is off"
    elif not intra:
        why = splice_possible(stream, container, coded_intra)
        if why is None and codec != SPLICE_ENCODERS[ctx.name]:
            why = f"GOPs are spliced with {SPLICE_ENCODERS[ctx.name]} only, not {codec}"
    return OutputPlan(
        codec=codec,
        pix_fmt=pix_fmt,
        profile=profile if same_codec and codec in _PROFILE_KEPT else None,
        options=options,
        context=context,
        intra_only=intra,
        copy_untouched=intra and encode.copy_untouched,
        gop_copy=not intra and why is None,
        why_reencoded=why,
        notices=notices,
        time_base=out_time_base,
        frame_tick=_frame_tick(stream) if codec in FRAME_TICK_CODECS else None,
    )


# x264's macroblock tree reads memory it never wrote where a picture is not a whole number of
# groups of 8 macroblocks (128 pixels) wide (720x576, 720x480, 1440x1080, 176x144, ...): the
# same pictures then encode to other bits from one run to the next, following what the heap
# held (BENCHMARKS.md, "The same run, the same bits"). Those widths encode without it.
_MBTREE_WIDTH_GROUP = 8 * 16


def _x264_params(stream: av.VideoStream, context: dict[str, object], width: int) -> str:
    """x264's own settings for the picture width, interlacing and frame rate (``a=1:b=2``)."""
    params = []
    if -(-width // 16) * 16 % _MBTREE_WIDTH_GROUP:
        params.append("mbtree=0")
    if context.get("field_order") in _FIELDS:
        tff = context["field_order"] in (2, 4)
        params.append(f"interlaced=1:{'tff' if tff else 'bff'}=1")
    if stream.average_rate and stream.average_rate == stream.base_rate:
        # x264 writes the VUI's timing from its time base (1/90000 in MPEG-TS: "90000 fps",
        # and no frame durations for the demuxer); a constant rate makes it 1/fps. Frame
        # times are the input's either way.
        params.append("force-cfr=1")
    return ":".join(params)


def _keep_intra(
    stream: av.VideoStream, options: dict[str, str], context: dict[str, object]
) -> bool:
    """Whether a long-GOP codec's input is all-intra; if so, set the encoder to stay so.

    AVC-Intra, XAVC Intra and IMX code every picture on its own: the re-encoded pictures must
    too (``gop_size`` 1), and IMX/D-10 pads each to one size, which a constant rate with one
    picture's buffer does the same (FFmpeg's own first picture is smaller).
    """
    sample = first_packets(Path(stream.container.name), stream.index)
    if len(sample) < 2 or not all(packet.is_keyframe for packet in sample):
        return False
    context.update(gop_size=1, max_b_frames=0)
    size, count = Counter(packet.size for packet in sample).most_common(1)[0]
    if stream.codec_context.name == "mpeg2video" and "b" in options and count >= len(sample) - 1:
        bits = str(size * 8)
        options.update(minrate=options["b"], bufsize=bits, rc_init_occupancy=bits)
    return True


def _plain_range(pix_fmt: str | None) -> str:
    """A pixel format with JPEG's full-range names (``yuvj420p``) as the plain layout's."""
    return (pix_fmt or "").replace("yuvj", "yuv")


def _no_depth(pix_fmt: str | None) -> tuple[bool, str] | None:
    """A YUV format's alpha and chroma layout, without its bit depth."""
    layout = yuv_layout(pix_fmt)
    return None if layout is None else layout[:2]


def _frame_tick(stream: av.VideoStream) -> Fraction:
    """One frame's duration at the input's nominal rate (the decoder's where it gives one)."""
    rate = stream.codec_context.framerate or stream.average_rate or stream.guessed_rate or 25
    return 1 / Fraction(rate)


def planned_format(path: Path, encode: EncodeConfig) -> dict:
    """The plan a run would follow for the input at ``path`` (for ``scan`` reports).

    The output is taken to be in the input's container, as the default output name is.
    """
    with av.open(str(path)) as source:
        plan = plan_output(main_video_stream(source), encode, source.format.name)
        return plan.describe(path.suffix.lstrip(".").lower() or source.format.name)


def nvenc_usable(codec: str) -> bool:
    """Whether ``codec`` (an NVENC encoder) opens on this machine."""
    try:
        context = av.codec.CodecContext.create(codec, "w")
        context.width, context.height, context.pix_fmt = 256, 144, "yuv420p"
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.error.FFmpegError, av.codec.codec.UnknownCodecError, ValueError):
        return False
    return True


def _pick_encoder(codec: str, choice: str) -> str:
    """Swap a software H.264/HEVC encoder for NVENC where ``--encoder`` asks for it.

    ``auto`` takes NVENC wherever it opens, that is on a machine with an NVIDIA GPU.
    """
    nvenc = _NVENC.get(codec)
    if choice == "cpu" or nvenc is None:
        if choice == "nvenc" and nvenc is None and codec not in _NVENC.values():
            raise ConfigError(
                f"--encoder nvenc: the output codec {codec} has no NVENC encoder; "
                "use --encoder cpu or --codec libx264"
            )
        return codec
    if choice == "nvenc":
        if not nvenc_usable(nvenc):
            raise ConfigError(
                f"--encoder nvenc: {nvenc} cannot run here (no NVIDIA GPU or driver); "
                "use --encoder cpu"
            )
        return nvenc
    return nvenc if nvenc_usable(nvenc) else codec
