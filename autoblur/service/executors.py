"""Where a worker runs a job: in its own process, or as a task on a Ray cluster."""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from autoblur.errors import AutoblurError, ConfigError
from autoblur.progress import Progress
from autoblur.service.settings import ServiceSettings
from autoblur.service.tasks import outputs_of, remove_partials, run_spec


class Cancelled(Exception):
    """The job was cancelled while it ran."""


class Executor(Protocol):
    """Runs one job spec at a time for a worker."""

    def run(self, spec: dict[str, Any], progress: Progress) -> None:
        """Run the job to its end.

        Raises:
            Cancelled: :meth:`cancel` was called (or the progress raised it).
            AutoblurError: the job failed in a way the user can act on.
        """
        ...

    def cancel(self) -> None:
        """Stop the running job soon; called from another thread."""
        ...


class LocalExecutor:
    """Runs jobs in the worker process; a cancel is seen by the progress at the next frame."""

    def run(self, spec: dict[str, Any], progress: Progress) -> None:
        """Run the job here."""
        run_spec(spec, progress)

    def cancel(self) -> None:
        """Nothing to do: the job's progress raises :class:`Cancelled`."""


def run_remote(spec: dict[str, Any]) -> str | None:
    """The Ray task: run the job; the error message, or None when it succeeded.

    Errors come back as text so that an :class:`AutoblurError`'s one line reaches the job
    and not a wrapped remote traceback.
    """
    try:
        run_spec(spec)
    except AutoblurError as exc:
        return str(exc)
    return None


def connect_ray() -> Any:
    """The ``ray`` module, connected to the cluster at ``RAY_ADDRESS``.

    Raises:
        ConfigError: Ray is not installed, ``RAY_ADDRESS`` is not set, or the cluster cannot
            be reached.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'autoblur[cluster]' (or pip install ray)"
        ) from None
    address = os.environ.get("RAY_ADDRESS")
    if not address:
        raise ConfigError("--executor ray: set RAY_ADDRESS to the cluster (ray start --head)")
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"--executor ray: cannot reach RAY_ADDRESS={address} ({reason})"
            ) from None
    return ray


class RayExecutor:
    """Hands each job to Ray as one task (one CPU) and waits for it; the queue stays here.

    The Ray cluster must see the same paths as the service (shared storage). Progress is not
    reported while the task runs. A cancel kills the task and removes its temporary files.

    Raises:
        ConfigError: as :func:`connect_ray`.
    """

    def __init__(self) -> None:
        self._ray = connect_ray()
        self._remote = self._ray.remote(num_cpus=1)(run_remote)
        self._cancelled = threading.Event()

    def run(self, spec: dict[str, Any], progress: Progress) -> None:
        """Submit the job to Ray and wait for it, or kill it when cancelled."""
        self._cancelled.clear()
        ref = self._remote.remote(spec)
        while True:
            done, _ = self._ray.wait([ref], timeout=0.5)
            if done:
                break
            if self._cancelled.is_set():
                self._ray.cancel(ref, force=True)
                for path in outputs_of(spec):
                    remove_partials(path)
                raise Cancelled
        error = self._ray.get(ref)
        if error is not None:
            raise _RemoteError(error)

    def cancel(self) -> None:
        """Kill the running task at the next wait."""
        self._cancelled.set()


class _RemoteError(AutoblurError):
    """A job that failed on Ray with an error the user can act on."""


def build_executor(settings: ServiceSettings) -> Executor:
    """The executor named by the settings."""
    return RayExecutor() if settings.executor == "ray" else LocalExecutor()
