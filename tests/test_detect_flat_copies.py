"""Several copies of a one-colour mark made of pieces, pale thin strokes, and colours by hue."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from autoblur.types import box_iou
from detectors._colour import PALE, colour_boxes, to_lch, within
from detectors._groups import frame_groups, hull_shape
from detectors.flat import FlatMatcher, prepare_flat_reference
from tests.test_detect_flat import frame_of

ORANGE = (240, 120, 20)


def pieces_mark(size: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA-style mark: a ring broken into four arcs round a keyhole, three dots on it.

    Returns:
        (size, size, 3) uint8 RGB and (size, size) uint8 alpha.
    """
    alpha = np.zeros((size, size), np.uint8)
    c, r = size // 2, int(size * 0.4)
    for start in (10, 100, 190, 280):
        cv2.ellipse(alpha, (c, c), (r, r), 0, start, start + 70, 255, max(2, size // 24))
    for angle in (55, 145, 325):
        x, y = c + r * np.cos(np.radians(angle)), c + r * np.sin(np.radians(angle))
        cv2.circle(alpha, (int(x), int(y)), size // 20, 255, -1)
    cv2.circle(alpha, (c, c - size // 14), size // 10, 255, -1)
    cv2.fillConvexPoly(
        alpha,
        np.int32(
            [
                [c - size // 24, c],
                [c + size // 24, c],
                [c + size // 14, c + size // 6],
                [c - size // 14, c + size // 6],
            ]
        ),  # fmt: skip
        255,
    )
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[alpha > 0] = ORANGE
    return rgb, alpha


@pytest.fixture(scope="module")
def pieces_png(tmp_path_factory) -> Path:
    rgb, alpha = pieces_mark()
    path = tmp_path_factory.mktemp("marks") / "pieces.png"
    cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]))
    return path


def subsample_chroma(rgb: np.ndarray) -> np.ndarray:
    """The frame as a 4:2:0 encoder leaves it: chroma at half size, brought back up."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    h, w = ycc.shape[:2]
    for channel in (1, 2):
        half = cv2.resize(ycc[..., channel], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        ycc[..., channel] = cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def paste(scene: np.ndarray, width: int, centre_xy: tuple[int, int], turn_deg: float):
    """The scene with the pieces mark ``width`` px wide at ``centre_xy``, and its true box."""
    rgb, alpha = pieces_mark()
    scale = width / rgb.shape[1]
    matrix = cv2.getRotationMatrix2D((120.0, 120.0), turn_deg, scale)
    matrix[:, 2] += np.array(centre_xy) - 120.0
    size = scene.shape[1::-1]
    weight = cv2.warpAffine(alpha.astype(np.float32) / 255, matrix, size)[..., None]
    art = cv2.warpAffine(rgb, matrix, size).astype(np.float32)
    out = np.clip(weight * art + (1 - weight) * scene + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(weight[..., 0] > 0.5)
    return out, np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def test_every_copy_of_a_mark_made_of_pieces_is_found_small_ones_too(pieces_png):
    """Three copies, 110, 60 and 42 px wide, on a real frame, blurred and chroma-subsampled.

    The small copies' thin strokes lose half their chroma to the dark picture around them, and
    their pieces merge or break: no pair of parts agrees with the reference's, and a Lab box
    around the reference's orange misses them. All three must be found, each where it is.
    """
    scene = frame_of("bikes.mp4", 40)
    truths = []
    for width, centre, turn in ((110, (470, 100), 10.0), (60, (150, 80), -15.0),
                                (42, (560, 215), 5.0)):  # fmt: skip
        scene, box = paste(scene, width, centre, turn)
        truths.append(box)
    frame = subsample_chroma(cv2.GaussianBlur(scene, (0, 0), 0.7))
    found = FlatMatcher([prepare_flat_reference("m", pieces_png)]).detect(frame)
    assert len(found) == 3, f"expected 3 copies, got {len(found)}: {found.xyxy.tolist()}"
    iou = box_iou(np.stack(truths), found.xyxy)
    assert (iou.max(axis=1) >= 0.7).all(), iou.round(2).tolist()


def test_a_mark_is_not_found_where_it_is_not(pieces_png):
    """The same frames without the mark: nothing (the looser colours must not invent one)."""
    matcher = FlatMatcher([prepare_flat_reference("m", pieces_png)])
    for video, index in (("bikes.mp4", 40), ("bigbuckbunny.mp4", 12), ("vtest.avi", 20)):
        found = matcher.detect(frame_of(video, index))
        assert len(found) == 0, (video, found.xyxy.tolist())


def test_colour_boxes_go_by_hue_and_keep_pale_shades():
    """A chromatic colour keeps its half-chroma shade (pale boxes) and loses another hue."""
    centres = cv2.cvtColor(np.uint8([[ORANGE, (128, 128, 128), (220, 20, 40)]]), cv2.COLOR_RGB2LAB)
    lo, hi = colour_boxes(centres[0].astype(np.float32), tight=True)

    def shown(rgb, colour):
        lab = cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2LAB)
        return bool(within(to_lch(lab), lo[colour], hi[colour])[0, 0])

    half_chroma = tuple(int(v) for v in (np.float32(ORANGE) + np.float32((128, 128, 128))) / 2)
    assert shown(ORANGE, 0) and not shown(half_chroma, 0)  # seeds: no lawn for a green mark
    pale_lo, pale_hi = colour_boxes(centres[0].astype(np.float32), tight=True, chroma_floor=PALE)
    lab = cv2.cvtColor(np.uint8([[half_chroma]]), cv2.COLOR_RGB2LAB)
    assert within(to_lch(lab), pale_lo[0], pale_hi[0])[0, 0]  # the pale boxes keep it
    loose_lo, loose_hi = colour_boxes(centres[0].astype(np.float32), tight=False)
    assert within(to_lch(lab), loose_lo[0], loose_hi[0])[0, 0]  # and so does the check
    assert not shown((40, 200, 60), 0) and not shown((120, 120, 120), 0)  # green, grey
    assert shown((135, 135, 135), 1) and not shown(ORANGE, 1) and not shown((30, 30, 30), 1)
    # A red near 0 degrees of hue (its box wraps) keeps a slightly bluer and a slightly
    # yellower red, and loses blue.
    assert shown((220, 20, 40), 2) and shown((220, 20, 70), 2) and shown((220, 50, 30), 2)
    assert not shown((40, 40, 220), 2)


def test_a_colours_hull_does_not_change_when_its_pieces_merge_or_break():
    """The hull of a broken ring is the hull of the whole ring; the closing groups its pieces."""
    _, alpha = pieces_mark()
    whole = np.zeros_like(alpha)
    cv2.circle(whole, (120, 120), 96, 255, 10)
    broken, full = hull_shape(cv2.findNonZero(alpha)), hull_shape(cv2.findNonZero(whole))
    assert broken is not None and full is not None
    assert abs(broken[0] / full[0] - 1) < 0.1  # area
    assert np.hypot(broken[1] - full[1], broken[2] - full[2]) < 4  # centroid
    frame = np.zeros((300, 400), np.uint8)
    small = cv2.resize(alpha, (48, 48), interpolation=cv2.INTER_AREA)
    frame[100:148, 200:248] = np.where(small > 100, 255, 0)
    areas, centres, _ = frame_groups(frame)
    grouped = np.hypot(*(centres - (224, 124)).T) < 4
    assert grouped.any(), centres.tolist()
    expected = hull_shape(cv2.findNonZero(frame))[0]
    assert abs(areas[grouped].max() / expected - 1) < 0.1


def test_a_badge_without_its_emblem_is_not_the_badge(tmp_path, monkeypatch):
    """A white badge whose small purple emblem is its brand: a plain white card is not it.

    The emblem is under a tenth of the badge, too little to fail the colour layout on its own;
    two of a mark's main colours must show. With that rule off (every colour a minor one)
    the card is found, so the frame does test the rule; the badge itself is found either way.
    """
    import detectors.flat as flat

    badge = np.full((200, 200, 3), 255, np.uint8)
    cv2.circle(badge, (100, 100), 34, (120, 80, 200), 20)  # the emblem: a purple ring
    alpha = np.zeros((200, 200), np.uint8)
    cv2.rectangle(alpha, (30, 0), (170, 200), 255, -1)  # a rounded square, alpha outside
    cv2.rectangle(alpha, (0, 30), (200, 170), 255, -1)
    for x, y in ((30, 30), (170, 30), (30, 170), (170, 170)):
        cv2.circle(alpha, (x, y), 30, 255, -1)
    path = tmp_path / "badge.png"
    cv2.imwrite(str(path), np.dstack([badge[..., ::-1], alpha]))
    matcher = FlatMatcher([prepare_flat_reference("badge", path)])
    scene = frame_of("vtest.avi", 20)
    card = scene.copy()
    inside = cv2.resize(alpha, (120, 120), interpolation=cv2.INTER_AREA)[..., None] / 255
    card[200:320, 300:420] = (inside * 250 + (1 - inside) * scene[200:320, 300:420]).astype(
        np.uint8
    )
    with_badge = scene.copy()
    small = cv2.resize(badge, (120, 120), interpolation=cv2.INTER_AREA)
    inside = cv2.resize(alpha, (120, 120), interpolation=cv2.INTER_AREA)[..., None] / 255
    with_badge[200:320, 300:420] = (inside * small + (1 - inside) * scene[200:320, 300:420]).astype(
        np.uint8
    )
    assert len(matcher.detect(with_badge)) == 1
    assert len(matcher.detect(card)) == 0
    monkeypatch.setattr(flat, "_MAIN_COLOUR", 2.0)
    assert len(matcher.detect(card)) > 0


def app_icon(size: int = 240) -> np.ndarray:
    """An app icon of eight flat colours: a white plate, four colour bars, a blue square, and
    two small details (a green corner and a grey eye, under 2 % each).

    Like a calendar or a mascot badge: six large colours and details of their own colours,
    which k-means must give clusters of their own for the large ones to fit.
    """
    rgb = np.full((size, size, 3), 255, np.uint8)
    u = size // 12
    bars = ((66, 133, 244), (52, 168, 83), (251, 188, 4), (234, 67, 53))
    for k, colour in enumerate(bars):
        cv2.rectangle(rgb, (2 * u, (2 + 2 * k) * u), (5 * u, (3 + 2 * k) * u), colour, -1)
    cv2.rectangle(rgb, (6 * u, 2 * u), (10 * u, 6 * u), (25, 103, 210), -1)
    cv2.rectangle(rgb, (9 * u, 9 * u), (10 * u, 10 * u), (24, 128, 56), -1)
    cv2.circle(rgb, (8 * u, 4 * u), u // 2, (60, 64, 67), -1)
    return rgb


def test_a_mark_of_eight_flat_colours_is_a_flat_mark_and_found_small(tmp_path):
    """Eight colours (an app icon): a flat reference, found 52 px wide on a real frame.

    With six k-means colours at most it was not a flat mark, and SIFT alone has no features
    at 52 px.
    """
    path = tmp_path / "icon.png"
    cv2.imwrite(str(path), np.dstack([app_icon()[..., ::-1], np.full((240, 240), 255, np.uint8)]))
    matcher = FlatMatcher([prepare_flat_reference("icon", path)])
    scene = frame_of("bikes.mp4", 40)
    icon = cv2.resize(app_icon(), (52, 52), interpolation=cv2.INTER_AREA)
    frame = scene.copy()
    frame[90:142, 200:252] = icon
    found = matcher.detect(subsample_chroma(cv2.GaussianBlur(frame, (0, 0), 0.6)))
    assert len(found) == 1, found.xyxy.tolist()
    assert box_iou(np.float32([[200, 90, 252, 142]]), found.xyxy)[0, 0] >= 0.7
    assert len(matcher.detect(scene)) == 0


SLATE = (83, 94, 111)  # a blue-grey: chroma 11 (uint8 Lab), under the greys' limit of 18


def slate_tile(size: int = 240) -> np.ndarray:
    """A slate square with two thin light lines across it (a tinted-grey tile mark)."""
    rgb = np.full((size, size, 3), SLATE, np.uint8)
    cv2.line(rgb, (size // 6, size // 3), (5 * size // 6, size // 3), (150, 150, 150), 4)
    cv2.line(rgb, (size // 2, 2 * size // 3), (5 * size // 6, 2 * size // 3), (150, 150, 150), 4)
    return rgb


def test_a_tinted_grey_square_turned_on_a_grey_wall_is_found(tmp_path):
    """A slate tile 56 px wide, turned 12 degrees, over a grey building: found where it is.

    Told by lightness alone, a slate colour takes in the wall (a pixel near it in Lab is not
    far in hue), and its square's axis says nothing of its turn; with its hue kept and the
    turn read off its smallest rectangle it is found, and the frame without it gives nothing.
    """
    path = tmp_path / "tile.png"
    cv2.imwrite(str(path), np.dstack([slate_tile()[..., ::-1], np.full((240, 240), 255, np.uint8)]))
    matcher = FlatMatcher([prepare_flat_reference("tile", path)])
    scene = frame_of("bikes.mp4", 40)
    matrix = cv2.getRotationMatrix2D((120.0, 120.0), 12.0, 56 / 240)
    matrix[:, 2] += np.array([130.0, 60.0]) - 120.0
    size = scene.shape[1::-1]
    weight = cv2.warpAffine(np.ones((240, 240), np.float32), matrix, size)[..., None]
    art = cv2.warpAffine(slate_tile(), matrix, size).astype(np.float32)
    frame = np.clip(weight * art + (1 - weight) * scene + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(weight[..., 0] > 0.5)
    truth = np.float32([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    found = matcher.detect(subsample_chroma(cv2.GaussianBlur(frame, (0, 0), 0.6)))
    assert len(found) == 1, found.xyxy.tolist()
    assert box_iou(truth, found.xyxy)[0, 0] >= 0.7
    assert len(matcher.detect(scene)) == 0


def disc_mark(size: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """A near-black disc with a letter-like notch cut out of it (RGB, alpha)."""
    alpha = np.zeros((size, size), np.uint8)
    cv2.circle(alpha, (size // 2, size // 2), size // 2 - 2, 255, -1)
    cv2.rectangle(alpha, (size // 2 - 12, size // 5), (size // 2 + 12, 4 * size // 5), 0, -1)
    cv2.circle(alpha, (size // 2 + 20, size // 3), 30, 0, 14)
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[alpha > 0] = (28, 28, 36)
    return rgb, alpha


def test_a_dark_mark_bridged_to_a_dark_patch_is_found(tmp_path, monkeypatch):
    """A black disc 90 px wide joined by three thin dark strands to a dark patch beside it.

    The disc's colour region runs into the patch's (one region, neither the disc's area nor
    its centre); opened at a few pixels, the strands let go and the disc is found.
    """
    import detectors.flat as flat

    rgb, alpha = disc_mark()
    path = tmp_path / "disc.png"
    cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]))
    matcher = FlatMatcher([prepare_flat_reference("disc", path)])
    scene = frame_of("tree.avi", 20).copy()
    x, y, w = 40, 60, 90
    dark = (35, 34, 40)
    cv2.rectangle(scene, (x + w + 8, y - 10), (x + 2 * w, y + w + 10), dark, -1)
    for k in range(1, 4):  # wires or twigs
        cv2.line(scene, (x + w // 2, y + k * w // 4), (x + w + 10, y + k * w // 4), dark, 2)
    small = cv2.resize(alpha, (w, w), interpolation=cv2.INTER_AREA)[..., None] / 255
    patch = scene[y : y + w, x : x + w].astype(float)
    scene[y : y + w, x : x + w] = (small * (28, 28, 36) + (1 - small) * patch).astype(np.uint8)
    frame = subsample_chroma(cv2.GaussianBlur(scene, (0, 0), 0.6))
    found = matcher.detect(frame)
    assert len(found) == 1, found.xyxy.tolist()
    assert box_iou(np.float32([[x, y, x + w, y + w]]), found.xyxy)[0, 0] >= 0.8
    monkeypatch.setattr(flat, "_OPEN_PX", ())  # the frame does test the opening:
    assert len(matcher.detect(frame)) == 0  # without it the disc is lost in the patch
