"""int8 sampling (kinema.models.int8): which layers change, how far the shipped model's output
moves, and the errors for what it cannot do."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from kinema.diffusion.sample import SamplerConfig
from kinema.models.dit import DiT, DiTConfig
from kinema.models.int8 import int8_available, int8_matmuls, is_int8
from kinema.pipeline import Pipeline

SHIPPED = Path(__file__).resolve().parents[2] / "weights" / "kinema-tiny"
pytestmark = pytest.mark.skipif(not int8_available(), reason="this PyTorch build has no quantised CPU engine")


def test_only_the_block_matmuls_become_int8() -> None:
    dit = DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2))
    q = int8_matmuls(dit)
    assert is_int8(q) and not is_int8(dit)  # a copy: the original stays fp32
    fp32 = {name for name, layer in q.named_modules() if isinstance(layer, nn.Linear)}
    assert "blocks.0.mlp.fc1" not in fp32 and "blocks.1.attn.qkv" not in fp32 and "blocks.0.cross.kv" not in fp32
    assert {"patch_embed", "final.linear", "blocks.0.modulation.1", "time_embed.0"} <= fp32


def test_int8_video_stays_close_to_fp32_with_the_shipped_model() -> None:
    """Whole 20-step guided samples through int8 matmuls decode within 30 dB PSNR of the fp32
    videos of the same seeds (median of 3: one sample's distance swings by ~10 dB, 29-39 dB for
    step 8271), while another seed's video is far (the check can tell them apart)."""
    torch.set_num_threads(1)
    pipe = Pipeline.from_pretrained(SHIPPED)
    int8 = Pipeline.from_pretrained(SHIPPED, int8=True)
    assert int8.name.endswith("+int8") and is_int8(int8.dit) and not is_int8(pipe.dit)
    states = pipe.prompt_states("A medium red circle starts on the left and slides toward the right. The camera is still.")
    config = SamplerConfig(steps=20, guidance=5.0)

    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))

    distances = []
    with torch.no_grad():
        for seed in (0, 1, 3):
            ref = pipe.decode_frames(pipe.sample_latent(states, "64x64", 17, config, seed=seed))
            quantised = int8.decode_frames(int8.sample_latent(states, "64x64", 17, config, seed=seed))
            distances.append(psnr(quantised, ref))
        other = pipe.decode_frames(pipe.sample_latent(states, "64x64", 17, config, seed=4))
    assert float(np.median(distances)) > 30.0, distances
    assert psnr(other, ref) < 25.0


def test_int8_is_cpu_only_with_a_clear_error() -> None:
    with torch.device("meta"):
        dit = DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2))
    with pytest.raises(ValueError, match="CPU only"):
        int8_matmuls(dit)
    with pytest.raises(ValueError, match="no linear layer"):
        int8_matmuls(DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2)), targets=("nothing.*",))


def test_cli_generate_int8_records_it_in_the_manifest(tiny_weights, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from kinema.cli import app
    from kinema.safety.provenance import verify_file

    out = tmp_path / "a.png"
    args = ["generate", "a red square slides to the right", "--weights", str(tiny_weights), "--int8", "--frames", "1",
            "--steps", "2", "--no-enhance", "--no-frame-check", "-o", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    summary = verify_file(out).summary()
    assert summary["model"]["name"].endswith("+int8") and summary["settings"]["precision"] == "int8"
    bad = CliRunner().invoke(app, args[:-2] + ["--device", "cuda:0", "-o", str(out)])
    assert bad.exit_code == 2 and ("--int8" in bad.output or "GPU" in bad.output)
