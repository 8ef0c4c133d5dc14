import cv2
import numpy as np

from autoblur.config import load_config
from autoblur.pipeline import Job, Pipeline
from autoblur.synth import composite_logo, flat_mark
from autoblur.types import BrandCue
from tests.conftest import VIDEOS


def enter_left(index, frame_hw):
    """An 80 px flat mark entering through the left edge from frame 3, 6 px a frame, turning."""
    if index < 3:
        return None
    fh, fw = frame_hw
    angle = np.radians(2 * index)
    c, s = 80 / 240 * np.cos(angle), 80 / 240 * np.sin(angle)
    move = np.array([[c, -s, -40 + 6 * (index - 3)], [s, c, fh / 2], [0, 0, 1]])
    return move @ np.array([[1, 0, -120], [0, 1, -120], [0, 0, 1.0]])


def test_flat_mark_removed_from_its_first_frame_on_screen(tmp_path, real_media):
    mark = tmp_path / "mark.png"
    cv2.imwrite(str(mark), cv2.cvtColor(flat_mark(3), cv2.COLOR_RGB2BGR))
    composite = composite_logo(VIDEOS / "bikes.mp4", mark, tmp_path / "c.mp4", enter_left, 40)
    masks_dir = tmp_path / "masks"
    cues = [BrandCue("mark", "blur", (mark,))]
    report = Pipeline(Job(composite.path, None, cues, load_config(None), masks_dir=masks_dir)).run()
    # One track, and a second after the scene cut at frame 30.
    assert [t["source"] for t in report["tracks"]] == ["flat", "flat"]
    first_key = report["tracks"][0]["keyframes"][0]["frame"]
    on_screen = [i for i, m in enumerate(composite.masks) if m is not None]
    assert first_key >= 12 > on_screen[0]  # first detected a keyframe after it showed
    for index in on_screen:
        removal = cv2.imread(str(masks_dir / f"{index:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        assert removal[composite.masks[index].to_dense()].mean() >= 0.99, index
