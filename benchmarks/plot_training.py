"""Plot training curves from run logs (log.jsonl) against training hours, for the model card.

    python benchmarks/plot_training.py runs/vae/log.jsonl runs/dit/log.jsonl runs/stream/log.jsonl \
        --hardware "2 CPU cores" "2 CPU cores" "1 H200" -o weights/kinema-tiny/training.png

Each log gets one panel: the loss (and PSNR for the VAE) against wall-clock hours of training,
where gaps longer than 10 minutes (the run was stopped and resumed) are not counted. Logs of
`kinema train stream` carry their own training seconds, which are used as they are.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def training_hours(times: list[float], max_gap: float = 600.0) -> list[float]:
    """Cumulative hours of training, skipping pauses between a stop and a resume."""
    hours, total = [], 0.0
    for i, t in enumerate(times):
        if i:
            gap = t - times[i - 1]
            total += gap if gap < max_gap else 0.0
        hours.append(total / 3600)
    return hours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--hardware", nargs="*", default=[], help="What each log trained on (default: 2 CPU cores).")
    parser.add_argument("-o", "--output", type=Path, default=Path("training.png"))
    args = parser.parse_args()
    hardware = args.hardware + ["2 CPU cores"] * (len(args.logs) - len(args.hardware))
    fig, axes = plt.subplots(1, len(args.logs), figsize=(5 * len(args.logs), 3.6), squeeze=False)
    for ax, log, machine in zip(axes[0], args.logs, hardware):
        records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if "seconds" in records[0]:
            hours = [r["seconds"] / 3600 for r in records]
        else:
            hours = training_hours([r["time"] for r in records])
        ax.plot(hours, [r["loss"] for r in records], color="tab:blue", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel(f"training hours ({machine})")
        ax.set_ylabel("loss", color="tab:blue")
        ax.set_title(f"{log.parent.name}: {records[-1]['step']} steps")
        if "psnr" in records[0]:
            twin = ax.twinx()
            twin.plot(hours, [r["psnr"] for r in records], color="tab:orange", lw=1, alpha=0.7)
            twin.set_ylabel("batch PSNR (dB)", color="tab:orange")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
