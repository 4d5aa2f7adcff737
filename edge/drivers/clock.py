"""Time for drivers: readings are stamped in Asia/Shanghai (UTC+8 all year, no tzdata needed)."""

from __future__ import annotations

from datetime import datetime

from carbonledger.tz import SHANGHAI


def now() -> datetime:
    """The current instant in Asia/Shanghai, to the millisecond (the wire format's resolution)."""
    instant = datetime.now(SHANGHAI)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)
