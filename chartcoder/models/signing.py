"""Pack signatures: who may make a pack this server loads.

A pack's manifest lists the SHA-256 of every file in it (the model card, so the pack's metadata, and
the pickled ranker). Anyone who can write a pack can recompute those hashes, so the manifest alone
proves nothing about where a pack came from. `MANIFEST.sig` holds an Ed25519 signature over the exact
bytes of the manifest, and the public key that made it; a pack is loaded only when that key is one the
loader trusts and the signature matches, and this is checked before any file of the pack is unpickled.

Keys:
- the trainer's key (CHARTCODER_PACK_SIGNING_KEY, default ~/.config/chartcoder/pack-signing.key):
  `chartcoder train` and `chartcoder models sign` sign with it; made on first use, readable only by
  its owner. `chartcoder models key` prints its public half for a server's trusted-keys setting.
- the server's own key (DATA_DIR/pack-signing.key): signs the default pack `chartcoder serve` builds
  on first start. A server always trusts it.
- CHARTCODER_TRUSTED_PACK_KEYS: further public keys ("ssh-ed25519 AAAA..." lines, or files holding
  them), e.g. a training machine's. The local trainer's key is trusted too unless
  CHARTCODER_TRUST_LOCAL_SIGNING_KEY=false.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chartcoder.models.pack import SIGNATURE, PackError

if TYPE_CHECKING:
    from chartcoder.config import Settings

SIGNATURE_FORMAT = "chartcoder.pack-signature.v1"
# Domain separation: these bytes are signed before the manifest, so a pack signature cannot be
# replayed as a signature of anything else made with the same key (and the other way round).
_CONTEXT = b"chartcoder model pack manifest v1\n"
SERVER_KEY_FILE = "pack-signing.key"
log = logging.getLogger("chartcoder.packs")
DEFAULT_TRAINER_KEY = Path("~/.config/chartcoder/pack-signing.key")


class SignatureError(PackError):
    """A pack whose signature is missing, made by a key nobody trusts, or does not match."""


@dataclass(frozen=True)
class TrustedKey:
    key: Ed25519PublicKey
    origin: str  # where it was configured, for messages

    @property
    def raw(self) -> bytes:
        return public_bytes(self.key)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: SHA-256 of its 32 raw bytes, first 16 hex digits."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def public_text(key: Ed25519PublicKey, comment: str = "chartcoder-pack-key") -> str:
    """The OpenSSH one-line form, what CHARTCODER_TRUSTED_PACK_KEYS and .pub files hold."""
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}"


# -- private keys ---------------------------------------------------------------------------------
def load_or_create_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in `path` (PEM, PKCS#8); made on first use, 0600 (in a 0700 folder if
    it makes the folder), with a `.pub` beside it. Two processes making it at once end up with the
    same key: it is written to a private temporary file and linked into place, and the loser reads
    the winner's."""
    from chartcoder.files import private_dir, write_private

    path = Path(path).expanduser()
    if not path.exists():
        private_dir(path.parent)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp makes it 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    key = read_private_key(path)
    pub = path.with_name(path.name + ".pub")
    if not pub.exists():
        with contextlib.suppress(OSError):  # 0600 too: the data folder holds nothing others may read
            write_private(pub, public_text(key.public_key()) + "\n")
    return key


def read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the pack signing key ({exc.strerror or exc})") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: a {type(key).__name__}; pack signing keys are Ed25519")
    return key


def trainer_key_path(settings: Settings) -> Path:
    return Path(settings.pack_signing_key or DEFAULT_TRAINER_KEY).expanduser()


def server_key_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / SERVER_KEY_FILE


def trainer_key(settings: Settings | None = None) -> Ed25519PrivateKey:
    """The key `chartcoder train` and `models sign` sign with."""
    from chartcoder.config import get_settings

    return load_or_create_key(trainer_key_path(settings or get_settings()))


def server_key(settings: Settings | None = None) -> Ed25519PrivateKey:
    """The server's own key, in its data folder: it signs the default pack `serve` builds."""
    from chartcoder.config import get_settings

    return load_or_create_key(server_key_path(settings or get_settings()))


