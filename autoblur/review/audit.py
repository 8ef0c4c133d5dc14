"""The audit record of a render: what was removed or kept, on whose decision, from what input.

Written next to the output (``clean.mp4`` -> ``clean.audit.json``), as reviewers of redaction
tools expect: the sha256 of the input and the output, the scan and the decisions file it came
from, and every occurrence with its timecodes, its decision, the reason and where the decision
came from, plus the autoblur version and the config.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from autoblur import __version__
from autoblur.config import PipelineConfig
from autoblur.remove.write import Written
from autoblur.review.decisions import Decision
from autoblur.review.saved_detections import Scan, file_sha256


def audit_path(output_path: Path) -> Path:
    """Where a render's audit record goes: ``clean.mp4`` -> ``clean.audit.json``."""
    return output_path.with_name(f"{output_path.stem}.audit.json")


def _file(path: Path | None) -> dict | None:
    return None if path is None else {"path": str(path), "sha256": file_sha256(path)}


def build_audit(
    scan: Scan,
    input_path: Path,
    output_path: Path,
    decisions_path: Path | None,
    decisions: dict[str, Decision],
    config: PipelineConfig,
    written: Written,
    seconds: float,
    crops: tuple[dict[str, bytes], dict[str, bytes]],
    verification: dict | None = None,
) -> dict:
    """The audit record (also the render's report, which the review sheet shows).

    Args:
        scan: the scan the render came from, checked against the input.
        input_path: the video rendered (never modified).
        output_path: the finished output video.
        decisions_path: the reviewer's decisions file, if any.
        decisions: each occurrence's decision, by id.
        config: the settings of the render.
        written: what the writer wrote: frames, the output's format, its notices.
        seconds: wall time of the render.
        crops: before and after JPEG crops by occurrence id.
        verification: the verification's section, as in ``run``'s report (None: not verified).
    """
    before, after = crops
    occurrences = []
    for occ in scan.report["occurrences"]:
        decision = decisions[occ["id"]]
        entry = {
            **occ,
            "decision": decision.action,
            "reason": decision.reason,
            "decided_by": decision.decided_by,
        }
        for key, images in (("before", before), ("after", after)):
            if occ["id"] in images:
                entry[f"{key}_jpeg_base64"] = base64.b64encode(images[occ["id"]]).decode("ascii")
        occurrences.append(entry)
    removed = [o for o in occurrences if o["decision"] != "keep"]
    return {
        "autoblur_version": __version__,
        "mode": "render",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {**scan.report["input"], "path": str(input_path), "sha256": scan.input_sha256},
        "output": {"path": str(output_path), "sha256": file_sha256(output_path)},
        "output_format": written.output_format,
        "notices": written.notices,
        "scan": _file(scan.path),
        "decisions_file": _file(decisions_path),
        "rules": scan.report.get("rules"),
        "brands_found": dict(Counter(o["brand"] for o in occurrences)),
        "brands_removed": dict(Counter(o["brand"] for o in removed)),
        "occurrences": occurrences,
        "timing": {
            "seconds": round(seconds, 3),
            "fps": round(written.frames / seconds, 2) if seconds > 0 else None,
            "frames": written.frames,
        },
        "verification": verification,
        "config": config.model_dump(mode="json"),
    }
