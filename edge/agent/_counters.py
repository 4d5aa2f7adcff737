"""The agent's counters: what the heartbeat reports and the log lines carry.

Plain integers on one object owned by the agent (no module-level state), updated on the event loop
only, so they need no lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    started: float = field(default_factory=time.monotonic)
    readings_written: int = 0  # committed to the outbox
    readings_published: int = 0  # acknowledged by the broker and deleted from the outbox
    batches_published: int = 0
    dropped_by_quota: int = 0  # lost to the quota policy (old ones dropped or new ones refused)
    rejected_invalid: int = 0  # readings a driver produced that break the wire format
    driver_restarts: int = 0
    connects: int = 0
    disconnects: int = 0
    publish_failures: int = 0  # messages whose PUBACK failed or never came (re-sent later)

    def published(self, readings: int) -> None:
        self.readings_published += readings
        self.batches_published += 1

    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def snapshot(self) -> dict[str, int]:
        return {
            "readings_written": self.readings_written,
            "readings_published": self.readings_published,
            "batches_published": self.batches_published,
            "dropped_by_quota": self.dropped_by_quota,
            "rejected_invalid": self.rejected_invalid,
            "driver_restarts": self.driver_restarts,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "publish_failures": self.publish_failures,
        }
