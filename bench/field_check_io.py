"""Field check of the output I/O: each corpus case through ``run --mode blur``, in against out.

Per case it decodes input and output with PyAV (frame count, every frame's time, the video's
end, every audio packet's time and bytes, timecode, frames outside the logo's appearance that
decode identical) and, where the real ffmpeg is installed (for checking only, never a runtime
dependency), runs ``ffmpeg -v error -i OUT -f null -`` (must print nothing) and compares the
``ffprobe -show_streams`` properties of every stream.

Cases beyond ``make_io_corpus``: ``mp4_subs`` (mov_text in MP4), ``mkv_srt`` (SRT in MKV) and
``late_video`` (the video starts 1 s after its audio) are made from the ``h264`` case with the
ffmpeg CLI. The logo (WindowsLogo.jpg) is on frames 10-17 of every case.

Usage: python bench/field_check_io.py [--data ../shared/data] [--frames 30] [--size 640x360]
    [--cases prores,mxf,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np

from autoblur.errors import AutoblurError
from autoblur.io.streams import main_video_stream
from autoblur.timecode import start_timecode
from bench.bench_io import ROOT, SHORT_APPEARANCE, blur_run, composite_frames
from bench.make_io_corpus import CASES, write_case

PROBED = (
    "codec_name",
    "profile",
    "codec_tag_string",
    "pix_fmt",
    "width",
    "height",
    "sample_aspect_ratio",
    "field_order",
    "color_range",
    "color_space",
    "color_transfer",
    "color_primaries",
    "chroma_location",
    "r_frame_rate",
    "sample_rate",
    "channels",
    "bits_per_raw_sample",
)
SRT = "1\n00:00:00,100 --> 00:00:00,500\nfirst line\n\n2\n00:00:00,600 --> 00:00:01,000\nsecond\n"
# Cases made from the ``h264`` case with the ffmpeg CLI: (suffix, output options).
DERIVED = {
    "mp4_subs": (".mp4", ["-c", "copy", "-c:s", "mov_text"]),
    "mkv_srt": (".mkv", ["-c", "copy", "-c:s", "srt"]),
    "late_video": (".mp4", ["-c", "copy"]),
    # As ffmpeg itself writes masters: B-frames with an edit list, ProRes with a tmcd track
    # and 24-bit PCM, XDCAM HD 422 in MXF with four mono tracks, 10-bit HEVC.
    "ff_h264_bframes": (".mp4", ["-c:v", "libx264", "-bf", "3", "-g", "12", "-c:a", "copy"]),
    "ff_prores": (
        ".mov",
        ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-vendor", "apl0"]
        + ["-timecode", "10:00:00:00", "-c:a", "pcm_s24le"],
    ),
    "ff_xdcam": (
        ".mxf",
        ["-c:v", "mpeg2video", "-pix_fmt", "yuv422p", "-b:v", "50M", "-minrate", "50M"]
        + ["-maxrate", "50M", "-bufsize", "17825792", "-g", "12", "-bf", "2", "-flags", "+cgop"]
        + ["-sc_threshold", "1000000000"]
        + ["-timecode", "10:00:00:00", "-c:a", "pcm_s24le", "-ac", "1", "-ar", "48000"],
    ),
    "ff_h264_avi": (".avi", ["-c:v", "libx264", "-bf", "0", "-c:a", "ac3"]),
    # A broadcast transport stream: closed-GOP H.264 with B-frames, MPEG-1 Layer II audio.
    "ff_ts": (".ts", ["-c:v", "libx264", "-bf", "2", "-g", "12", "-flags", "+cgop", "-c:a", "mp2"]),
    "ff_hevc10": (
        ".mp4",
        ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"]
        + ["-c:a", "copy"],
    ),
}


def derive(name: str, h264: Path, folder: Path) -> Path:
    """Make a derived case from the ``h264`` case with the ffmpeg CLI."""
    suffix, options = DERIVED[name]
    out = folder / f"{name}{suffix}"
    if name == "late_video":
        args = ["-itsoffset", "1", "-i", str(h264), "-i", str(h264), "-map", "0:v", "-map", "1:a"]
    elif name in ("mp4_subs", "mkv_srt"):
        srt = folder / "subs.srt"
        srt.write_text(SRT)
        args = ["-i", str(h264), "-i", str(srt), "-map", "0", "-map", "1"]
    elif name == "ff_xdcam":
        args = ["-i", str(h264), "-map", "0:v", *["-map", "0:a"] * 4]
    else:
        args = ["-i", str(h264)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, *options, str(out)], check=True)
    return out


def decodable(container: av.container.InputContainer, stream: av.VideoStream):
    """The stream's frames as ffmpeg shows them: a packet the decoder rejects is skipped."""
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            continue


