"""The KinemaBench prompt suite: fixed, seeded, versioned, stored as JSON in the package.

Contract:
- `load_suite(name="kinemabench-v1", subset=None)` returns the frozen `Suite` (entries in a fixed
  order); `subset="ci"` gives the small CI subset. Scores are only comparable within one suite
  name: a suite file never changes once released; a new one gets a new name.
- Each `SuiteEntry` holds the prompt text, its canvas and frame count, the seed to generate with,
  the focus group it was drawn for, `spec` (the prompt parsed into a scene, frozen at build time,
  so scoring does not shift when the parser changes) and `reference` (the placed world scene the
  caption was written from, rendered for the ceiling; never shown to a model).
- `packaged_calibration(name)`: the ceiling and floor summaries measured on the whole suite when
  it was released (`kinema eval calibrate`), shown beside a model when no fresher one is given.
- `build_suite(name)` regenerates a suite from seeded world scenes and the world's captioner
  (`python -m kinema.eval.suite` writes the file). It is how v1 was made; it is not called at
  scoring time.

Groups: each focuses one or two categories (all categories that apply are still scored).
Trails are left out: a trail is an object-colored line joined to its object, which the pixel
analysis cannot yet separate from the object.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from kinema.world.scene import Scene

DATA = Path(__file__).parent / "data"
DEFAULT_SUITE = "kinemabench-v1"
SIZES = ((64, 64), (96, 64), (64, 96), (112, 64))
# group -> (distribution overrides, frame choices, prompts per group)
GROUPS: dict[str, tuple[dict[str, Any], tuple[int, ...], int]] = {
    "appearance": ({"motions": ("still",), "min_objects": 1, "max_objects": 3}, (1, 17, 33), 48),
    "motion": ({"motions": ("slide", "enter", "exit", "return"), "max_objects": 2}, (17, 33), 48),
    "physics": ({"motions": ("bounce", "fall", "throw"), "max_objects": 2}, (17, 33), 48),
    "spin": ({"motions": ("spin",), "max_objects": 2}, (17, 33), 32),
    "grow_shrink": ({"motions": ("grow", "shrink"), "max_objects": 2}, (17, 33), 32),
    "camera": ({"motions": ("still", "slide"), "max_objects": 2, "p_camera": 1.0}, (17, 33), 40),
    "identity": ({"motions": ("still", "slide", "bounce", "spin"), "max_objects": 2, "p_multishot": 1.0}, (33,), 32),
    "causality": ({"motions": ("still", "slide"), "min_objects": 2, "max_objects": 2, "p_interaction": 1.0}, (17, 33), 40),
}
CI_PER_GROUP = 3  # the CI subset: the shortest entries of each group, in suite order


@dataclass(frozen=True)
class SuiteEntry:
    id: str
    group: str
    prompt: str
    width: int
    height: int
    frames: int
    seed: int
    spec: dict[str, Any]  # parse_prompt(prompt) at build time
    reference: dict[str, Any]  # the placed scene the prompt describes

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def spec_scene(self) -> Scene:
        return Scene.from_dict(self.spec)

    def reference_scene(self) -> Scene:
        return Scene.from_dict(self.reference)


@dataclass(frozen=True)
class Suite:
    name: str
    entries: tuple[SuiteEntry, ...]

    def subset(self, name: str | None) -> Suite:
        if name in (None, "all"):
            return self
        if name == "ci":
            picked: list[SuiteEntry] = []
            for group in GROUPS:
                mine = [e for e in self.entries if e.group == group]
                picked.extend(sorted(mine, key=lambda e: e.frames)[:CI_PER_GROUP])  # shortest: fast
            return Suite(f"{self.name}/ci", tuple(picked))
        if name in GROUPS:
            return Suite(f"{self.name}/{name}", tuple(e for e in self.entries if e.group == name))
        raise ValueError(f"suite subset {name!r} is unknown; use all, ci or a group: {', '.join(GROUPS)}")


def suite_path(name: str) -> Path:
    return DATA / f"{name}.json"


def load_suite(name: str = DEFAULT_SUITE, subset: str | None = None) -> Suite:
    """The frozen suite `name` (a packaged name or a path to a suite JSON), optionally a subset."""
    path = Path(name) if name.endswith(".json") else suite_path(name)
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(DATA.glob("*.json")) if not p.stem.endswith("-calibration")) or "none"
        raise ValueError(f"suite {name!r} not found; packaged suites: {known}")
    data = json.loads(path.read_text())
    entries = tuple(SuiteEntry(**e) for e in data["entries"])
    return Suite(data["name"], entries).subset(subset)


def packaged_calibration(name: str = DEFAULT_SUITE) -> dict[str, Any] | None:
    """The stored `kinema eval calibrate` summary of a packaged suite (ceiling and floors), if any."""
    path = DATA / f"{name.split('/')[0]}-calibration.json"
    return json.loads(path.read_text()) if path.exists() else None


def _strip_trails(scene: Scene) -> Scene:
    return scene.with_(objects=tuple(replace(o, trail=False) for o in scene.objects))


def build_suite(name: str = DEFAULT_SUITE, seed: int = 2026) -> Suite:
    """Draw the suite from seeded world scenes and their detailed captions (see module doc)."""
    from kinema.world.caption import detailed_caption
    from kinema.world.parse import parse_prompt
    from kinema.world.sample import DISTRIBUTIONS, sample_scene

    rng = np.random.default_rng(seed)
    entries: list[SuiteEntry] = []
    for group, (overrides, frame_choices, count) in GROUPS.items():
        dist = replace(DISTRIBUTIONS["full"], p_trail=0.0, p_camera=0.0, p_multishot=0.0, p_interaction=0.0)
        dist = replace(dist, **overrides)
        made = 0
        while made < count:
            width, height = SIZES[made % len(SIZES)]
            frames = frame_choices[(made // len(SIZES)) % len(frame_choices)]
            scene_seed = int(rng.integers(2**31))
            scene = _strip_trails(sample_scene(scene_seed, dist, width=width, height=height, frames=frames))
            prompt = detailed_caption(scene, np.random.default_rng(scene_seed))
            try:
                spec = parse_prompt(prompt, width=width, height=height, frames=frames)
            except ValueError:
                continue  # the captioner and parser disagree on this one: leave it out
            entries.append(
                SuiteEntry(
                    id=f"{group}-{made:03d}",
                    group=group,
                    prompt=prompt,
                    width=width,
                    height=height,
                    frames=frames,
                    seed=scene_seed % 10_000,
                    spec=spec.to_dict(),
                    reference=scene.to_dict(),
                )
            )
            made += 1
    return Suite(name, tuple(entries))


def write_suite(suite: Suite, path: Path | None = None) -> Path:
    path = path or suite_path(suite.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": suite.name, "entries": [asdict(e) for e in suite.entries]}
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return path


if __name__ == "__main__":  # python -m kinema.eval.suite [name]: regenerate a suite file
    print(write_suite(build_suite(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SUITE)))
