"""`kinema moderate`: check a prompt the way `kinema generate` does, and say why it is refused."""

from __future__ import annotations

import json

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)

EXIT_ALLOWED = 0
EXIT_REFUSED = 3


def moderate_command(
    prompt: str = typer.Argument(..., help="The prompt to check, in quotes."),
    as_json: bool = typer.Option(False, "--json", help='Print {"allowed", "category", "reason"} as JSON.'),
    lexicon_only: bool = typer.Option(False, "--lexicon-only", help="Skip the semantic classifier (faster, no encoder load; misses paraphrases)."),
) -> None:
    """Check a prompt against Kinema's content policy: exit 0 when allowed, 3 when refused.

    Refused: violence or gore, sexual content, hate or harassment, real people (public figures by name), copyrighted characters and brands. Obfuscations (k1ll, s p a c e d, Cyrillic lookalikes) and paraphrases are caught too.

    Examples:

      kinema moderate "a small red ball hits a blue box"

      kinema moderate --json "pikachu bouncing on a trampoline"

      kinema moderate "$PROMPT" && kinema generate "$PROMPT" -o clip.mp4
    """
    from kinema.safety.prompt import Verdict, moderate_prompt

    verdict = moderate_prompt(prompt, semantic=not lexicon_only)
    if as_json:
        print(json.dumps({"allowed": verdict.allowed, "category": verdict.category, "reason": verdict.reason}))
    elif verdict.allowed:
        plain = verdict.reason == Verdict(True).reason  # else e.g. a listed word read in its harmless sense
        console.print("[bold green]allowed[/]" + ("" if plain else ": " + verdict.reason.removeprefix("allowed: ")))
    else:
        console.print(f"[bold red]REFUSED[/]: {verdict.category}: {verdict.reason}")
    raise typer.Exit(EXIT_ALLOWED if verdict.allowed else EXIT_REFUSED)


def register(app: typer.Typer) -> None:
    """Add `kinema moderate` to the main app."""
    app.command("moderate")(moderate_command)
