"""C2PA provenance: sign every file Kinema writes, and verify any file handed back.

Contract
- ``sign_file(path, *, model_name, model_version, ingredients=(), settings=None, disabled_safety=(),
  cert=None, key=None)`` embeds a signed C2PA manifest into the .mp4, .png or .gif at ``path``, in
  place and atomically (the signed copy is written next to it, then renamed over it). The manifest
  holds one ``c2pa.created`` action with digitalSourceType ``TRAINED_ALGORITHMIC_MEDIA``, the model
  as its softwareAgent (name, version), the generation ``settings`` and the state of every safety
  layer (``SAFETY_LAYERS``: on, or off when named in ``disabled_safety``) as its parameters, and
  each input file of a conditioned mode as an ``inputTo`` ingredient. No thumbnails are embedded
  (a PNG thumbnail adds hundreds of KB to a 64 px clip): a signature adds about 3-4 KB.
- Signing identity: ``cert`` (PEM chain, signing certificate first) and ``key`` (PEM private key),
  each a path or the PEM itself, both or neither. Neither: the files named by the environment
  variables ``KINEMA_SIGN_CERT`` and ``KINEMA_SIGN_KEY`` when set (so the CLI's
  ``kinema --sign-cert C --sign-key K ...``, the server and its workers sign as the user's
  organisation without code), else the local identity of
  ``local_identity()``, created on first use under ``kinema_home()/keys/``: a local CA and an ES256
  signing certificate it issued (C2PA refuses self-signed signing certificates), valid 10 years.
  The CA's private key is not kept: nothing else can be issued under it.
- ``verify_file(path)`` -> ``VerifyReport``: ``present`` (a manifest is embedded), ``valid`` (its
  signature and every hash check), ``tampered`` (a hash or signature no longer matches: the media
  or the manifest changed after signing), ``trusted`` (the signer chains to a trust anchor: the
  local CA counts, so files signed on this machine read "Trusted", elsewhere "Valid"),
  ``state`` ("missing", "Invalid", "Valid" or "Trusted"), the active ``manifest`` and ``errors``.
  A file C2PA cannot parse at all (not media, an unsupported type) raises ValueError.
- Everything is offline: no timestamp authority, no remote manifests, no OCSP. Bad arguments raise
  ValueError naming the value; a missing file raises FileNotFoundError.
- Turning provenance itself off cannot be recorded (there is no manifest); every other layer that is
  turned off is named in the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from kinema import __version__
from kinema.home import kinema_home

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SAFETY_LAYERS = ("prompt", "frames", "watermark")  # provenance is the fourth: off means no manifest
MIME_TYPES = {".mp4": "video/mp4", ".png": "image/png", ".gif": "image/gif"}
INGREDIENT_MIME_TYPES = {**MIME_TYPES, ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
                         ".mov": "video/quicktime", ".m4v": "video/x-m4v"}
CERT_FILE, KEY_FILE, CA_FILE = "kinema-signer-chain.pem", "kinema-signer.key", "kinema-local-ca.pem"
VALID_YEARS = 10
OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}

PemSource = Union[str, bytes, "os.PathLike[str]"]


@dataclass(frozen=True)
class SigningIdentity:
    """A PEM certificate chain (signing certificate first) and its PEM private key."""

    chain: bytes
    key: bytes
    ca: bytes | None = None  # the local CA, a trust anchor for verification, when known


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify_file`` found."""

    present: bool
    valid: bool
    tampered: bool
    manifest: dict[str, Any] = field(default_factory=dict)  # the active manifest, as c2pa reads it
    errors: list[str] = field(default_factory=list)  # "code: explanation" of every failed check
    trusted: bool = False
    state: str = "missing"

    def summary(self) -> dict[str, Any]:
        """The manifest's gist: generator, action, model, settings, safety, ingredients, signer."""
        manifest = self.manifest
        created: dict[str, Any] = {}
        for assertion in manifest.get("assertions", []):
            if assertion.get("label", "").startswith("c2pa.actions"):
                created = next((a for a in assertion["data"].get("actions", []) if a.get("action") == "c2pa.created"), created)
        parameters = created.get("parameters", {})
        return {
            "state": self.state, "valid": self.valid, "tampered": self.tampered, "trusted": self.trusted,
            "title": manifest.get("title"),
            "claim_generator": [f"{g.get('name')} {g.get('version', '')}".strip() for g in manifest.get("claim_generator_info", [])],
            "action": created.get("action"), "digital_source_type": created.get("digitalSourceType"),
            "model": created.get("softwareAgent"),
            "settings": parameters.get("org.kinema.settings"), "safety": parameters.get("org.kinema.safety"),
            "ingredients": [{"title": i.get("title"), "format": i.get("format"), "relationship": i.get("relationship")}
                            for i in manifest.get("ingredients", [])],
            "signer": {k: v for k, v in manifest.get("signature_info", {}).items() if k in ("issuer", "common_name", "alg", "time")},
            "errors": self.errors,
        }


