"""Durable jobs and API keys in SQL: a SQLite file by default, PostgreSQL for several processes.

Contract
- `Store(url)` creates its tables if missing (idempotent; serialised by an advisory lock on
  PostgreSQL so several processes may start at once).
- Keys: `create_key(name)` returns the key record and the secret (shown once); only the secret's
  SHA-256 is stored. The secret holds 256 random bits, so a fast hash is enough (a slow password
  hash protects guessable secrets, and these are not). `authenticate(secret)` finds an active key.
- Jobs move queued -> in_progress -> completed | failed. `add_job` inserts a queued job unless the
  key already has `max_active` queued or running ones (`QuotaExceeded`), atomically per key.
- Claims: `claim(worker_id)` takes the oldest job that is queued, or in_progress with an expired
  lease (its worker died), in one write transaction: PostgreSQL locks the row with SELECT ... FOR
  UPDATE SKIP LOCKED, SQLite takes the database write lock at BEGIN IMMEDIATE. Each claim gets a
  fresh random token and increments `attempts`; a job whose lease expires after `max_attempts`
  claims fails with code "worker_lost" instead of running again.
- Everything a worker writes afterwards (`heartbeat`, `complete`, `fail`, `release`) is a
  conditional UPDATE on (id, token, status in_progress): a worker that lost its lease (the job was
  re-claimed, deleted, or the worker was presumed dead) changes nothing and is told so (False).
  So a job completes at most once, and a completed job is never touched by a worker again.
- Timestamps are Unix seconds from this process's clock (`clock`, injectable for tests); several
  hosts need synchronised clocks for leases to mean the same everywhere.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (JSON, Column, Connection, Engine, Float, Index, Integer, MetaData, String, Table, Text, and_,
                        create_engine, delete, event, func, insert, or_, select, text, update)
from sqlalchemy.exc import OperationalError

ACTIVE = ("queued", "in_progress")
KEY_PREFIX = "kn-"
SCHEMA_LOCK = 0x4B494E  # PostgreSQL advisory lock id held while creating tables

metadata = MetaData()

api_keys = Table(
    "kinema_api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # the secret's first characters, to recognise it
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

jobs = Table(
    "kinema_jobs", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # creation order: listing and claiming
    Column("id", String(40), nullable=False, unique=True),
    Column("key_id", String(40), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("progress", Integer, nullable=False, default=0),
    Column("mode", String(16), nullable=False),
    Column("model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("enhanced_prompt", Text, nullable=False),
    Column("size", String(16), nullable=False),
    Column("frames", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("steps", Integer, nullable=False),
    Column("guidance", Float, nullable=False),
    Column("strength", Float),
    Column("new_frames", Integer),  # extensions: frames generated after the source
    Column("source_video_id", String(40)),
    Column("remixed_from_video_id", String(40)),
    Column("input_path", String(300)),  # relative to home: the uploaded or referenced input media
    Column("result_dir", String(300)),  # relative to home: the folder with video, thumbnail, spritesheet
    Column("info", JSON),  # what the API shows beside the job: unknown words, provenance
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_token", String(32)),
    Column("worker_id", String(100)),
    Column("lease_expires_at", Float),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("completed_at", Float),
    Index("ix_kinema_jobs_status_seq", "status", "seq"),
)


class QuotaExceeded(Exception):
    """The key already has its maximum of queued and running jobs."""

    def __init__(self, active: int, limit: int) -> None:
        self.active, self.limit = active, limit
        super().__init__(f"{active} jobs are queued or in progress for this key; at most {limit} at once")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class NewJob:
    """What the API knows about a job when it is created."""

    key_id: str
    mode: str
    model: str
    prompt: str
    enhanced_prompt: str
    size: str
    frames: int
    seed: int
    steps: int
    guidance: float
    strength: float | None = None
    new_frames: int | None = None
    source_video_id: str | None = None
    remixed_from_video_id: str | None = None
    input_path: str | None = None
    info: dict[str, Any] | None = None
    id: str = ""  # empty: a fresh "video_<hex>" id

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", new_video_id())


@dataclass(frozen=True, kw_only=True)
class Job(NewJob):
    """One row of the jobs table: what the API was given (NewJob) and what became of it since
    (see the columns above for what each field holds)."""

    seq: int
    status: str
    progress: int
    result_dir: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    claim_token: str | None
    worker_id: str | None
    lease_expires_at: float | None
    created_at: float
    started_at: float | None
    completed_at: float | None


@dataclass(frozen=True)
class Claim:
    """A job taken by a worker, and the token that proves the worker still holds it."""

    job: Job
    token: str


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")


def is_video_id(value: str) -> bool:
    """Whether `value` can be a video id: anything else is answered "not found" without a query
    (PostgreSQL rejects some strings outright, e.g. ones holding NUL)."""
    return isinstance(value, str) and VIDEO_ID.fullmatch(value) is not None


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _job(row: Any) -> Job:
    return Job(**{f.name: getattr(row, f.name) for f in fields(Job)})


class Store:
    def __init__(self, url: str, *, lease_seconds: float = 60.0, max_attempts: int = 3,
                 clock: Callable[[], float] = time.time) -> None:
        if lease_seconds <= 0 or max_attempts < 1:
            raise ValueError(f"lease_seconds {lease_seconds} must be positive and max_attempts {max_attempts} at least 1")
        self.url, self.lease_seconds, self.max_attempts, self.clock = url, lease_seconds, max_attempts, clock
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name
        # Writes: BEGIN IMMEDIATE on SQLite (take the write lock up front, so a read-then-update
        # cannot interleave with another process); a plain transaction on PostgreSQL.
        self._writer = self.engine.execution_options(kinema_write=True)
        self._create_tables()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def _create_tables(self) -> None:
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK})
            metadata.create_all(conn)

    # --- API keys --------------------------------------------------------------------------------

    def create_key(self, name: str) -> tuple[ApiKey, str]:
        """A new key named `name`; returns its record and the secret (not stored anywhere)."""
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
            raise ValueError(f"key name {name!r} must be 1 to 200 characters, e.g. 'alice-laptop'")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id="key_" + secrets.token_hex(8), name=name.strip(), prefix=secret[:8], created_at=self.clock())
        with self._write() as conn:
            conn.execute(insert(api_keys).values(id=key.id, name=key.name, key_hash=hash_key(secret), prefix=key.prefix,
                                                 created_at=key.created_at))
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
            return None
        with self._read() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(secret),
                                                      api_keys.c.revoked_at.is_(None))).first()
        return None if row is None else ApiKey(row.id, row.name, row.prefix, row.created_at, row.revoked_at)

    def list_keys(self) -> list[ApiKey]:
        with self._read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
        return [ApiKey(r.id, r.name, r.prefix, r.created_at, r.revoked_at) for r in rows]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke by id ("key_...") or by name; False when no active key matches."""
        with self._write() as conn:
            done = conn.execute(update(api_keys).where(or_(api_keys.c.id == key_id, api_keys.c.name == key_id),
                                                       api_keys.c.revoked_at.is_(None)).values(revoked_at=self.clock()))
        return done.rowcount > 0

    # --- jobs, as the API sees them --------------------------------------------------------------

    def add_job(self, new: NewJob, max_active: int) -> Job:
        """Insert a queued job; QuotaExceeded if the key has `max_active` queued/running jobs."""
        with self._write() as conn:
            # Lock the key's row so two API processes cannot both pass the count for one key.
            conn.execute(select(api_keys.c.id).where(api_keys.c.id == new.key_id).with_for_update())
            active = conn.scalar(select(func.count()).select_from(jobs).where(jobs.c.key_id == new.key_id,
                                                                              jobs.c.status.in_(ACTIVE)))
            if active >= max_active:
                raise QuotaExceeded(active, max_active)
            values = {f.name: getattr(new, f.name) for f in fields(NewJob)}
            conn.execute(insert(jobs).values(**values, status="queued", progress=0, attempts=0, created_at=self.clock()))
            return _job(conn.execute(select(jobs).where(jobs.c.id == new.id)).one())

    def get_job(self, video_id: str, key_id: str | None = None) -> Job | None:
        """The job `video_id`, only if `key_id` owns it (any owner when key_id is None)."""
        if not is_video_id(video_id):
            return None
        query = select(jobs).where(jobs.c.id == video_id)
        if key_id is not None:
            query = query.where(jobs.c.key_id == key_id)
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _job(row)

    def list_jobs(self, key_id: str, *, after: str | None = None, limit: int = 20,
                  order: str = "desc") -> tuple[list[Job], bool]:
        """A page of the key's jobs in creation order, and whether more follow. `after` is the id of
        the last job of the previous page; ValueError if that is not one of the key's jobs."""
        if order not in ("asc", "desc"):
            raise ValueError(f"order {order!r} is not supported; use asc or desc")
        if not 1 <= limit <= 100:
            raise ValueError(f"limit {limit} is out of range; use 1 to 100")
        query = select(jobs).where(jobs.c.key_id == key_id)
        with self._read() as conn:
            if after is not None:
                cursor = None if not is_video_id(after) else \
                    conn.scalar(select(jobs.c.seq).where(jobs.c.id == after, jobs.c.key_id == key_id))
                if cursor is None:
                    raise ValueError(f"after {after!r} is not one of your videos; pass the last id of the previous page")
                query = query.where(jobs.c.seq > cursor if order == "asc" else jobs.c.seq < cursor)
            query = query.order_by(jobs.c.seq.asc() if order == "asc" else jobs.c.seq.desc()).limit(limit + 1)
            rows = conn.execute(query).all()
        return [_job(r) for r in rows[:limit]], len(rows) > limit

    def count_active(self, key_id: str) -> int:
        with self._read() as conn:
            return int(conn.scalar(select(func.count()).select_from(jobs).where(jobs.c.key_id == key_id,
                                                                                jobs.c.status.in_(ACTIVE))))

    def delete_job(self, video_id: str, key_id: str) -> Job | None:
        """Delete the key's job (any status: a running one is abandoned by its worker, whose next
        heartbeat finds it gone). Returns the deleted row, so the caller can remove its files."""
        if not is_video_id(video_id):
            return None
        with self._write() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == video_id, jobs.c.key_id == key_id).with_for_update()).first()
            if row is None:
                return None
            conn.execute(delete(jobs).where(jobs.c.seq == row.seq))
        return _job(row)

    # --- jobs, as workers see them ---------------------------------------------------------------

    def claim(self, worker_id: str) -> Claim | None:
        """Take the oldest runnable job (see the module docstring), or None if there is none."""
        now = self.clock()
        expired = and_(jobs.c.status == "in_progress", jobs.c.lease_expires_at < now)
        with self._write() as conn:
            dead = conn.execute(select(jobs.c.seq).where(expired, jobs.c.attempts >= self.max_attempts)
                                .with_for_update(skip_locked=True)).scalars().all()
            if dead:
                conn.execute(update(jobs).where(jobs.c.seq.in_(dead), expired).values(
                    status="failed", error_code="worker_lost", completed_at=now, lease_expires_at=None,
                    error_message=f"the worker running this video stopped {self.max_attempts} times; not retried again"))
            runnable = or_(jobs.c.status == "queued", and_(expired, jobs.c.attempts < self.max_attempts))
            seq = conn.scalar(select(jobs.c.seq).where(runnable).order_by(jobs.c.seq).limit(1)
                              .with_for_update(skip_locked=True))
            if seq is None:
                return None
            token = secrets.token_hex(16)
            done = conn.execute(update(jobs).where(jobs.c.seq == seq, runnable).values(
                status="in_progress", claim_token=token, worker_id=worker_id[:100], attempts=jobs.c.attempts + 1,
                lease_expires_at=now + self.lease_seconds, started_at=func.coalesce(jobs.c.started_at, now)))
            if done.rowcount != 1:
                return None
            return Claim(_job(conn.execute(select(jobs).where(jobs.c.seq == seq)).one()), token)

    def _held(self, claim: Claim) -> Any:
        return and_(jobs.c.id == claim.job.id, jobs.c.claim_token == claim.token, jobs.c.status == "in_progress")

    def heartbeat(self, claim: Claim, progress: int | None = None) -> bool:
        """Extend the lease (and record progress, never lowering it); False if the claim is lost."""
        values: dict[str, Any] = {"lease_expires_at": self.clock() + self.lease_seconds}
        if progress is not None:
            values["progress"] = func.max(jobs.c.progress, int(progress)) if self.dialect == "sqlite" \
                else func.greatest(jobs.c.progress, int(progress))
        with self._write() as conn:
            return conn.execute(update(jobs).where(self._held(claim)).values(**values)).rowcount == 1

    def complete(self, claim: Claim, result_dir: str, info: dict[str, Any]) -> bool:
        """Mark the job completed with its results; False (nothing changed) if the claim is lost."""
        with self._write() as conn:
            old = conn.scalar(select(jobs.c.info).where(self._held(claim)))
            done = conn.execute(update(jobs).where(self._held(claim)).values(
                status="completed", progress=100, result_dir=result_dir, completed_at=self.clock(),
                lease_expires_at=None, info={**(old or {}), **info}))
            return done.rowcount == 1

    def fail(self, claim: Claim, code: str, message: str) -> bool:
        """Mark the job failed with an error code and message; False if the claim is lost."""
        with self._write() as conn:
            done = conn.execute(update(jobs).where(self._held(claim)).values(
                status="failed", error_code=code[:64], error_message=message, completed_at=self.clock(),
                lease_expires_at=None))
            return done.rowcount == 1

    def release(self, claim: Claim) -> bool:
        """Give the job back to the queue (a worker shutting down); the attempt is not counted."""
        with self._write() as conn:
            done = conn.execute(update(jobs).where(self._held(claim)).values(
                status="queued", claim_token=None, worker_id=None, lease_expires_at=None,
                attempts=jobs.c.attempts - 1, progress=0))
            return done.rowcount == 1


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each WAL checkpoint; safe with WAL
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("kinema_write") else "BEGIN")

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as error:  # noqa: BLE001 - an unknown dialect or driver: say which URL
        raise ValueError(f"database URL {url!r} cannot be used ({error}); use sqlite:///path or "
                         "postgresql://user@host:port/dbname") from None


def is_transient(error: BaseException) -> bool:
    """A database error worth retrying (lock timeouts, a restarting server)."""
    return isinstance(error, OperationalError)
