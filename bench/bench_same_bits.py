"""Whether the same pictures encode to the same bits when the heap holds other bytes.

For each picture size: 40 decoded frames of a clip (scaled to the size), encoded ``--runs``
times with the output plan's libx264 settings (``plan_output``, the writer's own), the heap
filled before each encoder opens with freed blocks of one random byte each (as a long process
leaves it). Prints how many runs wrote other bits than the most common result, with the plan's
settings and with the macroblock tree forced on (libx264's default), so the table shows both
what the setting fixes and what it leaves.

Usage: python bench/bench_same_bits.py [--runs 20] [--clip tests/data/videos/bikes.mp4]
    [SIZE ...]   (WxH; none: a list of small and broadcast sizes)
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import random
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av

from autoblur.config import EncodeConfig
from autoblur.io.format_plan import OutputPlan, plan_output

FRAMES = 40
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
SIZES = ["176x144", "320x240", "720x480", "720x576", "768x576", "960x540", "1280x720"]
SIZES += ["1440x1080", "1920x1080"]
BLOCK_SIZES = [64, 512, 4096, 30_000, 120_000, 400_000, 1_000_000, 3_000_000]  # about 120 MB


def keep_allocations_on_the_heap() -> None:
    """Make glibc serve every allocation from its heap and keep what is freed there.

    Otherwise a large block comes from the kernel, zeroed, and memory an encoder reads before
    writing holds zeros: the same in every run, until the process has freed a block larger than
    the threshold (as a pipeline freeing frames does) and glibc raises it.
    """
    libc = ctypes.CDLL(None)
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)


def fill_heap(seed: int) -> None:
    """Allocate blocks full of one byte each and free them, so that malloc hands them out."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    rng = random.Random(seed)
    blocks = []
    for _ in range(200):
        size = rng.choice(BLOCK_SIZES)
        block = libc.malloc(size)
        ctypes.memset(block, rng.randrange(256), size)
        blocks.append(block)
    rng.shuffle(blocks)
    for block in blocks:
        libc.free(block)


def pictures_and_plan(
    clip: Path, size: tuple[int, int] | None
) -> tuple[list[av.VideoFrame], OutputPlan]:
    """``FRAMES`` decoded pictures of ``clip`` (scaled to ``size``), and the plan to encode them."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        frames = None if size is None else (*size, "yuv420p")
        plan = plan_output(stream, EncodeConfig(), "mp4", frames=frames)
        pictures = []
        for picture in container.decode(stream):
            if size is not None:
                picture = picture.reformat(*size, "yuv420p")
            picture.pict_type = av.video.frame.PictureType.NONE
            pictures.append(picture)
            if len(pictures) == FRAMES:
                break
    return pictures, plan


def encode_digest(
    pictures: list[av.VideoFrame], plan: OutputPlan, options: dict | None = None
) -> str:
    """The hash of every packet of ``pictures`` encoded as ``plan`` says (``options`` on top)."""
    context = av.CodecContext.create(plan.codec, "w")
    context.width, context.height = pictures[0].width, pictures[0].height
    context.pix_fmt = plan.pix_fmt
    context.time_base = Fraction(1, 30000)
    context.framerate = Fraction(30000, 1001)
    for name, value in plan.context.items():
        if name != "codec_tag":
            setattr(context, name, value)
    context.options = {**plan.options, **(options or {})}
    context.open()
    digest = hashlib.md5()
    for index, picture in enumerate(pictures):
        picture.pts, picture.time_base = index * 1001, context.time_base
        for packet in context.encode(picture):
            digest.update(bytes(packet))
    for packet in context.encode(None):
        digest.update(bytes(packet))
    return digest.hexdigest()


def differing_runs(
    pictures: list[av.VideoFrame], plan: OutputPlan, runs: int, options: dict | None = None
) -> int:
    """How many of ``runs`` encodes (the heap filled anew before each) differ from the commonest."""
    digests = []
    for seed in range(runs):
        fill_heap(seed)
        digests.append(encode_digest(pictures, plan, options))
    return runs - Counter(digests).most_common(1)[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=SIZES)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--clip", type=Path, default=Path("tests/data/videos/bikes.mp4"))
    args = parser.parse_args()
    keep_allocations_on_the_heap()
    print(f"{args.clip.name}, {FRAMES} frames, {args.runs} runs each, heap filled before each")
    print("| size | x264-params of the plan | runs with other bits | with mbtree=1 |")
    print("| --- | --- | --- | --- |")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        pictures, plan = pictures_and_plan(args.clip, (width, height))
        params = plan.options.get("x264-params", "")
        forced = {"x264-params": ":".join(p for p in (params, "mbtree=1") if p)}
        print(
            f"| {size} | {params or '-'} | {differing_runs(pictures, plan, args.runs)} | "
            f"{differing_runs(pictures, plan, args.runs, forced)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
