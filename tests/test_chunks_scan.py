"""A scan split into pieces finds what one process finds: the same tracks, occurrences and masks.

The clip is two real shots with a cut between them and a real logo composited across both,
so the plan has a border on the cut and borders in the middle of the logo's appearance.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from autoblur.chunks import piece as piece_module
from autoblur.chunks.runner import scan_in_pieces
from autoblur.cli import main
from autoblur.config import load_config
from autoblur.job import Job
from autoblur.review.saved_detections import SavedMasks, masks_path_for
from autoblur.types import BrandCue
from bench.make_io_corpus import clip_frames, write_case
from detectors.reference import read_logo
from tests.conftest import IMAGES, VIDEOS

LOGO = IMAGES / "WindowsLogo.jpg"
SIZE = (640, 272)
FIRST_SHOT = (76, 137)  # one shot of bikes.mp4 (it cuts at 76 and 137)


def _frames(first: int, second: int) -> list[np.ndarray]:
    """``first`` frames of one shot, then ``second`` of another clip; the logo is drawn on
    both from frame 20 to the tenth frame from the end (crossing the cut)."""
    start = FIRST_SHOT[1] - first
    frames = clip_frames(VIDEOS / "bikes.mp4", FIRST_SHOT[1], SIZE)[start:]
    frames += clip_frames(VIDEOS / "bigbuckbunny.mp4", second, SIZE)
    rgb, _ = read_logo(LOGO)
    opaque = np.ones(rgb.shape[:2], np.float32)
    scale = 110 / rgb.shape[1]
    for i in range(20, len(frames) - 10):
        x = 60 + i * 0.8 if i < first else 400 - (i - first) * 0.6
        y = 40 + 10 * np.sin(i / 15)
        place = np.array([[scale, 0, x], [0, scale, y]], np.float32)
        weight = cv2.warpAffine(opaque, place, SIZE)[..., None]
        art = cv2.warpAffine(rgb, place, SIZE).astype(np.float32)
        frames[i] = (weight * art + (1 - weight) * frames[i]).astype(np.uint8)
    return frames


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory) -> Path:
    """Long-GOP H.264 (closed GOPs of about a second, B-frames): 61 + 130 frames."""
    return write_case("h264", tmp_path_factory.mktemp("long_gop"), _frames(61, 130))


@pytest.fixture(scope="module")
def intra_only(tmp_path_factory) -> Path:
    """An intra-only master (FFV1): 45 + 40 frames."""
    return write_case("ffv1", tmp_path_factory.mktemp("intra"), _frames(45, 40))


@pytest.fixture(scope="module")
def intra_one(intra_only, tmp_path_factory) -> tuple[dict, Path]:
    """The intra-only master scanned in one process: its report and the report's path."""
    path = tmp_path_factory.mktemp("intra_one") / "one.json"
    return scan_in_pieces(_job(intra_only, path), jobs=1), path


def _job(clip: Path, report: Path) -> Job:
    cue = BrandCue(name=LOGO.stem, action="inpaint", logos=(LOGO,))  # as --logo names it
    return Job(clip, None, [cue], load_config(), report_path=report)


def _masks(report_path: Path) -> tuple[dict[int, dict], list[int]]:
    saved = SavedMasks(masks_path_for(report_path))
    try:
        frames = {
            frame: {k: (m.x0, m.y0, m.bitmap.tobytes(), m.bitmap.shape) for k, m in masks.items()}
            for frame, masks in saved.frames()
        }
        return frames, saved.shot_starts
    finally:
        saved.close()


def _same_scan(one: dict, one_path: Path, split: dict, split_path: Path) -> None:
    """The two scans' tracks, occurrences and every frame's masks are the same."""

    def tracks(report: dict) -> list:
        return [
            (t["id"], t["brand"], t["first_frame"], t["last_frame"],
             [k["frame"] for k in t["keyframes"]])
            for t in report["tracks"]
        ]  # fmt: skip

    def occurrences(report: dict) -> list:
        keys = ("id", "track_ids", "start_frame", "end_frame", "start_timecode", "xyxy")
        return [[o[k] for k in keys] for o in report["occurrences"]]

    assert tracks(split) == tracks(one)
    assert occurrences(split) == occurrences(one)
    assert split["brands_found"] == one["brands_found"]
    assert split["input"]["frame_count"] == one["input"]["frame_count"]
    assert _masks(split_path) == _masks(one_path)


