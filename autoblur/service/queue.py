"""The persistent job queue: one SQLite database (WAL) in the service's data folder.

Every process (the server, each worker) opens its own :class:`JobQueue`. A worker claims a
job in one ``BEGIN IMMEDIATE`` transaction and holds it by a lease that its heartbeat
renews; a job whose lease ran out (its worker died) is claimed again, up to
``max_attempts`` times. Cancelling is a status change that the running worker sees at its
next heartbeat.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    eta_s REAL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    worker TEXT,
    parent TEXT,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created_at);
CREATE TABLE IF NOT EXISTS watched (
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    job_id TEXT NOT NULL,
    PRIMARY KEY (path, size, mtime_ns)
);
"""


def new_job_id() -> str:
    """A fresh job id: 12 hex digits."""
    return uuid.uuid4().hex[:12]


def _row(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    job["spec"] = json.loads(job["spec"])
    return job


class JobQueue:
    """The jobs table of ``DATA_DIR/queue.sqlite3``.

    Args:
        path: the database file (created with its tables when missing).
        lease_s: how long a claim lasts without a heartbeat.
        max_attempts: claims of one job before it is failed (a job that kills its worker).
    """

    def __init__(self, path: Path, lease_s: float = 30.0, max_attempts: int = 3) -> None:
        self.path = path
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self._db = sqlite3.connect(
            path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()  # the server's request threads share one connection
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _update(self, sql: str, args: tuple | list = ()) -> int:
        """Run one writing statement; the number of rows it changed."""
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def submit(
        self,
        spec: dict[str, Any],
        source: str = "api",
        parent: str | None = None,
        job_id: str | None = None,
    ) -> str:
        """Queue a job and return its id.

        Args:
            spec: what to run (JSON-ready, with its ``mode``; see :mod:`autoblur.service.tasks`).
            source: who asked: ``api``, ``watch`` or ``review``.
            parent: the scan job a render was made from, if any.
            job_id: an id chosen beforehand (from :func:`new_job_id`), if any.
        """
        job_id = job_id or new_job_id()
        self._update(
            "INSERT INTO jobs (id, mode, spec, status, source, parent, created_at) "
            "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
            (job_id, spec["mode"], json.dumps(spec), source, parent, time.time()),
        )
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's row (``spec`` decoded), or None."""
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _row(rows[0]) if rows else None

    def list(self, status: str | None = None, parent: str | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first, optionally of one status or made from one scan job."""
        query, args = "SELECT * FROM jobs WHERE 1=1", []
        if status is not None:
            query, args = query + " AND status = ?", [*args, status]
        if parent is not None:
            query, args = query + " AND parent = ?", [*args, parent]
        rows = self._query(query + " ORDER BY created_at DESC", args)
        return [_row(row) for row in rows]

    def claim(self, worker: str) -> dict[str, Any] | None:
        """Take the oldest queued job, or one whose worker's lease ran out; None if none.

        A job claimed ``max_attempts`` times already is failed instead of run again.
        """
        now = time.time()
        with self._transaction() as db:
            while True:
                row = db.execute(
                    "SELECT id, attempts FROM jobs WHERE status = 'queued' "
                    "OR (status = 'running' AND lease_until < ?) ORDER BY created_at LIMIT 1",
                    (now,),
                ).fetchone()
                if row is None:
                    return None
                if row["attempts"] < self.max_attempts:
                    break
                db.execute(
                    "UPDATE jobs SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                    (
                        now,
                        f"gave up after {row['attempts']} attempts (a worker died each time)",
                        row["id"],
                    ),
                )
            db.execute(
                "UPDATE jobs SET status = 'running', worker = ?, attempts = attempts + 1, "
                "lease_until = ?, started_at = ?, progress = 0, eta_s = NULL, error = NULL "
                "WHERE id = ?",
                (worker, now + self.lease_s, now, row["id"]),
            )
        return self.get(row["id"])

    def heartbeat(
        self, job_id: str, worker: str, progress: float | None = None, eta_s: float | None = None
    ) -> bool:
        """Renew the lease and record progress; False when the job is no longer ours to run.

        That is when it was cancelled, or claimed by another worker after our lease ran out.
        """
        changed = self._update(
            "UPDATE jobs SET lease_until = ?, progress = COALESCE(?, progress), eta_s = ? "
            "WHERE id = ? AND status = 'running' AND worker = ?",
            (time.time() + self.lease_s, progress, eta_s, job_id, worker),
        )
        return changed == 1

    def finish(self, job_id: str, worker: str, error: str | None = None) -> bool:
        """Mark our running job done (or failed with ``error``); False when it is not ours."""
        status = "done" if error is None else "failed"
        changed = self._update(
            "UPDATE jobs SET status = ?, error = ?, finished_at = ?, lease_until = NULL, "
            "progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END, eta_s = NULL "
            "WHERE id = ? AND status = 'running' AND worker = ?",
            (status, error, time.time(), status, job_id, worker),
        )
        return changed == 1

    def release(self, job_id: str, worker: str) -> None:
        """Put our running job back in the queue, not counting this attempt (a clean stop)."""
        self._update(
            "UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL, "
            "attempts = attempts - 1, progress = 0, eta_s = NULL "
            "WHERE id = ? AND status = 'running' AND worker = ?",
            (job_id, worker),
        )

    def cancel(self, job_id: str) -> str | None:
        """Cancel a queued or running job; the job's status afterwards, None if unknown."""
        self._update(
            "UPDATE jobs SET status = 'cancelled', finished_at = ?, eta_s = NULL "
            "WHERE id = ? AND status IN ('queued', 'running')",
            (time.time(), job_id),
        )
        job = self.get(job_id)
        return None if job is None else job["status"]

    def requeue_running(self) -> int:
        """Put every running job back in the queue; for a server starting on its data folder.

        The data-folder lock guarantees that no worker of another server still runs them.
        """
        changed = self._update(
            "UPDATE jobs SET status = 'queued', worker = NULL, lease_until = NULL "
            "WHERE status = 'running'"
        )
        return changed

    def submit_watched(
        self, path: Path, size: int, mtime_ns: int, spec: dict[str, Any]
    ) -> str | None:
        """Queue a job for a watch-folder file unless this version of it had one; its id or None.

        The file's record and its job are written in one transaction, so a restart neither
        loses nor repeats it.
        """
        with self._transaction() as db:
            seen = db.execute(
                "SELECT 1 FROM watched WHERE path = ? AND size = ? AND mtime_ns = ?",
                (str(path), size, mtime_ns),
            ).fetchone()
            if seen is not None:
                return None
            job_id = new_job_id()
            db.execute(
                "INSERT INTO watched (path, size, mtime_ns, job_id) VALUES (?, ?, ?, ?)",
                (str(path), size, mtime_ns, job_id),
            )
            db.execute(
                "INSERT INTO jobs (id, mode, spec, status, source, created_at) "
                "VALUES (?, ?, ?, 'queued', 'watch', ?)",
                (job_id, spec["mode"], json.dumps(spec), time.time()),
            )
        return job_id
