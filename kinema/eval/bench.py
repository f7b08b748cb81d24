"""Run KinemaBench: generate (or take) a video per suite prompt, score it, summarise, calibrate.

Contract:
- `run_suite(suite, make_video, label=)` calls `make_video(entry) -> Video | frames` for every
  entry, scores it against the entry's frozen spec and returns a results dict (JSON-safe):
  `per_prompt` (id, group, prompt, categories, overall, seconds), `summary` (mean per category over
  the prompts where it applies, plus `overall`), `seconds_per_video` (scoring time only) and
  `count`. A video the safety layer withholds (`kinema.safety.RefusedError`, e.g. a false
  positive of the frame check on a suite prompt) is scored as the blank video the user got, its
  record says why (`withheld`), `withheld` counts them, and the run goes on. Results of different
  runs compare category by category. With `distributed=True`
  under torchrun the ranks share the entries and merge their scores (same results, faster).
- `calibrate(suite)` scores the world's own renders (the ceiling), the same renders after an H.264
  4:2:0 MP4 round trip (`ceiling_mp4`, when PyAV can encode), uniform noise (`floor_noise`) and renders
  paired with another prompt of the same canvas (`floor_shuffled`); it returns their summaries.
- `model_video_maker(weights)` is the generator hook for `kinema eval run --model`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from kinema.eval.expect import CATEGORIES
from kinema.eval.score import score_video
from kinema.eval.suite import Suite, SuiteEntry

VideoMaker = Callable[[SuiteEntry], Any]


def summarise(per_prompt: list[dict[str, Any]]) -> dict[str, float | None]:
    """Mean per category over the prompts where it applies; `overall` is the mean of the overalls."""
    out: dict[str, float | None] = {}
    for name in CATEGORIES:
        values = [p["categories"][name] for p in per_prompt if p["categories"].get(name) is not None]
        out[name] = float(np.mean(values)) if values else None
    out["overall"] = float(np.mean([p["overall"] for p in per_prompt])) if per_prompt else None
    return out


def run_suite(suite: Suite, make_video: VideoMaker, label: str = "model", keep_frames: int = 0,
              distributed: bool = False, on_done: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Score `make_video(entry)` for every entry. `keep_frames`: store a frame strip (base64 PNG)
    for that many best and worst prompts, for the HTML report. `on_done(done, total)` after each
    of this process's entries (a progress bar).

    `distributed`: inside a torch.distributed process group (torchrun), rank r generates and
    scores entries r, r + world, ...; the results are merged (in suite order) and every rank
    returns the same dict as one process would (up to timings)."""
    rank, world = _rank_world() if distributed else (0, 1)
    per_prompt = []
    strips: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    from kinema.safety import RefusedError

    mine = suite.entries[rank::world]
    for entry in mine:
        withheld = None
        try:
            video = make_video(entry)
        except RefusedError as error:  # one refusal must not end a long run; it scores as nothing shown
            video, withheld = blank_video(entry), str(error)
        score = score_video(video, entry.spec_scene())
        per_prompt.append(
            {
                "id": entry.id,
                "group": entry.group,
                "prompt": entry.prompt,
                "size": entry.size,
                "frames": entry.frames,
                "categories": score.categories,
                "overall": score.overall,
                "seconds": score.seconds,
                **({"withheld": withheld} if withheld else {}),
            }
        )
        if keep_frames:
            strips[entry.id] = np.asarray(getattr(video, "frames", video))
        if on_done is not None:
            on_done(len(per_prompt), len(mine))
    examples = _examples(per_prompt, strips, keep_frames)
    if world > 1:  # each rank's best and worst include the suite's best and worst
        import torch.distributed as dist

        parts: list[Any] = [None] * world
        dist.all_gather_object(parts, (per_prompt, examples))
        order = {entry.id: i for i, entry in enumerate(suite.entries)}
        per_prompt = sorted((p for part, _ in parts for p in part), key=lambda p: order[p["id"]])
        pool = {k: v for _, part_examples in parts for k, v in part_examples.items()}
        examples = {p["id"]: pool[p["id"]] for p in _chosen(per_prompt, keep_frames)}
    results: dict[str, Any] = {
        "suite": suite.name,
        "label": label,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "count": len(per_prompt),
        "withheld": sum("withheld" in p for p in per_prompt),
        "summary": summarise(per_prompt),
        "seconds_per_video": float(np.mean([p["seconds"] for p in per_prompt])) if per_prompt else None,
        "wall_seconds": time.perf_counter() - started,
        "per_prompt": per_prompt,
    }
    if world > 1:
        results["processes"] = world
    if keep_frames and per_prompt:
        results["examples"] = examples
    return results


