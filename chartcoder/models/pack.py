"""Model packs: a folder of joblib files, a model card and a SHA-256 manifest checked before any load.

joblib is pickle, and unpickling runs code: a pack is loaded only when every file matches the
manifest and the manifest matches the card's pack format. A tampered, truncated or incompatible pack
is refused with a PackError that says which file and why.

    PACK/
      model_card.json   name, version, format, code-set release, sources and their hashes, labels, metrics
      ranker.joblib     the fitted CodeRanker
      MANIFEST.sha256   "<sha256>  <file>" per line, for every other file in the pack
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from chartcoder import __version__
from chartcoder.errors import ChartcoderError

PACK_FORMAT = "chartcoder.pack.v1"
MANIFEST = "MANIFEST.sha256"
CARD = "model_card.json"
RANKER_FILE = "ranker.joblib"


class PackError(ChartcoderError, ValueError):
    """A model pack that is missing, tampered with, or made for another version."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ModelPack:
    path: Path
    card: dict[str, Any]
    ranker: Any

    @property
    def name(self) -> str:
        return f"{self.card['name']}@{self.card['version']}"


def save_pack(ranker: Any, out: str | Path, card: dict[str, Any]) -> Path:
    """Write a pack atomically: into a temporary folder beside `out`, then renamed into place."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a pack is read by the service user too
    try:
        joblib.dump(ranker, tmp / RANKER_FILE, compress=3)
        from chartcoder.models.ranker import RANKER_NAME

        full_card = {
            "format": PACK_FORMAT,
            "ranker": RANKER_NAME,
            "chartcoder_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **card,
        }
        (tmp / CARD).write_text(json.dumps(full_card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        lines = [f"{sha256_file(tmp / name)}  {name}" for name in sorted(os.listdir(tmp)) if name != MANIFEST]
        (tmp / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_card(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    card_path = path / CARD
    if not card_path.is_file():
        raise PackError(f"{path}: not a model pack (no {CARD})")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackError(f"{card_path}: not valid JSON ({exc})") from exc
    if not isinstance(card, dict):
        raise PackError(f"{card_path}: expected a JSON object")
    return card


def verify_pack(path: str | Path) -> dict[str, Any]:
    """Check the manifest against every file and the card's format; return the card."""
    path = Path(path)
    card = read_card(path)
    if card.get("format") != PACK_FORMAT:
        raise PackError(f"{path}: pack format {card.get('format')!r}; this chartcoder reads {PACK_FORMAT!r}")
    from chartcoder.models.ranker import RANKER_NAME

    if card.get("ranker") != RANKER_NAME:
        raise PackError(
            f"{path}: made for ranker {card.get('ranker')!r}; this chartcoder reads {RANKER_NAME!r}. "
            "Retrain it with `chartcoder train`."
        )
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise PackError(f"{path}: no {MANIFEST}; refusing to load an unverified pack")
    listed: dict[str, str] = {}
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise PackError(f"{manifest}, line {lineno}: expected '<sha256>  <file>'")
        listed[parts[1].strip()] = parts[0]
    present = {p.name for p in path.iterdir() if p.is_file() and p.name != MANIFEST}
    if present != set(listed):
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        raise PackError(f"{path}: files do not match the manifest (unlisted: {extra}, missing: {missing})")
    for name, digest in listed.items():
        if sha256_file(path / name) != digest:
            raise PackError(f"{path / name}: SHA-256 does not match the manifest; the pack was modified")
    return card


def load_pack(path: str | Path) -> ModelPack:
    """Verify, then load. Nothing is unpickled before the manifest check passes."""
    path = Path(path)
    card = verify_pack(path)
    ranker = joblib.load(path / RANKER_FILE)
    return ModelPack(path, card, ranker)


def active_pack_path(model: str, model_dir: str | Path) -> Path | None:
    """Where the configured pack is (`model` is a folder, or a name under `model_dir`), or None when it
    is 'knowledge' or not built yet."""
    if model in ("", "knowledge"):
        return None
    for candidate in (Path(model), Path(model_dir) / model):
        if (candidate / CARD).is_file():
            return candidate
    return None


def list_packs(model_dir: str | Path) -> list[dict[str, Any]]:
    """Every pack under `model_dir` with its card summary and whether it verifies."""
    root = Path(model_dir)
    rows: list[dict[str, Any]] = []
    if not root.is_dir():
        return rows
    for p in sorted(root.iterdir()):
        if not p.is_dir() or p.name.startswith(".") or p.name == "registry":  # registered copies: `models registry`
            continue
        try:
            card = verify_pack(p)
            status = "ok"
        except PackError as exc:
            card = {}
            with contextlib.suppress(PackError):
                card = read_card(p)
            status = f"refused: {exc}"
        rows.append(
            {
                "path": str(p),
                "name": card.get("name", p.name),
                "version": card.get("version", "?"),
                "system": card.get("system"),
                "labels": card.get("label_count"),
                "metrics": card.get("metrics", {}),
                "created": card.get("created"),
                "status": status,
            }
        )
    return rows
