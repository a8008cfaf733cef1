"""The issuer's keys: PEM files read as kube's keyutil does, a generated key pair, kube's key ids.

Verifying keys come from ``--service-account-key-file`` (public keys, or private keys whose
public half is used, several per file) and the signing key's own public half; the signing key is
``--service-account-signing-key-file`` or, without it, an RSA 2048 key generated once into
``--cert-dir`` and reused on restart.

The keys are read from their files on first use (:class:`KeySet`), and cryptography and PyJWT are
imported then: about 9 MB of RSS and 60 ms of startup that a server which never issues or checks
a service-account token does not pay. Key files named by flags are parsed at startup all the same
(``kernel_validate_options``), so a bad one still stops the server there.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

GENERATED_KEY = "service-account.key"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.S)
_CURVE_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class KeyFileError(ValueError):
    """A key file that holds no usable key."""


def key_id(public: PublicKey) -> str:
    """kube's keyIDFromPublicKey: base64url (unpadded) SHA-256 of the DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def algorithm(key: PublicKey | PrivateKey) -> str:
    """The JOSE algorithm kube signs with for this key: RS256, or ES256/384/512 by curve."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        alg = _CURVE_ALGS.get(key.curve.name)
        if alg:
            return alg
    raise KeyFileError("unknown key type, must be an RSA key or an ECDSA key on P-256, P-384 or P-521")


def _parse_block(block: bytes) -> PublicKey | PrivateKey | None:
    from cryptography.hazmat.primitives import serialization

    kind = block.split(b"-----")[1].removeprefix(b"BEGIN ")
    if kind.endswith(b"PRIVATE KEY"):
        return serialization.load_pem_private_key(block, password=None)  # type: ignore[return-value]
    if kind.endswith(b"PUBLIC KEY"):
        return serialization.load_pem_public_key(block)  # type: ignore[return-value]
    return None  # certificates and other blocks are skipped, as keyutil does


def public_keys_from_file(path: str) -> list[PublicKey]:
    """Every RSA/ECDSA key in a PEM file, as public keys; KeyFileError when there is none."""
    data = Path(path).read_bytes()
    keys: list[PublicKey] = []
    for match in _PEM_BLOCK.finditer(data):
        try:
            key = _parse_block(match.group(0))
        except ValueError as error:
            raise KeyFileError(f"error reading public key file {path}: {error}") from None
        if key is None:
            continue
        public = key.public_key() if hasattr(key, "private_bytes") else key
        algorithm(public)  # refuses other key types
        keys.append(public)  # type: ignore[arg-type]
    if not keys:
        raise KeyFileError(f"error reading public key file {path}: data does not contain any valid "
                        "RSA or ECDSA public keys")
    return keys


def private_key_from_file(path: str) -> PrivateKey:
    """The first RSA/ECDSA private key of a PEM file (kube's keyutil.PrivateKeyFromFile)."""
    from cryptography.hazmat.primitives import serialization

    data = Path(path).read_bytes()
    for match in _PEM_BLOCK.finditer(data):
        block = match.group(0)
        if b"PRIVATE KEY" not in block.split(b"\n", 1)[0]:
            continue
        try:
            key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError) as error:
            raise KeyFileError(f"error reading private key file {path}: {error}") from None
        algorithm(key)  # type: ignore[arg-type]
        return key  # type: ignore[return-value]
    raise KeyFileError(f"error reading private key file {path}: data does not contain a valid RSA "
                    "or ECDSA private key")


def ensure_generated_key(cert_dir: str) -> str:
    """``<cert-dir>/service-account.key``: made once (RSA 2048, mode 0600), then reused."""
    path = Path(cert_dir) / GENERATED_KEY
    if path.exists():
        return str(path)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.replace(tmp, path)  # a concurrent start never reads half a key
    return str(path)


def jwk(public: PublicKey) -> dict[str, Any]:
    """The public JWK kube publishes: use sig, kube's kid, the key's algorithm."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import ECAlgorithm, RSAAlgorithm

    convert = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    fields: dict[str, Any] = convert.to_jwk(public, as_dict=True)  # type: ignore[call-overload]
    fields.pop("key_ops", None)  # PyJWT adds it; kube's JWKS has no key_ops
    return {"use": "sig", "kty": fields.pop("kty"), "kid": key_id(public), "alg": algorithm(public),
            **fields}


class KeySet:
    """The signing key and every verifying public key (the signing key's own included), each read
    from its file on first use (see the module docstring)."""

    def __init__(self, signing_key_file: str, key_files: Sequence[str] = ()) -> None:
        self.signing_key_file = signing_key_file
        self.key_files = tuple(key_files)

    @functools.cached_property
    def signing_key(self) -> PrivateKey:
        return private_key_from_file(self.signing_key_file)

    @functools.cached_property
    def public_keys(self) -> tuple[PublicKey, ...]:
        publics = [key for path in self.key_files for key in public_keys_from_file(path)]
        own = self.signing_key.public_key()
        if key_id(own) not in {key_id(k) for k in publics}:
            publics.insert(0, own)
        return tuple(publics)

    @functools.cached_property
    def signing_kid(self) -> str:
        return key_id(self.signing_key.public_key())

    @functools.cached_property
    def by_kid(self) -> dict[str, list[PublicKey]]:
        keys: dict[str, list[PublicKey]] = {}
        for key in self.public_keys:
            keys.setdefault(key_id(key), []).append(key)
        return keys


def load_key_set(signing_key_file: str, key_files: list[str]) -> KeySet:
    """The key set of these files, read when first used. The signing key file must hold a PEM
    private key block now (a cheap check, without parsing it): the generated key is the kernel's
    own, and files named by flags were parsed by the options' validation."""
    if not any(b"PRIVATE KEY" in match.group(1) for match in _PEM_BLOCK.finditer(
            Path(signing_key_file).read_bytes())):
        raise KeyFileError(f"error reading private key file {signing_key_file}: data does not "
                           "contain a valid RSA or ECDSA private key")
    return KeySet(signing_key_file, key_files)
