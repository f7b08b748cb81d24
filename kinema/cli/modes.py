"""`kinema image | animate | extend | connect | interpolate | loop | edit | storyboard | enhance`.

Thin wrappers over `kinema.modes` (and `kinema.text.enhance`): read the input media, moderate the
prompts before loading the model, call the mode, then write and C2PA-sign the result with the
input files recorded as ingredients (`kinema.pipeline.save`). Bad input exits 2 with one line; a
refused prompt exits 3 with the reason (`friendly_errors`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

console = Console(stderr=True)

OUTPUT = typer.Option(Path("kinema.mp4"), "--output", "-o", help="Where to write: .mp4, .gif, .png (1 frame) or a folder.")
STEPS = typer.Option(20, help="Sampling steps: more is slower and usually cleaner.")
GUIDANCE = typer.Option(5.0, help="Classifier-free guidance: how strongly to follow the prompt (1 = off).")
SEED = typer.Option(0, help="Random seed: the same seed and options give the same video.")
SOLVER = typer.Option("euler", help="ODE solver: euler, or heun.")
WEIGHTS = typer.Option(None, help="Weights folder (default: the shipped weights/kinema-tiny, or $KINEMA_WEIGHTS).")
CONTEXT = typer.Option(3, help="Latent frames of the given video to condition on (1 latent frame = 4 video frames).")
SIZE = typer.Option("64x64", help="WIDTHxHEIGHT: 64x64, 96x64 (landscape), 64x96 (portrait), 112x64 (16:9).")
NO_PROMPT_CHECK = typer.Option(False, "--no-prompt-check", help="Research only: skip prompt moderation (recorded in C2PA).")
NO_FRAME_CHECK = typer.Option(False, "--no-frame-check", help="Research only: skip the generated-frame check (recorded).")
NO_WATERMARK = typer.Option(False, "--no-watermark", help="Research only: skip the invisible watermark (recorded).")


class _Run:
    """What every mode command does around the mode itself."""

    def __init__(self, prompts: list[str], output: Path, frames: int, steps: int, guidance: float, seed: int,
                 solver: str, weights: Path | None, checks: tuple[bool, bool, bool]) -> None:
        from kinema.modes import Sampling
        from kinema.safety import SafetySettings, enforce_prompt
        from kinema.video import check_output_path

        check_output_path(output, frames)
        no_prompt, no_frames, no_watermark = checks
        self.safety = SafetySettings(prompt=not no_prompt, frames=not no_frames, watermark=not no_watermark)
        for prompt in prompts:
            if prompt.strip():
                enforce_prompt(prompt, self.safety)  # refuse before loading anything
        self.settings: dict[str, Any] = {"steps": steps, "guidance": guidance, "seed": seed, "solver": solver}
        self.sampling = Sampling(steps, guidance, seed, solver, self.safety)
        self.weights, self.output = weights, output

    def __call__(self, mode: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from rich.progress import Progress

        from kinema.modes import Sampling
        from kinema.pipeline import load_pipeline

        with console.status("loading the model"):
            self.pipe = load_pipeline(str(self.weights) if self.weights else None)
        s = self.sampling
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("generating", total=s.steps)
            sampling = Sampling(s.steps, s.guidance, s.seed, s.solver, s.safety,
                                lambda i, n: bar.update(task, completed=i, total=n))
            return mode(self.pipe, *args, sampling=sampling, **kwargs)

    def save(self, video: Any, mode: str, ingredients: list[Path], output: Path | None = None, **settings: Any) -> None:
        from kinema.pipeline import save

        target = output or self.output
        save(video, target, model_name=self.pipe.name, settings={"mode": mode, **self.settings, **settings},
             ingredients=ingredients, safety=self.safety)
        console.print(f"wrote {target} ({video.num_frames} frames, {video.size}, {video.duration:.1f} s)")


def _read(path: Path) -> Any:
    from kinema.video import read_video

    return read_video(path)


def _checks(no_prompt: bool, no_frames: bool, no_watermark: bool) -> tuple[bool, bool, bool]:
    return no_prompt, no_frames, no_watermark


@friendly_errors
def image_command(prompt: str = typer.Argument(..., help="What the image shows."), output: Path = typer.Option(Path("kinema.png"), "--output", "-o"),
                  size: str = SIZE, steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED, solver: str = SOLVER,
                  weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK, no_frame_check: bool = NO_FRAME_CHECK,
                  no_watermark: bool = NO_WATERMARK) -> None:
    """One image from text.  kinema image "a large blue square on a night background" -o square.png"""
    from kinema import modes

    run = _Run([prompt], output, 1, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    run.save(run(modes.image, prompt, size=size), "image", [], prompt=prompt, size=size)


@friendly_errors
def animate_command(picture: Path = typer.Argument(..., help="The first frame: a .png image."),
                    prompt: str = typer.Argument(..., help="What happens, e.g. 'the ball bounces to the right'."),
                    output: Path = OUTPUT, frames: int = typer.Option(33, help="1 + 4k frames, up to 65."),
                    steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED, solver: str = SOLVER, weights: Path = WEIGHTS,
                    no_prompt_check: bool = NO_PROMPT_CHECK, no_frame_check: bool = NO_FRAME_CHECK, no_watermark: bool = NO_WATERMARK) -> None:
    """Image to video: the video starts exactly on the image.  kinema animate ball.png "the ball bounces to the right\""""
    from kinema import modes

    run = _Run([prompt], output, frames, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    still = _read(picture)
    run.save(run(modes.animate, still, prompt, frames=frames), "animate", [picture], prompt=prompt, frames=frames)


@friendly_errors
def extend_command(video: Path = typer.Argument(..., help="The video to extend."), prompt: str = typer.Argument("", help="What happens in the new frames (optional)."),
                   backward: bool = typer.Option(False, "--backward/--forward", help="Add frames before the video (--backward) or after it (--forward, default)."),
                   frames: int = typer.Option(32, help="How many new frames (any number; more than one step's worth is made step by step)."),
                   variants: int = typer.Option(1, help="How many different versions (seeds seed, seed+1, ...), written as NAME_0, NAME_1, ..."),
                   context: int = CONTEXT, output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED,
                   solver: str = SOLVER, weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK,
                   no_frame_check: bool = NO_FRAME_CHECK, no_watermark: bool = NO_WATERMARK) -> None:
    """Extend a video in time.  kinema extend ball.mp4 --backward --frames 16 --variants 3 -o start.mp4"""
    from kinema import modes

    run = _Run([prompt], output, 2, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    source = _read(video)
    direction = "backward" if backward else "forward"
    results = run(modes.extend_variants, source, variants, prompt, frames=frames, direction=direction, context=context)
    for i, result in enumerate(results):
        target = output if variants == 1 else output.with_name(f"{output.stem}_{i}{output.suffix}")
        run.save(result, "extend", [video], target, direction=direction, frames=frames, context=context, variant=i, prompt=prompt)


@friendly_errors
def connect_command(first: Path = typer.Argument(..., help="The video that comes first."), second: Path = typer.Argument(..., help="The video that comes after."),
                    prompt: str = typer.Argument("", help="What happens in the transition (optional)."),
                    frames: int = typer.Option(16, help="Transition frames generated between the two."),
                    context: int = CONTEXT, output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED,
                    solver: str = SOLVER, weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK,
                    no_frame_check: bool = NO_FRAME_CHECK, no_watermark: bool = NO_WATERMARK) -> None:
    """Join two videos with a generated transition.  kinema connect a.mp4 b.mp4 -o joined.mp4"""
    from kinema import modes

    run = _Run([prompt], output, 2, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    a, b = _read(first), _read(second)
    run.save(run(modes.connect, a, b, prompt, frames=frames, context=context), "connect", [first, second], frames=frames, prompt=prompt)


@friendly_errors
def interpolate_command(video: Path = typer.Argument(None, help="The video to fill in (or give --keyframe instead)."),
                        factor: int = typer.Option(2, help="Output frames per input frame: the result plays at fps x factor."),
                        keyframe: list[str] = typer.Option([], help="TIME:IMAGE, e.g. --keyframe 0:a.png --keyframe 32:b.png (frame times at 8 fps)."),
                        prompt: str = typer.Option("", help="What happens (optional)."),
                        frames: int = typer.Option(33, help="With --keyframe: the video's length, 1 + 4k frames."),
                        output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED, solver: str = SOLVER,
                        weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK, no_frame_check: bool = NO_FRAME_CHECK,
                        no_watermark: bool = NO_WATERMARK) -> None:
    """Fill in frames between given ones.  kinema interpolate clip.mp4 --factor 2 -o smooth.mp4"""
    from kinema import modes

    if (video is None) == (not keyframe):
        raise ValueError("give a video to interpolate or --keyframe TIME:IMAGE options, not both or neither")
    run = _Run([prompt], output, 2, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    if video is not None:
        result = run(modes.interpolate, _read(video), factor=factor, prompt=prompt)
        run.save(result, "interpolate", [video], factor=factor, prompt=prompt)
        return
    keys, paths = {}, []
    for spec in keyframe:
        time, _, name = spec.partition(":")
        if not time.strip().isdigit() or not name:
            raise ValueError(f"keyframe {spec!r} is not TIME:IMAGE, e.g. 0:a.png or 32:b.png")
        if int(time) in keys:
            raise ValueError(f"two keyframes at frame {int(time)}")
        keys[int(time)] = _read(Path(name))
        paths.append(Path(name))
    result = run(modes.keyframes, keys, prompt, frames=frames)
    run.save(result, "keyframes", paths, keyframes=keyframe, frames=frames, prompt=prompt)


@friendly_errors
def loop_command(source: str = typer.Argument(..., help="A prompt, or a video file to make loop."),
                 frames: int = typer.Option(33, help="With a prompt: the clip's length before the loop bridge (1 + 4k)."),
                 bridge: int = typer.Option(16, help="Frames generated to lead the end back into the start."),
                 size: str = SIZE, context: int = CONTEXT, output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE,
                 seed: int = SEED, solver: str = SOLVER, weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK,
                 no_frame_check: bool = NO_FRAME_CHECK, no_watermark: bool = NO_WATERMARK) -> None:
    """A seamless loop.  kinema loop "a green triangle spins clockwise" -o spin.gif   |   kinema loop clip.mp4"""
    from kinema import modes

    is_file = Path(source).suffix.lower() in (".mp4", ".gif", ".png") or Path(source).is_dir()
    run = _Run([] if is_file else [source], output, 2, steps, guidance, seed, solver, weights,
               _checks(no_prompt_check, no_frame_check, no_watermark))
    media = _read(Path(source)) if is_file else source
    result = run(modes.loop, media, frames=frames, bridge=bridge, size=size, context=context)
    run.save(result, "loop", [Path(source)] if is_file else [], bridge=bridge, **({} if is_file else {"prompt": source}))


@friendly_errors
def edit_command(video: Path = typer.Argument(..., help="The video to change."), prompt: str = typer.Argument(..., help="What the result shows, e.g. 'a green ball bounces'."),
                 strength: float = typer.Option(0.6, help="How much to change, in (0, 1]: low keeps more of the input, 1 ignores it."),
                 output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE, seed: int = SEED, solver: str = SOLVER,
                 weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK, no_frame_check: bool = NO_FRAME_CHECK,
                 no_watermark: bool = NO_WATERMARK) -> None:
    """Video to video (SDEdit): keep layout and motion, change what the prompt changes.  kinema edit ball.mp4 "a small green ball bounces to the right" --strength 0.6"""
    from kinema import modes

    if not 0.0 < strength <= 1.0:  # before loading anything
        raise ValueError(f"strength {strength} is outside (0, 1]; e.g. 0.6")
    run = _Run([prompt], output, 2, steps, guidance, seed, solver, weights, _checks(no_prompt_check, no_frame_check, no_watermark))
    run.save(run(modes.edit, _read(video), prompt, strength=strength), "edit", [video], strength=strength, prompt=prompt)


def read_shots(shot: list[str], file: Path | None) -> list[Any]:
    """Shots from `--shot [FRAMES:]PROMPT` options and/or a file: JSON [{"prompt", "frames"}] or
    one shot a line as [FRAMES:]PROMPT."""
    from kinema.modes import Shot

    specs = list(shot)
    shots: list[Shot] = []
    if file is not None:
        if not file.exists():
            raise FileNotFoundError(f"no such storyboard file: {file}")
        text = file.read_text()
        if file.suffix.lower() == ".json":
            try:
                items = json.loads(text)
                shots += [Shot(str(item["prompt"]), int(item.get("frames", 33))) for item in items]
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{file} is not a JSON list of {{\"prompt\": ..., \"frames\": ...}}: {error}") from None
        else:
            specs = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")] + specs
    for spec in specs:
        head, sep, rest = spec.partition(":")
        shots.append(Shot(rest.strip(), int(head)) if sep and head.strip().isdigit() else Shot(spec.strip()))
    if not shots:
        raise ValueError("a storyboard needs shots: --shot \"33:a red ball bounces to the right\" (repeat), or --file shots.txt")
    return shots


@friendly_errors
def storyboard_command(shot: list[str] = typer.Option([], help="[FRAMES:]PROMPT, repeated in order, e.g. --shot \"33:a red ball bounces\" --shot \"17:a close-up of the red ball\"."),
                       file: Path = typer.Option(None, help="Shots from a file: one [FRAMES:]PROMPT a line, or JSON [{\"prompt\", \"frames\"}]."),
                       size: str = SIZE, context: int = CONTEXT, output: Path = OUTPUT, steps: int = STEPS, guidance: float = GUIDANCE,
                       seed: int = SEED, solver: str = SOLVER, weights: Path = WEIGHTS, no_prompt_check: bool = NO_PROMPT_CHECK,
                       no_frame_check: bool = NO_FRAME_CHECK, no_watermark: bool = NO_WATERMARK) -> None:
    """A multi-shot video, each shot continuing from the last.  kinema storyboard --shot "33:a red ball bounces" --shot "17:a close-up of the red ball\""""
    from kinema import modes

    shots = read_shots(shot, file)
    run = _Run([s.prompt for s in shots], output, 2, steps, guidance, seed, solver, weights,
               _checks(no_prompt_check, no_frame_check, no_watermark))
    result = run(modes.storyboard, shots, size=size, context=context)
    run.save(result, "storyboard", [file] if file else [], shots=[{"prompt": s.prompt, "frames": s.frames} for s in shots])


@friendly_errors
def enhance_command(prompt: str = typer.Argument(..., help="A short prompt, e.g. 'red ball'."), size: str = SIZE,
                    frames: int = typer.Option(33, help="The clip length the caption is placed for.")) -> None:
    """Show the detailed prompt the model gets for a short one.  kinema enhance "red ball bouncing\""""
    from kinema.pipeline import parse_size
    from kinema.text.enhance import enhance

    result = enhance(prompt, parse_size(size), frames)
    print(result.text)
    if result.unknown_words or result.problem:
        console.print(result.describe().split("\n", 1)[1], highlight=False)


COMMANDS: dict[str, tuple[Callable[..., None], str]] = {
    "image": (image_command, "Generate one image from text."),
    "animate": (animate_command, "Image to video: animate a picture."),
    "extend": (extend_command, "Extend a video forward or backward in time."),
    "connect": (connect_command, "Join two videos with a generated transition."),
    "interpolate": (interpolate_command, "Fill in frames between given frames or keyframes."),
    "loop": (loop_command, "Make a seamless loop from a prompt or a video."),
    "edit": (edit_command, "Change a video with a prompt (video to video)."),
    "storyboard": (storyboard_command, "A multi-shot video from a list of shots."),
    "enhance": (enhance_command, "Show the detailed prompt made from a short one."),
}


def register(app: typer.Typer) -> None:
    for name, (command, help_text) in COMMANDS.items():
        app.command(name, help=help_text)(command)