def decoded(path: Path) -> dict:
    """Frame times (s), luma of each frame, video end, audio packets and timecode, via PyAV."""
    with av.open(str(path)) as container:
        stream = main_video_stream(container)
        frames = [
            (f.pts * stream.time_base, f.to_ndarray(format="gray16le"))
            for f in decodable(container, stream)
        ]
    with av.open(str(path)) as container:
        stream = main_video_stream(container)
        ends = [
            p.pts + (p.duration or 0)
            for p in container.demux(stream)
            if p.size and p.pts is not None
        ]
        end = max(ends) * stream.time_base if ends else None
        timecode = start_timecode(container)
    with av.open(str(path)) as container:
        copied = [*container.streams.audio, *container.streams.subtitles]
        audio = {s.index: [] for s in copied}
        for packet in container.demux(copied) if copied else []:
            if packet.size:
                audio[packet.stream.index].append((packet.pts * packet.time_base, bytes(packet)))
    return {
        "times": [t for t, _ in frames],
        "luma": [y for _, y in frames],
        "end": end,
        "audio": list(audio.values()),
        "timecode": timecode,
    }


def probe(path: Path) -> list[dict]:
    """ffprobe's properties of each stream (with its timecode and rotation)."""
    shown = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    streams = []
    for s in json.loads(shown.stdout)["streams"]:
        props = {k: s[k] for k in PROBED if k in s}
        props["type"] = s["codec_type"]
        if "timecode" in s.get("tags", {}):
            props["timecode"] = s["tags"]["timecode"]
        for side in s.get("side_data_list", []):
            if "rotation" in side:
                props["rotation"] = side["rotation"]
        streams.append(props)
    return streams


def probed_times(path: Path) -> list[float]:
    """ffprobe's best-effort time of each video frame, in display order."""
    shown = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    times = (line.split(",")[0] for line in shown.stdout.split())
    return sorted(float(t) for t in times if t not in ("", "N/A"))


def ffmpeg_errors(path: Path) -> str:
    """What ``ffmpeg -v error -i PATH -f null -`` prints (nothing for a clean file)."""
    run = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    return (run.stdout + run.stderr).strip()


def compare(src: Path, out: Path, untouched: set[int]) -> list[str]:
    """One line per check: ``ok`` or what differs."""
    a, b = decoded(src), decoded(out)
    lines = [f"frames {len(a['times'])} -> {len(b['times'])}"]
    if len(a["times"]) == len(b["times"]):
        # Against the input's times in display order (a decode-order file decodes out of order).
        shown = sorted(a["times"])
        worst = max(abs(float(x - y)) for x, y in zip(shown, b["times"], strict=True))
        lines.append(
            f"frame times: max diff {1000 * worst:.2f} ms (first {float(shown[0]):.3f} s"
            f"{'' if shown == a['times'] else ', input decodes out of order'})"
        )
        same = sum(
            np.array_equal(a["luma"][i], b["luma"][i]) for i in untouched if i < len(a["luma"])
        )
        lines.append(f"frames without the logo decoded identical: {same}/{len(untouched)}")
    lines.append(f"video end {float(a['end']):.3f} s -> {float(b['end']):.3f} s")
    same_audio = [x == y for x, y in zip(a["audio"], b["audio"], strict=False)]
    lines.append(
        f"audio/subtitle streams {len(a['audio'])} -> {len(b['audio'])}, packets (time, bytes) "
        f"identical: {same_audio}"
    )
    lines.append(f"timecode {a['timecode']} -> {b['timecode']}")
    if shutil.which("ffprobe"):
        before, after = probe(src), probe(out)
        for i, (x, y) in enumerate(zip(before, after, strict=False)):
            diff = {k: (x.get(k), y.get(k)) for k in x.keys() | y.keys() if x.get(k) != y.get(k)}
            lines.append(f"ffprobe stream {i} ({x['type']}): {diff or 'same'}")
        if len(before) != len(after):
            lines.append(f"ffprobe streams {len(before)} -> {len(after)}")
        x, y = probed_times(src), probed_times(out)
        worst = max((abs(i - j) for i, j in zip(x, y, strict=False)), default=0.0)
        lines.append(
            f"ffprobe frame times: {len(x)} -> {len(y)} frames, max diff {1000 * worst:.2f} ms"
        )
        errors = ffmpeg_errors(out)
        lines.append("ffmpeg -v error: " + ("silent" if not errors else errors[:300]))
    return lines


def main() -> None:
    """Write the cases, run each, print the checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--cases", default=",".join([*CASES, *DERIVED]))
    parser.add_argument("--files", type=Path, nargs="*", default=[], help="real files, as they are")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    logo = args.data / "images" / "WindowsLogo.jpg"
    frames = composite_frames(args.data, logo, args.frames, size, SHORT_APPEARANCE)
    untouched = set(range(args.frames)) - set(range(SHORT_APPEARANCE[0], SHORT_APPEARANCE[1] + 1))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        h264 = None
        for name in [*filter(None, args.cases.split(",")), *args.files]:
            if isinstance(name, Path):
                src = name
            elif name in DERIVED:
                h264 = h264 or write_case("h264", tmp, frames)
                src = derive(name, h264, tmp)
            else:
                src = write_case(name, tmp, frames)
            out = tmp / f"out_{src.name}"
            try:
                _, report = blur_run(src, out, logo)
            except AutoblurError as exc:
                print(f"{name}: FAILS: {exc}")
                continue
            plan = report["output_format"]
            print(
                f"{name}: {plan['codec']} {plan['pix_fmt']} in {plan['container']}, copied "
                f"{plan['frames_copied']}, re-encoded {plan['frames_encoded']}"
            )
            for line in compare(src, out, untouched):
                print(f"  {line}")


if __name__ == "__main__":
    main()
