"""`kinema serve`, `kinema worker` and `kinema keys create | list | revoke`.

Thin wrappers over `kinema.serve`: the flags map to `ServeConfig` fields. `--home` sets
$KINEMA_HOME for the process (and the workers it starts), so the database, videos, API keys and
signing certificate all live under one folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

console = Console(stderr=True)

HOME = typer.Option(None, "--home", help="Kinema's data directory (database, videos, keys); default $KINEMA_HOME or the user's data directory.")
DATABASE = typer.Option(None, "--database-url", envvar="KINEMA_DATABASE_URL", help="SQLAlchemy URL of the job store: default sqlite:///HOME/kinema.db; postgresql://user@host:5432/db for several API processes and workers.")
INT8 = typer.Option(False, "--int8", help="Workers sample with int8 matmuls: about 1.1-1.3x faster steps than the default packed fp32 on a CPU, video within ~37 dB of fp32's (docs/performance.md); recorded in each video's C2PA manifest.")
WEIGHTS = typer.Option(None, "--weights", help="Weights folder served (default: the shipped weights/kinema-tiny, or $KINEMA_WEIGHTS); its name is the API's model name.")
LEASE = typer.Option(60.0, "--lease", help="Seconds without a heartbeat after which a job's worker is presumed dead and the job re-queued.")

SERVE_HELP = """Serve the OpenAI videos API (and the web page) over HTTP, with durable jobs.

Examples:

  kinema keys create alice            # prints the new API key on its last line

  kinema serve --port 8000            # API + 1 worker process; open http://127.0.0.1:8000/

  kinema serve --workers 0 &  kinema worker &  kinema worker   # API and workers apart

  kinema serve --database-url postgresql://kinema@db:5432/kinema --host 0.0.0.0 --workers 0

Then, with the openai package:

  client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key=KEY)
  video = client.videos.create_and_poll(prompt="a small red ball bounces to the right", size="64x64", seconds="4")
  client.videos.download_content(video.id).write_to_file("ball.mp4")
