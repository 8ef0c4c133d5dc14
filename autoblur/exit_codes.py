"""The exit codes of every command, defined once so that their meanings cannot drift apart.

| code | meaning |
| --- | --- |
| 0 | success; ``scan``: nothing found; ``run``/``render``: verified clean |
| 1 | brands found (``scan``, ``batch --scan-only``); ``models verify``: a checksum differs |
| 2 | bad input, config, output or download: one line on stderr naming the file and the fix |
| 3 | ``batch``: some item failed |
| 4 | ``run``/``render``/``batch``: still found after the verification's second pass |
| 130 | interrupted (Ctrl-C); nothing half-written was left behind |
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of ``run``, ``scan``, ``render``, ``batch``, ``models`` and ``serve``."""

    OK = 0
    FOUND = 1
    ERROR = 2
    ITEM_FAILED = 3
    RESIDUAL = 4
    INTERRUPTED = 130
