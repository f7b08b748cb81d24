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
