"""The `kinema` command line: thin wrappers that parse options, call the library and print.

Each command group lives in its own module; heavy imports (torch, the models) happen inside the
commands so that `kinema --help` answers at once.
"""

from __future__ import annotations

import os

# Before torch loads: OpenMP threads that sleep instead of spinning when idle. On a shared or
# oversubscribed machine spinning threads cost 10x or more per DiT step (docs/performance.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer  # noqa: E402

from kinema.cli.generate import generate_command
from kinema.cli.train import train_app
from kinema.cli.world import world_app

HELP = """Kinema: open text-to-video generation.

Examples:

  kinema generate "a large blue square slides to the left" -o square.mp4

  kinema generate "a small red ball bounces to the right" --size 96x64 --frames 33 --seed 1 -o ball.mp4

  kinema world render "a small red circle bounces to the right" -o ball.mp4

  kinema world sample --n 16 -o clips/

  kinema train vae --steps 4000 --export weights/kinema-tiny

  kinema keys create me && kinema serve --port 8000     # the OpenAI videos API + a web page

  kinema bench                                          # speed on this machine, against a peer
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False)


@app.callback()
def sign_with(
    sign_cert: str = typer.Option(None, "--sign-cert", help="Sign C2PA manifests with this PEM certificate chain (signing "
                                  "certificate first) instead of the local Kinema CA; $KINEMA_SIGN_CERT does the same."),
    sign_key: str = typer.Option(None, "--sign-key", help="The unencrypted PEM private key of --sign-cert ($KINEMA_SIGN_KEY)."),
) -> None:
    """Options before the command apply to every file it writes, e.g. kinema --sign-cert org.pem --sign-key org.key generate "..."."""
    if sign_cert or sign_key:
        from pathlib import Path

        from kinema.cli.errors import friendly_errors
        from kinema.safety.provenance import SIGN_CERT_ENV, SIGN_KEY_ENV, configured_identity

        # absolute paths: workers and other processes this command starts may run elsewhere
        os.environ[SIGN_CERT_ENV], os.environ[SIGN_KEY_ENV] = (str(Path(v).resolve()) if v else "" for v in (sign_cert, sign_key))
        friendly_errors(configured_identity)()  # a wrong pair fails now, before any work


app.command("generate", help="Generate a video from a text prompt with the shipped model.")(generate_command)
app.add_typer(world_app, name="world", help="Render clips of Kinema's procedural training world.")
app.add_typer(train_app, name="train", help="Train the video VAE and the diffusion transformer.")

# Optional command groups register themselves: each module exposes `register(app)`.
import importlib

for _module in ("kinema.cli.eval", "kinema.cli.safety", "kinema.cli.provenance", "kinema.cli.modes", "kinema.cli.data", "kinema.cli.finetune", "kinema.cli.serve", "kinema.cli.bench"):
    try:
        _loaded = importlib.import_module(_module)
    except ModuleNotFoundError as _error:
        if _error.name != _module:  # a missing dependency inside the module is a real error
            raise
        continue
    if hasattr(_loaded, "register"):
        _loaded.register(app)
    elif hasattr(_loaded, "eval_app"):
        app.add_typer(_loaded.eval_app, name="eval", help="KinemaBench: score videos against their prompts from pixels.")
