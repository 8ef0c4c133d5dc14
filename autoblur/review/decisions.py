"""Decisions: what a reviewer chose for each occurrence of a scan, read from YAML or JSON.

.. code-block:: yaml

    occurrences:
      occ-0001: keep                      # leave it in the picture
      occ-0002: {action: blur, reason: "editorial, news footage"}
    brands:
      Acme: pixelate                      # every other Acme occurrence

An occurrence named in ``occurrences`` gets that action; else its brand's entry in
``brands``; else the action the scan gave it (from the rule file or ``--mode``). ``remove``
means the scan's action, or the config's removal action when the scan's was ``keep``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoblur.config import PipelineConfig
from autoblur.errors import ConfigError
from autoblur.yaml_file import read_yaml

DecisionAction = Literal["remove", "blur", "pixelate", "fill", "inpaint", "keep"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionEntry(_Strict):
    """One occurrence's decision with the reviewer's reason."""

    action: DecisionAction
    reason: str | None = None


class DecisionsFile(_Strict):
    """The top level of a decisions file."""

    occurrences: dict[str, DecisionEntry] = Field(default_factory=dict)
    brands: dict[str, DecisionAction] = Field(default_factory=dict)

    @field_validator("occurrences", mode="before")
    @classmethod
    def _bare_actions(cls, entries: object) -> object:
        """``occ-0001: keep`` is short for ``occ-0001: {action: keep}``."""
        if not isinstance(entries, dict):
            return entries
        return {k: {"action": v} if isinstance(v, str) else v for k, v in entries.items()}


@dataclass(frozen=True)
class Decision:
    """What is done with one occurrence, and why.

    Attributes:
        action: the removal action (``inpaint``, ``blur``, ``pixelate``, ``fill``) or ``keep``.
        reason: the reviewer's reason, if one was given.
        decided_by: ``decisions file`` (the occurrence's own entry), ``decisions file
            (brand)``, or where the scan's action came from when nothing named it: ``rule
            file`` or ``scan`` (cues given on the command line).
    """

    action: str
    reason: str | None
    decided_by: str


def load_decisions(path: Path) -> DecisionsFile:
    """Read and validate a decisions file (YAML, of which JSON is a subset).

    Raises:
        ConfigError: the file is missing, not YAML/JSON, or has an unknown key or action,
            naming the file and the key.
    """
    raw = read_yaml(path, "decisions file")
    try:
        return DecisionsFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: key '{where}': {first['msg']}") from None


def resolve_decisions(
    occurrences: list[dict],
    decisions: DecisionsFile | None,
    config: PipelineConfig,
    source: Path | None = None,
    scan_source: str = "rule file",
) -> dict[str, Decision]:
    """The decision of every occurrence of a scan report, by occurrence id.

    Args:
        occurrences: the scan report's ``occurrences`` entries.
        decisions: the reviewer's file, or None to follow the scan's actions.
        config: gives the removal action that ``remove`` means for a brand set to ``keep``.
        source: the decisions file's path, for error messages.
        scan_source: where the scan's actions came from (``rule file`` or ``scan``).

    Raises:
        ConfigError: the file names an occurrence id that the scan does not have.
    """
    decisions = decisions or DecisionsFile()
    known = {occ["id"] for occ in occurrences}
    unknown = sorted(set(decisions.occurrences) - known)
    if unknown:
        raise ConfigError(
            f"{source or 'decisions'}: unknown occurrence id {unknown[0]!r}; the scan has "
            f"{', '.join(sorted(known)) or 'no occurrences'}"
        )
    resolved = {}
    for occ in occurrences:
        entry = decisions.occurrences.get(occ["id"])
        if entry is not None:
            decision = Decision(entry.action, entry.reason, "decisions file")
        elif occ["brand"] in decisions.brands:
            decision = Decision(decisions.brands[occ["brand"]], None, "decisions file (brand)")
        else:
            decision = Decision(occ["action"], None, scan_source)
        if decision.action == "remove":
            decision = Decision(
                _removal(occ["action"], config), decision.reason, decision.decided_by
            )
        resolved[occ["id"]] = decision
    return resolved


def _removal(scan_action: str, config: PipelineConfig) -> str:
    if scan_action != "keep":
        return scan_action
    fallback = config.remove.mode or config.remove.default_action
    return fallback if fallback != "keep" else "inpaint"
