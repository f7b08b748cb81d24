"""Device placement: the model path keeps every tensor where the models are.

There is no GPU on CI, so the checks run on PyTorch's `meta` device: any tensor created on the CPU
inside the path (RoPE tables, timesteps, masks, padding) meets a meta tensor and raises, exactly the
mistake that would break a CUDA run. (The conditioned path reads its masks on the host, which
meta tensors cannot do; it builds everything on the VAE's device: kinema.diffusion.condition.)
"""

import pytest
import torch

from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, DiTConfig, TextContext
from kinema.device import pick_device
from kinema.pipeline import Pipeline

META = torch.device("meta")


def text(batch: int, length: int) -> TextContext:
    return TextContext(torch.randn(batch, length, 384, device=META), torch.ones(batch, length, dtype=torch.bool, device=META),
                       torch.randn(batch, 384, device=META))


def tiny_dit() -> DiT:
    return DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2)).to(META)


def test_dit_forward_keeps_every_tensor_on_the_model_device() -> None:
    out = tiny_dit()(torch.randn(2, 4, 3, 8, 8, device=META), torch.rand(2, device=META), text(2, 5))
    assert out.device == META and out.shape == (2, 4, 3, 8, 8)


def test_guided_sampling_with_kept_frames_stays_on_the_model_device() -> None:
    velocity = guided_velocity(tiny_dit(), text(1, 7), text(1, 3), 4.0)  # padding of the empty prompt too
    keep = torch.tensor([[True, False, False]], device=META)
    clean = torch.randn(1, 4, 3, 8, 8, device=META)
    for solver in ("euler", "heun"):
        out = sample(velocity, torch.randn(1, 4, 3, 8, 8, device=META), timestep_schedule(3), solver, keep=keep, clean=clean)
        assert out.device == META


def test_pipeline_moves_models_and_text_to_its_device(tiny_pipeline: Pipeline) -> None:
    assert tiny_pipeline.device == torch.device("cpu")
    states = tiny_pipeline.text(["a red ball"])
    assert states.tokens.device == tiny_pipeline.device


def test_unknown_or_missing_devices_are_clear_errors() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="not known; use cpu, cuda, cuda:N or auto"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asked for a GPU but this PyTorch sees none"):
            pick_device("cuda")
