import base64
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import autoblur.verify.run_checks as run_checks
from autoblur.batch.runner import exit_code
from autoblur.cli import main
from autoblur.config import load_config
from autoblur.exit_codes import ExitCode
from autoblur.io import VideoReader
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.report.html import write_video_html
from autoblur.track.refine import MaskRefiner
from autoblur.types import BrandCue, Detections, RegionMask, box_iou
from autoblur.verify.output import sample_frames, verify_output
from detectors.logo import LogoDetector
from detectors.windows import detect_in_windows, detector_windows, search_windows
from tests.conftest import IMAGES, make_composite

WINDOWS = IMAGES / "WindowsLogo.jpg"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, real_media):
    """Bikes (640x272), 25 frames, the Windows logo (45 % of the width) moving over all of them."""
    return make_composite(
        tmp_path_factory.mktemp("verify"), "bikes.mp4", WINDOWS, 25, width_frac=0.45, speed_px=4
    )


@pytest.fixture(scope="module")
def small_logo_clip(tmp_path_factory, real_media):
    """Bikes, 25 frames, a smaller Windows logo: the keyframes are searched in windows."""
    return make_composite(
        tmp_path_factory.mktemp("verify_small"),
        "bikes.mp4",
        WINDOWS,
        25,
        width_frac=0.15,
        speed_px=4,
    )


