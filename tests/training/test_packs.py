"""Model packs: a signed, manifest-verified folder; anything tampered, unlisted, missing or of another
format is refused before joblib (pickle) runs. Signatures and the allow-list unpickler: tests/security."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import joblib
import pytest
from training_support import CODIESP

from chartcoder import __version__
from chartcoder.models.pack import (
    CARD,
    MANIFEST,
    PACK_FORMAT,
    RANKER_FILE,
    SIGNATURE,
    PackError,
    list_packs,
    load_pack,
    save_pack,
    verify_pack,
)
from chartcoder.models.ranker import CodeRanker
from chartcoder.models.signing import sign_manifest, trainer_key
from chartcoder.training.readers import read_codiesp

CARD_IN = {"name": "pcs-test", "version": "0.0.1", "system": "ICD-10-PCS", "label_count": 4, "metrics": {}}


@pytest.fixture(scope="module")
def ranker() -> CodeRanker:
    records = [r for r in read_codiesp(CODIESP, ["train"], "procedure") if r.positives()]
    return CodeRanker().fit([r.text for r in records], [r.positives() for r in records], system="ICD-10-PCS")


@pytest.fixture(scope="module")
def pristine(ranker, tmp_path_factory) -> Path:
    return save_pack(ranker, tmp_path_factory.mktemp("packs") / "pristine", CARD_IN)


@pytest.fixture
def pack(pristine, tmp_path) -> Path:
    """A fresh copy of a good pack, free to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "models" / "pack"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_manifest(pack: Path) -> None:
    """What someone who knows the layout would do after editing a file: re-hash everything."""
    names = sorted(p.name for p in pack.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    (pack / MANIFEST).write_text("".join(f"{sha256(pack / n)}  {n}\n" for n in names), encoding="utf-8")


def test_good_pack_layout_card_and_manifest(pack, ranker):
    assert sorted(p.name for p in pack.iterdir()) == sorted([CARD, MANIFEST, RANKER_FILE, SIGNATURE])
    card = json.loads((pack / CARD).read_text(encoding="utf-8"))
    assert card["format"] == PACK_FORMAT and card["chartcoder_version"] == __version__
    assert card["created"]
    assert {k: card[k] for k in CARD_IN} == CARD_IN
    lines = (pack / MANIFEST).read_text(encoding="utf-8").splitlines()
    assert lines == [f"{sha256(pack / n)}  {n}" for n in sorted([CARD, RANKER_FILE])]
    assert verify_pack(pack).to_dict() == card
    loaded = load_pack(pack)
    assert loaded.card.to_dict() == card and loaded.name == "pcs-test@0.0.1" and loaded.path == pack
    assert isinstance(loaded.ranker, CodeRanker) and loaded.ranker.labels_ == ranker.labels_


def test_appended_byte_in_ranker_is_refused_naming_the_file(pack):
    with (pack / RANKER_FILE).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(PackError, match=rf"{RANKER_FILE}.*SHA-256 does not match"):
        load_pack(pack)


def test_tampered_ranker_is_never_unpickled(pack, tmp_path):
    """The refusal happens before joblib.load: a booby-trapped pickle must not run."""
    sentinel = tmp_path / "pickle-ran"

    class Trap:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    joblib.dump(Trap(), pack / RANKER_FILE)
    with pytest.raises(PackError, match=RANKER_FILE):
        load_pack(pack)
    assert not sentinel.exists()
    joblib.load(pack / RANKER_FILE)  # the control: loading it unchecked does run it
    assert sentinel.exists()


def _edit_card(pack: Path, **fields: str) -> None:
    card = json.loads((pack / CARD).read_text(encoding="utf-8"))
    card.update(fields)
    (pack / CARD).write_text(json.dumps(card), encoding="utf-8")


def test_edited_card_is_refused(pack):
    _edit_card(pack, name="something-else")
    with pytest.raises(PackError, match=rf"{CARD}.*SHA-256 does not match"):
        load_pack(pack)


def test_card_with_another_format_is_refused_even_when_rehashed(pack):
    _edit_card(pack, format="chartcoder.pack.v0")
    rewrite_manifest(pack)
    with pytest.raises(PackError, match=r"pack format 'chartcoder\.pack\.v0'"):
        load_pack(pack)


def test_pack_of_an_older_ranker_is_refused_even_when_rehashed(pack):
    _edit_card(pack, ranker="chartcoder.CodeRanker.v1")
    rewrite_manifest(pack)
    with pytest.raises(PackError, match=r"made for ranker 'chartcoder\.CodeRanker\.v1'.*Retrain"):
        load_pack(pack)


def test_card_that_is_not_json_or_missing_is_refused(pack):
    (pack / CARD).write_text("{not json", encoding="utf-8")
    with pytest.raises(PackError, match="not valid JSON"):
        load_pack(pack)
    (pack / CARD).unlink()
    with pytest.raises(PackError, match="not a model pack"):
        load_pack(pack)


def test_missing_manifest_is_refused(pack):
    (pack / MANIFEST).unlink()
    with pytest.raises(PackError, match=rf"no {MANIFEST}"):
        load_pack(pack)


def test_unlisted_file_is_refused(pack):
    (pack / "extra.joblib").write_bytes(b"not listed")
    with pytest.raises(PackError, match=r"unlisted: \['extra\.joblib'\]"):
        load_pack(pack)


def test_listed_but_missing_file_is_refused(pack):
    (pack / RANKER_FILE).unlink()
    with pytest.raises(PackError, match=rf"missing: \['{RANKER_FILE}'\]"):
        load_pack(pack)


def test_malformed_manifest_line_is_refused(pack):
    text = (pack / MANIFEST).read_text(encoding="utf-8")
    (pack / MANIFEST).write_text(text + "deadbeef  ranker.joblib\n", encoding="utf-8")
    with pytest.raises(PackError, match="does not match its manifest"):
        load_pack(pack)
    sign_manifest(pack, (pack / MANIFEST).read_bytes(), trainer_key())  # even when a trusted key signed it
    with pytest.raises(PackError, match=rf"{MANIFEST}, line 3"):
        load_pack(pack)


def test_not_a_pack(tmp_path):
    with pytest.raises(PackError, match="not a model pack"):
        load_pack(tmp_path)


def test_list_packs_reports_ok_and_refused(pristine, tmp_path):
    models = tmp_path / "models"
    good = Path(shutil.copytree(pristine, models / "a-good"))
    bad = Path(shutil.copytree(pristine, models / "b-tampered"))
    with (bad / RANKER_FILE).open("ab") as fh:
        fh.write(b"\0")
    shutil.copytree(pristine, models / ".c-hidden")  # a temporary folder of an unfinished save
    (models / "notes.txt").write_text("not a pack", encoding="utf-8")
    (models / "d-empty").mkdir()
    rows = list_packs(models)
    assert [Path(r["path"]).name for r in rows] == ["a-good", "b-tampered", "d-empty"]
    ok, tampered, empty = rows
    assert ok["status"] == "ok" and ok["path"] == str(good)
    assert (ok["name"], ok["version"], ok["system"], ok["labels"]) == ("pcs-test", "0.0.1", "ICD-10-PCS", 4)
    assert ok["created"] and ok["metrics"] == {}
    assert tampered["status"].startswith("refused") and RANKER_FILE in tampered["status"]
    assert tampered["name"] == "pcs-test"  # the card is still readable, only the pack is refused
    assert empty["status"].startswith("refused") and empty["name"] == "d-empty" and empty["version"] == "?"
    assert list_packs(tmp_path / "no-such-folder") == []


def test_save_pack_replaces_atomically_and_cleans_up(ranker, tmp_path):
    out = tmp_path / "models" / "p"
    save_pack(ranker, out, {**CARD_IN, "version": "1"})
    save_pack(ranker, out, {**CARD_IN, "version": "2"})
    assert verify_pack(out).version == "2"
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for a lambda
        save_pack(lambda: None, out, {**CARD_IN, "version": "3"})
    assert verify_pack(out).version == "2"  # the pack in place is untouched by the failed save
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["p"]  # no temporary folder left
