"""``edge.simulator``'s public names: all importable, and none of them drags in psycopg."""

from __future__ import annotations

import subprocess
import sys

import edge.simulator


def test_every_exported_name_exists() -> None:
    assert edge.simulator.__all__ == sorted(edge.simulator.__all__)
    for name in edge.simulator.__all__:
        assert getattr(edge.simulator, name) is not None, name


def test_importing_the_package_does_not_import_psycopg() -> None:
    # A fresh interpreter: this test session has imported psycopg already (conftest).
    code = "import sys, edge.simulator; sys.exit('psycopg' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
