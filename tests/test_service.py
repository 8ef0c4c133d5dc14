"""``autoblur serve`` over HTTP: a real uvicorn on 127.0.0.1 with real clips."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

pytest.importorskip(
    "fastapi", reason="needs the service extra: pip install -e '.[test,service]' -c constraints.txt"
)

from autoblur.cli import main  # noqa: E402
from autoblur.service.queue import JobQueue  # noqa: E402
from tests.service_server import (  # noqa: E402
    SAMPLE,
    TOKEN,
    Server,
    frame_count,
    logo_rules,
    trim,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root folder: a 24-frame clip, the 132-frame sample and a logo-only rule file."""
    root = tmp_path_factory.mktemp("media")
    trim(SAMPLE, root / "short.mp4", 24)
    shutil.copy(SAMPLE, root / "long.mp4")
    logo_rules(root)
    return root


@pytest.fixture
def server(tmp_path: Path, media: Path):
    server = Server(tmp_path / "data", [media]).wait_ready()
    yield server
    server.stop()


def leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob(".*partial*")]


def test_submit_poll_and_fetch_the_report(server, media):
    scan = server.submit(input=media / "short.mp4", rules=media / "rules.yaml")
    out = media / "short_clean.mp4"
    remove = server.submit(input=media / "short.mp4", rules=media / "rules.yaml", mode="remove",
                           output=out)  # fmt: skip
    done = server.wait(scan)
    assert done["status"] == "done" and done["progress"] == 1.0 and done["error"] is None
    report = server.client.get(f"/api/jobs/{scan}/report").json()
    assert report["mode"] == "scan" and report["input"]["frame_count"] == 24
    assert report["brands_found"] == {"OpenCV": len(report["tracks"])} and report["tracks"]
    assert report == json.loads(Path(done["report"]).read_text())
    assert server.wait(remove)["status"] == "done"
    assert frame_count(out) == 24 and server.job(remove)["output"] == str(out)
    listed = server.client.get("/api/jobs", params={"status": "done"}).json()
    assert {job["id"] for job in listed} == {scan, remove}
    assert server.client.get("/api/jobs", params={"status": "queued"}).json() == []
    assert server.client.get("/api/jobs", params={"status": "nonsense"}).status_code == 422
    assert server.client.get("/api/jobs/nope").status_code == 404
    assert "/api/jobs" in server.client.get("/openapi.json").json()["paths"]
    with httpx.Client(base_url=server.url, follow_redirects=True) as browser:
        assert scan in browser.get(f"/?token={TOKEN}").text  # the job list, logged in
        review = browser.get(f"/review/{scan}")
        assert review.status_code == 200 and f"Review of job {scan}" in review.text
        assert browser.get(f"/review/{scan}/crop/nothing/before.jpg").status_code == 404
    out.unlink()


def test_token_is_required(server, media):
    assert httpx.get(server.url + "/healthz").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        for path in ("/api/jobs", "/api/jobs/x", "/api/jobs/x/report", "/openapi.json"):
            response = httpx.get(server.url + path, headers=headers)
            assert response.status_code == 401, (path, headers)
        response = httpx.post(server.url + "/api/jobs", headers=headers, json={"input": "x"})
        assert response.status_code == 401
    assert server.client.get("/api/jobs").status_code == 200
    page = httpx.get(server.url + "/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    login = httpx.get(server.url + f"/?token={TOKEN}", follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/"
    cookie = login.cookies["autoblur_token"]
    assert httpx.get(server.url + "/", cookies={"autoblur_token": cookie}).status_code == 200
    form = httpx.post(server.url + "/login", data={"token": "wrong", "next": "/"})
    assert form.status_code == 401


def test_serve_refuses_to_start_without_a_token(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOBLUR_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "AUTOBLUR_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_paths_outside_the_roots_are_refused(server, media, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(media / "short.mp4", outside / "secret.mp4")
    link = media / "link.mp4"
    link.symlink_to(outside / "secret.mp4")
    rules = media / "rules.yaml"
    try:
        cases = [
            {"input": outside / "secret.mp4", "rules": rules},
            {"input": link, "rules": rules},
            {"input": media / ".." / outside.name / "secret.mp4", "rules": rules},
            {"input": media / "short.mp4", "rules": rules, "mode": "remove",
             "output": outside / "x.mp4"},
        ]  # fmt: skip
        for body in cases:
            response = server.client.post("/api/jobs", json={k: str(v) for k, v in body.items()})
            assert response.status_code == 403, body
            assert "outside the allowed --root folders" in response.json()["detail"]
    finally:
        link.unlink()
    assert server.client.get("/api/jobs").json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rules": "rules.yaml"}, "input"),
        ({"input": "short.mp4", "rules": "missing.yaml"}, "rules"),
        ({"input": "short.mp4", "country": "zz"}, "country"),
        ({"input": "short.mp4", "rules": "rules.yaml", "mode": "erase"}, "mode"),
        ({"input": "short.mp4", "rules": "rules.yaml", "colour": "red"}, "colour"),
    ],
)
def test_bad_fields_get_422_naming_the_field(server, media, body, field):
    body = {k: str(media / v) if k in ("input", "rules") else v for k, v in body.items()}
    response = server.client.post("/api/jobs", json=body)
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert server.client.post("/api/jobs", content=b"{not json").status_code == 422


