"""One stored job -> one call of the library: `run(pipe, job, home, on_step) -> Video`.

| mode     | API route                          | library call                                   |
|----------|------------------------------------|------------------------------------------------|
| generate | POST /v1/videos                    | `Pipeline.generate`                            |
| animate  | POST /v1/videos + input_reference  | `kinema.modes.animate` (the image is frame 0)  |
| extend   | POST /v1/videos/extensions         | `kinema.modes.extend` forward by `new_frames`  |
| edit     | POST /v1/videos/edits              | `kinema.modes.edit` (SDEdit at `strength`)     |
| remix    | POST /v1/videos/{id}/remix         | `kinema.modes.edit` of the completed source    |

The model is given the job's enhanced prompt (the API computed it with `kinema.text.enhance`);
safety runs with every layer on (prompt, frames, watermark), as in the library. Input media are
read from `home / job.input_path` and returned as C2PA ingredients by `ingredients`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kinema.pipeline import Pipeline
from kinema.safety import SafetySettings
from kinema.serve.store import Job
from kinema.video import Video

SAFETY = SafetySettings()


def ingredients(job: Job, home: Path) -> list[Path]:
    return [home / job.input_path] if job.input_path else []


def settings(job: Job) -> dict[str, object]:
    """The generation settings recorded in the C2PA manifest."""
    recorded: dict[str, object] = {"video_id": job.id, "mode": job.mode, "prompt": job.prompt,
                                   "model_prompt": job.enhanced_prompt, "size": job.size, "frames": job.frames,
                                   "steps": job.steps, "guidance": job.guidance, "seed": job.seed}
    for name in ("strength", "new_frames", "source_video_id"):
        if getattr(job, name) is not None:
            recorded[name] = getattr(job, name)
    return recorded


def run(pipe: Pipeline, job: Job, home: Path, on_step: Callable[[int, int], None]) -> Video:
    from kinema import modes

    sampling = modes.Sampling(steps=job.steps, guidance=job.guidance, seed=job.seed, safety=SAFETY, on_step=on_step)
    if job.mode == "generate":
        return pipe.generate(job.enhanced_prompt, size=job.size, frames=job.frames, steps=job.steps,
                             guidance=job.guidance, seed=job.seed, on_step=on_step, safety=SAFETY)
    source = _input(job, home)
    if job.mode == "animate":
        return modes.animate(pipe, source.frames[:1], job.enhanced_prompt, frames=job.frames, sampling=sampling)
    if job.mode == "extend":
        if job.new_frames is None:
            raise ValueError("an extension job needs new_frames")
        return modes.extend(pipe, source, job.enhanced_prompt, frames=job.new_frames, direction="forward",
                            sampling=sampling)
    if job.mode in ("edit", "remix"):
        return modes.edit(pipe, source, job.enhanced_prompt, strength=job.strength or 0.6, sampling=sampling)
    raise ValueError(f"mode {job.mode!r} is not supported; use generate, animate, extend, edit or remix")


def _input(job: Job, home: Path) -> Video:
    if not job.input_path:
        raise ValueError(f"a {job.mode} job needs input media and has none")
    path = home / job.input_path
    if not path.is_file():
        raise FileNotFoundError(f"the input media of this job is gone ({path.name})")
    return Video.read(path)
