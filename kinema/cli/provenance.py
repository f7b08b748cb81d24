"""`kinema verify` (C2PA manifest) and `kinema detect` (invisible watermark).

Exit codes, for scripts:
  verify  0: a valid manifest (signature and every hash check)   1: no manifest
          2: an invalid or tampered manifest, or a file that cannot be read
  detect  0: the watermark is found   1: it is not   2: a file that cannot be read
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from kinema.cli.errors import friendly_errors

stdout = Console(highlight=False, soft_wrap=True)  # long paths and errors stay on one line

def register(app: typer.Typer) -> None:
    """Add `verify` and `detect` to the main `kinema` app."""
    app.command("verify")(verify_command)
    app.command("detect")(detect_command)


@friendly_errors
def verify_command(
    file: Path = typer.Argument(..., help="An .mp4, .png or .gif (any format C2PA reads)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    trust: Path = typer.Option(None, help="PEM file of extra trusted root certificates (this machine's Kinema CA is always trusted)."),
) -> None:
    """Show the C2PA manifest of FILE and whether it is valid, tampered or missing.

    Exit codes: 0 valid, 1 no manifest, 2 invalid or tampered (or an unreadable file).

    Example: kinema verify kinema.mp4 --json
    """
    from kinema.safety.provenance import verify_file

    report = verify_file(file, trust_anchors=trust)
    summary = {"file": str(file), "present": report.present, **report.summary()}
    code = 0 if report.valid else 1 if not report.present else 2
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        raise typer.Exit(code)
    name = escape(str(file))
    if not report.present:
        stdout.print(f"{name}: [bold yellow]no C2PA manifest[/]")
        raise typer.Exit(code)
    verdicts = {"Trusted": "[bold green]valid, trusted[/] (the signer chains to a trusted CA)",
                "Valid": "[bold green]valid[/] (signature and hashes check; the signer is not on this machine's trust list)"}
    verdict = verdicts.get(report.state, "[bold red]TAMPERED[/] (the media or manifest changed after signing)"
                           if report.tampered else "[bold red]invalid[/]")
    stdout.print(f"{name}: C2PA manifest {verdict}")
    for label, value in _rows(summary):
        stdout.print(f"  {label:<12}{escape(value)}")
    for error in report.errors:
        stdout.print(f"  [red]error[/]       {escape(error)}")
    raise typer.Exit(code)


@friendly_errors
def detect_command(
    file: Path = typer.Argument(..., help="A video (.mp4, .mov, .webm, ...), a .gif, an image or a folder of PNG frames."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    alpha: float = typer.Option(0.01, help="False-positive rate: the share of unwatermarked videos allowed to read as found."),
) -> None:
    """Look for Kinema's invisible watermark in FILE: the verdict and its confidence.

    The watermark survives re-encoding, resizing to half, cropping and dropped frames, which strip
    C2PA metadata. It is public: anyone can check for it (and, knowing how, remove it).

    Exit codes: 0 found, 1 not found, 2 an unreadable file.

    Example: kinema detect clip.mp4 --json
    """
    from kinema.safety.detect import detect_file

    detection = detect_file(file, alpha=alpha)
    code = 0 if detection.found else 1
    if as_json:
        typer.echo(json.dumps({"file": str(file), **detection.to_dict()}, indent=2))
        raise typer.Exit(code)
    name = escape(str(file))
    if detection.found:
        size = "" if detection.scale == 1 else f", in a copy at {detection.scale:g}x size"
        payload = "Kinema" if detection.is_kinema_payload else "unrecognised"
        stdout.print(f"{name}: [bold green]Kinema watermark found[/] (p = {detection.p_value:.1e}, "
                     f"confidence {_percent(detection.confidence)}{size}; payload 0x{detection.payload:08x}, {payload})")
    else:
        stdout.print(f"{name}: [bold yellow]no Kinema watermark found[/] (p = {detection.p_value:.2g}; "
                     f"found needs p < {detection.alpha:g})")
    raise typer.Exit(code)


def _rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines of a manifest summary for people."""
    from kinema.safety.provenance import SAFETY_LAYERS

    rows = [("generator", ", ".join(summary["claim_generator"]))] if summary["claim_generator"] else []
    if summary["action"]:
        source = (summary["digital_source_type"] or "").rsplit("/", 1)[-1]
        rows.append(("action", f"{summary['action']} ({source})" if source else summary["action"]))
    if summary["model"]:
        rows.append(("model", f"{summary['model'].get('name', '')} {summary['model'].get('version', '')}".strip()))
    if summary["settings"]:
        rows.append(("settings", json.dumps(summary["settings"])))
    if summary["safety"]:
        safety = summary["safety"]
        layers = ", ".join(f"{layer} {safety[layer].upper() if safety[layer] == 'off' else safety[layer]}"
                           for layer in (*SAFETY_LAYERS, *sorted(set(safety) - set(SAFETY_LAYERS) - {"disabled"})) if layer in safety)
        rows.append(("safety", layers + ("  (layers turned off for research)" if safety.get("disabled") else "")))
    for ingredient in summary["ingredients"]:
        rows.append(("ingredient", f"{ingredient['title']} ({ingredient['relationship']}, {ingredient['format']})"))
    signer = summary["signer"]
    if signer:
        rows.append(("signer", f"{signer.get('common_name', '?')} ({signer.get('issuer', '?')}, {signer.get('alg', '?')})"))
    return rows


def _percent(confidence: float) -> str:
    """99.99...% without claiming certainty: at most as many 9s as p allows."""
    if confidence >= 1 - 1e-9:
        return "> 99.9999999%"
    return f"{100 * confidence:.4g}%"
