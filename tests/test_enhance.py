"""Prompt enhancement: short prompts become detailed captions the parser reads back the same."""

import pytest

from kinema.text.enhance import enhance
from kinema.world import parse_prompt, scene_facts


def facts_without_placement(prompt: str) -> list[tuple]:
    return [(o["color"], o["shape"], o["motion"]) for o in scene_facts(parse_prompt(prompt))["objects"]]


@pytest.mark.parametrize("short", ["red ball", "a crimson ball bouncing right", "lime wedge spins clockwise, camera pans left",
                                   "two blue boxes sliding left on a night background"])
def test_short_prompt_expands_to_a_caption_that_keeps_its_meaning(short: str) -> None:
    result = enhance(short)
    assert result.changed and result.unknown_words == [] and result.problem is None
    assert len(result.text.split()) > len(short.split()) and "camera" in result.text.lower()
    assert facts_without_placement(result.text) == facts_without_placement(short)


def test_synonyms_are_understood() -> None:
    assert "red circle" in enhance("a scarlet ball").text
    assert "cyan" in enhance("a turquoise box").text


def test_same_prompt_same_enhancement() -> None:
    assert enhance("blue box sliding left") == enhance("blue box sliding left")


def test_detailed_prompt_is_kept() -> None:
    detailed = ("A small red circle starts on the left and bounces toward the right across a black background "
                "with a gray floor. The camera is still.")
    result = enhance(detailed)
    assert not result.changed and result.text == detailed


def test_unknown_words_are_listed() -> None:
    result = enhance("a red ball bouncing happily in the sunshine")
    assert result.changed and result.unknown_words == ["happily", "sunshine"]
    assert "happily" in result.describe() and "red circle" in result.text
    orb = enhance("a scarlet orb bouncing right")
    assert orb.unknown_words == ["orb"] and "red circle" in orb.text


def test_what_the_world_cannot_show_is_kept_with_the_reason() -> None:
    cat = enhance("a cat")
    assert not cat.changed and cat.text == "a cat" and cat.unknown_words == ["cat"] and "names no object" in cat.problem
    spin = enhance("a spinning circle")
    assert not spin.changed and "cannot visibly spin" in spin.problem


def test_empty_prompt_is_an_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        enhance("   ")
