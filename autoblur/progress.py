"""How far a job has got: the interface the CLI's bar, the service and the batch runner fill."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives progress: the expected frame count once known, then frames as they finish."""

    def start(self, total_frames: int | None) -> None:
        """The input is open; ``total_frames`` is the container's claim (may be wrong)."""
        ...

    def advance(self, frames: int) -> None:
        """``frames`` more frames are finished."""
        ...

    def note(self, message: str) -> None:
        """Something the user should know before the work starts (a fallback, the device)."""
        ...


class Silent:
    """A :class:`Progress` that tells no one."""

    def start(self, total_frames: int | None) -> None:
        """Ignore the start."""

    def advance(self, frames: int) -> None:
        """Ignore the frames done."""

    def note(self, message: str) -> None:
        """Ignore the note."""
