"""The batch's memory between runs: which items finished, from which input and rules."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from autoblur.report.build import write_json_atomic
from autoblur.rules import load_rules

STATE_NAME = "batch_state.json"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rules_digest(path: Path) -> str:
    """sha256 of what a rule file means: its brands, actions, words and logo images' bytes."""
    rules = load_rules(path)
    content = {
        "country": rules.country,
        "default_action": rules.default_action,
        "brands": [
            {
                "name": b.name,
                "action": b.action,
                "text": list(b.text),
                "prompts": list(b.prompts),
                "logos": [file_digest(p) for p in b.logos],
            }
            for b in rules.brands
        ],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class BatchState:
    """The state file in the output folder, rewritten atomically after every finished item.

    Args:
        out_dir: the batch's output folder.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_NAME
        self.items: dict[str, dict] = {}
        if self.path.exists():
            try:
                self.items = json.loads(self.path.read_text(encoding="utf-8"))["items"]
            except (ValueError, KeyError):
                self.items = {}  # an unreadable state only costs re-running the items

    def finished(self, key: str, fingerprint: dict) -> dict | None:
        """The saved result of an item whose input and rules are unchanged; None otherwise."""
        saved = self.items.get(key)
        if saved is None or saved.get("status") == "failed":
            return None
        if saved.get("fingerprint") != fingerprint:
            return None
        outputs = [saved.get("report"), saved.get("output")]
        if not all(Path(p).exists() for p in outputs if p):
            return None
        return saved

    def record(self, key: str, result: dict) -> None:
        """Save one item's result."""
        self.items[key] = result
        write_json_atomic(self.path, {"version": 1, "items": self.items})
