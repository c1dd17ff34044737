"""`chartcoder train / evaluate / models list / predict` end to end on the synthetic CodiEsp fixture,
each as a real subprocess. Independent commands run side by side to keep the module quick."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from training_support import CODIESP, JSONL, MIMIC, Run, finish, finish_training, run, start

from chartcoder.codes.icd10cm import RELEASE
from chartcoder.models.pack import RANKER_FILE, load_pack, verify_pack
from chartcoder.models.ranker import CodeRanker
from chartcoder.training.metrics import mean_average_precision
from chartcoder.training.readers import read_codiesp
from chartcoder.training.train import canonical_order, evaluate_pack, records_digest

PNG = b"\x89PNG\r\n\x1a\n"
NOTES = [
    {
        "id": "n-pneumonia",
        "text": "Fever and productive cough; chest x-ray with a right lower lobe infiltrate. "
        "Assessment: community acquired pneumonia. Known hypertension on amlodipine.",
        "encounter": {"setting": "inpatient"},
    },
    {
        "id": "n-uti",
        "text": "Dysuria and urinary frequency, urinalysis positive for nitrites: urinary tract infection. "
        "Foley catheter placed.",
        "encounter": {"setting": "inpatient", "age": 71, "sex": "F"},
    },
    {"id": "n-appendix", "text": "Acute appendicitis with right lower quadrant pain; laparoscopic appendectomy."},
    # the guideline engine finds a CPT code here (nebulizer treatment) beside the diagnoses
    {
        "id": "n-asthma",
        "text": "Acute asthma exacerbation with wheezing, treated with nebulized albuterol. Hypertension.",
    },
]
GOLD = {"n-pneumonia": {"J18.9", "I10"}, "n-uti": {"N39.0"}, "n-appendix": {"K35.80"}}
PCS_GOLD = {"n-pneumonia": "BW03ZZZ", "n-uti": "0T9B70Z", "n-appendix": "0DTJ4ZZ"}


@pytest.fixture(scope="module")
def work() -> Path:
    """Where the train runs (started by conftest.py as soon as these tests were collected) write
    models/dx and models/px; the later commands write beside them."""
    return finish_training()[0]


@pytest.fixture(scope="module")
def trained(work) -> dict[str, Run]:
    return finish_training()[1]


@pytest.fixture(scope="module")
def used(trained, work) -> dict[str, Run]:
    """Evaluate both packs and predict with the diagnosis pack, side by side, once the packs exist."""
    for r in trained.values():
        assert r.returncode == 0, r.explain()
    notes = work / "notes.jsonl"
    notes.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    dev = ("--format", "codiesp", "--data", str(CODIESP), "--splits", "dev")
    jobs = {
        "eval-dx": start("evaluate", "--model", str(work / "models" / "dx"), *dev, "--task", "diagnosis",
                         "--report", str(work / "report-dx")),
        "eval-px": start("evaluate", "--model", str(work / "models" / "px"), *dev, "--task", "procedure",
                         "--report", str(work / "report-px")),
        "predict-dx": start("predict", "--input", str(notes), "--output", str(work / "pred-dx.jsonl"),
                            "--model", str(work / "models" / "dx"), "--top-k", "20"),
    }  # fmt: skip
    return {k: finish(v) for k, v in jobs.items()}


def test_train_writes_verified_packs(trained, work):
    dx, px = trained["dx"], trained["px"]
    assert dx.returncode == 0, dx.explain()
    assert px.returncode == 0, px.explain()
    assert "read 24 records, 29 codes; 1 codes unknown" in dx.stderr and "T40.4X1A" in dx.stderr
    assert "read 24 records, 15 codes" in px.stderr
    assert f"wrote {work / 'models' / 'dx'}" in dx.stderr

    train_dx = read_codiesp(CODIESP, ["train"], "diagnosis")
    train_px = read_codiesp(CODIESP, ["train"], "procedure")
    for key, task, system, records, labels in (
        ("dx", "diagnosis", "ICD-10-CM", train_dx, 8),
        ("px", "procedure", "ICD-10-PCS", train_px, 4),
    ):
        card = verify_pack(work / "models" / key)
        usable = [r for r in records if r.positives()]
        assert card.name == f"{task}-ranker"
        assert (card.task, card.system, card.label_count) == (task, system, labels)
        assert card.code_set_release == RELEASE
        assert card.ranker_params == CodeRanker().get_params()
        assert card.threshold is not None and 0.0 < card.threshold <= 1.0
        assert card.training is not None and card.training["records"] == len(usable)
        # Training reads the records in an order of their content, whatever the files' order.
        assert card.training["sha256"] == records_digest([usable[i] for i in canonical_order(usable)])
        assert card.version == card.training["sha256"][:12]
        [source] = card.training["sources"]
        assert source["format"] == "codiesp" and source["splits"] == ["train"] and source["records"] == 24
        assert source["sha256"] == records_digest(records)
    assert verify_pack(work / "models" / "dx").knowledge_engine
    px_card = verify_pack(work / "models" / "px")
    assert px_card.knowledge_engine is None and px_card.to_dict()["knowledge_engine"] is None  # written as null
    assert load_pack(work / "models" / "dx").ranker.use_knowledge_ is True


@pytest.mark.parametrize(("key", "pack", "with_codes"), [("dx", "diagnosis-ranker", 7), ("px", "procedure-ranker", 5)])
def test_evaluate_writes_the_report_and_prints_map(used, work, key, pack, with_codes):
    proc = used[f"eval-{key}"]
    assert proc.returncode == 0, proc.explain()
    out = work / f"report-{key}"
    assert sorted(p.name for p in out.iterdir()) == [
        "calibration.png",
        "precision_recall.png",
        "report.json",
        "report.md",
    ]
    for png in ("calibration.png", "precision_recall.png"):
        assert (out / png).read_bytes()[:8] == PNG
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    version = verify_pack(work / "models" / key).version
    assert report["pack"] == f"{pack}@{version}"
    assert report["records"] == 8 and report["records_with_codes"] == with_codes
    for k in ("MAP", "micro_precision", "micro_recall", "micro_f1", "macro_f1", "ECE", "P@1", "R@5", "R@20"):
        assert 0.0 <= report[k] <= 1.0, k
    assert report["MAP"] >= 0.7  # dev notes are worded like the training notes of the same codes
    assert report["calibration"] and sum(b["count"] for b in report["calibration"]) > 0
    printed = re.search(r"\bMAP\b[^0-9\n]*([0-9]+\.[0-9]{4})", proc.stdout)
    assert printed, proc.stdout
    assert printed.group(1) == f"{report['MAP']:.4f}"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith(f"# Evaluation of {pack}@{version}")
    assert f"| MAP | {report['MAP']:.4f} |" in md
    assert "8 records (" in md and "precision_recall.png" in md


def test_evaluate_cli_agrees_with_the_library(used, work, tmp_path):
    """The procedure pack needs no knowledge engine, so the numbers can be recomputed in process."""
    assert used["eval-px"].returncode == 0, used["eval-px"].explain()
    cli = json.loads((work / "report-px" / "report.json").read_text(encoding="utf-8"))
    dev = read_codiesp(CODIESP, ["dev"], "procedure")
    lib = evaluate_pack(work / "models" / "px", dev, tmp_path / "report")
    assert set(lib) == set(cli)
    for k in cli:
        if isinstance(cli[k], float) and k != "ms_per_note":
            assert lib[k] == pytest.approx(cli[k]), k
        elif k != "ms_per_note":
            assert lib[k] == cli[k], k
    ranked = load_pack(work / "models" / "px").ranker.rank([r.text for r in dev])
    assert cli["MAP"] == pytest.approx(mean_average_precision([[c for c, _ in x] for x in ranked],
                                                              [r.positives() for r in dev]))  # fmt: skip
    assert (tmp_path / "report" / "report.json").is_file()


def test_models_list_shows_packs_and_refuses_a_tampered_one(trained, work, tmp_path):
    for r in trained.values():
        assert r.returncode == 0, r.explain()
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "dx", models / "dx")
    shutil.copytree(work / "models" / "px", models / "px")
    proc = run("models", "list", "--dir", str(models))
    assert proc.returncode == 0, proc.explain()
    rows = [line for line in proc.stdout.splitlines() if "-ranker" in line]
    assert len(rows) == 2, proc.stdout
    assert "diagnosis-ranker" in rows[0] and "ICD-10-CM" in rows[0] and re.search(r"\bok\b", rows[0])
    assert "procedure-ranker" in rows[1] and "ICD-10-PCS" in rows[1] and re.search(r"\bok\b", rows[1])
    assert verify_pack(models / "dx").version in rows[0]
    oof = (verify_pack(models / "dx").metrics or {})["MAP_out_of_fold"]
    assert 0.0 <= oof <= 1.0 and f"{oof:.3f}" in rows[0]  # the card's MAP is shown
    assert "2 model packs" in proc.stdout

    with (models / "px" / RANKER_FILE).open("ab") as fh:
        fh.write(b"\0")
    proc = run("models", "list", "--dir", str(models))
    assert proc.returncode == 0, proc.explain()
    rows = [line for line in proc.stdout.splitlines() if "-ranker" in line]
    assert re.search(r"\bok\b", rows[0])
    assert "refused" in rows[1] and not re.search(r"│\s*ok\s*│", rows[1])


def _check_contract(path: Path) -> dict[str, dict]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == [n["id"] for n in NOTES]
    for rec, note in zip(lines, NOTES, strict=True):
        assert set(rec) == {"id", "model", "suggestions"}
        assert 0 < len(rec["suggestions"]) <= 20
        scores = [s["score"] for s in rec["suggestions"]]
        assert scores == sorted(scores, reverse=True)
        for s in rec["suggestions"]:
            # The contract's fields, plus the group (suggested | consider) issue 15 added.
            assert set(s) == {"code", "system", "description", "score", "evidence", "warnings", "group"}
            assert s["group"] in ("suggested", "consider")
            for ev in s["evidence"]:
                assert set(ev) == {"start", "end", "text", "assertion", "section"}
                assert note["text"][ev["start"] : ev["end"]] == ev["text"]
    return {x["id"]: x for x in lines}


def test_predict_with_a_diagnosis_pack(used, work):
    proc = used["predict-dx"]
    assert proc.returncode == 0, proc.explain()
    by_id = _check_contract(work / "pred-dx.jsonl")
    version = verify_pack(work / "models" / "dx").version
    for note_id, gold in GOLD.items():
        rec = by_id[note_id]
        assert rec["model"] == f"diagnosis-ranker@{version}"
        cm = [s for s in rec["suggestions"] if s["system"] == "ICD-10-CM"]
        assert {s["code"] for s in cm[: len(gold)]} == gold, cm
        for s in cm:
            assert 0.0 <= s["score"] <= 1.0
        # the phrase that names the code travels with the learned suggestion
        top = cm[0]
        assert top["evidence"], top


ICD10CM_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def test_predict_with_a_pack_labels_each_code_with_its_own_system(used, work):
    """A code appears once per note, under its own system: the knowledge engine's CPT suggestion must
    not come back a second time as an "ICD-10-CM" code from the diagnosis pack."""
    assert used["predict-dx"].returncode == 0, used["predict-dx"].explain()
    by_id = _check_contract(work / "pred-dx.jsonl")
    asthma = by_id["n-asthma"]["suggestions"]
    assert "94640" in {s["code"] for s in asthma if s["system"] == "CPT"}  # the fixture's premise
    for rec in by_id.values():
        listed = [(s["code"], s["system"]) for s in rec["suggestions"]]
        codes = [c for c, _ in listed]
        assert len(codes) == len(set(codes)), f"{rec['id']}: a code suggested twice: {listed}"
        for code, system in listed:
            if system == "ICD-10-CM":
                assert ICD10CM_SHAPE.match(code), f"{rec['id']}: {code} labelled ICD-10-CM: {listed}"


def test_a_procedure_pack_in_the_service(trained, work, settings, service):
    """The procedure pack through the suggestion service, in process (the `service` fixture has loaded
    the NLP pipeline already, so a second service with the pack costs little): PCS codes come from
    the pack, the engine's diagnoses stay beside them."""
    from chartcoder.domain.encounter import Encounter
    from chartcoder.models.service import SuggestionService

    assert trained["px"].returncode == 0, trained["px"].explain()
    pack = load_pack(work / "models" / "px")
    with_pack = SuggestionService(settings, pack=pack)
    for note in NOTES:
        result = with_pack.suggest(note["text"], Encounter.from_dict(note.get("encounter")), 20)
        assert result.model == f"procedure-ranker@{pack.card.version}"
        pcs = [s for s in result.suggestions if s.system == "ICD-10-PCS"]
        assert {s.code for s in pcs} <= set(pack.ranker.labels_)
        for s in result.suggestions:
            for ev in s.evidence:
                assert note["text"][ev.start : ev.end] == ev.text
        if note["id"] in PCS_GOLD:
            assert pcs and pcs[0].code == PCS_GOLD[note["id"]], pcs
            assert any("similar coded charts" in w for w in pcs[0].warnings)
        if note["id"] in GOLD:  # the knowledge engine's diagnoses are kept beside the pack's codes
            assert GOLD[note["id"]] <= {s.code for s in result.suggestions if s.system == "ICD-10-CM"}


