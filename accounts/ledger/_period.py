"""Account periods: calendar months and years (closed once over), month-to-date and the rolling
12 months (live), all in local time (Asia/Shanghai, UTC+8, no DST)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from carbonledger.errors import ConfigError
from carbonledger.tz import SHANGHAI

PeriodKind = Literal["month", "year", "mtd", "rolling12"]
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"\d{4}")


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def local_midnight(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day`` as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Period:
    """``kind`` with local dates ``start`` (inclusive) and ``end`` (exclusive).

    ``mtd`` is the current month and ``rolling12`` the current month and the 11 before it, both
    as of now; ``closed`` says the period is over (only such a period can be closed).
    """

    kind: PeriodKind
    start: date
    end: date
    today: date

    @classmethod
    def parse(cls, text: str, now: datetime | None = None) -> Period:
        """``YYYY-MM``, ``YYYY``, ``mtd`` or ``rolling12``; ValueError for anything else."""
        today = local_today(now)
        text = text.strip().lower()
        if text == "mtd":
            return cls.mtd(now)
        if text == "rolling12":
            start = add_months(today, -11)
            return cls("rolling12", start, add_months(today, 1), today)
        if m := _MONTH.fullmatch(text):
            year, month = int(m.group(1)), int(m.group(2))
            if not 1 <= month <= 12:
                raise ValueError(f"period {text!r}: month must be 01..12")
            start = date(year, month, 1)
            return cls("month", start, add_months(start, 1), today)
        if _YEAR.fullmatch(text):
            year = int(text)
            return cls("year", date(year, 1, 1), date(year + 1, 1, 1), today)
        raise ValueError(f"period {text!r} is not YYYY-MM, YYYY, mtd or rolling12")

    @classmethod
    def option(cls, text: str) -> Period:
        """A period given to a command: a bad one is a :class:`ConfigError` with the reason."""
        try:
            return cls.parse(text)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    @classmethod
    def mtd(cls, now: datetime | None = None) -> Period:
        today = local_today(now)
        return cls("mtd", month_start(today), add_months(today, 1), today)

    @classmethod
    def month(cls, start: date, now: datetime | None = None) -> Period:
        start = month_start(start)
        return cls("month", start, add_months(start, 1), local_today(now))

    @property
    def closed(self) -> bool:
        """The period is over (every day of it is past)."""
        return self.kind in ("month", "year") and self.end <= self.today

    @property
    def live(self) -> bool:
        """It contains today: its figures move as readings arrive."""
        return self.start <= self.today < self.end

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "year":
            return f"{self.start:%Y}"
        if self.kind == "mtd":
            return f"{self.start:%Y-%m} month to date ({self.today:%Y-%m-%d})"
        last = add_months(self.end, -1)
        return f"rolling 12 months {self.start:%Y-%m} to {last:%Y-%m} (to {self.today:%Y-%m-%d})"

    @property
    def text(self) -> str:
        """What :meth:`parse` reads back."""
        return self.kind if self.kind in ("mtd", "rolling12") else self.label

    def months(self) -> list[date]:
        out, current = [], self.start
        while current < self.end:
            out.append(current)
            current = add_months(current, 1)
        return out

    def bounds(self, as_of: datetime) -> tuple[datetime, datetime]:
        """[start, effective end) as aware datetimes: a live period ends at ``as_of``."""
        lo, hi = local_midnight(self.start), local_midnight(self.end)
        return lo, min(hi, max(lo, as_of))
