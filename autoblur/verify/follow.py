"""Each removed mark followed through the input: a check of the output that asks no detector.

A track ends where the tracker, or a keyframe the detectors missed, says its mark is gone, and
between detections the tracker's masks may slip off it; a verification that asks the same
detectors again cannot tell where either went wrong. This check starts from every detection of
every track (where a detector saw the mark) and follows the mark through the input, frame by
frame by normalized cross-correlation: to the track's next detection, and from its last and
first detections ``reach`` frames past its ends. On every frame where the output left the
pixels at the mark's place as the input had them, it asks: do they look like the mark as it was
on the last frame it was removed, or like the fill that replaced it? Looking like the mark is a
brand left on screen.

The comparison is made on the pixels where the mark and its fill differ (the mark's own pixels),
so a background that stays put does not pass for the mark, and a mark whose box is mostly
background is still told apart. Following stops where the correlation drops (the mark left,
was hidden or changed too much), where the pixels look like the fill, at a cut, at the next
detection, or ``reach`` frames past the track.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from autoblur.io import VideoReader
from autoblur.types import RegionMask
from autoblur.verify.output import widened

_SAME = 12  # a channel within this many levels of the input is unchanged
_MATCH = 0.7  # frame-to-frame correlation below this: the mark is no longer followed
_LIKE_MARK = 0.7  # distance to the mark / distance to its fill below this: the mark is there
_REMOVED = 0.15  # a box with this share of changed pixels was removed on that frame
_KEPT = 0.25  # a box with at most this share of changed pixels was left (nearly) as it was
_MARK_PX = 20  # levels between mark and fill for a pixel to be the mark's
_MIN_MARK_PX = 30  # fewer mark pixels than this: no verdict
_MIN_SIDE = 10  # boxes smaller than this are not followed
_SCALES = (0.9, 1.0, 1.0 / 0.9)  # size changes tried from one frame to the next
_MAX_SPAN = 240  # frames between an anchor and the end of its reach, at most
_COARSE_SIDE = 48  # templates larger than this are first sought shrunk to it


@dataclass(frozen=True)
class FollowJob:
    """One direction to follow one track's mark in.

    Attributes:
        track_id: the track.
        brand: its brand.
        anchor: the frame of the detection the following starts from.
        box: (x0, y0, x1, y1) ints, the detection's box, inside the frame.
        step: +1 (towards the next detection, or past the track's end) or -1 (back from the
            first detection, past the track's start).
        stop: the last frame to follow to, inclusive (in the anchor's shot).
        roi: (x0, y0, x1, y1) ints, the part of the frames kept for this job.
        frame_hw: the frames' (height, width).
    """

    track_id: int
    brand: str
    anchor: int
    box: tuple[int, int, int, int]
    step: int
    stop: int
    roi: tuple[int, int, int, int]
    frame_hw: tuple[int, int]

    @property
    def frames(self) -> range:
        """The frames this job reads, in increasing order."""
        lo, hi = sorted((self.anchor, self.stop))
        return range(lo, hi + 1)


@dataclass(frozen=True)
class TrackRecord:
    """What following needs of a track, as a report lists it (``run`` has the tracks)."""

    track_id: int
    brand: str
    first_frame: int
    last_frame: int
    keyframes: list[dict]

    @classmethod
    def from_report(cls, track: dict) -> TrackRecord:
        """The track of a report's ``tracks`` entry."""
        return cls(
            track["id"], track["brand"], track["first_frame"], track["last_frame"],
            track["keyframes"],
        )  # fmt: skip


@dataclass(frozen=True)
class LeftFrame:
    """A frame where a followed mark was left on screen.

    Attributes:
        frame_idx: the frame.
        time_s: its presentation time.
        track_id: the track whose mark it is.
        brand: its brand.
        xyxy: where the mark is, frame pixels.
        mask: what was removed inside the mark's box on the last frame it was removed, moved
            and sized to ``xyxy`` (what a repair removes); None: not repaired.
    """

    frame_idx: int
    time_s: float
    track_id: int
    brand: str
    xyxy: tuple[int, int, int, int]
    mask: RegionMask | None = None


def follow_jobs(
    tracks: Iterable,
    shot_starts: Sequence[int],
    frame_count: int,
    frame_hw: tuple[int, int],
    reach: int,
    kept_brands: frozenset[str] = frozenset(),
    min_score: float = 0.0,
) -> list[FollowJob]:
    """The jobs for ``tracks``: from each detection to the next, past the last, before the first.

    A track found on one keyframe only, with a score under ``min_score``, is not followed: it
    may be a false find, and the scenery it found would stay on screen past its end and pass for
    a brand left. (Scores are the detectors' own: a textured logo matched by 25 SIFT inliers
    scores 0.6 on every keyframe of a true track, so the score alone cannot tell.)

    Args:
        tracks: the run's tracks (``track_id``, ``brand``, ``first_frame``, ``last_frame`` and
            ``keyframes``: records with ``frame`` and ``xyxy``).
        shot_starts: the first frame of every shot, in order (0 first).
        frame_count: frames in the video.
        frame_hw: the frames' (height, width).
        reach: frames to follow past a track's ends.
        kept_brands: brands left on purpose: not followed.
        min_score: the least score of a track found on one keyframe only, to be followed.
    """
    jobs = []
    for track in tracks:
        anchors = sorted(track.keyframes, key=lambda k: k["frame"])
        if not anchors or track.brand in kept_brands:
            continue
        if len(anchors) == 1 and float(anchors[0].get("score", 1.0)) < min_score:
            continue
        shot = max(0, int(np.searchsorted(shot_starts, anchors[0]["frame"], side="right")) - 1)
        lo = shot_starts[shot] if len(shot_starts) else 0
        hi = shot_starts[shot + 1] - 1 if shot + 1 < len(shot_starts) else frame_count - 1
        legs = [(a, 1, int(b["frame"]) - 1, b) for a, b in pairwise(anchors)]
        legs.append((anchors[-1], 1, min(hi, track.last_frame + reach), None))
        legs.append((anchors[0], -1, max(lo, track.first_frame - reach), None))
        for record, step, stop, towards in legs:
            job = _job(track, record, step, stop, towards, frame_hw)
            if job is not None:
                jobs.append(job)
    return jobs


def _job(
    track, record: dict, step: int, stop: int, towards: dict | None, frame_hw: tuple[int, int]
) -> FollowJob | None:
    """One job from the detection ``record`` to ``stop``; None where there is nothing to do."""
    h, w = frame_hw
    frame = int(record["frame"])
    if (stop - frame) * step <= 0 or abs(stop - frame) > _MAX_SPAN:
        return None
    x0, y0, x1, y1 = (int(round(v)) for v in record["xyxy"])
    box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
    if min(box[2] - box[0], box[3] - box[1]) < _MIN_SIDE:
        return None
    around = np.array(box, float)
    if towards is not None:  # the region covers the next detection too
        nx0, ny0, nx1, ny1 = towards["xyxy"]
        around = np.array([min(box[0], nx0), min(box[1], ny0), max(box[2], nx1), max(box[3], ny1)])
    pad = 1.5 * max(box[2] - box[0], box[3] - box[1]) + 16
    roi = _inside(around + (-pad, -pad, pad, pad), frame_hw)
    return FollowJob(track.track_id, track.brand, frame, box, step, stop, roi, frame_hw)


class _Crops:
    """A job's part of each frame it reads; its grey pictures and changed pixels on demand."""

    def __init__(self) -> None:
        self.pictures: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # input, output
        self.times: dict[int, float] = {}
        self._grey: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __contains__(self, frame: int) -> bool:
        return frame in self.pictures

    def grey(self, frame: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``frame``'s grey input and output, and where the output changed the input."""
        if frame not in self._grey:
            a, b = self.pictures[frame]
            red, green, blue = cv2.split(cv2.absdiff(a, b))
            changed = cv2.max(cv2.max(red, green), blue) > _SAME
            self._grey[frame] = (
                cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32),
                cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32),
                changed,
            )
        return self._grey[frame]


def find_left(
    input_path: Path, output_path: Path, jobs: Sequence[FollowJob]
) -> tuple[int, list[LeftFrame]]:
    """Follow every job's mark; the frames where the output left it on screen.

    Both videos are read once, together, over the frames the jobs need; each job keeps only
    its region of those frames, and runs as soon as its last frame is read.

    Returns:
        The number of frames read, and the frames with a mark left, in frame order.

    Raises:
        VideoError: a video cannot be read.
    """
    wanted = {f for job in jobs for f in job.frames}
    if not wanted:
        return 0, []
    starting: dict[int, list[int]] = {}
    for i, job in enumerate(jobs):
        starting.setdefault(job.frames[0], []).append(i)
    open_jobs: dict[int, _Crops] = {}  # the jobs whose frames are being read
    left: list[LeftFrame] = []
    read = 0
    with VideoReader(input_path) as before, VideoReader(output_path) as after:
        pairs = zip(before.frames(only=wanted), after.frames(only=wanted), strict=False)
        for a, b in pairs:
            if a.index != b.index:
                break  # the output lost a frame: the frame-by-frame checks report that
            read += 1
            f = a.index
            open_jobs.update((i, _Crops()) for i in starting.get(f, []))
            for i, crops in list(open_jobs.items()):
                _keep(crops, jobs[i], f, a.time_s, a.rgb, b.rgb)
                if f == jobs[i].frames[-1]:
                    left.extend(_follow(jobs[i], open_jobs.pop(i)))
    return read, sorted(left, key=lambda item: (item.frame_idx, item.track_id))


def _keep(
    crops: _Crops, job: FollowJob, f: int, time_s: float, rgb_in: np.ndarray, rgb_out: np.ndarray
) -> None:
    """Store ``job``'s region of frame ``f``."""
    x0, y0, x1, y1 = job.roi
    crops.pictures[f] = (rgb_in[y0:y1, x0:x1].copy(), rgb_out[y0:y1, x0:x1].copy())
    crops.times[f] = time_s


def _follow(job: FollowJob, crops: _Crops) -> list[LeftFrame]:
    """Follow one job's mark from its anchor; the frames where it was left on screen."""
    ox, oy = job.roi[:2]
    box = np.array(job.box, float) - (ox, oy, ox, oy)  # in the job's region from here on
    motion = np.zeros(4)
    mark = fill = shape = None  # the mark, its fill and what was removed, when last removed
    left = []
    f = job.anchor + job.step
    while f in crops and (f - job.stop) * job.step <= 0:
        prev = f - job.step
        if prev not in crops:
            break
        grey_prev, fill_prev, changed_prev = crops.grey(prev)
        x0, y0, x1, y1 = _inside(box, grey_prev.shape)
        if min(x1 - x0, y1 - y0) < _MIN_SIDE:
            break
        template = grey_prev[y0:y1, x0:x1]
        if template.std() < 3:
            break
        if changed_prev[y0:y1, x0:x1].mean() >= _REMOVED:
            mark, fill = template, fill_prev[y0:y1, x0:x1]
            shape = changed_prev[y0:y1, x0:x1]
        centre = ((x0 + x1 + motion[0] + motion[2]) / 2, (y0 + y1 + motion[1] + motion[3]) / 2)
        grey, shown, changed = crops.grey(f)
        score, found = _best_match(grey, template, centre)
        if found is None or score < _MATCH:
            break
        if mark is not None:
            x0, y0, x1, y1 = found
            kept = changed[y0:y1, x0:x1].mean() <= _KEPT
            if kept and _likeness(shown, mark, fill, found) < _LIKE_MARK:
                xyxy = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)
                mask = _moved(shape, xyxy, job.frame_hw)
                left.append(LeftFrame(f, crops.times[f], job.track_id, job.brand, xyxy, mask))
            elif _likeness(grey, mark, fill, found) >= _LIKE_MARK:
                break  # the input looks like the fill too: the mark is gone
        motion = np.array(found, float) - box
        box = np.array(found, float)
        f += job.step
    return left


