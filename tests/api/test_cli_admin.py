"""`yuejuan admin create-user` as an operator runs it: no terminal means a clear error (not a traceback), and
whoever it creates can log in, because names go through the service's own UserCreate model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.service.app import create_app
from api.service.schemas.admin import UserCreate
from api.service.settings import Settings

SCHOOL = "3433000101"
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]


def _yuejuan(tmp_path: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """The CLI in a child process whose stdin is not a terminal (and which has no controlling terminal)."""
    env = {**os.environ, "YUEJUAN_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    for name in ("YUEJUAN_DATABASE_URL", "YUEJUAN_NEW_PASSWORD", "YUEJUAN_DASK_SCHEDULER"):
        env.pop(name, None)
    if password is not None:
        env["YUEJUAN_NEW_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120, start_new_session=True)


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> Path:
    """A data folder with one school, shared by the tests of this module (each uses its own user names)."""
    folder = tmp_path_factory.mktemp("admin")
    done = _yuejuan(folder, "admin", "create-school", SCHOOL, "第一中学")
    assert done.returncode == 0, done.stderr
    return folder


def _log_in(data_dir: Path, username: str, password: str) -> int:
    with TestClient(create_app(Settings(data_dir=data_dir, workers=0, _env_file=None))) as client:
        return client.post("/api/v1/auth/token", json={"username": username, "password": password}).status_code


def test_no_terminal_and_no_password_variable_is_a_clear_error(school):
    done = _yuejuan(school, "admin", "create-user", "liu", "--role", "teacher", "--school", SCHOOL)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "YUEJUAN_NEW_PASSWORD" in done.stderr and "terminal" in done.stderr
    assert done.stdout == ""
    # Nothing was created: the same name can be made afterwards with the password given.
    done = _yuejuan(school, "admin", "create-user", "liu", "--role", "teacher", "--school", SCHOOL,
                    password=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert _log_in(school / "data", "liu", PASSWORD) == 200


def test_short_password_from_the_variable_is_refused_clearly(school):
    done = _yuejuan(school, "admin", "create-user", "zhao", "--role", "teacher", "--school", SCHOOL,
                    password="short")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "password" in done.stderr


@pytest.mark.parametrize("username", ["wang", "王老师", "li", "zhang.san-2", "a b", "x" * 65, "bad\x07name"])
def test_the_cli_creates_exactly_the_names_the_log_in_accepts(school, username):
    try:
        UserCreate(username=username, password=PASSWORD, role="teacher", school_id=SCHOOL)
        accepted = True
    except ValidationError:
        accepted = False
    done = _yuejuan(school, "admin", "create-user", username, "--role", "teacher", "--school", SCHOOL,
                    password=PASSWORD)
    assert "Traceback" not in done.stderr
    if accepted:
        assert done.returncode == 0, done.stderr
        assert _log_in(school / "data", username, PASSWORD) == 200
    else:
        assert done.returncode == 2
        assert "user name" in done.stderr and "not accepted" in done.stderr
        assert _log_in(school / "data", username, PASSWORD) in (401, 422)  # not created, so no log-in


def test_a_rejected_name_is_refused_before_the_password_is_asked_for(school):
    """No password given and no terminal: the bad name is what the operator hears about first."""
    done = _yuejuan(school, "admin", "create-user", "a b", "--role", "teacher", "--school", SCHOOL)
    assert done.returncode == 2
    assert "not accepted" in done.stderr and "YUEJUAN_NEW_PASSWORD" not in done.stderr
