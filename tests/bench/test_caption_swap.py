"""benchmarks/caption_swap.py: exchanging two words, and the loss effect it reports."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from caption_swap import swap_effect, swapped  # noqa: E402

from kinema.models.dit import DiT, DiTConfig  # noqa: E402


def test_swapped_exchanges_whole_words_only() -> None:
    caption = "A red ball starts at the left and slides to the right; a leftover bright cube stays."
    assert swapped(caption, "left", "right") == "A red ball starts at the right and slides to the left; a leftover bright cube stays."
    assert swapped(swapped(caption, "left", "right"), "left", "right") == caption
    assert swapped("a blue square", "left", "right") == "a blue square"


def test_swap_effect_is_zero_for_a_model_that_ignores_text_and_not_for_one_that_reads_it() -> None:
    torch.manual_seed(0)
    model = DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2)).eval()
    latents = torch.randn(4, 4, 1, 8, 8)
    captions = ["a red ball on the left", "a blue cube on the right", "a red cube at the left", "a green ball at the right"]
    blind = swap_effect(model, latents, captions, "left", "right")  # adaLN-Zero: untrained output ignores text
    assert all(abs(mean) < 1e-6 for mean, _ in blind.values())
    for p in model.parameters():  # a model whose output depends on its text
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.05)
    reads = swap_effect(model, latents, captions, "left", "right")
    assert any(abs(mean) > 1e-4 for mean, _ in reads.values()) and set(reads) == set(blind)
