"""Fine-tuning on a tiny video folder: the loss on it falls (LoRA and full), runs resume, and the
LoRA loads at generation time (`Pipeline.from_pretrained(lora=...)`, `kinema generate --lora`)."""

import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from kinema.cli import app
from kinema.models.dit import DiT, DiTConfig
from kinema.models.lora import load_lora
from kinema.pipeline import Pipeline, load_dit
from kinema.safety import SafetySettings
from kinema.train.checkpoint import save_weights
from kinema.train.dit import DiTTrainConfig, dit_loss
from kinema.train.finetune import FinetuneConfig, empty_text, finetune
from kinema.train.latents import LatentCache
from kinema.train.video_data import VideoDataConfig
from kinema.video import Video

OFF = SafetySettings.off("prompt", "frames", "watermark")


@pytest.fixture(scope="module")
def base(tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test VAE with a DiT whose output layers are not zero (as a trained model's)."""
    folder = tmp_path_factory.mktemp("base") / "kinema-base"
    folder.mkdir()
    for file in tiny_weights.glob("vae*"):
        shutil.copy2(file, folder / file.name)
    torch.manual_seed(1)
    cfg = DiTConfig(latent_channels=4, width=32, depth=2, heads=2)
    dit = DiT(cfg)
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    save_weights(folder, "dit", dit, {"dit": asdict(cfg)})
    return folder


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mine") / "videos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, color in (("red", (220, 40, 40)), ("blue", (40, 80, 230)), ("green", (40, 190, 70))):
        frames = np.full((24, 64, 64, 3), 15, dtype=np.uint8)
        for t in range(24):  # a square sliding right
            x = 4 + 2 * t
            frames[t, 24:40, x : x + 16] = color
        frames = np.clip(frames.astype(int) + rng.integers(-3, 4, frames.shape), 0, 255).astype(np.uint8)
        Video(frames, 8).write(folder / f"{name}.mp4")
        (folder / f"{name}.txt").write_text(f"a {name} square slides to the right")
    return folder


def folder_loss(model: torch.nn.Module, cache: Path) -> float:
    """The flow loss on the fine-tuning data with fixed noise and timesteps (no dropout, no masks)."""
    cfg = DiTTrainConfig(caption_dropout=0.0, condition_rate=0.0)
    latents, empty = LatentCache(cache, token_budget=10_000), empty_text()
    with torch.no_grad():
        return float(np.mean([dit_loss(model.eval(), latents.batch(s, seed=99), cfg, empty, torch.Generator().manual_seed(s))[0].item()
                              for s in range(12)]))


def config(base: Path, data: Path, **kwargs) -> FinetuneConfig:  # type: ignore[no-untyped-def]
    video = VideoDataConfig(max_frames=17)
    cfg = FinetuneConfig(weights=str(base), data=str(data), video=video, crops=3, workers=0, token_budget=10_000, **kwargs)
    return replace(cfg, optim=replace(cfg.optim, steps=60, lr=1e-2, warmup=3, checkpoint_every=30, log_every=5))


@pytest.fixture(scope="module")
def lora_run(base: Path, videos: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("lora") / "run"
    return run, finetune(config(base, videos, lora_rank=4), run, progress=False)


def test_lora_fine_tune_lowers_the_loss_on_the_folder(base: Path, lora_run: tuple[Path, dict]) -> None:
    run, result = lora_run
    assert result["step"] == 60 and result["clips"] == 9  # 3 videos x 3 crops
    assert result["trainable"] == 2 * 4 * (32 + 96) + 2 * 4 * (32 + 32) * 3 + 2 * 4 * (32 + 64) \
        + 2 * 4 * (32 + 128) + 2 * 4 * (128 + 32)  # qkv, out/q/cross.out, kv, fc1, fc2 of 2 blocks, rank 4
    lora = Path(result["output"])
    assert lora == run / "lora" and (lora / "lora.safetensors").stat().st_size < 200_000
    before = folder_loss(load_dit(base), run / "cache")
    tuned = load_dit(base)
    load_lora(tuned, lora)
    after = folder_loss(tuned, run / "cache")
    assert after < 0.8 * before, (before, after)


def test_rerunning_a_finished_run_resumes_without_training(base: Path, videos: Path, lora_run: tuple[Path, dict]) -> None:
    run, _ = lora_run
    log_lines = len((run / "log.jsonl").read_text().splitlines())
    again = finetune(config(base, videos, lora_rank=4), run, progress=False)
    assert again["step"] == 60 and len((run / "log.jsonl").read_text().splitlines()) == log_lines


def test_full_fine_tune_from_the_cache_writes_a_complete_checkpoint(base: Path, lora_run: tuple[Path, dict], tmp_path: Path) -> None:
    run, _ = lora_run
    result = finetune(config(base, run / "cache", lora_rank=0), tmp_path / "full", progress=False)  # the cache, not the videos
    out = Path(result["output"])
    assert result["cache"] == str(run / "cache") and not (tmp_path / "full" / "cache").exists()
    assert {p.name for p in out.iterdir()} >= {"dit.json", "dit.safetensors", "vae.json", "vae.safetensors"}
    assert folder_loss(load_dit(out), run / "cache") < 0.8 * folder_loss(load_dit(base), run / "cache")
    video = Pipeline.from_pretrained(out).generate("a red square slides to the right", frames=1, steps=2, safety=OFF)
    assert video.num_frames == 1


def test_lora_loads_at_generation_with_a_scale(base: Path, lora_run: tuple[Path, dict]) -> None:
    _, result = lora_run
    prompt = "a red square slides to the right"
    plain = Pipeline.from_pretrained(base).generate(prompt, frames=1, steps=3, safety=OFF).frames
    off = Pipeline.from_pretrained(base, lora=result["output"], lora_scale=0.0).generate(prompt, frames=1, steps=3, safety=OFF).frames
    tuned = Pipeline.from_pretrained(base, lora=result["output"], lora_scale=0.8)
    assert tuned.name.endswith("+lora:lora@0.8")
    assert np.array_equal(off, plain)
    assert not np.array_equal(tuned.generate(prompt, frames=1, steps=3, safety=OFF).frames, plain)


def test_cli_finetune_and_generate_with_lora(base: Path, videos: Path, lora_run: tuple[Path, dict], tmp_path: Path) -> None:
    runner = CliRunner()
    _, result = lora_run
    out = tmp_path / "a.png"
    args = ["generate", "a red square slides to the right", "--weights", str(base), "--lora", result["output"], "--lora-scale", "0.8",
            "--frames", "1", "--steps", "2", "--no-enhance", "--no-frame-check", "-o", str(out)]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert out.is_file()
    bad = runner.invoke(app, args[:-2] + ["--lora", str(tmp_path / "nothing"), "-o", str(out)])
    assert bad.exit_code == 2 and "no LoRA at" in bad.output
    bad = runner.invoke(app, ["finetune", str(videos), "--weights", str(base), "--lora-rank", "0", "--run", str(tmp_path / "r")])
    assert bad.exit_code == 2 and "--lora-rank 0 must be at least 1" in bad.output
    bad = runner.invoke(app, ["finetune", str(videos), "--weights", str(tmp_path), "--run", str(tmp_path / "r")])
    assert bad.exit_code == 2 and "no Kinema checkpoint" in bad.output
    done = runner.invoke(app, ["finetune", str(videos), "--weights", str(base), "--lora-rank", "2", "--steps", "2", "--checkpoint-every", "2",
                               "--max-frames", "17", "--crops", "1", "--workers", "0", "--threads", "1", "--run", str(tmp_path / "cli")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "cli" / "lora" / "lora.json").is_file() and "--lora-scale 0.8" in " ".join(done.output.split())


def test_lora_fine_tune_under_torchrun_on_two_processes(base: Path, lora_run: tuple[Path, dict], tmp_path: Path) -> None:
    """`torchrun ... kinema finetune` shares each batch between the processes (gloo on the CPU)."""
    import json
    import os
    import subprocess
    import sys

    run, _ = lora_run
    kinema = Path(sys.executable).with_name("kinema")
    args = ["finetune", str(run / "cache"), "--weights", str(base), "--lora-rank", "4", "--steps", "4", "--checkpoint-every", "2",
            "--token-budget", "10000", "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    two = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "--no-python", str(kinema),
           *args, "--run-dir", str(tmp_path / "ddp"), "--parallel", "ddp"]
    for command in (two, [str(kinema), *args, "--run-dir", str(tmp_path / "one")]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr[-3000:]

    def losses(folder: Path) -> dict[int, float]:
        return {r["step"]: r["loss"] for r in map(json.loads, (folder / "log.jsonl").read_text().splitlines())}

    one, shared = losses(tmp_path / "one"), losses(tmp_path / "ddp")
    assert sorted(shared) == sorted(one) and max(one) == 4
    assert all(abs(shared[s] - one[s]) < 1e-4 for s in one), (one, shared)  # the same global batch, split in two
    assert (tmp_path / "ddp" / "lora" / "lora.safetensors").is_file()