def sign_file(path: str | os.PathLike[str], *, model_name: str, model_version: str, ingredients: Iterable[str | os.PathLike[str]] = (),
              settings: Mapping[str, Any] | None = None, disabled_safety: Iterable[str] = (),
              cert: PemSource | None = None, key: PemSource | None = None) -> None:
    """Embed a signed C2PA manifest into ``path`` (.mp4, .png or .gif), in place; see the module docstring."""
    import c2pa

    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no such file to sign: {target}")
    mime = MIME_TYPES.get(target.suffix.lower())
    if mime is None:
        raise ValueError(f"cannot sign {target}: C2PA signing here takes {', '.join(MIME_TYPES)} files")
    for name, value in (("model_name", model_name), ("model_version", model_version)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} is {value!r}; it must be a non-empty string")
    disabled = sorted(set(disabled_safety))
    unknown = [layer for layer in disabled if layer not in SAFETY_LAYERS]
    if unknown:
        raise ValueError(f"unknown safety layers {unknown}; allowed: {', '.join(SAFETY_LAYERS)}")
    inputs = [Path(p) for p in ingredients]
    for item in inputs:
        if not item.exists():
            raise FileNotFoundError(f"no such ingredient (input media): {item}")
    identity = _identity_from(cert, key) if cert is not None or key is not None else configured_identity()

    safety = {layer: "off" if layer in disabled else "on" for layer in SAFETY_LAYERS}
    parameters: dict[str, Any] = {"org.kinema.settings": _json_safe(dict(settings or {})),
                                  "org.kinema.safety": {**safety, "disabled": disabled}}
    if disabled:
        parameters["description"] = f"generated with safety layers turned off for research: {', '.join(disabled)}"
    action = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
              "softwareAgent": {"name": model_name, "version": model_version}, "parameters": parameters}
    definition: dict[str, Any] = {
        "claim_generator_info": [{"name": "Kinema", "version": __version__}],
        "title": target.name,
        "format": mime,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
        "ingredients": [_described_ingredient(p) for p in inputs if _ingredient_mime(p) is None],
    }
    context = c2pa.Context.from_dict({**OFFLINE, "builder": {"thumbnail": {"enabled": False}}})
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.signing{target.suffix}")
    try:
        info = c2pa.C2paSignerInfo(_algorithm(identity.key), identity.chain, identity.key, None)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(definition, context=context) as builder:
            for item in inputs:
                item_mime = _ingredient_mime(item)
                if item_mime is not None:
                    with item.open("rb") as stream:
                        builder.add_ingredient({"title": item.name, "relationship": "inputTo"}, item_mime, stream)
            with target.open("rb") as source, staging.open("w+b") as signed:
                builder.sign(signer, mime, source, signed)
                signed.flush()
                os.fsync(signed.fileno())
        shutil.copymode(target, staging)
        os.replace(staging, target)
    except c2pa.C2paError as error:
        raise ValueError(f"C2PA signing of {target} failed: {error}") from None
    finally:
        staging.unlink(missing_ok=True)


