"""Backfilling historical readings from CSV through live ingest's own validation and writer.

Each row is validated by :func:`carbonledger.wire.decode_reading` (the rules of an MQTT payload's
readings) and its meter must be registered; rows are then written by ingest's
:class:`~ingest.writer.BatchWriter`, so a backfill deduplicates by identity against everything
already stored, logs the series it extends in ``reading_changes`` (the aggregator follows and the
rollups update), and turns a reading that repeats an identity with another value into a
conflicting-duplicate dead letter, exactly like live ingest. Each row is its own "message"
(topic ``import:FILE:LINE``, payload the row's text), so a dead letter names its line.

Two passes over the file, both streamed: the first validates every row and writes nothing when
any is bad (listing them all); the second writes batches of ``batch_size`` rows, each committed on
its own (on a writer thread, so reading the next batch overlaps the database), with a progress
line. Memory stays bounded by one batch. An interrupted import can be run
again: rows already stored are duplicates, nothing is stored twice.
"""

from __future__ import annotations

import hashlib
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from carbonledger import wire
from carbonledger.csvfile import PROBLEM_LIMIT, CsvRow, Problems, read_rows
from carbonledger.db.connect import connect, database_errors
from carbonledger.errors import WireFormatError
from ingest.directory import Directory
from ingest.writer import BatchWriter, Message, hand_over

COLUMNS = ("meter_id", "quantity", "time", "value", "quality")
_FIELD = {"meter": "meter_id"}  # wire field -> CSV column where they differ
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass
class ReadingsReport:
    """What a readings import stored; ``conflicts`` names each conflicting line (capped)."""

    path: str
    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    conflict_count: int = 0
    conflicts: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.path}: {self.lines} readings: {self.stored} stored,"
            f" {self.duplicates - self.conflict_count} already stored,"
            f" {self.conflict_count} conflicting with stored readings (dead letters)"
        )


def import_readings(
    conninfo: str, path: Path, *, batch_size: int = 5000, progress: TextIO | None = None
) -> ReadingsReport:
    """Validate all of ``path``, then store it in batches; see the module docstring."""
    directory = Directory()
    with connect(conninfo, autocommit=True) as conn, database_errors("reading the registry"):
        directory.load(conn)
    problems = Problems(path)
    total = sum(1 for _ in _validated(path, directory, problems))
    problems.raise_if_any()
    report = ReadingsReport(str(path), lines=total)
    bar = _Progress(total, progress or sys.stderr)
    writer = BatchWriter(conninfo)
    try:
        _store(writer, _batches(_messages(path, directory, problems), batch_size), report, bar)
        bar.show(report, final=True)
    finally:
        writer.close()
    problems.raise_if_any()  # the file changed between the passes
    return report


def _batches(messages: Iterator[Message], size: int) -> Iterator[list[Message]]:
    batch: list[Message] = []
    for message in messages:
        batch.append(message)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _store(
    writer: BatchWriter, batches: Iterator[list[Message]], report: ReadingsReport, bar: _Progress
) -> None:
    """Write the batches on a second thread, so parsing the next overlaps the database's work.

    One batch waits between the two at most (memory stays bounded); the writer's error is
    raised here.
    """
    handoff: queue.Queue[list[Message] | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def drain() -> None:
        try:
            while (batch := handoff.get()) is not None:
                _write(writer, batch, report)
                bar.show(report)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the reading thread below
            failure.append(exc)

    thread = threading.Thread(target=drain, name="readings-import-writer", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if not hand_over(handoff, batch, thread):
                break
    finally:
        if thread.is_alive():
            handoff.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _validated(
    path: Path, directory: Directory, problems: Problems
) -> Iterator[tuple[CsvRow, wire.Reading]]:
    """The valid rows of ``path`` with their reading; every bad one is added to ``problems``."""
    for row in read_rows(path, COLUMNS, COLUMNS):
        if row.error:
            problems.add(row.line, "(row)", row.error)
            continue
        text = row.values["value"]
        if not _NUMBER.fullmatch(text):
            problems.add(row.line, "value", f"{text!r} is not a number" if text else "missing")
            continue
        item = {
            "meter": row.values["meter_id"],
            "quantity": row.values["quantity"],
            "time": row.values["time"],
            "value": float(text),
            "quality": row.values["quality"],
        }
        try:
            reading = wire.decode_reading(item)
        except WireFormatError as exc:
            problems.add(row.line, _FIELD.get(exc.field, exc.field), exc.problem)
            continue
        if directory.enterprise_of(reading.meter) is None:
            problems.add(
                row.line,
                "meter_id",
                f"unknown meter {reading.meter!r} (register it with carbonledger registry import)",
            )
            continue
        yield row, reading


def _messages(path: Path, directory: Directory, problems: Problems) -> Iterator[Message]:
    received = datetime.now(UTC)
    for row, reading in _validated(path, directory, problems):
        yield Message(
            topic=f"import:{path.name}:{row.line}",
            payload=row.raw.encode(),
            rows=[
                (
                    reading.time,
                    reading.meter,
                    reading.quantity,
                    reading.value,
                    reading.quality.value,
                    received,
                )
            ],
            row_indexes=[0],
        )


_REASONS = """
SELECT topic, reason FROM dead_letters WHERE topic = ANY(%s) AND payload_sha256 = ANY(%s)
"""


def _write(writer: BatchWriter, batch: list[Message], report: ReadingsReport) -> None:
    result = writer.write(batch)
    report.stored += result.stored
    report.duplicates += result.duplicates
    if not result.dead_lettered:
        return
    report.conflict_count += result.dead_lettered
    if len(report.conflicts) >= PROBLEM_LIMIT:
        return
    conn = writer.connection
    topics = [m.topic for m in batch]
    digests = [hashlib.sha256(m.payload).digest() for m in batch]
    with database_errors("reading dead letters failed"):
        rows = conn.execute(_REASONS, (topics, digests)).fetchall()
        conn.commit()
    lines = {t: int(t.rsplit(":", 1)[1]) for t in topics}
    for topic, reason in sorted(rows, key=lambda r: lines[r[0]]):
        text = str(reason).removeprefix("readings[0]: ")
        report.conflicts.append(f"{report.path}:{lines[topic]}: {text}")
    del report.conflicts[PROBLEM_LIMIT:]


class _Progress:
    """A line every 10 % or 10 s (or a redrawn line on a terminal), like ``aggregate recompute``."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out = max(total, 1), out
        self.tty = out.isatty()
        self.began = self.last = time.monotonic()
        self.tenth = 0
        self.shown = -1

    def show(self, report: ReadingsReport, final: bool = False) -> None:
        done = report.stored + report.duplicates
        if done == self.shown:
            return
        self.shown = done
        fraction = done / self.total
        now = time.monotonic()
        rate = done / max(now - self.began, 1e-9)
        line = (
            f"readings import {done}/{report.lines} ({fraction:.0%}) {report.stored} stored,"
            f" {report.conflict_count} conflicts, {rate:,.0f} readings/s"
        )
        if self.tty:
            self.out.write(f"\r{line}" + ("\n" if final else ""))
        elif final or int(fraction * 10) > self.tenth or now - self.last > 10:
            self.tenth, self.last = int(fraction * 10), now
            self.out.write(line + "\n")
        self.out.flush()
