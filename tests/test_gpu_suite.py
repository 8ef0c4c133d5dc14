"""The GPU suite's runner: limits, budget and table (its steps run in CI as ``--smoke``)."""

from __future__ import annotations

from bench import gpu_suite


def test_a_step_past_its_limit_is_recorded_and_the_budget_stops_the_rest(tmp_path, monkeypatch):
    # Starting Python and importing torch takes longer than one second.
    monkeypatch.setattr(gpu_suite, "LIMITS", {"encode": (1, 1), "sam": (1, 1)})
    rows, failures = gpu_suite.run_suite(["encode", "sam"], True, "cpu", tmp_path, budget=5.5)
    assert failures == 2
    assert [(r["step"], r["note"]) for r in rows] == [
        ("encode", "timed out after 1 s"),
        ("sam", "not run: the suite's 6 s budget is spent"),
    ]


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
