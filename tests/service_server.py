"""A real ``autoblur serve`` in a subprocess on 127.0.0.1, and small clips for it to process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx

from tests.conftest import REPO

TOKEN = "test-token-0123456789"
SAMPLE = REPO / "examples" / "sample.mp4"
LOGO = REPO / "brand_lists" / "logos" / "opencv.png"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trim(source: Path, target: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` re-encoded to H.264 (video only)."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        video = src.streams.video[0]
        out = dst.add_stream("libx264", rate=video.average_rate)
        out.width, out.height, out.pix_fmt = video.width, video.height, "yuv420p"
        for index, frame in enumerate(src.decode(video)):
            if index == frames:
                break
            dst.mux(out.encode(frame.reformat(format="yuv420p")))
        dst.mux(out.encode(None))
    return target


def logo_rules(folder: Path) -> Path:
    """A rule file with one brand found by its logo only (the fastest detector)."""
    rules = folder / "rules.yaml"
    rules.write_text(
        f"country: XX\nbrands:\n  - name: OpenCV\n    logos: [{LOGO}]\n    action: blur\n"
    )
    return rules


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


class Server:
    """``python -m autoblur serve`` on a free port of 127.0.0.1.

    Args:
        data_dir: its --data-dir.
        roots: its --root folders.
        extra: more command-line arguments.
        token: AUTOBLUR_TOKEN (None: unset).
    """

    def __init__(
        self, data_dir: Path, roots: list[Path], *extra: str, token: str | None = TOKEN
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("AUTOBLUR_TOKEN", None)
        if token is not None:
            env["AUTOBLUR_TOKEN"] = token
        command = [
            sys.executable, "-m", "autoblur", "serve", "--data-dir", str(data_dir),
            "--port", str(self.port), *(a for root in roots for a in ("--root", str(root))), *extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def wait_ready(self, timeout: float = 60) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not start")

    def worker_pids(self) -> list[int]:
        tasks = Path(f"/proc/{self.process.pid}/task").glob("*/children")
        return [int(pid) for task in tasks for pid in task.read_text().split()]

    def submit(self, **body: object) -> str:
        response = self.client.post("/api/jobs", json={k: str(v) for k, v in body.items()})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def job(self, job_id: str) -> dict:
        response = self.client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(self, job_id: str, until: tuple[str, ...] = ("done", "failed", "cancelled"),
             timeout: float = 120, progress: float = 0.0) -> dict:  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in until and job["progress"] >= progress:
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job}")

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.client.close()

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.client.close()
        return out or ""
