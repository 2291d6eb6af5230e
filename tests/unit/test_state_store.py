"""The state file and its journal: what is journalled comes back after a crash, exactly once;
a damaged or tampered file is refused in one line before any window changes."""

from __future__ import annotations

import json
import math
import os
from types import SimpleNamespace

import numpy as np
import pytest

from forecaster.serve.journal import Journal, replay, segments_of
from forecaster.serve.state import StateStore, save_state
from pipelines.errors import ForecasterError
from pipelines.stream import WindowRegistry

STEP = 10**9 * 3600
START = 1_700_000_000 // 3600 * STEP  # an hour boundary in 2023
MODEL = SimpleNamespace(spec=SimpleNamespace(input_steps=4, features=("a", "b")), freq_="h", max_gap=2)


def registry(aggregate: str | None = None) -> WindowRegistry:
    return WindowRegistry(length=4, n_columns=2, step_ns=STEP, max_gap=2, aggregate=aggregate)


def reading(sensor: str, k: int, value: float | None = None) -> tuple[str, int, tuple[float, float]]:
    v = float(k) if value is None else value
    return sensor, START + k * STEP, (v, -v)


def push_all(reg: WindowRegistry, readings) -> None:
    for sensor, ns, values in readings:
        reg.get(sensor).push(ns, values)


@pytest.fixture(autouse=True)
def _close_stores():
    """Close every store a test opened (their journals keep a file open)."""
    yield
    while OPENED:
        OPENED.pop().close()


OPENED: list[StateStore] = []


def opened(path) -> StateStore:
    store = StateStore(path, MODEL)
    OPENED.append(store)
    return store


def windows_of(reg: WindowRegistry) -> dict:
    return json.loads(json.dumps(reg.to_dict()))


def test_a_crash_after_journalling_restores_every_journalled_reading(tmp_path):
    path = tmp_path / "state.json"
    store = opened(path)
    live = registry()
    store.restore(live)
    batches = [[reading("s1", k), reading("s2", k)] for k in range(7)]
    for i, batch in enumerate(batches):
        push_all(live, batch)
        store.record(batch)
        if i == 3:
            store.snapshot(live)  # a periodic snapshot in the middle: later batches only in the journal
    # kill -9 here: no snapshot at the end, the journal file stays as it is
    store.close()
    restarted = registry()
    sensors, replayed = opened(path).restore(restarted)
    assert sensors == 2 and replayed == 2 * 3
    assert windows_of(restarted) == windows_of(live)


def test_a_snapshot_drops_the_journal_segments_it_covers(tmp_path):
    path = tmp_path / "state.json"
    store = opened(path)
    live = registry()
    store.restore(live)
    for k in range(5):
        push_all(live, [reading("s1", k)])
        store.record([reading("s1", k)])
        store.snapshot(live)
    store.close()
    assert len(segments_of(path)) == 1  # only the open one
    assert list(replay(path, after=0)) == []  # everything is in the snapshot
    assert json.loads(path.read_text())["journal_seq"] == 5


def test_replaying_twice_changes_nothing(tmp_path):
    """Snapshot and journal overlap when a crash falls between writing the snapshot and
    dropping the segments: the overlap is skipped by sequence number (aggregates would count twice)."""
    path = tmp_path / "state.json"
    store = opened(path)
    live = registry(aggregate="mean")
    store.restore(live)
    batch = [reading("s1", 0, 1.0), ("s1", START + 60 * 10**9, (3.0, -3.0))]  # two readings of one slot
    push_all(live, batch)
    store.record(batch)
    save_state(path, live, MODEL, journal_seq=store.journal.last_seq)  # the snapshot, then the crash
    store.close()
    restarted = registry(aggregate="mean")
    opened(path).restore(restarted)
    assert windows_of(restarted) == windows_of(live)
    pending = restarted.to_dict()["s1"]["pending"]
    assert len(pending) == 2  # not four


def test_a_torn_last_line_is_skipped_and_a_damaged_middle_line_refused(tmp_path, caplog):
    path = tmp_path / "state.json"
    journal = Journal(path)
    journal.append([reading("s1", 0), reading("s1", 1)])
    journal.close()
    segment = segments_of(path)[-1][1]
    with open(segment, "ab") as handle:
        handle.write(b'[3,"s1",17')  # the crash hit mid-write
    assert [r[0] for r in replay(path, after=0)] == [1, 2]
    assert "torn record" in caplog.text
    lines = segment.read_bytes().split(b"\n")
    segment.write_bytes(b"\n".join([lines[0], b"{garbage", lines[1], b""]))
    with pytest.raises(ForecasterError, match=r"line 2: damaged journal record"):
        list(replay(path, after=0))


def test_journal_keeps_missing_values(tmp_path):
    path = tmp_path / "state.json"
    journal = Journal(path)
    journal.append([("s1", START, (math.nan, 2.0))])
    journal.close()
    (record,) = replay(path, after=0)
    assert record[1:3] == ("s1", START) and math.isnan(record[3][0]) and record[3][1] == 2.0


