"""The state file: the daemon's windows, kept safe across stops and crashes.

Two parts sit side by side: a snapshot (``--state-file``, JSON, written atomically: a
temporary file, fsync, rename) and the write-ahead journal (`forecaster.serve.journal`) of
every reading accepted since. `StateStore` ties them together: `StateStore.record` journals
a batch before its messages are acknowledged, `StateStore.snapshot` runs every
``--state-interval`` seconds and at shutdown, and `StateStore.restore` loads the snapshot and
replays the newer journal records at start.

The windows are a cache of the last readings: a snapshot written for another model (other
input length, features, cadence or gap rule) is ignored with a warning, while a file that
cannot be read or does not pass `forecaster.serve.state_check` is an error, refused before any
window changes (the user decides whether to remove it).
With ``--aggregate``, the readings of each sensor's pending slot are saved too, and the slot
is finalised after the restart as it would have been (a later reading, or its grace passing);
a file with pending readings loaded without ``--aggregate`` drops them with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from forecaster.serve.journal import Journal, replay
from forecaster.serve.state_check import check_state_body, decode_rows, encode_rows
from pipelines.errors import ForecasterError
from pipelines.payloads import check_sensor_id
from pipelines.stream import WindowRegistry

log = logging.getLogger(__name__)

STATE_VERSION = 2  # 2: adds journal_seq; version 1 files (no journal) still load
READABLE_VERSIONS = (1, 2)


def _fingerprint(model) -> dict:
    spec = model.spec
    return {"input_steps": spec.input_steps, "features": list(spec.features), "freq": model.freq_, "max_gap": model.max_gap}


def save_state(path: str | Path, registry: WindowRegistry, model, *, journal_seq: int = 0, clean: bool = False) -> None:
    """Write the windows atomically (a temporary file, fsync, then rename). ``clean``: written
    at a stop after every forecast was acknowledged by the broker."""
    write_atomically(Path(path), _body(model, journal_seq, clean, registry.to_dict()))


def _body(model, journal_seq: int, clean: bool, windows: dict) -> bytes:
    """The state file's bytes. Encoded sensor by sensor: one `json.dumps` of a large fleet holds
    the GIL for half a second (measured: 1,000 sensors x 96 x 7), which stalls the worker; many
    small calls let it run in between."""
    head = json.dumps({"version": STATE_VERSION, "model": _fingerprint(model), "journal_seq": journal_seq,
                       "clean": clean})
    parts = [f"{json.dumps(sensor)}:{json.dumps(encode_rows(state), allow_nan=False)}" for sensor, state in windows.items()]
    return f'{head[:-1]}, "windows": {{{", ".join(parts)}}}}}'.encode()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def restore_state(path: str | Path, registry: WindowRegistry, model, *, now_ns: int | None = None) -> int:
    """Load windows saved by `save_state`; returns how many sensors came back.

    A missing file restores nothing; a file for another model's windows is ignored with a
    warning (the windows are a cache); an unreadable or invalid file is an error, raised
    before any window changes.

    Raises:
        ForecasterError: the file cannot be read, or fails a check of `check_state_body`.
    """
    return _restore_snapshot(Path(path), registry, model, now_ns)[0]


def _restore_snapshot(path: Path, registry: WindowRegistry, model, now_ns: int | None) -> tuple[int, int, bool]:
    """`restore_state`, also returning the journal seq the snapshot includes and whether it was
    written at a clean stop."""
    if not path.exists():
        return 0, 0, True
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ForecasterError(f"{path}: unreadable state file ({exc}); remove it to start with empty windows") from None
    if not isinstance(body, dict) or "windows" not in body:
        raise ForecasterError(f"{path}: unreadable state file (not a state file); remove it to start with empty windows")
    if body.get("version") not in READABLE_VERSIONS or body.get("model") != _fingerprint(model):
        log.warning("%s: saved for another model or version; starting with empty windows", path)
        return 0, 0, True
    now_ns = time.time_ns() if now_ns is None else now_ns
    problem = decode_rows(body, registry.settings["n_columns"]) or check_state_body(body, registry, now_ns=now_ns)
    if problem:
        raise ForecasterError(f"{path}: bad window state ({problem}); remove it to start with empty windows")
    dropped = registry.restore(body["windows"])
    if dropped:
        log.warning("%s: %d reading(s) of pending slots dropped (saved with --aggregate, which is not set now)", path, dropped)
    return len(body["windows"]), int(body.get("journal_seq", 0)), body.get("clean") is True


class Snapshot(NamedTuple):
    """Windows captured for a snapshot, and the last journal record they include."""

    seq: int
    windows: dict


class StateStore:
    """The snapshot and the journal of one state file.

    Args:
        path: the state file (``--state-file``).
        model: the served model (its window spec is the snapshot's fingerprint).
    """

    def __init__(self, path: str | Path, model) -> None:
        self.path = Path(path)
        self.model = model
        self.journal: Journal | None = None
        self.saves = 0
        self.last_save_seconds = 0.0
        self.clean_stop = True  # after `restore`: the last run stopped cleanly (nothing it published was lost)

    def check_writable(self) -> None:
        """Refuse a state file the daemon could not write, before it takes any traffic.

        Raises:
            ForecasterError: the directory is missing or not writable, or the path is a directory.
        """
        where = self.path.parent
        if self.path.is_dir():
            raise ForecasterError(f"--state-file {self.path}: is a directory; give a file path")
        if not where.is_dir():
            raise ForecasterError(f"--state-file {self.path}: the directory {where} does not exist")
        probe = self.path.with_name(self.path.name + ".tmp")
        try:
            with open(probe, "ab"):
                pass
            probe.unlink()
        except OSError as exc:
            raise ForecasterError(f"--state-file {self.path}: cannot write there ({exc.strerror})") from None

    def restore(self, registry: WindowRegistry, *, now_ns: int | None = None) -> tuple[int, int]:
        """Load the snapshot, replay the newer journal records, open the journal.

        Returns:
            ``(sensors restored from the snapshot, journal records replayed)``.

        Raises:
            ForecasterError: an unreadable or invalid snapshot or journal (nothing loaded).
        """
        staging = registry.empty_like()
        sensors, seq, clean = _restore_snapshot(self.path, staging, self.model, now_ns)
        replayed, newest, columns = 0, seq, registry.settings["n_columns"]
        for record_seq, sensor, ns, values in replay(self.path, after=seq):
            newest = max(newest, record_seq)
            replayed += 1
            why = check_sensor_id(sensor)
            if why:
                raise ForecasterError(f"{self.path}: journal record {record_seq}: sensor id {sensor[:64]!r}: {why}; "
                                      "move the journal away to start without it")
            if len(values) != columns:
                raise ForecasterError(f"{self.path}: journal record {record_seq} has {len(values)} values, the model "
                                      f"{columns}; move the journal away to start without it")
            try:
                staging.get(sensor).push(ns, values)
            except ForecasterError:  # StaleReading: already in the snapshot
                pass
        registry.adopt(staging)
        self.clean_stop = clean and replayed == 0
        self.journal = Journal(self.path, next_seq=newest + 1)
        return sensors, replayed

    def record(self, readings: Sequence[tuple[str, int, Sequence[float]]]) -> None:
        """Journal a processed batch (one write); `sync` before acknowledging it."""
        if self.journal is None:
            raise ForecasterError("StateStore.record before restore")
        self.journal.append(readings)

    def sync(self) -> None:
        """Make every batch recorded so far durable (one fsync)."""
        if self.journal is not None:
            self.journal.sync()

    def capture(self, registry: WindowRegistry) -> Snapshot:
        """The windows as they are now and the journal position they include, with the journal
        moved on to a new segment (hold the lock that guards ``registry``; fast: a copy).
        `write` it later, outside the lock."""
        seq = self.journal.last_seq if self.journal is not None else 0
        if self.journal is not None:
            self.journal.rotate()
        return Snapshot(seq, registry.to_dict(arrays=True))

    def write(self, snapshot: Snapshot, *, clean: bool = False) -> None:
        """Write a captured snapshot atomically and drop the journal segments it covers;
        ``clean`` at a stop after every forecast was acknowledged."""
        started = time.perf_counter()
        write_atomically(self.path, _body(self.model, snapshot.seq, clean, snapshot.windows))
        if self.journal is not None:
            self.journal.drop_through(snapshot.seq)
        self.saves += 1
        self.last_save_seconds = time.perf_counter() - started

    def snapshot(self, registry: WindowRegistry, *, clean: bool = False) -> None:
        """`capture` and `write` at once (hold the lock that guards ``registry``)."""
        self.write(self.capture(registry), clean=clean)

    def close(self) -> None:
        """Close the journal."""
        if self.journal is not None:
            self.journal.close()
