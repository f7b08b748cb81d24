"""The math of few-step distillation (piecewise reflow): window chords, teacher states, the loss."""

import copy

import pytest
import torch

from kinema.diffusion.distill import (
    DistillConfig,
    DistilledMeta,
    distill_loss,
    load_distilled,
    repeat_text,
    save_distilled,
    teacher_states,
    window_targets,
)
from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, DiTConfig, TextContext

CFG = DiTConfig(latent_channels=2, width=16, depth=1, heads=2)


def trained_like(model: DiT) -> DiT:
    torch.manual_seed(0)
    for p in model.parameters():
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.1)
    return model.eval()


def text(batch: int, length: int = 4, seed: int = 0) -> TextContext:
    g = torch.Generator().manual_seed(seed)
    return TextContext(torch.randn(batch, length, 384, generator=g), torch.ones(batch, length, dtype=torch.bool), torch.randn(batch, 384, generator=g))


def test_one_euler_step_along_the_chord_lands_on_the_window_end() -> None:
    states = torch.randn(5, 3, 2, 1, 2, 2)  # 4 windows, batch 3
    bounds = timestep_schedule(4, shift=1.7)
    window, fraction = torch.tensor([0, 2, 3]), torch.tensor([0.0, 0.5, 0.25])
    x_t, t, v = window_targets(states, bounds, window, fraction)
    for i, (k, s) in enumerate(zip(window.tolist(), fraction.tolist())):
        t0, t1 = bounds[k], bounds[k + 1]
        assert t[i] == pytest.approx(float(t0 + s * (t1 - t0)))
        assert torch.allclose(x_t[i], states[k, i] + s * (states[k + 1, i] - states[k, i]))
        # from anywhere on the chord, Euler to the window's end reaches the teacher's state
        assert torch.allclose(x_t[i] + (t1 - t[i]) * v[i], states[k + 1, i], atol=1e-5)


def test_teacher_states_are_the_full_samplers_path() -> None:
    x1 = torch.randn(2, 2, 3, 2, 2)
    velocity = lambda x, t: -x * t[:, None, :, None, None] + 0.3  # a curved flow  # noqa: E731
    states = teacher_states(velocity, x1, steps=4, teacher_steps=20, shift=2.0)
    assert states.shape == (5, *x1.shape)
    assert torch.equal(states[0], x1)
    full = sample(velocity, x1, timestep_schedule(20, 2.0))
    assert torch.allclose(states[-1], full, atol=1e-6)
    with pytest.raises(ValueError, match="multiple"):
        teacher_states(velocity, x1, steps=3, teacher_steps=20, shift=1.0)


def test_loss_is_zero_where_the_student_already_is_the_teacher() -> None:
    """With one teacher step per window the chord's slope is the teacher's guided velocity at the
    window start, so an untrained student (the teacher's copy) has zero loss there."""
    teacher = trained_like(DiT(CFG))
    cond, empty = text(2), text(1, length=2, seed=5)
    noise = torch.randn(2, 2, 3, 4, 4)
    with torch.no_grad():
        velocity = guided_velocity(teacher, cond, repeat_text(empty, 2), 3.0)
        states = teacher_states(velocity, noise, steps=4, teacher_steps=4, shift=1.0)
        bounds = timestep_schedule(4, 1.0)
        x_t, t, target = window_targets(states, bounds, torch.tensor([1, 3]), torch.zeros(2))
        student = copy.deepcopy(teacher)
        assert distill_loss(student, cond, empty, 3.0, x_t, t, target).item() < 1e-10
        x_mid, t_mid, target_mid = window_targets(states, bounds, torch.tensor([1, 3]), torch.full((2,), 0.5))
        assert distill_loss(student, cond, empty, 3.0, x_mid, t_mid, target_mid).item() > 0


def test_training_steps_reduce_the_loss() -> None:
    teacher = trained_like(DiT(CFG))
    cond, empty = text(2), text(1, length=2, seed=5)
    noise = torch.randn(2, 2, 3, 4, 4)
    with torch.no_grad():
        states = teacher_states(guided_velocity(teacher, cond, repeat_text(empty, 2), 3.0), noise, 2, 8, 1.0)
    x_t, t, target = window_targets(states, timestep_schedule(2, 1.0), torch.tensor([0, 1]), torch.tensor([0.3, 0.6]))
    student = copy.deepcopy(teacher).train()
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        loss = distill_loss(student, cond, empty, 1.0, x_t, t, target)  # guidance baked in
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_saved_student_loads_with_its_sampling_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    student = trained_like(DiT(CFG))
    meta = DistilledMeta(steps=4, guidance=5.0, teacher_steps=20, teacher_guidance=5.0, train_steps=7)
    save_distilled(tmp_path / "s", student, meta)
    loaded, loaded_meta = load_distilled(tmp_path / "s")
    assert loaded_meta == meta
    x, t, c = torch.randn(1, 2, 3, 4, 4), torch.rand(1), text(1)
    with torch.no_grad():
        assert torch.equal(loaded(x, t, c), student(x, t, c))
    with pytest.raises(ValueError, match="not a distilled"):
        load_distilled(tmp_path)


def test_config_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="multiple"):
        DistillConfig(steps=3, teacher_steps=20)
    with pytest.raises(ValueError, match="steps"):
        DistillConfig(steps=0)
    with pytest.raises(ValueError, match="lr"):
        DistillConfig(lr=0.0)


def test_pipeline_with_the_student_samples_its_trained_windows(tiny_pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kinema.diffusion.distill import with_distilled
    from kinema.safety import SafetySettings

    meta = DistilledMeta(steps=2, guidance=1.0, teacher_steps=20, teacher_guidance=5.0, train_steps=1)
    save_distilled(tmp_path / "s", copy.deepcopy(tiny_pipeline.dit), meta)
    pipe, steps, guidance = with_distilled(tiny_pipeline, tmp_path / "s")
    assert (steps, guidance) == (2, 1.0) and pipe.dit is not tiny_pipeline.dit and pipe.vae is tiny_pipeline.vae
    off = SafetySettings(prompt=False, frames=False, watermark=False)
    video = pipe.generate("a red ball", size="64x64", frames=5, steps=steps, guidance=guidance, safety=off)
    assert video.num_frames == 5
