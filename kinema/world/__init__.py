"""Kinema's procedural, physically exact training and test world (contract: shared/WORLD.md).

    >>> from kinema.world import parse_prompt, place, render, detailed_caption
    >>> scene = place(parse_prompt("a small red ball bounces to the right"), rng=0)
    >>> clip = render(scene)            # clip.frames: uint8 (33, 64, 64, 3); clip.truth: per-frame ground truth
    >>> detailed_caption(scene)

Modules: palette (colors, shapes, sizes, synonyms), scene (specs), physics (trajectories),
render (pixels + ground truth), sample (random scenes, placement), caption (captions, scene facts),
grammar / parse / drafts (prompt -> scene).
"""

from kinema.world.caption import detailed_caption, scene_facts, short_caption
from kinema.world.grammar import PromptError, vocabulary
from kinema.world.parse import parse_prompt, parse_prompt_lenient
from kinema.world.render import Clip, GroundTruth, render
from kinema.world.sample import DISTRIBUTIONS, SceneDistribution, place, sample_scene
from kinema.world.scene import Camera, Interaction, ObjectSpec, Scene, Shot

__all__ = [
    "DISTRIBUTIONS", "Camera", "Clip", "GroundTruth", "Interaction", "ObjectSpec", "PromptError", "Scene",
    "SceneDistribution", "Shot", "detailed_caption", "parse_prompt", "parse_prompt_lenient", "place", "render",
    "sample_scene", "scene_facts", "short_caption", "vocabulary",
]
