"""The same pictures encode to the same bits, whatever memory the encoder is handed.

A compliance record names the output's hash: a second run of the same job must write the same
file. libx264's macroblock tree reads memory it never wrote where a picture's width is not a
multiple of 128 pixels (PAL and NTSC SD, 1440x1080 HD, ...), so the bits followed whatever
the heap held (BENCHMARKS.md, "The same run, the same bits"). ``bench/bench_same_bits.py``
keeps every allocation on the heap, fills it with other bytes before each encode and counts
the encodes that differ: with the output plan's settings, and with the macroblock tree forced
on, which shows that the check sees the difference where the plan's setting prevents it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import VIDEOS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="fills the heap through glibc's malloc"
)


def differing(clip: str, sizes: list[str], runs: int) -> dict[str, tuple[str, int, int]]:
    """Per size: the plan's x264-params, runs differing with them, runs differing with mbtree on."""
    command = [sys.executable, "bench/bench_same_bits.py", "--runs", str(runs)]
    done = subprocess.run(
        [*command, "--clip", str(VIDEOS / clip), *sizes],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.strip("| ").split(" | ") for line in done.stdout.splitlines()]
    return {row[0]: (row[1], int(row[2]), int(row[3])) for row in rows if row[0] in sizes}


def test_pictures_encode_to_the_same_bits_every_time():
    found = differing("bikes.mp4", ["176x144", "720x576", "768x576"], runs=6)
    # Widths that are not whole 128-pixel groups: the plan turns the macroblock tree off,
    # which the check shows to matter.
    for size in ("176x144", "720x576"):
        params, with_plan, with_mbtree = found[size]
        assert "mbtree=0" in params
        assert with_plan == 0, size
        assert with_mbtree > 0, size
    params, with_plan, with_mbtree = found["768x576"]  # 6 groups: x264's default kept
    assert "mbtree" not in params
    assert with_plan == with_mbtree == 0
