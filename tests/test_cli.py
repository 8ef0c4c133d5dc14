"""End to end through the command line, on real clips with composited logos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from autoblur.cli import main
from autoblur.config import DetectConfig
from autoblur.io import VideoReader
from autoblur.synth import composite_logo, moving_placement
from autoblur.types import BrandCue
from detectors import available_detectors
from detectors.text import TextDetector
from tests.conftest import (
    IMAGES,
    REPO,
    VIDEOS,
    make_composite,
    render_word,
    write_empty_video,
    write_tiny_video,
)

WINDOWS = IMAGES / "WindowsLogo.jpg"
BOX = IMAGES / "box.png"


class IndependentMatcher:
    """ORB + Hamming matching + RANSAC: shares nothing with the SIFT detector under test."""

    def __init__(self, logo: Path) -> None:
        self.orb = cv2.ORB_create(1500)
        gray = cv2.imread(str(logo), cv2.IMREAD_GRAYSCALE)
        self.keypoints, self.descriptors = self.orb.detectAndCompute(gray, None)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)

    def inliers(self, rgb: np.ndarray) -> int:
        keypoints, descriptors = self.orb.detectAndCompute(
            cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), None
        )
        if descriptors is None:
            return 0
        pairs = self.matcher.knnMatch(self.descriptors, descriptors, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        # One match per point of the frame: many logo points matched to one frame point fit a
        # degenerate homography (everything onto that point) and were all counted as inliers,
        # up to 26 on frames whose logo was blurred away, 22 on bikes.mp4 without any logo.
        best: dict[tuple[int, int], cv2.DMatch] = {}
        for match in good:
            x, y = keypoints[match.trainIdx].pt
            point = (round(x), round(y))
            if point not in best or match.distance < best[point].distance:
                best[point] = match
        good = list(best.values())
        if len(good) < 8:
            return 0
        src = np.float32([self.keypoints[m.queryIdx].pt for m in good])
        dst = np.float32([keypoints[m.trainIdx].pt for m in good])
        _, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
        return 0 if inliers is None else int(inliers.sum())


def invoke(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def decode(path: Path) -> tuple[list, object]:
    with VideoReader(path) as reader:
        return [(f.time_s, f.rgb) for f in reader.frames()], reader.info


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        return [bytes(p) for p in container.demux(audio=0) if p.size]


@pytest.fixture(scope="module")
def bunny_run(bunny_windows, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("bunny_run")
    out, report, masks = out_dir / "clean.mp4", out_dir / "report.json", out_dir / "masks"
    code, _, err = invoke(
        "run",
        bunny_windows.path,
        "-o",
        out,
        "--logo",
        WINDOWS,
        "--report",
        report,
        "--masks",
        masks,
    )
    assert code == 0, err
    return out, json.loads(report.read_text()), masks


def test_run_removes_the_logo_and_keeps_the_rest(bunny_windows, bunny_run):
    out, report, _ = bunny_run
    before, info_in = decode(bunny_windows.path)
    after, info_out = decode(out)
    assert len(after) == len(before) == bunny_windows.frame_count
    assert (info_out.width, info_out.height, info_out.fps) == (
        info_in.width,
        info_in.height,
        info_in.fps,
    )
    assert [round(t, 4) for t, _ in after] == [round(t, 4) for t, _ in before]
    assert audio_packets(out) == audio_packets(bunny_windows.path) != []

    matcher = IndependentMatcher(WINDOWS)
    logo_frames = [i for i, m in enumerate(bunny_windows.masks) if m is not None]
    found_before = [matcher.inliers(before[i][1]) >= 15 for i in logo_frames]
    found_after = [matcher.inliers(after[i][1]) >= 15 for i in logo_frames]
    assert np.mean(found_before) > 0.9  # the check is able to see the logo
    assert not any(found_after)

    changed, far_error, far_pixels = [], 0.0, 0
    for i, (_, frame_out) in enumerate(after):
        frame_in = before[i][1].astype(np.int16)
        diff = np.abs(frame_out.astype(np.int16) - frame_in).max(axis=2)
        truth = bunny_windows.masks[i]
        near = np.zeros(diff.shape, bool)
        if truth is not None:
            dense = truth.to_dense()
            changed.append((diff[dense] > 20).mean())
            near = truth.dilate(60).to_dense()
        far = ~near
        far_error += float(((frame_out[far].astype(float) - frame_in[far]) ** 2).sum())
        far_pixels += int(far.sum()) * 3
    assert np.mean(changed) > 0.8  # most of the logo's pixels were replaced
    assert 10 * np.log10(255**2 / (far_error / far_pixels)) > 40  # the rest is untouched

    (track,) = report["tracks"]
    assert track["brand"] == "WindowsLogo" and track["action"] == "inpaint"
    assert 20 <= track["first_frame"] <= 22  # found where it first appears, mid-video
    assert track["last_frame"] == len(after) - 1
    assert report["input"]["frame_count"] == len(after) and report["input"]["audio_streams"] == 1
    assert all(k["score"] > 0 and len(k["xyxy"]) == 4 for k in track["keyframes"])


def test_masks_folder_has_one_png_per_frame(bunny_windows, bunny_run):
    _, _, masks = bunny_run
    files = sorted(masks.glob("*.png"))
    assert len(files) == bunny_windows.frame_count
    for i in (10, 40):
        written = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE) > 0
        truth = bunny_windows.masks[i]
        if truth is None:
            assert not written.any()
        else:
            dense = truth.to_dense()
            assert written[dense].mean() > 0.95 and written.sum() < 2 * dense.sum()


def test_blur_mode_across_scene_cuts(bikes_box, tmp_path):
    out, report = tmp_path / "bikes.mp4", tmp_path / "r.json"
    code, _, err = invoke(
        "run", bikes_box.path, "-o", out, "--logo", BOX, "--mode", "blur", "--report", report, "-q"
    )
    assert code == 0, err
    tracks = json.loads(report.read_text())["tracks"]
    cuts = [30, 76]
    for track in tracks:
        assert track["action"] == "blur"
        assert not any(track["first_frame"] < c <= track["last_frame"] for c in cuts)
    assert len(tracks) >= 3  # one per shot at least
    after, _ = decode(out)
    matcher = IndependentMatcher(BOX)
    logo_frames = [i for i, m in enumerate(bikes_box.masks) if m is not None]
    assert sum(matcher.inliers(after[i][1]) >= 15 for i in logo_frames) <= 0.05 * len(logo_frames)


def test_scan_reports_and_exits_by_what_it_found(bunny_windows, tmp_path):
    report = tmp_path / "found.json"
    code, _, _ = invoke("scan", bunny_windows.path, "--logo", WINDOWS, "--report", report, "-q")
    assert code == 1
    data = json.loads(report.read_text())
    assert data["mode"] == "scan" and data["output"] is None
    assert data["brands_found"] == {"WindowsLogo": 1}
    masks = tmp_path / data["saved_detections"]["path"]  # what render needs, beside the report
    assert sorted(tmp_path.iterdir()) == [report, masks]  # no video written
    code, stdout, _ = invoke("scan", VIDEOS / "carphone_pristine.mp4", "--logo", WINDOWS)
    assert code == 0
    assert json.loads(stdout)["tracks"] == []


def test_logo_that_leaves_and_comes_back(tmp_path, real_media):
    rgb = cv2.imread(str(WINDOWS))
    moving = moving_placement(rgb.shape[:2], start_frame=5, speed_px=5)
    away = range(26, 46)
    clip = composite_logo(
        VIDEOS / "bigbuckbunny.mp4",
        WINDOWS,
        tmp_path / "in.mp4",
        lambda i, hw: None if i in away else moving(i, hw),
        max_frames=72,
    )
    report = tmp_path / "r.json"
    code, _, err = invoke("scan", clip.path, "--logo", WINDOWS, "--report", report, "-q")
    assert code == 1, err
    spans = [(t["first_frame"], t["last_frame"]) for t in json.loads(report.read_text())["tracks"]]
    assert len(spans) == 2
    (a0, a1), (b0, b1) = spans
    assert 5 <= a0 <= 7 and 23 <= a1 <= 25  # gone from frame 26
    assert 46 <= b0 <= 48 and b1 == 71  # back from frame 46, found between keyframes


def test_rule_file_run_on_the_bundled_sample(tmp_path, monkeypatch, short_sample):
    # The sample's first frames, both logos on screen (the whole sample runs in CI's first
    # step, the README's command).
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_hf_cache"))
    out, report = tmp_path / "s.mp4", tmp_path / "s.json"
    code, _, err = invoke(
        "run",
        short_sample,
        "-o",
        out,
        "--rules",
        REPO / "brand_lists/kr.yaml",
        "--report",
        report,
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["rules"]["country"] == "KR"
    actions = {t["brand"]: t["action"] for t in data["tracks"]}
    assert actions == {"Windows": "pixelate", "OpenCV": "inpaint"}
    # Rule-file cues whose detector cannot run (not installed, or its model not downloaded)
    # are reported once, saying how to fix it, not silently dropped.
    [note] = [n for n in data["notices"] if "'prompts' cues" in n]
    assert note.startswith("'prompts' cues of 3 brand(s) (Windows, Bastoncini, OpenCV) ")
    assert note.endswith("; they are ignored")
    if "grounding_dino" in available_detectors():
        assert "`autoblur models download grounding_dino_tiny`" in note
    else:
        assert "not available in this installation" in note
    assert err.count("'prompts' cues") == 1


def test_old_codecs_lying_headers_and_odd_sizes(tmp_path, real_media):
    out = tmp_path / "tree.mp4"
    code, _, err = invoke("run", VIDEOS / "tree.avi", "-o", out, "--logo", WINDOWS, "-q")
    assert code == 0, err
    assert len(decode(out)[0]) == 68
    odd = write_tiny_video(tmp_path / "odd.mp4", size_wh=(101, 67), audio=False)
    code, _, err = invoke("run", odd, "-o", tmp_path / "odd_out.mkv", "--logo", WINDOWS, "-q")
    assert code == 0, err
    frames, info = decode(tmp_path / "odd_out.mkv")
    assert (info.width, info.height, len(frames)) == (101, 67, 12)


def bad_inputs(tmp: Path) -> dict[str, list[object]]:
    (tmp / "text.mp4").write_text("hello\n" * 100)
    (tmp / "cut.mp4").write_bytes((VIDEOS / "bigbuckbunny.mp4").read_bytes()[:300_000])
    empty = write_empty_video(tmp / "empty.mp4")
    good = write_tiny_video(tmp / "good.mp4")
    (tmp / "bad_rules.yaml").write_text(
        "brands:\n  - name: Acme\n    action: vanish\n    text: [A]\n"
    )
    return {
        "input file not found": [
            "run",
            tmp / "missing.mp4",
            "-o",
            tmp / "o.mp4",
            "--logo",
            WINDOWS,
        ],
        "cannot be read as a video": [
            "run",
            tmp / "text.mp4",
            "-o",
            tmp / "o.mp4",
            "--logo",
            WINDOWS,
        ],
        "truncated": ["run", tmp / "cut.mp4", "-o", tmp / "o.mp4", "--logo", WINDOWS],
        "empty": ["run", empty, "-o", tmp / "o.mp4", "--logo", WINDOWS],
        "output path is the input": ["run", good, "-o", good, "--logo", WINDOWS],
        "does not exist": ["run", good, "-o", tmp / "nowhere" / "o.mp4", "--logo", WINDOWS],
        "field 'action'": ["run", good, "-o", tmp / "o.mp4", "--rules", tmp / "bad_rules.yaml"],
        "logo image not found": ["run", good, "-o", tmp / "o.mp4", "--logo", tmp / "nologo.png"],
        "no brands given": ["scan", good],
        "rule file not found": ["scan", good, "--rules", tmp / "none.yaml"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "input file not found",
        "cannot be read as a video",
        "truncated",
        "empty",
        "output path is the input",
        "does not exist",
        "field 'action'",
        "logo image not found",
        "no brands given",
        "rule file not found",
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, real_media, case):
    args = bad_inputs(tmp_path)[case]
    before = set(tmp_path.rglob("*"))
    code, _, err = invoke(*args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autoblur: error:") and case in lines[0]
    assert "Traceback" not in err
    assert set(tmp_path.rglob("*")) == before  # nothing half-written left behind


def test_console_script_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autoblur",
            "run",
            str(tmp_path / "nope.mp4"),
            "--logo",
            str(WINDOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"autoblur: error: {tmp_path / 'nope.mp4'}: input file not found"
    )
    version = subprocess.run(
        [sys.executable, "-m", "autoblur", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and "autoblur, version" in version.stdout


def test_text_word_on_a_moving_clip_is_removed(tmp_path, real_media):
    word_png = render_word(tmp_path / "globex.png", "GLOBEX")
    clip = make_composite(
        tmp_path, "bikes.mp4", word_png, 28, start_frame=3, width_frac=0.4, speed_px=5, tilt=0.05
    )
    out, report = tmp_path / "out.mp4", tmp_path / "r.json"
    code, _, err = invoke("run", clip.path, "-o", out, "--text", "Globex", "--report", report, "-q")
    assert code == 0, err
    data = json.loads(report.read_text())
    assert data["brands_found"] == {"Globex": 1}
    assert data["tracks"][0]["source"] == "text" and data["tracks"][0]["first_frame"] <= 4
    assert data["timing"]["detect_ms_per_keyframe_by_detector"]["text"] > 0
    # Every stage's wall and CPU seconds, adding up to the run's time.
    stages = data["timing"]["stages"]
    for stage in ("decode", "detection: text", "tracking", "refinement", "remove: inpaint"):
        assert stages[stage]["wall_s"] > 0, stage
    assert any(name.startswith("verification") for name in stages)
    total = sum(entry["wall_s"] for entry in stages.values())
    assert abs(total - data["timing"]["seconds"]) < 0.05 * data["timing"]["seconds"]
    assert data["timing"]["encode_thread"]["wall_s"] > 0
    reader = TextDetector([BrandCue("Globex", "blur", text=("GLOBEX",))], DetectConfig())
    before, _ = decode(clip.path)
    after, _ = decode(out)
    frames = [i for i, m in enumerate(clip.masks) if m is not None][::4]
    assert sum(len(reader.detect(before[i][1])) > 0 for i in frames) >= 0.8 * len(frames)
    assert not any(len(reader.detect(after[i][1])) for i in frames)
    for i in frames:
        truth = clip.masks[i].to_dense()
        diff = np.abs(after[i][1].astype(int) - before[i][1]).max(axis=2)
        assert (diff[truth] > 20).mean() > 0.7


def test_core_runs_without_the_models_extra(tmp_path):
    # Hide torch and friends as if the extra were not installed: the core must still scan.
    blocker = (
        "import sys\n"
        "for name in ('torch', 'torchvision', 'transformers', 'segment_anything'):\n"
        "    sys.modules[name] = None\n"
        "from autoblur.cli import main\n"
        "main()\n"
    )
    report = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-c", blocker, "scan", str(REPO / "examples/sample.mp4"),
         "--rules", str(REPO / "brand_lists/kr.yaml"), "--report", str(report), "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # brands found
    notices = json.loads(report.read_text())["notices"]
    assert any("not available in this installation" in n for n in notices)
    # Logo and wordmark detections bring exact masks: no segmentation model is wanted or noted.
    assert not any(n.startswith("segmenter auto") for n in notices)
    assert "torch" not in done.stderr


def test_out_of_memory_is_one_line(tmp_path, monkeypatch, real_media):
    def exhausted(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("autoblur.pipeline.Pipeline.run", exhausted)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["run", str(VIDEOS / "bikes.mp4"), "-o", str(out),
                                       "--logo", str(WINDOWS)])  # fmt: skip
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("autoblur: error: out of memory") and "--device cpu" in line
    assert not out.exists()


def test_an_ffmpeg_failure_no_stage_expected_is_one_line(tmp_path, monkeypatch):
    def refused(self):
        raise av.error.OSError(95, "Operation not supported")

    monkeypatch.setattr("autoblur.pipeline.Pipeline.run", refused)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(main, ["run", str(VIDEOS / "bikes.mp4"), "-o", str(out),
                                       "--logo", str(WINDOWS)])  # fmt: skip
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("autoblur: error: FFmpeg failed (Operation not supported)")
    assert "Convert the input" in line and "Traceback" not in result.output
    assert not out.exists()
