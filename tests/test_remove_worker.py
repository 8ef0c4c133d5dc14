"""The inpainter in worker processes: the same output as in one process, and its failures."""

import cv2
import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.errors import ConfigError
from autoblur.io import VideoReader
from autoblur.pipeline import Job, Pipeline
from autoblur.remove import MaskedFrame, build_removers, worker
from autoblur.types import BrandCue
from tests.conftest import IMAGES, make_composite


@pytest.fixture(scope="module")
def carphone(tmp_path_factory, real_media):
    return make_composite(
        tmp_path_factory.mktemp("carphone"),
        "carphone_pristine.mp4",
        IMAGES / "WindowsLogo.jpg",
        40,
        width_frac=0.15,
        speed_px=4,
    )


def fills(composite, processes):
    """Every frame's pixels, changed box and fill confidence from the inpainter."""
    config = PipelineConfig.model_validate(
        {"remove": {"temporal_window": 6, "inpaint_processes": processes}}
    )
    (remover,) = build_removers(config, {"inpaint"})
    assert isinstance(remover, worker.WorkerRemover) == (processes > 0)
    with VideoReader(composite.path) as reader:
        frames = list(reader.frames())
    # A logo on most frames, none on a few, a cut at frame 20.
    items = (
        MaskedFrame(
            f.__class__(f.index, f.pts, f.time_s, rgb=f.rgb.copy()),
            {} if f.index in (5, 6, 33) else {"inpaint": composite.masks[f.index].dilate(6)},
            starts_shot=f.index == 20,
        )
        for f in frames
    )
    out = list(remover(items))
    assert [o.frame.index for o in out] == [f.index for f in frames]
    return out, remover


@pytest.mark.parametrize("processes", [1, 2])
def test_workers_give_the_fill_of_one_process(carphone, processes):
    alone, _ = fills(carphone, 0)
    shared, remover = fills(carphone, processes)
    assert sum(o.changed_xyxy is not None for o in alone) == 37
    for one, other in zip(alone, shared, strict=True):
        assert np.array_equal(one.frame.rgb, other.frame.rgb), one.frame.index
        assert one.changed_xyxy == other.changed_xyxy
        assert one.fill_confidence == other.fill_confidence
    # Each worker's own time, for the report.
    assert len(remover.worker_seconds) == processes
    assert all(cpu > 0 and mib > 50 for _, cpu, mib in remover.worker_seconds)


def test_an_error_in_the_worker_is_raised_as_it_is():
    child = worker._Child(("start", PipelineConfig(), "no-such-inpainter", (0, 1)))
    try:
        with pytest.raises(ConfigError, match="no-such-inpainter"):
            child.take(block=True)
    finally:
        child.close()


def test_a_killed_worker_ends_the_run_with_one_line(carphone, monkeypatch):
    started = []
    child_init = worker._Child.__init__

    def record(self, start):
        child_init(self, start)
        started.append(self)

    monkeypatch.setattr(worker._Child, "__init__", record)
    config = PipelineConfig.model_validate(
        {"remove": {"temporal_window": 4, "inpaint_processes": 1}}
    )
    (remover,) = build_removers(config, {"inpaint"})
    with VideoReader(carphone.path) as reader:
        frames = list(reader.frames())

    def items():
        for f in frames:
            if f.index == 3:
                started[0].process.kill()
            yield MaskedFrame(f, {"inpaint": carphone.masks[f.index].dilate(6)})

    with pytest.raises(worker.WorkerError, match="exit code -9.*inpaint_processes: 0"):
        list(remover(items()))
    assert started[0].process.poll() is not None


