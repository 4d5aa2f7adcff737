from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.accounts.ledger.helpers import register


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A fresh database with the three reference enterprises and their meters registered."""
    with psycopg.connect(db_url, autocommit=True) as c:
        register(c)
        yield c