def test_cancel_stops_a_running_job_and_leaves_no_output(server, media):
    out = media / "cancelled.mp4"
    running = server.submit(input=media / "long.mp4", rules=media / "rules.yaml", mode="remove",
                            output=out)  # fmt: skip
    queued = server.submit(input=media / "long.mp4", rules=media / "rules.yaml")
    server.wait(running, until=("running",), progress=0.1)
    assert server.client.delete(f"/api/jobs/{queued}").json()["status"] == "cancelled"
    assert server.client.delete(f"/api/jobs/{running}").json()["status"] == "cancelled"
    # the worker is free again once the cancelled job has stopped
    after = server.submit(input=media / "short.mp4", rules=media / "rules.yaml")
    assert server.wait(after, timeout=60)["status"] == "done"
    assert server.job(running)["status"] == server.job(queued)["status"] == "cancelled"
    assert not out.exists() and not leftovers(media)
    assert not Path(server.job(running)["report"]).exists()
    assert server.client.get(f"/api/jobs/{running}/report").status_code == 409
    assert server.client.delete(f"/api/jobs/{after}").status_code == 409


def test_kill9_mid_job_then_restart_finishes_it(tmp_path, media):
    data = tmp_path / "data"
    out = media / "survivor.mp4"
    first = Server(data, [media]).wait_ready()
    try:
        job = first.submit(input=media / "long.mp4", rules=media / "rules.yaml", mode="remove",
                           output=out)  # fmt: skip
        queued = first.submit(input=media / "short.mp4", rules=media / "rules.yaml")
        first.wait(job, until=("running",), progress=0.2)
        workers = first.worker_pids()
        assert workers
        first.kill9()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers), (
            "workers outlived the server"
        )
    finally:
        first.stop()  # nothing left running if an assertion failed before the kill
    assert not out.exists()
    second = Server(data, [media]).wait_ready()
    try:
        refused = Server(data, [media])  # a third on the same data folder refuses to start
        assert refused.process.wait(60) == 2
        assert "another autoblur serve" in refused.stop()
        finished = second.wait(job)
        assert finished["status"] == "done" and finished["attempts"] == 2
        assert second.wait(queued)["status"] == "done"
    finally:
        second.stop()
    assert frame_count(out) == 132 and not leftovers(media, data)
    out.unlink()


def test_watch_folder_takes_a_new_file_exactly_once(tmp_path, media):
    watched = tmp_path / "incoming"
    watched.mkdir()
    rules = media / "rules.yaml"
    data = tmp_path / "data"
    args = ("--watch", f"{watched}:{rules}:remove")
    server = Server(data, [media], *args).wait_ready()
    try:
        with (watched / "news.mp4").open("wb") as target:  # arrives slowly, as a copy does
            payload = (media / "short.mp4").read_bytes()
            half = len(payload) // 2
            target.write(payload[:half])
            target.flush()
            time.sleep(3)
            target.write(payload[half:])
        (watched / "notes.txt").write_text("not a video")
        deadline = time.monotonic() + 60
        while not server.client.get("/api/jobs").json() and time.monotonic() < deadline:
            time.sleep(0.2)
        (job,) = server.client.get("/api/jobs").json()
        assert job["source"] == "watch" and server.wait(job["id"])["status"] == "done"
        results = watched / "autoblur-results"
        assert frame_count(results / "news_clean.mp4") == 24
        report = json.loads((results / "news.mp4.report.json").read_text())
        assert report["input"]["frame_count"] == 24 and report["brands_found"]
        time.sleep(5)  # more listings: still one job
        assert len(server.client.get("/api/jobs").json()) == 1
    finally:
        server.stop()
    restarted = Server(data, [media], *args).wait_ready()
    try:
        time.sleep(6)
        assert [j["id"] for j in restarted.client.get("/api/jobs").json()] == [job["id"]]
    finally:
        restarted.stop()
    assert not (watched / "notes.txt.report.json").exists()
    assert set(os.listdir(watched)) == {"autoblur-results", "news.mp4", "notes.txt"}


def test_a_clean_stop_puts_the_running_job_back_in_the_queue(tmp_path, media):
    server = Server(tmp_path / "data", [media]).wait_ready()
    out = media / "stopped.mp4"
    try:
        job = server.submit(input=media / "long.mp4", rules=media / "rules.yaml", mode="remove",
                            output=out)  # fmt: skip
        server.wait(job, until=("running",), progress=0.1)
    finally:
        server.stop()  # SIGTERM, as systemd stops a service
    row = JobQueue(tmp_path / "data" / "queue.sqlite3").get(job)
    assert row["status"] == "queued" and row["attempts"] == 0  # this attempt does not count
    assert not out.exists() and not leftovers(media)
