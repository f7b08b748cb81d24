"""Semantic layer: a small classifier over the frozen text encoder's sentence vectors.

Contract: `classify(text)` returns `(category, probability)`: the harmful category whose
probability passes its threshold (the most probable one if several do), else
`(None, highest harmful probability)`; a prompt whose "benign" probability is below `SURE_HARMFUL` is
refused as its most probable harmful class even when no class passes its own threshold. It catches what no word list does ("a man plunges a blade
into another man's belly"). The model is a one-hidden-layer ReLU network (`HIDDEN` units; 0 gives
the multinomial logistic regression of rounds 1-4) on the pooled all-mpnet-base-v2 vector
(`kinema.safety.sentence`, 768-d, L2-normalised; rounds 1-5 used the generator's MiniLM), six classes (benign + the five categories), stored
in `data/classifier.npz` (float16, ~360 KB), loaded once per process. It reads the prompt
normalised and without its allow-listed benign phrases (`lexicon.without_allowed`). Encoding costs
~70 ms a prompt on an idle core, and the encoder caches prompts it has seen.

A nearest-exemplar vote adds refusals the classifier misses: when the prompt's `VOTERS`
nearest exemplars all belong to one harmful class at a mean cosine of at least `VOTE_SIMILARITY`
(chosen on the exemplars alone, each benign one against all the others), it is refused as that
class. A nearest-exemplar check backs every classifier refusal: the prompt's `NEIGHBOURS` nearest
training exemplars (cosine, `data/exemplar_vectors.npz`, int8, ~3.5 MB) must not be mostly benign.
A boundary drawn for "the yellow electric mouse" also cuts through "the pink ball beats the green
ball"; the world caption next to it says what it is. It only ever turns a refusal into an allow.

Training (`python -m kinema.safety.semantic`) reads `data/exemplars/*.txt`, templated prompts
(`kinema.safety.templates`: world captions, people doing harmless things, harmful acts composed
from small vocabularies, famous people and characters described without their names and plain
roles that point at nobody) and, from round 5 on, the spent red-team splits (`SPENT_REDTEAM`:
each was measured once as a held-out set, then became training data). The sealed split
(`SEALED_REDTEAM`) measures generalisation and is never trained on, not even a prompt an older
split happens to repeat. `KINEMA_MODERATION_HOLD_OUT=fresh5` leaves named splits out (to
validate a change before the sealed split is run). Each harmful class's threshold is chosen by
5-fold cross-validation on the exemplars so that at most `TARGET_FPR` of the held-out benign
exemplars would be refused in all, within [`MIN_THRESHOLD`, `MAX_THRESHOLD`]: where the network is
so sure of benign exemplars that it would need more than 0.999, the cap lets a few more through
than the target (violence and copyright since round 5). The weights are stored as float16; the
figures in docs/safety.md were measured with exactly that stored model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kinema.safety.lexicon import without_allowed
from kinema.safety.templates import described, templated, world_captions

DATA_DIR = Path(__file__).parent / "data"
EXEMPLAR_DIR = DATA_DIR / "exemplars"
CLASSIFIER_PATH = DATA_DIR / "classifier.npz"
NEIGHBOURS_PATH = DATA_DIR / "exemplar_vectors.npz"  # int8 sentence vectors + labels of every exemplar
NEIGHBOURS = 3  # a refusal needs at most one benign exemplar among the prompt's 3 nearest
VOTERS = 5  # the nearest-exemplar vote: refuse when the 5 nearest exemplars are all one harmful class ...
VOTE_SIMILARITY = 0.60  # ... at a mean cosine of at least this: the lowest of 0.60/0.65/0.70 at which
# at most 0.1% of the benign exemplars (each against all the others) would be refused (0.08%; a test checks)
CLASSES: tuple[str, ...] = ("benign", "violence", "sexual", "hate", "real_person", "copyright")
TARGET_FPR = 0.01  # held-out benign exemplars refused at the chosen threshold
WORLD_CAPTIONS = 900  # templated world captions added to the benign exemplars
# The world's own captions (kinema.world: detailed and short, 2 a scene) from scenes seeded at
# WORLD_SCENE_SEED on (tests read scenes 0-999): since round 7, when one detailed caption in 300
# ("... one big rose triangle slides out of the frame ...") was read as sexual.
WORLD_SCENES, WORLD_SCENE_SEED = 300, 10_000
TEMPLATED = {"benign": 400, "violence": 300, "sexual": 200, "hate": 200, "real_person": 150}  # kinema.safety.templates
DESCRIBED = {"benign": 400, "real_person": 250, "copyright": 300}  # templates.described: famous people/characters unnamed
# Red-team splits once measured are "spent" and, from round 5 on, trained on: they are the most
# varied prompts written against this filter. Sealed splits (benchmarks/moderation.py) never are.
SPENT_REDTEAM = ("redteam.jsonl", "redteam_fresh4.jsonl", "redteam_fresh5.jsonl", "redteam_fresh6.jsonl", "redteam_fresh7.jsonl",
                 "redteam_fresh8.jsonl", "redteam_fresh9.jsonl", "redteam_fresh10.jsonl")
SEALED_REDTEAM = ("redteam_fresh11.jsonl",)  # measured round 9 once (its errors then read): none of its prompts is trained on,
# even one an exemplar repeats; a next round needs a new sealed split
# A contextual lexicon hit (kinema.safety.lexicon: "a rugby hooker", "goes in for the kill") is read
# in its harmless sense when the classifier gives "benign" at least this. Chosen on fresh8 before it
# was trained on: its benign prompts refused by such words scored 0.999-1.000, no violating prompt
# with a lexicon hit more than 0.067.
SURE_BENIGN = 0.9
# Round 9: a prompt the classifier gives "benign" less than this is refused as its most probable
# harmful class even when no class passes its own threshold (violence's is 0.999): a violating
# prompt's probability can be split between two classes ("kingg charlz the thurd": real person
# 0.003, copyright 0.997) or sit just under a cap (violence 0.93, 0.992). Chosen on the spent fresh10
# split before it was trained on: its 150 harmless prompts scored 0.0255 and more, while 3 of its 4
# misses scored 0.0001 or less.
SURE_HARMFUL = 0.01
HOLD_OUT_ENV = "KINEMA_MODERATION_HOLD_OUT"  # splits to leave out of training (validation runs), e.g. "fresh5"
L2 = 1e-3  # weight decay of the logistic regression (HIDDEN = 0)
HIDDEN = 256  # ReLU units of the classifier's hidden layer (0: logistic regression)
EPOCHS = 150
INPUT_SCALE = 4.0  # sentence vectors are unit length: scaled so hidden units see a useful range
STEPS = 400
MIN_THRESHOLD = 0.6  # below this a class is not even the clear winner among six
MAX_THRESHOLD = 0.999  # a class never needs more confidence than this


@dataclass(frozen=True)
class Classifier:
    classes: tuple[str, ...]
    weight: np.ndarray  # (C, D): D = 768 (the sentence vector), or HIDDEN after the hidden layer
    bias: np.ndarray  # (C,)
    threshold: np.ndarray  # (C,) refuse when a harmful class's probability reaches its threshold
    exemplar_hash: str  # sha256 of the exemplar files it was trained on
    hidden_weight: np.ndarray | None = None  # (HIDDEN, 768): a ReLU layer before the output, or None (linear)
    hidden_bias: np.ndarray | None = None

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        """(B, 768) sentence vectors -> (B, C) class probabilities."""
        features = pooled if self.hidden_weight is None else np.maximum(pooled @ self.hidden_weight.T + self.hidden_bias, 0.0)
        logits = features @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        """Weights as float16 (probabilities move by < 1e-3), thresholds and fingerprint as they are."""
        arrays = {"weight": self.weight, "bias": self.bias}
        if self.hidden_weight is not None and self.hidden_bias is not None:
            arrays |= {"hidden_weight": self.hidden_weight, "hidden_bias": self.hidden_bias}
        np.savez_compressed(path, classes=np.array(self.classes), threshold=self.threshold.astype(np.float32),
                            exemplar_hash=np.array(self.exemplar_hash), **{k: v.astype(np.float16) for k, v in arrays.items()})

    @staticmethod
    def load(path: Path) -> Classifier:
        with np.load(path) as data:
            hidden = (data["hidden_weight"].astype(np.float32), data["hidden_bias"].astype(np.float32)) if "hidden_weight" in data else ()
            return Classifier(tuple(str(c) for c in data["classes"]), data["weight"].astype(np.float32), data["bias"].astype(np.float32),
                              data["threshold"].astype(np.float32), str(data["exemplar_hash"]), *hidden)


def exemplar_hash() -> str:
    """Fingerprint of everything the classifier is trained on (a stale classifier fails a test)."""
    digest = hashlib.sha256(json.dumps([TEMPLATED, DESCRIBED, WORLD_CAPTIONS, WORLD_SCENES, WORLD_SCENE_SEED, L2, STEPS, HIDDEN, EPOCHS,
                                        INPUT_SCALE], sort_keys=True).encode())
    here = Path(__file__).parent
    inputs = [*sorted(EXEMPLAR_DIR.glob("*.txt")), *(DATA_DIR / name for name in SPENT_REDTEAM + SEALED_REDTEAM), here / "templates.py",
              here / "normalize.py", DATA_DIR / "lexicon" / "allow.txt"]
    for path in inputs:
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(os.environ.get(HOLD_OUT_ENV, "").encode())
    return digest.hexdigest()[:16]


def sealed_prompts() -> set[str]:
    """Canonical forms of the sealed splits' prompts, as written and with allow-listed phrases taken
    out (as the classifier reads them): nothing that reads the same is trained on."""
    from kinema.safety.normalize import canonical

    prompts = [row["prompt"] for name in SEALED_REDTEAM if (DATA_DIR / name).exists() for row in _jsonl(DATA_DIR / name)]
    return {canonical(p) for p in prompts} | {canonical(without_allowed(p)) for p in prompts}


def spent_redteam() -> list[tuple[str, str]]:
    """(prompt, class) of every spent red-team prompt, less the splits named in $KINEMA_MODERATION_HOLD_OUT."""
    held_out = set(filter(None, os.environ.get(HOLD_OUT_ENV, "").split(",")))
    rows = [row for name in SPENT_REDTEAM for row in _jsonl(DATA_DIR / name) if row["split"] not in held_out]
    return [(row["prompt"], row["category"] or "benign") for row in rows]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_exemplars() -> tuple[list[str], np.ndarray]:
    """(texts, class indices) of the training set, normalised as prompts are at run time."""
    from kinema.safety.normalize import canonical

    texts: list[str] = []
    labels: list[int] = []
    spent = spent_redteam()
    sealed = sealed_prompts()  # an exemplar written independently can match a sealed prompt word for word
    for index, name in enumerate(CLASSES):
        files = [EXEMPLAR_DIR / f"{name}.txt", *sorted(EXEMPLAR_DIR.glob(f"{name}_*.txt"))]  # e.g. benign_hard.txt
        lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
        lines = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if name == "benign":
            lines += world_captions(WORLD_CAPTIONS) + world_scene_captions(WORLD_SCENES, WORLD_SCENE_SEED)
        lines += templated(name, TEMPLATED.get(name, 0)) if name in TEMPLATED else []
        lines += described(name, DESCRIBED[name]) if name in DESCRIBED else []
        lines += [prompt for prompt, label in spent if label == name]
        readable = [(line, without_allowed(line)) for line in lines]
        kept = [text for line, text in readable if canonical(line) not in sealed and canonical(text) not in sealed]
        texts += kept
        labels += [index] * len(kept)
    return texts, np.array(labels)


def world_scene_captions(scenes: int, first_seed: int) -> list[str]:
    """The detailed and the short caption of each of `scenes` world scenes ("full" distribution)."""
    from kinema.world import detailed_caption, sample_scene, short_caption

    out = []
    for seed in range(first_seed, first_seed + scenes):
        scene, rng = sample_scene(seed, "full"), np.random.default_rng(seed)
        out += [detailed_caption(scene, rng), short_caption(scene, rng)]
    return out


def embed(texts: list[str]) -> np.ndarray:
    """Pooled, L2-normalised all-mpnet-base-v2 vectors (B, 768) as float32 numpy (`kinema.safety.sentence`)."""
    from kinema.safety.sentence import sentence_vectors

    return sentence_vectors(texts)


def fit(x: np.ndarray, y: np.ndarray, classes: int = len(CLASSES)) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression, full-batch L-BFGS in torch."""
    import torch

    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    counts = torch.bincount(yt, minlength=classes).float()
    class_weight = counts.sum() / (classes * counts.clamp(min=1))
    weight = torch.zeros(classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=STEPS, line_search_fn="strong_wolfe")
    scale = 20.0  # sentence vectors are unit length: scale them so the logits can be confident

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = scale * xt @ weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits, yt, weight=class_weight) + L2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return (scale * weight).detach().numpy(), bias.detach().numpy()


