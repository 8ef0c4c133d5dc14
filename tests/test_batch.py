"""Batch jobs: folders and manifests, summaries, resuming, failures, HTML, Ray."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoblur.cli import main
from tests.cdp import HEADLESS_FLAGS, chromium
from tests.conftest import REPO, VIDEOS, head_of, write_tiny_video

RULES = REPO / "brand_lists" / "kr.yaml"


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stderr


def make_inputs(folder: Path, branded: Path) -> Path:
    """A batch folder: a branded clip, a plain one in a subfolder, a broken one, a text file."""
    (folder / "sub").mkdir(parents=True)
    shutil.copy(branded, folder / "branded.mp4")
    write_tiny_video(folder / "sub" / "plain.mp4", frames=8)
    (folder / "broken.mp4").write_text("not a video\n" * 20)
    (folder / "notes.txt").write_text("ignored")
    return folder


@pytest.fixture
def inputs(tmp_path: Path, real_media: Path, first_interval_sample: Path) -> Path:
    return make_inputs(tmp_path / "in", first_interval_sample)


@pytest.fixture(scope="module")
def folder_batch(tmp_path_factory: pytest.TempPathFactory, first_interval_sample: Path):
    """One folder batch with two workers and the HTML report, read by several tests (code,
    stderr, input folder, output folder); none of them writes to either folder."""
    root = tmp_path_factory.mktemp("folder_batch")
    inputs, out = make_inputs(root / "in", first_interval_sample), root / "out"
    args = ("batch", inputs, "--rules", RULES, "-o", out, "--workers", "2", "--html", "-q")
    code, err = invoke(*args)
    return code, err, inputs, out


def batch_command(inputs: Path, out: Path, *extra: str) -> list[str]:
    """``autoblur batch`` as a separate process, as a nightly job would start it."""
    return [
        sys.executable,
        "-m",
        "autoblur",
        "batch",
        str(inputs),
        "--rules",
        str(RULES),
        "-o",
        str(out),
        "-q",
        *extra,
    ]


def summary_of(out: Path) -> dict:
    return json.loads((out / "batch_summary.json").read_text())


def test_folder_batch_statuses_outputs_and_summary(folder_batch):
    code, err, inputs, out = folder_batch
    assert code == 3, err  # one item failed
    summary = summary_of(out)
    status = {i["key"]: i["status"] for i in summary["items"]}
    assert status == {"branded.mp4": "removed", "broken.mp4": "failed", "sub/plain.mp4": "clean"}
    failed = next(i for i in summary["items"] if i["key"] == "broken.mp4")
    assert "cannot be read as a video" in failed["reason"]
    assert (out / "branded_clean.mp4").exists() and (out / "sub" / "plain_clean.mp4").exists()
    item = json.loads((out / "branded_clean.report.json").read_text())
    assert summary["brand_counts"] == item["brands_found"] and item["brands_found"]
    rows = list(csv.DictReader((out / "batch_summary.csv").read_text().splitlines()))
    assert [r["status"] for r in rows] == ["removed", "failed", "clean"]
    assert not list(out.rglob(".*partial*"))
    assert sorted(p.name for p in inputs.rglob("*")) == sorted(
        ["branded.mp4", "broken.mp4", "notes.txt", "sub", "plain.mp4"]
    )  # inputs untouched


def test_rerun_skips_finished_items_and_retries_failed_ones(inputs, tmp_path):
    out = tmp_path / "out"
    invoke("batch", inputs, "--rules", RULES, "-o", out, "--scan-only", "-q")
    first = {i["key"]: i for i in summary_of(out)["items"]}
    code, _ = invoke("batch", inputs, "--rules", RULES, "-o", out, "--scan-only", "-q")
    second = {i["key"]: i for i in summary_of(out)["items"]}
    assert code == 3
    assert second["branded.mp4"]["skipped"] and second["sub/plain.mp4"]["skipped"]
    assert not second["broken.mp4"]["skipped"]  # failed items are tried again
    assert second["branded.mp4"]["brands"] == first["branded.mp4"]["brands"]
    # Changed input, or changed rules: the item runs again.
    write_tiny_video(inputs / "sub" / "plain.mp4", frames=9)
    (inputs / "broken.mp4").unlink()
    code, _ = invoke(
        "batch", inputs, "--rules", REPO / "brand_lists" / "de.yaml", "-o", out, "--scan-only", "-q"
    )
    third = {i["key"]: i for i in summary_of(out)["items"]}
    assert code == 1  # brands found in a scan
    assert not third["branded.mp4"]["skipped"] and not third["sub/plain.mp4"]["skipped"]


def test_manifest_rows_rules_countries_and_escapes(tmp_path, real_media, first_interval_sample):
    shutil.copy(first_interval_sample, tmp_path / "one.mp4")
    plain = head_of(VIDEOS / "carphone_pristine.mp4", tmp_path / "carphone.mp4", 24)
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(
        "\n".join(
            json.dumps(row)
            for row in [
                {"path": "one.mp4", "country": "de", "output": "de/one.mp4"},
                {"path": str(plain), "rules": str(RULES)},
                {"path": "one.mp4", "country": "kr", "output": "../escape.mp4"},
            ]
        )
    )
    out = tmp_path / "out"
    code, err = invoke("batch", manifest, "-o", out, "-q")
    assert code == 3, err
    items = summary_of(out)["items"]
    assert [i["status"] for i in items[:2]] == ["removed", "clean"]
    assert (out / "de" / "one.mp4").exists()
    assert items[2]["status"] == "failed" and "leave the output folder" in items[2]["reason"]
    assert not (tmp_path / "escape.mp4").exists()
    de_report = json.loads(Path(items[0]["report"]).read_text())
    assert de_report["rules"]["country"] == "DE"


def test_bad_batch_sources(tmp_path):
    code, err = invoke("batch", tmp_path / "missing", "--rules", RULES, "-o", tmp_path / "o")
    assert code == 2 and "batch source not found" in err
    (tmp_path / "empty").mkdir()
    code, err = invoke("batch", tmp_path / "empty", "--rules", RULES, "-o", tmp_path / "o")
    assert code == 2 and "no videos found" in err


def test_interrupted_batch_keeps_finished_work_and_leaves_no_partials(inputs, tmp_path):
    out = tmp_path / "out"
    shutil.copy(inputs / "branded.mp4", inputs / "more0.mp4")  # the one interrupted
    for i in (1, 2):  # still to do when interrupted
        write_tiny_video(inputs / f"more{i}.mp4", frames=8)
    command = batch_command(inputs, out)
    # Ctrl-C as a terminal sends it, whatever this test's parent did with SIGINT (a shell's
    # background job starts with it ignored, and a child inherits that).
    process = subprocess.Popen(
        command,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    deadline = time.time() + 120
    writing = []
    while time.time() < deadline and process.poll() is None:
        # Wait until the first item is finished and recorded, and the long one is being
        # written (its temporary output is there): the interruption lands mid-item. (Any
        # partial would do on an idle machine; on a loaded one a tiny item's partial can be
        # seen just before the batch ends, and the interruption comes too late.)
        state = out / "batch_state.json"
        if state.exists() and json.loads(state.read_text())["items"]:
            writing = list(out.rglob(".more0*partial*"))
            if writing:
                break
        time.sleep(0.1)
    try:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # it did not stop: no stray batch left
            process.wait()
    assert writing, "the batch was not interrupted while an item was being written"
    assert code == 130
    recorded = json.loads((out / "batch_state.json").read_text())["items"]
    assert recorded and all(Path(r["output"]).exists() for r in recorded.values() if r["output"])
    assert not list(out.rglob(".*partial*"))
    subprocess.run(command, check=False, timeout=600)
    summary = summary_of(out)
    finished = {key for key, r in recorded.items() if r["status"] != "failed"}
    assert finished and {i["key"] for i in summary["items"] if i["skipped"]} >= finished
    assert len(summary["items"]) == 6


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, list[str]] = {}
        self.anchors: set[str] = set()
        self.links: set[str] = set()
        self.images = 0
        self._current: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.anchors.add(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.add(attrs["href"][1:])
        if tag == "img" and attrs.get("src", "").startswith("data:image/jpeg;base64,"):
            self.images += 1
        self._current = attrs.get("class")

    def handle_data(self, data):
        if self._current and data.strip():
            self.classes.setdefault(self._current, []).append(data.strip())
        self._current = None


def test_html_reports_match_the_json(folder_batch):
    *_, out = folder_batch
    page = (out / "batch_report.html").read_text()
    parsed = _Collector()
    parsed.feed(page)
    summary = summary_of(out)
    brand_cells = parsed.classes["batch-brand-count"]
    assert sorted(int(v) for v in brand_cells) == sorted(summary["brand_counts"].values())
    assert parsed.links <= parsed.anchors and "summary" in parsed.links  # links both ways
    report = json.loads((out / "branded_clean.report.json").read_text())
    # One embedded thumbnail per occurrence, and a before/after picture of each track's worst
    # frame.
    thumbnails = sum("thumbnail_jpeg_base64" in o for o in report["occurrences"])
    worst = sum("before_after_jpeg_base64" in t for t in report["tracks"])
    assert thumbnails == len(report["occurrences"]) and worst == len(report["tracks"])
    assert parsed.images == thumbnails + worst
    assert not any(
        src in page for src in ('src="http', "src='http", 'href="http')
    )  # self-contained


@pytest.mark.skipif(chromium() is None, reason="no chromium on this machine (.ci/run installs it)")
def test_html_renders_in_a_headless_browser(folder_batch, tmp_path):
    *_, out = folder_batch
    flags = [*HEADLESS_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    url = (out / "batch_report.html").as_uri()
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    parsed = _Collector()
    parsed.feed(dom)
    summary = summary_of(out)
    rendered = {
        c: parsed.classes.get(c, [])
        for c in ("status status-removed", "status status-clean", "status status-failed")
    }
    assert {k.split("-")[-1]: len(v) for k, v in rendered.items() if v} == summary["status_counts"]
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium(), *flags, f"--screenshot={shot}", "--window-size=1000,1400", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


@pytest.mark.skipif(
    importlib.util.find_spec("ray") is None,
    reason="needs the cluster extra (Ray): pip install -e '.[test,cluster]'",
)
def test_ray_executor_gives_the_same_results(inputs, tmp_path):
    (inputs / "broken.mp4").unlink()
    local, remote = tmp_path / "local", tmp_path / "ray"
    invoke("batch", inputs, "--rules", RULES, "-o", local, "--scan-only", "-q")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        batch_command(inputs, remote, "--scan-only", "--executor", "ray"),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    by_key = lambda s: {i["key"]: (i["status"], i["brands"]) for i in s["items"]}  # noqa: E731
    assert by_key(summary_of(remote)) == by_key(summary_of(local))
    assert (remote / "batch_state.json").exists()
