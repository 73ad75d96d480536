"""Client-side encryption of backup parts: AES-256-GCM over 1 MiB frames, so parts of any size stream.

A part starts with a header (magic + a random 8-byte nonce prefix); each frame is a 4-byte length, a flag
byte (1 on the last frame) and the ciphertext with its tag. Nonces are the prefix + the frame counter;
the part's name, the counter and the flag are authenticated with each frame, so reordered, swapped,
truncated or extended parts fail to decrypt. The key is derived once per backup (scrypt, salt in the
manifest) from HARVEST_BACKUP_ENCRYPTION_KEY; a key check in the manifest tells a wrong key from
corruption before anything is touched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harvest.errors import ConfigError, StoreCorruptionError

ALGORITHM = "AES-256-GCM"
FRAME_SIZE = 1024 * 1024
_MAGIC = b"HVBK\x01"
_HEADER = len(_MAGIC) + 8
_TAG = 16
_FRAME_HEAD = struct.Struct(">IB")
_KEY_CHECK_INPUT = b"harvest backup key check"


def generate_key() -> str:
    """A random secret for HARVEST_BACKUP_ENCRYPTION_KEY (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class BackupKey:
    """The key of one backup: derived from the secret and the backup's salt."""

    key: bytes
    salt: bytes

    @classmethod
    def derive(cls, secret: str, salt: bytes | None = None) -> BackupKey:
        salt = salt if salt is not None else os.urandom(16)
        key = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=2**14, r=8, p=1, dklen=32)
        return cls(key, salt)

    @property
    def check(self) -> str:
        return hmac.new(self.key, _KEY_CHECK_INPUT, hashlib.sha256).hexdigest()

    def describe(self) -> dict[str, object]:
        """What the manifest records (never the key itself)."""
        return {
            "algorithm": ALGORITHM,
            "kdf": "scrypt",
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "frame_size": FRAME_SIZE,
            "key_check": self.check,
        }


def key_for_manifest(
    encryption: dict[str, object] | None, secret: str | None, backup_id: str
) -> BackupKey | None:
    """The key to read a backup with, or a clear error when the backup needs one we do not have."""
    if not encryption:
        return None
    if secret is None:
        raise ConfigError(
            f"backup {backup_id} is encrypted: set HARVEST_BACKUP_ENCRYPTION_KEY to the key it was made with"
        )
    key = BackupKey.derive(secret, base64.b64decode(str(encryption.get("salt", ""))))
    if not hmac.compare_digest(key.check, str(encryption.get("key_check", ""))):
        raise ConfigError(
            f"backup {backup_id} was encrypted with another HARVEST_BACKUP_ENCRYPTION_KEY than the one set"
        )
    return key


def _aad(part: str, counter: int, final: bool) -> bytes:
    return part.encode("utf-8") + struct.pack(">QB", counter, final)


class Encryptor:
    """Turns a part's bytes into frames as they come (`update`), and the last frame (`finish`)."""

    def __init__(self, key: BackupKey, part: str) -> None:
        self._aead = AESGCM(key.key)
        self._part = part
        self._prefix = os.urandom(8)
        self._counter = 0
        self._pending = bytearray()
        self._started = False

    def _frame(self, plain: bytes, final: bool) -> bytes:
        nonce = self._prefix + struct.pack(">I", self._counter)
        sealed = self._aead.encrypt(nonce, plain, _aad(self._part, self._counter, final))
        self._counter += 1
        if self._counter >= 2**32:
            raise StoreCorruptionError(f"part {self._part} is too large to encrypt (over 4 PiB)")
        return _FRAME_HEAD.pack(len(sealed), final) + sealed

    def _header(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return _MAGIC + self._prefix

    def update(self, data: bytes) -> bytes:
        self._pending += data
        out = [self._header()]
        # a frame is sealed only once more bytes follow it, so the last one can carry the final flag
        while len(self._pending) > FRAME_SIZE:
            out.append(self._frame(bytes(self._pending[:FRAME_SIZE]), final=False))
            del self._pending[:FRAME_SIZE]
        return b"".join(out)

    def finish(self) -> bytes:
        last = self._header() + self._frame(bytes(self._pending), final=True)
        self._pending.clear()
        return last


class Decryptor:
    """The inverse of Encryptor: feed stored bytes (`update`), get plaintext; `finish` checks the end."""

    def __init__(self, key: BackupKey, part: str) -> None:
        self._aead = AESGCM(key.key)
        self._part = part
        self._buffer = bytearray()
        self._prefix: bytes | None = None
        self._counter = 0
        self._ended = False

    def _corrupt(self, why: str) -> StoreCorruptionError:
        return StoreCorruptionError(f"backup part {self._part} cannot be decrypted: {why}")

    def update(self, data: bytes) -> Iterator[bytes]:
        self._buffer += data
        if self._prefix is None:
            if len(self._buffer) < _HEADER:
                return
            if bytes(self._buffer[: len(_MAGIC)]) != _MAGIC:
                raise self._corrupt("it is not an encrypted Harvest backup part")
            self._prefix = bytes(self._buffer[len(_MAGIC) : _HEADER])
            del self._buffer[:_HEADER]
        while len(self._buffer) >= _FRAME_HEAD.size:
            length, final = _FRAME_HEAD.unpack_from(self._buffer)
            if length < _TAG or length > FRAME_SIZE + _TAG:
                raise self._corrupt(f"frame {self._counter} has an impossible length")
            if len(self._buffer) < _FRAME_HEAD.size + length:
                return
            if self._ended:
                raise self._corrupt("data follows its last frame")
            sealed = bytes(self._buffer[_FRAME_HEAD.size : _FRAME_HEAD.size + length])
            del self._buffer[: _FRAME_HEAD.size + length]
            nonce = self._prefix + struct.pack(">I", self._counter)
            try:
                plain = self._aead.decrypt(nonce, sealed, _aad(self._part, self._counter, bool(final)))
            except InvalidTag:
                raise self._corrupt(
                    f"frame {self._counter} fails authentication (changed or wrong key)"
                ) from None
            self._counter += 1
            self._ended = bool(final)
            yield plain

    def finish(self) -> None:
        if self._buffer or not self._ended:
            raise self._corrupt("it is truncated (its last frame is missing)")
