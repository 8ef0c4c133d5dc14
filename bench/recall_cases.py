"""Recall cases: real brand marks composited onto real clip segments, with exact true masks.

The case generator of ``bench/bench_recall.py``, kept apart so that tests check its ground
truth without running the pipeline. Each case is plain data (``CaseSpec``): the mark, the clip
segment, a variant (``standard``, ``small``, ``brief``, ``translucent``, ``multi``) and, per
copy of the mark, a piecewise-linear path with turn, tilt and zoom. ``render_case`` draws it:
every copy is warped by its homography (bilinear), its colour scaled by the case's brightness
of the moment, premultiplied, optionally blurred (Gaussian) and laid over the frame at the
case's opacity. A copy's true mask on a frame is where its own alpha, warped into the frame
and before opacity or blur, exceeds one half. Composites (and the same segment without the
mark) are written as lossless H.264 (crf 0), so every run decodes the same pixels.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from autoblur.io import VideoReader
from autoblur.types import RegionMask
from detectors.logo import read_logo

VARIANTS = ("standard", "small", "brief", "translucent", "multi")
# One run of six consecutive cases holds every variant; standard ones twice.
VARIANT_PATTERN = ("standard", "standard", "small", "brief", "translucent", "multi")
# Clips marks are put on (carphone_pristine.mp4, 176x144, is too small for them).
MARK_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "tree.avi", "vtest.avi")
MAX_WIDTH_SHARE = 0.4  # of the frame's width
MAX_HEIGHT_SHARE = 0.5  # of the frame's height
MAX_TURN_DEG = 25.0
WORDMARK_ASPECT = 2.5
BADGE_FILL = 0.85


@dataclass(frozen=True)
class MarkInfo:
    """One reference mark.

    Attributes:
        file: the PNG's file name.
        path: the PNG.
        brand: the brand's name.
        source: the package it came from (``simple-icons`` or ``super-tiny-icons``).
        bbox: (x0, y0, width, height) of its alpha (> 127) in the image.
        styles: its style tags: ``silhouette`` or ``colour logo``, plus ``wordmark``, ``badge``.
    """

    file: str
    path: Path
    brand: str
    source: str
    bbox: tuple[int, int, int, int]
    styles: tuple[str, ...]

    @property
    def aspect(self) -> float:
        """Width over height of the visible mark."""
        return self.bbox[2] / self.bbox[3]


@dataclass(frozen=True)
class ClipInfo:
    """A real clip that marks are put on.

    Attributes:
        name: its file name.
        path: the file.
        width: frame width in pixels.
        height: frame height in pixels.
        frames: frames that decode (not the header's count).
    """

    name: str
    path: Path
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Copy:
    """One copy of the mark and its motion over the segment.

    Attributes:
        width_px: the visible mark's width in frame pixels (before zoom and perspective).
        first: first frame of the segment it is on screen.
        last: last frame of the segment it is on screen (inclusive).
        path: (u, x, y) knots of its centre's piecewise-linear path; u runs from 0 at ``first``
            to 1 at ``last``.
        turn_deg: its rotation at rest, degrees.
        wobble_deg: amplitude of the rotation's swing around ``turn_deg`` (their sum stays at
            most ``MAX_TURN_DEG``).
        tilt: strength of the perspective swing.
        zoom: amplitude of the scale's swing (0.1: +-10 %).
        phase: phase of the swings, radians.
        cycles: swings over the copy's time on screen.
    """

    width_px: float
    first: int
    last: int
    path: tuple[tuple[float, float, float], ...]
    turn_deg: float = 0.0
    wobble_deg: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    phase: float = 0.0
    cycles: float = 1.0


@dataclass(frozen=True)
class CaseSpec:
    """One recall case: a mark composited onto a clip segment.

    Attributes:
        name: a short unique name (position, mark, variant).
        mark: the mark's file name.
        variant: one of ``VARIANTS``.
        clip: the clip's file name.
        start: the segment's first frame in the clip.
        frames: the segment's length in frames.
        copies: the copies of the mark.
        opacity: the mark's overall opacity (1 but for ``translucent``).
        brightness: the mark's colour gain at the segment's first and last frame (linear).
        blur_sigma: Gaussian blur of the mark layer, pixels (0: none).
        other_mark: another brand's mark, the reference of the false-positive run.
        seed: the seed the case was drawn with.
    """

    name: str
    mark: str
    variant: str
    clip: str
    start: int
    frames: int
    copies: tuple[Copy, ...]
    opacity: float = 1.0
    brightness: tuple[float, float] = (1.0, 1.0)
    blur_sigma: float = 0.0
    other_mark: str = ""
    seed: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """The case as JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CaseSpec:
        """The case ``to_dict`` gave."""
        copies = tuple(
            Copy(**{**c, "path": tuple(tuple(k) for k in c["path"])}) for c in data["copies"]
        )
        return cls(
            **{
                **data,
                "copies": copies,
                "brightness": tuple(data["brightness"]),
                "notes": tuple(data["notes"]),
            }
        )


