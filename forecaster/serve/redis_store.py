"""Windows in Redis (``--state-store redis://HOST:PORT/DB``): the only module that imports redis.

Each reading is kept by slot (`forecaster.serve.redis_scripts` says how), pushed by one Lua
script that also settles the sensor's slots and claims the forecasts that became due, so any
replica can take any reading and a forecast slot is claimed by exactly one of them. A batch of
readings is one pipeline (one round trip). A failed call raises `StoreDown` and is not retried
here: a pipeline that reached Redis but whose answer was lost may have claimed forecasts, which
only `RedisWindows.pending` and `RedisWindows.take` find again (the caller's recovery).

What Redis keeps is as durable as its own persistence: ``appendonly yes`` with ``appendfsync
always`` (every write on disk before the answer) or ``everysec`` (a Redis crash can lose the last
second); with persistence off a Redis restart loses the windows.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import redis

from forecaster.serve import redis_scripts
from forecaster.serve.store_url import check_store_url, redacted
from pipelines.errors import ForecasterError

HELD, AGAIN, CONFLICT, TOO_LATE = 0, 1, 2, 3  # what the push script says of one reading


class StoreDown(OSError):
    """Redis could not be reached or answered with an error."""


@dataclass(frozen=True)
class Claim:
    """Forecast slots ``lo..hi`` of a sensor claimed by this replica, with the readings their
    windows need (``slots`` ascending, ``rows`` ``(n, n_columns)``)."""

    sensor: str
    lo: int
    hi: int
    slots: np.ndarray
    rows: np.ndarray


class RedisWindows:
    """Every sensor's readings in Redis, settled and claimed by Lua scripts.

    Args:
        url: ``redis://HOST:PORT/DB``.
        namespace: the key prefix (one per share group).
        owner: this replica's id (its MQTT client id): its unconfirmed claims are its own.
        n_columns, length, max_gap, step_ns: the model's window (``length`` = input_steps).
        reorder: ``--reorder-slots`` K: a reading up to K slots late still lands in its window.
        timeout: seconds for connecting and for each answer.
    """

    def __init__(self, url: str, *, namespace: str, owner: str, n_columns: int, length: int, max_gap: int,
                 step_ns: int, reorder: int, timeout: float = 2.0) -> None:
        self.url, self.owner, self.n_columns = check_store_url(url), owner, n_columns
        self.length, self.max_gap, self.reorder, self.step_ns = length, max_gap, reorder, step_ns
        self.prefix = f"forecaster:{namespace}:"
        span_ms = (length + reorder + max_gap + 2) * step_ns // 1_000_000
        self.ttl_ms = max(86_400_000, 4 * span_ms)  # a silent sensor's keys go; its window had reset anyway
        self._row = np.dtype([("slot", ">i8"), ("values", "<f8", (n_columns,))])
        self.client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry_on_timeout=False, retry=None, health_check_interval=10)
        self._push = self.client.register_script(redis_scripts.PUSH)
        self._confirm = self.client.register_script(redis_scripts.CONFIRM)
        self._take = self.client.register_script(redis_scripts.TAKE)

    def _keys(self, sensor: str) -> list[str]:
        base = f"{self.prefix}{{{sensor}}}"
        return [f"{base}:r", f"{base}:m", f"{self.prefix}claims"]

    def _member(self, owner: str, sensor: str) -> str:
        return f"{owner}\0{sensor}"

    def check_settings(self, fingerprint: dict) -> None:
        """Record the window settings under the namespace, or check them against those recorded
        (another model's windows would be misread).

        Raises:
            ForecasterError: the namespace holds windows of other settings.
            StoreDown: Redis cannot be reached.
        """
        text = json.dumps(fingerprint, sort_keys=True)
        key = f"{self.prefix}settings"
        try:
            self.client.set(key, text, nx=True)
            found = self.client.get(key)
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
        if found is not None and found.decode() != text:
            raise ForecasterError(f"--state-store {redacted(self.url)}: {key} holds windows of other settings "
                                  f"({found.decode()}; this model: {text}); use another --share-group or database")

    def push(self, readings: Sequence[tuple[str, int, np.ndarray]],
             confirm: Sequence[tuple[str, int]] = ()) -> list[tuple[int, Claim | None]]:
        """Push ``(sensor, ns, values)`` readings in one round trip (after confirming the
        ``confirm`` claims, as `confirm` does); for each reading, its status (`HELD`, `AGAIN`,
        `CONFLICT`, `TOO_LATE`) and the forecasts it made due (claimed for this replica)."""
        if not readings:
            self.confirm(confirm)
            return []
        pipe = self.client.pipeline(transaction=False)
        self._confirms(pipe, confirm)
        for sensor, ns, values in readings:
            slot = ns // self.step_ns
            member = struct.pack(">q", slot) + np.asarray(values, dtype="<f8").tobytes()
            self._push(keys=self._keys(sensor), client=pipe,
                       args=[slot, member, self.reorder, self.length, self.max_gap, self.ttl_ms, self.owner,
                             self._member(self.owner, sensor)])
        answers = self._execute(pipe)[len(confirm):]
        out = []
        for (sensor, _, _), answer in zip(readings, answers):
            claim = None
            if len(answer) > 1:
                claim = self._claim(sensor, int(answer[1]), int(answer[2]), answer[3:])
            out.append((int(answer[0]), claim))
        return out

    def confirm(self, claims: Sequence[tuple[str, int]]) -> None:
        """The forecasts of these ``(sensor, hi)`` claims are published: drop the claims."""
        if not claims:
            return
        pipe = self.client.pipeline(transaction=False)
        self._confirms(pipe, claims)
        self._execute(pipe)

    def _confirms(self, pipe, claims: Sequence[tuple[str, int]]) -> None:
        for sensor, hi in claims:
            keys = self._keys(sensor)
            self._confirm(keys=keys[1:], args=[self.owner, self._member(self.owner, sensor), hi], client=pipe)

    def pending(self, older_than_ms: float | None = None) -> list[tuple[str, str]]:
        """``(owner, sensor)`` of every unconfirmed claim (made ``older_than_ms`` ago or before)."""
        try:
            now = self.client.time()
            top = "+inf" if older_than_ms is None else now[0] * 1000 + now[1] // 1000 - older_than_ms
            found = self.client.zrangebyscore(f"{self.prefix}claims", "-inf", top)
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
        return [tuple(m.decode().split("\0", 1)) for m in found]

    def take(self, owner: str, sensor: str, cutoff_ms: float = float("inf")) -> Claim | None:
        """Take over ``owner``'s unconfirmed claim of ``sensor`` if made at or before
        ``cutoff_ms`` (Redis time); None when there is none to take."""
        cutoff = "inf" if cutoff_ms == float("inf") else int(cutoff_ms)
        try:
            answer = self._take(keys=self._keys(sensor), args=[
                owner, self.owner, self._member(owner, sensor), self._member(self.owner, sensor), cutoff,
                self.length, self.max_gap])
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
        return self._claim(sensor, int(answer[0]), int(answer[1]), answer[2:]) if answer else None

    def now_ms(self) -> float:
        """Redis's clock in milliseconds (the claims' timestamps)."""
        try:
            seconds, micros = self.client.time()
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
        return seconds * 1000 + micros // 1000

    def ping(self) -> None:
        """Raises `StoreDown` unless Redis answers."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None

    def close(self) -> None:
        self.client.close()

    def _claim(self, sensor: str, lo: int, hi: int, members: Sequence[bytes]) -> Claim:
        table = np.frombuffer(b"".join(members), dtype=self._row)
        return Claim(sensor, lo, hi, table["slot"].astype("int64"), table["values"].astype("float64"))

    @staticmethod
    def _execute(pipe) -> list:
        try:
            return pipe.execute(raise_on_error=True)
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