def _left_third(mask: RegionMask) -> RegionMask:
    bitmap = mask.bitmap.copy()
    bitmap[:, bitmap.shape[1] // 3 :] = False
    return RegionMask.from_crop(mask.x0, mask.y0, bitmap, mask.frame_hw) or mask


def _miss_half(monkeypatch):
    """Make the first pass mask only the left third of each logo."""
    refine = MaskRefiner.refine
    monkeypatch.setattr(
        MaskRefiner,
        "refine",
        lambda self, rgb, i, t, mask, *a: _left_third(refine(self, rgb, i, t, mask, *a)),
    )


def _run(clip, out, masks_dir=None, **overrides):
    # Keyframes every 12 frames exactly (no change-triggered ones): the tests name them.
    config = load_config(
        None,
        {
            "remove": {"mode": "blur"},
            "encode": {"preset": "ultrafast"},
            "change_keyframes": False,
            **overrides,
        },
    )
    cues = [BrandCue("windows", "blur", (WINDOWS,))]
    return Pipeline(Job(clip.path, out, cues, config, masks_dir=masks_dir)).run()


def test_verify_output_finds_a_logo_left_in(short_clip):
    detectors = [LogoDetector([BrandCue("windows", "blur", (WINDOWS,))], load_config().detect)]
    found = verify_output(short_clip.path, detectors, [0, 12, 24])
    assert found["checked_frames"] == [0, 12, 24]
    assert not found["verified_clean"]
    assert sorted({r["frame"] for r in found["residual"]}) == [0, 12, 24]
    assert {r["brand"] for r in found["residual"]} == {"windows"}
    truth = short_clip.masks[12].xyxy
    [box] = [r["box"] for r in found["residual"] if r["frame"] == 12]
    assert np.abs(np.array(box) - truth).max() < 8
    kept = verify_output(short_clip.path, detectors, [12], kept_brands=frozenset({"windows"}))
    assert kept["verified_clean"]


@pytest.mark.parametrize("clip_name", ["short_clip", "small_logo_clip"])
def test_second_pass_removes_what_the_first_left(clip_name, tmp_path, monkeypatch, request):
    clip = request.getfixturevalue(clip_name)
    _miss_half(monkeypatch)
    report = _run(clip, tmp_path / "out.mp4", masks_dir=tmp_path / "masks")
    verification = report["verification"]
    # The --masks folder holds the masks of the output, the repair's: the whole logo.
    saved = cv2.imread(str(tmp_path / "masks" / "000012.png"), cv2.IMREAD_GRAYSCALE) > 0
    truth = clip.masks[12]
    assert (
        saved[truth.y0 :, truth.x0 :][: truth.bitmap.shape[0], : truth.bitmap.shape[1]][
            truth.bitmap
        ].mean()
        > 0.99
    )
    # The short masks left the logo on the keyframes, whether searched whole or in windows.
    assert {0, 12, 24} <= set(verification["residual_frames_first_pass"])
    assert verification["verified_clean"]
    assert {0, 12, 24} <= set(verification["checked_frames"])
    in_windows = verification["frames_searched_in_windows"]
    assert in_windows == 0 if clip_name == "short_clip" else in_windows >= 3


def test_short_masks_without_verification_leave_the_logo(short_clip, tmp_path, monkeypatch):
    _miss_half(monkeypatch)
    out = tmp_path / "out.mp4"
    report = _run(short_clip, out, verify={"enabled": False})
    assert report["verification"] is None
    detectors = [LogoDetector([BrandCue("windows", "blur", (WINDOWS,))], load_config().detect)]
    assert not verify_output(out, detectors, [12])["verified_clean"]


def test_run_exits_4_and_the_html_says_what_is_left(short_clip, tmp_path, monkeypatch):
    _miss_half(monkeypatch)
    monkeypatch.setattr("autoblur.verify.output.repair_masks", lambda *args: {})  # repairs fail
    out, report, html = tmp_path / "o.mp4", tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(short_clip.path),
            "-o",
            str(out),
            "--logo",
            str(WINDOWS),
            "--mode",
            "blur",
            "--preset",
            "ultrafast",
            "--report",
            str(report),
            "--html",
            str(html),
            "-q",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == ExitCode.RESIDUAL, result.stderr
    assert "verification: brands still found on frames" in result.stderr
    verification = json.loads(report.read_text())["verification"]
    assert not verification["verified_clean"] and verification["residual"]
    assert "Still found after the second pass" in html.read_text()


def test_batch_exit_code_of_a_residual_item():
    counts = {"removed": 2, "residual": 1}
    assert exit_code({"status_counts": counts}) == ExitCode.RESIDUAL
    assert exit_code({"status_counts": {**counts, "failed": 1}}) == ExitCode.ITEM_FAILED
    assert exit_code({"status_counts": {"removed": 2}}) == ExitCode.OK


def test_each_track_shows_its_least_sure_fill(short_clip, tmp_path):
    out, html = tmp_path / "o.mp4", tmp_path / "r.html"
    config = load_config(None, {"remove": {"mode": "inpaint"}, "encode": {"preset": "ultrafast"}})
    job = Job(
        short_clip.path, out, [BrandCue("windows", "inpaint", (WINDOWS,))], config, thumbnails=True
    )
    report = Pipeline(job).run()
    write_video_html(html, report)
    [track] = report["tracks"]
    worst = track["worst_frame"]
    assert track["first_frame"] <= worst["frame"] <= track["last_frame"]
    assert 0 <= worst["fill_confidence"] < 1
    pair = cv2.imdecode(
        np.frombuffer(base64.b64decode(track["before_after_jpeg_base64"]), np.uint8),
        cv2.IMREAD_COLOR,
    )
    half = (pair.shape[1] - 4) // 2
    before, after = pair[:, :half].astype(float), pair[:, -half:].astype(float)
    assert np.abs(before - after).mean() > 5  # the logo is in one and not in the other
    assert "before | after, frame" in html.read_text()
    assert worst["frame"] in report["verification"]["checked_frames"]


def test_keyframes_the_removal_left_untouched_are_not_checked_again(tmp_path, real_media):
    # The logo enters at frame 14: keyframes 0 and 12 are the input's pictures, on which the
    # first pass found nothing; every keyframe the removal changed is checked.
    clip = make_composite(
        tmp_path, "bikes.mp4", WINDOWS, 40, width_frac=0.3, speed_px=4, start_frame=14
    )
    report = _run(clip, tmp_path / "o.mp4", keyframe_interval=12)
    verification = report["verification"]
    checked = set(verification["checked_frames"])
    assert verification["verified_clean"]
    assert verification["unchanged_keyframes_not_checked"] >= 2
    assert not checked & {0, 12}
    assert {24, 30} <= checked  # keyframes with the logo on (30: a scene cut of bikes.mp4)


def test_search_windows_surround_the_boxes_and_join_when_they_overlap():
    a, b = np.array([100, 100, 140, 120], np.float32), np.array([150, 100, 190, 130], np.float32)
    far = np.array([600, 400, 620, 420], np.float32)
    windows = search_windows([a, b, far], (480, 800))
    assert len(windows) == 2  # a's and b's windows overlap: one window holds both
    for box in (a, b, far):
        assert any(
            w[0] < box[0] and w[1] < box[1] and w[2] > box[2] and w[3] > box[3] for w in windows
        )
    assert search_windows([np.array([50, 50, 700, 400], np.float32)], (480, 800)) is None


def test_each_detector_searches_around_its_own_finds():
    word = np.array([100, 100, 160, 120], np.float32)
    emblem = np.array([500, 300, 560, 360], np.float32)
    both = np.array([300, 50, 340, 80], np.float32)
    boxes = [
        (frozenset({"text"}), word),
        (frozenset({"flat"}), emblem),
        (frozenset({"logo", "text"}), both),
    ]
    sources_of = {
        "logo": ("logo", "flat"),
        "text": ("text",),
        "grounding_dino": ("grounding_dino",),
    }
    windows = detector_windows(boxes, (480, 800), sources_of)

    def holds(name, box):
        return any(
            w[0] <= box[0] and w[1] <= box[1] and w[2] >= box[2] and w[3] >= box[3]
            for w in windows[name]
        )

    assert holds("text", word) and holds("text", both) and not holds("text", emblem)
    assert holds("logo", emblem) and holds("logo", both) and not holds("logo", word)
    assert windows["grounding_dino"] == []  # found nothing here: it does not look


class _Spy:
    def __init__(self, name):
        self.name, self.seen = name, []

    def detect(self, rgb):
        self.seen.append(rgb.shape[:2])
        return Detections.empty()


def test_a_detector_without_windows_on_a_frame_does_not_look_at_it():
    rgb = np.zeros((120, 200, 3), np.uint8)
    logo, text, prompt = _Spy("logo"), _Spy("text"), _Spy("grounding_dino")
    detect_in_windows([logo, text, prompt], rgb, {"logo": [(10, 20, 60, 50)], "text": []})
    assert logo.seen == [(30, 50)] and text.seen == [] and prompt.seen == []
    detect_in_windows([logo, text], rgb, {"text": None})
    assert text.seen == [(120, 200)] and len(logo.seen) == 1
    detect_in_windows([logo, text], rgb, [(0, 0, 20, 20)])  # one list: every detector
    assert logo.seen[-1] == text.seen[-1] == (20, 20)


def test_the_word_detector_does_not_read_around_a_removed_emblem(
    small_logo_clip, tmp_path, monkeypatch
):
    # The brand has a logo and a word; only the logo is on screen. The verification's word
    # reading (the costly part) is not spent around the removed logo.
    captured = {}
    real = run_checks.verify_and_repair

    def spy(*args, **kwargs):
        captured.update(kwargs["windows"])
        return real(*args, **kwargs)

    monkeypatch.setattr(run_checks, "verify_and_repair", spy)
    config = load_config(
        None,
        {"remove": {"mode": "blur"}, "encode": {"preset": "ultrafast"}, "change_keyframes": False},
    )
    cues = [BrandCue("windows", "blur", (WINDOWS,), text=("WINDOWS",))]
    report = Pipeline(Job(small_logo_clip.path, tmp_path / "o.mp4", cues, config)).run()
    assert report["verification"]["verified_clean"]
    assert {0, 12, 24} <= set(captured)
    for frame, by_detector in captured.items():
        assert by_detector["text"] == [], frame
        assert by_detector["logo"], frame


def test_keyframe_windows_find_what_the_whole_frame_finds(tmp_path, real_media):
    clip = make_composite(tmp_path, "bikes.mp4", WINDOWS, 13, width_frac=0.15, speed_px=4)
    detectors = [LogoDetector([BrandCue("windows", "blur", (WINDOWS,))], load_config().detect)]
    around = {12: search_windows([clip.masks[12].xyxy], clip.masks[12].frame_hw)}
    assert around[12] is not None
    whole = verify_output(clip.path, detectors, [12])
    windowed = verify_output(clip.path, detectors, [12], windows=around)
    assert not windowed["verified_clean"]
    [box_whole] = [r["box"] for r in whole["residual"]]
    [box_windowed] = [r["box"] for r in windowed["residual"]]
    assert np.abs(np.array(box_windowed) - np.array(box_whole)).max() < 4
    elsewhere = {12: [(0, 0, 40, 40)]}  # a window away from the logo: nothing to find there
    assert verify_output(clip.path, detectors, [12], windows=elsewhere)["verified_clean"]


def _blur_config(tmp_path, extra: str):
    """Keyframes every 12 frames exactly (no change-triggered ones), plus ``extra`` YAML."""
    config = tmp_path / "c.yaml"
    config.write_text("keyframe_interval: 12\nchange_keyframes: false\n" + extra)
    return config


def _run_blur_cli(clip_path, tmp_path, extra: str):
    """``autoblur run --mode blur`` with the Windows logo; (the result, its verification)."""
    report_path, out = tmp_path / "r.json", tmp_path / "o.mp4"
    config = _blur_config(tmp_path, extra)
    result = CliRunner().invoke(
        main,
        ["run", str(clip_path), "-o", str(out), "--logo", str(WINDOWS), "--mode", "blur",
         "--preset", "ultrafast", "--config", str(config), "--report", str(report_path), "-q"],
        catch_exceptions=False,
    )  # fmt: skip
    return result, json.loads(report_path.read_text())["verification"]


def _run_blur_again(clip_path, tmp_path, extra: str) -> dict:
    """The same run through the library, to another output; its report."""
    config = _blur_config(tmp_path, extra)
    cues = [BrandCue("windows", "blur", (WINDOWS,))]
    return Pipeline(Job(clip_path, tmp_path / "o2.mp4", cues, load_config(str(config)))).run()


def test_a_brand_between_keyframes_fails_the_verification(tmp_path, real_media):
    # The logo is on screen on frames 13-22 only, between keyframes 12 and 24: without the
    # change-triggered keyframes the first pass never sees it. The whole-picture check on
    # sampled frames (6, 16, 26, ... at 0.4 s) does, and the run must not end "verified clean"
    # nor exit 0.
    clip = make_composite(
        tmp_path, "bikes.mp4", WINDOWS, 30, width_frac=0.3, speed_px=2, start_frame=13,
        end_frame=22,
    )  # fmt: skip
    result, verification = _run_blur_cli(clip.path, tmp_path, "verify:\n  sample_seconds: 0.4\n")
    assert result.exit_code == ExitCode.RESIDUAL, result.stderr
    assert "were never removed" in result.stderr
    assert not verification["verified_clean"]
    assert 16 in verification["sampled_frames"]
    assert {r["frame"] for r in verification["missed"]} == {16}
    truth = clip.masks[16].xyxy
    [box] = [r["box"] for r in verification["missed"]]
    assert box_iou(np.array(box), truth)[0, 0] > 0.7
    # Without the sampled check the same run says clean: the check is what catches it.
    report = _run_blur_again(clip.path, tmp_path, "verify:\n  sample_seconds: null\n")
    assert report["verification"]["verified_clean"] and "missed" not in report["verification"]


def test_sampled_frames_fall_between_keyframes_and_around_cuts():
    frames = sample_frames(120, 25.0, [0, 70], 2.0, 6)
    assert frames == [6, 56, 69, 76, 106]


def test_a_logo_the_removal_lost_between_keyframes_fails_the_verification(
    short_clip, tmp_path, monkeypatch
):
    # From frame 15 on the removal loses the logo (its mask shrinks to one corner pixel); the
    # detectors, asked again on the keyframes and the sampled frames, do not look at 15-23. The
    # follow check carries the logo on from its detection on keyframe 12 through the input and
    # finds it on screen in the output on every one of those frames, and removes it there; the
    # run must still exit 4 (the tracking failed there: a person looks).
    refine = MaskRefiner.refine

    def lose_from_15(self, rgb, i, t, mask, *a):
        got = refine(self, rgb, i, t, mask, *a)
        if i < 15:
            return got
        return RegionMask.from_crop(0, 0, np.ones((1, 1), bool), got.frame_hw)

    monkeypatch.setattr(MaskRefiner, "refine", lose_from_15)
    result, verification = _run_blur_cli(short_clip.path, tmp_path, "")
    assert result.exit_code == ExitCode.RESIDUAL, result.stderr
    assert "followed from where it was found was left on screen on frames 15-23" in result.stderr
    assert "(removed by a repair on 15-23)" in result.stderr
    left = verification["followed_left"]
    assert [item["frame"] for item in left] == list(range(15, 24))
    for item in left:
        truth = short_clip.masks[item["frame"]].xyxy
        assert box_iou(np.array(item["box"]), truth)[0, 0] > 0.7
        assert item["repaired"]
    assert _logo_kept(short_clip, tmp_path / "o.mp4", range(15, 24)) < 0.05
    # Without the follow check the same run says clean, and the logo is left: the check is
    # what catches it and removes it.
    report = _run_blur_again(short_clip.path, tmp_path, "verify:\n  follow_frames: 0\n")
    assert report["verification"]["verified_clean"]
    assert _logo_kept(short_clip, tmp_path / "o2.mp4", range(15, 24)) > 0.5


def _logo_kept(clip, output, frames: range) -> float:
    """The share of the logo's true pixels on ``frames`` that ``output`` kept as the input."""
    kept, total = 0, 0
    with VideoReader(clip.path) as before, VideoReader(output) as after:
        pairs = zip(before.frames(only=set(frames)), after.frames(only=set(frames)), strict=True)
        for a, b in pairs:
            truth = clip.masks[a.index].to_dense()
            same = (np.abs(a.rgb.astype(np.int16) - b.rgb) <= 12).all(axis=2)
            kept, total = kept + int(same[truth].sum()), total + int(truth.sum())
    return kept / total
