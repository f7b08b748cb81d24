"""KinemaBench reports: a terminal table and a self-contained HTML page.

Contract:
- `table(results, calibration=None) -> rich.table.Table`: one row per category with the model's
  mean, and beside it the ceiling (world renders), the MP4 ceiling and the floors (noise, shuffled
  pairs) when a calibration is given; the last row is the overall mean.
- `html(results, calibration=None) -> str`: the same numbers as horizontal bars per category, and
  frame strips (PNG, base64-embedded) of the best and worst prompts when the results carry
  `examples` (`run_suite(..., keep_frames=n)`). No external assets: the file opens anywhere.
- `frame_strip_png(frames, count=8)`: up to `count` evenly spaced frames side by side, as a
  base64 PNG string.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
from typing import Any

import numpy as np
from PIL import Image
from rich.table import Table

from kinema.eval.expect import CATEGORIES

ROWS = (*CATEGORIES, "overall")
COLUMNS = (("ceiling", "ceiling"), ("ceiling_mp4", "ceiling mp4"), ("floor_noise", "floor noise"), ("floor_shuffled", "floor shuffled"))
BAR_COLORS = {"model": "#3b6fd8", "ceiling": "#2a9d55", "ceiling_mp4": "#7cc49a", "floor_noise": "#c0392b", "floor_shuffled": "#e39b7b"}


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(results: dict[str, Any], calibration: dict[str, Any] | None = None) -> Table:
    label = results.get("label", "model")
    out = Table(title=f"KinemaBench {results.get('suite', '')}: {label} ({results.get('count', 0)} prompts)")
    out.add_column("category")
    out.add_column(label, justify="right")
    present = [(key, name) for key, name in COLUMNS if calibration and key in calibration and key != label]
    for _, name in present:
        out.add_column(name, justify="right")
    summary = results.get("summary", {})
    for row in ROWS:
        out.add_row(row, _fmt(summary.get(row)), *(_fmt(calibration[key].get(row)) for key, _ in present))  # type: ignore[index]
    spv = results.get("seconds_per_video")
    if spv is not None:
        out.caption = f"scoring: {spv:.3f} s per video"
    return out


def frame_strip_png(frames: np.ndarray, count: int = 8, scale: int = 2) -> str:
    """Evenly spaced frames side by side, upscaled (nearest) for visibility, as base64 PNG."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    gap = np.full((frames.shape[1], 2, 3), 255, dtype=np.uint8)
    strip = np.concatenate([part for i in picks for part in (frames[i], gap)][:-1], axis=1)
    image = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar(value: float | None, color: str, name: str) -> str:
    if value is None:
        return f'<div class="bar"><span class="name">{name}</span><span class="na">n/a</span></div>'
    width = max(0.0, min(1.0, value)) * 100
    return (
        f'<div class="bar"><span class="name">{name}</span>'
        f'<span class="track"><span class="fill" style="width:{width:.1f}%;background:{color}"></span></span>'
        f'<span class="num">{value:.3f}</span></div>'
    )


def html(results: dict[str, Any], calibration: dict[str, Any] | None = None) -> str:
    label = html_lib.escape(str(results.get("label", "model")))
    summary = results.get("summary", {})
    series = [("model", label, summary)]
    for key, name in COLUMNS:
        if calibration and key in calibration:
            series.append((key, name, calibration[key]))
    blocks = []
    for row in ROWS:
        bars = "".join(_bar(values.get(row), BAR_COLORS[key], name) for key, name, values in series)
        blocks.append(f'<section class="cat"><h3>{row}</h3>{bars}</section>')
    examples = _examples(results)
    spv = results.get("seconds_per_video")
    meta = f"{results.get('count', 0)} prompts; suite {html_lib.escape(str(results.get('suite', '')))}"
    if spv is not None:
        meta += f"; scoring {spv:.3f} s per video"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>KinemaBench: {label}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1em; }}
.cat h3 {{ margin: 0.2em 0; font-size: 1em; }}
.bar {{ display: flex; align-items: center; gap: 0.5em; font-size: 0.85em; margin: 2px 0; }}
.name {{ width: 8em; color: #555; }}
.track {{ flex: 1; background: #eee; height: 0.9em; border-radius: 3px; overflow: hidden; }}
.fill {{ display: block; height: 100%; }}
.num {{ width: 3.5em; text-align: right; font-variant-numeric: tabular-nums; }}
.na {{ color: #999; }}
.example {{ margin: 1em 0; }} .example img {{ image-rendering: pixelated; max-width: 100%; }}
.example p {{ margin: 0.2em 0; font-size: 0.85em; }}
</style></head><body>
<h1>KinemaBench: {label}</h1>
<p>{meta}. Ceiling: the world's own renders scored against their prompts; floors: uniform noise,
and renders paired with another prompt. Every score is from pixels alone.</p>
<div class="grid">{"".join(blocks)}</div>
{examples}
</body></html>
"""


def _examples(results: dict[str, Any]) -> str:
    strips = results.get("examples") or {}
    if not strips:
        return ""
    by_id = {p["id"]: p for p in results.get("per_prompt", [])}
    ranked = sorted((by_id[i] for i in strips if i in by_id), key=lambda p: p["overall"])
    half = len(ranked) // 2
    parts = []
    for title, chosen in (("Worst prompts", ranked[:half]), ("Best prompts", ranked[half:][::-1])):
        items = []
        for p in chosen:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in p["categories"].items() if v is not None)
            items.append(
                f'<div class="example"><img src="data:image/png;base64,{strips[p["id"]]}" alt="{p["id"]}">'
                f'<p><b>{p["id"]}</b> overall {p["overall"]:.3f}: {html_lib.escape(p["prompt"])}</p>'
                f"<p>{scores}</p></div>"
            )
        parts.append(f"<h2>{title}</h2>{''.join(items)}")
    return "".join(parts)
