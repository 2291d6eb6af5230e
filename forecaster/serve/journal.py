"""The write-ahead journal: accepted readings on disk before their messages are acknowledged.

Each batch the worker processes is appended as JSON lines ``[seq, sensor, ns, values]`` in
one write; a committer thread then ``fsync``s everything appended so far in one call (a group
commit) and only then acknowledges the batches' MQTT messages: a reading the broker no longer
holds is always on disk, and the worker never waits for the disk. The state file
(`forecaster.serve.state`) is a snapshot that records the last ``seq`` it includes; the
journal is cut into segments (``<state>.journal.<first seq>``) so that a snapshot can drop
the segments it covers without rewriting anything. At start the snapshot is loaded and the
newer records replayed through the same window rules (`replay`).
A crash in the middle of a write leaves a torn last line: its reading was never
acknowledged (the broker redelivers it), so that line is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from pipelines.errors import ForecasterError

log = logging.getLogger(__name__)

Record = tuple[int, str, int, tuple[float, ...]]  # seq, sensor, ns since the epoch, values (NaN: missing)


class Journal:
    """Appends records to the newest segment; `sync` makes them durable; `rotate` starts a new
    segment. Thread-safe: the worker appends while the committer thread syncs.

    Args:
        state_file: the state file the journal belongs to; segments sit beside it.
        next_seq: the sequence number of the next record (one past the newest on disk).
    """

    def __init__(self, state_file: str | Path, *, next_seq: int = 1) -> None:
        self.state_file = Path(state_file)
        self.next_seq = next_seq
        self.syncs = 0
        self._lock = threading.Lock()
        self._file = None
        self._dirty = False
        self._open_segment()

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest record written (0: none yet)."""
        return self.next_seq - 1

    def append(self, readings: Sequence[tuple[str, int, Sequence[float]]]) -> None:
        """Write ``(sensor, ns, values)`` readings in one write (to the OS: they survive a crash
        of the process; `sync` makes them survive a crash of the machine).

        Raises:
            OSError: the disk refused the write (the caller must not acknowledge).
        """
        if not readings:
            return
        lines = []
        with self._lock:
            for sensor, ns, values in readings:
                cells = [None if math.isnan(v) else v for v in values]
                lines.append(json.dumps([self.next_seq, sensor, ns, cells], separators=(",", ":"), allow_nan=False))
                self.next_seq += 1
            self._file.write(("\n".join(lines) + "\n").encode())
            self._dirty = True

    def sync(self) -> None:
        """``fsync`` what was appended so far (one call covers every append before it: a group
        commit). Raises OSError when the disk refuses."""
        with self._lock:
            if self._dirty:
                os.fsync(self._file.fileno())
                self._dirty = False
                self.syncs += 1

    def rotate(self) -> None:
        """Sync and close the current segment and start a new one (its records all come later)."""
        with self._lock:
            if self._dirty:
                os.fsync(self._file.fileno())
                self._dirty = False
            self._file.close()
            self._open_segment()

    def drop_through(self, seq: int) -> int:
        """Delete the closed segments whose records are all ``<= seq`` (a snapshot covers them);
        how many were deleted."""
        with self._lock:
            segments = segments_of(self.state_file)
            current = Path(self._file.name)
            bounds = [first for first, _ in segments[1:]] + [self.next_seq]
        dropped = 0
        for (_first, path), next_first in zip(segments, bounds):
            if path != current and next_first - 1 <= seq:
                path.unlink(missing_ok=True)
                dropped += 1
        return dropped

    def close(self) -> None:
        """Sync and close the current segment."""
        with self._lock:
            if self._file is not None and not self._file.closed:
                if self._dirty:
                    os.fsync(self._file.fileno())
                    self._dirty = False
                self._file.close()

    def _open_segment(self) -> None:
        path = self.state_file.with_name(f"{self.state_file.name}.journal.{self.next_seq}")
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 (kept open between appends)


def segments_of(state_file: str | Path) -> list[tuple[int, Path]]:
    """The journal segments beside ``state_file``, oldest first, with their first seq."""
    state_file = Path(state_file)
    prefix = f"{state_file.name}.journal."
    found = []
    for path in state_file.parent.glob(f"{glob_escape(prefix)}*"):
        suffix = path.name[len(prefix):]
        if suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def replay(state_file: str | Path, after: int) -> Iterator[Record]:
    """The records with ``seq > after``, oldest first, from every segment beside ``state_file``.

    A torn last line of the newest segment (a crash mid-write; never acknowledged) is skipped
    with a warning.

    Raises:
        ForecasterError: a damaged record anywhere else (one line, naming the file and line).
    """
    segments = segments_of(state_file)
    for index, (_first, path) in enumerate(segments):
        lines = path.read_bytes().split(b"\n")
        last = len(lines) - 1
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            record = _parse(line)
            if record is None:
                if index == len(segments) - 1 and number >= last:
                    log.warning("%s line %d: torn record (a crash mid-write; never acknowledged) skipped", path, number)
                    continue
                raise ForecasterError(f"{path} line {number}: damaged journal record; move the file away to start "
                                      "without it (its readings are lost)")
            if record[0] > after:
                yield record


def _parse(line: bytes) -> Record | None:
    """One journal line, or None when it is not a well-formed record."""
    try:
        seq, sensor, ns, cells = json.loads(line)
        values = tuple(math.nan if v is None else float(v) for v in cells)
    except (ValueError, TypeError):
        return None
    if type(seq) is not int or type(ns) is not int or not isinstance(sensor, str):
        return None
    return seq, sensor, ns, values
