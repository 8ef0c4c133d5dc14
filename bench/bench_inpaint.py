"""Inpainting quality benchmark: removers against the clean frames under a composited logo.

A logo (about 3% of the frame) is composited under a moving homography onto each clip of
../shared/data/videos, so the clean frames and the exact masks are known. Each inpainter runs
with the true masks (the remover alone) and with the detected masks (the whole pipeline), and
per clip the benchmark prints:
- PSNR and SSIM inside the true mask against the clean frames;
- PSNR outside the mask against the composited input (codec level for the pipeline);
- flicker: the mean frame-to-frame change inside the mask, over the clean video's;
- fps of the remover (true masks) or of the whole run (detected masks);
- the same figures for the fills of an oracle that knows the clean video (bench/revealed.py):
  how much the background that other frames reveal can give on that clip at most.
Last comes the target table: the in-mask PSNR gain over Telea (`spatial`) of `propagate` and of
the oracle's better fill; the +4 dB target applies to clips where the revealed background
itself gives +4 dB.

Usage: python bench/bench_inpaint.py [--data ../shared/data] [--frames 120]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.remove import MaskedFrame, build_removers
from autoblur.synth import Composite, composite_logo, moving_placement
from autoblur.types import BrandCue
from bench.revealed import revealed_fills
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "tree.avi", "vtest.avi")
INPAINTERS = ("spatial", "propagate")
TARGET_DB = 4.0


def frames_of(path: Path, count: int) -> list[np.ndarray]:
    with VideoReader(path) as reader:
        return [f.rgb.copy() for f in reader.frames() if f.index < count]


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (grey, 7x7 Gaussian window) over the mask's pixels."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    blur = lambda img: cv2.GaussianBlur(img, (7, 7), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(ssim[mask].mean())


def psnr(squared_error_sum: float, count: int) -> float:
    return 10 * np.log10(255**2 / max(squared_error_sum / max(count, 1), 1e-9))


def score(
    outputs: list[np.ndarray],
    clean: list[np.ndarray],
    inputs: list[np.ndarray],
    composite: Composite,
) -> dict:
    inside_se = inside_n = outside_se = outside_n = 0.0
    ssims, flicker_out, flicker_clean = [], [], []
    previous = None
    for index, (out, truth_frame, given) in enumerate(zip(outputs, clean, inputs, strict=False)):
        region = composite.masks[index]
        mask = np.zeros(out.shape[:2], bool) if region is None else region.to_dense()
        far = ~(region.dilate(24).to_dense() if region is not None else mask)
        diff_in = out[mask].astype(float) - truth_frame[mask]
        inside_se += float((diff_in**2).sum())
        inside_n += diff_in.size
        diff_out = out[far].astype(float) - given[far]
        outside_se += float((diff_out**2).sum())
        outside_n += diff_out.size
        if mask.any():
            ssims.append(masked_ssim(out, truth_frame, mask))
        if previous is not None and mask.any() and previous[0].any():
            both = mask & previous[0]
            if both.any():
                flicker_out.append(np.abs(out[both].astype(float) - previous[1][both]).mean())
                flicker_clean.append(
                    np.abs(truth_frame[both].astype(float) - previous[2][both]).mean()
                )
        previous = (mask, out, truth_frame)
    return {
        "psnr_in": psnr(inside_se, inside_n),
        "ssim_in": float(np.mean(ssims)),
        "psnr_out": psnr(outside_se, outside_n),
        "flicker": float(np.mean(flicker_out) / max(np.mean(flicker_clean), 1e-6)),
    }


def true_mask_run(composite: Composite, inpainter: str, count: int) -> tuple[list, float]:
    config = load_config(None, {"remove": {"inpainter": inpainter}})
    (remover,) = build_removers(config, {"inpaint"})
    margin = config.remove.margin_px
    with VideoReader(composite.path) as reader:
        items = [
            MaskedFrame(
                f,
                {}
                if composite.masks[f.index] is None
                else {"inpaint": composite.masks[f.index].dilate(margin)},
            )
            for f in reader.frames()
            if f.index < count
        ]
    started = time.perf_counter()
    outputs = [item.frame.rgb for item in remover(iter(items))]
    return outputs, len(outputs) / (time.perf_counter() - started)


def detected_run(composite: Composite, logo: Path, inpainter: str, out: Path) -> tuple[list, float]:
    config = load_config(None, {"remove": {"inpainter": inpainter, "mode": "inpaint"}})
    job = Job(composite.path, out, [BrandCue("logo", "inpaint", (logo,))], config)
    report = Pipeline(job).run()
    return frames_of(out, composite.frame_count), report["timing"]["fps"]


def row(clip: str, masks: str, name: str, metrics: dict, fps: float | None) -> None:
    speed = "-" if fps is None else f"{fps:.1f}"
    print(
        f"{clip:<22} {masks:<8} {name:<16} {metrics['psnr_in']:8.2f} {metrics['ssim_in']:8.3f} "
        f"{metrics['psnr_out']:9.2f} {metrics['flicker']:8.2f} {speed:>6}",
        flush=True,
    )


def target_table(gains: dict[str, tuple[float, float, float]]) -> None:
    """Per clip: Telea's in-mask PSNR, the gains of propagate and of the revealed background."""
    print(f"\n{'clip':<22} {'Telea':>7} {'propagate':>10} {'revealed':>9}  target (+4 dB)")
    for clip, (telea, propagate, revealed) in gains.items():
        if revealed - telea < TARGET_DB:
            verdict = "n/a: the revealed background itself gives less"
        else:
            verdict = "met" if propagate - telea >= TARGET_DB else "NOT met"
        print(
            f"{clip:<22} {telea:7.2f} {propagate - telea:+10.2f} {revealed - telea:+9.2f}  "
            f"{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    logo = args.data / "images" / "WindowsLogo.jpg"
    shape = read_logo(logo)[0].shape[:2]
    header = f"{'clip':<22} {'masks':<8} {'inpainter':<16} {'PSNR in':>8} {'SSIM in':>8} "
    print(header + f"{'PSNR out':>9} {'flicker':>8} {'fps':>6}")
    gains: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for clip in CLIPS:
            source = args.data / "videos" / clip
            placement = moving_placement(shape, width_frac=0.15, speed_px=6, start_frame=0)
            composite = composite_logo(
                source, logo, tmp / f"{Path(clip).stem}.mp4", placement, max_frames=args.frames
            )
            clean = frames_of(source, composite.frame_count)
            given = frames_of(composite.path, composite.frame_count)
            true_psnr, telea_outputs = {}, []
            for inpainter in INPAINTERS:
                for masks in ("true", "detected"):
                    if masks == "true":
                        outputs, fps = true_mask_run(composite, inpainter, composite.frame_count)
                        telea_outputs = outputs if inpainter == "spatial" else telea_outputs
                    else:
                        outputs, fps = detected_run(composite, logo, inpainter, tmp / "out.mp4")
                    metrics = score(outputs, clean, given, composite)
                    if masks == "true":
                        true_psnr[inpainter] = metrics["psnr_in"]
                    row(clip, masks, inpainter, metrics, fps)
            revealed = []
            fills = revealed_fills(clean, composite.masks, telea_outputs)
            for name, outputs in fills.items():
                metrics = score(outputs, clean, given, composite)
                revealed.append(metrics["psnr_in"])
                row(clip, "true", f"revealed-{name}", metrics, None)
            gains[clip] = (true_psnr["spatial"], true_psnr["propagate"], max(revealed))
    target_table(gains)


if __name__ == "__main__":
    main()
