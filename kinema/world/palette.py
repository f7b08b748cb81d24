"""The world's fixed vocabulary: colors, backgrounds, shapes, sizes, with their synonyms.

This is the contract of shared/WORLD.md in code. The renderer, the captioner, the prompt parser
and the evaluator all read it from here, so a new color or shape is added in one place.
"""

from __future__ import annotations

# Object colors, exact RGB before any blur or compression.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 220, 40),
    "green": (40, 190, 70),
    "cyan": (40, 200, 220),
    "blue": (40, 80, 230),
    "purple": (150, 60, 210),
    "pink": (245, 120, 190),
    "white": (240, 240, 240),
}
COLOR_SYNONYMS: dict[str, tuple[str, ...]] = {
    "red": ("crimson", "scarlet"),
    "orange": ("amber",),
    "yellow": ("golden", "lemon"),
    "green": ("emerald", "lime"),
    "cyan": ("turquoise", "aqua", "teal"),
    "blue": ("azure", "cobalt", "navy blue"),
    "purple": ("violet", "lilac"),
    "pink": ("magenta", "rose"),
    "white": ("ivory", "snow-white"),
}

# Backgrounds are never object colors; each carries a faint texture so camera pans are visible.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "charcoal": (60, 60, 60),
    "night": (20, 25, 70),
    "forest": (20, 55, 30),
}
FLOOR_COLOR: tuple[int, int, int] = (120, 120, 120)
FLOOR_FRACTION = 1 / 8  # floor band height over canvas height

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("ball", "disc", "dot"),
    "square": ("box", "block", "cube"),
    "triangle": ("wedge",),
}

# Diameter or side over the shorter canvas side.
SIZES: dict[str, float] = {"small": 0.12, "medium": 0.18, "large": 0.28}

# Image directions: x grows to the viewer's right, y grows downward.
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-0.7071067811865476, -0.7071067811865476),
    "up-right": (0.7071067811865476, -0.7071067811865476),
    "down-left": (-0.7071067811865476, 0.7071067811865476),
    "down-right": (0.7071067811865476, 0.7071067811865476),
}
OPPOSITE: dict[str, str] = {"left": "right", "right": "left", "up": "down", "down": "up",
                             "up-left": "down-right", "down-right": "up-left", "up-right": "down-left", "down-left": "up-right"}
SPIN_DIRECTIONS: tuple[str, ...] = ("clockwise", "counterclockwise")


def allowed(values: object) -> str:
    """Comma-separated list of allowed values for error messages."""
    return ", ".join(str(v) for v in values)  # type: ignore[union-attr]
