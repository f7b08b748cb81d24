"""Validating a request and queueing its job: what the create, remix, extend and edit routes share.

Contract
- `Intake(config, store)` checks every value against what the server accepts and raises `ApiError`
  400 naming the parameter and the allowed values: `check_model`, `size`, `seconds`,
  `check_prompt` (empty, too long, or refused by `kinema.safety`: 400 "moderation_blocked" with its
  category). `submit(...)` moderates, enhances (`kinema.text.enhance`: the prompt the model gets),
  stores the input media and queues the job, or raises 429 "queue_quota_exceeded".
- `media_request(request)` reads an extension's or edit's body, which comes either as multipart
  (`video` an uploaded file, or a `video[id]` field: what the openai SDK and curl -F send) or as
  JSON (`{"prompt", "seconds", "video": {"id"}}`: OpenAI's documented reference form, which the
  SDK cannot send as multipart). `MEDIA_BODY` documents both in the OpenAPI schema.
- Input media are stored under `uploads/<video id>.<ext>` only once the job is accepted.
"""

from __future__ import annotations

import json
import secrets
import shutil
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from kinema.serve import inputs
from kinema.serve.config import FPS, ServeConfig
from kinema.serve.errors import ApiError, bad_request, moderation_blocked, not_found
from kinema.serve.media import path_of
from kinema.serve.schemas import VideoObject, video_object
from kinema.serve.store import ApiKey, Job, NewJob, QuotaExceeded, Store
from kinema.world.scene import MAX_FRAMES

MAX_SEED = 2**31 - 1  # seeds fit a 32-bit SQL integer
MAX_EDIT_FRAMES = MAX_FRAMES  # kinema.modes.edit works on one generation step


