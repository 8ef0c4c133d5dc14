"""A verification's repairs applied to the output itself (autoblur/repair.py)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from autoblur.config import load_config
from autoblur.errors import VideoError
from autoblur.io import VideoReader
from autoblur.types import RegionMask
from autoblur.verify.repair import repair_output
from bench.make_io_corpus import write_case
from tests.test_io_timestamps import tiny_frames

SIZE = (256, 144)


def _frames(count):
    """Gradient frames with a checkerboard where the repairs go (a blur changes it plainly)."""
    frames = tiny_frames(count, SIZE)
    board = (np.indices((50, 70)).sum(axis=0) // 5 % 2 * 255).astype(np.uint8)
    for rgb in frames:
        rgb[30:80, 40:110] = board[..., None]
    return frames


def _pictures(path):
    with VideoReader(path) as reader:
        return [(f.time_s, f.rgb.copy()) for f in reader.frames()]


def _packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def _repairs(frames, action="blur"):
    mask = RegionMask(40, 30, np.ones((50, 70), bool), (SIZE[1], SIZE[0]))
    return {i: {action: [mask]} for i in frames}


def test_repaired_frames_change_inside_the_mask_and_the_others_are_copied(tmp_path):
    out = write_case("prores", tmp_path, _frames(12))  # intra-only, timecode, PCM
    before, packets_before = _pictures(out), _packets(out)
    repair_output(out, _repairs([3, 4]), load_config(None, {}))
    after, packets_after = _pictures(out), _packets(out)
    assert [t for t, _ in after] == [t for t, _ in before]
    for i in (3, 4):
        inside = np.abs(after[i][1][30:80, 40:110].astype(int) - before[i][1][30:80, 40:110])
        assert inside.mean() > 40  # the checkerboard is blurred there
    untouched = [i for i in range(12) if i not in (3, 4)]
    assert [packets_after[i] for i in untouched] == [packets_before[i] for i in untouched]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # nothing left beside it


def test_a_long_gop_output_reencodes_only_the_gop_with_a_repair(tmp_path):
    out = write_case("h264", tmp_path, _frames(60))  # closed GOPs of 12 to 25
    with av.open(str(out)) as container:
        keys = [
            i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe
        ]
    packets_before = _packets(out)
    repair_output(out, _repairs([keys[1] + 1], "inpaint"), load_config(None, {}))
    packets_after = _packets(out)
    assert len(packets_after) == 60
    assert packets_after[: keys[1]] == packets_before[: keys[1]]
    assert packets_after[keys[1] : keys[2]] != packets_before[keys[1] : keys[2]]
    assert packets_after[keys[2] + 1 :] == packets_before[keys[2] + 1 :]


def test_a_failed_repair_leaves_the_previous_output(tmp_path, monkeypatch):
    out = write_case("prores", tmp_path, _frames(6))
    data = out.read_bytes()

    def fail(*args, **kwargs):
        raise VideoError(f"{out}: writing failed (disk full)")

    monkeypatch.setattr("autoblur.verify.repair.write_removed", fail)
    with pytest.raises(VideoError):
        repair_output(out, _repairs([2]), load_config(None, {}))
    assert out.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
