"""The account endpoint serves a stored account byte for byte as the ledger's ``stored_account``
dumps it, though it re-emits the stored JSON without pydantic when the values allow (and goes
through pydantic when they do not)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from accounts.api import Role, create_app, create_key
from accounts.api._stored import NotCanonicalError, _decimal, dump, stored_body
from accounts.ledger import Account, GradeRecord, Period, close, refresh_live, stored_account
from tests.accounts.api.helpers import api_settings, auth
from tests.accounts.ledger.helpers import ENTERPRISES, register
from tests.accounts.ledger.test_read_path import _write_reference_rollups
from tests.accounts.ledger.test_reference_accounts import NOW, OCT


@pytest.fixture
def stored(db_url: str) -> Iterator[psycopg.Connection]:
    """The reference enterprises with October closed (lines, grades) and live accounts; the
    session's time zone is the API's (grade times are read in it)."""
    with psycopg.connect(db_url, autocommit=True, options="-c TimeZone=Asia/Shanghai") as conn:
        register(conn)
        _write_reference_rollups(conn)
        close(conn, OCT, now=NOW)
        refresh_live(conn)
        yield conn


def _admin_key(url: str) -> str:
    async def create() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return (await create_key(conn, Role.ADMIN, "ops")).key

    return asyncio.run(create())


def test_the_endpoint_body_is_the_ledgers_stored_account_dumped(
    stored: psycopg.Connection, db_url: str
) -> None:
    headers = auth(_admin_key(db_url))
    with TestClient(create_app(api_settings(db_url))) as client:
        for text in ("2026-10", "mtd", "rolling12", str(NOW.year)):
            for code in ENTERPRISES:
                period = Period.parse(text)
                expected = stored_account(stored, code, period)
                if text == "2026-10":
                    assert expected is not None and expected.grades and expected.lines
                if expected is None:
                    continue
                for _ in range(2):  # read, then served from the body cache
                    got = client.get(f"/v1/enterprises/{code}/account?period={text}",
                                     headers=headers)  # fmt: skip
                    assert got.status_code == 200
                    assert got.content == dump(expected)


def _stored_texts(conn: psycopg.Connection) -> tuple[str, str]:
    """A closed account's stored detail (as the database gives it) and grades as JSON texts."""
    row = conn.execute(
        "SELECT enterprise_code, detail::text FROM account_periods WHERE period_start = %s"
        " AND period_kind = 'month' AND status = 'closed' ORDER BY enterprise_code LIMIT 1",
        (OCT.start,),
    ).fetchone()
    assert row is not None
    account = stored_account(conn, row[0].strip(), OCT)
    assert account is not None and account.grades
    return row[1], orjson.dumps([g.model_dump(mode="json") for g in account.grades]).decode()


def _pydantic(detail: str, grades: str) -> bytes:
    """What the endpoint served before: validate the stored detail, set the grades, dump."""
    account = Account.model_validate(orjson.loads(detail))
    account.grades = [GradeRecord.model_validate(g) for g in orjson.loads(grades)]
    return dump(account)


def _edit(detail: str, change: Any) -> str:
    parsed = orjson.loads(detail)
    change(parsed)
    return orjson.dumps(parsed).decode()


def _reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reversed(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [_reversed(v) for v in value]
    return value


EDITS = {
    "as stored": lambda d: None,
    "keys in another order": lambda d: d.update(_reversed(dict(d))),
    "optional fields missing": lambda d: [d.pop(k) for k in ("exact", "cross_check", "reason")],
    "a line's defaulted fields missing": lambda d: [
        d["lines"][0].pop(k) for k in ("formula", "buckets", "months")
    ],
    "a decimal not in its canonical text": lambda d: d["totals"].update(total="1.5e1"),
    "a decimal as a JSON number": lambda d: d["totals"].update(total=15.25),
    "a time with Z and milliseconds": lambda d: d.update(computed_at="2026-11-05T02:00:00.5Z"),
    "a date given as a time": lambda d: d["period"].update(start="2026-10-01T00:00:00"),
    "an integer as a string": lambda d: d.update(version="3"),
    "a boolean as an integer": lambda d: d["period"].update(live=0),
    "an extra key of a factor (ignored)": lambda d: d["lines"][0]["factors"][0].update(x=1),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_stored_detail_gives_what_pydantic_gives(stored: psycopg.Connection, edit: str) -> None:
    detail, grades = _stored_texts(stored)
    edited = _edit(detail, EDITS[edit])
    assert stored_body(edited, grades) == _pydantic(edited, grades)


def test_grades_not_in_canonical_text_give_what_pydantic_gives(
    stored: psycopg.Connection,
) -> None:
    detail, grades = _stored_texts(stored)
    parsed = orjson.loads(grades)
    parsed[0].update(l_value="0.0000001", computed_at="2026-11-05T10:00:00.5+08:00")
    edited = orjson.dumps(parsed).decode()
    assert stored_body(detail, edited) == _pydantic(detail, edited)


@pytest.mark.parametrize(
    "change",
    [lambda d: d.update(unknown=1), lambda d: d.pop("totals"), lambda d: d.update(status="x")],
)
def test_a_detail_pydantic_refuses_is_refused(stored: psycopg.Connection, change: Any) -> None:
    detail, grades = _stored_texts(stored)
    with pytest.raises(ValidationError):
        stored_body(_edit(detail, change), grades)


def test_an_account_the_ledger_stored_is_re_emitted_without_pydantic(
    stored: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path is the one taken for what the ledger writes (else it gains nothing)."""
    detail, grades = _stored_texts(stored)
    expected = _pydantic(detail, grades)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("validated with pydantic")

    monkeypatch.setattr(Account, "model_validate", refuse)
    assert stored_body(detail, grades) == expected


@pytest.mark.parametrize(
    "text",
    ["0", "-0", "0.0", "1.50", "-1234.000", "12", "0.00001", "0.000001", "0.000000",
     "0.0000001", "0.0000000", "-0.00000012", "1E-7", "1e5", "01", "-01.5", "1.", ".5", "+1",
     "NaN", "Infinity", "1_0", "\u0661", " 1", "1 "],
)  # fmt: skip
def test_a_decimal_is_kept_exactly_when_pydantic_would_write_it_back(text: str) -> None:
    try:
        canonical = str(number := Decimal(text)) == text and number.is_finite()
    except ArithmeticError:
        canonical = False
    if canonical:
        assert _decimal(text) == text
    else:
        with pytest.raises(NotCanonicalError):
            _decimal(text)