def test_a_run_reports_its_workers_and_writes_what_one_process_writes(tmp_path, carphone, capfd):
    outputs, masks, reports = [], [], []
    for processes in (0, 1):
        config = PipelineConfig.model_validate({"remove": {"inpaint_processes": processes}})
        cues = [BrandCue("windows", "inpaint", (IMAGES / "WindowsLogo.jpg",))]
        out, masks_dir = tmp_path / f"out{processes}.mp4", tmp_path / f"masks{processes}"
        report = Pipeline(Job(carphone.path, out, cues, config, masks_dir=masks_dir)).run()
        workers = report["timing"].get("inpaint_workers", [])
        assert len(workers) == processes
        assert all(w["peak_rss_mib"] > 50 for w in workers)
        with VideoReader(out) as reader:
            outputs.append([f.rgb for f in reader.frames()])
        pngs = sorted(masks_dir.iterdir())
        masks.append([cv2.imread(str(png), cv2.IMREAD_GRAYSCALE) for png in pngs])
        reports.append(report)
    assert reports[0]["brands_found"]
    for key in ("tracks", "occurrences", "verification"):
        assert reports[0][key] == reports[1][key], key
    assert len(masks[0]) == len(masks[1]) == len(outputs[0]) == len(outputs[1]) == 40
    for one, other in zip(*masks, strict=True):
        assert np.array_equal(one, other)
    # The same fills encode to the same pictures (tests/test_io_same_bits.py for why they could
    # not before).
    for index, (one, other) in enumerate(zip(*outputs, strict=True)):
        assert np.array_equal(one, other), index
    # The workers say nothing on stderr (a module run twice made Python warn in each of them).
    assert "Warning" not in capfd.readouterr().err


def test_worker_count_follows_the_cores_and_the_memory(monkeypatch):
    config = PipelineConfig()  # temporal_window 30: a worker holds 2 x 61 frames
    hd = (1080, 1920)
    per_worker = 2 * 61 * 1080 * 1920 * 3
    monkeypatch.setattr(worker, "_available_bytes", lambda: 100 * per_worker)
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _: {0, 1})
    assert worker.worker_count(config, hd) == 2
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _: set(range(16)))
    assert worker.worker_count(config, hd) == 4  # at most four chosen automatically
    monkeypatch.setattr(worker, "_available_bytes", lambda: 5 * per_worker)
    assert worker.worker_count(config, hd) == 2  # half the available memory holds two
    assert worker.worker_count(config, (540, 960)) == 4
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _: {0})
    assert worker.worker_count(config, hd) == 0  # one core: fill in the main process
    asked = PipelineConfig.model_validate({"remove": {"inpaint_processes": 3}})
    assert worker.worker_count(asked, hd) == 3
    assert worker._available_bytes() > 0


def test_jobs_side_by_side_share_the_cores(monkeypatch):
    config = PipelineConfig()
    monkeypatch.setattr(worker, "_available_bytes", lambda: 1 << 40)
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _: set(range(8)))
    monkeypatch.setattr(worker, "_side_by_side", 1)
    assert worker.worker_count(config, (720, 1280)) == 4
    worker.share_cores(2)  # a batch of two items at once on eight cores: four each
    assert worker.worker_count(config, (720, 1280)) == 4
    worker.share_cores(3)  # two cores each
    assert worker.worker_count(config, (720, 1280)) == 2
    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda _: {0, 1})
    worker.share_cores(2)  # two items on two cores: inpainting in each item's own process
    assert worker.worker_count(config, (720, 1280)) == 0


def test_a_batch_pool_and_a_service_worker_say_how_many_run_side_by_side(monkeypatch, tmp_path):
    from autoblur.batch import runner
    from autoblur.service import workers as service_workers

    seen = {}

    class Pool:
        def __init__(self, max_workers, initializer=None, initargs=()):
            seen["pool"] = (max_workers, initializer, initargs)

        def __enter__(self):
            raise SystemExit  # the wiring is all this test wants

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(runner, "ProcessPoolExecutor", Pool)
    options = runner.BatchOptions(out_dir=tmp_path, config=PipelineConfig(), workers=3)
    with pytest.raises(SystemExit):
        list(runner._local_results([object(), object()], options))
    assert seen["pool"] == (3, worker.share_cores, (3,))
    shared = []
    monkeypatch.setattr(service_workers, "share_cores", shared.append)
    monkeypatch.setattr(service_workers, "die_with_parent", lambda pid: None)
    monkeypatch.setattr(service_workers.signal, "signal", lambda *a: None)

    class Stop(Exception):
        pass

    def no_job(self, worker_name):
        raise Stop

    monkeypatch.setattr(service_workers.JobQueue, "claim", no_job)
    settings = service_workers.ServiceSettings(
        data_dir=tmp_path, roots=(tmp_path,), token=None, workers=2
    )
    with pytest.raises(Stop):
        service_workers.worker_main(settings, "w0", 1)
    assert shared == [2]
