"""The SQLite job queue: one claim per job, leases, attempts, cancel, watched files."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from autoblur.service.queue import JobQueue


def spec(name: str) -> dict:
    return {"mode": "scan", "input": name, "report": f"{name}.json"}


def test_each_job_is_claimed_once_by_concurrent_workers(tmp_path):
    path = tmp_path / "q.sqlite3"
    submitted = {JobQueue(path).submit(spec(f"v{i}")) for i in range(40)}
    claimed: list[str] = []

    def worker(name: str) -> None:
        queue = JobQueue(path)
        while (job := queue.claim(name)) is not None:
            claimed.append(job["id"])
            assert queue.finish(job["id"], name)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(submitted)
    assert {j["status"] for j in JobQueue(path).list()} == {"done"}


def test_an_expired_lease_is_claimed_again_until_attempts_run_out(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3", lease_s=0.05, max_attempts=2)
    job_id = queue.submit(spec("a"))
    assert queue.claim("w1")["attempts"] == 1
    assert queue.claim("w2") is None  # leased
    time.sleep(0.1)
    assert queue.claim("w2")["attempts"] == 2
    assert not queue.heartbeat(job_id, "w1")  # w1 lost it
    time.sleep(0.1)
    assert queue.claim("w3") is None
    failed = queue.get(job_id)
    assert failed["status"] == "failed" and "2 attempts" in failed["error"]


def test_release_cancel_and_requeue(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3")
    first, second = queue.submit(spec("a")), queue.submit(spec("b"))
    assert queue.claim("w")["id"] == first
    queue.release(first, "w")
    assert queue.get(first)["status"] == "queued" and queue.get(first)["attempts"] == 0
    assert queue.claim("w")["id"] == first
    assert queue.cancel(second) == "cancelled" and queue.cancel(first) == "cancelled"
    assert not queue.heartbeat(first, "w") and not queue.finish(first, "w")
    assert queue.claim("w") is None
    third = queue.submit(spec("c"))
    queue.claim("w")
    assert queue.requeue_running() == 1 and queue.get(third)["status"] == "queued"


def test_a_watched_file_version_becomes_one_job(tmp_path):
    path = tmp_path / "q.sqlite3"
    video = Path("/in/a.mp4")
    first = JobQueue(path).submit_watched(video, 100, 5, spec("a"))
    assert first is not None
    assert JobQueue(path).submit_watched(video, 100, 5, spec("a")) is None  # after a restart
    assert JobQueue(path).submit_watched(video, 200, 6, spec("a")) not in (None, first)
    assert [j["source"] for j in JobQueue(path).list()] == ["watch", "watch"]
