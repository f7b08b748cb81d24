"""The frozen MiniLM text encoder: last-layer states, and word states beside them."""

import torch

from kinema.text.encoder import TEXT_DIM, default_encoder


def test_word_states_are_the_last_layer_then_the_input_layer() -> None:
    prompts = ["A large red square sits still on the left.", "", "a ball"]
    for word_states in (False, True):  # a cached prompt keeps the rounding of the batch it came in: same batches here
        default_encoder(word_states).cache.clear()
    plain, words = default_encoder().encode(prompts), default_encoder(True).encode(prompts)
    assert plain.tokens.shape[-1] == TEXT_DIM and words.tokens.shape[-1] == 2 * TEXT_DIM
    assert torch.equal(words.mask, plain.mask)
    assert torch.equal(words.tokens[..., :TEXT_DIM], plain.tokens) and torch.equal(words.pooled[:, :TEXT_DIM], plain.pooled)
    inputs = default_encoder().input_layer(prompts)  # the cheap path a latent cache uses
    assert torch.equal(inputs.mask, words.mask)
    assert torch.allclose(inputs.tokens, words.tokens[..., TEXT_DIM:]) and torch.allclose(inputs.pooled, words.pooled[:, TEXT_DIM:])
    assert torch.allclose(words.pooled[:, TEXT_DIM:].norm(dim=-1), torch.ones(3))  # each layer's mean normalised
    assert not words.tokens[~words.mask].any()  # padding stays zero


def test_input_layer_tells_left_from_right_where_the_last_layer_hardly_does() -> None:
    """Why word states exist: the last layer's states of "left" and "right" are nearly parallel."""
    encoder = default_encoder(True)
    states = encoder.encode(["A large red square sits still on the left.", "A large red square sits still on the right."])
    ids = encoder.tokenizer(["left", "right"], add_special_tokens=False)["input_ids"]
    where = encoder.tokenizer("A large red square sits still on the left.")["input_ids"].index(ids[0][0])
    last = torch.nn.functional.cosine_similarity(states.tokens[0, where, :TEXT_DIM], states.tokens[1, where, :TEXT_DIM], dim=0)
    first = torch.nn.functional.cosine_similarity(states.tokens[0, where, TEXT_DIM:], states.tokens[1, where, TEXT_DIM:], dim=0)
    assert last > 0.8 and first < 0.6, (float(last), float(first))
