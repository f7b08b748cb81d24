"""Conditioning math: frame index maps, timelines, masks, the anchor/release sampler, splicing."""

import numpy as np
import pytest
import torch

from kinema.diffusion.condition import (Conditioning, conditioning, latent_index, masks, padding_to_step, pixel_span,
                                        sample_conditioned, splice, split_schedule, timeline)
from kinema.diffusion.sample import sample, timestep_schedule
from kinema.models.vae import VAEConfig, VideoVAE


def test_pixel_and_latent_indices_invert() -> None:
    assert list(pixel_span(0)) == [0] and list(pixel_span(1)) == [1, 2, 3, 4] and list(pixel_span(8)) == [29, 30, 31, 32]
    for j in range(17):
        assert all(latent_index(p) == j for p in pixel_span(j))
    with pytest.raises(ValueError, match="negative"):
        latent_index(-1)


@pytest.mark.parametrize("given,wanted", [(9, 32), (9, 5), (12, 1), (12, 20), (0, 30), (7, 3)])
def test_padding_makes_a_step_of_1_plus_4k(given: int, wanted: int) -> None:
    extra = padding_to_step(given, wanted)
    assert 0 <= extra < 4 and (given + wanted + extra - 1) % 4 == 0


def test_timeline_places_segments_and_blends_the_gap() -> None:
    a = np.full((1, 16, 16, 3), 0, np.uint8)
    b = np.full((1, 16, 16, 3), 200, np.uint8)
    line = timeline(5, 16, 16, [(0, a), (4, b)])
    assert line.given.tolist() == [True, False, False, False, True]
    assert [int(f[0, 0, 0]) for f in line.pixels] == [0, 50, 100, 150, 200]
    held = timeline(5, 16, 16, [(2, b)])  # before and after the only given frame: a hold
    assert (held.pixels == 200).all()


@pytest.mark.parametrize(
    "frames,segments,message",
    [(32, [], "1 \\+ 4k"), (69, [], "at most 65"), (9, [(6, np.zeros((4, 16, 16, 3), np.uint8))], "run off"),
     (9, [(0, np.zeros((3, 16, 16, 3), np.uint8)), (2, np.zeros((1, 16, 16, 3), np.uint8))], "overlap"),
     (9, [(0, np.zeros((1, 32, 16, 3), np.uint8))], "do not match")],
)
def test_timeline_errors(frames: int, segments: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        timeline(frames, 16, 16, segments)


def test_masks_keep_whole_groups_and_anchor_partial_ones() -> None:
    given = np.zeros(13, bool)
    given[:5] = True  # latent frames 0 and 1 whole
    given[8] = True  # one frame of latent frame 2
    keep, anchor = masks(given)
    assert keep.tolist() == [True, True, False, False] and not anchor.any()
    keep, anchor = masks(given, anchor_partial=True)
    assert keep.tolist() == [True, True, False, False] and anchor.tolist() == [False, False, True, False]
    keep, anchor = masks(given, anchor_all=True)
    assert not keep.any() and anchor.all()


def test_split_schedule_covers_the_steps() -> None:
    schedule = timestep_schedule(10, shift=2.0)
    head, tail = split_schedule(schedule, 0.6)
    assert head[-1] == tail[0] == pytest.approx(0.6) and head[0] == 1.0 and tail[-1] == 0.0
    assert len(head) + len(tail) == len(schedule) + 2
    assert (head[:-1] > 0.6).all() and (tail[1:] < 0.6).all()


def _linear_velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 0.5 * x + t[:, None, :, None, None]


def test_all_anchored_is_sdedit_from_strength() -> None:
    """Every frame anchored at release r equals sampling from (1 - r) clean + r noise below r."""
    torch.manual_seed(0)
    clean, noise = torch.randn(1, 2, 3, 2, 2), torch.randn(1, 2, 3, 2, 2)
    cond = Conditioning(torch.zeros(1, 3, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool), clean, 0.6)
    schedule = timestep_schedule(8, shift=1.5)
    got = sample_conditioned(_linear_velocity, noise, cond, schedule)
    _, tail = split_schedule(schedule, 0.6)
    want = sample(_linear_velocity, 0.4 * clean + 0.6 * noise, tail)
    assert torch.equal(got, want)


def test_kept_frames_stay_exact_and_anchors_are_released() -> None:
    torch.manual_seed(1)
    clean, noise = torch.randn(1, 2, 4, 2, 2), torch.randn(1, 2, 4, 2, 2)
    keep = torch.tensor([[True, False, False, False]])
    anchor = torch.tensor([[False, False, True, False]])
    steps: list[tuple[int, int]] = []
    out = sample_conditioned(_linear_velocity, noise, Conditioning(keep, anchor, clean, 0.5), timestep_schedule(6),
                             on_step=lambda i, n: steps.append((i, n)))
    assert torch.equal(out[:, :, 0], clean[:, :, 0])
    assert not torch.equal(out[:, :, 2], clean[:, :, 2])  # generated below t = 0.5
    assert [i for i, _ in steps] == list(range(1, len(steps) + 1)) and steps[-1][0] == steps[-1][1]


def test_conditioning_bad_release() -> None:
    z = torch.zeros(1, 1)
    with pytest.raises(ValueError, match="outside \\(0, 1\\]"):
        Conditioning(z.bool(), z.bool(), torch.zeros(1, 2, 1, 2, 2), 0.0)


def test_conditioning_encodes_a_leading_clip_exactly_as_alone() -> None:
    """Causality: a clip given at the start has the latents it has when encoded on its own."""
    torch.manual_seed(0)
    vae = VideoVAE(VAEConfig(latent_channels=4, channels=(8, 8, 16))).eval()
    clip = np.random.default_rng(0).integers(0, 255, (9, 16, 16, 3), dtype=np.uint8)
    line = timeline(17, 16, 16, [(0, clip)])
    cond = conditioning(vae, line)
    from kinema.pixels import frames_to_tensor

    alone = vae.encode(frames_to_tensor(clip)[None])
    assert cond.keep[0].tolist() == [True, True, True, False, False]
    torch.testing.assert_close(cond.clean[:, :, :3], alone, rtol=0, atol=1e-5)


def test_splice_puts_given_frames_back() -> None:
    clip = np.full((1, 16, 16, 3), 7, np.uint8)
    line = timeline(5, 16, 16, [(4, clip)])
    out = splice(np.zeros((5, 16, 16, 3), np.uint8), line)
    assert (out[4] == 7).all() and (out[:4] == 0).all()
