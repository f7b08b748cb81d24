"""Prompt enhancement: short user prompts -> the detailed caption style the model is trained on.

Contract: `enhance(prompt, size=, frames=) -> Enhanced(text, unknown_words, changed, problem)`.
- The prompt is read leniently with the world's grammar (`parse_prompt_lenient`: synonyms,
  word order, numbers as words of shared/WORLD.md), the scene is placed with a fixed seed (so
  the same prompt always gives the same enhancement) and written out by `detailed_caption`
  (canonical wording): sizes, colors, shapes, start positions, motions, background, floor,
  camera and shots, as in the training captions.
- `unknown_words` lists every word the grammar could not use, so the user sees what was dropped.
- A prompt that already is detailed (it names sizes, a background and the camera, and every word
  is known) is kept as written (`changed=False`): the model reads it as it is.
- Known attributes with an unknown noun ("a scarlet orb") read the noun as the world's shapeless
  "object" (a circle); the noun is still listed as unknown.
- A prompt the world cannot show (no object, a spinning circle, four objects) is kept as written
  with `problem` saying why: enhancement never fails generation; moderation and the model decide.
Pure text: no model, no randomness beyond the fixed placement seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kinema.text.prompt import check_prompt
from kinema.world.caption import detailed_caption
from kinema.world.grammar import PromptError, tokenize
from kinema.world.parse import parse_prompt_lenient
from kinema.world.sample import place

PLACEMENT_SEED = 0  # fixed: one prompt, one enhancement
# What a detailed caption always states; a prompt stating all of them is not expanded.
DETAILED_KINDS = frozenset({"SIZE", "BG", "CAMERA"})


@dataclass(frozen=True)
class Enhanced:
    text: str  # what the model is given
    unknown_words: list[str] = field(default_factory=list)  # words the grammar could not use
    changed: bool = False  # False: the prompt is passed on as written
    problem: str | None = None  # why it could not be expanded, when it could not

    def describe(self) -> str:
        """A line for the user: what the model gets and which words it did not use."""
        lines = [f"enhanced prompt: {self.text}" if self.changed else f"prompt kept as written: {self.text}"]
        if self.unknown_words:
            lines.append("words not used (outside Kinema's world): " + ", ".join(self.unknown_words))
        if self.problem:
            lines.append(f"not expanded: {self.problem}")
        return "\n".join(lines)


def enhance(prompt: str, size: tuple[int, int] = (64, 64), frames: int = 33) -> Enhanced:
    """Expand `prompt` for a `size` (width, height) canvas and `frames` frames (see module doc)."""
    check_prompt(prompt)
    text = " ".join(prompt.split())
    tokens, unknown = tokenize(text)
    unknown = list(dict.fromkeys(unknown))
    width, height = size
    try:
        result = parse_prompt_lenient(text, width=width, height=height, frames=frames)
    except PromptError as error:
        if not unknown or "describes no object" not in str(error):
            return Enhanced(text, unknown, False, str(error))
        # "a scarlet orb": the attributes are known and the noun is not, so read the unknown
        # nouns as the world's shapeless "object" (a circle), and still list them as unused.
        known = " ".join("object" if w in unknown else w for w in text.split())
        try:
            result = parse_prompt_lenient(known, width=width, height=height, frames=frames)
        except PromptError:
            return Enhanced(text, unknown, False, str(error))
    if not unknown and DETAILED_KINDS <= {t.kind for t in tokens}:
        return Enhanced(text, [], False)
    caption = detailed_caption(place(result.scene, PLACEMENT_SEED))
    return Enhanced(caption, unknown, caption != text)
