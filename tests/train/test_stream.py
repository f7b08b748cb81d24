"""Streaming training: the device pool, the batched text encoder, and a short real run on the CPU."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kinema.train.stream import LatentPool, StreamConfig, train_stream


def _clips(n: int, frames: int, value: float) -> tuple[torch.Tensor, ...]:
    return (torch.full((n, 4, frames, 2, 2), value), torch.full((n, 96, 384), value), torch.ones(n, 96, dtype=torch.bool),
            torch.full((n, 384), value))


def test_pool_grows_then_replaces_the_oldest_clips() -> None:
    pool = LatentPool(torch.device("cpu"), max_clips=6)
    pool.add(*_clips(4, 3, 1.0))
    pool.add(*_clips(2, 3, 2.0))
    assert len(pool) == 6
    pool.add(*_clips(3, 3, 3.0))  # full: the three oldest (value 1) go
    group = pool.groups[(4, 3, 2, 2)]
    assert len(pool) == 6
    assert sorted(group["latents"][:6, 0, 0, 0, 0].tolist()) == [1.0, 2.0, 2.0, 3.0, 3.0, 3.0]
    pool.add(*_clips(3, 3, 4.0))  # next the remaining 1 and the two 2s
    assert sorted(group["latents"][:6, 0, 0, 0, 0].tolist()) == [3.0, 3.0, 3.0, 4.0, 4.0, 4.0]


def test_pool_draws_one_shape_within_the_token_budget() -> None:
    pool = LatentPool(torch.device("cpu"), max_clips=1000)
    pool.add(*_clips(50, 1, 1.0))  # images: 1 token each (2x2 latent, 2x2 patches)
    pool.add(*_clips(50, 3, 3.0))  # 3 tokens each
    rng = np.random.default_rng(0)
    shapes = []
    for _ in range(200):
        latents, tokens, mask, pooled = pool.draw(rng, token_budget=12, max_batch=8, image_share=0.25)
        frames = latents.shape[2]
        assert latents.dtype == torch.float32 and latents.unique().tolist() == [float(frames)]  # one shape per batch
        assert len(latents) == (8 if frames == 1 else 4) == len(tokens) == len(mask) == len(pooled)
        shapes.append(frames)
    assert 0.15 < shapes.count(1) / len(shapes) < 0.35
    with pytest.raises(ValueError, match="empty"):
        LatentPool(torch.device("cpu"), 10).draw(rng, 12, 8, 0.5)


def test_stream_config_errors_and_schedule() -> None:
    with pytest.raises(ValueError, match="max_pool=10"):
        StreamConfig(min_pool=100, max_pool=10)
    with pytest.raises(ValueError, match="seconds"):
        StreamConfig(seconds=0)
    cfg = StreamConfig(lr=1e-3, warmup=10, min_lr_ratio=0.1)
    assert cfg.lr_at(0, 0.0) == pytest.approx(1e-4)
    assert cfg.lr_at(50, 0.0) == pytest.approx(1e-3)
    assert cfg.lr_at(50, 0.5) == pytest.approx(0.55e-3)
    assert cfg.lr_at(50, 1.0) == pytest.approx(1e-4)


def test_batch_encoder_matches_the_cached_encoder_and_compact_export(tmp_path: Path) -> None:
    from kinema.text.batch import BatchTextEncoder, export_compact
    from kinema.text.encoder import default_encoder

    captions = ["A small red circle slides to the left.", "", "Two blue squares bounce on the floor."]
    full = BatchTextEncoder("cpu").encode(captions)
    reference = default_encoder().encode(captions)
    for i, caption in enumerate(captions):
        n = int(reference.mask[i].sum())
        assert int(full.mask[i].sum()) == n and not full.mask[i, n:].any()
        assert torch.allclose(full.tokens[i, :n], reference.tokens[i, :n], atol=1e-4)
        assert full.tokens[i, n:].abs().max() == 0  # padding zeroed, as the latent cache stores it
        assert torch.allclose(full.pooled[i], reference.pooled[i], atol=1e-5)
    assert full.known.all()

    info = export_compact(tmp_path / "minilm", captions)
    assert info["word_pieces"] < 40 and info["bytes"] < 25e6
    compact = BatchTextEncoder("cpu", tmp_path / "minilm")
    states = compact.encode(captions + ["a zebra plays the saxophone"])
    assert states.known.tolist() == [True, True, True, False]  # never encoded with missing word pieces
    scale = reference.tokens.abs().max()
    assert (states.tokens[:3] - full.tokens).abs().max() < 2e-3 * scale  # fp16 weights
    with pytest.raises(FileNotFoundError, match="export-text"):
        BatchTextEncoder("cpu", tmp_path)
    words, reference = BatchTextEncoder("cpu", word_states=True).encode(captions), default_encoder(True).encode(captions)
    n = reference.tokens.shape[1]
    assert torch.allclose(words.tokens[:, :n], reference.tokens, atol=1e-4) and not words.tokens[:, n:].any()
    assert torch.allclose(words.pooled, reference.pooled, atol=1e-5)


def test_stream_training_runs_saves_and_resumes(tiny_weights: Path, tmp_path: Path) -> None:
    from kinema.pipeline import Pipeline
    from kinema.safety import SafetySettings

    cfg = StreamConfig(seconds=600.0, max_steps=4, workers=1, buckets=((32, 32, 1), (32, 32, 5)), token_budget=64, max_batch=4,
                       min_pool=8, max_pool=64, ingest_per_step=8, warmup=2, log_every=2, save_every=1000,
                       position_features=8, word_states=True, grown_lr_scale=5.0,  # added to weights without them; kept on resume
                       high_noise_rate=0.5)
    run = tmp_path / "run"
    import multiprocessing
    import signal

    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as kinema.train.runner leaves it in this process
    try:
        first = train_stream(cfg, tiny_weights, run, torch.device("cpu"))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert multiprocessing.active_children() == []  # the render workers are gone, not ignoring terminate()
    assert first["step"] == 4 and np.isfinite(first["loss"]) and 8 <= first["pool"] <= 64 + 64
    meta = json.loads((run / "export" / "dit.json").read_text())
    assert meta["stream"]["steps"] == first["step"] and meta["step"] == first["step"]  # the tiny weights had no step
    assert meta["dit"]["position_features"] == 8 and meta["dit"]["word_states"] and meta["dit"]["text_dim"] == 768
    state = json.loads((run / "state" / "state.json").read_text())
    assert state["step"] == 4 and 0 < state["seconds"] < 600
    video = Pipeline.from_pretrained(run / "export").generate("a red circle", size="32x32", frames=5, steps=2, seed=0,
                                                               safety=SafetySettings.off("prompt", "frames", "watermark"))
    assert video.frames.shape == (5, 32, 32, 3)
    assert first["first_batch"] == 0 and state["next_batch"] == first["next_batch"] >= 1 and state["config"]["data_seed"] == 7
    resumed = {**cfg.__dict__, "max_steps": 6, "position_features": None, "word_states": False,  # the run's own growth is kept
               "data_seed": 3}  # and its own world seed
    again = train_stream(StreamConfig(**resumed), tiny_weights, run, torch.device("cpu"), resume=True)
    assert again["step"] == 6 and again["seconds"] > state["seconds"]
    assert again["data_seed"] == 7 and again["first_batch"] == state["next_batch"] < again["next_batch"]  # new clips, not the first ones
    assert again["clips_encoded"] > state["clips_encoded"] == first["clips_encoded"]  # counted over the whole run
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(0 < r["ingest_share"] < 1 for r in records)  # where the step time goes: encoding vs training
    assert [r["step"] for r in records] == sorted({r["step"] for r in records})  # one log, steps continue


def test_stream_cli_errors_and_text_export(tiny_weights: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kinema.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "stream", "--init", str(tiny_weights), "--run", str(tmp_path / "r"), "--resume"])
    assert result.exit_code == 2 and "no stream state" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "stream", "--init", str(tmp_path), "--run", str(tmp_path / "r")])
    assert result.exit_code == 2 and "is not a weights folder" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "stream", "--init", str(tiny_weights), "--lr", "-1"])
    assert result.exit_code == 2 and "lr=-1.0" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "stream", "--init", str(tiny_weights), "--grown-lr-scale", "10"])
    assert result.exit_code == 2 and "no place features or word states to scale" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "stream", "--init", str(tiny_weights), "--data-seed", "-1"])
    assert result.exit_code == 2 and "--data-seed" in result.output and "greater than or equal to 0" in result.output
    result = runner.invoke(app, ["train", "export-text", str(tmp_path / "minilm"), "--captions", "200"])
    assert result.exit_code == 0, result.output
    assert "word pieces" in result.output and (tmp_path / "minilm" / "model.safetensors").exists()
