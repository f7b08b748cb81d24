import math

import torch

from kinema.diffusion.flow import flow_loss, frame_timesteps, noise_latents, resolution_shift, sample_timesteps, shift_timesteps


def test_noising_interpolates_between_data_and_noise() -> None:
    x0, noise = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    t = torch.tensor([[0.0, 0.25, 0.5, 1.0]] * 2)
    xt = noise_latents(x0, noise, t)
    assert torch.allclose(xt[:, :, 0], x0[:, :, 0])
    assert torch.allclose(xt[:, :, 3], noise[:, :, 3])
    assert torch.allclose(xt[:, :, 1], 0.75 * x0[:, :, 1] + 0.25 * noise[:, :, 1])


def test_exact_velocity_has_zero_loss_and_kept_frames_do_not_count() -> None:
    x0, noise = torch.randn(2, 3, 4, 2, 2), torch.randn(2, 3, 4, 2, 2)
    assert flow_loss(noise - x0, x0, noise, None) == 0
    wrong = noise - x0
    wrong[:, :, 0] += 10.0  # garbage on frame 0 only
    keep = torch.zeros(2, 4, dtype=torch.bool)
    keep[:, 0] = True
    assert flow_loss(wrong, x0, noise, keep) == 0
    assert math.isclose(flow_loss(wrong, x0, noise, None).item(), 100.0 / 4, rel_tol=1e-5)


def test_kept_frames_get_time_zero() -> None:
    keep = torch.tensor([[True, False, False], [False, False, True]])
    t = frame_timesteps(torch.tensor([0.7, 0.2]), keep, 3)
    assert torch.allclose(t, torch.tensor([[0.0, 0.7, 0.7], [0.2, 0.2, 0.0]]))


def test_shift_and_logit_normal() -> None:
    t = torch.linspace(0, 1, 11)
    assert torch.allclose(shift_timesteps(t, 1.0), t)
    shifted = shift_timesteps(t, 3.0)
    assert shifted[0] == 0 and shifted[-1] == 1 and bool((shifted[1:-1] > t[1:-1]).all())
    assert resolution_shift(144) == 1.0 and math.isclose(resolution_shift(576), 2.0)
    s = sample_timesteps(20000, generator=torch.Generator().manual_seed(0))
    assert 0 < s.min() and s.max() < 1 and abs(s.median().item() - 0.5) < 0.02
