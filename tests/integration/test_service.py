"""The daemon's logic with a list of readings and a recording publisher (no broker)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from helpers import ETT_COLUMNS

from forecaster.serve.service import ForecastService
from forecaster.serve.state import restore_state, save_state
from pipelines.errors import ForecasterError
from pipelines.payloads import ParseRules, Reading, encode_reading
from pipelines.stream import WindowRegistry


class RecordingPublisher:
    """Keeps what would have been published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict, int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        self.sent.append((topic, json.loads(payload), qos, retain))
        return True


def make_service(model, **kwargs):
    rules = ParseRules(subscription="sensors/+/readings", features=model.spec.features, known=model.spec.targets)
    publisher = RecordingPublisher()
    return ForecastService(model, rules=rules, publisher=publisher, **kwargs), publisher


def readings(frame: pd.DataFrame, sensor: str, rows: slice) -> list[Reading]:
    part = frame.iloc[rows]
    return [Reading(sensor, ts, tuple(v)) for ts, v in zip(part["date"], part[ETT_COLUMNS].to_numpy().tolist())]


def test_streamed_forecasts_equal_batch_predictions(tiny_model, ett_small):
    service, publisher = make_service(tiny_model, qos=0, retain=True)
    rows = readings(ett_small, "t1", slice(0, 40))
    del rows[30:32]  # a short gap: interpolated like the batch path does
    for reading in rows:
        service.process([reading])
    assert len(publisher.sent) == 40 - 2 - 24 + 1  # one per reading once the window is full
    assert service.metrics.value("forecaster_windows_superseded_total") == 2  # the gap's interpolated windows
    last = publisher.sent[-1]
    assert last[0] == "forecasts/t1" and last[2:] == (0, True)
    frame = ett_small.iloc[:40].drop(index=ett_small.index[30:32])
    expected = tiny_model.predict(frame)
    got = last[1]
    assert got["sensor"] == "t1" and got["model"] == tiny_model.identity and got["step"] == "1h"
    assert set(got["model"]) == {"name", "version", "hash"}
    assert got["issued_at"] == "2016-07-02T15:00:00Z"
    assert [f["ts"] for f in got["forecast"]] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in expected["ts"]]
    np.testing.assert_allclose([f["OT"] for f in got["forecast"]], expected["OT"], rtol=0, atol=1e-5)


def test_windows_completed_together_are_predicted_in_one_batch(tiny_model, ett_small):
    service, publisher = make_service(tiny_model)
    batch = [r for k in range(5) for r in readings(ett_small, f"s{k}", slice(k, k + 26))]
    assert service.process(batch) == 5
    assert service.metrics.value("forecaster_batch_windows_count") == 1
    assert service.metrics.value("forecaster_batch_windows_sum") == 5
    assert service.metrics.value("forecaster_windows_superseded_total") == 5 * 2  # 3 windows each, newest kept
    assert sorted(t for t, *_ in publisher.sent) == [f"forecasts/s{k}" for k in range(5)]


def test_stale_readings_are_counted_and_leave_the_window_alone(tiny_model, ett_small):
    service, publisher = make_service(tiny_model)
    good = readings(ett_small, "t1", slice(0, 30))
    service.process(good[:25])
    before = service.windows.get("t1").window()
    changed = Reading("t1", good[24].ts, tuple(v + 1 for v in good[24].values))
    older = Reading("t1", good[10].ts, tuple(v + 1 for v in good[10].values))
    service.process([changed, older])  # a duplicate slot with other values, then an old slot
    service.process([good[24], good[10]])  # the very readings again: redeliveries, already in the window
    assert np.array_equal(service.windows.get("t1").window(), before)
    m = service.metrics
    assert m.value("forecaster_messages_total", result="rejected", cause="duplicate") == 1
    assert m.value("forecaster_messages_total", result="rejected", cause="out_of_order") == 1
    assert m.value("forecaster_readings_redelivered_total") == 2
    service.process(good[25:])
    reference, _ = make_service(tiny_model)
    reference.process(good)
    assert np.array_equal(service.windows.get("t1").window(), reference.windows.get("t1").window())


def test_receive_parses_counts_and_enqueues(tiny_model, ett_small):
    service, publisher = make_service(tiny_model, queue_size=2)
    row = ett_small.iloc[0]
    good = encode_reading(row["date"], ETT_COLUMNS, row[ETT_COLUMNS].tolist())
    service.receive("sensors/t1/readings", good)
    service.receive("sensors/t1/readings", b"nope")
    service.receive("sensors/t2/readings", good)
    service.receive("sensors/t3/readings", good)  # the queue holds 2
    m = service.metrics
    assert service.inbox.qsize() == 2
    assert m.value("forecaster_messages_total", result="rejected", cause="non_json") == 1
    assert m.value("forecaster_messages_total", result="rejected", cause="queue_full") == 1
    service.accepting = False
    service.receive("sensors/t1/readings", good)  # left unacknowledged for the next session, not dropped
    assert m.value("forecaster_messages_deferred_total") == 1
    assert m.value("forecaster_messages_total", result="rejected", cause="shutdown") == 0
    assert service.inbox.qsize() == 2


