"""Dataset readers: CodiEsp, MIMIC-IV, audited-chart JSONL (and the synthetic generator) -> Records.

ICD-10-CM codes from an older release are brought to the current one where the successor is
unambiguous (CodiEsp's 2018 R05 is FY2026's R05.9, its T14.90 is T14.90XA), with a warning on the
record and a count in the reader's summary, so that a model is trained and scored in the code set it
suggests from. Codes with no single successor, and codes the loaded code set does not know, are kept,
with a warning: a retired code is still the gold answer for that chart.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.errors import InvalidInputError
from chartcoder.training.records import GoldCode, Record

log = logging.getLogger(__name__)

TASK_FILE = {"diagnosis": "D", "procedure": "P"}
TASK_SYSTEM = {"diagnosis": "ICD-10-CM", "procedure": "ICD-10-PCS"}
DECISIONS = {"accepted", "rejected", "added"}


@dataclass
class ReadReport:
    """What a reader saw: how many records and codes, and the codes no loaded code set knows."""

    records: int = 0
    codes: int = 0
    unknown_codes: Counter[str] = field(default_factory=Counter)
    updated_codes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        unknown = sum(self.unknown_codes.values())
        text = f"{self.records} records, {self.codes} codes"
        updated = sum(self.updated_codes.values())
        if updated:
            top = ", ".join(c for c, _ in self.updated_codes.most_common(3))
            text += f"; {updated} ICD-10-CM codes brought to the current release, e.g. {top}"
        if unknown:
            top = ", ".join(c for c, _ in self.unknown_codes.most_common(5))
            text += f"; {unknown} codes unknown to the current code sets (kept), e.g. {top}"
        return text


def normalize_gold(code: str, system: str) -> str:
    c = code.strip().upper()
    if system == CodeSystem.ICD10CM and "." not in c and len(c) > 3:
        c = c[:3] + "." + c[3:]
    return c


def _known(code: str, system: str) -> bool:
    if system == CodeSystem.ICD10CM:
        from chartcoder.codes.icd10cm import icd10cm

        return icd10cm().is_valid(code)
    if system == CodeSystem.CPT:
        from chartcoder.codes.procedures import CPT_CODE

        return bool(CPT_CODE.match(code))
    if system == CodeSystem.HCPCS:
        from chartcoder.codes.procedures import HCPCS_CODE

        return bool(HCPCS_CODE.match(code))
    if system == CodeSystem.ICD10PCS:
        return len(code) == 7 and code.isalnum()
    return False


def _update_codes(record: Record, report: ReadReport) -> None:
    """Replace older ICD-10-CM codes by their unambiguous current successor (see the module note).
    Only for sources coded in an older release (CodiEsp, MIMIC-IV), and never a rejected code: a
    coder's rejection of R05 says nothing about R05.9."""
    from chartcoder.codes.icd10cm import icd10cm

    icd = icd10cm()
    codes: list[GoldCode] = []
    for c in record.codes:
        new = icd.successor(c.code) if c.system == CodeSystem.ICD10CM and c.decision != "rejected" else None
        if new and new != c.code:
            record.warnings.append(f"ICD-10-CM code {c.code} is {new} in {RELEASE_SHORT}; updated")
            report.updated_codes[f"{c.code}->{new}"] += 1
            if c.code in record.evidence:
                record.evidence.setdefault(new, []).extend(record.evidence.pop(c.code))
            c = GoldCode(new, c.system, c.decision)
        if not any(x.code == c.code and x.system == c.system and x.decision == c.decision for x in codes):
            codes.append(c)
    record.codes = codes


RELEASE_SHORT = "ICD-10-CM FY2026"


def _check_codes(record: Record, report: ReadReport, check: bool, update: bool = False) -> Record:
    report.records += 1
    if check and update:
        _update_codes(record, report)
    report.codes += len(record.codes)
    if check:
        for c in record.codes:
            if not _known(c.code, c.system):
                record.warnings.append(f"{c.system} code {c.code} is not in the current code set; kept")
                report.unknown_codes[c.code] += 1
    return record


# -- CodiEsp ---------------------------------------------------------------------------------------


def read_codiesp(
    root: str | Path,
    splits: Iterable[str],
    task: str = "diagnosis",
    report: ReadReport | None = None,
    check_codes: bool = True,
) -> list[Record]:
    """CodiEsp: `root/<split>/<split>{D,P}.tsv` (case_id, code) and English text in `text_files_en/`.
    Every case of the split is returned, with no codes when the TSV lists none for it."""
    if task not in TASK_FILE:
        raise InvalidInputError(f"The 'task' parameter must be one of {sorted(TASK_FILE)}. Got {task!r}.")
    root = Path(root)
    system = TASK_SYSTEM[task]
    report = report if report is not None else ReadReport()
    out: list[Record] = []
    for split in splits:
        folder = root / split
        tsv = folder / f"{split}{TASK_FILE[task]}.tsv"
        texts = folder / "text_files_en"
        if not tsv.is_file() or not texts.is_dir():
            raise InvalidInputError(
                f"{folder}: expected {tsv.name} and text_files_en/ (a CodiEsp split folder); not found"
            )
        gold: dict[str, list[str]] = {}
        with tsv.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 2:
                    raise InvalidInputError(f"{tsv}, line {lineno}: expected 'case_id<TAB>code'")
                code = normalize_gold(parts[1], system)
                bucket = gold.setdefault(parts[0], [])
                if code not in bucket:
                    bucket.append(code)
        evidence = read_codiesp_evidence(root, split, task)
        for path in sorted(texts.glob("*.txt")):
            case = path.stem
            record = Record(
                id=case,
                text=path.read_text(encoding="utf-8"),
                codes=[GoldCode(c, system) for c in gold.get(case, [])],
                encounter={"setting": "inpatient"},
                source=f"codiesp:{split}",
                evidence=evidence.get(case, {}),
            )
            out.append(_check_codes(record, report, check_codes, update=True))
    log.info("codiesp %s %s: %s", ",".join(splits), task, report.summary())
    return out


