"""C2PA provenance on real files written by kinema.video: signed manifests verify, record what the
issue asks for, break when the media changes, and `kinema verify` exits with the documented codes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from kinema.cli.provenance import register
from kinema.safety import provenance as pv
from kinema.video import Video, read_video

SETTINGS = {"prompt": "a small red ball bounces to the right", "seed": 1, "steps": 20, "size": "64x64",
            "weights": Path("weights/kinema-tiny"), "guidance": np.float32(5.0)}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory, so the local signing identity is made fresh."""
    folder = tmp_path / "kinema-home"
    monkeypatch.setenv("KINEMA_HOME", str(folder))
    return folder


@pytest.fixture
def video() -> Video:
    rng = np.random.default_rng(0)
    frames = np.full((9, 64, 96, 3), 20, np.uint8)
    frames[:, 20:40, 30:50] = (220, 40, 40)
    frames += rng.integers(0, 6, frames.shape, dtype=np.uint8)
    return Video(frames, 8.0)


def sign(path: Path, **kwargs: object) -> None:
    pv.sign_file(path, model_name="kinema-tiny", model_version="0.1.0", **kwargs)  # type: ignore[arg-type]


def flip_media_byte(path: Path) -> None:
    """Flip one byte in the middle of the media data (MP4 mdat box or PNG IDAT chunk)."""
    data = bytearray(path.read_bytes())
    if path.suffix == ".mp4":
        offset = 0
        while offset < len(data):
            size, kind = struct.unpack(">I4s", data[offset : offset + 8])
            if kind == b"mdat":
                data[offset + size // 2] ^= 0xFF
                break
            offset += size
    else:
        offset = 8
        while offset < len(data):
            size, kind = struct.unpack(">I4s", data[offset : offset + 8])
            if kind == b"IDAT":
                data[offset + 8 + size // 2] ^= 0xFF
                break
            offset += 12 + size
    assert data != path.read_bytes(), "no media data found to flip"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["clip.mp4", "frame.png", "clip.gif"])
def test_signed_files_verify_and_still_decode(video: Video, tmp_path: Path, home: Path, name: str) -> None:
    path = tmp_path / name
    clip = video.slice(0, 1) if name.endswith(".png") else video
    clip.write(path)
    before, decoded = path.stat().st_size, read_video(path).frames
    sign(path, settings=SETTINGS)
    # No thumbnail: the manifest is a few KB, not the hundreds a thumbnail costs.
    assert path.stat().st_size - before < 20_000
    assert (home / "keys" / pv.KEY_FILE).stat().st_mode & 0o077 == 0  # the private key is private
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging leftovers

    report = pv.verify_file(path)
    assert report.present and report.valid and not report.tampered and report.errors == []
    assert report.state == "Trusted" and report.trusted  # signed with this machine's local CA
    summary = report.summary()
    assert summary["action"] == "c2pa.created"
    assert summary["digital_source_type"] == pv.TRAINED_ALGORITHMIC_MEDIA
    assert summary["model"] == {"name": "kinema-tiny", "version": "0.1.0"}
    assert summary["settings"]["seed"] == 1 and summary["settings"]["weights"] == "weights/kinema-tiny"
    assert summary["safety"] == {"prompt": "on", "frames": "on", "watermark": "on", "disabled": []}
    assert "thumbnail" not in report.manifest
    assert np.array_equal(read_video(path).frames, decoded)  # the manifest is beside the media, not in it


@pytest.mark.parametrize("name", ["clip.mp4", "frame.png"])
def test_changed_media_reads_as_tampered(video: Video, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    (video.slice(0, 1) if name.endswith(".png") else video).write(path)
    sign(path)
    flip_media_byte(path)
    report = pv.verify_file(path)
    assert report.present and not report.valid and report.tampered and report.state == "Invalid"
    assert any("mismatch" in error for error in report.errors)


def test_unsigned_file_reads_as_missing(video: Video, tmp_path: Path) -> None:
    video.write(tmp_path / "plain.mp4")
    report = pv.verify_file(tmp_path / "plain.mp4")
    assert not report.present and not report.valid and not report.tampered and report.state == "missing"


def test_broken_manifest_is_invalid_and_non_media_is_an_error(video: Video, tmp_path: Path) -> None:
    path = tmp_path / "frame.png"
    video.slice(0, 1).write(path)
    sign(path)
    data = bytearray(path.read_bytes())
    data[data.find(b"caBX") + 200] ^= 0xFF  # inside the manifest store itself
    path.write_bytes(bytes(data))
    report = pv.verify_file(path)
    assert report.present and not report.valid and report.state == "Invalid" and report.errors
    (tmp_path / "notes.txt").write_text("not media")
    with pytest.raises(ValueError, match="notes.txt"):
        pv.verify_file(tmp_path / "notes.txt")


def test_disabled_safety_layers_and_ingredients_are_recorded(video: Video, tmp_path: Path) -> None:
    video.slice(0, 1).write(tmp_path / "start.png")
    video.write(tmp_path / "input.mp4")
    video.write(tmp_path / "input_frames/")
    video.write(tmp_path / "out.mp4")
    sign(tmp_path / "out.mp4", disabled_safety=["frames", "watermark"],
         ingredients=[tmp_path / "start.png", tmp_path / "input.mp4", tmp_path / "input_frames"])
    summary = pv.verify_file(tmp_path / "out.mp4").summary()
    assert summary["valid"]
    assert summary["safety"] == {"prompt": "on", "frames": "off", "watermark": "off", "disabled": ["frames", "watermark"]}
    assert {(i["title"], i["relationship"]) for i in summary["ingredients"]} == {
        ("start.png", "inputTo"), ("input.mp4", "inputTo"), ("input_frames", "inputTo")}


def test_users_own_certificate_and_key(video: Video, tmp_path: Path, home: Path) -> None:
    chain, key, ca = pv._issue_identity()  # stands in for a chain issued by the user's own CA
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    video.write(tmp_path / "clip.mp4")
    sign(tmp_path / "clip.mp4", cert=tmp_path / "chain.pem", key=key)
    assert not (home / "keys").exists()  # the local identity was never needed
    report = pv.verify_file(tmp_path / "clip.mp4")
    assert report.valid and report.state == "Valid" and not report.trusted  # unknown CA: valid, untrusted
    assert pv.verify_file(tmp_path / "clip.mp4", trust_anchors=ca).state == "Trusted"
    other_chain, _, _ = pv._issue_identity()
    with pytest.raises(ValueError, match="does not belong"):
        sign(tmp_path / "clip.mp4", cert=other_chain, key=key)
    with pytest.raises(ValueError, match="both"):
        sign(tmp_path / "clip.mp4", cert=chain)


def test_bad_input_fails_cleanly_and_leaves_the_file_alone(video: Video, tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not an mp4 file at all")
    with pytest.raises(ValueError, match="fake.mp4"):
        sign(fake)
    assert fake.read_bytes() == b"this is not an mp4 file at all"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4", "kinema-home"]
    video.write(tmp_path / "clip.mp4")
    with pytest.raises(ValueError, match="unknown safety layers"):
        sign(tmp_path / "clip.mp4", disabled_safety=["everything"])
    with pytest.raises(ValueError, match="JSON"):
        sign(tmp_path / "clip.mp4", settings={"model": object()})
    with pytest.raises(ValueError, match="model_version"):
        pv.sign_file(tmp_path / "clip.mp4", model_name="kinema-tiny", model_version="")
    with pytest.raises(ValueError, match="takes .mp4"):
        (tmp_path / "notes.txt").write_text("hi")
        sign(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError):
        sign(tmp_path / "missing.mp4")
    with pytest.raises(FileNotFoundError):
        sign(tmp_path / "clip.mp4", ingredients=[tmp_path / "missing.png"])


def test_local_identity_is_made_once_and_renewed_when_broken(home: Path) -> None:
    first = pv.local_identity()
    assert pv.local_identity() == first
    (home / "keys" / pv.KEY_FILE).unlink()
    renewed = pv.local_identity()
    assert renewed.key != first.key
    assert len(list(home.glob("keys-retired-*"))) == 1


def test_cli_verify_exit_codes(video: Video, tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    video.write(tmp_path / "signed.mp4")
    sign(tmp_path / "signed.mp4", settings={"seed": 3}, disabled_safety=["frames"])
    video.write(tmp_path / "plain.mp4")

    valid = runner.invoke(app, ["verify", str(tmp_path / "signed.mp4")])
    assert valid.exit_code == 0, valid.output
    assert "valid" in valid.output and "kinema-tiny 0.1.0" in valid.output and "frames OFF" in valid.output
    as_json = runner.invoke(app, ["verify", str(tmp_path / "signed.mp4"), "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["safety"]["disabled"] == ["frames"]

    missing = runner.invoke(app, ["verify", str(tmp_path / "plain.mp4")])
    assert missing.exit_code == 1 and "no C2PA manifest" in missing.output

    flip_media_byte(tmp_path / "signed.mp4")
    tampered = runner.invoke(app, ["verify", str(tmp_path / "signed.mp4"), "--json"])
    assert tampered.exit_code == 2 and json.loads(tampered.output)["tampered"]
    assert runner.invoke(app, ["verify", str(tmp_path / "nope.mp4")]).exit_code == 2


def test_identity_from_the_environment(video: Video, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$KINEMA_SIGN_CERT/$KINEMA_SIGN_KEY sign every file without code (the CLI, the server's workers)."""
    chain, key, ca = pv._issue_identity()
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    video.write(tmp_path / "clip.mp4")
    monkeypatch.setenv(pv.SIGN_CERT_ENV, str(tmp_path / "chain.pem"))
    monkeypatch.setenv(pv.SIGN_KEY_ENV, str(tmp_path / "key.pem"))
    sign(tmp_path / "clip.mp4")
    assert not (home / "keys").exists()
    assert pv.verify_file(tmp_path / "clip.mp4", trust_anchors=ca).state == "Trusted"  # signed under the user's CA
    monkeypatch.delenv(pv.SIGN_KEY_ENV)
    with pytest.raises(ValueError, match="KINEMA_SIGN_CERT is set but \\$KINEMA_SIGN_KEY is not"):
        sign(tmp_path / "clip.mp4")
    monkeypatch.setenv(pv.SIGN_KEY_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(ValueError, match="no such key file"):
        sign(tmp_path / "clip.mp4")
    _, other_key, _ = pv._issue_identity()
    monkeypatch.setenv(pv.SIGN_KEY_ENV, other_key.decode())  # PEM text itself, and not this certificate's key
    with pytest.raises(ValueError, match="does not belong") as caught:
        sign(tmp_path / "clip.mp4")
    assert "<PEM text>" in str(caught.value) and "PRIVATE KEY" not in str(caught.value)  # a key is never echoed


def test_cli_signs_with_the_users_certificate(tiny_weights: Path, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kinema.cli import app

    chain, key, ca = pv._issue_identity()
    other_chain, other_key, _ = pv._issue_identity()
    for name, pem in (("chain.pem", chain), ("key.pem", key), ("other.key", other_key)):
        (tmp_path / name).write_bytes(pem)
    for name in (pv.SIGN_CERT_ENV, pv.SIGN_KEY_ENV):
        monkeypatch.setenv(name, "")  # the CLI sets them for its process; restored after the test
    runner = CliRunner()
    out = tmp_path / "still.png"
    result = runner.invoke(app, ["--sign-cert", str(tmp_path / "chain.pem"), "--sign-key", str(tmp_path / "key.pem"),
                                 "generate", "a red ball", "-o", str(out), "--frames", "1", "--steps", "2",
                                 "--weights", str(tiny_weights), "--no-frame-check"])
    assert result.exit_code == 0, result.output
    assert not (home / "keys").exists()
    assert pv.verify_file(out, trust_anchors=ca).state == "Trusted"
    wrong = runner.invoke(app, ["--sign-cert", str(tmp_path / "chain.pem"), "--sign-key", str(tmp_path / "other.key"),
                                "generate", "a red ball", "-o", str(tmp_path / "x.png"), "--frames", "1"])
    assert wrong.exit_code == 2 and "does not belong" in wrong.output and not (tmp_path / "x.png").exists()


def test_cli_records_the_sampler_settings(tiny_weights: Path, tmp_path: Path, home: Path) -> None:
    """A non-default shift and guidance interval are in the signed manifest's settings."""
    from kinema.cli import app

    out = tmp_path / "still.png"
    result = CliRunner().invoke(app, ["generate", "a red ball", "-o", str(out), "--frames", "1", "--steps", "2",
                                      "--shift", "2", "--guidance-interval", "0.3,1",
                                      "--weights", str(tiny_weights), "--no-frame-check"])
    assert result.exit_code == 0, result.output
    settings = pv.verify_file(out).summary()["settings"]
    assert settings["shift"] == 2.0 and settings["guidance_interval"] == "0.3,1" and settings["steps"] == 2
