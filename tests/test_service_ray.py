"""``--executor ray``: a worker hands the job to Ray and waits, or kills it on cancel.

Ray itself is replaced by a small in-process stand-in with the same calls (``remote``,
``wait``, ``get``, ``cancel``) so that the test needs no cluster; the job it runs is real.
"""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest

pytest.importorskip(
    "fastapi", reason="needs the service extra: pip install -e '.[test,service]' -c constraints.txt"
)

from autoblur.service.executors import Cancelled, RayExecutor  # noqa: E402
from autoblur.service.settings import ServiceSettings  # noqa: E402
from autoblur.service.spec import JobRequest, build_spec  # noqa: E402
from autoblur.service.workers import JobProgress  # noqa: E402
from tests.service_server import SAMPLE, logo_rules, trim  # noqa: E402


class FakeRay(types.ModuleType):
    """Runs each remote call on a thread; ``hang`` makes tasks wait until cancelled."""

    def __init__(self, hang: bool = False) -> None:
        super().__init__("ray")
        self.hang = hang
        self.addresses: list[str] = []
        self.cancelled: list[tuple[object, bool]] = []
        self._results: dict[int, object] = {}
        self._done: dict[int, threading.Event] = {}

    def is_initialized(self) -> bool:
        return bool(self.addresses)

    def init(self, address: str, **_: object) -> None:
        self.addresses.append(address)

    def remote(self, num_cpus: int):
        def wrap(function):
            def submit(*args):
                ref = len(self._done)
                self._done[ref] = threading.Event()

                def task() -> None:
                    if not self.hang:
                        self._results[ref] = function(*args)
                        self._done[ref].set()

                threading.Thread(target=task, daemon=True).start()
                return ref

            return types.SimpleNamespace(remote=submit)

        return wrap

    def wait(self, refs: list[int], timeout: float):
        done = [ref for ref in refs if self._done[ref].wait(timeout)]
        return done, [ref for ref in refs if ref not in done]

    def get(self, ref: int) -> object:
        return self._results[ref]

    def cancel(self, ref: int, force: bool) -> None:
        self.cancelled.append((ref, force))


@pytest.fixture
def spec(tmp_path: Path) -> dict:
    trim(SAMPLE, tmp_path / "clip.mp4", 12)
    settings = ServiceSettings(data_dir=tmp_path / "data", roots=(tmp_path,), token=None)
    request = JobRequest(
        input=str(tmp_path / "clip.mp4"),
        rules=str(logo_rules(tmp_path)),
        mode="remove",
        output=str(tmp_path / "clean.mp4"),
    )
    return build_spec(request, settings, "job1")


def test_the_job_runs_as_a_ray_task(spec, monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    executor = RayExecutor()
    executor.run(spec, JobProgress())
    assert fake.addresses == ["10.0.0.1:6379"]
    assert Path(spec["output"]).exists() and Path(spec["report"]).exists()
    with pytest.raises(Exception, match="rule file not found") as failure:
        executor.run({**spec, "rules": spec["rules"] + ".missing"}, JobProgress())
    assert "AutoblurError" in [c.__name__ for c in type(failure.value).__mro__]


def test_cancel_kills_the_ray_task_and_its_partial_files(spec, monkeypatch):
    fake = FakeRay(hang=True)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    output = Path(spec["output"])
    partial = output.with_name(f".{output.stem}.partial-4242{output.suffix}")
    partial.write_bytes(b"half a video")  # what a killed task leaves
    executor = RayExecutor()
    threading.Timer(0.3, executor.cancel).start()
    with pytest.raises(Cancelled):
        executor.run(spec, JobProgress())
    assert fake.cancelled == [(0, True)]
    assert not partial.exists() and not output.exists()