@pytest.fixture(scope="module")
def failing(trained, work) -> dict[str, Run]:
    """Commands that must fail with a clear message (exit 2, no traceback), run side by side."""
    for r in trained.values():
        assert r.returncode == 0, r.explain()
    tmp = work / "failing"
    bad = Path(shutil.copytree(work / "models" / "px", tmp / "tampered"))
    with (bad / RANKER_FILE).open("ab") as fh:
        fh.write(b"\0")
    notes = tmp / "notes.jsonl"
    notes.write_text(json.dumps(NOTES[0]) + "\n", encoding="utf-8")
    mimic = Path(shutil.copytree(MIMIC, tmp / "mimic"))
    (mimic / "hosp" / "diagnoses_icd.csv").write_text(
        "subject_id,hadm_id,seq_num,icd_code,icd_version\n90001,800001,one,E1165,10\n", encoding="utf-8"
    )
    out = str(tmp / "pack")
    dev = ("--format", "codiesp", "--data", str(CODIESP), "--splits", "dev", "--task", "procedure")
    jobs = {
        "no data": start("train", "--format", "codiesp", "--data", str(tmp / "nowhere"), "--out", out),
        "evaluate": start("evaluate", "--model", str(bad), *dev, "--report", str(tmp / "report")),
        "predict": start("predict", "--input", str(notes), "--output", str(tmp / "o.jsonl"), "--model", str(bad)),
        "task": start(
            "train", "--format", "jsonl", "--data", str(JSONL / "audited.jsonl"), "--task", "billing", "--out", out
        ),
        "mimic": start("train", "--format", "mimic", "--data", str(mimic), "--out", out),
    }
    runs = {k: finish(v) for k, v in jobs.items()}
    assert not (tmp / "pack").exists() and not (tmp / "report").exists() and not (tmp / "o.jsonl").exists()
    return runs


