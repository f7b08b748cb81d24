"""The API through the real `openai` SDK against a live uvicorn on loopback (worker in a thread,
tiny random model): create_and_poll, retrieve, list pages, download every variant, remix,
extend, edit, animate, delete, bad values, refusals, isolation between keys."""

from __future__ import annotations

import io
import warnings

import numpy as np
import openai
import pytest
from PIL import Image

from kinema.serve.store import Store
from tests.serve.conftest import http
from kinema.video import Video

warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"openai\..*")  # "Sora API shuts down 2026"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PROMPT = "a small red ball bounces to the right"


@pytest.fixture
def client(live_server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=live_server.base_url, api_key=live_server.key, max_retries=0)


def other_client(live_server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    _, key = Store(live_server.config.url).create_key("mallory")
    return openai.OpenAI(base_url=live_server.base_url, api_key=key, max_retries=0)


def png(rgb: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_create_poll_download_list_remix_delete(client: openai.OpenAI, live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    video = client.videos.create_and_poll(prompt=PROMPT, size="64x64", seconds="1", poll_interval_ms=50)
    assert video.status == "completed" and video.progress == 100 and video.error is None
    assert (video.model, video.size, video.seconds, video.prompt, video.object) == ("kinema-test", "64x64", "1", PROMPT, "video")
    assert video.id.startswith("video_") and video.completed_at >= video.created_at
    extension = video.to_dict()["kinema"]
    assert extension["mode"] == "generate" and extension["frames"] == 9 and extension["attempts"] == 1
    assert "small red circle" in extension["enhanced_prompt"]  # the detailed caption the model was given
    assert extension["provenance"] == {**extension["provenance"], "c2pa": "valid", "watermark": True}
    assert client.videos.retrieve(video.id).to_dict() == video.to_dict()

    client.videos.download_content(video.id).write_to_file(tmp_path / "clip.mp4")
    clip = Video.read(tmp_path / "clip.mp4")
    assert (clip.num_frames, clip.size) == (9, "64x64")
    thumb = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").read()))
    sheet = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").read()))
    assert (thumb.format, thumb.size) == ("PNG", (64, 64))
    assert sheet.size == (4 * 64, 3 * 64)  # 9 frames in rows of 4
    from kinema.safety.provenance import verify_file

    assert verify_file(tmp_path / "clip.mp4").valid  # the downloaded file carries its C2PA manifest

    remix = client.videos.remix(video.id, prompt="a small green ball bounces to the right")
    assert remix.status == "queued" and remix.remixed_from_video_id == video.id
    remix = client.videos.poll(remix.id, poll_interval_ms=50)
    assert remix.status == "completed" and remix.to_dict()["kinema"]["mode"] == "remix"

    second = client.videos.create(prompt="a large blue square slides to the left", seconds="1")
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == [second.id, remix.id] and page.has_more
    assert [v.id for v in page.get_next_page().data] == [video.id]
    assert [v.id for v in client.videos.list(limit=1, order="asc")] == [video.id, remix.id, second.id]  # auto-paging

    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert not list(live_server.config.videos_dir.glob(f"{video.id}*"))
    assert client.videos.retrieve(remix.id).status == "completed"  # the remix keeps its own files
    client.videos.poll(second.id, poll_interval_ms=50)


def test_extend_edit_and_animate(client: openai.OpenAI, live_server) -> None:  # type: ignore[no-untyped-def]
    source = client.videos.create_and_poll(prompt=PROMPT, seconds="1", poll_interval_ms=50)
    clip = client.videos.download_content(source.id).read()
    longer = client.videos.extend(prompt="the ball keeps bouncing to the right", seconds="1",
                                  video=("clip.mp4", clip, "video/mp4"))
    longer = client.videos.poll(longer.id, poll_interval_ms=50)
    assert longer.status == "completed" and longer.seconds == "2" and longer.to_dict()["kinema"]["frames"] == 17
    assert len(_decode(client.videos.download_content(longer.id).read())) == 17
    # OpenAI's reference form {"video": {"id": ...}} as JSON (the SDK can only upload files).
    reply = http("POST", f"{live_server.base_url}/videos/edits", live_server.key,
                 json_body={"prompt": "a small green ball bounces to the right", "video": {"id": longer.id}})
    assert reply.status == 200, reply.body
    edited = client.videos.poll(reply.json()["id"], poll_interval_ms=50)
    info = edited.to_dict()["kinema"]
    assert edited.status == "completed" and edited.seconds == "2" and info["mode"] == "edit"
    assert info["source_video_id"] == longer.id and info["strength"] == 0.6
    animated = client.videos.create_and_poll(prompt="the ball slides to the left", seconds="1", poll_interval_ms=50,
                                             input_reference=("red.png", png((220, 40, 40)), "image/png"))
    assert animated.status == "completed" and animated.to_dict()["kinema"]["mode"] == "animate"
    frames = _decode(client.videos.download_content(animated.id).read())
    assert np.abs(frames[0].astype(int) - [220, 40, 40]).mean() < 12  # the image is frame 0 (through H.264)


def _decode(data: bytes) -> np.ndarray:
    import av

    with av.open(io.BytesIO(data)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_bad_values_say_what_is_allowed(client: openai.OpenAI, live_server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.BadRequestError) as error:
        client.videos.create(prompt=PROMPT, size="1280x720")
    assert "64x64, 96x64, 64x96, 112x64" in error.value.message and error.value.param == "size"
    with pytest.raises(openai.BadRequestError) as error:
        client.videos.create(prompt=PROMPT, seconds="12")
    assert "allowed: 1, 2, 3, 4, 5, 6, 7, 8" in error.value.message and error.value.param == "seconds"
    with pytest.raises(openai.BadRequestError, match="allowed: kinema-test"):
        client.videos.create(prompt=PROMPT, model="sora-2")
    with pytest.raises(openai.BadRequestError, match="prompt is empty"):
        client.videos.create(prompt="  ")
    with pytest.raises(openai.BadRequestError, match="NUL"):
        client.videos.create(prompt="a ball\x00")
    with pytest.raises(openai.BadRequestError, match="must match"):
        client.videos.create(prompt=PROMPT, size="96x64", input_reference=("a.png", png((1, 2, 3)), "image/png"))
    with pytest.raises(openai.BadRequestError, match="could not be read as an image"):
        client.videos.create(prompt=PROMPT, input_reference=("a.png", b"not an image", "image/png"))
    with pytest.raises(openai.BadRequestError, match="could not be decoded"):
        client.videos.edit(prompt=PROMPT, video=("clip.mp4", b"\x00" * 100, "video/mp4"))
    with pytest.raises(openai.BadRequestError) as error:
        client.videos.list(order="sideways")  # type: ignore[arg-type]
    assert error.value.param == "order"
    edits = f"{live_server.base_url}/videos/edits"
    missing = http("POST", edits, live_server.key, json_body={"prompt": PROMPT, "video": {"id": "video_nope"}})
    assert missing.status == 404 and missing.json()["error"]["code"] == "video_not_found"
    neither = http("POST", edits, live_server.key, json_body={"prompt": PROMPT})
    assert neither.status == 400 and "exactly one of video" in neither.json()["error"]["message"]
    assert http("POST", edits, live_server.key, data=b"{", headers={"Content-Type": "application/json"}).status == 400


def test_refused_prompt_is_an_error_with_its_category(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as error:
        client.videos.create(prompt="shoot the man")
    assert error.value.code == "moderation_blocked" and error.value.param == "prompt"
    assert error.value.body["category"] == "violence" and "violence" in error.value.message
    assert client.videos.list().data == []  # nothing was queued


def test_another_key_sees_nothing_and_no_key_is_401(client: openai.OpenAI, live_server) -> None:  # type: ignore[no-untyped-def]
    video = client.videos.create(prompt=PROMPT, seconds="1")
    mallory = other_client(live_server)
    for call in (lambda: mallory.videos.retrieve(video.id), lambda: mallory.videos.delete(video.id),
                 lambda: mallory.videos.download_content(video.id), lambda: mallory.videos.remix(video.id, prompt=PROMPT),
                 lambda: mallory.videos.poll(video.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    extension = http("POST", f"{live_server.base_url}/videos/extensions", mallory.api_key,
                     json_body={"prompt": PROMPT, "seconds": "1", "video": {"id": video.id}})
    assert extension.status == 404
    assert mallory.videos.list().data == []
    anonymous = openai.OpenAI(base_url=live_server.base_url, api_key="kn-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="incorrect or revoked"):
        anonymous.videos.list()
    assert client.videos.poll(video.id, poll_interval_ms=50).status == "completed"


def test_two_api_servers_and_a_worker_share_postgresql(serve_home, tiny_weights, postgres_server) -> None:  # type: ignore[no-untyped-def]
    import threading

    from kinema.serve.app import create_app
    from kinema.serve.config import ServeConfig
    from kinema.serve.worker import Worker
    from tests.serve.conftest import new_postgres_database, start_uvicorn

    config = ServeConfig(home=serve_home, weights=tiny_weights, database_url=new_postgres_database(postgres_server),
                         steps=2, poll_after_ms=50, worker_poll_seconds=0.05)
    _, key = Store(config.url).create_key("test")
    servers = [start_uvicorn(create_app(config)) for _ in range(2)]  # each app has its own engine and pool
    a, b = (openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0) for _, _, port in servers)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(config).run, kwargs={"stop": stop}, daemon=True)
    worker.start()
    try:
        created = a.videos.create(prompt=PROMPT, seconds="1")
        done = b.videos.poll(created.id, poll_interval_ms=50)
        assert done.status == "completed" and done.to_dict()["kinema"]["provenance"]["c2pa"] == "valid"
        assert [v.id for v in a.videos.list().data] == [created.id]
        assert len(b.videos.download_content(created.id).read()) > 1000
    finally:
        stop.set()
        for server, thread, _ in servers:
            server.should_exit = True  # type: ignore[attr-defined]
            thread.join(10)
        worker.join(30)
