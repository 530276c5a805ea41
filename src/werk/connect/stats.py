"""What a connector tells about itself: counters, connection state, rejected input.

Every connector owns one :class:`ConnectorStats`. Rejections are counted by reason (``malformed``,
``unknown-alias``, ``not-finite``, ``clock-skew`` ...) and logged at most once a minute per reason,
so a device that sends garbage at 1 kHz fills a counter, not the disk. Connection state changes
are logged once per transition, not once per retry.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("werk.connect")

LOG_EVERY_S = 60.0


@dataclass
class ConnectorStats:
    name: str
    state: str = "starting"  # starting | connected | disconnected | stopped
    since_ns: int = field(default_factory=time.time_ns)
    last_error: str = ""
    messages: int = 0  # protocol messages received (notifications, MQTT messages, polls)
    samples: int = 0  # samples delivered downstream
    rejected: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    gaps: int = 0  # times data could not be recovered after an outage (a gap marker was written)
    spooled: int = 0  # samples written to the on-disk spool while downstream was unavailable
    replayed: int = 0  # samples replayed from the spool
    dropped: int = 0  # samples the spool's overflow policy discarded
    extra: dict[str, Any] = field(default_factory=dict)  # protocol-specific counters
    _logged_at: dict[str, float] = field(default_factory=dict, repr=False)

    def reject(self, reason: str, count: int = 1, detail: str = "") -> None:
        """Count input that was refused; log the reason at most once a minute."""
        if count <= 0:
            return
        self.rejected[reason] += count
        now = time.monotonic()
        if now - self._logged_at.get(reason, -LOG_EVERY_S) >= LOG_EVERY_S:
            self._logged_at[reason] = now
            log.warning(
                "%s: rejected %d input(s): %s%s (total %d; logged once a minute)",
                self.name,
                count,
                reason,
                f" ({detail})" if detail else "",
                self.rejected[reason],
            )

    def connected(self) -> None:
        if self.state != "connected":
            log.info("%s: connected", self.name)
            self.state = "connected"
            self.since_ns = time.time_ns()
            self.last_error = ""

    def disconnected(self, error: BaseException | str) -> bool:
        """Record a lost or failed connection; True on the transition (log, mark quality once)."""
        text = error if isinstance(error, str) else (str(error) or type(error).__name__)
        self.last_error = text
        if self.state == "disconnected":
            return False
        if self.state == "connected":
            self.reconnects += 1
        log.warning("%s: disconnected: %s (retrying with backoff)", self.name, text)
        self.state = "disconnected"
        self.since_ns = time.time_ns()
        return True

    def stopped(self) -> None:
        self.state = "stopped"
        self.since_ns = time.time_ns()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "since": self.since_ns,
            "last_error": self.last_error,
            "messages": self.messages,
            "samples": self.samples,
            "rejected": dict(self.rejected),
            "reconnects": self.reconnects,
            "gaps": self.gaps,
            "spooled": self.spooled,
            "replayed": self.replayed,
            "dropped": self.dropped,
            **self.extra,
        }
