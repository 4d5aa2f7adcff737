"""What the benchmarks share: their scratch databases and the baseline's code.

A benchmark runs the baseline in the same run as this checkout (docs/scale.md), each in a
database of its own that it drops at the end; both were written again in every benchmark
before, with small drifts between the copies. This module imports nothing of the platform:
``finance.py``, ``ingest_stages.py`` and ``readings_import.py`` import it while this folder is
still on ``sys.path``, where ``ingest.py`` and ``finance.py`` shadow the packages of those names.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a local process, e.g. a worker's database session: what
    the server spent on its work (NaN when the server's processes are not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BaselineError(RuntimeError):
    """``git archive`` could not extract the baseline's ref (unknown ref, no git)."""


def database_url(name: str) -> str:
    """The URL of database ``name`` on ``DATABASE_URL``'s server, with its user and options."""
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))


def database_exists(name: str) -> bool:
    """Whether the server has a database ``name`` (a kept one is reused, not filled again)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return found is not None


def create_database(name: str, *, replace: bool = False) -> str:
    """Create database ``name`` and return its URL. ``replace`` drops one of that name first:
    names made of the process id can be left over from a run that was killed."""
    if replace:
        drop_database(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


def drop_database(name: str) -> None:
    """Drop database ``name`` if it exists, ending its sessions (a benchmark's own processes
    may still hold connections when it stops on an error)."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def scratch_database(name: str, *, replace: bool = False, keep: bool = False) -> Iterator[str]:
    """A new database ``name`` (see :func:`create_database`) for the block, its URL; dropped
    when the block ends, or with ``keep`` kept and its name printed so it can be found."""
    url = create_database(name, replace=replace)
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            drop_database(name)


def baseline_tree(ref: str, into: Path, *paths: str) -> Path:
    """``ref``'s code (``git archive``; only ``paths`` when given) extracted into ``into``
    (created if missing), to put first on the baseline side's ``PYTHONPATH``: both sides then
    run on the same data in the same run. :class:`BaselineError` when git cannot archive
    ``ref``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, *paths], check=False, capture_output=True
    )
    if archive.returncode:
        raise BaselineError(f"git archive {ref}: {archive.stderr.decode().strip()}")
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into
