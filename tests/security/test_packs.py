"""Packs that cannot run code (issue 16). A pack holds pickled objects, so:

- a pack whose manifest an attacker recomputed around a booby-trapped pickle is refused before any of
  its code runs (the trap would write a marker file: it must not exist afterwards);
- a pack signed by a key the server does not trust is refused, and loads once that key is trusted;
- even a pack a trusted key signed cannot run code: the unpickler resolves an allow-list of types only;
- a pack whose object is not a usable ranker is refused at promotion (through the real API and
  registry, smoke-tested in a child process), the serving pack stays and /readyz keeps naming it;
- an unsigned pack of an older chartcoder gets a message naming `chartcoder models sign`, and loads
  after that command (the real CLI) signed it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from app_support import registry_app
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chartcoder.config import Settings
from chartcoder.models.pack import MANIFEST, RANKER_FILE, SIGNATURE, PackError, load_pack, save_pack, sha256_file
from chartcoder.models.registry import ModelRegistry
from chartcoder.models.signing import public_text, sign_manifest, trainer_key, trusted_keys
from chartcoder.store.database import ReviewStore
from chartcoder.training.readers import read_synthetic

ROOT = Path(__file__).resolve().parents[2]
NOTE = "Assessment: type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3b. Hypertension."
CHARTCODER = str(Path(sys.executable).parent / "chartcoder")


class ShellTrap:
    """What the hostile test registered: unpickling it runs a shell command (here: touch a marker)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpenTrap:
    """The same without a shell: unpickling it opens (creates) the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def good_pack(tmp_path_factory) -> Path:
    """A small, real diagnosis pack (a ranker fitted on synthetic notes, small settings and without the
    knowledge engine's analyses, so it takes seconds), signed by the trainer key the tests use."""
    from chartcoder.models.ranker import CodeRanker

    records = [r for r in read_synthetic("80:11") if r.positives()]
    small = CodeRanker(n_folds=2, top_lr=20, top_knn=10, max_iter=30, char_ngrams=False)
    ranker = small.fit([r.text for r in records], [r.positives() for r in records], system="ICD-10-CM")
    card = {"name": "good", "version": "v1", "system": "ICD-10-CM", "label_count": len(ranker.labels_), "metrics": {}}
    return save_pack(ranker, tmp_path_factory.mktemp("good") / "good", card)


def copy_pack(src: Path, dest: Path, name: str | None = None, version: str | None = None) -> Path:
    """A copy of `src`; with a name or version, re-saved (and so re-signed by the trusted trainer key)."""
    if name is None and version is None:
        return Path(shutil.copytree(src, dest))
    pack = load_pack(src)
    card = {
        k: v for k, v in pack.card.to_dict().items() if k not in ("format", "ranker", "chartcoder_version", "created")
    }
    return save_pack(pack.ranker, dest, {**card, "name": name or card["name"], "version": version or card["version"]})


def recompute_manifest(pack: Path) -> None:
    """What an attacker who knows the layout does after swapping a file: re-hash every file."""
    names = sorted(p.name for p in pack.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    (pack / MANIFEST).write_text("".join(f"{sha256_file(pack / n)}  {n}\n" for n in names), encoding="utf-8")


# -- 1. a recomputed manifest around a trap ----------------------------------------------------------
@pytest.mark.parametrize("trap", [ShellTrap, OpenTrap])
def test_recomputed_manifest_around_a_trap_is_refused_before_the_trap_runs(good_pack, tmp_path, trap):
    marker = tmp_path / "the-pickle-ran"
    pack = copy_pack(good_pack, tmp_path / "models" / "evil")
    joblib.dump(trap(marker), pack / RANKER_FILE)
    recompute_manifest(pack)
    with pytest.raises(PackError, match="does not match its manifest; the pack was changed after it was signed"):
        load_pack(pack)
    assert not marker.exists(), "the trap ran while the pack was being loaded"
    # registering it (what a data scientist's API call does) is refused the same way
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    try:
        with pytest.raises(PackError, match="changed after it was signed"):
            ModelRegistry(store, tmp_path / "models").register(pack, "api:data_scientist1")
    finally:
        store.dispose()
    assert not marker.exists()
    # without the signature file it is an unsigned pack: refused too, before anything is unpickled
    (pack / SIGNATURE).unlink()
    with pytest.raises(PackError, match="not signed"):
        load_pack(pack)
    assert not marker.exists()


def test_a_trap_signed_by_a_trusted_key_still_cannot_run(good_pack, tmp_path):
    """Defence in depth: a stolen (trusted) key signs a trap; the allow-list unpickler refuses the
    callable it names before calling it."""
    for trap, named in ((ShellTrap, r"posix\.system"), (OpenTrap, r"(builtins|io)\.open")):
        marker = tmp_path / f"ran-{trap.__name__}"
        pack = copy_pack(good_pack, tmp_path / trap.__name__)
        joblib.dump(trap(marker), pack / RANKER_FILE)
        recompute_manifest(pack)
        sign_manifest(pack, (pack / MANIFEST).read_bytes(), trainer_key())
        with pytest.raises(PackError, match=rf"names {named}, which a model pack may not hold"):
            load_pack(pack)
        assert not marker.exists()


def test_a_runner_imported_into_an_allowed_module_is_still_refused():
    """sklearn.calibration imports joblib's Parallel (it runs whatever tasks it is called with); a pickle
    naming it through that module must be refused like the direct name is."""
    from chartcoder.models.safe_load import load_ranker_bytes

    crafted = b"csklearn.calibration\nParallel\n(I2\nVthreading\ntR(((cbuiltins\nlist\n((I1\nI2\ntt(dtltR."
    with pytest.raises(PackError, match=r"sklearn\.calibration\.Parallel"):
        load_ranker_bytes(crafted, "ranker.joblib")


# -- 2. a key nobody trusts ----------------------------------------------------------------------------
def test_a_pack_signed_by_an_unknown_key_is_refused_until_that_key_is_trusted(good_pack, tmp_path):
    stranger = Ed25519PrivateKey.generate()
    pack = copy_pack(good_pack, tmp_path / "models" / "foreign")
    sign_manifest(pack, (pack / MANIFEST).read_bytes(), stranger)
    with pytest.raises(PackError, match="which this server does not trust"):
        load_pack(pack)
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    try:
        with pytest.raises(PackError, match="does not trust"):
            ModelRegistry(store, tmp_path / "models").register(pack, "api:data_scientist1")
    finally:
        store.dispose()
    # the same pack loads once the server trusts that key (CHARTCODER_TRUSTED_PACK_KEYS, a line or a file)
    line = public_text(stranger.public_key())
    assert load_pack(pack, trusted_keys(Settings(trusted_pack_keys=line))).name.startswith("good@")
    keyfile = tmp_path / "stranger.pub"
    keyfile.write_text(f"# the training machine\n{line}\n", encoding="utf-8")
    only_file = Settings(trusted_pack_keys=str(keyfile), trust_local_signing_key=False, data_dir=tmp_path / "data")
    assert len(trusted_keys(only_file)) == 1
    load_pack(pack, trusted_keys(only_file))
    # and a server that trusts only that key refuses the packs of the local trainer key
    with pytest.raises(PackError, match="does not trust"):
        load_pack(good_pack, trusted_keys(only_file))


# -- 3. an object that is not a ranker, through the real API and registry -------------------------------
def test_a_pack_that_is_not_a_ranker_is_refused_at_promotion_and_the_serving_pack_stays(
    good_pack, tmp_path, settings, service
):
    from fastapi.testclient import TestClient
    from sklearn.preprocessing import LabelEncoder

    from chartcoder.models.ranker import CodeRanker

    models = tmp_path / "models"
    copy_pack(good_pack, models / "champion", name="champion", version="v1")
    card = {"name": "broken", "system": "ICD-10-CM", "label_count": 3, "metrics": {}}
    # signed by the trusted trainer key: a mistake, not an attack; an sklearn object that is no ranker,
    # and a ranker class that was never fitted
    save_pack(LabelEncoder().fit(["E11.9", "I10", "J20.9"]), models / "not-a-ranker", {**card, "version": "v1"})
    save_pack(CodeRanker(), models / "unfitted", {**card, "version": "v2"})
    app, h = registry_app(f"sqlite:///{tmp_path / 'review.db'}", models, settings, service)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("champion", "not-a-ranker", "unfitted"):
            r = c.post("/v1/models/register", json={"path": path}, headers=h("data_scientist"))
            assert r.status_code == 201, r.text
        ok = c.post("/v1/models/promote", json={"ref": "champion@v1"}, headers=h("admin"))
        assert ok.status_code == 200, ok.text
        for ref, why in (
            ("broken@v1", "holds a sklearn.preprocessing._label.LabelEncoder"),
            ("broken@v2", "AttributeError"),
        ):
            refused = c.post("/v1/models/promote", json={"ref": ref}, headers=h("admin"))
            assert refused.status_code == 400, refused.text
            detail = refused.json()["detail"]
            assert f"{ref} was not promoted" in detail and "not a usable ranker" in detail and why in detail
            listing = c.get("/v1/models", headers=h("admin")).json()
            assert listing["active"] == "champion@v1" and listing["serving"] == "champion@v1"
            assert [e["pack"] for e in listing["history"]] == ["champion@v1"], "no promotion was recorded"
            served = c.post("/v1/suggestions", json={"text": NOTE}, headers=h("coder"))
            assert served.status_code == 200 and served.json()["model"] == "champion@v1"
            ready = c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["model"] == "champion@v1"
        # a promotion recorded some other way (an older chartcoder, a hand-edited database): the
        # process does not switch to a pack that cannot rank, so /readyz never names it
        registry = app.state.serving.registry
        registry._switch("promote", registry.check("broken@v1").id, "elsewhere", None)
        app.state.serving.sync()
        assert "not a usable ranker" in (app.state.serving.last_error or "")
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["model"] == "champion@v1"
        assert c.post("/v1/suggestions", json={"text": NOTE}, headers=h("coder")).json()["model"] == "champion@v1"


def test_the_cli_refuses_to_promote_a_pack_that_is_not_a_ranker(good_pack, tmp_path):
    from sklearn.preprocessing import LabelEncoder

    models = tmp_path / "models"
    save_pack(LabelEncoder().fit(["I10"]), models / "bad", {"name": "bad", "version": "v1", "system": "ICD-10-CM"})
    env = {**os.environ, "CHARTCODER_DATABASE_URL": f"sqlite:///{tmp_path / 'review.db'}"}
    env["CHARTCODER_MODEL_DIR"] = str(models)
    reg = subprocess.run([CHARTCODER, "models", "register", str(models / "bad")], env=env, capture_output=True)
    assert reg.returncode == 0, reg.stderr.decode()
    promote = subprocess.run([CHARTCODER, "models", "promote", "bad@v1"], env=env, capture_output=True, text=True)
    assert promote.returncode != 0
    said = " ".join(promote.stderr.split())
    assert "bad@v1 was not promoted" in said and "not a usable ranker" in said, said
    listing = subprocess.run([CHARTCODER, "models", "registry", "--json"], env=env, capture_output=True, text=True)
    assert json.loads(listing.stdout)["active"] is None


# -- 4. unsigned packs of an older chartcoder ------------------------------------------------------------
def test_an_unsigned_older_pack_gets_a_clear_message_and_loads_after_models_sign(good_pack, tmp_path):
    old = copy_pack(good_pack, tmp_path / "models" / "old")
    (old / SIGNATURE).unlink()  # what every pack made before signing looks like
    with pytest.raises(PackError) as refused:
        load_pack(old)
    message = str(refused.value)
    assert "not signed" in message and f"chartcoder models sign {old}" in message
    done = subprocess.run([CHARTCODER, "models", "sign", str(old)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "signed" in done.stderr
    assert load_pack(old).name == load_pack(good_pack).name
    # signing does not bless a pack whose files no longer match its manifest
    broken = copy_pack(good_pack, tmp_path / "models" / "broken")
    (broken / SIGNATURE).unlink()
    with (broken / RANKER_FILE).open("ab") as fh:
        fh.write(b"\0")
    refused_sign = subprocess.run([CHARTCODER, "models", "sign", str(broken)], capture_output=True, text=True)
    assert refused_sign.returncode != 0 and "SHA-256 does not match" in " ".join(refused_sign.stderr.split())
    assert not (broken / SIGNATURE).exists()


def test_the_shipped_default_pack_loads_through_the_allow_list_once_signed(tmp_path):
    """The default pack built before packs were signed (models/default of the checkout): refused as
    unsigned, then signed with `models sign` and loaded with the allow-list unpickler, and it ranks."""
    shipped = ROOT / "models" / "default"
    if not (shipped / RANKER_FILE).is_file() or (shipped / SIGNATURE).exists():
        pytest.skip(f"no unsigned default pack at {shipped}")
    copy = Path(shutil.copytree(shipped, tmp_path / "default"))
    with pytest.raises(PackError, match="not signed"):
        load_pack(copy)
    done = subprocess.run([CHARTCODER, "models", "sign", str(copy)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pack = load_pack(copy)
    assert pack.name.startswith("default@")
    codes = [code for code, _ in pack.ranker.rank([NOTE])[0][:5]]
    assert "E11.22" in codes


# -- keys ----------------------------------------------------------------------------------------------------
def test_signing_keys_are_made_once_readable_only_by_their_owner(tmp_path):
    from chartcoder.models.signing import load_or_create_key, public_bytes, server_key

    path = tmp_path / "keys" / "trainer.key"
    first, again = load_or_create_key(path), load_or_create_key(path)
    assert public_bytes(first.public_key()) == public_bytes(again.public_key())
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.with_name("trainer.key.pub").read_text().startswith("ssh-ed25519 ")
    assert "PRIVATE KEY" not in path.with_name("trainer.key.pub").read_text()
    # the server's own key lives in its data folder and is trusted there without configuration
    cfg = Settings(data_dir=tmp_path / "data", pack_signing_key=path, trust_local_signing_key=False)
    own = server_key(cfg)
    assert (tmp_path / "data" / "pack-signing.key").stat().st_mode & 0o777 == 0o600
    assert [public_bytes(k.key) for k in trusted_keys(cfg)] == [public_bytes(own.public_key())]
    # a trusted-keys entry that is neither a key nor a readable file is an error that says so
    with pytest.raises(PackError, match="neither an 'ssh-ed25519 AAAA...' key nor a readable key file"):
        trusted_keys(Settings(data_dir=tmp_path / "data", trusted_pack_keys=str(tmp_path / "nope.pub")))
