"""How one ``autoblur serve`` runs: its data folder, allowed roots, token, workers and watches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autoblur.errors import ConfigError

WATCH_MODES = ("scan", "remove")


@dataclass(frozen=True)
class WatchFolder:
    """A folder whose new videos become jobs.

    Attributes:
        folder: the watched folder (its top level only).
        rules: the rule file of its jobs.
        mode: ``scan`` or ``remove``.
    """

    folder: Path
    rules: Path
    mode: str = "scan"

    @property
    def results(self) -> Path:
        """Where the jobs' reports and videos go: a folder inside the watched one."""
        return self.folder / "autoblur-results"

    @classmethod
    def parse(cls, text: str) -> WatchFolder:
        """Parse ``FOLDER:RULES[:scan|remove]``.

        Raises:
            ConfigError: a part is missing, the folder or the rule file does not exist.
        """
        mode = "scan"
        head, _, last = text.rpartition(":")
        if last in WATCH_MODES and head:
            text, mode = head, last
        folder, sep, rules = text.rpartition(":")
        if not sep or not folder or not rules:
            raise ConfigError(f"--watch {text!r}: expected FOLDER:RULES[:scan|remove]")
        watch = cls(Path(folder).resolve(), Path(rules).resolve(), mode)
        if not watch.folder.is_dir():
            raise ConfigError(f"--watch: folder {folder} does not exist")
        if not watch.rules.is_file():
            raise ConfigError(f"--watch: rule file {rules} not found")
        return watch


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of one service (picklable: worker processes get a copy).

    Attributes:
        data_dir: the queue database, the lock and every job's folder.
        roots: folders that request paths must resolve into.
        token: the bearer token; None to accept every request (``--insecure-no-auth``).
        workers: worker processes.
        executor: ``local`` (jobs run in the workers) or ``ray`` (workers hand them to Ray).
        watches: watched folders.
        config_name: pipeline preset or YAML file for every job.
        lease_s: how long a worker's claim lasts without a heartbeat.
        max_attempts: claims of one job before it is failed.
        poll_s: how often an idle worker looks for a job.
        watch_interval_s: how often watched folders are listed; a file unchanged over one
            interval has stopped growing.
    """

    data_dir: Path
    roots: tuple[Path, ...]
    token: str | None
    workers: int = 1
    executor: str = "local"
    watches: tuple[WatchFolder, ...] = ()
    config_name: str | None = None
    lease_s: float = 30.0
    max_attempts: int = 3
    poll_s: float = 0.3
    watch_interval_s: float = 2.0

    @property
    def queue_path(self) -> Path:
        """The SQLite database of the queue."""
        return self.data_dir / "queue.sqlite3"

    def job_dir(self, job_id: str) -> Path:
        """The folder of one job's default report and output."""
        return self.data_dir / "jobs" / job_id
