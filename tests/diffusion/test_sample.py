import pytest
import torch

from kinema.diffusion.sample import SamplerConfig, guided_velocity, parse_interval, sample, timestep_schedule
from kinema.models.dit import DiT, DiTConfig, TextContext


def test_schedule_runs_from_noise_to_data() -> None:
    s = timestep_schedule(4)
    assert s.tolist() == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert timestep_schedule(4, shift=2.0)[2] > 0.5


def test_euler_step_is_its_formula() -> None:
    x = torch.randn(1, 2, 3, 2, 2)
    v = torch.randn_like(x)
    out = sample(lambda xt, t: v, x, torch.tensor([1.0, 0.6]), "euler")
    assert torch.allclose(out, x + (0.6 - 1.0) * v)


def test_straight_paths_are_solved_exactly() -> None:
    """For a constant-velocity (straight) flow both solvers land on the data in any step count."""
    x0, noise = torch.randn(1, 2, 3, 2, 2), torch.randn(1, 2, 3, 2, 2)
    for solver in ("euler", "heun"):
        out = sample(lambda xt, t: noise - x0, noise, timestep_schedule(3), solver)
        assert torch.allclose(out, x0, atol=1e-5)


def test_heun_is_second_order() -> None:
    """dx/dt = x: Euler's error shrinks ~linearly with steps, Heun's ~quadratically."""
    x1 = torch.ones(1, 1, 1, 1, 1)
    exact = torch.exp(torch.tensor(-1.0))
    errors = {}
    for solver in ("euler", "heun"):
        errors[solver] = [abs(sample(lambda x, t: x, x1, timestep_schedule(n), solver).item() - exact) for n in (10, 20)]
    assert 1.8 < errors["euler"][0] / errors["euler"][1] < 2.2
    assert 3.5 < errors["heun"][0] / errors["heun"][1] < 4.5


def test_kept_frames_are_held_and_velocity_sees_time_zero() -> None:
    noise, clean = torch.randn(1, 2, 3, 2, 2), torch.randn(1, 2, 3, 2, 2)
    keep = torch.tensor([[True, False, False]])
    seen = []

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(t.clone())
        assert torch.equal(x[:, :, 0], clean[:, :, 0])
        return torch.ones_like(x)

    out = sample(velocity, noise, timestep_schedule(2), "heun", keep=keep, clean=clean)
    assert torch.equal(out[:, :, 0], clean[:, :, 0])
    assert all(t[0, 0] == 0 for t in seen) and seen[0][0, 1] == 1.0


def _model_and_texts() -> tuple[DiT, TextContext, TextContext]:
    """A tiny DiT whose zero-initialised layers get weights (so text matters), a prompt and the empty prompt."""
    torch.manual_seed(0)
    model = DiT(DiTConfig(latent_channels=2, width=16, depth=1, heads=2)).eval()
    for p in model.parameters():
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.1)
    cond = TextContext(torch.randn(1, 4, 384), torch.ones(1, 4, dtype=torch.bool), torch.randn(1, 384))
    empty = TextContext(torch.randn(1, 2, 384), torch.ones(1, 2, dtype=torch.bool), torch.randn(1, 384))
    return model, cond, empty


def test_guidance_combines_conditional_and_unconditional() -> None:
    model, cond, empty = _model_and_texts()
    x, t = torch.randn(1, 2, 1, 4, 4), torch.full((1, 1), 0.5)
    with torch.no_grad():
        vc, vu = model(x, t, cond), model(x, t, empty)
        assert torch.allclose(guided_velocity(model, cond, empty, 3.0)(x, t), vu + 3.0 * (vc - vu), atol=1e-5)
        assert torch.allclose(guided_velocity(model, cond, empty, 1.0)(x, t), vc, atol=1e-6)


def test_guidance_interval_guides_only_inside_it() -> None:
    """Inside [low, high] the guided velocity; outside, the conditional one alone, and the
    unconditional pass is not run (one model call)."""
    model, cond, empty = _model_and_texts()
    x = torch.randn(1, 2, 2, 4, 4)
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    with torch.no_grad():
        for branches in ("batch", "threads"):
            velocity = guided_velocity(model, cond, empty, 4.0, branches=branches, interval=(0.3, 0.8))
            for level, guided in ((0.5, True), (0.9, False), (0.2, False), (0.8, True)):
                t = torch.tensor([[0.0, level]])  # a kept frame at 0: the noisiest frame decides
                vc, vu = model(x, t, cond), model(x, t, empty)
                calls.clear()
                out = velocity(x, t)
                expected = vu + 4.0 * (vc - vu) if guided else vc
                assert torch.allclose(out, expected, atol=1e-5), (branches, level)
                assert sum(calls) == (2 if guided else 1), (branches, level, calls)


def test_guidance_interval_errors() -> None:
    assert parse_interval("0.3,1") == (0.3, 1.0)
    for bad in ("0.5", "a,b", "0.8,0.2", "0,1.5", "0.1,0.2,0.3"):
        with pytest.raises(ValueError, match="guidance interval"):
            parse_interval(bad)
    with pytest.raises(ValueError, match="LOW < HIGH"):
        SamplerConfig(guidance_interval=(0.5, 0.5))
    with pytest.raises(ValueError, match="shift"):
        SamplerConfig(shift=0.0)


def test_sampler_config_errors() -> None:
    with pytest.raises(ValueError, match="solver"):
        SamplerConfig(solver="ddim")
    with pytest.raises(ValueError, match="steps"):
        SamplerConfig(steps=0)