class Intake:
    """Validation and job submission shared by the create, remix, extend and edit routes."""

    def __init__(self, config: ServeConfig, store: Store) -> None:
        self.config, self.store = config, store

    def check_model(self, model: str | None) -> None:
        if model not in (None, "", self.config.model_name):
            raise bad_request(f"model {model!r} is not served here; allowed: {self.config.model_name} "
                              "(OpenAI's sora-2 models are not available on a Kinema server)", "model", "invalid_model")

    def size(self, size: str | None) -> str:
        if size is None or size == "":
            return self.config.default_size
        if size not in self.config.sizes:
            raise bad_request(f"size {size!r} is not supported; allowed: {', '.join(self.config.sizes)} "
                              "(WIDTHxHEIGHT)", "size", "invalid_size")
        return size

    def seconds(self, seconds: str | None, param: str) -> int:
        if seconds is None or seconds == "":
            return self.config.default_seconds
        allowed = ", ".join(str(s) for s in self.config.seconds)
        try:
            value = int(seconds)
        except ValueError:
            value = -1
        if value not in self.config.seconds:
            raise bad_request(f"{param} {seconds!r} is not supported; allowed: {allowed} (whole seconds at {FPS} fps: "
                              f"1 + {FPS} x seconds frames)", param, "invalid_seconds")
        return value

    def check_prompt(self, prompt: str, moderate: bool = True) -> None:
        from kinema.safety import RefusedError, enforce_prompt
        from kinema.safety.prompt import MAX_PROMPT_CHARS
        from kinema.text.prompt import check_prompt

        try:
            check_prompt(prompt)
        except ValueError as error:
            raise bad_request(str(error), "prompt") from None
        if "\x00" in prompt:
            raise bad_request("the prompt contains a NUL character; send plain text", "prompt")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise bad_request(f"the prompt has {len(prompt)} characters; at most {MAX_PROMPT_CHARS}", "prompt")
        if moderate:
            try:
                enforce_prompt(prompt)
            except RefusedError as error:
                raise moderation_blocked(error) from None

    def owned(self, key: ApiKey, video_id: str) -> Job:
        job = self.store.get_job(video_id, key.id)
        if job is None:
            raise not_found(video_id)
        return job

    def completed(self, key: ApiKey, video_id: str, what: str) -> Job:
        job = self.owned(key, video_id)
        if job.status != "completed":
            raise bad_request(f"video {video_id} is {job.status}; only a completed video can be {what}",
                              "video_id", "video_not_ready")
        return job

    def link(self, source: Job):  # type: ignore[no-untyped-def]
        """A media writer that hard-links the completed `source` MP4 as a new job's input."""
        def write(video_id: str) -> str:
            src = path_of(self.config.home / str(source.result_dir), source.id, "video")
            if not src.is_file():
                raise ApiError(404, f"the video file of {source.id} is missing from the server's storage",
                               param="video", code="content_missing")
            dst = inputs.link_source(src, self.config.uploads_dir / f"{video_id}.mp4")
            return str(dst.relative_to(self.config.home))
        return write

    def source_video(self, key: ApiKey, upload: bytes | None, video_id: str | None, max_frames: int,
                     action: str = "used as input", param: str = "video") -> tuple[str, int, Job | None, Any]:
        """(size, frames, source job or None, media writer) of a remix's, edit's or extension's input."""
        if (upload is None) == (video_id is None):
            raise bad_request("give exactly one of video (an uploaded file) or video[id] (a completed video's id)", "video")
        if video_id is not None:
            source = self.completed(key, video_id, action)
            if source.frames > max_frames:
                raise bad_request(f"video {video_id} has {source.frames} frames; at most {max_frames} "
                                  f"({(max_frames - 1) // FPS} s) when {action}", param)
            return source.size, source.frames, source, self.link(source)
        assert upload is not None
        data = upload
        suffix, size, frames = inputs.read_video(data, "video", self.config.sizes, max_frames)

        def write(video_id: str) -> str:
            target = self.config.uploads_dir / f"{video_id}{suffix}"
            target.write_bytes(data)
            return str(target.relative_to(self.config.home))
        return size, frames, None, write

    def submit(self, key: ApiKey, mode: str, prompt: str, size: str, frames: int, *, seed: int | None = None,
               steps: int | None = None, strength: float | None = None, new_frames: int | None = None,
               source: Job | None = None, remixed_from: str | None = None, media: Any = None) -> VideoObject:
        """Moderate, enhance and queue; `media(video_id) -> relative path` stores the input."""
        from kinema.text.enhance import enhance

        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise bad_request(f"seed {seed} is out of range; use 0 to {MAX_SEED}", "seed")
        if steps is not None and not 1 <= steps <= self.config.max_steps:
            raise bad_request(f"steps {steps} is out of range; use 1 to {self.config.max_steps}", "steps")
        self.check_prompt(prompt)
        width, height = (int(v) for v in size.split("x"))
        enhanced = enhance(prompt, (width, height), frames if new_frames is None else new_frames)
        new = NewJob(key_id=key.id, mode=mode, model=self.config.model_name, prompt=prompt,
                     enhanced_prompt=enhanced.text, size=size, frames=frames,
                     seed=secrets.randbelow(MAX_SEED + 1) if seed is None else seed,
                     steps=steps or self.config.steps, guidance=self.config.guidance, strength=strength,
                     new_frames=new_frames, source_video_id=source.id if source else None,
                     remixed_from_video_id=remixed_from, info={"unknown_words": enhanced.unknown_words})
        input_path = media(new.id) if media is not None else None
        try:
            job = self.store.add_job(NewJob(**{**new.__dict__, "input_path": input_path}), self.config.max_active_jobs)
        except BaseException as error:  # the job was not queued: its stored input would belong to nobody
            if input_path:
                (self.config.home / input_path).unlink(missing_ok=True)
            if isinstance(error, QuotaExceeded):
                raise ApiError(429, f"{error}; wait for one to finish (or delete one)", code="queue_quota_exceeded",
                               type="rate_limit_error", headers={"Retry-After": "10"}) from None
            raise
        return video_object(job)

    def remove_files(self, job: Job) -> None:
        if job.result_dir:
            shutil.rmtree(self.config.home / job.result_dir, ignore_errors=True)
        if job.input_path:
            (self.config.home / job.input_path).unlink(missing_ok=True)

    # --- extensions and edits --------------------------------------------------------------------

    def extend(self, key: ApiKey, form: MediaForm) -> VideoObject:
        from kinema.serve.config import frames_for

        new_frames = frames_for(self.seconds(form.required("seconds"), "seconds")) - 1  # a continuation has no frame 0
        most = frames_for(self.config.max_total_seconds) - new_frames
        size, frames, source, media = self.source_video(key, form.upload, form.video_id, most)
        return self.submit(key, "extend", form.required("prompt"), size, frames + new_frames, seed=form.integer("seed"),
                           steps=form.integer("steps"), new_frames=new_frames, source=source, media=media)

    def edit(self, key: ApiKey, form: MediaForm) -> VideoObject:
        strength = form.number("strength")
        if strength is not None and not 0.0 < strength <= 1.0:
            raise bad_request(f"strength {strength} is outside (0, 1]; e.g. 0.6", "strength")
        size, frames, source, media = self.source_video(key, form.upload, form.video_id, MAX_EDIT_FRAMES)
        return self.submit(key, "edit", form.required("prompt"), size, frames, seed=form.integer("seed"),
                           steps=form.integer("steps"), strength=strength or self.config.edit_strength,
                           source=source, media=media)


