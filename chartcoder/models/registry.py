"""The model registry: which packs may serve, which one does, and the history of switches.

A registered pack is copied into `model_dir/registry/<name>-<version>/` (so a later `chartcoder
train --out` to the same folder cannot change what is registered), and the SHA-256 of its manifest
is kept in the database: a pack whose files changed after registration is refused when promoted or
loaded. The database holds the promotion history, append-only; its newest row names the active pack,
which every API process serving from this database switches to (see `chartcoder.models.serving`).
A rollback returns to the pack that was active before the current one; when that was the configured
pack (CHARTCODER_MODEL, before any promotion), the configured pack serves again.

Only packs signed by a trusted key are registered or loaded (chartcoder.models.signing), and before a
promotion is recorded the pack is smoke-tested in a child process (chartcoder.models.smoke): loaded
with the allow-list unpickler, it must rank known notes. A pack that fails is refused with a PackError
(a 400 from the API, an error from the CLI) and the current pack keeps serving.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from chartcoder.domain.errors import ConflictError, InvalidInputError, NotFoundError
from chartcoder.models.card import ModelCard
from chartcoder.models.pack import MANIFEST, ModelPack, PackError, load_pack, sha256_file, verify_pack
from chartcoder.store.base import utcnow
from chartcoder.store.database import ReviewStore
from chartcoder.store.registry import Promotion, RegisteredPack

if TYPE_CHECKING:
    from chartcoder.config import Settings
    from chartcoder.models.signing import TrustedKey

REGISTRY_FOLDER = "registry"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ActivePack:
    """What should serve: a registered pack (ref, folder, manifest digest), or None for the configured one."""

    ref: str
    folder: str
    manifest_sha256: str
    id: int


class ModelRegistry:
    def __init__(self, store: ReviewStore, model_dir: str | Path, settings: Settings | None = None) -> None:
        """`settings` name the trusted pack keys and the smoke test's time limit (default: the
        process's settings, read at each use, so a key file made later is trusted without a restart)."""
        self.store = store
        self.root = Path(model_dir) / REGISTRY_FOLDER
        self.settings = settings

    def pack_source(self, given: str) -> Path:
        """A pack folder named by a remote caller (relative to the model folder, or absolute): it must
        lie under the model folder and outside the registry itself, so that an API caller can neither
        register files from elsewhere on the server nor re-register the registry's own copies."""
        root = self.root.parent.resolve()
        as_given = Path(given)
        path = (as_given if as_given.is_absolute() else root / as_given).resolve()
        if not path.is_relative_to(root) or path.is_relative_to(root / REGISTRY_FOLDER) or path == root:
            raise InvalidInputError(
                f"'path' must be a pack folder under the model folder {root} (and not in its registry); "
                f"got {given!r}. Train with `chartcoder train --out {root}/NAME`."
            )
        if not path.is_dir():
            raise InvalidInputError(f"'path' {given!r}: no such pack folder under {root}")
        return path

    def trusted(self) -> list[TrustedKey]:
        from chartcoder.models.signing import trusted_keys

        return trusted_keys(self.settings)

    # -- reading ---------------------------------------------------------------------------------
    def active(self) -> ActivePack | None:
        """The pack the newest promotion names (None: the configured pack). One small query: the API
        processes call it every few seconds."""
        with self.store.session(write=False) as s:
            row = s.execute(
                select(RegisteredPack.ref, RegisteredPack.folder, RegisteredPack.manifest_sha256, RegisteredPack.id)
                .select_from(Promotion)
                .outerjoin(RegisteredPack, RegisteredPack.id == Promotion.pack_id)
                .order_by(Promotion.id.desc())
                .limit(1)
            ).first()
        if row is None or row.ref is None:
            return None
        return ActivePack(row.ref, row.folder, row.manifest_sha256, row.id)

    def listing(self, history: int = 20) -> dict[str, Any]:
        """Registered packs (newest first) with their metrics, the active one, and recent switches."""
        active = self.active()
        with self.store.session(write=False) as s:
            packs = [
                _pack_dict(p, active) for p in s.scalars(select(RegisteredPack).order_by(RegisteredPack.id.desc()))
            ]
            events = [
                _promotion_dict(s, p)
                for p in s.scalars(select(Promotion).order_by(Promotion.id.desc()).limit(max(1, history)))
            ]
        return {"active": active.ref if active else None, "packs": packs, "history": events}

    def path_of(self, active: ActivePack) -> Path:
        return self.root / active.folder

    def load(self, active: ActivePack) -> ModelPack:
        """Verify the registered copy against its manifest and the manifest against the digest taken
        at registration, then load it."""
        path = self.path_of(active)
        if not (path / MANIFEST).is_file():
            raise PackError(f"{active.ref}: its registered copy {path} is missing")
        if sha256_file(path / MANIFEST) != active.manifest_sha256:
            raise PackError(f"{active.ref}: {path} changed after it was registered; refusing to load it")
        return load_pack(path, self.trusted())

    def verify(self, active: ActivePack) -> ModelCard:
        """What `load` checks before it unpickles anything (the registration digest, the signature and
        the manifest); the card."""
        path = self.path_of(active)
        if not (path / MANIFEST).is_file():
            raise PackError(f"{active.ref}: its registered copy {path} is missing")
        if sha256_file(path / MANIFEST) != active.manifest_sha256:
            raise PackError(f"{active.ref}: {path} changed after it was registered; refusing to load it")
        return verify_pack(path, self.trusted())

    def smoke_test(self, active: ActivePack) -> dict[str, Any]:
        """Load the registered copy in a child process and rank known notes there (chartcoder.models.smoke)."""
        from chartcoder.config import get_settings
        from chartcoder.models.smoke import smoke_test

        self.verify(active)  # cheap refusals first, in this process: nothing is unpickled here
        limit = (self.settings or get_settings()).promotion_smoke_seconds
        try:
            return smoke_test(self.path_of(active), self.trusted(), limit)
        except PackError as exc:
            raise PackError(f"{active.ref} was not promoted: {exc}") from exc

    # -- changing --------------------------------------------------------------------------------
    def register(self, source: str | Path, actor: str, note: str | None = None) -> dict[str, Any]:
        """Verify the pack at `source` and copy it into the registry. Registering the same pack again
        is a no-op; a different pack with the same name and version is refused."""
        source = Path(source)
        trusted = self.trusted()
        card = verify_pack(source, trusted)
        name, version = str(card.name or ""), str(card.version or "")
        if not name or not version:
            raise PackError(f"{source}: its model card has no name or version")
        ref = f"{name}@{version}"
        digest = sha256_file(source / MANIFEST)
        folder = _SAFE.sub("_", f"{name}-{version}")[:200]
        with self.store.session(write=False) as s:
            existing = s.scalar(select(RegisteredPack).where(RegisteredPack.ref == ref))
            if existing is not None:
                if existing.manifest_sha256 != digest:
                    raise ConflictError(
                        f"{ref} is already registered with different files; give the new pack another name "
                        "(chartcoder train --name) or version",
                        "pack_exists",
                    )
                return {**_pack_dict(existing, self.active()), "already_registered": True}
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / folder
        if not target.exists():
            tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.", dir=self.root))
            try:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
                tmp.chmod(0o755)
                verify_pack(tmp, trusted)
                tmp.rename(target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        elif sha256_file(target / MANIFEST) != digest:
            raise ConflictError(f"{target} holds other files than {source}; remove it first", "pack_exists")
        with self.store.session() as s:
            if s.scalar(select(RegisteredPack.id).where(RegisteredPack.ref == ref)) is not None:
                raise ConflictError(f"{ref} was registered at the same moment by someone else", "pack_exists")
            row = RegisteredPack(
                ref=ref,
                name=name[:128],
                version=version[:64],
                folder=folder,
                manifest_sha256=digest,
                system=card.system,
                card=_card_summary(card),
                note=(note or None) and note[:500],
                registered_by=actor[:128],
                registered_at=utcnow(),
            )
            s.add(row)
            s.flush()
            return {**_pack_dict(row, None), "already_registered": False}

    def check(self, ref: str) -> ActivePack:
        """The registered pack `ref` names (`name@version`), verified: a promotion's first step."""
        with self.store.session(write=False) as s:
            row = s.scalar(select(RegisteredPack).where(RegisteredPack.ref == ref))
            if row is None:
                known = list(s.scalars(select(RegisteredPack.ref).order_by(RegisteredPack.id.desc()).limit(5)))
                hint = f"; registered: {', '.join(known)}" if known else "; none is registered yet"
                raise NotFoundError(f"no registered pack {ref!r} (give name@version){hint}")
            return ActivePack(row.ref, row.folder, row.manifest_sha256, row.id)

    def promote(self, ref: str, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Make `ref` the active pack. The pack is verified and smoke-tested first (in a child process:
        loaded, it must rank known notes), and refused with a PackError when it fails; an API process
        switches once it has loaded it, and keeps serving the old one until then. Promoting the active
        pack is refused."""
        target = self.check(ref)
        if self.active() == target:
            raise ConflictError(f"{target.ref} is already the active pack", "already_active")
        self.smoke_test(target)  # refused here, not in the API processes, when it does not verify, load or rank
        return self._switch("promote", target.id, actor, reason)

    def rollback(self, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Undo the newest promotion still in effect: back to the pack that served before it. Each
        rollback goes one step further back, down to the configured pack."""
        with self.store.session(write=False) as s:
            stack = _stack(s)
            if len(stack) < 2:
                raise ConflictError(
                    "nothing to roll back: the configured pack (CHARTCODER_MODEL) serves and no earlier "
                    "promotion is left to return to",
                    "nothing_to_roll_back",
                )
            target = stack[-2]
            row = s.get(RegisteredPack, target) if target is not None else None
            back = ActivePack(row.ref, row.folder, row.manifest_sha256, row.id) if row is not None else None
        if back is not None:
            # It served before, so it passed a promotion's smoke test; its files and signature are
            # checked again (a rollback should be quick: no child process)
            self.verify(back)
        return self._switch("rollback", target, actor, reason, expect=stack)

    def _switch(
        self, action: str, pack_id: int | None, actor: str, reason: str | None, expect: list[int | None] | None = None
    ) -> dict[str, Any]:
        """Record a promotion or rollback. The history is replayed inside the writing transaction (on
        PostgreSQL under an advisory lock), so two admins switching at once cannot both act on the same
        state; a rollback whose history changed since it was checked is refused (retry it)."""
        with self.store.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(727275)"))
            stack = _stack(s)
            if expect is not None and stack != expect:
                raise ConflictError("the registry changed while rolling back; look again and retry", "registry_changed")
            if action == "promote" and stack[-1] == pack_id:
                ref = s.get(RegisteredPack, pack_id)
                raise ConflictError(f"{ref.ref if ref else pack_id} is already the active pack", "already_active")
            row = Promotion(
                pack_id=pack_id,
                previous_pack_id=stack[-1],
                action=action,
                actor=actor[:128],
                reason=(reason or None) and reason[:500],
                at=utcnow(),
            )
            s.add(row)
            s.flush()
            return _promotion_dict(s, row)


def _stack(s: Session) -> list[int | None]:
    """The packs still in effect, oldest first, replayed from the history: the configured pack (None)
    at the bottom, each promotion pushes its pack, each rollback pops the newest. The top serves."""
    stack: list[int | None] = [None]
    for action, pack_id in s.execute(select(Promotion.action, Promotion.pack_id).order_by(Promotion.id)):
        if action == "rollback":
            if len(stack) > 1:
                stack.pop()
        elif pack_id != stack[-1]:
            stack.append(pack_id)
    return stack


def _card_summary(card: ModelCard) -> dict[str, Any]:
    keep = ("name", "version", "system", "task", "label_count", "metrics", "created", "training", "code_set_release")
    held = card.to_dict()
    return {k: held[k] for k in keep if k in held}


def _pack_dict(p: RegisteredPack, active: ActivePack | None) -> dict[str, Any]:
    return {
        "ref": p.ref,
        "name": p.name,
        "version": p.version,
        "system": p.system,
        "labels": p.card.get("label_count"),
        "metrics": p.card.get("metrics", {}),
        "created": p.card.get("created"),
        "note": p.note,
        "registered_by": p.registered_by,
        "registered_at": p.registered_at.isoformat(),
        "active": active is not None and active.ref == p.ref,
    }


def _promotion_dict(s: Session, p: Promotion) -> dict[str, Any]:
    def ref(pack_id: int | None) -> str | None:
        row = s.get(RegisteredPack, pack_id) if pack_id else None
        return row.ref if row else None

    return {
        "id": p.id,
        "action": p.action,
        "pack": ref(p.pack_id),
        "previous": ref(p.previous_pack_id),
        "actor": p.actor,
        "reason": p.reason,
        "at": p.at.isoformat(),
        "serves": ref(p.pack_id) or "the configured pack (CHARTCODER_MODEL)",
    }


def validate_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref or len(ref) > 200 or "@" not in ref or "\x00" in ref:
        raise InvalidInputError(f"a pack is named name@version (see `chartcoder models registry`); got {ref!r}")
    return ref
