"""`kinema train cache --buckets`: a world latent cache over many grids, read back by LatentCache."""

from pathlib import Path

from typer.testing import CliRunner

from kinema.cli import app
from kinema.train.buckets import BucketTable
from kinema.train.latents import LatentCache

runner = CliRunner()


def test_bucketed_world_cache_holds_several_grids_within_the_token_budget(tiny_weights: Path, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    args = ["train", "cache", "--weights", str(tiny_weights), "-o", str(out), "--shards", "6", "--buckets", "world-small",
            "--token-budget", "576", "--distribution", "simple", "--threads", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    cache = LatentCache(out, token_budget=576)
    grids = set()
    allowed = {(b.frames, b.height // 8, b.width // 8) for b in BucketTable.preset("world-small")}
    for step in range(6):
        batch = cache.batch(step, seed=0)
        _, _, frames, h, w = batch.latents.shape
        tokens = frames * (h // 2) * (w // 2)
        grids.add((frames, h, w))
        assert len(batch.latents) == 1 or len(batch.latents) * tokens <= 576
    assert len(grids) >= 2  # several sizes/durations in one cache, not one square
    latent_frames = {(4 * (f - 1) + 1, h, w) for f, h, w in grids}
    assert latent_frames <= allowed


def test_unknown_bucket_preset_is_a_clear_error(tiny_weights: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "cache", "--weights", str(tiny_weights), "-o", str(tmp_path / "c"), "--shards", "1",
                                 "--buckets", "everything"])
    assert result.exit_code == 2
    assert "bucket preset 'everything' is not known" in " ".join(result.output.split())


def test_word_states_from_a_cache_of_last_layer_states_to_a_trained_model(tiny_weights: Path, tmp_path: Path) -> None:
    """A cache holds MiniLM's last layer; with word states LatentCache puts the input layer's states
    (from the captions) beside them. `kinema train dit --word-states` grows a model without them,
    exports one that generates, and they cannot be removed again."""
    import json

    import torch

    from kinema.pipeline import Pipeline
    from kinema.safety import SafetySettings
    from kinema.text.encoder import default_encoder

    out = tmp_path / "cache"
    result = runner.invoke(app, ["train", "cache", "--weights", str(tiny_weights), "-o", str(out), "--shards", "2",
                                 "--distribution", "simple", "--threads", "1"])
    assert result.exit_code == 0, result.output
    plain, words = LatentCache(out).batch(0), LatentCache(out, word_states=True).batch(0)
    assert words.captions == plain.captions and torch.equal(words.mask, plain.mask)
    assert plain.tokens.shape[-1] == 384 and words.tokens.shape[-1] == 768
    assert torch.equal(words.tokens[..., :384], plain.tokens) and torch.equal(words.pooled[:, :384], plain.pooled)
    reference = default_encoder(True).encode(plain.captions)  # what sampling gives the model
    n = reference.tokens.shape[1]
    assert torch.allclose(words.tokens[:, :n, 384:], reference.tokens[..., 384:], atol=1e-2)  # stored in fp16
    assert torch.allclose(words.pooled[:, 384:], reference.pooled[:, 384:], atol=1e-2)

    export = tmp_path / "export"
    args = ["train", "dit", "--init", str(tiny_weights), "--cache", str(out), "--run", str(tmp_path / "run"), "--export", str(export),
            "--steps", "2", "--warmup", "1", "--checkpoint-every", "2", "--threads", "1", "--word-states", "--grown-lr-scale", "10",
            "--image-share", "0.5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["config"]["train"]["image_share"] == 0.5  # the option reaches the run (and its record)
    meta = json.loads((export / "dit.json").read_text())["dit"]
    assert meta["word_states"] and meta["text_dim"] == 768
    for file in tiny_weights.glob("vae*"):
        (export / file.name).write_bytes(file.read_bytes())
    video = Pipeline.from_pretrained(export).generate("a red circle on the left", size="32x32", frames=1, steps=2, seed=0,
                                                      safety=SafetySettings.off("prompt", "frames", "watermark"))
    assert video.frames.shape == (1, 32, 32, 3)
    result = runner.invoke(app, ["train", "dit", "--init", str(export), "--cache", str(out), "--run", str(tmp_path / "run2"), "--no-word-states"])
    assert result.exit_code == 2
    assert "reads word states; they cannot be removed" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "dit", "--init", str(tiny_weights), "--cache", str(out), "--run", str(tmp_path / "run3"),
                                 "--grown-lr-scale", "10"])
    assert result.exit_code == 2
    assert "no place features or word states to scale" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "dit", "--init", str(tiny_weights), "--cache", str(out), "--run", str(tmp_path / "run3"),
                                 "--word-states", "--grown-lr-scale", "0"])
    assert result.exit_code == 2 and "scale (--grown-lr-scale) must be positive" in " ".join(result.output.split())
    result = runner.invoke(app, ["train", "dit", "--init", str(tiny_weights), "--cache", str(out), "--run", str(tmp_path / "run3"),
                                 "--word-states", "--grown-lr-scale", "10", "--parallel", "fsdp"])
    assert result.exit_code == 2 and "does not work with --parallel fsdp" in " ".join(result.output.split())
