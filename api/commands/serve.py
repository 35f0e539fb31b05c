"""``yuejuan serve``, ``yuejuan worker`` and ``yuejuan admin``: run the service and set up its first credentials.

* ``yuejuan serve [--host 127.0.0.1] [--port 8000] [--workers N]`` migrates the database, starts N OMR worker
  processes (or, with ``YUEJUAN_DASK_SCHEDULER``, one process sending the work to that Dask cluster), restarts
  any that dies, and serves the HTTP API with uvicorn. SIGTERM or SIGINT stops the server and then the workers.
* ``yuejuan worker`` runs one worker loop in the foreground (operators add these on more machines sharing the
  database and the data folder).
* ``yuejuan admin create-school|create-user|create-key`` makes the first school, people and keys.

Settings come from ``YUEJUAN_*`` environment variables (see :class:`api.service.settings.Settings`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

log = logging.getLogger("yuejuan.serve")

#: A worker process that dies is restarted after this pause (doubling, up to a minute, while it keeps dying
#: within RESTART_HEALTHY_S of its start), so a worker that cannot start does not spin.
RESTART_PAUSE_S = 1.0
RESTART_HEALTHY_S = 30.0
#: Time the workers get to finish the file in hand after a stop before they are killed (their jobs then return
#: to the queue when their leases expire).
STOP_GRACE_S = 20.0


def add_parser(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the HTTP service with its OMR workers",
        description="Migrate the database, start the OMR workers and serve the API (/api/v1, docs at "
                    "/api/v1/docs). Settings come from YUEJUAN_* environment variables.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=None,
                       help="OMR worker processes (default YUEJUAN_WORKERS, else 2); ignored with a Dask scheduler")
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(handler=run)

    worker = subparsers.add_parser(
        "worker", help="run one OMR worker in the foreground",
        description="Claim uploaded files from the database's job table and read them, until SIGTERM/SIGINT. "
                    "Uses the same YUEJUAN_* settings as the server (database, data folder).")
    worker.add_argument("--id", default=None, help="worker name in the jobs table (default host:pid:random)")
    worker.add_argument("--max-jobs", type=int, default=None, help="stop after this many files")
    worker.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    worker.set_defaults(handler=run_worker_command)

    admin = subparsers.add_parser("admin", help="create schools, people and API keys (first set-up)",
                                  description="Create the first school, people and keys directly in the database.")
    actions = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    school = actions.add_parser("create-school", help="add a school")
    school.add_argument("code", help="学校标识码: 10 digits")
    school.add_argument("name")
    user = actions.add_parser("create-user", help="add a teacher or school admin (password from "
                                                  "YUEJUAN_NEW_PASSWORD, else asked)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=("teacher", "school_admin"))
    user.add_argument("--school", required=True, help="school code")
    user.add_argument("--display-name", default="")
    key = actions.add_parser("create-key", help="add an API key and print it (shown once)")
    key.add_argument("--role", required=True, choices=("station", "municipal"))
    key.add_argument("--school", default=None, help="school code (station keys)")
    key.add_argument("--name", default="")
    admin.set_defaults(handler=run_admin)


# --- worker processes -----------------------------------------------------------------------------------------

class _StopWhen:
    """Stop when asked locally (a signal), by the server (shared event), or when the server process is gone."""

    def __init__(self, shared: Any = None, parent_pid: int | None = None):
        self.local = threading.Event()
        self.shared = shared
        self.parent_pid = parent_pid

    def set(self) -> None:
        self.local.set()

    def is_set(self) -> bool:
        return (self.local.is_set() or (self.shared is not None and self.shared.is_set())
                or (self.parent_pid is not None and os.getppid() != self.parent_pid))

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                break
            self.local.wait(left)
        return self.is_set()


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its start-up chatter on every migration check


def _on_signals(stop: _StopWhen) -> None:
    def handler(_signum, _frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def worker_process(settings_data: dict, index: int, shared_stop: Any, parent_pid: int, dask: bool,
                   log_level: str = "info") -> None:
    """Entry point of a worker process started by `yuejuan serve` (spawned: picklable arguments only)."""
    from api.service import processing
    from api.service.settings import Settings
    from api.service.worker import default_worker_id, run_dask_dispatcher, run_worker

    _logging(log_level)
    stop = _StopWhen(shared_stop, parent_pid)
    _on_signals(stop)
    settings = Settings(**settings_data)
    worker_id = f"{default_worker_id()}:w{index}"
    if dask:
        run_dask_dispatcher(settings, worker_id, stop)
    else:
        processing.warm_up()
        processing.single_threaded_opencv()
        run_worker(settings, worker_id, stop)


class WorkerPool:
    """N worker processes (spawned), restarted when one dies, stopped together."""

    def __init__(self, settings, count: int, *, dask: bool = False, log_level: str = "info"):
        import multiprocessing

        self.context = multiprocessing.get_context("spawn")
        self.settings_data = settings.model_dump()
        self.count = count
        self.dask = dask
        self.log_level = log_level
        self.stop_event = self.context.Event()
        self.processes: list[Any] = [None] * count
        self.started_at = [0.0] * count
        self.pauses = [RESTART_PAUSE_S] * count
        self.restart_due = [0.0] * count
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True)

    def _spawn(self, index: int) -> None:
        process = self.context.Process(
            target=worker_process, name=f"yuejuan-{'dispatcher' if self.dask else 'worker'}-{index}", daemon=True,
            args=(self.settings_data, index, self.stop_event, os.getpid(), self.dask, self.log_level))
        process.start()
        self.processes[index] = process
        self.started_at[index] = time.monotonic()
        log.info("started %s (pid %d)", process.name, process.pid)

    def start(self) -> None:
        with self._lock:
            for index in range(self.count):
                self._spawn(index)
        self._supervisor.start()

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p is not None and p.is_alive()]

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            with self._lock:
                if self.stopping.is_set():
                    return
                now = time.monotonic()
                for index, process in enumerate(self.processes):
                    if process is None or process.is_alive():
                        continue
                    if not self.restart_due[index]:
                        if now - self.started_at[index] > RESTART_HEALTHY_S:
                            self.pauses[index] = RESTART_PAUSE_S  # it had been fine: no crash loop
                        pause = self.pauses[index]
                        self.pauses[index] = min(pause * 2, 60.0)
                        self.restart_due[index] = now + pause
                        log.warning("%s (pid %d) died with exit code %s; restarting in %.0f s", process.name,
                                    process.pid, process.exitcode, pause)
                        process.close()
                        self.processes[index] = None
                for index, due in enumerate(self.restart_due):
                    if due and now >= due and self.processes[index] is None:
                        self.restart_due[index] = 0.0
                        self._spawn(index)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        self.stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join()
        self.stop_event.set()
        deadline = time.monotonic() + grace
        for process in self.processes:
            if process is not None:
                process.join(max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process is not None and process.is_alive():
                log.warning("%s did not stop in %.0f s: killing it", process.name, grace)
                process.kill()
                process.join(5)
        log.info("workers stopped")


# --- commands -------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.service.app import create_app
    from api.service.context import open_service
    from api.service.settings import Settings

    _logging(args.log_level)
    overrides = {} if args.workers is None else {"workers": args.workers}
    if args.workers is not None and args.workers < 0:
        raise ValueError("--workers must be 0 or more")
    settings = Settings(**overrides)
    open_service(settings).close()  # migrate once, before any worker or request touches the database
    dask = bool(settings.dask_scheduler)
    count = 1 if dask else settings.workers
    pool = WorkerPool(settings, count, dask=dask, log_level=args.log_level) if count else None

    # uvicorn restores these handlers after its shutdown and re-raises the signal it caught: ours then only
    # notes it, so the workers are stopped below and the process exits cleanly (instead of dying by default).
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=args.host, port=args.port,
                                          log_level=args.log_level, access_log=False))
    received: list[int] = []

    def note(signum, _frame) -> None:
        received.append(signum)
        server.should_exit = True  # a signal before uvicorn installed its own handlers still stops it

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, note)
    if pool is not None:
        pool.start()
        log.info("%s", f"sending OMR work to the Dask cluster at {settings.dask_scheduler}" if dask
                 else f"{count} OMR worker process(es)")
    else:
        log.warning("no OMR workers: uploads wait until `yuejuan worker` processes are started")
    try:
        server.run()
    finally:
        if pool is not None:
            pool.stop()
    return 0 if server.started or received else 1


def run_worker_command(args: argparse.Namespace) -> int:
    from api.service import processing
    from api.service.settings import Settings
    from api.service.worker import run_dask_dispatcher, run_worker

    _logging(args.log_level)
    settings = Settings()
    stop = _StopWhen()
    _on_signals(stop)
    if settings.dask_scheduler:
        run_dask_dispatcher(settings, args.id, stop, args.max_jobs)
    else:
        processing.warm_up()
        processing.single_threaded_opencv()
        run_worker(settings, args.id, stop, args.max_jobs)
    return 0


#: Where `admin create-user` takes the new password from when no terminal can ask for it.
PASSWORD_VARIABLE = "YUEJUAN_NEW_PASSWORD"


def _password() -> str:
    """The new user's password: the environment variable, else asked twice on the terminal."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if not sys.stdin.isatty():
        raise ValueError(f"no password: set {PASSWORD_VARIABLE} (e.g. {PASSWORD_VARIABLE}='…' yuejuan admin "
                         "create-user …), or run the command in a terminal to be asked for it")
    import getpass

    password = getpass.getpass("password (10 characters or more): ")
    if getpass.getpass("again: ") != password:
        raise ValueError("the passwords differ")
    return password


