"""The test suite's own PostgreSQL: a throw-away cluster, started for a test run and removed after it.

It is ``scripts/pg-throwaway`` driven from Python: a fresh cluster from Debian's ``postgresql`` package (which
``make system-deps`` installs), in a temporary directory, on a free port of 127.0.0.1, with trust authentication,
durability off, and an empty database ``yuejuan_test``. As root the server runs as the ``postgres`` system user,
since PostgreSQL refuses to run as root.

``.ci/run`` starts one cluster for the whole run and passes it on in ``YUEJUAN_TEST_DATABASE_URL`` (and sets
``YUEJUAN_REQUIRE_POSTGRES=1``, so that tests fail rather than skip when PostgreSQL is missing); tests that find no
URL there can start their own with :func:`start_throwaway`.

A plain module, no pytest in it. ``tests/`` is not a package (and python-barcode installs a stray ``tests``
namespace into site-packages), so test modules load this file by path; see ``tests/test_postgres_cluster.py``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-throwaway"
URL_ENV = "YUEJUAN_TEST_DATABASE_URL"
REQUIRE_ENV = "YUEJUAN_REQUIRE_POSTGRES"
_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None (the script picks the same one)."""

    def version_key(path: str) -> tuple[int, ...]:
        version = Path(path).parent.name
        return tuple(int(part) for part in version.split(".") if part.isdigit())

    candidates = sorted(glob.glob(_BIN_GLOB), key=version_key)
    if not candidates:
        return None
    newest = Path(candidates[-1])
    if all(os.access(newest / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
        return newest
    return None


def available() -> bool:
    """Whether a throw-away cluster can be started here: the server binaries exist and, when we run as root,
    so does the ``postgres`` system user to run the server as."""
    if _bindir() is None or not os.access(SCRIPT, os.X_OK):
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


def required() -> bool:
    """Whether the run demands PostgreSQL (``YUEJUAN_REQUIRE_POSTGRES`` set to something other than 0/empty)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def start_throwaway() -> tuple[str, Callable[[], None]]:
    """Start a throw-away cluster; return its SQLAlchemy URL (``postgresql+psycopg://...``) and a function that
    stops the server and deletes the cluster (safe to call more than once)."""
    directory = tempfile.mkdtemp(prefix="yuejuan-pg-")
    try:
        done = subprocess.run(
            [str(SCRIPT), "start", directory], capture_output=True, text=True, timeout=180, check=False
        )
    except BaseException:  # e.g. the timeout: a server may be up already
        subprocess.run([str(SCRIPT), "stop", directory], capture_output=True, timeout=120, check=False)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if done.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"{SCRIPT.name} start failed (exit {done.returncode}):\n{done.stderr.strip()}")
    url = done.stdout.strip()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        result = subprocess.run(
            [str(SCRIPT), "stop", directory], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{SCRIPT.name} stop failed (exit {result.returncode}):\n{result.stderr.strip()}")
        stopped = True

    return url, stop
