"""`kinema worker`: claim jobs from the store, run them, store results; safe to SIGKILL at any time.

Contract
- `Worker(config).run(stop=None, max_jobs=None)` loops: claim the oldest runnable job
  (`Store.claim`), run it (`kinema.serve.jobs.run`), write its files, mark it completed or failed;
  sleep `worker_poll_seconds` when the queue is empty. It returns when `stop` is set (after the
  current job) or after `max_jobs` jobs. `run_one()` does one claim; False when there was none.
- While a job runs, a heartbeat thread renews its lease and records progress (sampler steps map
  to 0-90 %, writing and checking the files to 90-99 %, completion is 100 %) every
  `min(1 s, lease/3)`. If the heartbeat finds the claim lost (the job was deleted, or the lease
  ran out and another worker took it), the sampler stops at its next step and nothing is written.
- Results: the MP4, thumbnail and spritesheet are written and C2PA-signed in a staging folder
  `videos/.staging/<id>.<token>/`, which is renamed (atomic on one filesystem) to
  `videos/<id>.<token>/`, and only then is the job completed in one conditional transaction.
  If that transaction finds the claim lost, the worker deletes its folder. A worker killed at
  any point leaves at most a staging folder or an unreferenced result folder behind; the worker
  that completes the job next removes those. A completed job's folder is never touched again.
- Failures: a refusal (`kinema.safety.RefusedError`: the frame check withheld the video) fails
  the job with code "moderation_blocked"; bad input (ValueError, missing input media) with
  "invalid_request"; anything else with "generation_failed" (logged with its traceback). A job
  whose workers keep dying fails with "worker_lost" after `max_attempts` (`kinema.serve.store`).
- The C2PA signing identity is the one under `config.home/keys`: the worker sets `$KINEMA_HOME`
  to `config.home` for its process, so every worker of a server signs with the same certificate.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import uuid
from pathlib import Path

from kinema.serve.config import ServeConfig
from kinema.serve.store import Claim, Store, is_transient

log = logging.getLogger("kinema.serve.worker")

SAMPLING_SHARE = 90  # progress percent reached when the sampler is done


class LeaseLost(Exception):
    """The job was taken from this worker (deleted, or re-claimed after the lease expired)."""


class _Heartbeat(threading.Thread):
    def __init__(self, store: Store, claim: Claim, interval: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{claim.job.id}")
        self.store, self.claim, self.interval = store, claim, interval
        self.progress = 0
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                if not self.store.heartbeat(self.claim, self.progress):
                    self.lost.set()
                    return
            except Exception as error:  # noqa: BLE001 - a database hiccup: try again next beat
                log.warning("heartbeat of %s failed: %s", self.claim.job.id, error)

    def advance(self, percent: int) -> None:
        if self.lost.is_set():
            raise LeaseLost(self.claim.job.id)
        self.progress = max(self.progress, min(99, percent))


class Worker:
    def __init__(self, config: ServeConfig, store: Store | None = None, worker_id: str | None = None) -> None:
        self.config = config
        os.environ["KINEMA_HOME"] = str(config.home)  # the signing identity under config.home/keys
        self.store = store or Store(config.url, lease_seconds=config.lease_seconds, max_attempts=config.max_attempts)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._pipe = None

    @property
    def pipe(self):  # type: ignore[no-untyped-def]
        if self._pipe is None:
            from kinema.pipeline import load_pipeline

            self._pipe = load_pipeline(str(self.config.weights_dir), int8=self.config.int8)
        return self._pipe

    def run(self, stop: threading.Event | None = None, max_jobs: int | None = None) -> int:
        """Work until `stop` is set or `max_jobs` jobs are done; returns the number of jobs run."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            try:
                ran = self.run_one()
            except Exception as error:  # noqa: BLE001 - the database is away: wait and retry
                if not is_transient(error):
                    raise
                log.warning("store unavailable (%s); retrying", error)
                ran = False
            if ran:
                done += 1
            else:
                stop.wait(self.config.worker_poll_seconds)
        return done

    def run_one(self) -> bool:
        claim = self.store.claim(self.id)
        if claim is None:
            return False
        job = claim.job
        log.info("%s: %s %s (attempt %d)", self.id, job.mode, job.id, job.attempts)
        beat = _Heartbeat(self.store, claim, min(1.0, self.config.lease_seconds / 3))
        beat.start()
        staging = self.config.videos_dir / ".staging" / f"{job.id}.{claim.token}"
        try:
            self._execute(claim, beat, staging)
        except LeaseLost:
            log.warning("%s: lost %s to another worker or a deletion; its results are dropped", self.id, job.id)
        except KeyboardInterrupt:
            self.store.release(claim)
            raise
        except Exception as error:  # noqa: BLE001 - every failure is reported on the job
            self._fail(claim, error)
        finally:
            beat.done.set()
            shutil.rmtree(staging, ignore_errors=True)
        return True

    def _execute(self, claim: Claim, beat: _Heartbeat, staging: Path) -> None:
        from kinema.serve import jobs, media

        job, home = claim.job, self.config.home
        _remove_leftovers(self.config.videos_dir, job.id, keep=None)

        def on_step(step: int, steps: int) -> None:
            beat.advance(SAMPLING_SHARE * step // max(1, steps))

        video = jobs.run(self.pipe, job, home, on_step)
        beat.advance(SAMPLING_SHARE + 2)
        media.write_results(video, staging, job.id, model_name=self.pipe.name, settings=jobs.settings(job),
                            ingredients=jobs.ingredients(job, home), safety=jobs.SAFETY)
        info = {"provenance": media.provenance(media.path_of(staging, job.id, "video"))}
        beat.advance(SAMPLING_SHARE + 8)
        final = self.config.videos_dir / f"{job.id}.{claim.token}"
        os.replace(staging, final)
        beat.done.set()
        if not self.store.complete(claim, str(final.relative_to(home)), info):
            shutil.rmtree(final, ignore_errors=True)
            raise LeaseLost(job.id)
        _remove_leftovers(self.config.videos_dir, job.id, keep=final)
        log.info("%s: completed %s", self.id, job.id)

    def _fail(self, claim: Claim, error: Exception) -> None:
        if getattr(error, "verdict", None) is not None:  # kinema.safety.RefusedError
            code = "moderation_blocked"
        elif isinstance(error, (ValueError, FileNotFoundError)):
            code = "invalid_request"
        else:
            code = "generation_failed"
            log.exception("%s: %s failed", self.id, claim.job.id)
        if not self.store.fail(claim, code, str(error) or type(error).__name__):
            log.warning("%s: %s failed after its claim was lost; not recorded", self.id, claim.job.id)


def _remove_leftovers(videos: Path, video_id: str, keep: Path | None) -> None:
    """Folders of other attempts at `video_id`: killed workers' staging or unreferenced results."""
    for folder in [*videos.glob(f"{video_id}.*"), *(videos / ".staging").glob(f"{video_id}.*")]:
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
