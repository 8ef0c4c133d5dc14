"""Inpainting in worker processes, alongside the detection and tracking of later frames.

A run's two big costs are the keyframes' detection and the inpainting, and in one process
they take turns: Python runs one of them at a time. :class:`WorkerRemover` is a remover that
hands the frames to ``count`` child processes (``python -m autoblur.remove.worker_child``, so no
caller's ``__main__`` is imported again) and takes their fills back in order, while the main
process goes on decoding, detecting and tracking. Each child sees every frame (a temporal
inpainter takes its views from the neighbours) and fills every ``count``-th one; the output
is the same pixels as in one process.

The main process sends frames from a thread and receives fills on another, so neither side
waits on a pipe while the other computes; at most ``lag + 2 * count + 4`` frames are in
flight. A child that fails sends its error; one that dies ends the run with a one-line error.
"""

from __future__ import annotations

import itertools
import os
import pickle
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from autoblur.config import PipelineConfig
from autoblur.errors import AutoblurError
from autoblur.io.reader import VideoFrame
from autoblur.remove.base import INPAINTERS, MaskedFrame

_END = ("end",)
_END_BYTES = pickle.dumps(_END)
_MAX_AUTO = 4  # workers chosen automatically: each receives every frame and follows the motion
_START_TIMEOUT_S = 120.0


class WorkerError(AutoblurError):
    """A worker process stopped: killed, out of memory, or a fault in the remover."""


_side_by_side = 1  # jobs this machine runs at once (a batch's or a service's worker processes)


def share_cores(jobs: int) -> None:
    """Say that ``jobs`` jobs run side by side here: each job's workers then use its share.

    Called once in each process of a batch's pool and each service worker, so that two jobs
    on two cores do not start two inpainting workers each (six processes, twice the memory).
    """
    global _side_by_side
    _side_by_side = max(1, jobs)


def worker_count(config: PipelineConfig, frame_hw: tuple[int, int]) -> int:
    """Worker processes for the inpainter on frames of ``frame_hw``.

    ``remove.inpaint_processes`` when set; else one per core of this job's share of the cores
    free to this process (all of them, or those divided by :func:`share_cores`), at most
    ``_MAX_AUTO``, and no more than half the available memory holds (each worker keeps its
    window of frames twice: the pixels and the originals), and none on a share of one core.
    """
    asked = config.remove.inpaint_processes
    if asked is not None:
        return asked
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = (cores or 1) // _side_by_side
    if cores < 2:
        return 0
    per_worker = 2 * (2 * config.remove.temporal_window + 1) * frame_hw[0] * frame_hw[1] * 3
    fits = _available_bytes() // 2 // per_worker
    return int(max(0, min(cores, _MAX_AUTO, fits)))


