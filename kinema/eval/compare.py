"""Paired comparison of two KinemaBench results: the same prompts and seeds, two models or settings.

Contract: `paired_differences(base, new)` takes two `kinema eval run` result dicts and returns, for
each category and for overall, the mean score of each over the prompts where both have that score,
the mean paired difference (new - base) and its standard error. Pairing removes the prompt-to-prompt
spread (some prompts are hard for every model), so differences far smaller than either score's
spread are measurable: with 320 prompts, overall moves of 0.01-0.02 are about 2 standard errors.
"""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from kinema.eval.report import ROWS


def paired_differences(base: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, float | int | None]]:
    """Per row: base and new means over the paired prompts, difference, its standard error, pairs."""
    for name, results in (("base", base), ("new", new)):
        if not isinstance(results.get("per_prompt"), list):
            raise ValueError(f"the {name} JSON has no per-prompt scores; give results written by `kinema eval run -o`")
    base_by_id = {p["id"]: p for p in base["per_prompt"]}
    pairs = [(base_by_id[p["id"]], p) for p in new["per_prompt"] if p["id"] in base_by_id]
    if not pairs:
        raise ValueError("the two results share no prompt ids; compare runs of the same suite")
    out: dict[str, dict[str, float | int | None]] = {}
    for row in ROWS:
        values = [(_score(a, row), _score(b, row)) for a, b in pairs]
        values = [(a, b) for a, b in values if a is not None and b is not None]
        out[row] = _stats(values)
    return out


def _score(prompt: dict[str, Any], row: str) -> float | None:
    return prompt["overall"] if row == "overall" else prompt["categories"].get(row)


def _stats(values: list[tuple[float, float]]) -> dict[str, float | int | None]:
    n = len(values)
    if n == 0:
        return {"pairs": 0, "base": None, "new": None, "difference": None, "stderr": None}
    diffs = [b - a for a, b in values]
    mean = sum(diffs) / n
    stderr = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else None
    return {
        "pairs": n,
        "base": sum(a for a, _ in values) / n,
        "new": sum(b for _, b in values) / n,
        "difference": mean,
        "stderr": stderr,
    }


def compare_table(base: dict[str, Any], new: dict[str, Any], rows: dict[str, dict[str, float | int | None]]) -> Table:
    """The paired differences as a table; a difference of 2 standard errors or more is marked."""
    base_label, new_label = base.get("label", "base"), new.get("label", "new")
    out = Table(title=f"KinemaBench {new.get('suite', '')}: {new_label} against {base_label}, paired")
    for name, justify in (("category", "left"), (base_label, "right"), (new_label, "right"),
                          ("difference ± s.e.", "right"), ("pairs", "right")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row, stats in rows.items():
        if not stats["pairs"]:
            out.add_row(row, "-", "-", "-", "0")
            continue
        diff, stderr = stats["difference"], stats["stderr"]
        text = f"{diff:+.3f}" + ("" if stderr is None else f" ± {stderr:.3f}")
        if stderr and abs(diff) >= 2 * stderr:  # type: ignore[operator]
            text = f"[bold {'green' if diff > 0 else 'red'}]{text}[/]"  # type: ignore[operator]
        out.add_row(row, f"{stats['base']:.3f}", f"{stats['new']:.3f}", text, str(stats["pairs"]))
    out.caption = "bold: the difference is at least 2 standard errors (paired over the same prompts and seeds)"
    return out
