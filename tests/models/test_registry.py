"""The model registry on real SQLite and PostgreSQL databases: register (copy, verify, idempotent,
conflicting), promote, roll back step by step, refuse packs changed after registration, and the API's
admin routes, whose answers and suggestions name the pack that now serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_support import registry_app

from chartcoder.domain.errors import ConflictError, NotFoundError
from chartcoder.models.pack import MANIFEST, SIGNATURE, PackError, load_pack, save_pack, sha256_file
from chartcoder.models.registry import ModelRegistry
from chartcoder.models.serving import ServingModel
from chartcoder.models.signing import sign_manifest, trainer_key
from chartcoder.training.readers import read_synthetic
from chartcoder.training.train import train_pack

NOTE = "Assessment: type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b. Hypertension."


@pytest.fixture(scope="module")
def base_pack(tmp_path_factory) -> Path:
    """A small diagnosis pack trained on synthetic notes (seconds), copied below under other names."""
    out = tmp_path_factory.mktemp("base") / "base"
    return train_pack(read_synthetic("60:11"), out, task="diagnosis", name="base")


def make_pack(base: Path, folder: Path, name: str, version: str) -> Path:
    pack = load_pack(base)
    card = {
        k: v for k, v in pack.card.to_dict().items() if k not in ("format", "ranker", "chartcoder_version", "created")
    }
    return save_pack(pack.ranker, folder, {**card, "name": name, "version": version})


def rehash(pack: Path) -> None:
    """What someone who knows the layout and holds a trusted key would do after editing a file:
    re-hash everything and sign the new manifest (without a trusted key: tests/security/test_packs.py)."""
    names = sorted(p.name for p in pack.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    (pack / MANIFEST).write_text("".join(f"{sha256_file(pack / n)}  {n}\n" for n in names), encoding="utf-8")
    sign_manifest(pack, (pack / MANIFEST).read_bytes(), trainer_key())


@pytest.fixture
def model_dir(tmp_path) -> Path:
    d = tmp_path / "models"
    d.mkdir()
    return d


@pytest.fixture
def registry(store, model_dir) -> ModelRegistry:
    return ModelRegistry(store, model_dir)


def test_register_copies_verifies_and_is_idempotent(registry, base_pack, model_dir):
    src = make_pack(base_pack, model_dir / "a", "champion", "v1")
    row = registry.register(src, "cli:test", note="first")
    assert row["ref"] == "champion@v1" and row["already_registered"] is False and row["note"] == "first"
    copy = model_dir / "registry" / "champion-v1"
    assert (copy / MANIFEST).read_bytes() == (src / MANIFEST).read_bytes()
    # the same pack from elsewhere is the same registration; the source may go away afterwards
    again = Path(shutil.copytree(src, model_dir / "a2"))
    shutil.rmtree(src)
    assert registry.register(again, "cli:test")["already_registered"] is True
    assert (copy / MANIFEST).read_bytes() == (again / MANIFEST).read_bytes()
    listing = registry.listing()
    assert [p["ref"] for p in listing["packs"]] == ["champion@v1"]
    assert listing["active"] is None and listing["history"] == []


def test_a_different_pack_under_a_registered_name_is_refused(registry, base_pack, model_dir):
    registry.register(make_pack(base_pack, model_dir / "a", "champion", "v1"), "cli:test")
    other = make_pack(base_pack, model_dir / "b", "champion", "v1")
    card = json.loads((other / "model_card.json").read_text())
    (other / "model_card.json").write_text(json.dumps({**card, "label_count": 1}), encoding="utf-8")
    rehash(other)
    with pytest.raises(ConflictError, match="already registered with different files"):
        registry.register(other, "cli:test")


def test_a_pack_that_does_not_verify_is_not_registered(registry, base_pack, model_dir):
    bad = make_pack(base_pack, model_dir / "bad", "bad", "v1")
    with (bad / "ranker.joblib").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PackError, match="SHA-256 does not match"):
        registry.register(bad, "cli:test")
    assert registry.listing()["packs"] == []
    assert not (model_dir / "registry" / "bad-v1").exists()


def test_promote_and_roll_back_step_by_step(registry, base_pack, model_dir):
    for v in ("v1", "v2", "v3"):
        registry.register(make_pack(base_pack, model_dir / v, "m", v), "cli:test")
    with pytest.raises(ConflictError, match="nothing to roll back"):
        registry.rollback("cli:test")
    for v in ("v1", "v2", "v3"):
        assert registry.promote(f"m@{v}", "cli:test", reason=f"try {v}")["serves"] == f"m@{v}"
    assert registry.active().ref == "m@v3"
    back = registry.rollback("cli:test", reason="v3 disappoints")
    assert (back["serves"], back["previous"]) == ("m@v2", "m@v3")
    assert registry.rollback("cli:test")["serves"] == "m@v1"
    assert registry.rollback("cli:test")["serves"] == "the configured pack (CHARTCODER_MODEL)"
    assert registry.active() is None
    with pytest.raises(ConflictError, match="nothing to roll back"):
        registry.rollback("cli:test")
    history = registry.listing()["history"]
    assert [(h["action"], h["pack"]) for h in history] == [
        ("rollback", None),
        ("rollback", "m@v1"),
        ("rollback", "m@v2"),
        ("promote", "m@v3"),
        ("promote", "m@v2"),
        ("promote", "m@v1"),
    ]
    assert history[3]["reason"] == "try v3" and history[2]["reason"] == "v3 disappoints"


def test_rollback_undoes_promotions_in_order_even_when_a_pack_returns(registry, base_pack, model_dir):
    for v in ("a", "b"):
        registry.register(make_pack(base_pack, model_dir / v, "m", v), "cli:test")
    registry.promote("m@a", "cli:test")
    with pytest.raises(ConflictError, match="already the active pack"):
        registry.promote("m@a", "cli:test")  # a double click or a retried command changes nothing
    registry.promote("m@b", "cli:test")
    registry.promote("m@a", "cli:test")
    served = [registry.rollback("cli:test")["pack"] for _ in range(3)]
    assert served == ["m@b", "m@a", None], "each rollback undoes one promotion, down to the configured pack"
    with pytest.raises(ConflictError, match="nothing to roll back"):
        registry.rollback("cli:test")
    registry.promote("m@b", "cli:test")  # after rolling all the way back, promoting starts afresh
    assert registry.rollback("cli:test")["pack"] is None


def test_unknown_pack_and_pack_changed_after_registration_are_refused(registry, base_pack, model_dir):
    with pytest.raises(NotFoundError, match="none is registered yet"):
        registry.promote("m@v9", "cli:test")
    registry.register(make_pack(base_pack, model_dir / "v1", "m", "v1"), "cli:test")
    copy = model_dir / "registry" / "m-v1"
    (copy / "model_card.json").write_text((copy / "model_card.json").read_text() + " ", encoding="utf-8")
    rehash(copy)  # consistent with its own manifest, but not the one registered
    with pytest.raises(PackError, match="changed after it was registered"):
        registry.promote("m@v1", "cli:test")
    assert registry.active() is None


def test_serving_switches_by_reference_and_survives_a_broken_pack(registry, base_pack, model_dir, service):
    serving = ServingModel(lambda: service, registry)
    first = serving.get()
    assert first is service and serving.serving_ref is None
    registry.register(make_pack(base_pack, model_dir / "v1", "m", "v1"), "cli:test")
    registry.promote("m@v1", "cli:test")
    assert serving.get() is first, "a switch happens on sync (the poller or a promote), not inside a request"
    switched = serving.sync()
    assert switched.model_name == "m@v1" and switched.pipeline is service.pipeline
    assert first.model_name == service.model_name, "the old service object is untouched for requests holding it"
    assert switched.suggest(NOTE).model == "m@v1"
    # the registered copy breaks on disk after the promotion: the process keeps serving what it has
    registry.register(make_pack(base_pack, model_dir / "v2", "m", "v2"), "cli:test")
    registry.promote("m@v2", "cli:test")
    shutil.rmtree(model_dir / "registry" / "m-v2")
    assert serving.sync().model_name == "m@v1"
    assert serving.last_error and "missing" in serving.last_error


def test_registry_routes(db_url, model_dir, base_pack, settings, service):
    from fastapi.testclient import TestClient

    app, h = registry_app(db_url, model_dir, settings, service)
    make_pack(base_pack, model_dir / "challenger", "challenger", "v1")
    with TestClient(app, raise_server_exceptions=False) as c:
        before = c.post("/v1/suggestions", json={"text": NOTE}, headers=h("coder")).json()["model"]
        assert before == service.model_name
        assert c.get("/v1/models", headers=h("coder")).status_code == 403
        # register: a data scientist may; only folders under the model folder, never outside it
        outside = c.post("/v1/models/register", json={"path": str(base_pack)}, headers=h("data_scientist"))
        assert outside.status_code == 422 and "under the model folder" in outside.json()["detail"]
        dots = c.post("/v1/models/register", json={"path": "../x"}, headers=h("data_scientist"))
        assert dots.status_code == 422
        missing = c.post("/v1/models/register", json={"path": "nope"}, headers=h("data_scientist"))
        assert missing.status_code == 422 and "no such pack folder" in missing.json()["detail"]
        r = c.post("/v1/models/register", json={"path": "challenger", "note": "retrained"}, headers=h("data_scientist"))
        assert r.status_code == 201, r.text
        assert r.json()["ref"] == "challenger@v1"
        # promote and roll back are the admin's
        denied = c.post("/v1/models/promote", json={"ref": "challenger@v1"}, headers=h("data_scientist"))
        assert denied.status_code == 403
        unknown = c.post("/v1/models/promote", json={"ref": "nobody@v0"}, headers=h("admin"))
        assert unknown.status_code == 404 and "challenger@v1" in unknown.json()["detail"]
        bad = c.post("/v1/models/promote", json={"ref": "no-version"}, headers=h("admin"))
        assert bad.status_code == 422 and "name@version" in bad.json()["detail"]
        extra = c.post("/v1/models/promote", json={"ref": "challenger@v1", "x": 1}, headers=h("admin"))
        assert extra.status_code == 422
        p = c.post("/v1/models/promote", json={"ref": "challenger@v1", "reason": "better MAP"}, headers=h("admin"))
        assert p.status_code == 200, p.text
        assert p.json()["serving"] == "challenger@v1" and p.json()["promotion"]["actor"] == "admin1"
        assert c.post("/v1/suggestions", json={"text": NOTE}, headers=h("coder")).json()["model"] == "challenger@v1"
        assert c.get("/readyz").json()["model"] == "challenger@v1"
        # the stored suggestion set records the pack that made it
        enc = c.post("/v1/encounters", json={"text": NOTE}, headers=h("coder"))
        assert enc.status_code == 201, enc.text
        listing = c.get("/v1/models", headers=h("data_scientist")).json()
        assert listing["active"] == "challenger@v1" and listing["packs"][0]["active"] is True
        assert listing["history"][0]["reason"] == "better MAP"
        rb = c.post("/v1/models/rollback", json={}, headers=h("admin"))
        assert rb.status_code == 200 and rb.json()["serving"] == service.model_name
        assert c.post("/v1/suggestions", json={"text": NOTE}, headers=h("coder")).json()["model"] == before
        again = c.post("/v1/models/rollback", json={}, headers=h("admin"))
        assert again.status_code == 409 and "nothing to roll back" in again.json()["detail"]
    from sqlalchemy import select

    from chartcoder.store.review import SuggestionSet

    with app.state.review.store.session(write=False) as s:
        models = list(s.scalars(select(SuggestionSet.model).where(SuggestionSet.encounter_id == enc.json()["id"])))
    assert models == ["challenger@v1"]