def mark_styles(
    alpha: np.ndarray, source: str
) -> tuple[tuple[int, int, int, int], tuple[str, ...]]:
    """A mark's alpha bounding box (x0, y0, w, h) and its style tags.

    ``silhouette`` for simple-icons, ``colour logo`` otherwise; plus ``wordmark`` when the
    visible mark is at least ``WORDMARK_ASPECT`` times wider than high, and ``badge`` for a
    colour logo whose alpha fills at least ``BADGE_FILL`` of its bounding box.
    """
    ys, xs = np.nonzero(alpha > 127)
    if not len(xs):
        raise ValueError("mark has no opaque pixel")
    x0, y0 = int(xs.min()), int(ys.min())
    w, h = int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1
    base = "silhouette" if source == "simple-icons" else "colour logo"
    styles = [base]
    if w / h >= WORDMARK_ASPECT:
        styles.append("wordmark")
    fill = float((alpha[y0 : y0 + h, x0 : x0 + w] > 127).mean())
    if base == "colour logo" and fill >= BADGE_FILL:
        styles.append("badge")
    return (x0, y0, w, h), tuple(styles)


def mark_info(path: Path, brand: str, source: str) -> MarkInfo:
    """Read one mark's bounding box and styles."""
    _, alpha = read_logo(path)
    if alpha is None:
        raise ValueError(f"{path}: mark has no alpha channel")
    bbox, styles = mark_styles(alpha, source)
    return MarkInfo(path.name, path, brand, source, bbox, styles)