"""


def _config(home: Path | None, database_url: str | None, weights: Path | None, **limits: Any):  # type: ignore[no-untyped-def]
    from kinema.serve.config import ServeConfig

    if home is not None:
        os.environ["KINEMA_HOME"] = str(home.expanduser())
        try:  # a new --home is created, as the default one is (the SQLite store lives in it)
            home.expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"--home {home} cannot be created ({error.strerror}); pass a writable folder") from None
    fields = {name: value for name, value in limits.items() if value is not None}
    return ServeConfig(**({"home": home} if home is not None else {}), database_url=database_url, weights=weights, **fields)


@friendly_errors
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port."),
    home: Path = HOME,
    database_url: str = DATABASE,
    weights: Path = WEIGHTS,
    workers: int = typer.Option(1, help="Worker processes to start beside the API (0: run `kinema worker` yourself)."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Same as --workers 0."),
    steps: int = typer.Option(20, help="Sampling steps of a job that does not ask for its own."),
    rate_limit: int = typer.Option(600, "--rate-limit", help="Requests a minute per API key (429 above; per API process)."),
    max_active_jobs: int = typer.Option(8, "--max-active-jobs", help="Queued + running jobs per API key (429 above)."),
    max_request_mb: float = typer.Option(16.0, "--max-request-mb", help="Largest request body, uploads included (413 above)."),
    lease: float = LEASE,
    int8: bool = INT8,
    log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug."),
) -> None:
    """Serve the API; see `kinema serve --help` for examples."""
    import uvicorn

    from kinema.serve.app import create_app

    config = _config(home, database_url, weights, steps=steps, rate_limit_rpm=rate_limit, max_active_jobs=max_active_jobs,
                     max_request_bytes=int(max_request_mb * 2**20), lease_seconds=lease, int8=int8)
    if not config.weights_dir.is_dir():
        raise ValueError(f"no Kinema weights folder at {config.weights_dir}; pass --weights")
    app = create_app(config)
    count = 0 if no_worker else workers
    if count < 0:
        raise ValueError(f"--workers {workers} must be 0 or more")
    # uvicorn handles SIGTERM itself, then re-raises it with the handler found before it started:
    # make that handler an exit, so the `finally` below stops the workers (else they are orphaned).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    children = [_spawn_worker(config) for _ in range(count)]
    console.print(f"Kinema {config.model_name} on http://{host}:{port}/ (API at /v1, data in {config.home}, "
                  f"{count} worker{'s' if count != 1 else ''})", highlight=False)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _spawn_worker(config) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    command = [sys.executable, "-c", "from kinema.cli import app; app()", "worker", "--home", str(config.home),
               "--weights", str(config.weights_dir), "--lease", str(config.lease_seconds)]
    if config.database_url:
        command += ["--database-url", config.database_url]
    if config.int8:
        command.append("--int8")
    return subprocess.Popen(command)


@friendly_errors
def worker_command(
    home: Path = HOME,
    database_url: str = DATABASE,
    weights: Path = WEIGHTS,
    lease: float = LEASE,
    int8: bool = INT8,
    poll: float = typer.Option(0.5, help="Seconds between looks at an empty queue."),
    max_jobs: int = typer.Option(None, "--max-jobs", help="Exit after this many jobs (default: run until stopped)."),
) -> None:
    """Run generation jobs from the store until stopped (Ctrl-C or SIGTERM: after the current job).

    Any number of workers may run against one database (SQLite on one machine, PostgreSQL across
    machines). A worker killed mid-job (even with SIGKILL) loses nothing: its job is retried when
    its lease (--lease seconds) runs out, and finished videos are never touched.

    Example: kinema worker --home /srv/kinema --database-url postgresql://kinema@db:5432/kinema
    """
    import logging
    import threading

    from kinema.serve.worker import Worker

    config = _config(home, database_url, weights, lease_seconds=lease, worker_poll_seconds=poll, int8=int8)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = Worker(config)
    console.print(f"worker {worker.id}: {config.model_name}, store {config.url.split('@')[-1]}", highlight=False)
    try:
        done = worker.run(stop=stop, max_jobs=max_jobs)
    except KeyboardInterrupt:
        console.print("stopped; the running job (if any) went back to the queue")
        return
    console.print(f"worker {worker.id}: {done} jobs done")


keys_app = typer.Typer(help="API keys of `kinema serve`: create, list, revoke. Only a hash of each key is stored.",
                       no_args_is_help=True)


@keys_app.command("create")
@friendly_errors
def keys_create(name: str = typer.Argument(..., help="Who or what the key is for, e.g. 'alice' or 'ci'."),
                home: Path = HOME, database_url: str = DATABASE) -> None:
    """Create an API key; the key itself is printed once, on the last line (only its hash is kept).

    Example: KEY=$(kinema keys create alice | tail -n 1)
    """
    from kinema.serve.store import Store

    key, secret = Store(_config(home, database_url, None).url).create_key(name)
    typer.echo(f"created {key.id} ({key.name}); keep the key below, it is not shown again:")
    typer.echo(secret)


@keys_app.command("list")
@friendly_errors
def keys_list(home: Path = HOME, database_url: str = DATABASE) -> None:
    """List API keys (id, name, first characters, created, revoked)."""
    import datetime as dt

    from kinema.serve.store import Store

    def when(t: float | None) -> str:
        return "-" if t is None else dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")

    for key in Store(_config(home, database_url, None).url).list_keys():
        typer.echo(f"{key.id}  {key.name:<20} {key.prefix}...  created {when(key.created_at)}  revoked {when(key.revoked_at)}")


@keys_app.command("revoke")
@friendly_errors
def keys_revoke(key: str = typer.Argument(..., help="The key's id (key_...) or name."),
                home: Path = HOME, database_url: str = DATABASE) -> None:
    """Revoke an API key: requests with it get 401 from then on. Its videos stay stored."""
    from kinema.serve.store import Store

    if not Store(_config(home, database_url, None).url).revoke_key(key):
        raise ValueError(f"no active key with id or name {key!r}; see `kinema keys list`")
    typer.echo(f"revoked {key}")


def register(app: typer.Typer) -> None:
    app.command("serve", help=SERVE_HELP)(serve_command)
    app.command("worker", help="Run generation jobs for `kinema serve` (several may run at once).")(worker_command)
    app.add_typer(keys_app, name="keys")