def fit_mlp(x: np.ndarray, y: np.ndarray, classes: int = len(CLASSES)) -> tuple[np.ndarray, ...]:
    """Class-balanced one-hidden-layer ReLU network (AdamW, dropout), seeded: (w2, b2, w1, b1)."""
    import torch

    torch.manual_seed(0)
    xt, yt = torch.from_numpy(x) * INPUT_SCALE, torch.from_numpy(y).long()
    counts = torch.bincount(yt, minlength=classes).float()
    class_weight = counts.sum() / (classes * counts.clamp(min=1))
    first, second = torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Linear(HIDDEN, classes)
    net = torch.nn.Sequential(first, torch.nn.ReLU(), torch.nn.Dropout(0.2), second)
    optimizer = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        order = torch.randperm(len(yt), generator=generator)
        for i in range(0, len(yt), 256):
            batch = order[i : i + 256]
            loss = torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch], weight=class_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():  # the input scale folded into the first layer
        return second.weight.numpy().copy(), second.bias.numpy().copy(), INPUT_SCALE * first.weight.numpy(), first.bias.numpy().copy()


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    return fit_mlp(x, y) if HIDDEN else fit(x, y)


def train(folds: int = 5) -> tuple[Classifier, Neighbours, dict[str, float]]:
    """Fit on all exemplars; pick each class's threshold by cross-validation. Returns the model, its
    exemplar vectors for the nearest-exemplar check, and the cross-validated recall / false-positive rate at those thresholds."""
    texts, y = load_exemplars()
    x = embed(texts)
    order = np.random.default_rng(0).permutation(len(y))
    held_out = np.zeros((len(y), len(CLASSES)))
    for k in range(folds):
        test = order[k::folds]
        train_mask = np.ones(len(y), bool)
        train_mask[test] = False
        weight, bias, *hidden = _fit(x[train_mask], y[train_mask])
        held_out[test] = Classifier(CLASSES, weight, bias, np.ones(len(CLASSES)), "", *hidden).probabilities(x[test])
    # Each harmful class gets the lowest threshold that refuses at most TARGET_FPR / 5 of the
    # held-out benign exemplars under its name: classes that look like harmless prompts
    # (copyright: "a yellow ... with red cheeks") need more confidence than violence does.
    benign = held_out[y == 0]
    allowed_refusals = int(TARGET_FPR / (len(CLASSES) - 1) * len(benign))
    thresholds = np.ones(len(CLASSES))
    for c in range(1, len(CLASSES)):
        scores = np.sort(benign[:, c])
        thresholds[c] = min(max(float(scores[len(scores) - 1 - allowed_refusals]) + 1e-4, MIN_THRESHOLD), MAX_THRESHOLD)
    refused = (held_out[:, 1:] >= thresholds[1:]).any(axis=1)
    stats = {"cv_recall": float(refused[y > 0].mean()), "cv_fpr": float(refused[y == 0].mean()), "exemplars": float(len(y)),
             **{f"threshold_{CLASSES[c]}": float(thresholds[c]) for c in range(1, len(CLASSES))}}
    weight, bias, *hidden = _fit(x, y)
    return Classifier(CLASSES, weight, bias, thresholds, exemplar_hash(), *hidden), Neighbours.build(x, y, exemplar_hash()), stats


