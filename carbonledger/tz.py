"""The platform's one time zone: days, months and years of accounts are Asia/Shanghai's.

A fixed UTC+8 offset rather than ``zoneinfo``: China has had no daylight saving time since 1991,
and a fixed offset needs no tzdata on a gateway or in a slim container.
"""

from __future__ import annotations

from datetime import timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
