"""What a batch processes: videos found in a folder or listed in a manifest."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from autoblur.errors import ConfigError
from autoblur.job import default_output
from autoblur.resources import data_dir

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".mxf"}


@dataclass(frozen=True)
class BatchItem:
    """One video of a batch.

    Attributes:
        key: a stable name for the item (its path relative to the batch source).
        input_path: the video.
        rules_path: its rule file.
        output_name: the cleaned video's path relative to the output folder.
        problem: why the item cannot run (a bad manifest row), or None.
    """

    key: str
    input_path: Path
    rules_path: Path | None
    output_name: str
    problem: str | None = None


def _folder_items(folder: Path, out_dir: Path, rules: Path | None) -> list[BatchItem]:
    out_resolved = out_dir.resolve()
    items = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in VIDEO_EXTENSIONS or not path.is_file():
            continue
        if path.resolve().is_relative_to(out_resolved):
            continue  # never take our own outputs as inputs
        key = path.relative_to(folder).as_posix()
        items.append(BatchItem(key, path, rules, str(default_output(Path(key)))))
    return items


def _manifest_rows(manifest: Path) -> list[dict[str, str]]:
    text = manifest.read_text(encoding="utf-8")
    if manifest.suffix.lower() == ".csv":
        return [dict(row) for row in csv.DictReader(text.splitlines())]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{manifest}: line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{manifest}: line {number}: expected an object with a 'path'")
        rows.append({k: str(v) for k, v in row.items() if v is not None})
    return rows


def _manifest_items(manifest: Path, out_dir: Path, rules: Path | None) -> list[BatchItem]:
    base = manifest.parent
    items: list[BatchItem] = []
    for number, row in enumerate(_manifest_rows(manifest), 1):
        raw_path = (row.get("path") or "").strip()
        if not raw_path:
            raise ConfigError(f"{manifest}: row {number}: the 'path' column is empty")
        path = base / raw_path
        # One video may be listed for several countries: each row is its own item.
        key = raw_path if all(i.key != raw_path for i in items) else f"{raw_path}#{number}"
        item_rules = rules
        problem = None
        if row.get("rules"):
            item_rules = base / row["rules"]
        elif row.get("country"):
            item_rules = data_dir("brand_lists") / f"{row['country'].strip().lower()}.yaml"
            if not item_rules.exists():
                problem = f"no rule file for country {row['country']!r}"
        inside = not Path(raw_path).is_absolute() and ".." not in Path(raw_path).parts
        output = (row.get("output") or "").strip() or str(
            default_output(Path(raw_path if inside else Path(raw_path).name))
        )
        target = (out_dir / output).resolve()
        if Path(output).is_absolute() or not target.is_relative_to(out_dir.resolve()):
            problem = f"output {output!r} would leave the output folder"
        items.append(BatchItem(key, path, item_rules, output, problem))
    return items


def discover_items(source: Path, out_dir: Path, rules: Path | None) -> list[BatchItem]:
    """The items of a batch: every video under a folder, or the rows of a CSV/JSONL manifest.

    A manifest has a ``path`` column and optional ``rules`` (a rule file), ``country`` (a
    shipped rule file) and ``output`` (a name inside the output folder); paths are relative to
    the manifest.

    Raises:
        ConfigError: the source is missing or unreadable, or no item has a rule file.
    """
    if not source.exists():
        raise ConfigError(f"{source}: batch source not found (give a folder or a .csv/.jsonl)")
    if source.is_dir():
        items = _folder_items(source, out_dir, rules)
    elif source.suffix.lower() in (".csv", ".jsonl"):
        items = _manifest_items(source, out_dir, rules)
    else:
        raise ConfigError(f"{source}: a batch source is a folder or a .csv/.jsonl manifest")
    if not items:
        raise ConfigError(f"{source}: no videos found")
    outputs = [item.output_name for item in items]
    if len(set(outputs)) != len(outputs):
        raise ConfigError(f"{source}: two items would write the same output; set 'output'")
    missing_rules = [item.key for item in items if item.rules_path is None and item.problem is None]
    if missing_rules:
        raise ConfigError(f"no rule file for {missing_rules[0]}: give --rules FILE")
    return items
