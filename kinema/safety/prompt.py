"""Prompt moderation: refuse violence, sexual content, hate, real people and copyrighted work.

Contract: `moderate_prompt(text)` returns a frozen `Verdict`: `allowed`, the `category` refused
(one of `CATEGORIES`, or None), a `reason` a person can read (what was found and why Kinema
refuses it; never a bare "no"), and the `matched` words. Layers, first hit wins:

1. normalisation (`kinema.safety.normalize`): case, Unicode confusables, leetspeak, zero-width
   characters, spaced and punctuated letters, repeated letters;
2. category lexicons (`kinema.safety.lexicon`): whole words and phrases, with ambiguous words
   ("shoot", "kill") refused only when aimed at a living target; and roles that name one real
   person (`kinema.safety.roles`: "the russian president", "the 44th president", "the lead singer
   of <band>"). Violence and sexual words, and names marked as common phrases, are contextual:
   when the semantic classifier is sure the whole prompt is harmless (`SURE_BENIGN`), they are
   read in their harmless sense ("a rugby hooker throws the ball in", "her queen goes in for the kill");
3. the semantic classifier (`kinema.safety.semantic`) on the encoder's sentence vector, for
   paraphrases no list holds. `semantic=False` skips it (no encoder load; lexicons only).

The world's own prompts pass: "a small red ball hits a blue box and pushes it to the right",
"the red ball kills its speed as it lands", "a cube explodes into confetti", "shoot a video of a
sunset". Verdicts are cached per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from kinema.safety.lexicon import CATEGORIES, find_terms
from kinema.safety.roles import find_roles

WHY: dict[str, str] = {
    "violence": "Kinema does not generate violence or gore against people or animals",
    "sexual": "Kinema does not generate nudity or sexual content",
    "hate": "Kinema does not generate hate, harassment or content that demeans people or groups",
    "real_person": "Kinema does not generate the likeness of real people",
    "copyright": "Kinema does not reproduce copyrighted characters, logos or brands",
}
WHAT: dict[str, str] = {
    "violence": "violence",
    "sexual": "sexual content",
    "hate": "hate or harassment",
    "real_person": "a real person",
    "copyright": "a copyrighted character or brand",
}
MAX_PROMPT_CHARS = 4000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    category: str | None = None  # one of CATEGORIES when refused
    reason: str = "allowed: no harmful content found"
    matched: list[str] = field(default_factory=list)  # the prompt's words that triggered the refusal

    def to_dict(self) -> dict[str, object]:
        return {"allowed": self.allowed, "category": self.category, "reason": self.reason, "matched": list(self.matched)}


def moderate_prompt(text: str, semantic: bool = True) -> Verdict:
    """Check one prompt; see the module docstring. Raises ValueError for a non-string prompt."""
    if not isinstance(text, str):
        raise ValueError(f"prompt must be a string, got {type(text).__name__}")
    return _moderate(text[:MAX_PROMPT_CHARS], semantic)


@lru_cache(maxsize=4096)
def _moderate(text: str, semantic: bool) -> Verdict:
    hits = sorted(find_terms(text) + find_roles(text), key=lambda h: CATEGORIES.index(h.category))
    overruled: list[str] = []
    harmless = 0.0
    if semantic and any(h.contextual for h in hits):
        from kinema.safety.semantic import SURE_BENIGN, benign_probability

        harmless = benign_probability(text)
        if harmless >= SURE_BENIGN:  # "a rugby hooker", "her queen goes in for the kill"
            overruled = list(dict.fromkeys(h.found for h in hits if h.contextual))
            hits = [h for h in hits if not h.contextual]
    if hits:
        category = hits[0].category
        found = list(dict.fromkeys(h.found for h in hits if h.category == category))
        quoted = ", ".join(f'"{w}"' for w in found)
        reason = f"the prompt asks for {WHAT[category]} ({quoted}); {WHY[category]}."
        return Verdict(False, category, reason, found)
    if semantic and text.strip():
        from kinema.safety.semantic import classify

        category, probability = classify(text)
        if category is not None:
            reason = (f"the prompt reads as a request for {WHAT[category]} (semantic classifier, "
                      f"confidence {probability:.2f}); {WHY[category]}.")
            return Verdict(False, category, reason, [])
    if overruled:  # say why a listed word did not refuse the prompt
        quoted = ", ".join(f'"{w}"' for w in overruled)
        return Verdict(True, reason=f"allowed: {quoted} read in its harmless sense (semantic classifier: harmless, "
                                    f"probability {harmless:.2f})")
    return Verdict(True)


