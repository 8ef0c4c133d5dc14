"""The stage clock: each stage's time without the stages inside it, adding up to the whole."""

import time

from autoblur.stage_clock import StageClock


def test_a_stage_is_counted_without_the_stages_inside_it():
    clock = StageClock()
    with clock.stage("outer"):
        time.sleep(0.05)
        with clock.stage("inner"):
            time.sleep(0.1)
        time.sleep(0.05)
    times = clock.to_json()
    assert 0.09 <= times["outer"]["wall_s"] < 0.15
    assert 0.09 <= times["inner"]["wall_s"] < 0.15
    assert times["inner"]["cpu_s"] < 0.05  # asleep: no CPU


def test_a_stream_counts_only_the_time_spent_producing_its_items():
    clock = StageClock()

    def produce():
        for item in range(3):
            time.sleep(0.03)
            yield item

    consumed = []
    for item in clock.stream("produce", produce()):
        with clock.stage("consume"):
            time.sleep(0.01)
        consumed.append(item)
    times = clock.to_json()
    assert consumed == [0, 1, 2]
    assert 0.08 <= times["produce"]["wall_s"] < 0.14
    assert 0.025 <= times["consume"]["wall_s"] < 0.06


def test_the_stages_add_up_to_the_time_since_the_clock_started():
    started = time.perf_counter()
    clock = StageClock()
    with clock.stage("a"):
        sum(range(200_000))
    time.sleep(0.02)  # no stage: "other"
    times = clock.to_json()
    whole = time.perf_counter() - started
    assert times["other"]["wall_s"] >= 0.02
    assert abs(sum(t["wall_s"] for t in times.values()) - whole) < 0.005