def load_marks(folder: Path) -> list[MarkInfo]:
    """The marks of ``folder/list.csv``, in its order."""
    with open(folder / "list.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [mark_info(folder / row["file"], row["brand"], row["source"]) for row in rows]


def clip_table(folder: Path, names: Sequence[str] = MARK_CLIPS) -> dict[str, ClipInfo]:
    """The clips of ``names`` in ``folder`` (those present), frames counted by decoding."""
    clips = {}
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        with VideoReader(path) as reader:
            count = sum(1 for _ in reader.frames())
            clips[name] = ClipInfo(name, path, reader.info.width, reader.info.height, count)
    return clips


def _case_rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _width_cap(mark: MarkInfo, frame_w: int, frame_h: int, share: float = 1.0) -> float:
    """The widest the mark may be drawn: 40 % of the frame's width, half its height."""
    return share * min(MAX_WIDTH_SHARE * frame_w, MAX_HEIGHT_SHARE * frame_h * mark.aspect)


def _moving_copy(
    rng: np.random.Generator,
    width: float,
    aspect: float,
    frame_hw: tuple[int, int],
    first: int,
    last: int,
    exit_edge: bool = False,
    max_turn: float = MAX_TURN_DEG,
    box: tuple[float, float, float, float] | None = None,
) -> Copy:
    """A copy drifting between two random points inside ``box`` (default: the frame).

    With ``exit_edge`` it then leaves through the nearest side edge, ending with its centre
    within a quarter of its width of that edge (partly out of frame).
    """
    fh, fw = frame_hw
    bx0, by0, bx1, by1 = box or (0.0, 0.0, float(fw), float(fh))
    half_w, half_h = 0.5 * width * 1.1, 0.5 * width / aspect * 1.1
    lo_x, hi_x = bx0 + half_w, bx1 - half_w
    lo_y, hi_y = by0 + half_h, by1 - half_h
    if hi_x < lo_x:
        lo_x = hi_x = 0.5 * (bx0 + bx1)
    if hi_y < lo_y:
        lo_y = hi_y = 0.5 * (by0 + by1)

    def point() -> tuple[float, float]:
        return float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y))

    a, b = point(), point()
    if exit_edge:
        leave_at = float(rng.uniform(0.55, 0.75))
        right = a[0] > fw / 2
        x_out = fw + width * rng.uniform(-0.25, 0.25) if right else width * rng.uniform(-0.25, 0.25)
        path = ((0.0, *a), (leave_at, *b), (1.0, float(x_out), b[1]))
    else:
        path = ((0.0, *a), (1.0, *b))
    turn = float(rng.uniform(-0.6, 0.6) * max_turn)
    return Copy(
        width_px=float(width),
        first=int(first),
        last=int(last),
        path=path,
        turn_deg=turn,
        wobble_deg=float(rng.uniform(0.2, 1.0) * (max_turn - abs(turn))),
        tilt=float(rng.uniform(0.05, 0.3)),
        zoom=float(rng.uniform(0.0, 0.12)),
        phase=float(rng.uniform(0, 2 * np.pi)),
        cycles=float(rng.uniform(0.5, 1.5)),
    )


