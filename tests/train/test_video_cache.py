"""The video latent cache: bucket shards LatentCache reads, resumable, skips counted; rank shares."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from kinema.pipeline import load_vae
from kinema.text.encoder import default_encoder
from kinema.train.latents import LatentCache, build_video_cache
from kinema.train.video_data import VideoDataConfig
from video_files import make_dataset, write_indexed


@pytest.fixture(scope="module")
def cached(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("cache")
    videos = make_dataset(root / "videos")
    write_indexed(videos / "landscape2.mp4", 30, 160, 96, 24, "another wide clip")
    counts = build_video_cache(load_vae(tiny_weights), default_encoder(), videos, root / "cache", crops=2, shard_clips=3,
                               workers=0, progress=False)
    return videos, root / "cache", counts


def test_cache_holds_bucket_shards_that_latent_cache_reads(cached: tuple[Path, Path, dict]) -> None:
    _, cache, counts = cached
    # landscape (17 frames) and landscape2 (30 frames at 24 fps = 10 -> 9 frames) are different buckets.
    names = sorted(p.stem for p in cache.glob("shard_*.json"))
    assert names == ["shard_112x64x17_00000", "shard_112x64x9_00000", "shard_64x64x9_00000", "shard_64x96x17_00000"]
    assert counts == {"shards_written": 4, "shards_done_before": 0, "clips_encoded": 8, "clips_skipped": 4}
    sidecar = json.loads((cache / "shard_112x64x17_00000.json").read_text())
    assert sidecar["bucket"] == [112, 64, 17] and sidecar["captions"] == ["a wide gray clip"] * 2
    assert len(set(sidecar["starts"])) == 2  # two different random crops of the same video
    latents = LatentCache(cache, token_budget=10_000)
    assert len(latents) == 8
    assert set(latents.groups) == {(4, 5, 8, 14), (4, 3, 8, 14), (4, 3, 8, 8), (4, 5, 12, 8)}
    batch = latents.batch(0)
    assert batch.latents.shape[0] == len(batch.captions) == batch.tokens.shape[0] and torch.isfinite(batch.latents).all()


def test_rerun_resumes_and_redoes_only_unfinished_shards(tiny_weights: Path, cached: tuple[Path, Path, dict],
                                                         monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import kinema.train.video_data as video_data

    videos, cache, _ = cached
    vae, encoder = load_vae(tiny_weights), default_encoder()
    with monkeypatch.context() as patch:  # a finished cache answers without probing a single video
        patch.setattr(video_data, "scan", lambda *args, **kwargs: pytest.fail("a finished cache scanned the videos again"))
        again = build_video_cache(vae, encoder, videos, cache, crops=2, shard_clips=3, workers=0, progress=False)
    assert again == {"shards_written": 0, "shards_done_before": 4, "clips_encoded": 0, "clips_skipped": 4}
    before = (cache / "shard_64x96x17_00000.safetensors").read_bytes()
    (cache / "shard_64x96x17_00000.json").unlink()  # as if killed while writing this shard
    again = build_video_cache(vae, encoder, videos, cache, crops=2, shard_clips=3, workers=0, progress=False)
    assert again["shards_written"] == 1 and again["clips_encoded"] == 2
    assert (cache / "shard_64x96x17_00000.safetensors").read_bytes() == before  # same crops: exact resume
    with pytest.raises(ValueError, match="other options"):
        build_video_cache(vae, encoder, videos, cache, crops=1, shard_clips=3, workers=0, progress=False)
    shutil.copy(videos / "landscape2.mp4", videos / "zz_added_later.mp4")
    try:
        with monkeypatch.context() as patch, caplog.at_level("WARNING", logger="kinema.data"):
            patch.setattr(video_data, "scan", lambda *args, **kwargs: pytest.fail("a finished cache scanned the videos again"))
            build_video_cache(vae, encoder, videos, cache, crops=2, shard_clips=3, workers=0, progress=False)
        assert "1 videos are not in the plan" in caplog.text  # named from a listing, without probing
    finally:
        (videos / "zz_added_later.mp4").unlink()
    with pytest.raises(ValueError, match="other options"):
        build_video_cache(vae, encoder, videos, cache, VideoDataConfig(seed=5), crops=2, shard_clips=3, workers=0, progress=False)


def test_latent_cache_batches_are_a_pure_function_of_step(cached: tuple[Path, Path, dict]) -> None:
    _, cache, _ = cached
    latents = LatentCache(cache, token_budget=10_000)
    default = latents.batch(3)
    assert torch.equal(default.latents, LatentCache(cache, token_budget=10_000).batch(3).latents)  # resumes repeat it
    assert any(not torch.equal(default.latents, latents.batch(step).latents) for step in range(4, 10))
    assert np.isfinite(default.pooled.numpy()).all()
