"""Static API keys: the ones in the settings (CHARTCODER_API_KEYS) and the local key file `serve` creates.
They act as the EHR role; stored keys (with their own roles) are in the database."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from chartcoder.config import Settings
from chartcoder.files import private_dir


def ensure_local_key(settings: Settings) -> tuple[str, bool]:
    """The local API key, created (0600) on first start. Returns (key, created)."""
    path: Path = settings.api_key_file
    if path.exists():
        return path.read_text().strip(), False
    private_dir(path.parent)
    key = "cc_" + secrets.token_urlsafe(32)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    tmp.replace(path)
    return key, True


def accepted_keys(settings: Settings) -> list[str]:
    keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
    if settings.api_key_file.exists():
        local = settings.api_key_file.read_text().strip()
        if local:
            keys.append(local)
    return keys


def key_is_valid(presented: str | None, keys: list[str]) -> bool:
    if not presented:
        return False
    ok = False
    for k in keys:  # compare against every key, in constant time
        ok |= hmac.compare_digest(presented.encode(), k.encode())
    return ok