def saved_body(tmp_path) -> tuple[dict, os.PathLike]:
    path = tmp_path / "state.json"
    live = registry()
    push_all(live, [reading("s1", k) for k in range(5)])
    save_state(path, live, MODEL)
    return json.loads(path.read_text()), path


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda w: w.__setitem__("bad\u0085id", w.pop("s1")), "sensor id"),
        (lambda w: w["s1"]["rows"][1].__setitem__(0, None), r"rows\[1\]\[0\] is not a finite number"),
        (lambda w: w["s1"]["rows"][1].__setitem__(0, "1.5"), r"rows\[1\]\[0\] is not a finite number"),
        (lambda w: w["s1"]["rows"].append([1.0]), "rows"),
        (lambda w: w["s1"]["rows"][0].append(1.0), r"rows\[0\] is not a list of 2 values"),
        (lambda w: w["s1"].__setitem__("last_slot", 10**12), "'last_slot'"),
        (lambda w: w["s1"].__setitem__("last_slot", "7"), "'last_slot'"),
        (lambda w: w["s1"].__setitem__("last_slot", None), "rows without a 'last_slot'"),
        (lambda w: w["s1"].__setitem__("pending", [[0, [1.0, 2.0]]]), "pending"),
        (lambda w: w.__setitem__("s2", [1, 2]), "not an object"),
    ],
)
def test_a_tampered_state_file_is_refused_in_one_line_and_nothing_is_loaded(tmp_path, tamper, message):
    body, path = saved_body(tmp_path)
    tamper(body["windows"])
    path.write_text(json.dumps(body))
    target = registry()
    push_all(target, [reading("other", 0)])
    before = windows_of(target)
    with pytest.raises(ForecasterError, match=message) as caught:
        StateStore(path, MODEL).restore(target)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    assert windows_of(target) == before


def test_a_journal_record_with_a_bad_id_is_refused(tmp_path):
    path = tmp_path / "state.json"
    journal = Journal(path)
    journal.append([("a\u0085b", START, (1.0, 2.0))])
    journal.close()
    with pytest.raises(ForecasterError, match="journal record 1: sensor id"):
        StateStore(path, MODEL).restore(registry())


def test_a_file_for_another_model_is_ignored_with_a_warning(tmp_path, caplog):
    body, path = saved_body(tmp_path)
    body["model"]["input_steps"] = 96
    path.write_text(json.dumps(body))
    target = registry()
    assert opened(path).restore(target) == (0, 0)
    assert len(target) == 0 and "another model" in caplog.text


def test_a_version_1_file_still_loads(tmp_path):
    body, path = saved_body(tmp_path)
    body["version"] = 1
    del body["journal_seq"]
    path.write_text(json.dumps(body))
    target = registry()
    assert opened(path).restore(target) == (1, 0)
    np.testing.assert_array_equal(target.get("s1").window()[:, 0], [1.0, 2.0, 3.0, 4.0])


def test_an_unwritable_state_file_is_refused_at_start(tmp_path):
    with pytest.raises(ForecasterError, match="does not exist"):
        StateStore(tmp_path / "missing" / "state.json", MODEL).check_writable()
    with pytest.raises(ForecasterError, match="is a directory"):
        StateStore(tmp_path, MODEL).check_writable()
    # /sys refuses new files even to root (CI runs as root, which ignores directory permissions)
    with pytest.raises(ForecasterError, match="cannot write there"):
        StateStore("/sys/state.json", MODEL).check_writable()


def test_only_a_clean_stop_with_nothing_after_it_counts_as_clean(tmp_path):
    path = tmp_path / "state.json"
    store = opened(path)
    live = registry()
    store.restore(live)
    assert store.clean_stop  # no file yet: nothing can have been lost
    store.record([reading("s1", 0)])
    store.snapshot(live)  # a periodic snapshot is never clean
    store.close()
    crashed = opened(path)
    crashed.restore(registry())
    assert not crashed.clean_stop
    crashed.snapshot(live, clean=True)  # the final snapshot of a stop that flushed every forecast
    crashed.close()
    again = opened(path)
    again.restore(registry())
    assert again.clean_stop
    again.record([reading("s1", 1)])  # it ran on and was killed: the journal holds newer readings
    again.close()
    last = opened(path)
    last.restore(registry())
    assert not last.clean_stop


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda rows: "not base64!", "not base64"),
        (lambda rows: rows + "AAAA", "rows of 2 values"),
        (lambda rows: __import__("base64").b64encode(np.full((2, 2), np.nan).tobytes()).decode(), "not a finite number"),
    ],
)
def test_a_tampered_binary_snapshot_is_refused(tmp_path, tamper, message):
    path = tmp_path / "state.json"
    store = opened(path)
    live = registry()
    store.restore(live)
    push_all(live, [reading("s1", k) for k in range(3)])
    store.snapshot(live)
    body = json.loads(path.read_text())
    assert "rows_b64" in body["windows"]["s1"]  # periodic snapshots store rows compactly
    body["windows"]["s1"]["rows_b64"] = tamper(body["windows"]["s1"]["rows_b64"])
    path.write_text(json.dumps(body))
    with pytest.raises(ForecasterError, match=message):
        opened(path).restore(registry())
