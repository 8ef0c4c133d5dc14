"""Worker processes: each claims jobs from the queue and runs them, locally or on Ray.

Workers die with the server (``PR_SET_PDEATHSIG`` on Linux, a parent watch elsewhere), so a
``kill -9`` of the server leaves no worker behind; their jobs are re-queued when a server
starts again on the same data folder. A heartbeat thread renews the claim and notices a
cancel, which stops the job at its next frame; a cancelled job's outputs are deleted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

from autoblur.errors import AutoblurError
from autoblur.remove.worker import share_cores
from autoblur.service.executors import Cancelled, Executor, build_executor
from autoblur.service.queue import JobQueue
from autoblur.service.settings import ServiceSettings
from autoblur.service.tasks import outputs_of

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


class JobProgress:
    """The pipeline's :class:`~autoblur.pipeline.Progress`: counts frames, raises on cancel."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0
        self.started = time.monotonic()
        self.cancelled = threading.Event()

    def start(self, total_frames: int | None) -> None:
        """A pass over the video begins (a render after its scan starts a second one)."""
        self.total, self.done, self.started = total_frames, 0, time.monotonic()

    def advance(self, frames: int) -> None:
        """Count frames; raise :class:`Cancelled` once the job was cancelled."""
        if self.cancelled.is_set():
            raise Cancelled
        self.done += frames

    def note(self, message: str) -> None:
        """Log a notice of the pipeline."""
        log.info("%s", message)

    def fraction(self) -> float | None:
        """Share of frames done, 0..1; None before the input is open."""
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)

    def eta_s(self) -> float | None:
        """Seconds left at the speed so far; None until some frames are done."""
        fraction = self.fraction()
        if not fraction:
            return None
        elapsed = time.monotonic() - self.started
        return round(elapsed * (1 - fraction) / fraction, 1)


class Heartbeat(threading.Thread):
    """Renews a job's lease with its progress; tells the executor when the job is not ours.

    Args:
        settings: where the queue is, and the lease.
        job_id: the claimed job.
        worker: our worker name.
        progress: the job's progress.
        executor: told to stop the job when it was cancelled.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        job_id: str,
        worker: str,
        progress: JobProgress,
        executor: Executor,
    ) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.queue = JobQueue(settings.queue_path, settings.lease_s)
        self.interval = min(0.5, settings.lease_s / 3)
        self.job_id, self.worker = job_id, worker
        self.progress, self.executor = progress, executor
        self.stopped = threading.Event()

    def run(self) -> None:
        """Beat until stopped or until the job is no longer ours."""
        try:
            while not self.stopped.wait(self.interval):
                progress = self.progress
                if not self.queue.heartbeat(
                    self.job_id, self.worker, progress.fraction(), progress.eta_s()
                ):
                    progress.cancelled.set()
                    self.executor.cancel()
                    return
        finally:
            self.queue.close()

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self.stopped.set()
        self.join()


def run_claimed(
    queue: JobQueue, job: dict[str, Any], worker: str, executor: Executor, settings: ServiceSettings
) -> None:
    """Run one claimed job to its end: done, failed, or cancelled with no output left."""
    progress = JobProgress()
    beat = Heartbeat(settings, job["id"], worker, progress, executor)
    beat.start()
    error, wrote = None, False
    try:
        executor.run(job["spec"], progress)
        wrote = True
    except Cancelled:
        pass  # stopped before renaming anything into place; its temporary files are gone
    except AutoblurError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken job must not take the worker down
        log.exception("job %s failed", job["id"])
        error = f"{type(exc).__name__}: {exc}"
    finally:
        beat.stop()
    if not queue.finish(job["id"], worker, error) and wrote:
        latest = queue.get(job["id"])
        if latest is not None and latest["status"] == "cancelled":  # cancelled as it finished
            for path in outputs_of(job["spec"]):
                path.unlink(missing_ok=True)


def die_with_parent(parent_pid: int) -> None:
    """Have this process killed when its parent dies, even by ``kill -9``."""
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was set up
        os._exit(1)


def worker_main(settings: ServiceSettings, worker: str, parent_pid: int) -> None:
    """A worker process: claim a job, run it, repeat, until the server stops it."""
    die_with_parent(parent_pid)
    # SIGTERM (the server stopping) unwinds the job so that its temporary files are removed,
    # and puts it back in the queue for the next server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops us
    logging.basicConfig(format=f"autoblur {worker}: %(message)s", level=logging.WARNING)
    queue = JobQueue(settings.queue_path, settings.lease_s, settings.max_attempts)
    executor = build_executor(settings)
    if settings.executor == "local":
        share_cores(settings.workers)  # the jobs of the other workers run beside this one's
    while True:
        job = queue.claim(worker)
        if job is None:
            time.sleep(settings.poll_s)
            continue
        try:
            run_claimed(queue, job, worker, executor, settings)
        except SystemExit:
            queue.release(job["id"], worker)
            raise


class WorkerPool:
    """The server's worker processes, restarted when one dies.

    Args:
        settings: the service settings (``workers`` processes are started).
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[multiprocessing.process.BaseProcess | None] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="worker-pool", daemon=True)

    def start(self) -> None:
        """Start the workers and the thread that restarts dead ones."""
        self._processes = [None] * self.settings.workers
        self._thread.start()

    def _spawn(self, index: int) -> None:
        name = f"w{index}-{os.getpid()}"
        process = self._context.Process(
            target=worker_main,
            args=(self.settings, name, os.getpid()),
            name=f"autoblur-worker-{index}",
            daemon=True,
        )
        process.start()
        self._processes[index] = process

    def _supervise(self) -> None:
        # Workers are started here so that they outlive no thread but this one (the death
        # signal follows the thread that started them).
        while not self._stopped.is_set():
            for index, process in enumerate(self._processes):
                if process is None or not process.is_alive():
                    if process is not None:
                        log.warning(
                            "worker %d exited (%s); starting another", index, process.exitcode
                        )
                    self._spawn(index)
            self._stopped.wait(1.0)
        for process in self._processes:
            if process is not None:
                process.terminate()
        for process in self._processes:
            if process is not None:
                process.join(10)
                if process.is_alive():
                    process.kill()

    def stop(self) -> None:
        """Stop the workers (a running job is re-queued at the next start)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [p.pid for p in self._processes if p is not None and p.pid and p.is_alive()]
