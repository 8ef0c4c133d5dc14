"""The review page in a real headless Chromium: keep one occurrence, Render, check the video."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "fastapi", reason="needs the service extra: pip install -e '.[test,service]' -c constraints.txt"
)

from autoblur.io import VideoReader  # noqa: E402
from autoblur.synth import Composite, composite_logo, moving_placement  # noqa: E402
from detectors.logo import read_logo  # noqa: E402
from tests.cdp import Browser, chromium  # noqa: E402
from tests.conftest import VIDEOS  # noqa: E402
from tests.service_server import LOGO, TOKEN, Server, logo_rules  # noqa: E402

pytestmark = [
    pytest.mark.skipif(chromium() is None, reason="no chromium here (.ci/run installs it)"),
    pytest.mark.skipif(
        importlib.util.find_spec("autoblur.render") is None,
        reason="autoblur.render (the render issue, 18) is not in this tree yet",
    ),
]


def two_appearances(folder: Path) -> Composite:
    """bikes.mp4, 40 frames: the OpenCV logo on frames 0-13 and again on frames 26-39."""
    logo_hw = read_logo(LOGO)[0].shape[:2]
    first = moving_placement(logo_hw, start_frame=0, end_frame=13, width_frac=0.25)
    second = moving_placement(logo_hw, start_frame=26, end_frame=39, width_frac=0.25)
    return composite_logo(
        VIDEOS / "bikes.mp4",
        LOGO,
        folder / "two.mp4",
        lambda index, hw: first(index, hw) if index <= 13 else second(index, hw),
        max_frames=40,
    )


def logo_difference(composite: Composite, output: Path) -> list[float | None]:
    """Per frame, the mean absolute difference of output and input inside the true logo mask."""
    differences: list[float | None] = []
    with VideoReader(composite.path) as before, VideoReader(output) as after:
        for a, b, mask in zip(before.frames(), after.frames(), composite.masks, strict=True):
            if mask is None:
                differences.append(None)
                continue
            dense = np.zeros(a.rgb.shape[:2], bool)
            mask.paste_into(dense)
            delta = np.abs(a.rgb.astype(np.int16) - b.rgb.astype(np.int16))[dense]
            differences.append(float(delta.mean()))
    return differences


def test_review_keep_one_occurrence_and_render(tmp_path, real_media):
    root = tmp_path / "media"
    root.mkdir()
    composite = two_appearances(root)
    server = Server(tmp_path / "data", [root]).wait_ready()
    browser = Browser(tmp_path / "profile")
    try:
        scan = server.submit(input=composite.path, rules=logo_rules(root))
        assert server.wait(scan)["status"] == "done"
        occurrences = server.client.get(f"/api/jobs/{scan}/report").json()["occurrences"]
        first = min(occurrences, key=lambda o: o["start_frame"])
        assert first["start_frame"] <= 13 < max(o["start_frame"] for o in occurrences)

        browser.goto(f"{server.url}/review/{scan}?token={TOKEN}")
        assert browser.evaluate("location.pathname") == f"/review/{scan}"  # logged in
        shown = browser.evaluate(
            "[...document.querySelectorAll('select.decision')].map(s => s.dataset.occurrence)"
        )
        assert sorted(shown) == sorted(o["id"] for o in occurrences)
        assert browser.evaluate("document.querySelectorAll('.timeline a').length") == len(shown)
        assert first["start_timecode"] in browser.evaluate("document.body.innerText")
        browser.wait_for("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        browser.evaluate(
            f"document.querySelector('select[data-occurrence=\"{first['id']}\"]').value = 'keep'"
        )
        browser.evaluate("document.getElementById('render').click()")
        state = browser.wait_for(
            "['done', 'failed', 'refused'].includes(document.getElementById('render-status')"
            ".dataset.status) && document.getElementById('render-status').dataset.status",
            timeout=120,
        )
        status_text = browser.evaluate("document.getElementById('render-status').textContent")
        assert state == "done", status_text
        render = server.job(
            browser.evaluate("document.getElementById('render-status').dataset.job")
        )
        assert render["parent"] == scan and render["source"] == "review"

        differences = logo_difference(composite, Path(render["output"]))
        kept = [d for d in differences[:14] if d is not None]
        removed = [d for d in differences[30:] if d is not None]
        assert max(kept) < 4, kept  # kept: only codec noise
        assert min(removed) > 15, removed  # removed: the logo's pixels changed

        browser.goto(f"{server.url}/review/{scan}")
        assert browser.evaluate("document.querySelectorAll('img[alt=after]').length") == len(shown)
        selected = f"document.querySelector('select[data-occurrence=\"{first['id']}\"]').value"
        assert browser.evaluate(selected) == "keep"  # the page shows the last render's choices
        browser.wait_for("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    finally:
        browser.close()
        server.stop()
