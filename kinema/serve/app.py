"""`create_app(config) -> FastAPI`: the OpenAI videos API over Kinema's job store.

Routes (all under /v1 need `Authorization: Bearer <key>`; docs/serve.md has the full contract):
  POST   /v1/videos                    create (multipart: prompt, model, seconds, size, input_reference)
  GET    /v1/videos                    list the key's videos (after, limit, order)
  GET    /v1/videos/{id}               retrieve (header openai-poll-after-ms paces create_and_poll)
  DELETE /v1/videos/{id}               delete the video and its files (a running job is abandoned)
  GET    /v1/videos/{id}/content       download: variant=video (MP4) | thumbnail | spritesheet (PNG)
  POST   /v1/videos/{id}/remix         remix a completed video with a new prompt (JSON: prompt)
  POST   /v1/videos/extensions         extend a video (multipart: prompt, seconds, video or video[id])
  POST   /v1/videos/edits              edit a video (multipart: prompt, video or video[id])
  GET    /v1/kinema/options            models, sizes, durations and limits this server accepts
  POST   /v1/kinema/enhance            the detailed prompt the model would be given
  GET    /healthz                      liveness (no key)
The API process validates, moderates the prompt (a refusal is a 400 "moderation_blocked" with
its category), enhances it and queues a job; workers (`kinema.serve.worker`) do the generation.
Another key's video is a 404, as a video that does not exist. If `kinema.serve.web` exists, its
`router` (the web page at `/`) is included.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from kinema import __version__
from kinema.serve import inputs
from kinema.serve.auth import Auth
from kinema.serve.config import FPS, ServeConfig, frames_for
from kinema.serve.errors import ApiError, bad_request, install, not_found
from kinema.serve.intake import MAX_EDIT_FRAMES, Intake, media_body, media_request
from kinema.serve.limits import BodyLimit, RateLimiter
from kinema.serve.media import VARIANTS, path_of
from kinema.serve.schemas import (EnhanceRequest, EnhanceResponse, ErrorResponse, Limits, Options, RemixRequest,
                                  VideoDeleted, VideoList, VideoObject, video_object)
from kinema.serve.store import ACTIVE, ApiKey, Store

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": why} for status, why in (
        (400, "invalid request, or the prompt was refused (code moderation_blocked, with its category)"),
        (401, "missing, unknown or revoked API key"), (404, "no such video for this key"),
        (413, "request body too large"), (429, "rate limit or queue quota reached (Retry-After)"))}


def current_key(request: Request) -> ApiKey:
    """The caller's API key (401 / 429 otherwise): the app's `Auth`, as a FastAPI dependency."""
    return request.app.state.auth(request)


Key = Annotated[ApiKey, Depends(current_key)]


def create_app(config: ServeConfig) -> FastAPI:
    store = Store(config.url, lease_seconds=config.lease_seconds, max_attempts=config.max_attempts)
    for folder in (config.videos_dir, config.uploads_dir):
        folder.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="Kinema", version=__version__, summary="Open text-to-video behind the OpenAI videos API.")
    app.state.config, app.state.store = config, store
    app.state.auth = Auth(store, RateLimiter(config.rate_limit_rpm))
    install(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)
    api = APIRouter(prefix="/v1", responses=ERRORS)
    intake = Intake(config, store)

    @api.post("/videos", response_model=VideoObject, summary="Create a video")
    def create_video(key: Key, prompt: Annotated[str, Form()], model: Annotated[str | None, Form()] = None,
                     seconds: Annotated[str | None, Form()] = None, size: Annotated[str | None, Form()] = None,
                     input_reference: Annotated[UploadFile | None, File(description="an image: the first frame")] = None,
                     seed: Annotated[int | None, Form(description="Kinema: the random seed (default: random)")] = None,
                     steps: Annotated[int | None, Form(description="Kinema: sampling steps")] = None) -> VideoObject:
        intake.check_model(model)
        frames = frames_for(intake.seconds(seconds, "seconds"))
        if input_reference is None:
            size = intake.size(size)
            return intake.submit(key, "generate", prompt, size, frames, seed=seed, steps=steps)
        image = inputs.read_image(input_reference.file.read(), "input_reference", config.sizes)
        image_size = f"{image.shape[1]}x{image.shape[0]}"
        if size is not None and intake.size(size) != image_size:
            raise bad_request(f"input_reference is {image_size} but size is {size}; they must match "
                              f"(or leave size out to use the image's)", "input_reference")

        def store_image(video_id: str) -> str:
            from kinema.video import Video

            target = config.uploads_dir / f"{video_id}.png"
            Video(image[None], fps=FPS).write(target)
            return str(target.relative_to(config.home))

        return intake.submit(key, "animate", prompt, image_size, frames, seed=seed, steps=steps, media=store_image)

    @api.get("/videos", response_model=VideoList, summary="List videos")
    def list_videos(key: Key, after: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                    order: Literal["asc", "desc"] = "desc") -> VideoList:
        try:
            page, more = store.list_jobs(key.id, after=after, limit=limit, order=order)
        except ValueError as error:
            raise bad_request(str(error), "after") from None
        data = [video_object(job) for job in page]
        return VideoList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                         has_more=more)

    @api.get("/videos/{video_id}", response_model=VideoObject, summary="Retrieve a video")
    def retrieve_video(key: Key, video_id: str, response: Response) -> VideoObject:
        job = intake.owned(key, video_id)
        if job.status in ACTIVE:
            response.headers["openai-poll-after-ms"] = str(config.poll_after_ms)
        return video_object(job)

    @api.delete("/videos/{video_id}", response_model=VideoDeleted, summary="Delete a video")
    def delete_video(key: Key, video_id: str) -> VideoDeleted:
        job = store.delete_job(video_id, key.id)
        if job is None:
            raise not_found(video_id)
        intake.remove_files(job)
        return VideoDeleted(id=job.id, deleted=True)

    @api.get("/videos/{video_id}/content", summary="Download the video, its thumbnail or spritesheet",
             response_class=FileResponse, responses={200: {"content": {"video/mp4": {}, "image/png": {}}}})
    def download_content(key: Key, video_id: str,
                         variant: Literal["video", "thumbnail", "spritesheet"] = "video") -> FileResponse:
        job = intake.completed(key, video_id, "downloaded")
        path = path_of(config.home / job.result_dir, job.id, variant)
        if not path.is_file():
            raise ApiError(404, f"the {variant} of {video_id} is missing from the server's storage",
                           param="variant", code="content_missing")
        return FileResponse(path, media_type=VARIANTS[variant][1], filename=path.name)

    @api.post("/videos/{video_id}/remix", response_model=VideoObject, summary="Remix a completed video")
    def remix_video(key: Key, video_id: str, body: Annotated[RemixRequest, Body()]) -> VideoObject:
        size, frames, source, media = intake.source_video(key, None, video_id, MAX_EDIT_FRAMES, "remixed", "video_id")
        return intake.submit(key, "remix", body.prompt, size, frames, strength=config.edit_strength,
                             source=source, remixed_from=video_id, media=media)

    @api.post("/videos/extensions", response_model=VideoObject, summary="Extend a video",
              openapi_extra=media_body(["prompt", "seconds"]))
    async def extend_video(key: Key, request: Request) -> VideoObject:
        form = await media_request(request)
        return await run_in_threadpool(intake.extend, key, form)

    @api.post("/videos/edits", response_model=VideoObject, summary="Edit a video", openapi_extra=media_body(["prompt"]))
    async def edit_video(key: Key, request: Request) -> VideoObject:
        form = await media_request(request)
        return await run_in_threadpool(intake.edit, key, form)

    @api.get("/kinema/options", response_model=Options, summary="What this server accepts")
    def options(key: Key) -> Options:
        return Options(models=[config.model_name], default_model=config.model_name, sizes=list(config.sizes),
                       default_size=config.default_size, seconds=[str(s) for s in config.seconds],
                       default_seconds=str(config.default_seconds), fps=FPS, variants=list(VARIANTS),
                       limits=Limits(rate_limit_rpm=config.rate_limit_rpm, max_active_jobs=config.max_active_jobs,
                                     max_request_bytes=config.max_request_bytes, max_steps=config.max_steps,
                                     max_total_seconds=config.max_total_seconds))

    @api.post("/kinema/enhance", response_model=EnhanceResponse, summary="Enhance a prompt")
    def enhance(key: Key, body: Annotated[EnhanceRequest, Body()]) -> EnhanceResponse:
        from kinema.text.enhance import enhance as enhance_prompt

        size = intake.size(body.size)
        frames = frames_for(intake.seconds(body.seconds, "seconds"))
        intake.check_prompt(body.prompt, moderate=False)
        width, height = (int(v) for v in size.split("x"))
        result = enhance_prompt(body.prompt, (width, height), frames)
        return EnhanceResponse(enhanced_prompt=result.text, unknown_words=result.unknown_words, changed=result.changed,
                               problem=result.problem)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        store.count_active("")  # the database answers
        return {"status": "ok"}

    app.include_router(api)
    try:
        from kinema.serve.web import router as web_router
    except ModuleNotFoundError as error:
        if error.name != "kinema.serve.web":
            raise
    else:
        app.include_router(web_router)
    return app
