"""The JSON objects of the API: OpenAI's video, list, deletion and error objects, plus Kinema's own.

`VideoObject` has exactly the fields of openai-python's `types.Video` and one extension object,
`kinema` (`KinemaInfo`): the enhanced prompt the model was given, the mode, seed and sampling, the
frames and fps, and after completion the provenance of the stored file (C2PA state, watermark).
`video_object(job)` renders a stored job.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kinema.serve.config import FPS, seconds_label
from kinema.serve.store import Job

Status = Literal["queued", "in_progress", "completed", "failed"]
Mode = Literal["generate", "animate", "extend", "edit", "remix"]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None
    category: str | None = Field(None, description="moderation_blocked only: the refused category")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class VideoError(BaseModel):
    code: str
    message: str


class Provenance(BaseModel):
    c2pa: Literal["valid", "invalid", "missing"] = Field(description="the stored MP4's C2PA manifest")
    c2pa_state: str = Field(description="C2PA's validation state: Trusted (signed by this server's local CA), Valid, Invalid")
    watermark: bool = Field(description="Kinema's invisible watermark found in the stored MP4")
    watermark_confidence: float = Field(description="1 - p-value of the watermark detection")


class KinemaInfo(BaseModel):
    mode: Mode
    enhanced_prompt: str = Field(description="the prompt the model was given (kinema.text.enhance)")
    unknown_words: list[str] = Field(default_factory=list, description="prompt words outside Kinema's world")
    seed: int
    steps: int
    guidance: float
    frames: int
    fps: int = FPS
    strength: float | None = Field(None, description="edits and remixes: how much the source may change")
    source_video_id: str | None = None
    attempts: int = Field(0, description="how many times a worker took this job (more than 1: a worker died)")
    provenance: Provenance | None = None


class VideoObject(BaseModel):
    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    status: Status
    progress: int
    model: str
    seconds: str
    size: str
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None
    kinema: KinemaInfo


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class RemixRequest(BaseModel):
    prompt: str = Field(description="what the remixed video shows")


class EnhanceRequest(BaseModel):
    prompt: str
    size: str | None = Field(None, description="WIDTHxHEIGHT the video will have (default: the server's)")
    seconds: str | None = Field(None, description="its duration in seconds (default: the server's)")


class EnhanceResponse(BaseModel):
    enhanced_prompt: str
    unknown_words: list[str]
    changed: bool = Field(description="false: the prompt is already detailed (or cannot be expanded) and is kept")
    problem: str | None = Field(None, description="why it could not be expanded, when it could not")


class Limits(BaseModel):
    rate_limit_rpm: int
    max_active_jobs: int
    max_request_bytes: int
    max_steps: int
    max_total_seconds: int


class Options(BaseModel):
    models: list[str]
    default_model: str
    sizes: list[str]
    default_size: str
    seconds: list[str]
    default_seconds: str
    fps: int
    variants: list[str]
    limits: Limits


def video_object(job: Job) -> VideoObject:
    info = job.info or {}
    error = VideoError(code=job.error_code or "error", message=job.error_message or "") if job.status == "failed" else None
    return VideoObject(
        id=job.id, created_at=int(job.created_at), completed_at=None if job.completed_at is None else int(job.completed_at),
        status=job.status, progress=job.progress, model=job.model, seconds=seconds_label(job.frames), size=job.size,
        prompt=job.prompt, remixed_from_video_id=job.remixed_from_video_id, error=error,
        kinema=KinemaInfo(mode=job.mode, enhanced_prompt=job.enhanced_prompt, unknown_words=info.get("unknown_words", []),
                          seed=job.seed, steps=job.steps, guidance=job.guidance, frames=job.frames, strength=job.strength,
                          source_video_id=job.source_video_id, attempts=job.attempts, provenance=info.get("provenance")),
    )