class MediaForm:
    """The fields of an extension or edit request, however they were sent."""

    def __init__(self, fields: dict[str, str], upload: bytes | None, video_id: str | None) -> None:
        self.fields, self.upload, self.video_id = fields, upload, video_id

    def required(self, name: str) -> str:
        value = self.fields.get(name)
        if value is None:
            raise bad_request(f"missing required parameter {name!r}", name, "missing_required_parameter")
        return value

    def integer(self, name: str) -> int | None:
        value = self.fields.get(name)
        try:
            return None if value is None else int(value)
        except ValueError:
            raise bad_request(f"{name} {value!r} is not a whole number", name) from None

    def number(self, name: str) -> float | None:
        value = self.fields.get(name)
        try:
            return None if value is None else float(value)
        except ValueError:
            raise bad_request(f"{name} {value!r} is not a number", name) from None


SCALARS = (str, int, float)


async def media_request(request: Request) -> MediaForm:
    """Parse a multipart (or urlencoded) form, or a JSON object; see the module docstring."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise bad_request("the body is not valid JSON", None, "invalid_json") from None
        if not isinstance(body, dict):
            raise bad_request("the JSON body must be an object: {\"prompt\": ..., \"video\": {\"id\": ...}}", None)
        video = body.pop("video", None)
        if video is not None and not (isinstance(video, dict) and isinstance(video.get("id"), str)):
            raise bad_request("video must be {\"id\": \"video_...\"} in a JSON body (upload files as multipart)", "video")
        fields: dict[str, str] = {}
        for name, value in body.items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, SCALARS):
                raise bad_request(f"{name} must be a string or a number", str(name))
            fields[str(name)] = str(value)
        return MediaForm(fields, None, video["id"] if video else None)
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise bad_request(f"content type {kind or 'none'!r} is not accepted; send multipart/form-data "
                          "(a video upload or video[id]) or application/json (video: {id})", None, "invalid_content_type")
    try:
        form = await request.form(max_files=2, max_fields=50)
    except Exception as error:  # noqa: BLE001 - starlette's multipart errors: a malformed body
        raise bad_request(f"the form could not be parsed: {error}", None, "invalid_form") from None
    fields, upload, video_id = {}, None, None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "video":
                raise bad_request(f"unexpected file field {name!r}; upload the video as 'video'", name)
            upload = await value.read()
        elif name == "video[id]":
            video_id = value
        elif name == "video":
            raise bad_request("video must be an uploaded file (or send video[id] with a video's id)", "video")
        else:
            fields[name] = value
    await form.close()
    return MediaForm(fields, upload, video_id)


_FIELDS = {"prompt": {"type": "string"}, "seconds": {"type": "string", "description": "extensions: seconds to add"},
           "strength": {"type": "number", "description": "edits: 0-1, how much may change"},
           "seed": {"type": "integer"}, "steps": {"type": "integer"}}


def media_body(required: list[str]) -> dict[str, Any]:
    """The OpenAPI requestBody of an extension or edit: multipart or JSON."""
    multipart = {"type": "object", "required": required, "properties": {
        **_FIELDS, "video": {"type": "string", "format": "binary", "description": "a video file (MP4, WebM, GIF)"},
        "video[id]": {"type": "string", "description": "or the id of one of your completed videos"}}}
    as_json = {"type": "object", "required": [*required, "video"], "properties": {
        **_FIELDS, "video": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": multipart},
                                                          "application/json": {"schema": as_json}}}}