@dataclass(frozen=True)
class Neighbours:
    vectors: np.ndarray  # (N, 768) int8, each row a unit vector times 127
    labels: np.ndarray  # (N,) class index
    exemplar_hash: str

    def nearest(self, pooled: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """(B, 768) unit vectors -> (B, k) class indices of the k most similar exemplars."""
        return self.nearest_with_similarity(pooled, k)[0]

    @cached_property
    def units(self) -> np.ndarray:
        """(768, N) float32 exemplar vectors, converted once (not on every prompt)."""
        return self.vectors.T.astype(np.float32) / 127.0

    def nearest_with_similarity(self, pooled: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, 768) unit vectors -> (B, k) class indices and cosines of the k most similar exemplars."""
        similarity = pooled @ self.units
        order = np.argsort(-similarity, axis=1)[:, :k]
        return self.labels[order].astype(int), np.take_along_axis(similarity, order, axis=1)

    def vote(self, pooled: np.ndarray, k: int = VOTERS, similarity: float = VOTE_SIMILARITY) -> np.ndarray:
        """(B,) the harmful class all k nearest exemplars share at a mean cosine >= `similarity`, else 0."""
        return unanimous_class(*self.nearest_with_similarity(pooled, k), similarity)

    @staticmethod
    def build(x: np.ndarray, y: np.ndarray, exemplar_hash: str) -> Neighbours:
        return Neighbours(np.clip(np.rint(x * 127), -127, 127).astype(np.int8), y.astype(np.int8), exemplar_hash)

    def save(self, path: Path) -> None:
        np.savez_compressed(path, vectors=self.vectors, labels=self.labels, exemplar_hash=np.array(self.exemplar_hash))

    @staticmethod
    def load(path: Path) -> Neighbours:
        with np.load(path) as data:
            return Neighbours(data["vectors"], data["labels"], str(data["exemplar_hash"]))


def unanimous_class(labels: np.ndarray, cosines: np.ndarray, similarity: float = VOTE_SIMILARITY) -> np.ndarray:
    """(B,) the class all given neighbours (B, k) share at a mean cosine >= `similarity`, else 0."""
    unanimous = (labels == labels[:, :1]).all(axis=1) & (cosines.mean(axis=1) >= similarity)
    return np.where(unanimous, labels[:, 0], 0)


@lru_cache(maxsize=1)
def load_neighbours() -> Neighbours:
    if not NEIGHBOURS_PATH.exists():
        raise RuntimeError(f"the exemplar vectors {NEIGHBOURS_PATH} are missing; rebuild them with: python -m kinema.safety.semantic")
    return Neighbours.load(NEIGHBOURS_PATH)


@lru_cache(maxsize=1)
def load_classifier() -> Classifier:
    if not CLASSIFIER_PATH.exists():
        raise RuntimeError(f"the semantic classifier {CLASSIFIER_PATH} is missing; train it with: python -m kinema.safety.semantic")
    return Classifier.load(CLASSIFIER_PATH)


@lru_cache(maxsize=4096)
def benign_probability(text: str) -> float:
    """The classifier's probability that `text` is harmless (1.0 for a prompt that is all
    allow-listed phrases). `kinema.safety.prompt` reads a contextual lexicon word in its harmless
    sense when this is at least `SURE_BENIGN`."""
    readable = without_allowed(text)
    if not readable:
        return 1.0
    return float(load_classifier().probabilities(embed([readable]))[0, 0])


@lru_cache(maxsize=4096)
def classify(text: str) -> tuple[str | None, float]:
    """(category or None, probability) for one prompt: the harmful class that passes its threshold
    with the highest probability (or the most probable harmful class when "benign" is below
    `SURE_HARMFUL`), else None and the highest harmful probability."""
    model = load_classifier()
    readable = without_allowed(text)
    if not readable:
        return None, 0.0
    pooled = embed([readable])
    p = model.probabilities(pooled)[0]
    over = [c for c in range(1, len(p)) if p[c] >= model.threshold[c]]
    best = max(over, key=lambda c: p[c]) if over else int(np.argmax(p[1:])) + 1
    if not over and p[0] < SURE_HARMFUL:
        over = [best]  # harmful for sure, whichever class it is
    # One nearest-exemplar search serves both checks (the first NEIGHBOURS and the first VOTERS).
    labels, cosines = load_neighbours().nearest_with_similarity(pooled, max(NEIGHBOURS, VOTERS))
    if over and int(np.sum(labels[0, :NEIGHBOURS] == 0)) * 2 > NEIGHBOURS:
        over = []  # its nearest exemplars are mostly benign: the boundary, not the prompt, is wrong
    if not over:
        voted = int(unanimous_class(labels[:, :VOTERS], cosines[:, :VOTERS])[0])
        if voted:  # a paraphrase the linear boundary misses, surrounded by exemplars of one harmful class
            return model.classes[voted], float(p[voted])
    return (model.classes[best] if over else None), float(p[best])


if __name__ == "__main__":
    classifier, neighbours, cv = train()
    classifier.save(CLASSIFIER_PATH)
    neighbours.save(NEIGHBOURS_PATH)
    print(f"wrote {CLASSIFIER_PATH} ({CLASSIFIER_PATH.stat().st_size // 1024} KB) and {NEIGHBOURS_PATH.name} "
          f"({NEIGHBOURS_PATH.stat().st_size // 1024} KB); cross-validation (classifier alone): "
          + ", ".join(f"{k} {v:.3f}" for k, v in cv.items()))