# -- trusted public keys ----------------------------------------------------------------------------
def parse_public_keys(text: str, origin: str) -> list[TrustedKey]:
    """Every key in `text`: OpenSSH lines ("ssh-ed25519 AAAA... comment"; blank and # lines skipped)
    or one PEM public key."""
    if "-----BEGIN PUBLIC KEY-----" in text:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise SignatureError(f"{origin}: not a PEM public key ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"{origin}: a {type(key).__name__}; pack keys are Ed25519")
        return [TrustedKey(key, origin)]
    keys = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts[0] != "ssh-ed25519" or len(parts) < 2:
            raise SignatureError(f"{origin}, line {lineno}: expected 'ssh-ed25519 AAAA...' (`chartcoder models key`)")
        try:
            ssh_key = serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
        except (ValueError, binascii.Error) as exc:
            raise SignatureError(f"{origin}, line {lineno}: not a valid ssh-ed25519 public key ({exc})") from exc
        if not isinstance(ssh_key, Ed25519PublicKey):
            raise SignatureError(f"{origin}, line {lineno}: not an Ed25519 key")
        keys.append(TrustedKey(ssh_key, origin))
    return keys


def configured_keys(spec: str) -> list[TrustedKey]:
    """CHARTCODER_TRUSTED_PACK_KEYS: comma-separated entries, each a public key line or a file of them."""
    keys: list[TrustedKey] = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        if entry.startswith("ssh-ed25519 "):
            keys += parse_public_keys(entry, "CHARTCODER_TRUSTED_PACK_KEYS")
            continue
        path = Path(entry).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SignatureError(
                f"CHARTCODER_TRUSTED_PACK_KEYS: {entry!r} is neither an 'ssh-ed25519 AAAA...' key nor a readable "
                f"key file ({getattr(exc, 'strerror', None) or exc})"
            ) from exc
        keys += parse_public_keys(text, str(path))
    return keys


def trusted_keys(settings: Settings | None = None) -> list[TrustedKey]:
    """The keys whose packs load here: the server's own, this user's trainer key (unless turned off) and
    CHARTCODER_TRUSTED_PACK_KEYS. A key file that does not exist yet is simply not trusted (keys are
    made when something is first signed, never when something is loaded)."""
    from chartcoder.config import get_settings

    settings = settings or get_settings()
    own = [server_key_path(settings)]
    if settings.trust_local_signing_key:
        own.append(trainer_key_path(settings))
    keys = []
    for p in own:
        if not p.is_file():
            continue
        try:
            keys.append(TrustedKey(read_private_key(p).public_key(), str(p)))
        except SignatureError as exc:  # e.g. another user's key file: not trusted, and said once per load
            log.warning("pack signing key not trusted: %s", exc)
    return keys + configured_keys(settings.trusted_pack_keys)


# -- signing and checking ---------------------------------------------------------------------------
def sign_manifest(pack: Path, manifest: bytes, key: Ed25519PrivateKey) -> str:
    """Write `pack/MANIFEST.sig` for these manifest bytes; return the key's id."""
    public = key.public_key()
    doc = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "Ed25519",
        "key": public_text(public).split(" ")[1],
        "key_id": key_id(public),
        "signature": base64.b64encode(key.sign(_CONTEXT + manifest)).decode(),
    }
    tmp = pack / f".{SIGNATURE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(pack / SIGNATURE)
    return doc["key_id"]


def read_signature(pack: Path) -> dict[str, Any] | None:
    path = pack / SIGNATURE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{path}: not a pack signature ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT or doc.get("algorithm") != "Ed25519":
        raise SignatureError(f"{path}: expected a {SIGNATURE_FORMAT} Ed25519 signature")
    return doc


def check_signature(pack: Path, manifest: bytes, trusted: list[TrustedKey]) -> str:
    """Refuse unless `pack`'s signature over these manifest bytes was made by a trusted key; return the
    key's id. Reads only small text files: nothing in the pack is unpickled here."""
    doc = read_signature(pack)
    if doc is None:
        raise SignatureError(
            f"{pack}: this pack is not signed (made before chartcoder signed its packs, or its signature was "
            "removed). A pack holds pickled objects, so only packs signed by a trusted key are loaded. If you "
            f"trust where it came from, sign it with your key: `chartcoder models sign {pack}`; or retrain it "
            "with `chartcoder train`."
        )
    try:
        raw_key = serialization.load_ssh_public_key(f"ssh-ed25519 {doc.get('key', '')}".encode())
        signature = base64.b64decode(str(doc.get("signature", "")), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SignatureError(f"{pack / SIGNATURE}: unreadable key or signature ({exc})") from exc
    if not isinstance(raw_key, Ed25519PublicKey):
        raise SignatureError(f"{pack / SIGNATURE}: not an Ed25519 key")
    wanted = public_bytes(raw_key)
    match = next((t for t in trusted if t.raw == wanted), None)
    if match is None:
        raise SignatureError(
            f"{pack}: signed by key {key_id(raw_key)}, which this server does not trust. If you trust the "
            "person or machine that holds it, add its public key (`chartcoder models key` there prints it) to "
            "CHARTCODER_TRUSTED_PACK_KEYS; or sign the pack with a trusted key (`chartcoder models sign`)."
        )
    try:
        match.key.verify(signature, _CONTEXT + manifest)
    except InvalidSignature:
        raise SignatureError(
            f"{pack}: its signature (key {key_id(raw_key)}) does not match its manifest; the pack was changed "
            "after it was signed"
        ) from None
    return key_id(raw_key)


def signer_line(pack: str | Path) -> str:
    """The public key (OpenSSH line) that signed `pack`, as its MANIFEST.sig names it: for a caller that
    has just verified the pack with its own trusted keys and hands that one key to another process
    (bulk coding's executors) so it verifies the same pack the same way."""
    doc = read_signature(Path(pack))
    if doc is None:
        raise SignatureError(f"{pack}: not signed")
    return f"ssh-ed25519 {doc.get('key', '')}"
