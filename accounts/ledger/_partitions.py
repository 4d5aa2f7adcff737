"""Splitting the live accounts between several ``accounts run`` processes.

Enterprises fall into ``accounts.partitions`` partitions by ``hashtextextended(code, 0) mod N``
(the aggregator's rule). A process owns a partition while it holds that partition's session
advisory lock, so two processes never refresh the same enterprise, and a process that dies
loses its locks with its connection. Every process also holds a shared "member" lock: the number
of holders is the number of live processes, and each one aims at ceil(N / members) partitions,
taking free ones and giving back its highest-numbered extras when a process joins. The share of
a process that dies is therefore taken by the others on their next cycle.
"""

from __future__ import annotations

import psycopg

_MEMBER = 0x61_63_63_6D  # "accm": held shared by every partitioned `accounts run`
_BASE = 0x61_63_00_00  # "ac\0\0" + N * 1000 + i: partition i of N
_MEMBERS = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database
                                            WHERE datname = current_database())
  AND classid = 0 AND objid = %s AND objsubid = 1 AND granted
"""
# the partition of an enterprise code (the aggregator's expression, analytics/aggregator.py)
PART_OF = "(hashtextextended({column}, 0) %% %(n)s + %(n)s) %% %(n)s = ANY(%(parts)s)"


class Partitions:
    """The partitions this process holds, rebalanced by :meth:`balance` every cycle."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.held: frozenset[int] = frozenset()
        self._member = False

    def key(self, index: int) -> int:
        return _BASE + self.count * 1000 + index

    def join(self, conn: psycopg.Connection) -> int:
        """Count this session among the live processes; the number of them."""
        if not self._member:
            conn.execute("SELECT pg_advisory_lock_shared(%s)", (_MEMBER,))
            self._member = True
        row = conn.execute(_MEMBERS, (_MEMBER,)).fetchone()
        return max(1, int(row[0]) if row else 1)

    def balance(self, conn: psycopg.Connection) -> bool:
        """Join, take free partitions up to the fair share, give back extras; True when the
        held set changed (the caller then refreshes all its enterprises)."""
        members = self.join(conn)
        share = -(-self.count // members)
        held = set(self.held)
        for index in sorted(held, reverse=True)[: max(0, len(held) - share)]:
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.key(index),))
            held.discard(index)
        for index in range(self.count):
            if len(held) >= share:
                break
            if index in held:
                continue
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key(index),)).fetchone()
            if got and got[0]:
                held.add(index)
        changed = frozenset(held) != self.held
        self.held = frozenset(held)
        return changed

    def params(self) -> dict[str, object]:
        """The parameters of :data:`PART_OF`."""
        return {"n": self.count, "parts": sorted(self.held)}

    def codes(self, conn: psycopg.Connection) -> list[str]:
        """The registered enterprises of the held partitions."""
        rows = conn.execute(
            f"SELECT code FROM enterprises WHERE {PART_OF.format(column='code')} ORDER BY code",
            self.params(),
        )
        return [r[0].strip() for r in rows]
