"""`ServeConfig`: everything `kinema serve` and `kinema worker` are configured by, in one value.

Contract
- Every file the server keeps lives under `home` (default `kinema_home()`, i.e. `$KINEMA_HOME` or
  the user's data directory): `kinema.db` (the SQLite database unless `database_url` names
  another), `videos/` (finished results, one folder per video), `uploads/` (input images and
  videos of conditioned jobs) and `keys/` (the C2PA signing identity, `kinema.safety.provenance`).
- `database_url` None means `sqlite:///<home>/kinema.db`; `postgresql://...` URLs use psycopg 3.
- The limits are per API key: `rate_limit_rpm` requests a minute (429), `max_active_jobs` queued or
  running jobs (429), and `max_request_bytes` per request body (413).
- Invalid values raise ValueError naming the field and what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kinema.home import kinema_home
from kinema.world.scene import DEFAULT_FPS

SERVED_SIZES = ("64x64", "96x64", "64x96", "112x64")  # what the embedded model is trained on (WORLD.md)
SERVED_SECONDS = (1, 2, 3, 4, 5, 6, 7, 8)  # 1 + 8s frames at 8 fps: 9 ... 65 frames, one generation step
FPS = int(DEFAULT_FPS)


@dataclass(frozen=True)
class ServeConfig:
    home: Path = field(default_factory=kinema_home)
    database_url: str | None = None  # None: SQLite file <home>/kinema.db
    weights: Path | None = None  # None: $KINEMA_WEIGHTS or the shipped weights/kinema-tiny
    sizes: tuple[str, ...] = SERVED_SIZES
    seconds: tuple[int, ...] = SERVED_SECONDS
    default_size: str = "64x64"
    default_seconds: int = 4
    max_total_seconds: int = 16  # extensions: the stitched video's length at most
    steps: int = 20  # sampling steps of a job that does not ask for its own
    max_steps: int = 50  # a request's `steps` at most (cost control)
    guidance: float = 5.0
    edit_strength: float = 0.6  # SDEdit strength of edits and remixes (kinema.modes.edit)
    rate_limit_rpm: int = 600  # requests a minute per key; create_and_poll polls twice a second
    max_active_jobs: int = 8  # queued + in_progress jobs per key
    max_request_bytes: int = 16 * 1024 * 1024  # any request body (uploads included)
    lease_seconds: float = 60.0  # a job whose worker stops heartbeating is re-queued after this
    max_attempts: int = 3  # a job whose worker died this often fails (code "worker_lost")
    poll_after_ms: int = 500  # `openai-poll-after-ms`: how often the SDK's create_and_poll polls
    worker_poll_seconds: float = 0.5  # how often an idle worker looks for a job
    int8: bool = False  # workers sample with int8 matmuls (kinema.models.int8; CPU; recorded in each video's manifest)

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())
        if self.weights is not None:
            object.__setattr__(self, "weights", Path(self.weights).expanduser())
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "seconds", tuple(sorted(set(self.seconds))))
        positive = ("steps", "max_steps", "rate_limit_rpm", "max_active_jobs", "max_request_bytes", "lease_seconds",
                    "max_attempts", "poll_after_ms", "worker_poll_seconds", "max_total_seconds")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} is {getattr(self, name)!r}; it must be positive")
        if self.steps > self.max_steps:
            raise ValueError(f"steps {self.steps} is above max_steps {self.max_steps}")
        if not self.sizes or self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} is not among sizes {', '.join(self.sizes)}")
        from kinema.pipeline import parse_size

        for size in self.sizes:
            try:
                parse_size(size)
            except ValueError as error:
                raise ValueError(f"size {size!r} cannot be served: {error}") from None
        if not self.seconds or self.default_seconds not in self.seconds:
            raise ValueError(f"default_seconds {self.default_seconds} is not among seconds {self.seconds}")
        if any(not 1 <= s <= 8 for s in self.seconds):
            raise ValueError(f"seconds {self.seconds} must each be 1 to 8 (one generation step is at most 65 frames)")
        if not 0.0 < self.edit_strength <= 1.0:
            raise ValueError(f"edit_strength {self.edit_strength} is outside (0, 1]")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the job store."""
        url = self.database_url or f"sqlite:///{self.home / 'kinema.db'}"
        for prefix in ("postgresql://", "postgres://"):  # plain URLs mean psycopg 3, the driver installed
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def weights_dir(self) -> Path:
        if self.weights is not None:
            return self.weights
        from kinema.pipeline import DEFAULT_WEIGHTS

        return Path(os.environ.get("KINEMA_WEIGHTS", DEFAULT_WEIGHTS))

    @property
    def model_name(self) -> str:
        """The one model served: the weights folder's name (e.g. kinema-tiny)."""
        return self.weights_dir.name

    @property
    def videos_dir(self) -> Path:
        return self.home / "videos"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"


def frames_for(seconds: int) -> int:
    """Frames of a clip `seconds` long at 8 fps: 1 + 8 * seconds (4 s = 33 frames)."""
    return 1 + FPS * seconds


def seconds_label(frames: int) -> str:
    """The `seconds` field of a video of `frames` frames: '4' for 33, '0.5' for 5."""
    value = (frames - 1) / FPS
    return str(int(value)) if value == int(value) else f"{value:g}"