def verify_file(path: str | os.PathLike[str], *, trust_anchors: PemSource | None = None) -> VerifyReport:
    """Read and validate the C2PA manifest of ``path``; ``trust_anchors`` adds PEM root certificates."""
    import c2pa

    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no such file to verify: {target}")
    anchors = _pem(trust_anchors, "trust_anchors").decode() if trust_anchors is not None else ""
    local_ca = kinema_home() / "keys" / CA_FILE
    if local_ca.is_file():
        anchors += local_ca.read_text()
    context = c2pa.Context.from_dict({**OFFLINE, **({"trust": {"user_anchors": anchors}} if anchors else {})})
    try:
        with target.open("rb") as stream:
            reader = c2pa.Reader.try_create(_reader_format(target), stream, None, context)
            if reader is None:
                return VerifyReport(present=False, valid=False, tampered=False)
            with reader:
                store = json.loads(reader.json())
    except (c2pa.C2paError.NotSupported, c2pa.C2paError.Io) as error:
        raise ValueError(f"cannot read {target} as a media file C2PA knows: {error}") from None
    except c2pa.C2paError as error:  # a manifest is there, but broken
        return VerifyReport(present=True, valid=False, tampered=False, state="Invalid",
                            errors=[f"manifest unreadable: {error}"])
    manifest = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    results = store.get("validation_results") or {}
    failures = list(results.get("activeManifest", {}).get("failure", []))
    for delta in results.get("ingredientDeltas", []):
        failures += delta.get("validationDeltas", {}).get("failure", [])
    codes = [f.get("code", "") for f in failures]
    errors = [f"{f.get('code')}: {f.get('explanation', '')}" for f in failures if f.get("code") != "signingCredential.untrusted"]
    state = str(store.get("validation_state", "Invalid"))
    return VerifyReport(present=True, valid=state in ("Valid", "Trusted"), tampered=any(c.endswith("mismatch") for c in codes),
                        manifest=manifest, errors=errors, trusted=state == "Trusted", state=state)


SIGN_CERT_ENV, SIGN_KEY_ENV = "KINEMA_SIGN_CERT", "KINEMA_SIGN_KEY"


def configured_identity() -> SigningIdentity:
    """The identity named by $KINEMA_SIGN_CERT and $KINEMA_SIGN_KEY (both or neither), else the local one."""
    cert, key = os.environ.get(SIGN_CERT_ENV) or None, os.environ.get(SIGN_KEY_ENV) or None
    if cert is None and key is None:
        return local_identity()
    if cert is None or key is None:
        given, missing = (SIGN_CERT_ENV, SIGN_KEY_ENV) if cert else (SIGN_KEY_ENV, SIGN_CERT_ENV)
        raise ValueError(f"${given} is set but ${missing} is not: set both (PEM certificate chain and its private key) or neither")
    try:
        return _identity_from(cert, key)
    except (ValueError, FileNotFoundError) as error:
        shown = [value if not value.lstrip().startswith("-----BEGIN") else "<PEM text>" for value in (cert, key)]
        raise ValueError(f"${SIGN_CERT_ENV}={shown[0]}, ${SIGN_KEY_ENV}={shown[1]}: {error}") from None  # never echo a key


def local_identity() -> SigningIdentity:
    """Kinema's local signing identity, created on first use (or when expired) in kinema_home()/keys/."""
    home = kinema_home()
    keys = home / "keys"
    identity = _read_identity(keys)
    if identity is not None:
        return identity
    if keys.exists():  # incomplete or expired: keep it aside (old files still name its CA), start afresh
        keys.rename(home / f"keys-retired-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}")
    staging = home / f".keys-{uuid.uuid4().hex}"
    staging.mkdir(mode=0o700)
    chain, key, ca = _issue_identity()
    (staging / CERT_FILE).write_bytes(chain)
    (staging / CA_FILE).write_bytes(ca)
    key_path = staging / KEY_FILE
    key_path.touch(mode=0o600)
    key_path.write_bytes(key)
    try:
        staging.rename(keys)  # atomic: a concurrent first use either wins or finds ours
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    identity = _read_identity(keys)
    if identity is None:
        raise ValueError(f"could not create a signing identity in {keys}; delete that folder and try again")
    return identity


# --- certificates ---------------------------------------------------------------------------------


