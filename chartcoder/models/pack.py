"""Model packs: a folder of joblib files, a model card, a SHA-256 manifest and a signature over it.

joblib is pickle, and unpickling can run code. So a pack is loaded only when (1) its manifest is
signed by a trusted Ed25519 key (chartcoder.models.signing), (2) every file matches the manifest and
the card's pack format is this chartcoder's, and (3) the ranker unpickles with nothing but the types a
ranker is made of (chartcoder.models.safe_load), then ranks a known note (`check_ranker`). (1) and (2)
read only text files; nothing is unpickled before both pass. A tampered, unsigned, untrusted,
truncated or incompatible pack is refused with a PackError that says which file and why.

    PACK/
      model_card.json   name, version, format, code-set release, sources and their hashes, labels, metrics
      ranker.joblib     the fitted ranker (a CodeRanker or a StackedRanker)
      MANIFEST.sha256   "<sha256>  <file>" per line, for every other file in the pack
      MANIFEST.sig      the Ed25519 signature over MANIFEST.sha256 and the public key that made it
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib

from chartcoder import __version__
from chartcoder.domain.errors import ChartcoderError
from chartcoder.models.card import ModelCard

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from chartcoder.models.ranker import Ranker
    from chartcoder.models.signing import TrustedKey

PACK_FORMAT = "chartcoder.pack.v1"
MANIFEST = "MANIFEST.sha256"
CARD = "model_card.json"
RANKER_FILE = "ranker.joblib"
SIGNATURE = "MANIFEST.sig"  # chartcoder.models.signing writes and reads it
REQUIRED = (CARD, RANKER_FILE)
# What `check_ranker` ranks: a diagnosis note and a procedure note, so a pack of either kind proposes
# something for one of them.
SMOKE_NOTES = (
    "Assessment: type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b. Essential hypertension. "
    "Acute bronchitis with cough.",
    "Procedure: colonoscopy with biopsy. Office visit, established patient. Chest x-ray, two views. Influenza vaccine.",
)


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
    card: ModelCard
    ranker: Ranker

    @property
    def name(self) -> str:
        return self.card.ref


def save_pack(
    ranker: Ranker,
    out: str | Path,
    card: ModelCard | Mapping[str, Any],
    signing_key: Ed25519PrivateKey | None = None,
) -> Path:
    """Write a pack atomically: into a temporary folder beside `out`, then renamed into place. It is
    signed with `signing_key`, by default the trainer's key (CHARTCODER_PACK_SIGNING_KEY, made on
    first use). The card written is `card` with the pack format, the ranker version, this chartcoder's
    version and the time filled in where `card` does not set them."""
    from chartcoder.models.signing import sign_manifest, trainer_key

    key = signing_key or trainer_key()
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
            **(card.to_dict() if isinstance(card, ModelCard) else card),
        }
        (tmp / CARD).write_text(json.dumps(full_card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        lines = [f"{sha256_file(tmp / name)}  {name}" for name in sorted(os.listdir(tmp)) if name != MANIFEST]
        manifest = ("\n".join(lines) + "\n").encode("utf-8")
        (tmp / MANIFEST).write_bytes(manifest)
        sign_manifest(tmp, manifest, key)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_card(path: str | Path) -> ModelCard:
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
    try:
        return ModelCard.from_dict(card)
    except ValueError as exc:
        raise PackError(f"{card_path}: {exc}") from exc


def verify_pack(path: str | Path, trusted: list[TrustedKey] | None = None) -> ModelCard:
    """Check the signature, the manifest against every file and the card's format; return the card.
    `trusted`: the keys whose signatures count (default: `signing.trusted_keys()` of the settings)."""
    return _verify(Path(path), trusted)[0]


def verify_files(path: str | Path) -> ModelCard:
    """The manifest against every file and the card's format, without the signature: what `chartcoder
    models sign` checks before it signs a pack someone trusts."""
    return _verify(Path(path), None, signed=False)[0]


def _verify(path: Path, trusted: list[TrustedKey] | None, signed: bool = True) -> tuple[ModelCard, dict[str, str]]:
    from chartcoder.models.signing import check_signature, trusted_keys

    card = read_card(path)
    if card.format != PACK_FORMAT:
        raise PackError(f"{path}: pack format {card.format!r}; this chartcoder reads {PACK_FORMAT!r}")
    from chartcoder.models.ranker import RANKER_NAME

    if card.ranker != RANKER_NAME:
        raise PackError(
            f"{path}: made for ranker {card.ranker!r}; this chartcoder reads {RANKER_NAME!r}. "
            "Retrain it with `chartcoder train`."
        )
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise PackError(f"{path}: no {MANIFEST}; refusing to load an unverified pack")
    data = manifest.read_bytes()  # read once: the bytes whose signature is checked are the ones parsed
    if signed:
        check_signature(path, data, trusted_keys() if trusted is None else trusted)
    listed: dict[str, str] = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(f"{manifest}: not UTF-8 text") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise PackError(f"{manifest}, line {lineno}: expected '<sha256>  <file>'")
        listed[parts[1].strip()] = parts[0]
    present = {p.name for p in path.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE)}
    if present != set(listed):
        extra, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        raise PackError(f"{path}: files do not match the manifest (unlisted: {extra}, missing: {missing})")
    for name in REQUIRED:
        if name not in listed:
            raise PackError(f"{path}: the manifest does not list {name}")
    for name, digest in listed.items():
        if sha256_file(path / name) != digest:
            raise PackError(f"{path / name}: SHA-256 does not match the manifest; the pack was modified")
    return card, listed


def load_pack(path: str | Path, trusted: list[TrustedKey] | None = None) -> ModelPack:
    """Verify (signature, manifest), then load with the allow-list unpickler, then check that the
    ranker ranks. Nothing is unpickled before the signature and manifest checks pass, and the ranker's
    bytes are hashed again as read, so a file swapped after the check is refused too."""
    path = Path(path)
    card, listed = _verify(path, trusted)
    from chartcoder.models.safe_load import load_ranker_bytes

    data = (path / RANKER_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != listed[RANKER_FILE]:
        raise PackError(f"{path / RANKER_FILE}: changed while it was being loaded; the pack was modified")
    loaded = load_ranker_bytes(data, str(path / RANKER_FILE))
    del data
    return ModelPack(path, card, check_ranker(loaded, card, str(path)))


def sign_pack(path: str | Path, key: Ed25519PrivateKey | None = None) -> str:
    """Sign a pack someone trusts (one made before packs were signed): its files are checked against
    its manifest and its ranker loaded with the allow-list and ranked first. Returns the key's id."""
    from chartcoder.models.safe_load import load_ranker_bytes
    from chartcoder.models.signing import sign_manifest, trainer_key

    path = Path(path)
    card, listed = _verify(path, None, signed=False)
    data = (path / RANKER_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != listed[RANKER_FILE]:
        raise PackError(f"{path / RANKER_FILE}: changed while it was being checked")
    check_ranker(load_ranker_bytes(data, str(path / RANKER_FILE)), card, str(path))
    return sign_manifest(path, (path / MANIFEST).read_bytes(), key or trainer_key())


def check_ranker(ranker: object, card: ModelCard, where: str) -> Ranker:
    """Refuse an object that is not a usable ranker: not one of our ranker classes, without labels, of
    another coding system than its card says, or whose ranking of two known notes is not a list of
    (code, score in [0, 1]) per note, with at least one code for one of them."""
    import math

    import numpy as np

    from chartcoder.models.ranker import CodeRanker
    from chartcoder.models.stacked import StackedRanker

    def bad(why: str) -> PackError:
        return PackError(f"{where}: not a usable ranker ({why}); the pack is refused")

    if not isinstance(ranker, (CodeRanker, StackedRanker)):
        raise bad(f"it holds a {type(ranker).__module__}.{type(ranker).__qualname__}")
    try:
        labels = list(ranker.labels_)
        system = ranker.system_
        use_knowledge = ranker.use_knowledge_
        ranked = ranker.rank(list(SMOKE_NOTES), None)
    except Exception as exc:  # whatever a half-built estimator raises
        raise bad(f"{type(exc).__name__}: {exc}") from exc
    if not labels or not all(isinstance(c, str) and c for c in labels):
        raise bad("it has no code labels")
    if system != card.system:
        raise bad(f"it codes {system!r}, its card says {card.system!r}")
    if not isinstance(use_knowledge, (bool, np.bool_)):
        raise bad("use_knowledge_ is not a flag")
    if not isinstance(ranked, list) or len(ranked) != len(SMOKE_NOTES):
        raise bad(f"ranking {len(SMOKE_NOTES)} notes did not give one list per note")
    for row in ranked:
        if not isinstance(row, list):
            raise bad(f"a note's ranking is a {type(row).__name__}, not a list")
        for item in row:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and item[0]):
                raise bad(f"a ranked item is {item!r:.60}, not (code, score)")
            score = item[1]
            if not isinstance(score, float) or not math.isfinite(score) or not 0.0 <= score <= 1.0:
                raise bad(f"code {item[0]} scored {score!r}, not a number in [0, 1]")
    if not any(ranked):
        raise bad("it proposed no code for either known note")
    return ranker


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
            card = ModelCard()
            with contextlib.suppress(PackError):
                card = read_card(p)
            status = f"refused: {exc}"
        held = card.to_dict()
        rows.append(
            {
                "path": str(p),
                "name": held.get("name", p.name),
                "version": held.get("version", "?"),
                "system": card.system,
                "labels": card.label_count,
                "metrics": held.get("metrics", {}),
                "created": card.created,
                "status": status,
            }
        )
    return rows
