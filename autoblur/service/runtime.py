"""The running service: its data-folder lock, queue, worker pool and folder watcher."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from autoblur.errors import ConfigError
from autoblur.service.queue import JobQueue
from autoblur.service.settings import ServiceSettings
from autoblur.service.watch import FolderWatcher
from autoblur.service.workers import WorkerPool

log = logging.getLogger(__name__)


class DataDirLock:
    """An exclusive lock on ``DATA_DIR/server.lock``, so that one server runs per data folder.

    The kernel drops the lock when the process dies, even by ``kill -9``; worker processes
    are spawned, not forked, so they do not inherit it.

    Args:
        data_dir: the service's data folder (created if missing).

    Raises:
        ConfigError: the folder cannot be created, or another server holds the lock.
    """

    def __init__(self, data_dir: Path) -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(data_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"--data-dir {data_dir}: cannot use it ({exc.strerror})") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise ConfigError(
                f"--data-dir {data_dir}: another autoblur serve (pid {holder}) uses it; stop it "
                "or choose another folder"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        """Drop the lock."""
        os.close(self._fd)


class Service:
    """Everything behind the HTTP app: started by its lifespan, stopped at shutdown.

    Args:
        settings: the service settings.
        lock: the data-folder lock, when the caller took it already.
    """

    def __init__(self, settings: ServiceSettings, lock: DataDirLock | None = None) -> None:
        self.settings = settings
        self.lock = lock or DataDirLock(settings.data_dir)
        self.queue = JobQueue(settings.queue_path, settings.lease_s, settings.max_attempts)
        self.pool = WorkerPool(settings)
        self.watcher = FolderWatcher(settings) if settings.watches else None

    def start(self) -> None:
        """Re-queue what the last server left running, then start the workers and watcher."""
        requeued = self.queue.requeue_running()
        if requeued:
            log.warning("%d job(s) left running by the last server were queued again", requeued)
        self.pool.start()
        if self.watcher is not None:
            self.watcher.start()

    def stop(self) -> None:
        """Stop the watcher and the workers, close the queue, drop the lock."""
        if self.watcher is not None:
            self.watcher.stop()
        self.pool.stop()
        self.queue.close()
        self.lock.release()
