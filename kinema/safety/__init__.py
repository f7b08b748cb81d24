"""Kinema's safety layers, on by default everywhere (CLI, Python API, server).

The API the pipeline and the front ends use:
- `moderate_prompt(text) -> Verdict`: refuse violence, sexual content, hate, real people and
  copyrighted characters/brands, with a category and a readable reason (`kinema.safety.prompt`).
- `check_frames(frames) -> FrameVerdict`: check generated uint8 frames (T, H, W, 3) before a video
  is returned (`kinema.safety.frames`).
- `SafetySettings`: explicit switches for research use; a switch turned off is listed by
  `disabled()` so the C2PA manifest records it (`kinema.safety.provenance`, `SAFETY_LAYERS`).
- `RefusedError(ValueError)`: raised by `enforce_prompt` / `enforce_frames`, carrying the
  verdict; the CLI turns it into exit code 3 with the reason.

Heavy pieces load on first use: the text encoder (semantic layer) and the ONNX nudity detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinema.safety.frames import FrameVerdict, check_frames
from kinema.safety.prompt import Verdict, moderate_prompt

REFUSED_EXIT_CODE = 3

__all__ = [
    "FrameVerdict",
    "REFUSED_EXIT_CODE",
    "RefusedError",
    "SafetySettings",
    "Verdict",
    "check_frames",
    "enforce_frames",
    "enforce_prompt",
    "moderate_prompt",
]


@dataclass(frozen=True)
class SafetySettings:
    """Which safety layers run. Turning one off is for research only and is recorded in C2PA."""

    prompt: bool = True  # moderate the prompt before generating (lexicons + semantic classifier)
    frames: bool = True  # check every generated frame before the video is returned
    watermark: bool = True  # embed the invisible watermark (kinema.safety.watermark)

    def disabled(self) -> list[str]:
        """Names of the layers turned off, as `kinema.safety.provenance` records them."""
        return [name for name in ("prompt", "frames", "watermark") if not getattr(self, name)]

    @staticmethod
    def off(*layers: str) -> SafetySettings:
        """Settings with the named layers turned off, e.g. `SafetySettings.off("prompt")`."""
        known = ("prompt", "frames", "watermark")
        unknown = [layer for layer in layers if layer not in known]
        if unknown:
            raise ValueError(f"unknown safety layers {unknown}; allowed: {', '.join(known)}")
        return SafetySettings(**{layer: False for layer in layers})


class RefusedError(ValueError):
    """A prompt or a generated video was refused; `verdict` says why (`str(error)` too)."""

    def __init__(self, verdict: Verdict | FrameVerdict) -> None:
        self.verdict = verdict
        if isinstance(verdict, Verdict):
            message = f"prompt refused ({verdict.category}): {verdict.reason}"
        else:
            message = f"video withheld: {verdict.reason}"
        super().__init__(message)


def enforce_prompt(text: str, settings: SafetySettings = SafetySettings()) -> Verdict | None:
    """Raise RefusedError if `text` is refused; return the verdict (None when the layer is off)."""
    if not settings.prompt:
        return None
    verdict = moderate_prompt(text)
    if not verdict.allowed:
        raise RefusedError(verdict)
    return verdict


def enforce_frames(frames: np.ndarray, settings: SafetySettings = SafetySettings()) -> FrameVerdict | None:
    """Raise RefusedError if any frame is flagged; return the verdict (None when the layer is off)."""
    if not settings.frames:
        return None
    verdict = check_frames(frames)
    if not verdict.allowed:
        raise RefusedError(verdict)
    return verdict
