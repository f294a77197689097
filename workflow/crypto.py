"""Authenticated encryption of personal data at rest, with a key id per value, and blind indexes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_AAD = b"carnation/v1"


class UnknownKeyIdError(Exception):
    """A stored value names a key that is not configured."""


def _derive(material: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(material)


def _parse_key(raw: str) -> tuple[str, bytes]:
    """``kid:secret`` → (kid, 32-byte AES key); a bare secret gets a kid from its hash."""
    if ":" in raw:
        kid, secret = raw.split(":", 1)
    else:
        kid, secret = "h" + hashlib.sha256(raw.encode()).hexdigest()[:8], raw
    if not kid or "." in kid or not secret:
        raise ValueError("an encryption key must look like 'kid:secret'")
    return kid, _derive(secret.encode(), b"carnation personal data")


class Sealer:
    """Seals values with the newest key; opens values sealed with any configured key.

    Stored form: ``{kid}.{base64(nonce | ciphertext+tag)}``. Rotation: put a new key in
    front; old values stay readable while their key is still listed.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        parsed = [_parse_key(key) for key in keys]
        self._current_kid, current = parsed[0]
        self._current = AESGCM(current)
        self._by_kid = {kid: AESGCM(material) for kid, material in parsed}
        # The blind index must stay stable across rotations, so it derives from the
        # oldest key (rotation adds keys in front; the last one is kept longest).
        self._index_key = _derive(keys[-1].encode(), b"carnation blind index")

    def seal(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._current.encrypt(nonce, plaintext.encode("utf-8"), _AAD)
        return f"{self._current_kid}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str) -> str:
        kid, _, body = stored.partition(".")
        aead = self._by_kid.get(kid)
        if aead is None:
            raise UnknownKeyIdError(f"value sealed with unknown key id {kid!r}")
        raw = base64.urlsafe_b64decode(body.encode())
        return aead.decrypt(raw[:12], raw[12:], _AAD).decode("utf-8")

    def seal_json(self, value: Any) -> str | None:
        if value is None:
            return None
        return self.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def open_json(self, stored: str | None) -> Any:
        if stored is None:
            return None
        return json.loads(self.open(stored))

    def blind_index(self, value: str | None) -> str | None:
        """A keyed hash for exact search by phone or ID number; never the plaintext."""
        if not value:
            return None
        normal = "".join(value.split()).upper().replace("-", "")
        return hmac.new(self._index_key, normal.encode("utf-8"), hashlib.sha256).hexdigest()
