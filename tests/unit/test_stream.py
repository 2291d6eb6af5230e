"""The streaming window gives exactly the batch windows, gaps included."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ForecasterError, RollingWindow, StaleReading, WindowRegistry, WindowSpec, regularize
from pipelines.readings import aggregate_slots, sensor_readings
from pipelines.windows import input_windows


@settings(max_examples=80, deadline=None)
@given(
    steps=st.lists(st.integers(1, 7), min_size=1, max_size=80),
    max_gap=st.integers(0, 4),
    length=st.integers(1, 6),
    seed=st.integers(0, 1000),
    missing=st.floats(0.0, 0.5),
)
def test_row_by_row_equals_batch(steps, max_gap, length, seed, missing):
    """Rows with a missing value (NaN, an empty CSV cell or a feature absent from a payload)
    are dropped by both paths alike."""
    slots = np.cumsum(steps) + 1000
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(slots), 2))
    values[rng.random(values.shape) < missing] = np.nan
    series = regularize(slots, values, max_gap)
    spec = WindowSpec(input_steps=length, horizon=1, features=["a", "b"], targets=["a"])
    batch = input_windows(series.values, spec, series.segment)

    window = RollingWindow(length=length, n_columns=2, step_ns=60, max_gap=max_gap)
    streamed = [w for s, v in zip(slots, values) for w in window.push(int(s) * 60, v)]
    assert len(streamed) == len(batch)
    for a, b in zip(streamed, batch):
        assert np.array_equal(a, b)  # bit for bit


def test_stale_and_bad_readings_leave_state_untouched():
    w = RollingWindow(length=2, n_columns=1, step_ns=1, max_gap=0)
    w.push(1, [1.0])
    w.push(2, [2.0])
    before = w.window()
    with pytest.raises(StaleReading, match="duplicate") as duplicate:
        w.push(2, [9.0])
    with pytest.raises(StaleReading, match="out-of-order") as late:
        w.push(1, [9.0])
    assert (duplicate.value.kind, late.value.kind) == ("duplicate", "out_of_order")
    with pytest.raises(ForecasterError, match="expected 1 values"):
        w.push(3, [1.0, 2.0])
    assert np.array_equal(w.window(), before) and w.last_slot == 2
    assert w.push(3, [3.0])[0][:, 0].tolist() == [2.0, 3.0]


def test_a_missing_value_is_a_missing_row():
    w = RollingWindow(length=2, n_columns=2, step_ns=1, max_gap=1)
    w.push(1, [1.0, 10.0])
    assert w.push(2, [float("nan"), 20.0]) == [] and w.last_slot == 1  # nothing changes
    with pytest.raises(StaleReading, match="duplicate"):
        w.push(1, [float("nan"), 1.0])  # still refused by its slot
    window = w.push(3, [3.0, 30.0])[-1]
    assert window.tolist() == [[2.0, 20.0], [3.0, 30.0]]  # slot 2 interpolated, as the batch path does


def test_state_round_trip():
    w = RollingWindow(length=3, n_columns=1, step_ns=1, max_gap=0)
    for t in range(5):
        w.push(t, [float(t)])
    copy = RollingWindow(length=3, n_columns=1, step_ns=1, max_gap=0)
    copy.restore(w.to_dict())
    assert np.array_equal(copy.window(), w.window())
    assert np.array_equal(copy.push(5, [5.0])[0], w.push(5, [5.0])[0])


def test_registry_bounds_sensors():
    reg = WindowRegistry(length=1, n_columns=1, step_ns=1, max_gap=0, max_sensors=3)
    for i in range(10):
        reg.get(str(i))
    assert len(reg) == 3 and reg.evicted == 7


AGGREGATE_RULES = ("mean", "last", "first", "min", "max", "sum")


@settings(max_examples=120, deadline=None)
@given(
    steps=st.lists(st.integers(1, 5), min_size=1, max_size=40),
    per_slot=st.lists(st.integers(1, 12), min_size=40, max_size=40),
    how=st.sampled_from(AGGREGATE_RULES),
    max_gap=st.integers(0, 3),
    length=st.integers(1, 5),
    seed=st.integers(0, 1000),
    missing=st.floats(0.0, 0.5),
)
def test_aggregated_row_by_row_equals_batch(steps, per_slot, how, max_gap, length, seed, missing):
    """Several readings per slot (in any order inside the slot, some cells missing), pushed one
    by one with ``aggregate=how``, give bit for bit the batch windows of the frame read with
    ``aggregate=how``; the last slot is finalised by the clock."""
    rng = np.random.default_rng(seed)
    step_ns = 60_000_000_000
    slots = np.cumsum(steps) + 29_000_000
    ns = []
    for slot, n in zip(slots, per_slot):
        inside = rng.integers(0, step_ns, size=n)  # readings of one slot, not in time order
        ns.extend(int(slot) * step_ns + int(t) for t in inside)
    values = rng.normal(size=(len(ns), 2)) * 100
    values[rng.random(values.shape) < missing] = np.nan
    frame = pd.DataFrame({"ts": pd.to_datetime(ns, utc=True), "a": values[:, 0], "b": values[:, 1]})
    _, by_sensor = sensor_readings(frame, ["a", "b"], freq="1min", time_col="ts", aggregate=how)
    readings = by_sensor["0"]
    series = regularize(readings.slots, readings.values, max_gap)
    spec = WindowSpec(input_steps=length, horizon=1, features=["a", "b"], targets=["a"])
    batch = input_windows(series.values, spec, series.segment)

    window = RollingWindow(length=length, n_columns=2, step_ns=step_ns, max_gap=max_gap, aggregate=how, grace_ns=0)
    streamed = [w for t, v in zip(ns, values) for w in window.push(t, v)]
    streamed += window.finalize_due(int(slots[-1] + 1) * step_ns)
    assert len(streamed) == len(batch)
    for a, b in zip(streamed, batch):
        assert np.array_equal(a, b)  # bit for bit


@pytest.mark.parametrize("how", AGGREGATE_RULES)
def test_aggregate_slots_is_pandas_groupby_and_local_to_a_slot(how):
    """The one rule agrees with pandas' groupby (to rounding), and a slot's row does not depend
    on the other slots (pandas sums a group differently when another group holds a NaN)."""
    rng = np.random.default_rng(3)
    slots = np.sort(rng.integers(0, 30, size=200))
    values = rng.normal(size=(200, 3)) * 100
    values[rng.random(values.shape) < 0.3] = np.nan
    last, combined = aggregate_slots(slots, values, how)
    grouped = pd.DataFrame(values).groupby(slots)
    expected = grouped.sum(min_count=1) if how == "sum" else grouped.agg(how)
    assert np.allclose(combined, expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert np.array_equal(slots[last], np.unique(slots))
    for j, slot in enumerate(np.unique(slots)):
        alone = aggregate_slots(slots[slots == slot], values[slots == slot], how)[1][0]
        assert np.array_equal(alone, combined[j], equal_nan=True)


def test_grace_finalises_the_pending_slot_by_the_clock():
    step = 10
    w = RollingWindow(length=2, n_columns=1, step_ns=step, max_gap=0, aggregate="max", grace_ns=3)
    assert w.push(0, [1.0]) == [] and w.push(5, [4.0]) == [] and w.push(9, [2.0]) == []
    assert w.finalize_due(12) == [] and w.pending_slot == 0  # end 10 + grace 3 not reached
    assert w.finalize_due(13) == [] and w.pending_slot is None and w.last_slot == 0  # final: row 4.0
    with pytest.raises(StaleReading, match="already final") as late:
        w.push(7, [9.0])  # a reading of the slot finalised by the clock comes too late
    assert late.value.kind == "duplicate"
    w.push(14, [6.0])
    assert w.finalize_due(10**6)[0][:, 0].tolist() == [4.0, 6.0]
    never = RollingWindow(length=1, n_columns=1, step_ns=step, max_gap=0, aggregate="max", grace_ns=None)
    never.push(0, [1.0])
    assert never.finalize_due(10**9) == [] and never.push(10, [2.0])[0].tolist() == [[1.0]]


def test_registry_finalises_due_sensors_only():
    reg = WindowRegistry(length=1, n_columns=1, step_ns=10, max_gap=0, aggregate="sum", grace_ns=0)
    reg.get("a").push(0, [1.0])
    reg.get("a").push(1, [2.0])
    reg.get("b").push(20, [5.0])
    done = reg.finalize_due(10)
    assert list(done) == ["a"] and done["a"][0].tolist() == [[3.0]]
    assert list(reg.finalize_due(30)) == ["b"] and reg.finalize_due(10**6) == {}


def test_aggregate_refuses_older_slots_and_redeliveries():
    w = RollingWindow(length=1, n_columns=2, step_ns=10, max_gap=0, aggregate="mean")
    w.push(10, [1.0, np.nan])
    with pytest.raises(StaleReading, match="before the pending slot") as old:
        w.push(5, [1.0, 1.0])
    with pytest.raises(StaleReading, match="same reading again") as again:
        w.push(10, [1.0, np.nan])  # a QoS 1 redelivery is not counted twice
    assert (old.value.kind, again.value.kind) == ("out_of_order", "duplicate")
    assert w.push(11, [3.0, 4.0]) == []
    assert w.push(20, [0.0, 0.0])[0].tolist() == [[2.0, 4.0]]
    with pytest.raises(StaleReading, match="already final|before the pending"):
        w.push(15, [1.0, 1.0])


def test_without_aggregate_a_duplicate_names_the_option():
    w = RollingWindow(length=1, n_columns=1, step_ns=10, max_gap=0)
    w.push(0, [1.0])
    with pytest.raises(StaleReading, match="--aggregate"):
        w.push(5, [2.0])
    with pytest.raises(ForecasterError, match="aggregate"):
        RollingWindow(length=1, n_columns=1, step_ns=10, max_gap=0, aggregate="median")


def test_pending_readings_survive_the_state_file():
    w = RollingWindow(length=2, n_columns=2, step_ns=10, max_gap=0, aggregate="mean", grace_ns=0)
    for t, v in [(0, [1.0, 2.0]), (10, [3.0, np.nan]), (15, [5.0, 6.0])]:
        w.push(t, v)
    state = json.loads(json.dumps(w.to_dict(), allow_nan=False))
    copy = RollingWindow(length=2, n_columns=2, step_ns=10, max_gap=0, aggregate="mean", grace_ns=0)
    assert copy.restore(state) == 0 and copy.pending_slot == 1
    assert np.array_equal(copy.push(20, [0.0, 0.0])[0], w.push(20, [0.0, 0.0])[0])
    plain = RollingWindow(length=2, n_columns=2, step_ns=10, max_gap=0)
    assert plain.restore(state) == 2 and plain.pending_slot is None  # no rule: dropped, counted


def test_serve_options_offer_the_pipelines_rules_and_validate():
    """`forecaster serve --aggregate` offers exactly `readings.AGGREGATES`; `ServeConfig` checks
    the rule and the grace."""
    from forecaster.cli.mqtt import serve
    from forecaster.serve.config import ServeConfig
    from forecaster.serve.mqtt_settings import BrokerAddress, MqttSettings
    from pipelines.readings import AGGREGATES

    options = {p.name: p for p in serve.params}
    assert tuple(options["aggregate"].type.choices) == AGGREGATES and options["aggregate"].default == "error"
    assert options["slot_grace"].default is None
    mqtt = MqttSettings(broker=BrokerAddress.parse("mqtt://h"), client_id="c")
    assert ServeConfig(bundle="b", mqtt=mqtt, status_topic="s", aggregate="max", slot_grace=0).slot_grace == 0
    with pytest.raises(ForecasterError, match="aggregate"):
        ServeConfig(bundle="b", mqtt=mqtt, status_topic="s", aggregate="median")
    for bad in (-1.0, float("nan"), float("inf"), True):
        with pytest.raises(ForecasterError, match="slot_grace"):
            ServeConfig(bundle="b", mqtt=mqtt, status_topic="s", aggregate="mean", slot_grace=bad)
