"""Render a scan's occurrences as the reviewer decided, from its saved masks: no detector runs.

A render decodes the input once, takes each frame's masks from the scan's archive, applies
each occurrence's decided action with the same removers as ``run``, and encodes with the same
writer, so the output keeps the input's format, timestamps and audio. It needs neither the
reference images nor the models that found the marks to render; like ``run``, it then verifies
its output with them where they are still there (:mod:`autoblur.verify.render`), rendering
again with repair masks where the detectors still find a removed mark.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from autoblur.config import PipelineConfig
from autoblur.errors import ConfigError, VideoError
from autoblur.io import VideoFrame, VideoReader
from autoblur.io.writer import check_output_path
from autoblur.progress import Progress, Silent
from autoblur.remove import MaskedFrame, build_removers, masked_frame
from autoblur.remove.write import write_removed
from autoblur.report.build import write_json_atomic
from autoblur.review.audit import audit_path, build_audit
from autoblur.review.crops import BeforeAfter
from autoblur.review.decisions import Decision, load_decisions, resolve_decisions
from autoblur.review.saved_detections import SavedMasks, Scan, load_scan
from autoblur.verify.follow import TrackRecord, add_left, find_left, follow_jobs
from autoblur.verify.output import Repairs, verification_entry, verify_and_repair
from autoblur.verify.render import drop_kept, render_frames, scan_detectors


def render_video(
    input_path: Path,
    scan_path: Path,
    output_path: Path,
    decisions_path: Path | None = None,
    config: PipelineConfig | None = None,
    progress: Progress | None = None,
    verify: bool | None = None,
) -> dict:
    """Render ``input_path`` to ``output_path`` from a scan report and a reviewer's decisions.

    Args:
        input_path: the video that was scanned (never modified).
        scan_path: the report of ``autoblur scan INPUT --report scan.json``.
        output_path: the cleaned video; nothing appears there unless the render succeeds.
        decisions_path: a decisions file (see :mod:`autoblur.review.decisions`); None to follow the
            actions the scan gave.
        config: removal and encoding settings; None for the scan's.
        progress: told how far the render has got.
        verify: check the output with the scan's detectors and repair what they still find
            (as ``run`` does); None for the config's ``verify.enabled``.

    Returns:
        The render report, also written as the audit record next to the output.

    Raises:
        AutoblurError: a scan of another video, an unknown occurrence id, a bad decisions
            file or an unwritable output; nothing is left half-written.
    """
    started = time.perf_counter()
    progress = progress or Silent()
    input_path, scan_path, output_path = Path(input_path), Path(scan_path), Path(output_path)
    check_output_path(input_path, output_path)
    scan = load_scan(scan_path, input_path)
    for path in (output_path, audit_path(output_path)):
        if path.resolve() in (scan_path.resolve(), scan.masks_path.resolve()):
            raise VideoError(f"{path}: would overwrite the scan {scan_path}; choose another -o")
    config = config or _scan_config(scan_path, scan.report)
    decisions = resolve_decisions(
        scan.report["occurrences"],
        load_decisions(decisions_path) if decisions_path is not None else None,
        config,
        decisions_path,
        "rule file" if scan.report.get("rules") else "scan",
    )
    renderer = _Renderer(input_path, output_path, scan, config, decisions, progress)
    renderer.write()
    verification, notice = None, None
    if config.verify.enabled if verify is None else verify:
        verification, notice = renderer.verify()
    written, crops = renderer.written, renderer.crops
    notices = [*written.notices, *([notice] if notice else [])]
    audit = build_audit(
        scan,
        input_path,
        output_path,
        decisions_path,
        decisions,
        config,
        written._replace(notices=notices),
        time.perf_counter() - started,
        (crops.before, crops.after),
        verification,
    )
    for notice in notices:
        progress.note(notice)
    write_json_atomic(audit_path(output_path), audit)
    return audit


def _scan_config(scan_path: Path, report: dict) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(report["config"])
    except (KeyError, ValidationError):
        raise ConfigError(
            f"{scan_path}: its config is missing or from another autoblur version; "
            "give --config or scan again"
        ) from None


def _masked_frames(
    frames: Iterator[VideoFrame],
    saved: SavedMasks,
    action_of_track: dict[int, str],
    crops: BeforeAfter,
    repairs: Repairs,
) -> Iterator[MaskedFrame]:
    """Each decoded frame with its saved masks, joined per decided action, and its repairs."""
    cuts = set(saved.shot_starts) - {0}
    masked = saved.frames()
    upcoming = next(masked, None)
    for frame in frames:
        track_masks = {}
        if upcoming is not None and upcoming[0] == frame.index:
            track_masks = upcoming[1]
            upcoming = next(masked, None)
        crops.take_before(frame, track_masks)
        yield masked_frame(
            frame,
            track_masks,
            action_of_track.__getitem__,
            0,  # the scan saved its refined masks, margin included
            frame.index in cuts,
            repairs.get(frame.index),
        )


class _Renderer:
    """Writes the output from the saved masks, again with repairs where verification asks."""

    def __init__(
        self,
        input_path: Path,
        output_path: Path,
        scan: Scan,
        config: PipelineConfig,
        decisions: dict[str, Decision],
        progress: Progress,
    ) -> None:
        self.input_path, self.output_path, self.scan = input_path, output_path, scan
        self.config, self.decisions, self.progress = config, decisions, progress
        occurrences = scan.report["occurrences"]
        self.action_of_track = {
            track_id: decisions[occ["id"]].action
            for occ in occurrences
            for track_id in occ["track_ids"]
        }
        # A brand's action is that of the occurrences removed; keep where all are kept.
        self.action_of: dict[str, str] = {}
        for occ in occurrences:
            action = decisions[occ["id"]].action
            if self.action_of.get(occ["brand"], "keep") == "keep":
                self.action_of[occ["brand"]] = action
        self.repairs: Repairs = {}

    def write(self) -> None:
        """Render the output (with the repairs so far); keep what the writer reports."""
        actions = set(self.action_of_track.values())
        actions |= {action for repair in self.repairs.values() for action in repair}
        self.crops = BeforeAfter(self.scan.report["occurrences"])
        saved = SavedMasks(self.scan.masks_path)
        try:
            with VideoReader(self.input_path) as reader:
                self.progress.start(reader.info.frame_count_header)
                self.written = write_removed(
                    reader,
                    self.output_path,
                    self.config.encode,
                    partial(
                        _masked_frames,
                        saved=saved,
                        action_of_track=self.action_of_track,
                        crops=self.crops,
                        repairs=self.repairs,
                    ),
                    build_removers(self.config, actions),
                    self.progress,
                    self.crops.take_after,
                )
        finally:
            saved.close()

    def verify(self) -> tuple[dict | None, str | None]:
        """Verify the output as ``run`` does; None and a notice where it cannot be verified."""
        report = self.scan.report
        kept = {i for i, d in self.decisions.items() if d.action == "keep"}
        removed = {o["id"] for o in report["occurrences"]} - kept
        if not removed:
            return verification_entry([], []) | {"residual_frames_first_pass": []}, None
        detectors, notice = scan_detectors(report, self.action_of, self.input_path, self.config)
        if detectors is None:
            return None, notice

        def rerun(repairs: Repairs) -> None:
            self.repairs.update(repairs)
            self.progress = Silent()  # the writer's notices were given once already
            self.write()

        entry = verify_and_repair(
            self.output_path,
            detectors,
            render_frames(report, removed),
            self.action_of,
            self.config.remove.margin_px,
            rerun,
            self.config.detect.min_confidence,
            drop_kept(report, kept),
        )
        if self.config.verify.follow_frames:
            add_left(entry, *self._follow(removed))
        return entry, None

    def _follow(self, removed: set[str]) -> tuple[int, list]:
        """Follow the removed occurrences' marks through the input (``autoblur.verify.follow``)."""
        report = self.scan.report
        ids = {t for o in report["occurrences"] if o["id"] in removed for t in o["track_ids"]}
        tracks = [TrackRecord.from_report(t) for t in report["tracks"] if t["id"] in ids]
        saved = SavedMasks(self.scan.masks_path)
        try:
            shot_starts = saved.shot_starts
        finally:
            saved.close()
        video = report["input"]
        jobs = follow_jobs(
            tracks, shot_starts, video["frame_count"], (video["height"], video["width"]),
            self.config.verify.follow_frames, min_score=self.config.verify.follow_min_score,
        )  # fmt: skip
        return find_left(self.input_path, self.output_path, jobs)
