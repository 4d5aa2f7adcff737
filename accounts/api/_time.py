"""Local time: Asia/Shanghai (UTC+8, no DST since 1991), 15-minute buckets."""

from __future__ import annotations

from datetime import datetime


def floor_15m(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
