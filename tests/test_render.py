"""Scan once, decide per occurrence, render from the saved detections."""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from autoblur.cli import main
from autoblur.exit_codes import ExitCode
from autoblur.io import VideoReader
from autoblur.review.saved_detections import SavedMasks, file_sha256
from autoblur.types import Detections, RegionMask
from autoblur.verify.output import Residual
from autoblur.verify.render import drop_kept
from tests.conftest import IMAGES, make_composite, write_tiny_video

LOGO = IMAGES / "opencv-logo.png"  # a badge with its word in it: found by image and by word
START = "10:00:00:00"
CUT = 30  # bikes.mp4 cuts to another shot at frame 30
NOISE = 2.5  # mean of the largest channel difference per pixel that re-encoding alone gives


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stderr


def frames_of(path) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.rgb.astype(np.int16) for f in reader.frames()]


def with_timecode(src: Path, dst: Path, timecode: str) -> Path:
    """Copy the video packets of ``src`` into a MOV whose timecode track starts at ``timecode``."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        video = source.streams.video[0]
        stream = target.add_stream_from_template(video)
        stream.time_base = video.time_base
        stream.codec_context.framerate = video.average_rate  # the tmcd track counts at this rate
        stream.metadata["timecode"] = timecode
        for packet in source.demux(video):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return dst


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, real_media):
    """The badge over two shots of bikes.mp4 (timecode from 10:00:00:00), scanned with a rule
    file naming its image and its word."""
    folder = tmp_path_factory.mktemp("render")
    composite = make_composite(
        folder, "bikes.mp4", LOGO, 50, start_frame=3, width_frac=0.3, speed_px=3, tilt=0.05
    )
    clip = replace(composite, path=with_timecode(composite.path, folder / "tc.mov", START))
    rules = folder / "rules.yaml"
    rules.write_text(
        f"brands:\n  - name: OpenCV\n    logos: ['{LOGO}']\n    text: [OpenCV]\n    action: blur\n"
    )
    report = folder / "scan.json"
    code, err = invoke(
        "scan", clip.path, "--rules", rules, "--report", report, "--html", folder / "s.html", "-q"
    )
    assert code == 1, err
    return clip, report, json.loads(report.read_text())


def test_one_badge_per_shot_is_one_occurrence(scanned):
    clip, report, data = scanned
    assert len(data["tracks"]) > len(data["occurrences"]) == 2
    first, second = data["occurrences"]
    assert first["cues"] == ["logo:opencv-logo.png", "text:OpenCV"]  # found by image and word
    assert first["start_frame"] <= 4 and first["end_frame"] == CUT - 1
    assert second["start_frame"] >= CUT and (first["id"], second["id"]) == ("occ-0001", "occ-0002")
    assert data["input"]["start_timecode"] == START
    assert first["start_timecode"] == f"10:00:00:{first['start_frame']:02d}"
    assert second["end_timecode"] == f"10:00:01:{second['end_frame'] - 25:02d}"  # 25 fps
    assert data["brands_found"] == {"OpenCV": 2}
    saved = data["saved_detections"]
    assert saved["input_sha256"] == file_sha256(clip.path)
    assert (report.parent / saved["path"]).stat().st_size > 0


def render(
    scanned, tmp_path, decisions: str | None, *extra: object
) -> tuple[int, str, dict | None]:
    clip, report, _ = scanned
    args = ["render", clip.path, "--scan", report, "-o", tmp_path / "out.mp4", "-q", *extra]
    if decisions is not None:
        (tmp_path / "decisions.yaml").write_text(decisions)
        args += ["--decisions", tmp_path / "decisions.yaml"]
    code, err = invoke(*args)
    audit = tmp_path / "out.audit.json"
    return code, err, json.loads(audit.read_text()) if audit.exists() else None


def test_everything_kept_leaves_the_picture_as_it_was(scanned, tmp_path):
    clip, _, _ = scanned
    code, err, audit = render(scanned, tmp_path, "brands: {OpenCV: keep}\n")
    assert code == 0, err
    before, after = frames_of(clip.path), frames_of(tmp_path / "out.mp4")
    assert len(after) == len(before) == clip.frame_count
    for a, b in zip(before, after, strict=True):
        assert np.abs(a - b).mean() < 1.5  # codec noise only
    assert {o["decision"] for o in audit["occurrences"]} == {"keep"}
    assert {o["decided_by"] for o in audit["occurrences"]} == {"decisions file (brand)"}
    assert audit["output"]["sha256"] == file_sha256(tmp_path / "out.mp4")


def test_one_kept_and_one_removed(scanned, tmp_path):
    clip, report, data = scanned
    decisions = "occurrences:\n  occ-0001: {action: keep, reason: 'editorial, news footage'}\n"
    code, err, audit = render(scanned, tmp_path, decisions, "--html", tmp_path / "review.html")
    assert code == 0, err
    before, after = frames_of(clip.path), frames_of(tmp_path / "out.mp4")
    first, second = data["occurrences"]
    saved = dict(SavedMasks(report.parent / data["saved_detections"]["path"]).frames())
    assert set(saved) == set(range(first["start_frame"], second["end_frame"] + 1)) - set(
        range(first["end_frame"] + 1, second["start_frame"])
    )
    for i, masks in saved.items():
        diff = np.abs(after[i] - before[i]).max(axis=2)
        if i <= first["end_frame"]:
            assert diff.mean() < NOISE, i  # kept: the whole picture as it was
            continue
        scanned_mask = np.zeros(diff.shape, bool)
        for mask in masks.values():
            mask.paste_into(scanned_mask)
        assert (diff[scanned_mask] > 12).mean() > 0.5, i  # blurred where the scan found it
        far = ~cv2.dilate(scanned_mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
        assert diff[far].mean() < NOISE, i  # and nowhere else
    kept, removed = audit["occurrences"]
    assert (kept["decision"], kept["reason"], kept["decided_by"]) == (
        "keep",
        "editorial, news footage",
        "decisions file",
    )
    assert (removed["decision"], removed["decided_by"]) == ("blur", "rule file")
    assert audit["input"]["sha256"] == data["saved_detections"]["input_sha256"]
    assert audit["scan"]["sha256"] == file_sha256(report)
    assert kept["start_timecode"] == first["start_timecode"]
    verification = audit["verification"]  # the kept badge is there on purpose: not residual
    assert verification["verified_clean"] and not verification["residual_frames_first_pass"]
    assert min(verification["checked_frames"]) == second["start_frame"]
    assert max(verification["checked_frames"]) == second["end_frame"]
    page = (tmp_path / "review.html").read_text()
    images = _Images()
    images.feed(page)
    assert images.alts.count("before") == images.alts.count("after") == 2
    assert "editorial, news footage" in page and page.count("class='decision'") == 2


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src", "").startswith("data:image/jpeg;base64,"):
            self.alts.append(attrs["alt"].split()[-1])


def test_a_scan_of_another_video_is_refused(scanned, tmp_path):
    _, report, _ = scanned
    other = write_tiny_video(tmp_path / "other.mp4")
    code, err = invoke("render", other, "--scan", report, "-o", tmp_path / "out.mp4")
    assert code == 2
    assert err.startswith(f"autoblur: error: {other}: is not the video that {report} was made")
    assert err.count("\n") == 1 and not list(tmp_path.glob("out*"))


def test_an_unknown_occurrence_id_is_refused(scanned, tmp_path):
    code, err, audit = render(scanned, tmp_path, "occurrences: {occ-0001: keep, occ-0099: blur}\n")
    assert code == 2 and "unknown occurrence id 'occ-0099'" in err and err.count("\n") == 1
    assert audit is None and not (tmp_path / "out.mp4").exists()
    code, err, _ = render(scanned, tmp_path, "occurrences: {occ-0001: smudge}\n")
    assert code == 2 and "key 'occurrences.occ-0001.action'" in err


def test_render_keeps_audio_timestamps_and_frame_count(bunny_windows, tmp_path):
    scan, out = tmp_path / "scan.json", tmp_path / "clean.mp4"
    code, err = invoke(
        "scan", bunny_windows.path, "--logo", IMAGES / "WindowsLogo.jpg", "--report", scan, "-q"
    )
    assert code == 1, err
    code, err = invoke("render", bunny_windows.path, "--scan", scan, "-o", out, "-q")
    assert code == 0, err

    def stamps_and_audio(path):
        with av.open(str(path)) as container:
            audio = [bytes(p) for p in container.demux(audio=0) if p.size]
        with VideoReader(path) as reader:
            return [f.time_s for f in reader.frames()], audio

    (times_in, audio_in), (times_out, audio_out) = (
        stamps_and_audio(bunny_windows.path),
        stamps_and_audio(out),
    )
    assert times_out == times_in and len(times_in) == bunny_windows.frame_count
    assert audio_in and audio_out == audio_in
    (occ,) = json.loads(scan.read_text())["occurrences"]
    after = frames_of(out)
    before = frames_of(bunny_windows.path)
    for i in range(occ["start_frame"] + 2, occ["end_frame"] + 1, 10):
        truth = bunny_windows.masks[i].to_dense()
        assert (np.abs(after[i] - before[i]).max(axis=2)[truth] > 20).mean() > 0.7  # removed


def test_verification_ignores_a_kept_occurrence_of_a_removed_brand(scanned):
    _, _, data = scanned
    first, second = data["occurrences"]
    found = Detections(
        xyxy=np.array([[10, 10, 60, 60]], np.float32),
        confidence=np.array([0.9], np.float32),
        brand=["OpenCV"],
        source=["logo"],
        cue=[str(LOGO)],
    )
    on = [
        Residual(i, i / 25, (360, 640), found) for i in (first["end_frame"], second["start_frame"])
    ]
    left = drop_kept(data, {first["id"]})(on)
    assert [item.frame_idx for item in left] == [second["start_frame"]]  # only the removed one


def _shrunk(frames):
    """Each saved mask replaced by the top-left sixteenth of its box: most of the badge is left."""

    def corner(mask: RegionMask) -> RegionMask:
        height, width = (max(1, side // 4) for side in mask.bitmap.shape)
        return RegionMask(mask.x0, mask.y0, np.ones((height, width), bool), mask.frame_hw)

    def frames_shrunk(self):
        for frame_idx, masks in frames(self):
            yield frame_idx, {track_id: corner(m) for track_id, m in masks.items()}

    return frames_shrunk


def test_masks_too_small_are_repaired_by_the_second_pass(scanned, tmp_path, monkeypatch):
    # The second pass repairs the frames the detectors look at again; between them the shrunk
    # masks leave most of the badge, which the follow check reports: the render exits 4.
    clip, _, _ = scanned
    monkeypatch.setattr(SavedMasks, "frames", _shrunk(SavedMasks.frames))
    code, err, audit = render(scanned, tmp_path, None)
    assert code == ExitCode.RESIDUAL, err
    verification = audit["verification"]
    repaired = verification["residual_frames_first_pass"]
    assert repaired and all(r.get("followed") for r in verification["residual"])
    followed = {r["frame"] for r in verification["followed_left"]}
    assert followed and not followed & set(repaired)
    before, after = frames_of(clip.path), frames_of(tmp_path / "out.mp4")
    for i in repaired:
        truth = clip.masks[i].to_dense()
        assert (np.abs(after[i] - before[i]).max(axis=2)[truth] > 12).mean() > 0.5, i
    code, err, audit = render(scanned, tmp_path, None, "--no-verify")
    assert code == 0 and audit["verification"] is None
    unrepaired = frames_of(tmp_path / "out.mp4")
    left = [
        (np.abs(unrepaired[i] - before[i]).max(axis=2)[clip.masks[i].to_dense()] > 12).mean()
        for i in repaired
    ]
    assert min(left) < 0.5  # without the second pass the shrunk masks left the badge there


def test_a_missing_reference_image_skips_verification_with_a_notice(scanned, tmp_path):
    clip, report, data = scanned
    gone = tmp_path / "gone.png"
    moved = json.loads(json.dumps(data))
    for track in moved["tracks"]:
        if track["source"] in ("logo", "flat"):
            track["cue"] = str(gone)
    scan = tmp_path / "scan.json"
    scan.write_text(json.dumps(moved))
    masks = report.parent / data["saved_detections"]["path"]
    (tmp_path / masks.name).write_bytes(masks.read_bytes())
    out = tmp_path / "out.mp4"
    code, err = invoke("render", clip.path, "--scan", scan, "-o", out, "-q")
    assert code == 0, err
    audit = json.loads((tmp_path / "out.audit.json").read_text())
    assert audit["verification"] is None
    (notice,) = [n for n in audit["notices"] if "verification" in n]
    assert str(gone) in notice


def test_render_exits_4_when_something_is_left(scanned, tmp_path, monkeypatch):
    monkeypatch.setattr(SavedMasks, "frames", _shrunk(SavedMasks.frames))
    monkeypatch.setattr("autoblur.verify.output.repair_masks", lambda *args: {})  # repairs fail

    def first_frames(report, removed):  # one frame checked keeps the test short
        return [o["start_frame"] for o in report["occurrences"] if o["id"] in removed]

    monkeypatch.setattr("autoblur.render.render_frames", first_frames)
    code, err, audit = render(scanned, tmp_path, None)
    assert code == ExitCode.RESIDUAL
    assert "verification: brands still found on frames" in err
    assert not audit["verification"]["verified_clean"] and audit["verification"]["residual"]


def test_render_exits_4_for_a_frame_the_saved_masks_left_whole(scanned, tmp_path, monkeypatch):
    # One frame between two keyframes loses its saved masks: the badge is on it whole. The
    # detectors look only at keyframes and occurrence ends; following the badge through the
    # input from its detections finds it there.
    _, _, data = scanned
    keyframes = {r["frame"] for t in data["tracks"] for r in t["keyframes"]}
    track = next(t for t in data["tracks"] if len(t["keyframes"]) >= 2)
    whole = next(f for f in range(track["keyframes"][0]["frame"] + 2, 10**6) if f not in keyframes)
    frames = SavedMasks.frames

    def without_one(self):
        for frame_idx, masks in frames(self):
            yield frame_idx, {} if frame_idx == whole else masks

    monkeypatch.setattr(SavedMasks, "frames", without_one)
    code, err, audit = render(scanned, tmp_path, None)
    assert code == ExitCode.RESIDUAL, err
    assert {r["frame"] for r in audit["verification"]["followed_left"]} == {whole}
