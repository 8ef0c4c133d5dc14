"""The tests and the console script work from a fresh clone with nothing beside it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, REPO


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def _in_git_checkout() -> bool:
    return shutil.which("git") is not None and _git("-C", str(REPO), "rev-parse").returncode == 0


needs_git = pytest.mark.skipif(not _in_git_checkout(), reason="not a git checkout (or no git)")


def test_no_test_reads_media_outside_the_repository():
    # Paths built from a "shared" folder beside the checkout exist on the team's machines only.
    outside = re.compile(r"""["']shared["']|\.\./shared/data""")
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sorted((REPO / "tests").glob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert offenders == []


@needs_git
def test_every_media_file_is_committed():
    on_disk = {str(p.relative_to(REPO)) for p in DATA.rglob("*") if p.is_file()}
    on_disk = {name for name in on_disk if "__pycache__" not in name}
    tracked = set(_git("-C", str(REPO), "ls-files", str(DATA)).stdout.split())
    assert on_disk - tracked == set()


@needs_git
def test_console_script_works_from_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"  # nothing beside it: no ../shared
    done = _git("clone", "-q", str(REPO), str(clone))
    assert done.returncode == 0, done.stderr
    report = tmp_path / "r.json"
    run = subprocess.run(
        [sys.executable, "-m", "autoblur", "scan", "tests/data/videos/bikes.mp4",
         "--logo", "tests/data/images/box.png", "--report", str(report), "-q"],
        cwd=clone, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr  # bikes.mp4 shows no box
    data = json.loads(report.read_text())
    assert data["input"]["frame_count"] == 250 and data["tracks"] == []
    where = subprocess.run(
        [sys.executable, "-c", "import autoblur; print(autoblur.__file__)"],
        cwd=clone, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(clone))
