"""The Redis window store against a real redis-server (no model): readings held by slot,
reordering within --reorder-slots, the gap rule, redeliveries, and forecasts claimed exactly
once across replicas."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from redis_server import RedisServer

from forecaster.serve.redis_store import AGAIN, CONFLICT, HELD, TOO_LATE, RedisWindows
from pipelines.errors import ForecasterError
from pipelines.slotted import windows_at
from pipelines.stream import RollingWindow

L, GAP, STEP = 4, 2, 1_000_000_000  # window length, max_gap, one-second slots


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.kill()


def store(url: str, owner: str, namespace: str, reorder: int = 3) -> RedisWindows:
    return RedisWindows(url, namespace=namespace, owner=owner, n_columns=2, length=L, max_gap=GAP, step_ns=STEP,
                        reorder=reorder)


def series(n: int, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(size=(n, 2)), 3)


def push(s: RedisWindows, sensor: str, slot: int, values: np.ndarray, published: list) -> int:
    """Push one reading; publish (collect) the windows it claimed, confirm; its status."""
    [(status, claim)] = s.push([(sensor, slot * STEP, values)])
    if claim is not None:
        published += [(sensor, slot_, w) for slot_, w in windows_at(claim.slots, claim.rows, claim.lo, claim.hi,
                                                                   length=L, max_gap=GAP)]
        s.confirm([(sensor, claim.hi)])
    return status


def expected(values: np.ndarray, slots: list[int]) -> dict[int, np.ndarray]:
    """The windows `RollingWindow` gives for these slots pushed in order."""
    w, out = RollingWindow(length=L, n_columns=2, step_ns=1, max_gap=GAP), {}
    for k in slots:
        done = w.push(k, values[k])
        if done:
            out[k] = done[-1]
    return out


def test_reordered_readings_on_two_replicas_give_every_window_once_and_equal_to_in_order(redis_url):
    values = series(60)
    rng = np.random.default_rng(1)
    order = sorted(range(60), key=lambda k: k + rng.uniform(0, 3.5))  # each at most 3 slots late
    a, b = store(redis_url, "a", "reorder"), store(redis_url, "b", "reorder")
    published: list = []
    statuses = [push((a, b)[i % 2], "s1", k, values[k], published) for i, k in enumerate(order)]
    assert statuses == [HELD] * 60
    slots = [slot for _, slot, _ in published]
    assert slots == sorted(slots) and len(slots) == len(set(slots)) == 60 - L + 1
    want = expected(values, list(range(60)))
    for _, slot, window in published:
        np.testing.assert_array_equal(window, want[slot])


def test_a_missing_slot_is_given_up_after_k_newer_readings_and_then_refused(redis_url):
    values = series(20, seed=2)
    s, published = store(redis_url, "a", "gap", reorder=3), []
    for k in range(10):
        push(s, "s1", k, values[k], published)
    push(s, "s1", 11, values[11], published)  # slot 10 missing
    push(s, "s1", 12, values[12], published)
    assert [slot for _, slot, _ in published][-1] == 9  # 11 and 12 wait for 10
    push(s, "s1", 13, values[13], published)  # 13 = 10 + K: slot 10 is given up (interpolated)
    assert [slot for _, slot, _ in published][-4:] == [9, 11, 12, 13]
    want = expected(values, [k for k in range(14) if k != 10])
    for _, slot, window in published:
        np.testing.assert_array_equal(window, want[slot])
    assert push(s, "s1", 10, values[10], published) == TOO_LATE
    assert push(s, "s1", 12, values[12], published) == AGAIN
    assert push(s, "s1", 12, values[12] + 1, published) == CONFLICT


def test_a_long_gap_starts_a_new_segment_as_on_the_stream_path(redis_url):
    values = series(40, seed=3)
    s, published = store(redis_url, "a", "reset", reorder=0), []
    slots = list(range(10)) + list(range(20, 40))  # a gap of 10 > max_gap: the window restarts at 20
    for k in slots:
        push(s, "s1", k, values[k], published)
    want = expected(values, slots)
    assert [slot for _, slot, _ in published] == sorted(want)
    assert 20 + L - 2 not in want and 20 + L - 1 in want


def test_concurrent_replicas_claim_each_slot_exactly_once(redis_url):
    values = series(200, seed=4)
    sensors = [f"c{i}" for i in range(5)]
    published: list = []
    lock = threading.Lock()

    start = threading.Barrier(3)

    def replica(name: str, part: int) -> None:
        s, mine = store(redis_url, name, "concurrent", reorder=1000), []
        for k in range(200):
            if k <= L:  # a series' start settles after min(reorder, L) slots: its first slots must not be
                start.wait()  # later than that (a loaded machine let one thread fall that far behind); then
            for j, sensor in enumerate(sensors):  # the threads drift apart freely
                if (k + j) % 3 == part:
                    push(s, sensor, k, values[k], mine)
        with lock:
            published.extend(mine)

    threads = [threading.Thread(target=replica, args=(f"r{p}", p)) for p in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [(sensor, slot) for sensor, slot, _ in published]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted((sensor, k) for sensor in sensors for k in range(L - 1, 200))
    want = expected(values, list(range(200)))
    for _, slot, window in published:
        np.testing.assert_array_equal(window, want[slot])


def test_an_unconfirmed_claim_is_taken_over_by_its_owner_or_after_the_lease(redis_url):
    values = series(10, seed=5)
    a, b = store(redis_url, "a", "claims"), store(redis_url, "b", "claims")
    for k in range(L + 3):  # a claims and never confirms (a crash between claim and publish)
        a.push([("s1", k * STEP, values[k])])
    assert a.pending() == [("a", "s1")]
    assert b.take("a", "s1", cutoff_ms=b.now_ms() - 60_000) is None  # too recent for another replica
    claim = a.take("a", "s1")  # a, restarted: its own claim
    assert (claim.lo, claim.hi) == (0, L + 2)
    assert [slot for slot, _ in windows_at(claim.slots, claim.rows, claim.lo, claim.hi, length=L, max_gap=GAP)] == \
        list(range(L - 1, L + 3))
    taken = b.take("a", "s1")  # a dead for good: after the lease anyone takes it
    assert (taken.lo, taken.hi) == (0, L + 2) and b.pending() == [("b", "s1")]
    b.confirm([("s1", taken.hi)])
    assert b.pending() == [] and a.take("a", "s1") is None


def test_another_models_windows_are_refused(redis_url):
    s = store(redis_url, "a", "settings")
    s.check_settings({"input_steps": L})
    s.check_settings({"input_steps": L})
    with pytest.raises(ForecasterError, match="holds windows of other settings"):
        s.check_settings({"input_steps": L + 1})
