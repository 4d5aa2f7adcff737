"""The SQLite outbox: order, seq persistence, quota policies, and durability under kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from carbonledger.errors import OutboxFullError
from carbonledger.wire import Quality, Reading
from edge.agent import FullPolicy, Outbox

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def readings(start: int, count: int, meter: str = "m-1") -> list[Reading]:
    return [
        Reading(meter, "energy_import", T0 + timedelta(seconds=15 * i), float(i), Quality.GOOD)
        for i in range(start, start + count)
    ]


def test_batches_oldest_first_and_ack_deletes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.write(readings(0, 250))
    first = box.next_batch(100, T0)
    second = box.next_batch(100, T0)
    assert first is not None and second is not None
    assert [r.value for r in first.readings] == [float(i) for i in range(100)]
    assert second.seq == first.seq + 1 and second.readings[0].value == 100.0
    assert box.unacked() == [first.seq, second.seq]
    assert box.ack(second.seq) == 100 and box.depth == 150
    assert box.ack(second.seq) == 0  # a second PUBACK for the same batch deletes nothing
    assert box.oldest_time() == T0
    box.close()


def test_seq_and_unacked_batches_survive_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.write(readings(0, 30))
    sent_at = T0 + timedelta(hours=1)
    batch = box.next_batch(20, sent_at)
    assert batch is not None
    box.close()

    box = Outbox(tmp_path / "o.sqlite")
    assert box.unacked() == [batch.seq] and box.depth == 30 and box.unassigned() == 10
    again = box.load(batch.seq)
    assert again == batch  # same seq, sent_at and readings: the re-sent payload is identical
    following = box.next_batch(20, T0)
    assert (
        following is not None and following.seq == batch.seq + 1 and len(following.readings) == 10
    )
    box.close()


def test_first_seq_is_time_based(tmp_path: Path) -> None:
    before = int(time.time() * 1000)
    box = Outbox(tmp_path / "o.sqlite")
    assert before <= box.next_seq <= int(time.time() * 1000)
    box.close()


def test_quota_drop_oldest_keeps_the_newest(tmp_path: Path) -> None:
    quota = 200 * 1024
    box = Outbox(tmp_path / "o.sqlite", quota_bytes=quota, policy=FullPolicy.DROP_OLDEST)
    dropped = 0
    for start in range(0, 20_000, 500):
        dropped += box.write(readings(start, 500)).dropped
    assert dropped > 0 and box.depth + dropped == 20_000
    assert box.used_bytes() <= quota * 1.1
    batch = box.next_batch(10_000, T0)
    assert batch is not None
    values = [r.value for r in batch.readings]
    assert values[-1] == 19_999.0 and values == sorted(values)  # the newest kept, still in order
    box.close()


def test_quota_refuse_new_keeps_the_oldest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", quota_bytes=200 * 1024, policy=FullPolicy.REFUSE_NEW)
    refused = 0
    for start in range(0, 20_000, 500):
        try:
            box.write(readings(start, 500))
        except OutboxFullError as exc:
            refused += exc.refused
    assert refused > 0 and box.depth + refused == 20_000
    batch = box.next_batch(10_000, T0)
    assert batch is not None and batch.readings[0].value == 0.0
    box.ack(batch.seq)  # acknowledged rows free their pages: new readings fit again
    box.write(readings(30_000, 500))
    box.close()


def test_dropped_rows_of_a_numbered_batch(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", quota_bytes=100 * 1024, policy=FullPolicy.DROP_OLDEST)
    box.write(readings(0, 100))
    batch = box.next_batch(100, T0)
    assert batch is not None
    for start in range(100, 10_000, 500):
        box.write(readings(start, 500))
    assert box.load(batch.seq) is None  # all its rows were dropped: the batch is forgotten
    assert batch.seq not in box.unacked()
    box.close()


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from carbonledger.wire import Reading
    from edge.agent import Outbox

    box = Outbox(Path(sys.argv[1]))
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for batch in range(1_000_000):
        rows = [Reading(f"m-{batch}", "energy_import", t0 + timedelta(seconds=i), float(i))
                for i in range(50)]
        box.write(rows)
        print(batch, flush=True)  # committed and fsynced: the parent may count on it
    """
)


def test_kill_9_mid_write_loses_no_committed_row(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout is not None
    committed = -1
    deadline = time.monotonic() + 20
    while committed < 150 and time.monotonic() < deadline:
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed >= 150

    box = Outbox(path)
    batch = box.next_batch(10_000, T0)
    assert batch is not None
    meters = [r.meter for r in batch.readings]
    keys = {(r.meter, r.time) for r in batch.readings}
    assert len(keys) == len(meters)  # every row once
    written = {int(m.removeprefix("m-")) for m in meters}
    # every batch reported committed is there, complete; at most the one in flight beyond it
    assert set(range(committed + 1)) <= written <= set(range(committed + 2))
    assert all(meters.count(f"m-{b}") == 50 for b in written)
    box.close()


@pytest.mark.parametrize("mode", ["journal_mode", "synchronous"])
def test_pragmas(tmp_path: Path, mode: str) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    value = box._db.execute(f"PRAGMA {mode}").fetchone()[0]
    assert value == {"journal_mode": "wal", "synchronous": 2}[mode]  # 2 = FULL
    box.close()
