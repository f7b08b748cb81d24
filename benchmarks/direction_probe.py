"""Does the model move an object the way the prompt says? Left, right, up and down, from pixels.

    python benchmarks/direction_probe.py weights/kinema-tiny [world ...] [--seeds 4] [--frames 17]
        [--guidance 5 9 14] [--start center|far|near]

For each source (a weights folder, or `world` for the world's own renders of the same prompts,
which must score 1.0 and so check the probe itself): "A large red square/circle in the center
slides to the left / to the right / up / down ..." as 64x64 clips, `--seeds` seeds each (20
steps, CFG 5 or each `--guidance` in turn). `--start` says where the prompt puts the object:
`center`; `far`, the side away from the asked way ("on the right slides to the left"), as the
world's captions of long slides read; or `near`, the side it heads to, a control (the world's
slide must stay in frame, so its own renders barely move: a model that moves away from the named
place shows it as a high `opposite`). The red pixels' centre is tracked frame by frame
(benchmarks/position_probe.py); a line fitted to it over the first visible run gives the object's
velocity. Prints, as JSON lines:
- `moving`: the share of clips whose object travels at least 5% of the frame over the clip;
- `asked_way`: the share that moves within 45 degrees of the asked direction (a clip with no
  red object, or one that stands still, counts as a miss; chance for a random direction: 1/4);
- `opposite`: the share that moves within 45 degrees of the opposite direction;
- `per_way`: per asked direction, the share moving the asked way and the mean (dx, dy) travelled
  over the clip, in frame widths and heights (a model that follows the words has means pointing
  the asked way);
- `seed_agreement`: the mean cosine between the travels of clips that share a seed and a shape but
  were asked different ways: near 1 when the starting noise, not the prompt, sets the direction,
  near -1/3 when the four asked ways are followed.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
from position_probe import red_centre

from kinema.world.palette import OPPOSITE

WAYS = {"left": ("to the left", (-1.0, 0.0)), "right": ("to the right", (1.0, 0.0)),
        "up": ("up", (0.0, -1.0)), "down": ("down", (0.0, 1.0))}
MIN_TRAVEL = 0.05  # of the frame over the clip: less is standing still
WITHIN = math.cos(math.radians(45))


# Where the object starts: the center; the far side from the asked way, as the world placed every
# long slide (room to move) and so as its training captions of slides read; or the near side.
SIDES = {"left": "on the left", "right": "on the right", "up": "at the top", "down": "at the bottom"}
STARTS = {"center": {way: "in the center" for way in WAYS},
          "far": {way: SIDES[OPPOSITE[way]] for way in WAYS},
          "near": SIDES}


def prompt_for(shape: str, way: str, start: str = "center") -> str:
    return (f"A large red {shape} {STARTS[start][way]} slides {WAYS[way][0]}. "
            "The background is black and there is no floor. The camera does not move.")


def travel(frames: list[np.ndarray]) -> tuple[float, float] | None:
    """(dx, dy) over the whole clip from a line fitted to the red centre's first visible run (None: never seen twice)."""
    run: list[tuple[int, tuple[float, float]]] = []
    for index, frame in enumerate(frames):
        centre = red_centre(frame)
        if centre is None:
            if run:
                break  # left the frame: later sightings may be another blob
            continue
        run.append((index, centre))
    if len(run) < 2:
        return None
    t = np.array([i for i, _ in run], dtype=float)
    xy = np.array([c for _, c in run])
    slope = np.polyfit(t, xy, 1)[0]  # per frame, (x, y)
    span = len(frames) - 1
    return float(slope[0] * span), float(slope[1] * span)


def classify(moved: tuple[float, float] | None, way: str) -> tuple[bool, bool, bool]:
    """(moving, the asked way, the opposite way) of one clip's travel."""
    if moved is None or math.hypot(*moved) < MIN_TRAVEL:
        return False, False, False
    cosine = float(np.dot(moved, WAYS[way][1]) / math.hypot(*moved))
    return True, cosine >= WITHIN, cosine <= -WITHIN