def make_case(
    seed: int,
    position: int,
    mark: MarkInfo,
    variant: str,
    clip: ClipInfo,
    other_mark: str,
    frame_range: tuple[int, int] = (60, 90),
) -> CaseSpec:
    """Draw one case of ``variant`` with ``mark`` on a segment of ``clip``.

    Everything random is drawn from (``seed``, ``position``, the mark's file name), so a case
    does not change when others are left out.

    Args:
        seed: the run's seed.
        position: the case's place in the run (part of its name and its randomness).
        mark: the mark.
        variant: one of ``VARIANTS``.
        clip: the clip to put it on.
        other_mark: another brand's mark file, the false-positive run's reference.
        frame_range: the segment's length is drawn from this range (inclusive), at most the
            clip's length.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}")
    rng = _case_rng(seed, f"{position}/{mark.file}/{variant}")
    length = min(int(rng.integers(frame_range[0], frame_range[1] + 1)), clip.frames)
    start = int(rng.integers(0, clip.frames - length + 1))
    fw, fh = clip.width, clip.height
    cap = _width_cap(mark, fw, fh)
    brightness = (float(rng.uniform(0.7, 1.2)), float(rng.uniform(0.7, 1.2)))
    blur = float(rng.uniform(0.4, 1.0))
    opacity = 1.0
    notes: list[str] = []
    if variant in ("standard", "small"):
        lo, hi = (80.0, 240.0) if variant == "standard" else (40.0, 64.0)
        width = min(float(rng.uniform(lo, hi)), cap)
        first = int(rng.integers(6, max(7, length // 3)))
        exit_edge = variant == "standard" and rng.random() < 0.3
        if exit_edge:
            notes.append("partial exit")
        copies = (_moving_copy(rng, width, mark.aspect, (fh, fw), first, length - 1, exit_edge),)
    elif variant == "brief":
        width = min(float(rng.uniform(80, 240)), cap)
        on = int(rng.integers(6, 11))
        first = int(rng.integers(int(0.3 * length), int(0.6 * length) - on + 1))
        copies = (
            _moving_copy(rng, width, mark.aspect, (fh, fw), first, first + on - 1, max_turn=10),
        )
    elif variant == "translucent":
        opacity = float(rng.uniform(0.4, 0.6))
        brightness, blur = (1.0, 1.0), 0.0
        width = min(max(48.0, float(rng.uniform(0.12, 0.2)) * fw), cap)
        height = width / mark.aspect
        margin_x, margin_y = 0.04 * fw, 0.05 * fh
        right, bottom = bool(rng.integers(2)), bool(rng.integers(2))
        cx = fw - margin_x - width / 2 if right else margin_x + width / 2
        cy = fh - margin_y - height / 2 if bottom else margin_y + height / 2
        notes.append(f"{'bottom' if bottom else 'top'} {'right' if right else 'left'} corner")
        copies = (Copy(width, 0, length - 1, ((0.0, cx, cy), (1.0, cx, cy))),)
    else:  # multi
        count = int(rng.integers(2, 5))
        cells = [(c, r) for r in range(2) for c in range(2)]
        chosen = rng.permutation(len(cells))[:count]
        cell_w, cell_h = fw / 2, fh / 2
        cell_cap = min(0.6 * cell_w, 0.6 * cell_h * mark.aspect, cap)
        # Clearly different sizes: each copy 55-80 % as wide as the one before, 40 px at least.
        widths = [float(rng.uniform(0.75, 1.0)) * max(cell_cap, 40.0)]
        for _ in range(count - 1):
            widths.append(max(40.0, widths[-1] * float(rng.uniform(0.55, 0.8))))
        first = int(rng.integers(0, max(1, length // 4)))
        copies = tuple(
            _moving_copy(
                rng,
                min(w, max(cell_cap, 40.0)),
                mark.aspect,
                (fh, fw),
                first,
                length - 1,
                max_turn=15,
                box=(
                    cells[k][0] * cell_w,
                    cells[k][1] * cell_h,
                    (cells[k][0] + 1) * cell_w,
                    (cells[k][1] + 1) * cell_h,
                ),
            )
            for k, w in zip(chosen, widths, strict=True)
        )
        notes.append(f"{count} copies")
    return CaseSpec(
        name=f"{position:03d}-{Path(mark.file).stem}-{variant}",
        mark=mark.file,
        variant=variant,
        clip=clip.name,
        start=start,
        frames=length,
        copies=copies,
        opacity=opacity,
        brightness=brightness,
        blur_sigma=blur,
        other_mark=other_mark,
        seed=seed,
        notes=tuple(notes),
    )


def make_cases(
    seed: int,
    marks: Sequence[MarkInfo],
    clips: dict[str, ClipInfo],
    frame_range: tuple[int, int] = (60, 90),
) -> list[CaseSpec]:
    """One case per mark, in a seeded order, every six in a row holding every variant.

    Args:
        seed: the run's seed: the order, the variants, the clips and every placement.
        marks: the marks (two at least: the false-positive run needs another brand's).
        clips: the clips to choose from.
        frame_range: segment lengths, inclusive.
    """
    if len(marks) < 2:
        raise ValueError("need two marks at least")
    if not clips:
        raise ValueError("no clip to put marks on")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(marks))
    pattern = [VARIANT_PATTERN[i] for i in rng.permutation(len(VARIANT_PATTERN))]
    names = sorted(clips)
    cases = []
    for position, index in enumerate(order):
        mark = marks[int(index)]
        pick = _case_rng(seed, f"pick/{position}/{mark.file}")
        clip = clips[names[int(pick.integers(len(names)))]]
        others = [m.file for m in marks if m.file != mark.file]
        other = others[int(pick.integers(len(others)))]
        variant = pattern[position % len(pattern)]
        cases.append(make_case(seed, position, mark, variant, clip, other, frame_range))
    return cases


def _path_at(knots: Sequence[tuple[float, float, float]], u: float) -> tuple[float, float]:
    us = [k[0] for k in knots]
    return float(np.interp(u, us, [k[1] for k in knots])), float(
        np.interp(u, us, [k[2] for k in knots])
    )


def copy_homography(copy: Copy, t: int, bbox: tuple[int, int, int, int]) -> np.ndarray | None:
    """The 3x3 homography from mark-image pixels to frame pixels at segment frame ``t``.

    None when the copy is not on screen then. The mark's bounding box (x0, y0, w, h) is
    centred on the path, scaled to ``width_px`` (times the zoom swing), tilted, then turned.
    """
    if t < copy.first or t > copy.last:
        return None
    u = (t - copy.first) / max(copy.last - copy.first, 1)
    swing = 2 * np.pi * copy.cycles * u + copy.phase
    x0, y0, w, h = bbox
    cx, cy = _path_at(copy.path, u)
    scale = copy.width_px / w * (1 + copy.zoom * np.sin(swing))
    angle = np.radians(
        np.clip(copy.turn_deg + copy.wobble_deg * np.sin(swing), -MAX_TURN_DEG, MAX_TURN_DEG)
    )
    c, s = np.cos(angle), np.sin(angle)
    to_centre = np.array([[1, 0, -(x0 + w / 2)], [0, 1, -(y0 + h / 2)], [0, 0, 1.0]])
    side = max(w, h)
    perspective = np.array(
        [
            [1, 0, 0],
            [0, 1, 0],
            [copy.tilt * np.sin(swing * 1.3) / side, copy.tilt * 0.5 * np.cos(swing) / side, 1],
        ]
    )
    place = np.array([[scale * c, -scale * s, cx], [scale * s, scale * c, cy], [0, 0, 1.0]])
    return place @ perspective @ to_centre


def composite_frame(
    frame: np.ndarray,
    rgb: np.ndarray,
    alpha: np.ndarray,
    homographies: Sequence[np.ndarray | None],
    opacity: float = 1.0,
    brightness: float = 1.0,
    blur_sigma: float = 0.0,
) -> tuple[np.ndarray, list[RegionMask | None]]:
    """Lay copies of an RGBA mark over a frame; their true masks.

    Args:
        frame: (H, W, 3) uint8 RGB.
        rgb: the mark's (h, w, 3) uint8 RGB.
        alpha: the mark's (h, w) uint8 alpha.
        homographies: per copy, mark pixels to frame pixels (None: not on screen).
        opacity: overall opacity of the mark (its true mask does not depend on it).
        brightness: gain on the mark's colour.
        blur_sigma: Gaussian blur of the mark layer (colour and coverage), pixels.

    Returns:
        The composited (H, W, 3) uint8 frame and, per copy, its true mask (where its warped
        alpha exceeds one half; None when no pixel does).
    """
    fh, fw = frame.shape[:2]
    coverage = alpha.astype(np.float32) / 255
    premult = rgb.astype(np.float32) * coverage[..., None] * brightness
    out = frame.astype(np.float32)
    truths: list[RegionMask | None] = []
    pad = int(np.ceil(3 * blur_sigma)) + 2
    for homography in homographies:
        if homography is None:
            truths.append(None)
            continue
        h, w = alpha.shape
        corners = cv2.perspectiveTransform(
            np.float32([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]]), homography
        ).reshape(-1, 2)
        x0 = max(int(np.floor(corners[:, 0].min())) - pad, 0)
        y0 = max(int(np.floor(corners[:, 1].min())) - pad, 0)
        x1 = min(int(np.ceil(corners[:, 0].max())) + pad, fw)
        y1 = min(int(np.ceil(corners[:, 1].max())) + pad, fh)
        if x1 <= x0 or y1 <= y0:
            truths.append(None)
            continue
        local = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]]) @ homography
        size = (x1 - x0, y1 - y0)
        weight = cv2.warpPerspective(coverage, local, size, flags=cv2.INTER_LINEAR)
        art = cv2.warpPerspective(premult, local, size, flags=cv2.INTER_LINEAR)
        shape = weight > 0.5
        truths.append(RegionMask.from_crop(x0, y0, shape, (fh, fw)))
        layer_a = weight * opacity
        layer_rgb = art * opacity
        if blur_sigma > 0:
            layer_a = cv2.GaussianBlur(layer_a, (0, 0), blur_sigma)
            layer_rgb = cv2.GaussianBlur(layer_rgb, (0, 0), blur_sigma)
        roi = out[y0:y1, x0:x1]
        roi[:] = layer_rgb + (1 - layer_a[..., None]) * roi
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), truths


def _encoder(
    path: Path, width: int, height: int, fps: Fraction
) -> tuple[av.container.Container, av.VideoStream]:
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"crf": "0", "preset": "veryfast"}
    stream.codec_context.time_base = Fraction(1) / fps
    return container, stream


def _encode(
    container: av.container.Container, stream: av.VideoStream, rgb: np.ndarray | None, index: int
) -> None:
    if rgb is None:
        packets = stream.encode(None)
    else:
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        picture.pts = index
        packets = stream.encode(picture)
    container.mux(packets)


def segment_frames(clip: Path, start: int, count: int) -> Iterator[tuple[np.ndarray, Fraction]]:
    """Frames ``start`` to ``start + count - 1`` of ``clip`` as (RGB, fps)."""
    with VideoReader(clip) as reader:
        fps = Fraction(reader.info.fps).limit_denominator(1001 * 1000)
        for frame in reader.frames():
            if frame.index < start:
                continue
            if frame.index >= start + count:
                break
            yield frame.rgb, fps


@dataclass
class Rendered:
    """A rendered case.

    Attributes:
        path: the composite (lossless H.264).
        clean_path: the same segment without the mark, if asked for.
        truths: per frame, per copy, the true mask (None: off screen).
    """

    path: Path
    clean_path: Path | None
    truths: list[list[RegionMask | None]]


def render_case(
    case: CaseSpec, mark_path: Path, clip_path: Path, output: Path, clean: Path | None = None
) -> Rendered:
    """Composite ``case`` and write it (and, with ``clean``, the segment without the mark).

    Args:
        case: the case.
        mark_path: the mark's RGBA PNG.
        clip_path: the clip.
        output: the composite's path (.mp4).
        clean: where to write the bare segment, re-encoded the same way; None: not written.
    """
    rgb, alpha = read_logo(mark_path)
    if alpha is None:
        raise ValueError(f"{mark_path}: mark has no alpha channel")
    bbox, _ = mark_styles(alpha, "")
    writers = []
    truths: list[list[RegionMask | None]] = []
    try:
        for t, (frame, fps) in enumerate(segment_frames(clip_path, case.start, case.frames)):
            if not writers:
                fh, fw = frame.shape[:2]
                writers.append(_encoder(output, fw, fh, fps))
                if clean is not None:
                    writers.append(_encoder(clean, fw, fh, fps))
            u = t / max(case.frames - 1, 1)
            gain = case.brightness[0] + (case.brightness[1] - case.brightness[0]) * u
            homographies = [copy_homography(c, t, bbox) for c in case.copies]
            composite, frame_truths = composite_frame(
                frame, rgb, alpha, homographies, case.opacity, gain, case.blur_sigma
            )
            truths.append(frame_truths)
            _encode(*writers[0], composite, t)
            if clean is not None:
                _encode(*writers[1], frame, t)
        for container, stream in writers:
            _encode(container, stream, None, 0)
    finally:
        for container, _ in writers:
            container.close()
    if len(truths) < case.frames:
        raise ValueError(
            f"{clip_path}: segment {case.start}+{case.frames} has only {len(truths)} frames"
        )
    return Rendered(output, clean, truths)
