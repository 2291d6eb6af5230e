"""The program's logging: one handler on stderr, as plain text lines or JSON lines.

Set once by the command line (``--log-format``, ``-v``, ``-q``); the library only logs.
"""

from __future__ import annotations

import json
import logging
import sys
import time

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")


class JsonLines(logging.Formatter):
    """One JSON object per record: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``
    and, for an exception, ``exc``; what log shippers (Loki, Fluent Bit, journald) parse as is.

    Example:
        >>> record = logging.LogRecord("forecaster", logging.INFO, __file__, 1, "%d sensors", (3,), None)
        >>> record.created = 0.0
        >>> JsonLines().format(record)
        '{"ts": "1970-01-01T00:00:00.000Z", "level": "INFO", "logger": "forecaster", "message": "3 sensors"}'
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        body = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z" if record.created else f"{stamp}.000Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging(level: int, log_format: str) -> None:
    """Send every log record at ``level`` and above to stderr, in ``log_format``.

    Like `logging.basicConfig`, it leaves handlers that the embedding program installed alone
    (a test runner's, say) and only sets the level then; ``main()`` called again replaces its
    own handler.
    """
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if h.get_name() == "forecaster-cli"]:
        root.removeHandler(old)
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name("forecaster-cli")
    root.addHandler(handler)
