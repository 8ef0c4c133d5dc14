"""The streaming pipeline: decode, keyframes, detect, segment, track, remove, encode, report.

Frames flow through generators; the only frames held at once are those since the last
keyframe (at most ``keyframe_interval``), the ``track.lookback_keyframes`` stretches before
them (held back so that a logo first detected on a keyframe is tracked backwards into them),
plus what a temporal remover keeps in its window, so memory does not grow with the length of
the video.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from autoblur.errors import ConfigError
from autoblur.io import VideoFrame, VideoReader
from autoblur.io.format_plan import planned_format
from autoblur.job import Job, check_paths
from autoblur.keyframes.change import ChangeTrigger
from autoblur.keyframes.cuts import ANALYSIS_WIDTH, SceneCutDetector
from autoblur.keyframes.search import KeyframeSearch, SearchBoxes
from autoblur.progress import Progress, Silent
from autoblur.remove import MaskedFrame, build_removers
from autoblur.remove.mask_folder import MaskFolder
from autoblur.remove.write import write_removed
from autoblur.report.build import build_report, write_json_atomic
from autoblur.review.occurrences import Footprints, build_occurrences
from autoblur.review.saved_detections import MaskWriter, file_sha256, masks_path_for
from autoblur.review.thumbnails import thumbnail_jpeg
from autoblur.review.worst import WorstFrames
from autoblur.segment import build_segmenter
from autoblur.stage_clock import StageClock
from autoblur.timecode import source_clock
from autoblur.track import TrackManager, build_propagator
from autoblur.track.flat import follow_flat_marks
from autoblur.track.held import hold_overlays
from autoblur.track.lookback import LookBack
from autoblur.track.manager import FrameMasks
from autoblur.track.recover import LostTracks
from autoblur.track.refine import MaskRefiner
from autoblur.types import BrandCue, Detections, RegionMask, union_mask
from autoblur.verify.output import Repairs
from autoblur.verify.repair import repair_output
from autoblur.verify.run_checks import RunRecord, verify_run
from detectors import (
    BOX_ONLY_DETECTORS,
    detector_brands,
)
from detectors.build import build_detectors
from detectors.overlay import STEADY_KEYFRAMES

log = logging.getLogger(__name__)


class Pipeline:
    """Runs one :class:`Job`.

    Args:
        job: what to process and how.
        progress: told how far the run has got.
    """

    def __init__(self, job: Job, progress: Progress | None = None) -> None:
        self.job = job
        self.config = job.config
        self.progress = progress or Silent()
        self.clock = StageClock()  # wall and CPU seconds per stage, for the report
        self.encode_seconds = (0.0, 0.0)  # the encoder thread's, where there is an output
        self.thumbnails: dict[int, bytes] = {}
        self.output_format: dict | None = None
        self.footprints = Footprints()
        self.saved: MaskWriter | None = None
        self.keyframe_indices: list[int] = []
        # Keyframes taken because something appeared (off the schedule): not a missed keyframe
        # for a track they do not find.
        self._extra_keys: set[int] = set()
        # Frames whose pixels a remover changed (the others are the input's pictures).
        self.touched_frames: set[int] = set()
        # Per frame, (sources, (4,) float box) of every mask removed there and, on keyframes,
        # of what the detectors found (the detections' sources behind it): where the
        # verification looks for residual on it, and with which detectors.
        self.search_boxes: SearchBoxes = {}
        self.worst: WorstFrames | None = None  # while writing an output
        self._masks: MaskFolder | None = None  # the --masks folder being written

    def run(self) -> dict:
        """Process the job and return its report (also written to ``job.report_path``).

        Raises:
            AutoblurError: bad input, config or output; nothing is left half-written.
        """
        job = self.job
        if not job.cues:
            raise ConfigError(
                "no brands given: use --logo IMAGE, --text WORD, --prompt PHRASE or --rules FILE"
            )
        check_paths(job)
        started = time.perf_counter()
        with VideoReader(job.input_path) as reader:
            self.detectors = build_detectors(job.cues, job)
            boxes_expected = any(d.name in BOX_ONLY_DETECTORS for d in self.detectors)
            self.segmenter = build_segmenter(self.config, job.notices, boxes_expected)
            self.search = KeyframeSearch(
                self.detectors, detector_brands(self.detectors, job.cues), self.segmenter,
                self.config.detect.min_confidence, self.clock, self.search_boxes,
            )  # fmt: skip
            self.action_of = action_of = {cue.name: self._action(cue) for cue in job.cues}
            self.propagator = propagator = hold_overlays(
                follow_flat_marks(build_propagator(self.config, job.notices), self.detectors),
                self.detectors,
            )
            self.manager = TrackManager(propagator, self.config.track, action_of)
            self.lost = LostTracks(
                self.manager, propagator, self.search.find_near, self.config.track.match_iou
            )
            self.lookback = LookBack(self.manager, self.config.track.lookback_keyframes)
            built = build_removers(self.config, set(action_of.values()))
            removers = [self.clock.timed(f"remove: {r.action}", r) for r in built]
            self._announce([*self.detectors, self.segmenter, propagator])
            self.progress.start(reader.info.frame_count_header)
            masks = MaskFolder(job.masks_dir) if job.masks_dir is not None else None
            if job.output_path is None and job.report_path is not None:
                self.saved = MaskWriter(masks_path_for(job.report_path))
            self._masks = masks
            verification = None
            try:
                frames_done = self._stream(reader, removers, masks)
                tracks = self.manager.all_tracks()
                occurrences = build_occurrences(tracks, self.footprints, self.thumbnails)
                if job.output_path is not None and self.config.verify.enabled:
                    # A repair writes the output (and the --masks folder) again.
                    verification = self._verify(
                        tracks, (reader.info.height, reader.info.width), frames_done,
                        float(reader.info.fps),
                    )  # fmt: skip
            except BaseException:
                for partial in (masks, self.saved):
                    if partial is not None:
                        partial.discard()
                raise
            if masks is not None:
                masks.commit()
            clock = source_clock(job.input_path, reader.info.fps)
            saved_detections = self._save_detections((reader.info.height, reader.info.width))
            report = build_report(
                job=job,
                info=reader.info,
                frames_decoded=frames_done,
                tracks=self.manager.all_tracks(),
                seconds=time.perf_counter() - started,
                keyframes=len(self.keyframe_indices),
                stage_seconds=self.clock.to_json(),
                encode_seconds=self.encode_seconds,
                worker_seconds=[s for r in built for s in getattr(r, "worker_seconds", [])],
                thumbnails=self.thumbnails,
                output_format=self.output_format,
                occurrences=[o.to_json(clock) for o in occurrences],
                start_timecode=clock.start,
                saved_detections=saved_detections,
                verification=verification,
                track_extras=None if self.worst is None else self.worst.report_entries(),
            )
        if job.report_path is not None:
            write_json_atomic(job.report_path, report)
        return report

    def _save_detections(self, frame_hw: tuple[int, int]) -> dict | None:
        """Move the scan's saved masks into place; their entry of the report."""
        if self.saved is None:
            return None
        self.saved.commit(self.footprints.shot_starts, frame_hw)
        return {
            "path": self.saved.final.name,
            "input_sha256": file_sha256(self.job.input_path),
        }

    def _verify(
        self, tracks: list, frame_hw: tuple[int, int], frame_count: int, fps: float
    ) -> dict:
        """Check the output (:func:`~autoblur.verify.run_checks.verify_run`)."""
        record = RunRecord(
            self.job.input_path, self.job.output_path, self.config, self.detectors,
            self.action_of, tracks, self.keyframe_indices, self.touched_frames,
            [f for frames in self.refiner.low_confidence.values() for f in frames]
            + [worst.frame_idx for worst in self.worst.worst.values()],
            self.search_boxes, self.footprints.shot_starts, frame_hw, frame_count, fps,
        )  # fmt: skip

        def rerun(repairs: Repairs) -> None:
            shot_starts = set(self.footprints.shot_starts)
            repair_output(self.job.output_path, repairs, self.config, shot_starts, self._repaired)

        return verify_run(record, rerun, self.clock)

    def _repaired(self, item: MaskedFrame) -> None:
        """Note a frame that a repair wrote again: its masks, and its worst-frame picture."""
        if not item.masks:
            return
        if self._masks is not None:
            self._masks.add(item)
        if self.worst is not None:
            self.worst.refresh(item)

    def _announce(self, stages: list) -> None:
        """Tell the user the setup notices and where neural stages run, before any work."""
        devices = sorted({str(stage.device) for stage in stages if hasattr(stage, "device")})
        if devices:
            self.job.notices.append(f"neural models run on {', '.join(devices)}")
        for notice in self.job.notices:
            self.progress.note(notice)

    def _action(self, cue: BrandCue) -> str:
        mode = self.config.remove.mode
        return mode if mode is not None and cue.action != "keep" else cue.action

    def _stream(self, reader: VideoReader, removers: list, masks: MaskFolder | None) -> int:
        job = self.job
        frames_done = 0
        if job.output_path is None:
            self.output_format = planned_format(job.input_path, self.config.encode)
            for item in self._masked_frames(reader.frames()):
                if masks is not None:
                    masks.write(item)
                frames_done += 1
                self.progress.advance(1)
            return frames_done
        self.worst = WorstFrames(pictures=job.thumbnails)
        worst = self.worst

        def written(item: MaskedFrame) -> None:
            worst.after(item)
            if item.changed_xyxy is not None:
                self.touched_frames.add(item.frame.index)
            if masks is not None:
                masks.write(item)

        result = write_removed(
            reader,
            job.output_path,
            self.config.encode,
            self._masked_frames,
            removers,
            self.progress,
            written,
        )
        job.notices.extend(result.notices)
        self.encode_seconds = result.encode_seconds
        self.output_format = result.output_format
        return result.frames

    def _masked_frames(self, frames: Iterator[VideoFrame]) -> Iterator[MaskedFrame]:
        self.refiner = MaskRefiner(self.config.remove.margin_px)
        for frame, track_masks, cut in self._tracked(self.clock.stream("decode", frames)):
            # Refined masks (the picture's own logo pixels joined, the margin grown with the
            # speed) for every track: a scan saves them for render, where a reviewer may decide
            # to remove what the rule file keeps.
            with self.clock.stage("refinement"):
                refined = {
                    track_id: self.refiner.refine_track(
                        frame.rgb, frame.index, self.manager.track(track_id), mask
                    )
                    for track_id, mask in track_masks.items()
                }
            self.footprints.add(frame.index, track_masks, cut)
            if self.saved is not None:
                self.saved.add(frame.index, refined)
            by_action: dict[str, list] = {}
            removed: dict[int, tuple[str, RegionMask]] = {}
            for track_id, mask in refined.items():
                action = self.manager.action_of_track(track_id)
                if action != "keep":
                    by_action.setdefault(action, []).append(mask)
                    removed[track_id] = (action, mask)
            if self.worst is not None and removed:  # no picture to convert on other frames
                self.worst.before(frame.index, frame.rgb, removed)
            if removed:
                self.search_boxes.setdefault(frame.index, []).extend(
                    (frozenset(self.manager.track(track_id).sources), mask.xyxy)
                    for track_id, (_, mask) in removed.items()
                )
            masks = {a: union_mask(m) for a, m in by_action.items()}
            yield MaskedFrame(frame, masks, starts_shot=cut)

    def _tracked(
        self, frames: Iterator[VideoFrame]
    ) -> Iterator[tuple[VideoFrame, FrameMasks, bool]]:
        """Frames in order with their track masks and whether they follow a cut.

        Keyframes come on every Nth frame of the file (index a multiple of N), at cuts, and
        where something new appeared on the picture (:class:`~autoblur.keyframes.change.ChangeTrigger`, config ``change_keyframes``).

        A scan may space its keyframes out to ``scan_idle_keyframe_interval`` while no brand is
        on screen (off by default: an appearance shorter than that can be missed); the backward
        tracking from the keyframe that finds one covers the frames before it. On a GPU the
        keyframes of several stretches are detected in one batch (``_keyframe_batch``), which
        holds that many stretches of frames back.
        """
        scene = SceneCutDetector(self.config.scene_cut)
        trigger = (
            ChangeTrigger(max(2, self.config.keyframe_interval // 4))
            if self.config.change_keyframes
            else None
        )
        scanning = self.job.output_path is None
        batch_size = self._keyframe_batch()
        stretches: list[tuple[list[VideoFrame], VideoFrame, bool]] = []
        pending: list[VideoFrame] = []
        last_key: int | None = None
        for frame in frames:
            with self.clock.stage("scene cuts"):
                preview = frame.preview(ANALYSIS_WIDTH)
                cut = scene.is_cut(preview)
            since = 0 if last_key is None else frame.index - last_key
            with self.clock.stage("change trigger"):
                appeared = trigger is not None and trigger.wants_keyframe(preview, since)
            interval = self.config.keyframe_interval
            idle_interval = self.config.scan_idle_keyframe_interval
            if scanning and idle_interval and not self.manager.active:
                interval = max(interval, idle_interval)
            # Regular keyframes sit on the frames whose index the interval divides (unless a
            # cut or an appearance took one less than half an interval before), so that what
            # came long before does not move them: a piece of a long file read from the middle
            # of a shot has the same keyframes as one process. No keyframe is more than 1.5
            # intervals after the one before.
            on_grid = frame.index % interval == 0 and since >= max(1, interval // 2)
            if last_key is None or cut or appeared or on_grid:
                if trigger is not None:
                    trigger.keyframe()
                if appeared and not cut and since < interval:
                    self._extra_keys.add(frame.index)
                stretches.append((pending, frame, cut))
                pending, last_key = [], frame.index
                if len(stretches) >= batch_size:
                    yield from self._keyframes(stretches)
                    stretches = []
            else:
                pending.append(frame)
        if pending:  # the last frame closes the final stretch like a keyframe
            stretches.append((pending[:-1], pending[-1], False))
        yield from self._keyframes(stretches)
        yield from self.lookback.release()

    def _keyframe_batch(self) -> int:
        """Keyframes detected per batch: the config's, or on a GPU the prompt detector's."""
        if self.config.detect.keyframe_batch is not None:
            return self.config.detect.keyframe_batch
        on_gpu = any(
            getattr(getattr(d, "device", None), "type", "cpu") == "cuda" for d in self.detectors
        )
        return self.config.detect.grounding_dino.batch_size if on_gpu else 1

    def _keyframes(
        self, stretches: list[tuple[list[VideoFrame], VideoFrame, bool]]
    ) -> Iterator[tuple[VideoFrame, FrameMasks, bool]]:
        """Detect, track and hand the stretches' frames on, ``lookback_keyframes`` stretches late.

        The held stretches are where a track first detected on a later keyframe is followed
        backwards, back to the last cut (:class:`~autoblur.track.lookback.LookBack`), and where
        an overlay found after a cut goes back into the shot before. A track lost inside a
        stretch is looked for once more where it was lost
        (:class:`~autoblur.track.recover.LostTracks`).
        """
        keys = [key for _, key, _ in stretches]
        first = len(self.keyframe_indices)
        self.keyframe_indices.extend(key.index for key in keys)
        for n, ((between, key, cut), detections) in enumerate(
            zip(stretches, self._detect(keys), strict=True)
        ):
            extra = key.index in self._extra_keys
            self._extra_keys.discard(key.index)
            with self.clock.stage("tracking"):
                per_frame = self.manager.advance(between, key, detections, cut, extra=extra)
            with self.clock.stage("tracking: lost tracks looked for again"):
                self.lost.recover(between, key, cut, per_frame)
            if self.job.thumbnails:
                self._capture_thumbnails(key)
            cuts = [False] * len(between) + [cut]  # a cut always makes its frame a keyframe
            stretch = list(zip([*between, key], per_frame, cuts, strict=True))
            with self.clock.stage("tracking: look-back"):
                # An overlay is reported on the last of the keyframes that showed it.
                shown = self.keyframe_indices[max(first + n - STEADY_KEYFRAMES + 1, 0)]
                self.lookback.carry_overlays(stretch, since=shown)
                self.lookback.reach_back(stretch[0][0])
            yield from self.lookback.hold(stretch)

    def _detect(self, keys: list[VideoFrame]) -> list[Detections]:
        """The detectors and the segmenter on the keyframes (a test puts its own finds here)."""
        return self.search.detect(keys)

    def _capture_thumbnails(self, key: VideoFrame) -> None:
        for track in self.manager.active.values():
            if track.track_id in self.thumbnails or not track.keyframes:
                continue
            if track.keyframes[-1]["frame"] == key.index:
                self.thumbnails[track.track_id] = thumbnail_jpeg(
                    key.rgb, track.keyframes[-1]["xyxy"]
                )