def _available_bytes() -> int:
    """Memory available to new work (``MemAvailable``), or the free pages where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class _Child:
    """One worker process and the two pipes to it."""

    def __init__(self, start: tuple) -> None:
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autoblur.remove.worker_child",
                str(to_child_r),
                str(to_parent_w),
            ],
            pass_fds=(to_child_r, to_parent_w),
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(to_parent_w)
        self.outbox: queue.Queue = queue.Queue()  # pickled messages; None stops the sender
        self.inbox: queue.Queue = queue.Queue()
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(to_parent_r, writable=False)
        self.outbox.put(_pickled(start))
        self._threads = [
            threading.Thread(target=self._sender, daemon=True),
            threading.Thread(target=self._receiver, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _sender(self) -> None:
        try:
            while (data := self.outbox.get()) is not None:
                self._send.send_bytes(data)
        except OSError:
            return  # the child is gone: the receiver reports it

    def _receiver(self) -> None:
        try:
            while True:
                message = pickle.loads(self._recv.recv_bytes())
                self.inbox.put(message)
                if message[0] in ("finished", "error"):
                    return
        except (EOFError, OSError):
            self.inbox.put(("died",))

    def take(self, block: bool) -> Any:
        """The child's next message; None if ``block`` is false and none has come."""
        try:
            message = self.inbox.get(block=block)
        except queue.Empty:
            return None
        if message[0] == "error":
            raise message[1]
        if message[0] == "died":
            code = self.process.wait()
            raise WorkerError(
                f"the inpainting worker process stopped (exit code {code}): out of memory or "
                "killed; run again, or with remove.inpaint_processes: 0 to inpaint in one process"
            )
        return message

    def close(self) -> None:
        """Stop the child (at once, if it is still working) and the threads."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._send.close()
        self._recv.close()


class WorkerRemover:
    """A temporal inpainter run in worker processes; see the module docstring.

    Args:
        config: the pipeline config, as the children build the inpainter from it.
        backend: the inpainter's name in :data:`~autoblur.remove.base.INPAINTERS`; it must
            accept ``share`` (which of every ``count`` frames it fills) and say its ``lag``.

    How many workers is decided on the first frame (:func:`worker_count`); with none, the
    inpainter runs in this process.
    """

    action = "inpaint"

    def __init__(self, config: PipelineConfig, backend: str) -> None:
        self.config, self.backend = config, backend
        # Per worker, its own wall and CPU seconds and peak memory (MiB), once the stream ended.
        self.worker_seconds: list[tuple[float, float, float]] = []

    def __call__(self, frames: Iterator[MaskedFrame]) -> Iterator[MaskedFrame]:
        """See :class:`autoblur.remove.base.Remover`."""
        frames = iter(frames)
        first = next(frames, None)
        if first is None:
            return
        frames = itertools.chain([first], frames)
        count = worker_count(self.config, first.frame.rgb.shape[:2])
        inpainter = INPAINTERS.build(self.backend, self.config)
        if not count:
            yield from inpainter(frames)
            return
        children = [_Child(("start", self.config, self.backend, (k, count))) for k in range(count)]
        limit = inpainter.lag + 2 * count + 4
        try:
            pending: deque[MaskedFrame] = deque()
            done = 0  # frames given back
            for item in frames:
                message = _pickled(_frame_message(item))  # once, whatever the children
                for child in children:
                    child.outbox.put(message)
                pending.append(item)
                while pending:
                    filled = _next_done(children, pending, done, block=len(pending) > limit)
                    if filled is None:
                        break
                    done += 1
                    yield filled
            for child in children:
                child.outbox.put(_END_BYTES)
                child.outbox.put(None)
            while pending:
                yield _next_done(children, pending, done, block=True)
                done += 1
            self.worker_seconds = [child.take(block=True)[1] for child in children]
        finally:
            for child in children:
                child.close()


def _next_done(
    children: list[_Child], pending: deque[MaskedFrame], position: int, block: bool
) -> MaskedFrame | None:
    """The oldest pending frame (stream ``position``) with its fill once sent; else None."""
    owner = children[position % len(children)]
    message = owner.take(block)
    if message is None:
        return None
    for child in children:
        if child is not owner:
            child.take(block=True)  # the others pass this frame through unchanged
    item = pending.popleft()
    _, box, pixels, confidence = message
    if box is not None:
        x0, y0, x1, y1 = box
        item.frame.rgb[y0:y1, x0:x1] = pixels
        item.mark_changed(box)
    item.fill_confidence.extend(confidence)
    return item


def _pickled(message: tuple) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def _frame_message(item: MaskedFrame) -> tuple:
    """What a child needs of a frame: its pixels, masks and place in the shot."""
    frame = item.frame
    return ("frame", frame.index, frame.pts, frame.time_s, frame.rgb, item.masks, item.starts_shot)


def _child_frames(inbox: queue.Queue) -> Iterator[MaskedFrame]:
    while True:
        message = inbox.get()
        if message[0] == "end":
            return
        _, index, pts, time_s, rgb, masks, starts_shot = message
        yield MaskedFrame(VideoFrame(index, pts, time_s, rgb=rgb), masks, starts_shot=starts_shot)


def _child_main(read_fd: int, write_fd: int) -> None:
    """The worker process: receive frames, fill this child's share of them, send the fills."""
    incoming = Connection(read_fd, writable=False)
    outgoing = Connection(write_fd, readable=False)
    inbox: queue.Queue = queue.Queue()

    def receive() -> None:
        try:
            while True:
                message = pickle.loads(incoming.recv_bytes())
                inbox.put(message)
                if message[0] == "end":
                    return
        except (EOFError, OSError):
            inbox.put(_END)  # the parent is gone

    def send(message: tuple) -> None:
        outgoing.send_bytes(_pickled(message))

    # Ctrl-C reaches the whole process group: the parent stops the child, quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=receive, daemon=True).start()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        _fill(inbox, send)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        last = ("finished", (time.perf_counter() - wall, time.process_time() - cpu, peak_mib))
    except OSError:
        return  # the parent is gone (stopped, or killed): nobody to tell
    except Exception as exc:  # noqa: BLE001 - every failure goes to the parent, as it is
        last = ("error", _travelling(exc))
    try:
        send(last)
    except OSError:
        return


def _fill(inbox: queue.Queue, send: Callable[[tuple], None]) -> None:
    """Build the inpainter the start message names; fill its share; send every frame's fill."""
    _, config, backend, share = inbox.get(timeout=_START_TIMEOUT_S)
    remover = INPAINTERS.build(backend, config)
    remover.share = share
    for item in remover(_child_frames(inbox)):
        box = item.changed_xyxy
        pixels = None
        if box is not None:
            pixels = np.ascontiguousarray(item.frame.rgb[box[1] : box[3], box[0] : box[2]])
        send(("frame", box, pixels, item.fill_confidence))


def _travelling(exc: Exception) -> Exception:
    """``exc`` if it can be pickled to the parent, else a :class:`WorkerError` with its text."""
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - whatever stops it travelling, its text does
        return WorkerError(f"inpainting worker: {type(exc).__name__}: {exc}")
    return exc