def test_idle_shortcut_processes_in_the_receiving_thread_only_when_nothing_waits(tiny_model, ett_small):
    waiting = {"more": False}
    service, publisher = make_service(tiny_model, more_pending=lambda: waiting["more"], idle_gap=0.0)
    encoded = [encode_reading(r.ts, ETT_COLUMNS, r.values) for r in readings(ett_small, "t1", slice(0, 30))]
    for payload in encoded[:24]:  # idle: each reading goes straight into its window, no worker runs
        service.receive("sensors/t1/readings", payload)
    assert service.inbox.empty() and len(publisher.sent) == 1
    waiting["more"] = True  # another message waits on the socket: queue, so that the worker batches
    service.receive("sensors/t1/readings", encoded[24])
    waiting["more"] = False  # nothing waits, but a reading is queued: queue too (never overtake it)
    service.receive("sensors/t1/readings", encoded[25])
    assert service.inbox.qsize() == 2 and len(publisher.sent) == 1
    stop = threading.Event()
    stop.set()
    service.run(stop)
    assert len(publisher.sent) == 2  # the batch of two readings: only the newest window is published
    service.receive("sensors/t1/readings", encoded[26])  # idle again: processed at once, in order
    assert service.inbox.empty() and len(publisher.sent) == 3
    assert publisher.sent[-1][1]["issued_at"] == "2016-07-02T02:00:00Z"
    assert service.metrics.value("forecaster_messages_total", result="rejected", cause="out_of_order") in (None, 0)


def test_a_busy_daemon_never_takes_the_shortcut(tiny_model, ett_small):
    service, publisher = make_service(tiny_model, more_pending=lambda: False, idle_gap=60.0)
    rows = readings(ett_small, "t1", slice(0, 3))
    for r in rows:  # the first arrives after a long silence (processed at once), the others right after it
        service.receive("sensors/t1/readings", encode_reading(r.ts, ETT_COLUMNS, r.values))
    assert service.inbox.qsize() == 2
    assert service.windows.get("t1").last_slot == rows[0].ts.value // service.step_ns


def test_without_more_pending_every_reading_is_queued(tiny_model, ett_small):
    service, publisher = make_service(tiny_model)
    for r in readings(ett_small, "t1", slice(0, 24)):
        service.receive("sensors/t1/readings", encode_reading(r.ts, ETT_COLUMNS, r.values))
    assert service.inbox.qsize() == 24 and not publisher.sent


def test_worker_finishes_the_queue_after_stop(tiny_model, ett_small):
    service, publisher = make_service(tiny_model)
    for r in readings(ett_small, "t1", slice(0, 30)):
        service.inbox.put((r, None))
    stop = threading.Event()
    stop.set()
    service.run(stop, max_batch=4)
    assert service.inbox.empty() and len(publisher.sent) >= 2 and not service.alive


def test_an_idle_worker_sleeps_until_woken(tiny_model, ett_small):
    service, publisher = make_service(tiny_model)
    stop = threading.Event()
    worker = threading.Thread(target=service.run, args=(stop,), kwargs={"poll": 60.0})
    worker.start()
    service.wake()  # a wake-up without stop is not a reading
    rows = readings(ett_small, "t1", slice(0, 24))
    for r in rows:
        service.inbox.put((r, None))
        service._enqueued += 1
    deadline = time.monotonic() + 30
    while service._done < 24 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service._done == 24 and len(publisher.sent) == 1
    stop.set()
    service.wake()
    worker.join(5)  # without the wake-up it would sleep out its 60 s poll
    assert not worker.is_alive()


def test_state_file_round_trip(tiny_model, ett_small, tmp_path):
    service, _ = make_service(tiny_model)
    service.process(readings(ett_small, "t1", slice(0, 30)))
    path = tmp_path / "state.json"
    save_state(path, service.windows, tiny_model)
    copy, publisher = make_service(tiny_model)
    assert restore_state(path, copy.windows, tiny_model) == 1
    assert copy.process(readings(ett_small, "t1", slice(30, 31))) == 1  # continues at once
    path.write_text("{broken")
    with pytest.raises(ForecasterError, match="unreadable state file"):
        restore_state(path, WindowRegistry(length=1, n_columns=1, step_ns=1, max_gap=0), tiny_model)


@pytest.mark.parametrize("template", ["forecasts/#", "forecasts/+/x", "f/{sensor}/{other}", "$SYS/{sensor}"])
def test_bad_publish_templates_are_refused(tiny_model, template):
    with pytest.raises(ForecasterError, match="publish"):
        make_service(tiny_model, template=template)
