"""``simulator``'s public names: all importable, and none of them drags in psycopg."""

from __future__ import annotations

import subprocess
import sys

import simulator


def test_every_exported_name_exists() -> None:
    assert simulator.__all__ == sorted(simulator.__all__)
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None, name


def test_importing_the_package_does_not_import_psycopg() -> None:
    # A fresh interpreter: this test session has imported psycopg already (conftest).
    code = "import sys, simulator; sys.exit('psycopg' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
