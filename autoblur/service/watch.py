"""Watch folders: a video that appears and stops growing becomes one job.

A file is taken once its size and modification time are the same on two listings one
interval apart. The queue records each file (path, size, mtime) with its job in one
transaction, so a file already taken is not taken again after a restart; a file replaced
by a new version is.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from autoblur.batch.items import VIDEO_EXTENSIONS
from autoblur.job import default_output
from autoblur.service.queue import JobQueue
from autoblur.service.settings import ServiceSettings, WatchFolder

log = logging.getLogger(__name__)


def watch_spec(watch: WatchFolder, video: Path, config_name: str | None) -> dict[str, Any]:
    """The job spec of one watched video: report (and cleaned video) in the results folder."""
    output = None
    if watch.mode == "remove":
        output = watch.results / default_output(video).name
    return {
        "mode": watch.mode,
        "input": str(video),
        "rules": str(watch.rules),
        "output": None if output is None else str(output),
        "decisions": None,
        "scan": None,
        "report": str(watch.results / f"{video.name}.report.json"),
        "config": config_name,
    }


class FolderWatcher(threading.Thread):
    """Lists every watched folder each interval and queues the videos that stopped growing.

    Args:
        settings: the watches, the interval and the queue.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        super().__init__(name="watch-folders", daemon=True)
        self.settings = settings
        self._last: dict[Path, tuple[int, int]] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        """Poll until stopped."""
        queue = JobQueue(self.settings.queue_path, self.settings.lease_s)
        try:
            while not self._stopped.wait(self.settings.watch_interval_s):
                for watch in self.settings.watches:
                    self.poll(queue, watch)
        finally:
            queue.close()

    def poll(self, queue: JobQueue, watch: WatchFolder) -> None:
        """Queue the videos of one folder whose size and mtime did not change since last time."""
        try:
            entries = sorted(watch.folder.iterdir())
        except OSError as exc:
            log.warning("cannot list watch folder %s (%s)", watch.folder, exc.strerror)
            return
        for path in entries:
            if path.name.startswith(".") or path.suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished between listing and stat
            if not path.is_file() or stat.st_size == 0:
                continue
            version = (stat.st_size, stat.st_mtime_ns)
            if self._last.get(path) == version:
                spec = watch_spec(watch, path, self.settings.config_name)
                job_id = queue.submit_watched(path, *version, spec)
                if job_id is not None:
                    log.info("watch: %s became job %s", path, job_id)
            self._last[path] = version

    def stop(self) -> None:
        """Stop polling."""
        self._stopped.set()
        if self.is_alive():
            self.join()