def _moved(
    shape: np.ndarray, xyxy: tuple[int, int, int, int], frame_hw: tuple[int, int]
) -> RegionMask:
    """``shape`` (a box's changed pixels) resized into ``xyxy`` of a frame of ``frame_hw``.

    The whole box where the resizing loses every pixel.
    """
    x0, y0, x1, y1 = xyxy
    sized = cv2.resize(shape.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return RegionMask(x0, y0, sized.astype(bool) if sized.any() else sized == 0, frame_hw)


def _inside(box: np.ndarray, hw: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``box`` rounded and clipped to an image of size ``hw``."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return max(0, x0), max(0, y0), min(hw[1], x1), min(hw[0], y1)


def _best_match(
    grey: np.ndarray, template: np.ndarray, centre: tuple[float, float]
) -> tuple[float, tuple[int, int, int, int] | None]:
    """Where ``template`` (at a few sizes) correlates best near ``centre``, and how well.

    A template larger than ``_COARSE_SIDE`` is first sought on pictures shrunk to that size,
    then placed to the pixel near the best coarse place.
    """
    th, tw = template.shape
    shrink = min(1.0, _COARSE_SIDE / max(th, tw))
    best: tuple[float, tuple[int, int, int, int] | None] = (-1.0, None)
    for scale in _SCALES:
        w, h = round(tw * scale), round(th * scale)
        if min(w, h) < _MIN_SIDE // 2:
            continue
        sized = template
        if scale != 1.0:
            sized = cv2.resize(template, (w, h), interpolation=cv2.INTER_AREA)
        pad = 0.5 * max(w, h) + 8
        window = _around(centre, w, h, pad, grey.shape)
        if shrink < 1.0:
            coarse = _match_in(grey, sized, window, shrink)
            if coarse[1] is None:
                continue
            cx, cy = coarse[1][0] + w / 2, coarse[1][1] + h / 2
            window = _around((cx, cy), w, h, 1.0 / shrink + 2, grey.shape)
        score, found = _match_in(grey, sized, window, 1.0)
        if found is not None and score > best[0]:
            best = (score, found)
    return best


def _around(
    centre: tuple[float, float], w: int, h: int, pad: float, hw: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """The search window for a ``w`` x ``h`` box centred near ``centre``, ``pad`` either side."""
    return _inside(
        np.array([centre[0] - w / 2 - pad, centre[1] - h / 2 - pad,
                  centre[0] + w / 2 + pad, centre[1] + h / 2 + pad]),
        hw,
    )  # fmt: skip


def _match_in(
    grey: np.ndarray, template: np.ndarray, window: tuple[int, int, int, int], shrink: float
) -> tuple[float, tuple[int, int, int, int] | None]:
    """The best place of ``template`` in ``window`` of ``grey`` (both shrunk by ``shrink``)."""
    x0, y0, x1, y1 = window
    h, w = template.shape
    if x1 - x0 < w or y1 - y0 < h:
        return -1.0, None
    area, sized = grey[y0:y1, x0:x1], template
    if shrink < 1.0:
        area = cv2.resize(area, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        sized = cv2.resize(template, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        if area.shape[0] < sized.shape[0] or area.shape[1] < sized.shape[1]:
            return -1.0, None
    scores = cv2.matchTemplate(area, sized, cv2.TM_CCOEFF_NORMED)
    _, score, _, (mx, my) = cv2.minMaxLoc(scores)
    fx, fy = x0 + round(mx / shrink), y0 + round(my / shrink)
    fx, fy = min(fx, x1 - w), min(fy, y1 - h)
    return float(score), (fx, fy, fx + w, fy + h)


def _likeness(
    grey: np.ndarray, mark: np.ndarray, fill: np.ndarray, box: tuple[int, int, int, int]
) -> float:
    """How far ``grey`` in ``box`` is from ``mark``, as a share of how far it is from ``fill``.

    Measured on the mark's own pixels (where mark and fill differ); under 1 looks like the
    mark, over 1 like the fill. Too few such pixels: infinity (no verdict).
    """
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    mark = cv2.resize(mark, size, interpolation=cv2.INTER_AREA)
    fill = cv2.resize(fill, size, interpolation=cv2.INTER_AREA)
    seen = grey[y0:y1, x0:x1]
    own = np.abs(mark - fill) > _MARK_PX
    if int(own.sum()) < _MIN_MARK_PX:
        return float("inf")
    to_mark = float(np.abs(seen - mark)[own].mean())
    to_fill = float(np.abs(seen - fill)[own].mean())
    return to_mark / max(to_fill, 1e-3)


def left_entries(left: Sequence[LeftFrame], still: Sequence[LeftFrame] | None = None) -> list[dict]:
    """The report's residual entries for followed marks left on screen (``followed``).

    ``repaired``: a repair removed it (following again on the repaired output, the mark was
    not found there); ``still`` holds what was found again, None where nothing was repaired.
    """
    again = {(item.frame_idx, item.track_id) for item in still or ()}
    return [
        {
            "frame": item.frame_idx,
            "time": round(item.time_s, 6),
            "brand": item.brand,
            "box": [float(v) for v in item.xyxy],
            "track_id": item.track_id,
            "followed": True,
            "repaired": still is not None
            and item.mask is not None
            and (item.frame_idx, item.track_id) not in again,
        }
        for item in left
    ]


def follow_repairs(
    left: Sequence[LeftFrame], action_of: dict[str, str], margin_px: int
) -> dict[int, dict[str, list[RegionMask]]]:
    """Masks that remove the marks left, per frame and action (the brand's).

    Each is what was removed inside the mark's box on the last frame it was removed, moved to
    where it was followed and grown as the detectors' repairs are (:func:`widened`: the mark
    turned or changed size a little since). Frames without a mask are not repaired.
    """
    repairs: dict[int, dict[str, list[RegionMask]]] = {}
    for item in left:
        if item.mask is None:
            continue
        action = action_of.get(item.brand, "inpaint")
        repairs.setdefault(item.frame_idx, {}).setdefault(action, []).append(
            widened(item.mask, margin_px)
        )
    return repairs


def add_left(
    entry: dict,
    frames_read: int,
    left: Sequence[LeftFrame],
    still: Sequence[LeftFrame] | None = None,
) -> dict:
    """Join the follow check's findings to a ``verification`` section (in place).

    Every mark found left is a residual, repaired or not: the tracking failed around it, and
    the frames the following could not reach may hold more of it.

    Args:
        entry: the section.
        frames_read: frames the check read (both passes where there was a repair).
        left: the frames with a mark left, as the output was first written.
        still: those found again once they were repaired; None where no repair was made.
    """
    extra = left_entries(left, still)
    entry["followed_frames_read"] = frames_read
    entry["followed_left"] = extra
    entry["residual"] = entry["residual"] + extra
    entry["verified_clean"] = not entry["residual"]
    return entry
