"""Where a run's time goes: wall and CPU seconds per stage, for the report's ``timing``.

The pipeline's stages are nested generators (the removers pull frames through tracking, which
pulls them through decoding), so a stage's time is counted exclusive of the stages it calls:
the clock keeps a stack of open stages and charges each moment to the innermost one. The
stages add up to the time measured on the calling thread; what no stage claims is ``other``.
CPU seconds are the process's (``time.process_time``): a stage's worker threads count (OpenCV,
onnxruntime), and so does the encoder thread's work while the stage runs, which is reported
on its own as well (``encode_thread``, measured by the writer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class StageClock:
    """Wall and CPU seconds per named stage, each exclusive of the stages opened inside it."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._open: list[str] = []
        self._wall_mark = time.perf_counter()
        self._cpu_mark = time.process_time()

    def _charge(self) -> None:
        """Charge the time since the last mark to the innermost open stage (or ``other``)."""
        wall, cpu = time.perf_counter(), time.process_time()
        stage = self._open[-1] if self._open else "other"
        self.wall[stage] = self.wall.get(stage, 0.0) + wall - self._wall_mark
        self.cpu[stage] = self.cpu.get(stage, 0.0) + cpu - self._cpu_mark
        self._wall_mark, self._cpu_mark = wall, cpu

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Count the time inside the ``with`` block, less its inner stages, to ``name``."""
        self._charge()
        self._open.append(name)
        try:
            yield
        finally:
            self._charge()
            self._open.pop()

    def stream(self, name: str, items: Iterator[T]) -> Iterator[T]:
        """``items``, with the time spent producing each one counted to ``name``."""
        iterator = iter(items)
        while True:
            with self.stage(name):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield item

    def timed(
        self, name: str, transform: Callable[[Iterator[T]], Iterator[T]]
    ) -> Callable[[Iterator[T]], Iterator[T]]:
        """A stream transformer (a remover) whose own time is counted to ``name``."""
        return lambda items: self.stream(name, transform(items))

    def to_json(self) -> dict[str, dict[str, float]]:
        """Per stage, ``{"wall_s", "cpu_s"}`` rounded to milliseconds, largest wall first."""
        self._charge()
        return {
            name: {"wall_s": round(self.wall[name], 3), "cpu_s": round(self.cpu[name], 3)}
            for name in sorted(self.wall, key=lambda n: -self.wall[n])
        }