def _clip_maker(source: str, frames: int, guidance: float = 5.0):
    if source == "world":
        from kinema.world import parse_prompt, place, render

        return lambda prompt, seed: list(render(place(parse_prompt(prompt, frames=frames), rng=seed)).frames)
    from kinema.pipeline import Pipeline
    from kinema.safety import SafetySettings

    pipe = Pipeline.from_pretrained(source)
    off = SafetySettings.off("prompt", "frames", "watermark")  # an internal measurement of fixed, harmless prompts
    return lambda prompt, seed: [np.asarray(f) for f in pipe.generate(prompt, frames=frames, seed=seed, guidance=guidance,
                                                                    safety=off).frames]


def seed_agreement(travels: dict[tuple[str, str, int], tuple[float, float] | None]) -> float | None:
    """Mean cosine between moving clips of one shape and seed asked different ways."""
    cosines = []
    for (way, shape, seed), a in travels.items():
        for (other, shape2, seed2), b in travels.items():
            if other > way and (shape2, seed2) == (shape, seed) and a is not None and b is not None \
                    and min(math.hypot(*a), math.hypot(*b)) >= MIN_TRAVEL:
                cosines.append(float(np.dot(a, b) / (math.hypot(*a) * math.hypot(*b))))
    return round(float(np.mean(cosines)), 3) if cosines else None


def probe(source: str, seeds: int, frames: int = 17, guidance: float = 5.0, start: str = "center") -> dict:
    make = _clip_maker(source, frames, guidance)
    travels = {(way, shape, seed): travel(make(prompt_for(shape, way, start), seed))
               for way in WAYS for shape in ("square", "circle") for seed in range(seeds)}
    verdicts = {key: classify(moved, key[0]) for key, moved in travels.items()}
    per_way = {}
    for way in WAYS:
        moves = [moved for key, moved in travels.items() if key[0] == way and moved is not None]
        per_way[way] = {"asked_way": round(float(np.mean([v[1] for k, v in verdicts.items() if k[0] == way])), 3),
                        "mean_travel": [round(float(v), 3) for v in np.mean(moves, axis=0)] if moves else None}
    share = lambda i: round(float(np.mean([v[i] for v in verdicts.values()])), 3)  # noqa: E731
    return {"source": source, "clips": len(travels), "frames": frames, "guidance": guidance, "start": start, "moving": share(0), "asked_way": share(1),
            "opposite": share(2), "seed_agreement": seed_agreement(travels), "per_way": per_way}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", help="weights folders (dit*, vae*), or `world` for exact renders")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per direction and shape (default 4)")
    parser.add_argument("--frames", type=int, default=17, help="frames per clip, 1 + 4k with k >= 1 (default 17)")
    parser.add_argument("--guidance", type=float, nargs="+", default=[5.0],
                        help="classifier-free guidance scales to probe, each in turn (default 5)")
    parser.add_argument("--start", choices=sorted(STARTS), default="center",
                        help="where the prompt starts the object: center (default); far: the side away from the "
                             "asked way, as the world's training captions of slides read; near: the side it heads to "
                             "(the world's slide must stay in frame, so its renders barely move: a control "
                             "whose `opposite` share says whether a model moves away from the named place)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds} must be at least 1")
    if args.frames < 5 or (args.frames - 1) % 4:
        parser.error(f"--frames {args.frames} must be 1 + 4k with k >= 1 (5, 9, 17, 33, ...)")
    if any(g < 1 for g in args.guidance):
        parser.error(f"--guidance {args.guidance} must be at least 1 each (1 is no guidance)")
    for source in args.sources:
        for guidance in (args.guidance if source != "world" else [args.guidance[0]]):
            print(json.dumps(probe(source, args.seeds, args.frames, guidance, args.start)), flush=True)


if __name__ == "__main__":
    main()
