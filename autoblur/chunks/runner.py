"""A scan split into pieces run side by side: plan, run each piece in a process, join.

The plan (:mod:`autoblur.chunks.plan`) puts the borders on scene cuts near the wanted length
where decoding can begin there (found by :class:`~autoblur.chunks.cuts.CutScanner`, which
decodes only the frames around the places it considers), otherwise on a closed GOP. Each
piece runs in a worker process (:mod:`autoblur.chunks.piece`); a piece whose process dies or
fails is run again alone, up to ``ATTEMPTS`` times. The report and the saved masks are written
only once every piece has finished, to temporary names renamed into place.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import time
from bisect import bisect_right
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from autoblur.chunks import piece as piece_module
from autoblur.chunks.cuts import CutScanner
from autoblur.chunks.merge import merge_pieces
from autoblur.chunks.piece import PieceResult
from autoblur.chunks.plan import ChunkPlan, FrameIndex, Piece, plan_chunks, read_frame_index
from autoblur.cluster import start_ray
from autoblur.errors import AutoblurError, ConfigError, VideoError
from autoblur.io import VideoReader
from autoblur.job import Job, check_paths
from autoblur.pipeline import Pipeline
from autoblur.progress import Progress, Silent
from autoblur.remove.worker import share_cores
from autoblur.report.build import write_json_atomic
from autoblur.review.saved_detections import masks_path_for

ATTEMPTS = 3  # runs of one piece before the scan fails


def plan_file(job: Job, seconds: float) -> tuple[FrameIndex, ChunkPlan, int]:
    """The input's frame index and plan of pieces of about ``seconds``.

    Also the number of frames decoded to find the cuts near the borders.
    """
    index = read_frame_index(job.input_path)
    scanner = CutScanner(job.input_path, index.times, index.starts, job.config.scene_cut)
    plan = plan_chunks(index, seconds, job.config, scanner)
    return index, plan, scanner.frames_decoded


def scan_in_pieces(
    job: Job,
    jobs: int,
    progress: Progress | None = None,
    seconds: float | None = None,
    executor: str = "local",
) -> dict:
    """Scan ``job`` (no output video) in pieces run on ``jobs`` processes.

    Args:
        job: the scan.
        jobs: processes side by side.
        progress: told of each piece's frames as it finishes.
        seconds: the wanted length of a piece; None: ``chunk.seconds`` of the config, and
            only a file longer than ``chunk.min_seconds`` scanned on more than one process
            (or on Ray) is split.
        executor: ``local`` (``jobs`` processes here) or ``ray`` (a task per piece on the
            cluster at ``RAY_ADDRESS``, or on a local Ray instance; ``jobs`` unused).

    A file not split is scanned as usual, in this process. The report of a split one gets a
    ``chunks`` entry with the plan.

    Raises:
        AutoblurError: bad input or config (not retried), or a piece that failed
            ``ATTEMPTS`` times; nothing is left half-written.
    """
    if job.output_path is not None:
        raise ConfigError("only a scan is split into pieces (no output video)")
    progress = progress or Silent()
    check_paths(job)
    started = time.perf_counter()
    chunk = job.config.chunk
    with VideoReader(job.input_path) as reader:
        info = reader.info
    if seconds is None:
        alone = jobs <= 1 and executor != "ray"
        duration = info.duration_s
        if alone or job.masks_dir is not None or not duration or duration <= chunk.min_seconds:
            return Pipeline(job, progress).run()
    if job.masks_dir is not None:
        raise ConfigError("--masks writes one folder in one process: scan without --chunk-seconds")
    index, plan, cut_frames = plan_file(job, seconds or chunk.seconds)
    planned = time.perf_counter()
    if len(plan.pieces) == 1:
        return Pipeline(job, progress).run()
    progress.start(plan.frames)
    masks_final = masks_path_for(job.report_path) if job.report_path is not None else None
    where = job.report_path.parent if job.report_path is not None else None
    with tempfile.TemporaryDirectory(prefix=".autoblur-pieces-", dir=where) as work:
        tasks = [
            (
                piece,
                _begin(index, piece),
                Path(work) / f"piece{piece.index:04d}.masks.npz" if masks_final else None,
            )
            for piece in plan.pieces
        ]
        if executor == "ray":
            results, reruns = _run_on_ray(job, tasks, progress), None
        else:
            results, reruns = _run_all(job, tasks, jobs, progress)
        ran = time.perf_counter()
        report = merge_pieces(job, info, plan, results, ran - started, masks_final)
        joined = time.perf_counter()
    report["chunks"] |= {
        "executor": executor,
        "jobs": jobs if executor == "local" else None,
        "reruns": reruns,  # None on Ray: it runs a task again itself
        "frames_decoded_for_cuts": cut_frames,
        # The parts that do not run side by side: the plan (the cuts near the borders) and
        # the join (the report and the masks' archive).
        "plan_s": round(planned - started, 3),
        "pieces_s": round(ran - planned, 3),
        "join_s": round(joined - ran, 3),
    }
    seconds_all = time.perf_counter() - started
    report["timing"] |= {
        "seconds": round(seconds_all, 3),
        "fps": round(report["input"]["frame_count"] / seconds_all, 2),
    }
    if job.report_path is not None:
        write_json_atomic(job.report_path, report)
    return report


def _begin(index: FrameIndex, piece: Piece) -> tuple[int, int]:
    """Where decoding begins for ``piece``: the last start at or before its first lead frame."""
    first = piece.start - piece.lead_in
    begin = index.starts[bisect_right(index.starts, first) - 1]
    return begin, index.times[begin]


class _Tally:
    """The pieces' frames on the bar, each frame once whatever runs again; who has begun."""

    def __init__(self, progress: Progress, pieces: int) -> None:
        self.progress = progress
        self.counted = dict.fromkeys(range(pieces), 0)
        self.begun: set[int] = set()

    def heard(self, queue: Any) -> None:
        """Take every (piece, frames done) message waiting in ``queue``."""
        while not queue.empty():
            k, done = queue.get()
            self.begun.add(k)
            self.finished(k, done)

    def finished(self, k: int, frames: int) -> None:
        """Piece ``k`` has done ``frames`` of its own frames."""
        if frames > self.counted[k]:
            self.progress.advance(frames - self.counted[k])
            self.counted[k] = frames


