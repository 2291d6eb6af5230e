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

import hashlib
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
        self._scripts = {"push": redis_scripts.PUSH, "confirm": redis_scripts.CONFIRM, "take": redis_scripts.TAKE}
        self._sha = {name: hashlib.sha1(text.encode()).hexdigest() for name, text in self._scripts.items()}

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
        calls = self._confirms(confirm)
        for sensor, ns, values in readings:
            slot = ns // self.step_ns
            member = struct.pack(">q", slot) + np.asarray(values, dtype="<f8").tobytes()
            calls.append(("push", self._keys(sensor), [slot, member, self.reorder, self.length, self.max_gap,
                                                       self.ttl_ms, self.owner, self._member(self.owner, sensor)]))
        answers = self._run(calls)[len(confirm):]
        out = []
        for (sensor, _, _), answer in zip(readings, answers):
            claim = None
            if len(answer) > 1:
                claim = self._claim(sensor, int(answer[1]), int(answer[2]), answer[3:])
            out.append((int(answer[0]), claim))
        return out

    def confirm(self, claims: Sequence[tuple[str, int]]) -> None:
        """The forecasts of these ``(sensor, hi)`` claims are published: drop the claims."""
        if claims:
            self._run(self._confirms(claims))

    def _confirms(self, claims: Sequence[tuple[str, int]]) -> list[tuple[str, list, list]]:
        return [("confirm", self._keys(sensor)[1:], [self.owner, self._member(self.owner, sensor), hi])
                for sensor, hi in claims]

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
        [answer] = self._run([("take", self._keys(sensor), [
            owner, self.owner, self._member(owner, sensor), self._member(self.owner, sensor), cutoff,
            self.length, self.max_gap])])
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

    def _run(self, calls: Sequence[tuple[str, list, list]]) -> list:
        """Run ``(script, keys, args)`` calls in one pipeline (EVALSHA; the scripts are loaded
        when Redis does not know them, e.g. after a restart, and the pipeline sent again: every
        call of it failed then, so nothing ran twice)."""
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for name, keys, args in calls:
                pipe.evalsha(self._sha[name], len(keys), *keys, *args)
            try:
                return pipe.execute(raise_on_error=True)
            except redis.exceptions.NoScriptError:
                if attempt == 2:
                    raise StoreDown("Redis forgets the scripts as soon as they are loaded") from None
                self._load_scripts()
            except redis.RedisError as exc:
                raise StoreDown(str(exc)) from None
        return []

    def _load_scripts(self) -> None:
        try:
            for text in self._scripts.values():
                self.client.script_load(text)
        except redis.RedisError as exc:
            raise StoreDown(str(exc)) from None