def test_a_long_gop_file_split_at_a_cut_and_inside_an_appearance_scans_as_one_process(
    long_gop, tmp_path
):
    one_path = tmp_path / "one.json"
    one = scan_in_pieces(_job(long_gop, one_path), jobs=2)  # 8 s: shorter than one piece
    assert "chunks" not in one
    assert len(one["occurrences"]) >= 2 and one["tracks"]
    split_path = tmp_path / "split.json"
    result = CliRunner().invoke(
        main,
        ["scan", str(long_gop), "--logo", str(LOGO), "--report", str(split_path),
         "--chunk-seconds", "2", "--jobs", "2", "-q"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # brands found
    split = json.loads(split_path.read_text())
    pieces = split["chunks"]["pieces"]
    assert split["chunks"]["jobs"] == 2
    # The plan put a border on the cut (frame 61 begins a GOP there) and others inside the
    # logo's second appearance (frames 61-180), where a track crosses them.
    assert [(p["start"], p["starts_at"]) for p in pieces] == [
        (0, "file start"), (61, "cut"), (111, "closed GOP"), (161, "closed GOP")
    ]  # fmt: skip
    _same_scan(one, one_path, split, split_path)
    assert not list(tmp_path.glob(".autoblur-pieces-*"))  # the pieces' files are gone


_SAVE = piece_module.PiecePipeline._save_detections


def _dies_once(self, frame_hw):
    """A piece's end, except that the process of piece 1 dies there the first time."""
    marker = Path(os.environ["AUTOBLUR_TEST_MARKER"])
    if self.piece.index == 1 and not marker.exists():
        marker.touch()
        os._exit(9)
    return _SAVE(self, frame_hw)


class Recorded:
    def __init__(self):
        self.total, self.frames = None, 0

    def start(self, total_frames):
        self.total = total_frames

    def advance(self, frames):
        self.frames += frames

    def note(self, message):
        pass


def test_an_intra_only_master_split_anywhere_with_a_killed_piece_run_again(
    intra_only, intra_one, tmp_path, monkeypatch
):
    one, one_path = intra_one
    split_path = tmp_path / "split.json"
    monkeypatch.setenv("AUTOBLUR_TEST_MARKER", str(tmp_path / "died"))
    monkeypatch.setattr(piece_module.PiecePipeline, "_save_detections", _dies_once)
    progress = Recorded()
    split = scan_in_pieces(_job(intra_only, split_path), jobs=2, progress=progress, seconds=1.0)
    assert (tmp_path / "died").exists()
    # Piece 1 ran again, and the piece beside it if it had not finished (the pool breaks);
    # those waiting were only sent again.
    assert 1 <= split["chunks"]["reruns"] <= 2
    assert progress.total == progress.frames == 85  # each frame once on the bar
    pieces = split["chunks"]["pieces"]
    # Every frame of an intra-only stream may start a piece: about 25 frames each, on the cut
    # at 45 where it is near.
    assert [(p["start"], p["starts_at"]) for p in pieces] == [
        (0, "file start"), (25, "frame"), (45, "cut"), (70, "frame")
    ]  # fmt: skip
    _same_scan(one, one_path, split, split_path)


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="needs the cluster extra (Ray): pip install -e '.[test,cluster]'",
)
def test_pieces_on_ray_scan_as_one_process(intra_only, intra_one, tmp_path):
    one, one_path = intra_one
    split_path = tmp_path / "ray.json"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local instance
    done = subprocess.run(
        [sys.executable, "-m", "autoblur", "scan", str(intra_only), "--logo", str(LOGO),
         "--report", str(split_path), "--chunk-seconds", "1", "--executor", "ray", "-q"],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]  # brands found
    split = json.loads(split_path.read_text())
    assert split["chunks"]["executor"] == "ray" and len(split["chunks"]["pieces"]) == 4
    _same_scan(one, one_path, split, split_path)