def _issue_identity() -> tuple[bytes, bytes, bytes]:
    """(chain PEM: signer + CA, signer key PEM, CA PEM): a fresh local CA and the ES256 signer it issues."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)  # tolerate small clock skew

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kinema (local)")])

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                             crl_sign=not sign, encipher_only=False, decipher_only=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Kinema local CA")).issuer_name(name("Kinema local CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * 2 * VALID_YEARS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(sign=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (x509.CertificateBuilder().subject_name(name("Kinema local signer")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365 * VALID_YEARS))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(sign=True), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return signer.public_bytes(pem) + ca.public_bytes(pem), key_pem, ca.public_bytes(pem)


def _read_identity(keys: Path) -> SigningIdentity | None:
    """The identity in ``keys`` when complete and its signing certificate valid for another day."""
    from cryptography import x509

    paths = [keys / CERT_FILE, keys / KEY_FILE, keys / CA_FILE]
    if not all(p.is_file() for p in paths):
        return None
    chain, key, ca = (p.read_bytes() for p in paths)
    try:
        expires = x509.load_pem_x509_certificate(chain).not_valid_after_utc
    except ValueError:
        return None
    if expires < dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1):
        return None
    return SigningIdentity(chain=chain, key=key, ca=ca)


def _identity_from(cert: PemSource | None, key: PemSource | None) -> SigningIdentity:
    """A user's certificate chain and key, checked to belong together; the key re-encoded as PKCS#8."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if cert is None or key is None:
        raise ValueError("pass both cert (PEM certificate chain) and key (PEM private key), or neither for the local identity")
    chain, key_pem = _pem(cert, "cert"), _pem(key, "key")
    try:
        certificate = x509.load_pem_x509_certificate(chain)
    except ValueError as error:
        raise ValueError(f"cert is not a PEM certificate chain: {error}") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"key is not an unencrypted PEM private key: {error}") from None
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*raw) != private.public_key().public_bytes(*raw):
        raise ValueError("key does not belong to the first certificate of cert (the signing certificate)")
    pkcs8 = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningIdentity(chain=chain, key=pkcs8)


def _algorithm(key_pem: bytes) -> str:
    """The C2PA signing algorithm for a PEM private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    private = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if private.curve.name in curves:
            return curves[private.curve.name]
    elif isinstance(private, rsa.RSAPrivateKey):
        return "ps256"  # C2PA allows RSA only with PSS padding
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise ValueError(f"unsupported key type {type(private).__name__}; use EC P-256/384/521, RSA or Ed25519")


def _pem(source: PemSource, what: str) -> bytes:
    """PEM bytes from PEM text/bytes or a path to a PEM file."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        return source.encode()
    if isinstance(source, (str, os.PathLike)):
        file = Path(source)
        if not file.is_file():
            raise FileNotFoundError(f"no such {what} file: {file}")
        return file.read_bytes()
    raise ValueError(f"{what} must be PEM text or bytes or a path, got {type(source).__name__}")


# --- manifest pieces --------------------------------------------------------------------------------


def _ingredient_mime(item: Path) -> str | None:
    return INGREDIENT_MIME_TYPES.get(item.suffix.lower()) if item.is_file() else None


def _described_ingredient(item: Path) -> dict[str, Any]:
    """An ingredient c2pa cannot read (a folder of frames, another format): named and hashed."""
    files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    kind = f"folder of {len(files)} files" if item.is_dir() else "file"
    return {"title": item.name or str(item), "format": "application/octet-stream", "relationship": "inputTo",
            "description": f"{kind}, sha256 {digest.hexdigest()}"}


def _json_safe(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` as plain JSON (paths and numpy values converted); ValueError for anything else."""
    def convert(value: Any) -> Any:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, (set, frozenset)):
            return sorted(value)
        raise TypeError(f"{type(value).__name__} value {value!r}")

    try:
        result: dict[str, Any] = json.loads(json.dumps(settings, default=convert, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"settings must be JSON-serialisable; cannot store {error}") from None
    return result


def _reader_format(target: Path) -> str | None:
    """The MIME type c2pa should read ``target`` as; None lets it detect the type from the bytes."""
    return INGREDIENT_MIME_TYPES.get(target.suffix.lower())
