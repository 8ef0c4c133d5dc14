"""The field-I/O corpus: files as broadcasters, archives and phones hand them over.

Each case is written with PyAV from any RGB frames (the shared clips for the benchmark, a
few synthetic frames in the tests):

- ``prores``: ProRes 422 HQ (``apch``) 10-bit 4:2:2 ``.mov``, timecode 10:00:00:00, two PCM tracks;
- ``dnxhr``: DNxHR HQ 8-bit 4:2:2 ``.mov`` with one PCM track;
- ``mxf``: MPEG-2 4:2:2 at 50 Mb/s (closed GOPs of 12) in MXF, four mono PCM tracks,
  timecode 10:00:00:00;
- ``hevc10``: 10-bit HEVC ``.mp4`` with BT.709 colour tags, rotated 90 degrees, and AAC;
- ``vfr``: H.264 ``.mp4`` with irregular frame times and a late-starting video stream;
- ``decode_order``: H.264 with B-frames whose ``pts`` were stored in decode order, mp3 as
  stream 0;
- ``avi_bframes``: MPEG-4 Part 2 with B-frames and AC-3 in AVI;
- ``interlaced``: H.264 top-field-first interlaced ``.mp4``;
- ``h264``: long-GOP H.264 ``.mp4`` with AAC;
- ``mpeg2_ps``: DVD-style MPEG-2 in MPEG-PS (``.mpg``, times in 1/90000 s) with MP2;
- ``sd_ts``: interlaced MPEG-2 in MPEG-TS with MP2, as SD broadcasts are;
- ``mjpeg_avi``: full-range MJPEG with PCM in AVI, as cameras write it;
- ``ffv1``: lossless FFV1 with FLAC in Matroska, as archives keep masters;
- ``dv``: PAL DV (720x576, 25 fps) in a raw ``.dv`` file;
- ``wmv``: WMV 8 with WMA in ASF;
- ``vp8_ogv``: VP8 with Opus in Ogg;
- ``xavc_mxf``: XAVC-style long-GOP H.264 10-bit 4:2:2 with B-frames and PCM in MXF (whose
  muxer stores the pictures' decode times as their times).

Usage: python bench/make_io_corpus.py OUT_DIR [--data ../shared/data] [--frames 100]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TIMECODE = "10:00:00:00"


def _tone(seconds: float, rate: int, channels: int, freq: float = 440.0) -> np.ndarray:
    """(channels, samples) float32 sine waves, one frequency per channel."""
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.2 * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]).astype(
        np.float32
    )


def _add_audio(
    container: av.container.OutputContainer, codec: str, rate: int, layout: str
) -> av.audio.AudioStream:
    return container.add_stream(codec, rate=rate, layout=layout)


def _encode_audio(
    container: av.container.OutputContainer, stream: av.audio.AudioStream, seconds: float
) -> None:
    """Encode ``seconds`` of tone into ``stream`` (any sample format the encoder takes)."""
    channels = stream.codec_context.layout.nb_channels
    samples = _tone(seconds, stream.codec_context.sample_rate, channels)
    fmt = stream.codec_context.format.name
    resampler = av.AudioResampler(format=fmt, layout=stream.codec_context.layout.name)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, start : start + chunk]),
            format="fltp",
            layout=stream.codec_context.layout.name,
        )
        frame.sample_rate = stream.codec_context.sample_rate
        frame.pts = start
        for out in resampler.resample(frame):
            container.mux(stream.encode(out))
    container.mux(stream.encode(None))


def _video_stream(
    container: av.container.OutputContainer,
    codec: str,
    rate: Fraction,
    size_wh: tuple[int, int],
    pix_fmt: str,
    options: dict[str, str] | None = None,
    **context: object,
) -> av.VideoStream:
    stream = container.add_stream(codec, rate=rate, options=options or {})
    stream.width, stream.height = size_wh
    stream.pix_fmt = pix_fmt
    stream.codec_context.time_base = 1 / rate
    for name, value in context.items():
        setattr(stream.codec_context, name, value)
    return stream


def _encode_video(
    container: av.container.OutputContainer,
    stream: av.VideoStream,
    frames: Sequence[np.ndarray],
    pts: Sequence[int] | None = None,
    fix: Callable[[av.Packet], None] | None = None,
) -> None:
    """Encode (H, W, 3) uint8 RGB ``frames`` at ``pts`` (default 0, 1, 2, ... frames)."""
    tb = stream.codec_context.time_base
    packets = []
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format=stream.pix_fmt,
            dst_colorspace=stream.codec_context.colorspace or None,
            dst_color_range=stream.codec_context.color_range or None,
        )
        frame.pts = pts[index] if pts is not None else index
        frame.time_base = tb
        packets += stream.encode(frame)
    packets += stream.encode(None)
    for packet in packets:
        if fix is not None:
            fix(packet)
    container.mux(packets)


def _seconds(frames: Sequence[np.ndarray], rate: Fraction) -> float:
    return float(len(frames) / rate)


def write_prores(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """ProRes 422 HQ 10-bit 4:2:2 with timecode and two stereo 24-bit PCM tracks."""
    with av.open(str(path), "w", format="mov") as out:
        size = frames[0].shape[1::-1]
        video = _video_stream(
            out, "prores_ks", rate, size, "yuv422p10le", {"profile": "3", "vendor": "apl0"}
        )
        video.metadata["timecode"] = TIMECODE
        tracks = [_add_audio(out, "pcm_s24le", 48000, "stereo") for _ in range(2)]
        for number, track in enumerate(tracks):
            track.metadata["language"] = ("eng", "fra")[number]
        _encode_video(out, video, frames)
        for track in tracks:
            _encode_audio(out, track, _seconds(frames, rate))
    return path


def write_dnxhr(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """DNxHR HQ 8-bit 4:2:2 in MOV with one stereo PCM track."""
    with av.open(str(path), "w", format="mov") as out:
        video = _video_stream(
            out, "dnxhd", rate, frames[0].shape[1::-1], "yuv422p", {"profile": "dnxhr_hq"}
        )
        audio = _add_audio(out, "pcm_s16le", 48000, "stereo")
        _encode_video(out, video, frames)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def write_mxf(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """XDCAM-style MXF: MPEG-2 4:2:2 at 50 Mb/s, closed GOPs of 12, four mono PCM tracks and
    timecode."""
    with av.open(str(path), "w", format="mxf") as out:
        out.metadata["timecode"] = TIMECODE
        video = _video_stream(
            out,
            "mpeg2video",
            rate,
            frames[0].shape[1::-1],
            "yuv422p",
            {
                "b": "50M",
                "maxrate": "50M",
                "bufsize": "17825792",
                "flags": "+cgop",
                "sc_threshold": "1000000000",  # closed GOPs need scene-cut GOPs off
            },
            gop_size=12,
            max_b_frames=2,
            profile=0,  # 4:2:2
        )
        tracks = [_add_audio(out, "pcm_s24le", 48000, "mono") for _ in range(4)]
        _encode_video(out, video, frames)
        for track in tracks:
            _encode_audio(out, track, _seconds(frames, rate))
    return path


def write_hevc10(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """10-bit 4:2:0 HEVC with BT.709 colour tags, a 90-degree display rotation and AAC."""
    with av.open(str(path), "w") as out:
        video = _video_stream(
            out,
            "libx265",
            rate,
            frames[0].shape[1::-1],
            "yuv420p10le",
            {
                "x265-params": "log-level=error:keyint=12:open-gop=0",
                "crf": "20",
                "preset": "ultrafast",
            },
            color_primaries=1,
            color_trc=1,
            colorspace=1,
            color_range=1,
        )
        video.set_display_rotation(90)  # shot in portrait, as phones do
        audio = _add_audio(out, "aac", 48000, "stereo")
        _encode_video(out, video, frames)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def write_vfr(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """H.264 at irregular frame times (1 or 2 frame steps) starting 0.2 s after the audio."""
    with av.open(str(path), "w") as out:
        video = _video_stream(
            out, "libx264", rate, frames[0].shape[1::-1], "yuv420p", {"preset": "ultrafast"}
        )
        video.codec_context.time_base = 1 / (rate * 2)
        audio = _add_audio(out, "aac", 48000, "mono")
        start = round(0.2 * rate * 2)
        steps = np.cumsum([0] + [2 + (i % 3 == 1) * 2 for i in range(len(frames) - 1)])
        _encode_video(out, video, frames, [start + int(s) for s in steps])
        _encode_audio(out, audio, float((start + steps[-1] + 2) / (rate * 2)))
    return path


def write_decode_order(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """H.264 with B-frames whose packets carry their decode time as ``pts``; mp3 is stream 0."""
    with av.open(str(path), "w", format="mp4") as out:
        audio = _add_audio(out, "libmp3lame", 44100, "mono")
        video = _video_stream(
            out, "libx264", rate, frames[0].shape[1::-1], "yuv420p", {"bf": "2", "preset": "fast"}
        )
        first_dts: list[int] = []

        def decode_order(packet: av.Packet) -> None:
            first_dts.append(packet.dts) if not first_dts else None
            packet.dts -= first_dts[0]
            packet.pts = packet.dts

        _encode_video(out, video, frames, fix=decode_order)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def write_avi_bframes(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """MPEG-4 Part 2 with two B-frames per P-frame, and AC-3, in AVI."""
    with av.open(str(path), "w", format="avi") as out:
        video = _video_stream(
            out, "mpeg4", rate, frames[0].shape[1::-1], "yuv420p", max_b_frames=2, gop_size=12
        )
        audio = _add_audio(out, "ac3", 48000, "stereo")
        _encode_video(out, video, frames)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def write_interlaced(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """Top-field-first interlaced H.264 (as 1080i broadcasts are) with AAC."""
    with av.open(str(path), "w", format="mp4") as out:
        video = _video_stream(
            out,
            "libx264",
            rate,
            frames[0].shape[1::-1],
            "yuv420p",
            {"preset": "fast", "x264-params": "interlaced=1:tff=1"},
            field_order=2,  # AV_FIELD_TT: top field first
        )
        audio = _add_audio(out, "aac", 48000, "stereo")
        _encode_video(out, video, frames)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def write_h264(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """Long-GOP H.264 (preset medium, 1-second closed GOPs, B-frames) with AAC."""
    with av.open(str(path), "w", format="mp4") as out:
        video = _video_stream(
            out, "libx264", rate, frames[0].shape[1::-1], "yuv420p", {"g": str(round(rate))}
        )
        audio = _add_audio(out, "aac", 48000, "stereo")
        _encode_video(out, video, frames)
        _encode_audio(out, audio, _seconds(frames, rate))
    return path


def _write_av(
    path: Path,
    frames: Sequence[np.ndarray],
    rate: Fraction,
    container_format: str,
    video: tuple[str, str, dict[str, str]],
    audio: tuple[str, int, str] | None,
    **context: object,
) -> Path:
    """One video stream (codec, pixel format, options) and one tone track (codec, rate,
    layout) in ``container_format``; ``context`` sets video codec-context fields."""
    with av.open(str(path), "w", format=container_format) as out:
        codec, pix_fmt, options = video
        stream = _video_stream(
            out, codec, rate, frames[0].shape[1::-1], pix_fmt, options, **context
        )
        track = _add_audio(out, *audio) if audio else None
        if track is not None and not track.codec_context.bit_rate:
            track.codec_context.bit_rate = 128000  # WMA has no default rate
        _encode_video(out, stream, frames)
        if track is not None:
            _encode_audio(out, track, _seconds(frames, rate))
    return path


_QSCALE_3 = {"flags": "+qscale", "global_quality": str(3 * 118)}
_CLOSED_GOPS = {"flags": "+cgop", "sc_threshold": "1000000000"}


def _av_writer(
    container_format: str,
    video: tuple[str, str, dict[str, str]],
    audio: tuple[str, int, str] | None,
    **context: object,
) -> Callable[[Path, Sequence[np.ndarray], Fraction], Path]:
    """A case writer for :func:`_write_av` with these settings."""

    def write(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
        return _write_av(path, frames, rate, container_format, video, audio, **context)

    return write


# DVD-style MPEG-PS: MPEG-2 4:2:0 at 6 Mb/s, closed GOPs of 6 with B-frames, MP2.
write_mpeg2_ps = _av_writer(
    "vob",
    ("mpeg2video", "yuv420p", {"b": "6M", **_CLOSED_GOPS}),
    ("mp2", 48000, "stereo"),
    gop_size=6,
    max_b_frames=2,
)
# SD broadcast: top-field-first interlaced MPEG-2, closed GOPs of 6, MP2, in MPEG-TS.
write_sd_ts = _av_writer(
    "mpegts",
    ("mpeg2video", "yuv420p", {"b": "8M", **_CLOSED_GOPS, "flags": "+cgop+ilme+ildct", "top": "1"}),
    ("mp2", 48000, "stereo"),
    gop_size=6,
    max_b_frames=2,
    field_order=2,  # AV_FIELD_TT
)
write_mjpeg_avi = _av_writer(
    "avi", ("mjpeg", "yuvj420p", _QSCALE_3), ("pcm_s16le", 48000, "stereo")
)
write_ffv1 = _av_writer(
    "matroska", ("ffv1", "yuv420p", {"level": "3", "g": "1"}), ("flac", 48000, "stereo")
)
write_wmv = _av_writer("asf", ("wmv2", "yuv420p", _QSCALE_3), ("wmav2", 44100, "stereo"))
write_vp8_ogv = _av_writer(
    "ogv", ("libvpx", "yuv420p", {"crf": "10", "b": "5M"}), ("libopus", 48000, "stereo")
)
# XAVC-style: long-GOP H.264 10-bit 4:2:2, GOPs of 6 with B-frames, 24-bit PCM, in MXF.
write_xavc_mxf = _av_writer(
    "mxf",
    ("libx264", "yuv422p10le", {"preset": "fast", "g": "6", "bf": "2"}),
    ("pcm_s24le", 48000, "mono"),
)


def write_dv(path: Path, frames: Sequence[np.ndarray], rate: Fraction) -> Path:
    """PAL DV in a raw ``.dv`` file: the frames resized to 720x576, at 25 fps, no audio."""
    pal = [cv2.resize(rgb, (720, 576), interpolation=cv2.INTER_AREA) for rgb in frames]
    return _write_av(path, pal, Fraction(25), "dv", ("dvvideo", "yuv420p", {}), None)


def video_props(path: Path) -> dict:
    """What a master must keep, as ffprobe would list it: codec, profile, pixel format, tag,
    colour, field order, rotation, timecode and the audio tracks (codec, channels, language)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        timecode = stream.metadata.get("timecode") or container.metadata.get("timecode")
        for data in container.streams.data:
            timecode = timecode or data.metadata.get("timecode")
        rotation = next(container.decode(stream)).rotation
        return {
            "rotation": rotation,
            "codec": ctx.name,
            "profile": stream.profile,
            "pix_fmt": ctx.pix_fmt,
            "tag": ctx.codec_tag if container.format.name.startswith("mov") else None,
            "colour": (ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range),
            "field_order": ctx.field_order,
            "timecode": timecode,
            "audio": [
                (s.codec_context.name, s.codec_context.channels) for s in container.streams.audio
            ],
            "languages": [s.metadata.get("language") for s in container.streams.audio],
        }


