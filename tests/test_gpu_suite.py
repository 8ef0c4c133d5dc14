"""The GPU suite's runner: limits, budget and table (its steps run in CI as ``--smoke``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import pytest

from bench import gpu_suite
from tests.conftest import REPO


def test_a_step_past_its_limit_is_recorded_and_the_budget_stops_the_rest(tmp_path, monkeypatch):
    # The suite's limit and budget need no torch: each step's process is started with
    # sys.executable, here a stand-in that records its command line and then hangs (a real step
    # imports torch, which the README's install does not have).
    started = tmp_path / "started.txt"
    hang = tmp_path / "hanging_step"
    hang.write_text(f'#!/bin/sh\necho "$@" >> "{started}"\nexec sleep 60\n')
    hang.chmod(0o755)
    monkeypatch.setattr(gpu_suite.sys, "executable", str(hang))
    monkeypatch.setattr(gpu_suite, "LIMITS", {"encode": (1, 1), "sam": (1, 1)})
    out = tmp_path / "out"
    out.mkdir()
    began = time.monotonic()
    rows, failures = gpu_suite.run_suite(["encode", "sam"], True, "cpu", out, budget=5.5)
    assert time.monotonic() - began < 30  # the hanging step was killed at its limit
    assert failures == 2
    assert [(r["step"], r["note"]) for r in rows] == [
        ("encode", "timed out after 1 s"),
        ("sam", "not run: the suite's 6 s budget is spent"),
    ]
    started_steps = started.read_text().splitlines() if started.exists() else []
    assert all(" --step encode " in f" {s} " for s in started_steps)  # "sam" was never started


def test_table_shows_missing_values_and_memory():
    rows = [
        {"step": "deaot", "case": "480p, 1 object(s)", "value": 41.234, "unit": "fps",
         "peak_gpu_mib": 1536.4, "note": "random"},
        {"step": "encode", "case": "h264_nvenc", "value": None, "unit": "fps",
         "peak_gpu_mib": None, "note": "unavailable"},
    ]  # fmt: skip
    assert gpu_suite.table(rows).splitlines()[2:] == [
        "| deaot | 480p, 1 object(s) | 41.23 fps | 1536 | random |",
        "| encode | h264_nvenc | - | - | unavailable |",
    ]


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="needs the models extra (torch): pip install -e '.[test,models]'",
)
def test_the_steps_import_without_the_ocr_wheel():
    # The GPU machine has no rapidocr (its wheel stays behind): nothing the suite imports needs it.
    code = (
        "import importlib.abc, sys\n"
        "class NoOcr(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('rapidocr_onnxruntime', 'onnxruntime'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoOcr())\n"
        "import autoblur.pipeline, bench.gpu_steps, detectors\n"
        "print(detectors.available_detectors())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "'logo'" in done.stdout and "'text'" not in done.stdout
