"""API routes hold no SQL (issue 14): their statements live in ``accounts/api/queries``.

A route authorises, audits, pages and shapes; what it asks the database is a query module's
function, so every statement can be read, reviewed and turned into a view in one place. This
scans every string literal of ``accounts/api/routes/*.py`` (docstrings aside, f-strings with
their substitutions blanked) for SQL keywords.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROUTES = Path(__file__).resolve().parents[3] / "accounts" / "api" / "routes"
SQL = re.compile(
    r"\bSELECT\s"
    r"|\bINSERT\s+INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\bCOPY\s*[(\w]"
    r"|\bTRUNCATE\b"
    r"|\bWITH\s+\w+\s+AS\s*\("
)
"""Upper case, as the codebase writes SQL, so prose in summaries does not count."""


_SCOPES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def _docstrings(tree: ast.Module) -> set[int]:
    firsts = [n.body[0] for n in ast.walk(tree) if isinstance(n, _SCOPES) and n.body]
    return {id(first.value) for first in firsts if isinstance(first, ast.Expr)}


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "x"
            for v in node.values
        )
    return None


def sql_in(source: str, name: str) -> list[str]:
    """``name:line: text`` of every string literal in ``source`` that reads as SQL."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inside = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and id(node) not in skip | inside and SQL.search(text):
            found.append((getattr(node, "lineno", 0), text.strip()[:60]))
    return [f"{name}:{line}: {text!r}" for line, text in sorted(found)]


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_route_module_holds_no_sql(path: Path) -> None:
    found = sql_in(path.read_text(encoding="utf-8"), f"accounts/api/routes/{path.name}")
    assert not found, "SQL in a route; move it to accounts/api/queries:\n" + "\n".join(found)


def test_the_scan_finds_sql_where_routes_used_to_keep_it() -> None:
    source = '''
"""A route module; its docstring may say ``COPY (…) TO STDOUT``."""
_ENTERPRISE = "trim(code) AS code"
_VISIBLE = f"SELECT {_ENTERPRISE} FROM enterprises e WHERE code > %(after)s"

async def f(conn, code):
    """Nor does this one count: SELECT x FROM y."""
    await conn.execute(
        "INSERT INTO watchlist (bank_id, enterprise_code) VALUES (%s, %s)", (1, code)
    )
    await conn.execute("UPDATE webhooks SET deleted_at = now() WHERE id = %s", (code,))
    await conn.execute("DELETE FROM watchlist WHERE bank_id = %s", (code,))
    await conn.execute("SELECT 1 FROM webhooks WHERE id = %s", (code,))
    copy = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)")
    return summary("select the period of an account, update the page")
'''
    lines = [found.split(":")[1] for found in sql_in(source, "m.py")]
    assert lines == ["4", "9", "11", "12", "13", "14"]