CASES: dict[str, tuple[str, Callable[[Path, Sequence[np.ndarray], Fraction], Path]]] = {
    "prores": (".mov", write_prores),
    "dnxhr": (".mov", write_dnxhr),
    "mxf": (".mxf", write_mxf),
    "hevc10": (".mp4", write_hevc10),
    "vfr": (".mp4", write_vfr),
    "decode_order": (".mp4", write_decode_order),
    "avi_bframes": (".avi", write_avi_bframes),
    "interlaced": (".mp4", write_interlaced),
    "h264": (".mp4", write_h264),
    "mpeg2_ps": (".mpg", write_mpeg2_ps),
    "sd_ts": (".ts", write_sd_ts),
    "mjpeg_avi": (".avi", write_mjpeg_avi),
    "ffv1": (".mkv", write_ffv1),
    "dv": (".dv", write_dv),
    "wmv": (".wmv", write_wmv),
    "vp8_ogv": (".ogv", write_vp8_ogv),
    "xavc_mxf": (".mxf", write_xavc_mxf),
}


def write_case(
    name: str, folder: Path, frames: Sequence[np.ndarray], rate: Fraction = Fraction(25)
) -> Path:
    """Write corpus case ``name`` from (H, W, 3) uint8 RGB ``frames`` into ``folder``."""
    suffix, writer = CASES[name]
    return writer(folder / f"{name}{suffix}", frames, rate)


def clip_frames(path: Path, count: int, size_wh: tuple[int, int]) -> list[np.ndarray]:
    """The first ``count`` frames of a clip as (H, W, 3) uint8 RGB, resized to ``size_wh``."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24", width=size_wh[0], height=size_wh[1]))
            if len(frames) == count:
                break
    while len(frames) < count:  # a short clip plays again
        frames.extend(frames[: count - len(frames)])
    return frames


def main(argv: Iterable[str] | None = None) -> None:
    """Write every case from a shared clip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", default="1280x720", help="frame size WxH")
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x"))
    frames = clip_frames(args.data / "videos" / "bigbuckbunny.mp4", args.frames, size)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in args.cases.split(","):
        print(write_case(name, args.out_dir, frames))


if __name__ == "__main__":
    main()