def blank_video(entry: SuiteEntry) -> np.ndarray:
    """Black frames of the entry's canvas and length: what a withheld generation shows."""
    return np.zeros((entry.frames, entry.height, entry.width, 3), np.uint8)


def _rank_world() -> tuple[int, int]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _chosen(per_prompt: list[dict[str, Any]], keep: int) -> list[dict[str, Any]]:
    if not keep:
        return []
    ranked = sorted(per_prompt, key=lambda p: p["overall"])
    return ranked[:keep] + ranked[-keep:]


def _examples(per_prompt: list[dict[str, Any]], strips: dict[str, np.ndarray], keep: int) -> dict[str, str]:
    if not keep or not per_prompt:
        return {}
    from kinema.eval.report import frame_strip_png

    return {p["id"]: frame_strip_png(strips[p["id"]]) for p in _chosen(per_prompt, keep)}


def render_reference(entry: SuiteEntry) -> np.ndarray:
    from kinema.world.render import render

    return render(entry.reference_scene()).frames


def mp4_round_trip(frames: np.ndarray, fps: float = 8.0, quality: str = "web") -> np.ndarray | None:
    """The frames after writing and reading an H.264 MP4, or None if no encoder is available.

    "web" (4:2:0 chroma, CRF 16) by default: the lossiest preset, what players and most models'
    outputs use; small objects lose half their chroma resolution."""
    from kinema.video import Video, read_video, write_video

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        try:
            write_video(Video(frames, fps), path, quality=quality)
            return np.asarray(read_video(path).frames)
        except (ValueError, OSError):
            return None


def noise_video(entry: SuiteEntry) -> np.ndarray:
    rng = np.random.default_rng(entry.seed)
    return rng.integers(0, 256, (entry.frames, entry.height, entry.width, 3), dtype=np.uint8)


def calibrate(suite: Suite, mp4: bool = True) -> dict[str, Any]:
    """Ceiling (renders, and renders through H.264) and floor (noise, shuffled pairs) summaries."""
    renders = {e.id: render_reference(e) for e in suite.entries}
    runs = {
        "ceiling": run_suite(suite, lambda e: renders[e.id], "ceiling"),
        "floor_noise": run_suite(suite, noise_video, "noise"),
        "floor_shuffled": run_suite(suite, _shuffled(suite, renders), "shuffled"),
    }
    if mp4 and suite.entries and mp4_round_trip(renders[suite.entries[0].id]) is not None:
        runs["ceiling_mp4"] = run_suite(suite, lambda e: mp4_round_trip(renders[e.id]), "ceiling_mp4")
    return {
        "suite": suite.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "count": len(suite.entries),
        **{name: run["summary"] for name, run in runs.items()},
        "seconds_per_video": runs["ceiling"]["seconds_per_video"],
        "runs": {name: run["per_prompt"] for name, run in runs.items()},
    }


def _shuffled(suite: Suite, renders: dict[str, np.ndarray]) -> VideoMaker:
    """Each prompt gets the render of another prompt with the same canvas and length, if any."""
    by_shape: dict[tuple[int, int, int], list[str]] = {}
    for e in suite.entries:
        by_shape.setdefault((e.width, e.height, e.frames), []).append(e.id)

    def make(entry: SuiteEntry) -> np.ndarray:
        ids = by_shape[(entry.width, entry.height, entry.frames)]
        if len(ids) == 1:
            return noise_video(entry)  # nothing to pair with: noise is the honest stand-in
        other = ids[(ids.index(entry.id) + max(1, len(ids) // 2)) % len(ids)]
        return renders[other]

    return make


def model_video_maker(weights: str | None, int8: bool = False, **sampler: Any) -> VideoMaker:
    """Generate each entry with `kinema.pipeline.generate` (`int8`: int8 matmuls on the CPU;
    `sampler`: its sampling options, e.g. steps, guidance, shift); a clear error if it is not there."""
    try:
        from kinema.pipeline import generate
    except ImportError as error:
        raise RuntimeError("kinema.pipeline.generate is not available; the generator is not installed") from error

    def make(entry: SuiteEntry) -> Any:
        return generate(entry.prompt, weights=weights, int8=int8, size=entry.size, frames=entry.frames, seed=entry.seed,
                        **sampler)

    return make
