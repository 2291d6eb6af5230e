"""The warning for a ``--map FEATURE=PATH`` whose path the messages do not hold: once per feature,
and only while no message has held it (once one has, an absent path is a value the device skipped)."""

from __future__ import annotations

import logging

from pipelines.payloads import ParseRules, Reading

log = logging.getLogger("forecaster.serve.service")


class MapPathWarnings:
    """Watches the mapped features of ``rules`` in the readings parsed (network thread only)."""

    def __init__(self, rules: ParseRules) -> None:
        self.rules = rules
        self._unmatched = set(rules.paths)  # mapped features whose path no message has held yet
        self._warned: set[str] = set()

    def check(self, item: Reading, topic: str) -> None:
        """Warn once for each ``--map`` path that ``item``'s message does not hold, as long as no
        message has held it."""
        if not self._unmatched:
            return
        for feature in sorted(self._unmatched):
            if feature not in item.absent:
                self._unmatched.discard(feature)
            elif feature not in self._warned:
                self._warned.add(feature)
                log.warning(
                    "--map %s=%s: no such path in the message on %r (fields no rule uses: %s); %s is a missing "
                    "value while the path is absent; try the map with `forecaster parse`", feature,
                    self.rules.paths[feature], topic[:128], ", ".join(item.ignored) or "none", feature,
                )
