"""What every prompt must satisfy before any work is done on it: one check, one message."""

from __future__ import annotations


def check_prompt(prompt: str) -> None:
    """Raise ValueError for an empty or blank prompt, saying what a prompt looks like."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty; describe the video, e.g. 'a small red ball bounces to the right'")