def assert_clear_error(proc: Run, *words: str) -> None:
    assert proc.returncode == 2, proc.explain()
    assert "Traceback" not in proc.stderr, proc.explain()
    flat = " ".join(proc.stderr.split())  # rich wraps long messages
    for w in words:
        assert w in flat, proc.explain()


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("no data", ["error:", "nowhere", "text_files_en"]),
        ("evaluate", ["error:", RANKER_FILE, "SHA-256 does not match"]),
        ("predict", ["error:", RANKER_FILE, "SHA-256 does not match"]),
    ],
)
def test_missing_data_and_tampered_packs_are_clear_errors(failing, key, words):
    assert_clear_error(failing[key], *words)


def test_train_with_an_unknown_task_is_a_clear_error(failing):
    """The CodiEsp reader refuses an unknown task; with --format jsonl (or mimic) the task is only
    looked up later, by train_pack, and must be refused as clearly."""
    assert_clear_error(failing["task"], "error:", "task", "billing")


def test_train_on_a_malformed_mimic_file_is_a_clear_error(failing):
    assert_clear_error(failing["mimic"], "error:", "diagnoses_icd.csv", "line 2")


def test_train_pack_refusals_in_process(tmp_path):
    from chartcoder.domain.errors import InvalidInputError
    from chartcoder.training.train import load_records, train_pack

    few = read_codiesp(CODIESP, ["dev"], "diagnosis")
    with pytest.raises(InvalidInputError, match="7 records have ICD-10-CM codes; training needs at least 10"):
        train_pack(few, tmp_path / "p", task="diagnosis")
    with pytest.raises(InvalidInputError, match="'format' parameter must be one of"):
        load_records("csv", CODIESP, ["train"], "diagnosis")
    with pytest.raises(InvalidInputError, match="synthetic"):
        load_records("synthetic", CODIESP, None, "diagnosis")
    assert [r.id for r in load_records("codiesp", CODIESP, None, "procedure")][:1] == ["SYN-TR-01"]  # train by default
    assert len(load_records("mimic", MIMIC, None, "diagnosis")) == 2
    assert len(load_records("jsonl", JSONL / "audited.jsonl", None, "diagnosis")) == 3
    assert not (tmp_path / "p").exists()