def _validated_user(args: argparse.Namespace):
    """The user as the service's own UserCreate model accepts it, so whoever is created can also log in.

    The name is checked before the password is asked for; problems come back as one ValueError."""
    from pydantic import TypeAdapter, ValidationError

    from api.service.schemas.admin import UserCreate

    def problems(error: ValidationError) -> str:
        return "; ".join(": ".join(filter(None, (".".join(map(str, e["loc"])), e["msg"]))) for e in error.errors())

    try:
        TypeAdapter(UserCreate.model_fields["username"].rebuild_annotation()).validate_python(args.username)
    except ValidationError as error:
        raise ValueError(f"user name {args.username!r} is not accepted: {problems(error)}") from None
    try:
        return UserCreate(username=args.username, password=_password(), role=args.role, school_id=args.school,
                          display_name=args.display_name)
    except ValidationError as error:
        raise ValueError(problems(error)) from None


def run_admin(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from api.service import bootstrap
    from api.service.context import open_service
    from api.service.settings import Settings

    user = _validated_user(args) if args.admin_command == "create-user" else None  # before touching the database
    service = open_service(Settings())
    try:
        if args.admin_command == "create-school":
            bootstrap.add_school(service, args.code, args.name)
            print(f"school {args.code} created")
        elif user is not None:
            user_id = bootstrap.add_user(service, user.username, user.password, user.role, user.school_id,
                                         user.display_name)
            print(f"user {args.username} ({args.role}, school {args.school}) created, id {user_id}")
        else:
            secret = bootstrap.add_api_key(service, args.role, args.school, args.name)
            print(secret)
            print(f"{args.role} key created: store it now, it is not shown again", file=sys.stderr)
    except IntegrityError:
        print(f"yuejuan admin {args.admin_command}: error: it exists already, or its school does not exist",
              file=sys.stderr)
        return 2
    finally:
        service.close()
    return 0
