"""Does the model put an object where the prompt says? Left, center and right, from pixels.

    python benchmarks/position_probe.py weights/kinema-tiny [runs/other-weights ...] [--seeds 8]
        [--sheet probe.png]

For each weights folder: "A large red square/circle sits still on the left / in the center / on
the right ..." as single 64x64 images, `--seeds` seeds each (20 steps, CFG 5). The red pixels'
centre gives the object's x (0 = left edge, 1 = right edge). Prints, as JSON, the share of images
whose object lies in the asked third (chance is 1/3; an image with no red object counts as a miss),
the share that shows a red object at all (`visible`), and the mean x per asked side: a model that
follows "left" and "right" has means near 1/6, 1/2 and 5/6, one that ignores them has three equal
means. `--sheet` saves every image, one row per weights folder and asked side, for the eye.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SIDES = (("left", "on the left", 0.0, 1 / 3), ("center", "in the center", 1 / 3, 2 / 3), ("right", "on the right", 2 / 3, 1.0))


def red_centre(frame: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of the centre of the clearly red pixels, as fractions of the width and height (None: no red object)."""
    f = frame.astype(float)
    red = (f[..., 0] > 150) & (f[..., 1] < 90) & (f[..., 2] < 90)
    if red.sum() <= 5:
        return None
    ys, xs = np.nonzero(red)
    return float(xs.mean() / f.shape[1]), float(ys.mean() / f.shape[0])


def red_centre_x(frame: np.ndarray) -> float | None:
    """x of the centre of the clearly red pixels, as a fraction of the width (None: no red object)."""
    centre = red_centre(frame)
    return None if centre is None else centre[0]


def probe(weights: str, seeds: int) -> dict:
    from kinema.pipeline import Pipeline
    from kinema.safety import SafetySettings

    pipe = Pipeline.from_pretrained(weights)
    off = SafetySettings.off("prompt", "frames", "watermark")  # an internal measurement of fixed, harmless prompts
    hits, seen, mean_x, rows = [], [], {}, []
    for side, words, lo, hi in SIDES:
        xs, row = [], []
        for shape in ("square", "circle"):
            for seed in range(seeds):
                prompt = f"A large red {shape} sits still {words}. The background is black and there is no floor. The camera does not move."
                frame = np.asarray(pipe.generate(prompt, frames=1, seed=seed, safety=off).frames[0])
                row.append(frame)
                x = red_centre_x(frame)
                hits.append(x is not None and lo <= x < hi)
                seen.append(x is not None)
                if x is not None:
                    xs.append(x)
        mean_x[side] = round(float(np.mean(xs)), 3) if xs else None
        rows.append((f"{weights}: {words}", row))
    return {"weights": weights, "images": len(hits), "in_asked_third": round(float(np.mean(hits)), 3),
            "visible": round(float(np.mean(seen)), 3), "mean_x": mean_x, "rows": rows}


def contact_sheet(rows: list[tuple[str, list[np.ndarray]]], path: Path, scale: int = 2) -> None:
    """One labelled row of images per (weights, side); thirds marked so a miss is plain to see."""
    from PIL import Image, ImageDraw

    height, width = rows[0][1][0].shape[:2]
    cell_w, cell_h, label_h, gap = width * scale, height * scale, 14, 2
    columns = max(len(images) for _, images in rows)
    sheet = Image.new("RGB", (columns * (cell_w + gap), len(rows) * (cell_h + label_h + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (label, images) in enumerate(rows):
        top = r * (cell_h + label_h + gap)
        draw.text((2, top + 1), label, fill="black")
        for c, image in enumerate(images):
            left = c * (cell_w + gap)
            sheet.paste(Image.fromarray(image).resize((cell_w, cell_h), Image.NEAREST), (left, top + label_h))
            for third in (1, 2):
                x = left + third * cell_w // 3
                draw.line([(x, top + label_h), (x, top + label_h + cell_h - 1)], fill=(90, 90, 90))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", help="weights folders (dit*, vae*)")
    parser.add_argument("--seeds", type=int, default=8, help="seeds per side and shape (default 8)")
    parser.add_argument("--sheet", type=Path, help="also save every image to this PNG (rows: weights x side)")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds} must be at least 1")
    if args.sheet is not None and args.sheet.suffix.lower() != ".png":
        parser.error(f"--sheet {args.sheet} must end in .png")
    rows = []
    for weights in args.weights:
        result = probe(weights, args.seeds)
        rows += result.pop("rows")
        print(json.dumps(result))
    if args.sheet is not None:
        contact_sheet(rows, args.sheet)
        print(f"images: {args.sheet}")


if __name__ == "__main__":
    main()
