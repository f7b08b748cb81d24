"""Plot the shipped model's KinemaBench learning curve against training hours, for the model card.

    python benchmarks/plot_bench_curve.py [weights/kinema-tiny/bench_curve.json] [-o weights/kinema-tiny/bench_curve.png]

The JSON lists each shipped DiT step's KinemaBench summary (overall and the issue's target
categories) with the hours of training that led to it and the hardware (`cpu` or `gpu`), plus the
world's ceiling, the shuffled floor and the targets. One panel per score: the curve against
cumulative hours, the ceiling (solid) and target (dashed) beside it, the floor dotted, and the
stretches trained on a GPU shaded (an H200 hour does what ~100 CPU hours would).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SCORES = ("overall", "color", "shape", "position", "direction")


def load_curve(path: Path) -> dict:
    """The curve file, checked: every point has hours > 0, a known hardware and every score."""
    data = json.loads(Path(path).read_text())
    for key in ("points", "ceiling", "floor_shuffled", "targets"):
        if key not in data:
            raise ValueError(f"{path}: no {key!r} entry")
    for i, point in enumerate(data["points"]):
        missing = [k for k in ("step", "hours", "hardware", *SCORES) if k not in point]
        if missing:
            raise ValueError(f"{path}: point {i} lacks {', '.join(missing)}")
        if point["hours"] <= 0 or point["hardware"] not in ("cpu", "gpu"):
            raise ValueError(f"{path}: point {i} needs hours > 0 and hardware 'cpu' or 'gpu' (got {point['hours']}, {point['hardware']!r})")
    return data


def cumulative_hours(points: list[dict]) -> list[float]:
    total, out = 0.0, []
    for point in points:
        total += point["hours"]
        out.append(total)
    return out


def plot(data: dict, out: Path) -> None:
    points = data["points"]
    hours = cumulative_hours(points)
    fig, axes = plt.subplots(1, len(SCORES), figsize=(3.2 * len(SCORES), 3.4), sharex=True)
    for ax, score in zip(axes, SCORES):
        for i, point in enumerate(points):
            if point["hardware"] == "gpu":
                ax.axvspan(hours[i] - point["hours"], hours[i], color="#f2c14e", alpha=0.35, lw=0)
        ax.plot(hours, [p[score] for p in points], "o-", color="#1f5fa8", label="shipped model")
        for p, h in zip(points, hours):
            ax.annotate(str(p["step"]), (h, p[score]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=6)
        ax.axhline(data["ceiling"][score], color="#2a9d4b", lw=1.2, label="world's ceiling")
        if score in data["targets"]:
            ax.axhline(data["targets"][score], color="#c0392b", lw=1, ls="--", label="target")
        ax.axhline(data["floor_shuffled"][score], color="gray", lw=1, ls=":", label="shuffled floor")
        ax.set_title(score)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0, hours[-1] * 1.05)
        ax.set_xlabel("hours of DiT training")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("KinemaBench score (320 prompts)")
    handles, labels = axes[1].get_legend_handles_labels()
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#f2c14e", alpha=0.35))
    labels.append("trained on one H200")
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("curve", nargs="?", type=Path, default=Path("weights/kinema-tiny/bench_curve.json"))
    parser.add_argument("-o", "--output", type=Path, default=Path("weights/kinema-tiny/bench_curve.png"))
    args = parser.parse_args()
    if args.output.suffix.lower() != ".png":
        parser.error(f"--output {args.output} must end in .png")
    plot(load_curve(args.curve), args.output)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
