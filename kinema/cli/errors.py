"""Bad input becomes one clear red line and exit code 2, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])
stderr = Console(stderr=True)
REFUSED_EXIT_CODE = 3  # a prompt or video refused by Kinema's safety layers (kinema.safety)


def friendly_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError) as error:
            if getattr(error, "verdict", None) is not None:  # kinema.safety.RefusedError
                stderr.print(f"[bold red]refused:[/] {error}", highlight=False)
                raise typer.Exit(REFUSED_EXIT_CODE) from None
            stderr.print(f"[bold red]error:[/] {error}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