_ES_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _ES_SENTENCE.finditer(text) if m.group(0).strip()]


def align_evidence(spanish: str, english: str, offsets: list[int]) -> list[str]:
    """English sentences (lines of the machine translation) that carry the Spanish evidence at
    `offsets`. The translation splits and merges sentences, so lines are matched by relative
    position in the text and by the numbers the two sentences share."""
    lines = [ln for ln in english.split("\n")]
    if not lines or not spanish:
        return []
    starts, pos = [], 0
    for ln in lines:
        starts.append(pos)
        pos += len(ln) + 1
    total_en = max(pos, 1)
    es_sentences = _sentences(spanish)
    out: list[str] = []
    for off in offsets:
        sent = next(((a, b) for a, b in es_sentences if a <= off < b), None)
        if sent is None:
            continue
        rel = (sent[0] + sent[1]) / 2 / max(len(spanish), 1)
        numbers = set(_NUMBER.findall(spanish[sent[0] : sent[1]]))
        best, best_score = None, -1.0
        for i, ln in enumerate(lines):
            if not ln.strip():
                continue
            center = (starts[i] + len(ln) / 2) / total_en
            distance = abs(center - rel)
            if distance > 0.2:
                continue
            shared = len(numbers & set(_NUMBER.findall(ln))) / len(numbers) if numbers else 0.0
            score = shared + (1 - distance * 5)
            if score > best_score:
                best, best_score = ln.strip(), score
        if best and best not in out:
            out.append(best)
    return out


def read_codiesp_evidence(root: str | Path, split: str, task: str) -> dict[str, dict[str, list[str]]]:
    """case -> code -> English sentences that hold the coder's evidence (from `<split>X.tsv`, whose
    offsets point into the Spanish text, aligned to the English translation)."""
    folder = Path(root) / split
    x_path = folder / f"{split}X.tsv"
    kind = "DIAGNOSTICO" if task == "diagnosis" else "PROCEDIMIENTO"
    if not x_path.is_file() or not (folder / "text_files").is_dir():
        return {}
    offsets: dict[str, dict[str, list[int]]] = {}
    with x_path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5 or parts[1] != kind:
                continue
            first = parts[4].split(";")[0].split()
            if not first or not first[0].isdigit():
                continue
            code = normalize_gold(parts[2], TASK_SYSTEM[task])
            offsets.setdefault(parts[0], {}).setdefault(code, []).append(int(first[0]))
    out: dict[str, dict[str, list[str]]] = {}
    for case, by_code in offsets.items():
        es, en = folder / "text_files" / f"{case}.txt", folder / "text_files_en" / f"{case}.txt"
        if not es.is_file() or not en.is_file():
            continue
        spanish, english = es.read_text(encoding="utf-8"), en.read_text(encoding="utf-8")
        out[case] = {code: align_evidence(spanish, english, offs) for code, offs in by_code.items()}
    return out


# -- MIMIC-IV ---------------------------------------------------------------------------------------


def _csv_rows(path: Path, required: set[str]) -> Iterator[tuple[dict[str, str], int]]:
    """Rows of a CSV with a header, and the line each ends on; the required columns are checked first."""
    csv.field_size_limit(10_000_000)  # discharge notes are long quoted fields
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise InvalidInputError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            yield row, reader.line_num