def _run_all(
    job: Job,
    tasks: list[tuple[Piece, tuple[int, int], Path | None]],
    jobs: int,
    progress: Progress,
) -> tuple[list[PieceResult], int]:
    """Every piece's result in plan order, and the number of runs again (of failed pieces).

    A piece is charged a run when it failed after it had begun: when a process dies, the pool
    breaks and every piece in it fails too; those running (the dead one among them) are
    charged, those still waiting are only submitted again.
    """
    results: dict[int, PieceResult] = {}
    attempts = dict.fromkeys(range(len(tasks)), 0)
    tally = _Tally(progress, len(tasks))
    pending = list(range(len(tasks)))
    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        while pending:
            tally.begun = set()
            workers = min(jobs, len(pending))
            with ProcessPoolExecutor(
                max_workers=workers, initializer=share_cores, initargs=(workers,)
            ) as pool:
                futures: dict[Future, int] = {
                    pool.submit(piece_module.run_piece, job, *tasks[k], queue): k for k in pending
                }
                pending = []
                waiting = set(futures)
                try:
                    while waiting:
                        done, waiting = wait(waiting, timeout=1.0, return_when=FIRST_COMPLETED)
                        tally.heard(queue)
                        for future in done:
                            k = futures[future]
                            try:
                                results[k] = future.result()
                            except AutoblurError:
                                raise  # the input or the config: another run changes nothing
                            except Exception as exc:  # a crash, or its process killed
                                if k in tally.begun or not isinstance(exc, BrokenProcessPool):
                                    attempts[k] += 1
                                if attempts[k] >= ATTEMPTS:
                                    raise _failed(job, tasks[k][0], exc) from None
                                pending.append(k)
                            else:
                                tally.finished(k, results[k].frames)
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    return [results[k] for k in range(len(tasks))], sum(attempts.values())


def _run_on_ray(
    job: Job, tasks: list[tuple[Piece, tuple[int, int], Path | None]], progress: Progress
) -> list[PieceResult]:
    """Every piece's result in plan order, each piece a Ray task (one CPU).

    Ray runs a task again when its worker dies (``ATTEMPTS`` runs in all); the cluster must
    see the input and the report's folder at the same paths (shared storage).
    """
    ray = start_ray()
    from ray.util.queue import Queue

    queue = Queue()
    tally = _Tally(progress, len(tasks))
    remote = ray.remote(num_cpus=1, max_retries=ATTEMPTS - 1)(piece_module.run_piece)
    refs = {remote.remote(job, *task, queue): k for k, task in enumerate(tasks)}
    results: dict[int, PieceResult] = {}
    waiting = list(refs)
    try:
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            tally.heard(queue)
            for ref in done:
                k = refs[ref]
                try:
                    results[k] = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, AutoblurError):
                        raise cause from None
                    raise _failed(job, tasks[k][0], cause or exc) from None
                tally.finished(k, results[k].frames)
    except BaseException:
        for ref in waiting:
            ray.cancel(ref, force=True)
        raise
    finally:
        queue.shutdown()
    return [results[k] for k in range(len(tasks))]


def _failed(job: Job, piece: Piece, exc: BaseException) -> VideoError:
    """The error of a piece that failed every run."""
    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    return VideoError(
        f"{job.input_path}: piece {piece.index} (frames {piece.start}-{piece.end - 1}) failed "
        f"{ATTEMPTS} times, last: {type(exc).__name__}{': ' + reason if reason else ''}"
    )


def default_jobs() -> int:
    """The cores free to this process."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
