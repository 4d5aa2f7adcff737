"""A stored account read by its key, for the API's account endpoint.

:func:`~accounts.ledger.get_account` answers every case (stored, or computed on demand with the
industry's peers) through the bulk reads that take a list of codes. A list arrives as ``text[]``,
which a ``char(18)`` column compares after a cast, so those reads use no index: at a province's
50,000 enterprises each one scans ``enterprises``, ``meters`` and a period's accounts, and the
endpoint's p99 follows (docs/scale.md). The API serves stored accounts far more often than
anything else, so this reads exactly that row by its key, and its grades, as ``get_account``
returns them; None when the period is not stored (the caller then asks ``get_account``).
"""

from __future__ import annotations

import psycopg

from accounts.ledger._model import Account
from accounts.ledger._period import Period
from accounts.ledger._store import read_grades

_STORED = """
SELECT detail FROM account_periods
WHERE enterprise_code = %s AND period_kind = %s AND period_start = %s AND status <> 'superseded'
"""


def stored_account(conn: psycopg.Connection, code: str, period: Period) -> Account | None:
    """The stored (live or closed) account of ``code`` for ``period`` with its grades, or None.

    A stored row implies a registered enterprise (foreign key), so no registry read is needed.
    """
    row = conn.execute(_STORED, (code, period.kind, period.start)).fetchone()
    if row is None:
        return None
    account = Account.model_validate(row[0])
    account.grades = read_grades(conn, code, period.kind, period.start)
    return account