def read_mimic(root: str | Path, report: ReadReport | None = None, limit: int | None = None) -> list[Record]:
    """MIMIC-IV: `note/discharge.csv` (note_id, subject_id, hadm_id, ..., text) joined on hadm_id with
    `hosp/diagnoses_icd.csv` (subject_id, hadm_id, seq_num, icd_code, icd_version); ICD-10 rows only,
    in seq_num order. Admissions with no ICD-10 code are skipped (they were coded in ICD-9)."""
    root = Path(root)
    notes_path, dx_path = root / "note" / "discharge.csv", root / "hosp" / "diagnoses_icd.csv"
    for p in (notes_path, dx_path):
        if not p.is_file():
            raise InvalidInputError(f"{p}: not found (expected a MIMIC-IV folder with note/ and hosp/)")
    report = report if report is not None else ReadReport()
    codes: dict[str, list[tuple[int, str]]] = {}
    for row, line in _csv_rows(dx_path, {"hadm_id", "icd_code", "icd_version"}):
        if str(row["icd_version"]).strip() != "10":
            continue
        try:
            seq = int(row.get("seq_num") or 0)
        except ValueError as exc:
            raise InvalidInputError(
                f"{dx_path}, line {line}: seq_num must be a whole number; got {row.get('seq_num')!r}"
            ) from exc
        codes.setdefault(row["hadm_id"], []).append((seq, normalize_gold(row["icd_code"], "ICD-10-CM")))
    out: list[Record] = []
    for row, _ in _csv_rows(notes_path, {"note_id", "hadm_id", "text"}):
        dx = codes.get(row["hadm_id"])
        if not dx:
            continue
        ordered = [c for _, c in sorted(dx)]
        record = Record(
            id=row["note_id"],
            text=row["text"],
            codes=[GoldCode(c, "ICD-10-CM") for c in dict.fromkeys(ordered)],
            encounter={"setting": "inpatient"},
            source="mimic-iv",
        )
        out.append(_check_codes(record, report, True, update=True))
        if limit and len(out) >= limit:
            break
    return out


# -- audited-chart JSONL ------------------------------------------------------------------------------


def iter_audited_jsonl(path: str | Path, report: ReadReport | None = None) -> Iterator[Record]:
    """`{"id", "text", "encounter", "codes": [{"code", "system", "decision"}]}` per line, as the review
    workflow exports it. A code may carry `"evidence"`: the sentences of the note a coder cited for
    it (what CodiEsp's X files hold), which the ranker mines terms from; kept for accepted and added
    codes. A malformed line raises InvalidInputError naming the line."""
    path = Path(path)
    report = report if report is not None else ReadReport()
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}, line {lineno}"
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInputError(f"{where}: not a JSON object in UTF-8 ({exc})") from exc
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or "id" not in obj:
                raise InvalidInputError(f"{where}: expected an object with 'id', 'text' and 'codes'")
            codes = []
            evidence: dict[str, list[str]] = {}
            for i, c in enumerate(obj.get("codes") or []):
                if not isinstance(c, dict) or not isinstance(c.get("code"), str):
                    raise InvalidInputError(f"{where}: codes[{i}] must be an object with a 'code' string")
                system = str(c.get("system") or "ICD-10-CM")
                decision = str(c.get("decision") or "accepted")
                if decision not in DECISIONS:
                    raise InvalidInputError(
                        f"{where}: codes[{i}].decision must be accepted, rejected or added; got {decision!r}"
                    )
                cited = c.get("evidence")
                if cited is not None and (not isinstance(cited, list) or not all(isinstance(x, str) for x in cited)):
                    raise InvalidInputError(f"{where}: codes[{i}].evidence must be a list of sentences (strings)")
                code = GoldCode(normalize_gold(c["code"], system), system, decision)  # type: ignore[arg-type]
                codes.append(code)
                if cited and code.positive:
                    sentences = evidence.setdefault(code.code, [])
                    sentences += [x for x in dict.fromkeys(cited) if x not in sentences]
            encounter = obj.get("encounter") or {}
            if not isinstance(encounter, dict):
                raise InvalidInputError(f"{where}: 'encounter' must be an object")
            record = Record(
                str(obj["id"]), obj["text"], codes, encounter, source=f"jsonl:{path.name}", evidence=evidence
            )
            yield _check_codes(record, report, True)


def read_audited_jsonl(path: str | Path, report: ReadReport | None = None) -> list[Record]:
    return list(iter_audited_jsonl(path, report))


def write_audited_jsonl(records: Iterable[Record], path: str | Path) -> int:
    """Records as audited-chart JSONL, each positive code with the sentences cited for it (if any)."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for r in records:
            codes: list[dict[str, Any]] = []
            for c in r.codes:
                row: dict[str, Any] = {"code": c.code, "system": c.system, "decision": c.decision}
                if c.positive and r.evidence.get(c.code):
                    row["evidence"] = r.evidence[c.code]
                codes.append(row)
            fh.write(
                json.dumps(
                    {"id": r.id, "text": r.text, "encounter": r.encounter, "codes": codes},
                    ensure_ascii=False,
                )
                + "\n"
            )
            n += 1
    return n


# -- synthetic --------------------------------------------------------------------------------------

_SYNTHETIC_SPEC = re.compile(r"^(\d{1,6})(?::(\d{1,9}))?$")


def read_synthetic(spec: str, report: ReadReport | None = None) -> list[Record]:
    """The synthetic corpus: `spec` is `N` or `N:SEED` (e.g. `2000:0`), the number of notes and the
    generator's seed."""
    match = _SYNTHETIC_SPEC.match(spec.strip())
    if not match or int(match.group(1)) < 1:
        raise InvalidInputError(f"--format synthetic takes --data N or N:SEED (e.g. 2000:0); got {spec!r}")
    from chartcoder.training.synthetic import generate

    report = report if report is not None else ReadReport()
    records = generate(int(match.group(1)), int(match.group(2) or 0))
    return [_check_codes(r, report, True) for r in records]
