"""Fixtures for the server tests: a real PostgreSQL server, a Kinema home, a live API on loopback.

- `postgres_server` (session): initdb into a temp dir and `pg_ctl start` on a free loopback port
  (as the `postgres` user when the tests run as root: initdb refuses root), stopped at the end.
  Skipped, with the reason, only when the server binaries are not installed.
- `database_url` (parametrised "sqlite" / "postgresql"): a fresh, empty database of each kind.
- `live_server`: `kinema serve`'s app under uvicorn on 127.0.0.1:<free port> with a worker thread
  in the test process, on the tiny random model of tests/conftest.py; yields a `LiveServer` with
  the base URL, an API key and the config.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kinema.serve.config import ServeConfig

def _postgres_bin() -> Path:
    """$KINEMA_PG_BIN, else the newest Debian server install (/usr/lib/postgresql/<version>/bin)."""
    if os.environ.get("KINEMA_PG_BIN"):
        return Path(os.environ["KINEMA_PG_BIN"])
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return installed[-1].parent if installed else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_bin()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server; yields its base URL (no database name)."""
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN} (Debian: apt-get install postgresql; "
                    "or set KINEMA_PG_BIN to the folder holding initdb and pg_ctl)")
    root = os.geteuid() == 0
    run_as: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="kinema-pg-"))  # under /tmp: the postgres user must reach it
    if root:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run initdb as (initdb refuses root)")
        os.chown(data, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    cluster = data / "cluster"

    def run(*command: str) -> None:
        done = subprocess.run([*run_as, *command], capture_output=True, text=True)
        if done.returncode:
            log = (data / "log").read_text() if (data / "log").exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}{log[-2000:]}")

    run(str(PG_BIN / "initdb"), "-D", str(cluster), "-U", "kinema", "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-p {port} -k {data} -h 127.0.0.1 -c fsync=off -c max_connections=200"
    run(str(PG_BIN / "pg_ctl"), "-D", str(cluster), "-o", options, "-l", str(data / "log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg://kinema@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, str(PG_BIN / "pg_ctl"), "-D", str(cluster), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def new_postgres_database(server: str) -> str:
    import psycopg

    name = "kinema_" + secrets.token_hex(6)
    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kinema.db'}"
    return new_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def serve_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("KINEMA_HOME", str(home))
    return home


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, key: str | None = None, *, json_body: Any = None, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP request (stdlib urllib): for what the openai SDK cannot send or hides."""
    headers = dict(headers or {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


@dataclass
class LiveServer:
    base_url: str  # http://127.0.0.1:PORT/v1
    key: str
    config: ServeConfig


def start_uvicorn(app: object) -> tuple[object, threading.Thread, int]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, port


@pytest.fixture
def live_server(serve_home: Path, tiny_weights: Path) -> Iterator[LiveServer]:
    from kinema.serve.app import create_app
    from kinema.serve.store import Store
    from kinema.serve.worker import Worker

    config = ServeConfig(home=serve_home, weights=tiny_weights, steps=2, lease_seconds=10, poll_after_ms=50,
                         worker_poll_seconds=0.05)
    _, key = Store(config.url).create_key("test")
    app = create_app(config)
    server, thread, port = start_uvicorn(app)
    stop = threading.Event()
    worker = Worker(config)
    worker_thread = threading.Thread(target=worker.run, kwargs={"stop": stop}, daemon=True)
    worker_thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}/v1", key, config)
    finally:
        stop.set()
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)
        worker_thread.join(30)
