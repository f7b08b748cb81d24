"""Workers apart from the API: `kill -9` a worker mid-job and another finishes it exactly once,
leaving the finished job untouched; a worker whose job is deleted mid-run writes nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kinema.serve.config import ServeConfig
from kinema.serve.store import NewJob, Store

PROMPT = "a small red ball bounces to the right"


def new_job(key_id: str, steps: int, frames: int = 9) -> NewJob:
    return NewJob(key_id=key_id, mode="generate", model="kinema-test", prompt=PROMPT, enhanced_prompt=PROMPT,
                  size="64x64", frames=frames, seed=3, steps=steps, guidance=5.0)


def start_worker(home: Path, weights: Path, log: Path, url: str | None = None, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from kinema.cli import app; app()", "worker", "--home", str(home),
               "--weights", str(weights), "--lease", "3", "--poll", "0.1", *extra]
    if url:
        command += ["--database-url", url]
    env = {**os.environ, "KINEMA_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_mid_job_retries_once_and_keeps_finished_work(backend: str, serve_home: Path, tiny_weights: Path,
                                                             request: pytest.FixtureRequest) -> None:
    url = None
    if backend == "postgresql":
        from tests.serve.conftest import new_postgres_database

        url = new_postgres_database(request.getfixturevalue("postgres_server"))
    config = ServeConfig(home=serve_home, database_url=url)
    store = Store(config.url)
    key, _ = store.create_key("test")
    finished = store.add_job(new_job(key.id, steps=2), max_active=10)
    # Several seconds of sampling even on an idle machine (65 frames, 300 steps), so the worker is
    # killed mid-job: the heartbeat records progress once a second.
    slow = store.add_job(new_job(key.id, steps=300, frames=65), max_active=10)
    log = serve_home / "workers.log"

    first = start_worker(serve_home, tiny_weights, log, url)
    try:
        wait_for(lambda: store.get_job(finished.id).status == "completed", 180, "the first job to complete")
        wait_for(lambda: store.get_job(slow.id).progress > 0, 120, "the slow job to make progress")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    done = store.get_job(finished.id)
    kept = digest(serve_home / done.result_dir)
    interrupted = store.get_job(slow.id)
    assert interrupted.status == "in_progress" and interrupted.attempts == 1 and 0 < interrupted.progress < 100

    second = start_worker(serve_home, tiny_weights, log, url, "--max-jobs", "1")
    try:
        assert second.wait(240) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
    retried = store.get_job(slow.id)
    assert retried.status == "completed" and retried.attempts == 2 and retried.worker_id != interrupted.worker_id
    assert retried.progress == 100 and retried.info["provenance"]["c2pa"] == "valid"
    # Exactly one result folder for the retried job (the killed worker's staging is gone), and the
    # finished job is exactly as it was: same row, same bytes.
    assert sorted(p.name for p in config.videos_dir.glob(f"{slow.id}.*")) == [Path(retried.result_dir).name]
    assert not list((config.videos_dir / ".staging").glob(f"{slow.id}.*"))
    assert store.get_job(finished.id) == done and digest(serve_home / done.result_dir) == kept
    assert log.read_text().count(f"completed {slow.id}") == 1
    store.close()


def test_a_worker_whose_job_is_deleted_writes_nothing(serve_home: Path, tiny_weights: Path) -> None:
    from kinema.serve.worker import Worker

    config = ServeConfig(home=serve_home, weights=tiny_weights, lease_seconds=3)
    store = Store(config.url)
    key, _ = store.create_key("test")
    job = store.add_job(new_job(key.id, steps=300, frames=65), max_active=10)  # seconds: deleted mid-run
    worker = Worker(config)
    thread = threading.Thread(target=worker.run_one)
    thread.start()
    wait_for(lambda: (store.get_job(job.id) or job).progress > 0, 120, "progress")
    assert store.delete_job(job.id, key.id) is not None
    thread.join(60)
    assert not thread.is_alive()
    assert not list(config.videos_dir.glob(f"{job.id}*")) and not list((config.videos_dir / ".staging").glob("*"))
    store.close()


def test_int8_workers_load_an_int8_pipeline_and_serve_passes_the_flag_on(serve_home: Path, tiny_weights: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`kinema serve --int8` starts workers with --int8; such a worker samples with int8 matmuls and
    names its model `...+int8` (the name its videos' C2PA manifests carry)."""
    from kinema.cli import serve as serve_cli
    from kinema.models.int8 import is_int8
    from kinema.serve.worker import Worker

    worker = Worker(ServeConfig(home=serve_home, weights=tiny_weights, int8=True))
    assert worker.pipe.name.endswith("+int8") and is_int8(worker.pipe.dit)
    assert not is_int8(Worker(ServeConfig(home=serve_home, weights=tiny_weights)).pipe.dit)
    commands: list[list[str]] = []
    monkeypatch.setattr(serve_cli.subprocess, "Popen", lambda command: commands.append(command))
    serve_cli._spawn_worker(ServeConfig(home=serve_home, weights=tiny_weights, int8=True))
    serve_cli._spawn_worker(ServeConfig(home=serve_home, weights=tiny_weights))
    assert "--int8" in commands[0] and "--int8" not in commands[1]


def test_worker_cli_creates_a_new_home_and_names_one_it_cannot(tmp_path: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from kinema.cli import app

    monkeypatch.setenv("KINEMA_HOME", str(tmp_path / "elsewhere"))
    home = tmp_path / "new" / "home"
    done = CliRunner().invoke(app, ["worker", "--home", str(home), "--weights", str(tiny_weights), "--max-jobs", "0"])
    assert done.exit_code == 0, done.output
    assert (home / "kinema.db").is_file()
    (tmp_path / "file").write_text("x")
    bad = CliRunner().invoke(app, ["worker", "--home", str(tmp_path / "file" / "sub"), "--max-jobs", "0"])
    message = " ".join(bad.output.split())  # rich wraps long lines
    assert bad.exit_code == 2 and "--home" in message and "cannot be created" in message
