"""CDS Hooks services (https://cds-hooks.hl7.org/): discovery, the two coding services, and feedback.

A hook call's note (FHIR DocumentReferences in `prefetch` or `context`) becomes a review encounter,
exactly as `POST /v1/encounters` would store it, so coders see it on the worklist; the answer is one
card per suggested code, each with one suggestion whose action creates the FHIR resource (a
`Condition` for an ICD-10-CM diagnosis, a `ChargeItem` for a CPT/HCPCS service, a `Procedure` for an
ICD-10-PCS procedure). Cards, suggestions and the hook call are stored, so feedback on a card becomes
a review decision on that encounter's code: `accepted` an accept, `overridden` a reject with the
reason mapped to our reject reasons. Choices are explained in docs/integration.md.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from chartcoder.accounts.principal import Principal
from chartcoder.domain.code_systems import CodeSystem
from chartcoder.domain.errors import ConflictError, InvalidInputError, NotFoundError
from chartcoder.interop.fhir_in import (
    FhirChart,
    FhirInputError,
    Issue,
    chart_from_resources,
    checked,
    text_problem,
)
from chartcoder.review.decisions import DecisionIn
from chartcoder.review.service import ReviewService
from chartcoder.review.states import REASON_CODES, REASONS
from chartcoder.store.accounts import User
from chartcoder.store.base import utcnow
from chartcoder.store.cds import CdsCall, CdsCard, CdsFeedback

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
FHIR_SYSTEMS: dict[str, str] = {
    CodeSystem.ICD10CM: ICD10CM,
    CodeSystem.CPT: CPT,
    CodeSystem.HCPCS: HCPCS,
    CodeSystem.ICD10PCS: ICD10PCS,
}
REASON_SYSTEM = "urn:chartcoder:reject-reason"
TOPIC_SYSTEM = "urn:chartcoder:cds-topic"
EXTENSION = "org.chartcoder.suggestion"
SOURCE_LABEL = "chartcoder"
MAX_SUMMARY = 139  # the specification: a summary of fewer than 140 characters
SNIPPET_CONTEXT = 60
FEEDBACK_RETRIES = 5
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "encounter": "Encounter/{{context.encounterId}}",
    "notes": "DocumentReference?encounter={{context.encounterId}}&status=current",
    "practitioner": "{{context.userId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
}


@dataclass(frozen=True)
class CdsServiceDef:
    id: str
    hook: str
    setting: str
    title: str
    description: str
    usage: str

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(PREFETCH),
            "usageRequirements": self.usage,
        }


_USAGE = (
    "Prefetch (or send in context) the encounter's notes as DocumentReferences with base64 text/plain or "
    "text/html in content[].attachment.data; Patient, Encounter, Practitioner and Coverage are optional. "
    "Authenticate with a JWT signed by a key registered with chartcoder."
)
SERVICES: dict[str, CdsServiceDef] = {
    s.id: s
    for s in (
        CdsServiceDef(
            id="chartcoder-inpatient-coding",
            hook="encounter-discharge",
            setting="inpatient",
            title="chartcoder: inpatient diagnosis and procedure codes",
            description="At discharge, reads the stay's notes and suggests ICD-10-CM (and ICD-10-PCS) codes "
            "under the inpatient guidelines (uncertain diagnoses coded as if established), one card per "
            "code with its score and the words in the note that support it. The encounter goes to "
            "chartcoder's coder worklist; accepting or dismissing a card is recorded as the coder's "
            "decision. Answers no cards for an Encounter whose class is not inpatient.",
            usage=_USAGE,
        ),
        CdsServiceDef(
            id="chartcoder-ambulatory-coding",
            hook="encounter-discharge",
            setting="outpatient",
            title="chartcoder: ambulatory visit codes",
            description="When an office, clinic, emergency or virtual visit is closed out, reads the visit "
            "note and suggests ICD-10-CM diagnoses under the outpatient guidelines (signs and symptoms "
            "instead of uncertain diagnoses) and CPT/HCPCS services including the E/M level, one card per "
            "code with its score and evidence. The visit goes to chartcoder's coder worklist. Answers no "
            "cards for an Encounter whose class is inpatient.",
            usage=_USAGE,
        ),
    )
}


class NoteMissingError(FhirInputError):
    """The hook call carries no note: the CDS Hooks answer for missing prefetch data is 412."""


@dataclass(frozen=True)
class CdsCaller:
    """Who called: `client` names the caller in the CDS tables (`cds:<name>` for a CDS client's JWT,
    `key:<name>` for an API key, `user:<username>` for a person)."""

    principal: Principal
    client: str

    @property
    def feedback_username(self) -> str | None:
        """The user EHR feedback is decided as; None when the caller is a person (they decide as themselves)."""
        if self.principal.user_id is not None:
            return None
        name = self.client.split(":", 1)[1] if self.client.startswith("cds:") else self.client
        return ("ehr:" + name)[:64]


class CdsHooksService:
    """Discovery, hook calls and feedback over the review store."""

    def __init__(self, review: ReviewService, max_note_chars: Callable[[], int]) -> None:
        self.review = review
        self.store = review.store
        self._max_note_chars = max_note_chars

    # -- discovery -------------------------------------------------------------------------------
    @staticmethod
    def discovery() -> dict[str, Any]:
        return {"services": [s.discovery() for s in SERVICES.values()]}

    @staticmethod
    def service(service_id: str) -> CdsServiceDef:
        found = SERVICES.get(service_id)
        if found is None:
            raise NotFoundError(
                f"no CDS service {service_id[:100]!r}; GET /cds-services lists them: {', '.join(SERVICES)}"
            )
        return found

    # -- a hook call -----------------------------------------------------------------------------
    def call(self, service_id: str, request: dict[str, Any], caller: CdsCaller, base_url: str) -> dict[str, Any]:
        """Cards for one hook call. `request` is the validated body (hook, hookInstance, context,
        prefetch, ...). The same hookInstance again answers the same cards."""
        svc = self.service(service_id)
        if request["hook"] != svc.hook:
            raise InvalidInputError(f"the service {svc.id} answers the {svc.hook!r} hook; got {request['hook']!r}")
        instance = request["hookInstance"]
        with self.store.session(write=False) as s:
            done = s.scalar(
                select(CdsCall).where(
                    CdsCall.client == caller.client, CdsCall.service_id == svc.id, CdsCall.hook_instance == instance
                )
            )
            if done is not None:
                return dict(done.response)
        context = request.get("context") or {}
        patient_id, encounter_id = _context_id(context, "patientId"), _context_id(context, "encounterId")
        chart = self._chart(context, request.get("prefetch") or {})
        if chart.setting is not None and chart.setting != svc.setting:
            # The Encounter says this is not our kind of visit: the other service codes it.
            return {"cards": []}
        from chartcoder.models.service import validate_note

        validate_note(chart.text, self._max_note_chars())
        chart.setting = "inpatient" if svc.setting == "inpatient" else "outpatient"  # the service's guidelines
        chart.external_id = encounter_id
        enc = self._reuse(caller, svc, encounter_id, chart.note_sha256)
        if enc is None:
            enc = self.review.create_encounter(chart.encounter_data(svc.setting), caller.principal)
        cards, rows = self._cards(enc, svc, caller, patient_id, encounter_id, base_url)
        response: dict[str, Any] = {"cards": cards}
        try:
            with self.store.session() as s:
                call = CdsCall(
                    client=caller.client,
                    service_id=svc.id,
                    hook=svc.hook,
                    hook_instance=instance,
                    encounter_id=enc["id"],
                    ehr_encounter_id=encounter_id,
                    ehr_patient_id=patient_id,
                    ehr_user=_context_id(context, "userId", required=False),
                    note_sha256=chart.note_sha256,
                    response=response,
                    created_at=utcnow(),
                )
                s.add(call)
                s.flush()
                for row in rows:
                    row.call_id = call.id
                    s.add(row)
        except IntegrityError:  # the same hookInstance answered meanwhile by another request: theirs stands
            with self.store.session(write=False) as s:
                done = s.scalar(
                    select(CdsCall).where(
                        CdsCall.client == caller.client, CdsCall.service_id == svc.id, CdsCall.hook_instance == instance
                    )
                )
                if done is None:
                    raise
                return dict(done.response)
        return response

    def _chart(self, context: dict[str, Any], prefetch: dict[str, Any]) -> FhirChart:
        items: list[tuple[str, Any]] = [(f"context.{k}", v) for k, v in context.items() if isinstance(v, dict)]
        items += [(f"prefetch.{k}", v) for k, v in prefetch.items()]
        resources = checked(items)
        try:
            return chart_from_resources(resources, self._max_note_chars())
        except FhirInputError as exc:
            if exc.kind != "no_note":
                raise
            raise NoteMissingError(
                [
                    Issue(
                        "error",
                        "required",
                        "no note in the hook call: neither context nor prefetch holds a DocumentReference; "
                        f"satisfy the prefetch template 'notes' ({PREFETCH['notes']}) with the encounter's "
                        "notes, base64 text/plain or text/html in content[].attachment.data",
                    )
                ],
                kind="no_note",
            ) from None

    def _reuse(self, caller: CdsCaller, svc: CdsServiceDef, ehr_encounter: str, digest: str) -> dict[str, Any] | None:
        """The encounter stored for an earlier call on the same EHR encounter with the same note (the
        hook may fire more than once during a discharge): no duplicate on the worklist."""
        with self.store.session(write=False) as s:
            prior = s.scalar(
                select(CdsCall)
                .where(
                    CdsCall.client == caller.client,
                    CdsCall.service_id == svc.id,
                    CdsCall.ehr_encounter_id == ehr_encounter,
                    CdsCall.encounter_id.is_not(None),
                )
                .order_by(CdsCall.id.desc())
                .limit(1)
            )
        if prior is None or prior.note_sha256 != digest or prior.encounter_id is None:
            return None
        return self.review.get_encounter(prior.encounter_id)

    def _cards(
        self,
        enc: dict[str, Any],
        svc: CdsServiceDef,
        caller: CdsCaller,
        patient_id: str,
        encounter_id: str,
        base_url: str,
    ) -> tuple[list[dict[str, Any]], list[CdsCard]]:
        sset = enc.get("suggestion_set") or {}
        states = {(c["system"], c["code"]): c for c in enc.get("codes") or []}
        text: str = enc.get("text") or ""
        cards: list[dict[str, Any]] = []
        rows: list[CdsCard] = []
        link = f"{base_url.rstrip('/')}/#/encounter/{enc['id']}"
        # Cards for the first default_top_k suggestions (the review stores more, for the coder's list).
        for sug in (sset.get("suggestions") or [])[: self.review.settings.default_top_k]:
            state = states.get((sug["system"], sug["code"]), {}).get("state")
            if state == "rejected":  # a coder already turned it down: do not ask the clinician again
                continue
            card_uuid, sug_uuid = str(uuid.uuid4()), str(uuid.uuid4())
            cards.append(_card(sug, text, card_uuid, sug_uuid, patient_id, encounter_id, sset.get("model"), link))
            rows.append(
                CdsCard(
                    uuid=card_uuid,
                    suggestion_uuid=sug_uuid,
                    encounter_id=enc["id"],
                    client=caller.client,
                    service_id=svc.id,
                    code=sug["code"],
                    system=sug["system"],
                    created_at=utcnow(),
                )
            )
        return cards, rows

    # -- feedback --------------------------------------------------------------------------------
    def feedback(self, service_id: str, items: list[dict[str, Any]], caller: CdsCaller) -> dict[str, Any]:
        """Applies feedback items as review decisions and records every item. All items are checked
        first (unknown card or suggestion: nothing is applied). A decision a person made on the code is
        never overwritten by EHR feedback; the item is still recorded, with what became of it."""
        svc = self.service(service_id)
        if not items:
            raise InvalidInputError("'feedback' is empty; send at least one feedback item")
        uuids = list(dict.fromkeys(str(i["card"]) for i in items))
        with self.store.session(write=False) as s:
            cards = {
                c.uuid: c
                for c in s.scalars(
                    select(CdsCard).where(
                        CdsCard.uuid.in_(uuids), CdsCard.service_id == svc.id, CdsCard.client == caller.client
                    )
                )
            }
        unknown = [u for u in uuids if u not in cards]
        if unknown:
            raise NotFoundError(
                f"unknown card {', '.join(repr(u[:40]) for u in unknown[:10])} for service {svc.id}: feedback must "
                "name the card.uuid of a card this service answered to the same client; nothing was recorded"
            )
        planned: list[tuple[dict[str, Any], CdsCard, DecisionIn]] = []
        for n, item in enumerate(items):
            card = cards[str(item["card"])]
            planned.append((item, card, _decision(item, card, n)))
        person = self._feedback_principal(caller)
        results: list[dict[str, Any]] = [{} for _ in planned]
        by_encounter: dict[str, list[int]] = {}
        for n, (_, card, _) in enumerate(planned):
            by_encounter.setdefault(card.encounter_id, []).append(n)
        failed: ConflictError | None = None
        for encounter_id, indexes in by_encounter.items():
            try:
                self._apply(encounter_id, [(n, planned[n]) for n in indexes], person, results)
            except ConflictError as exc:  # a coder kept changing it: record the items, then say retry
                failed = exc
                for n in indexes:
                    item, card, _ = planned[n]
                    results[n] = {
                        "card": card.uuid,
                        "outcome": item["outcome"],
                        "code": card.code,
                        "system": card.system,
                        "result": "not_applied",
                        "error": exc.error,
                    }
        with self.store.session() as s:
            for n, (item, card, _) in enumerate(planned):
                reason = item.get("overrideReason") or {}
                s.add(
                    CdsFeedback(
                        card_uuid=card.uuid,
                        client=caller.client,
                        outcome=item["outcome"],
                        accepted_suggestions=[a["id"] for a in item.get("acceptedSuggestions") or []],
                        override_reason=reason.get("reason"),
                        user_comment=(reason.get("userComment") or None) and str(reason["userComment"])[:2000],
                        outcome_timestamp=item["outcomeTimestamp"],
                        result=results[n]["result"],
                        decision=results[n].get("decision"),
                        received_at=utcnow(),
                    )
                )
        if failed is not None:
            # every item is recorded (with what became of it); the ones marked not_applied apply when the
            # EHR sends the same feedback again, and the applied ones then answer already_applied
            raise ConflictError(
                f"{failed}; the feedback was recorded but some items could not be applied: send it again",
                failed.error,
            )
        return {"feedback": results}

    def _apply(
        self,
        encounter_id: str,
        planned: list[tuple[int, tuple[dict[str, Any], CdsCard, DecisionIn]]],
        person: Principal,
        results: list[dict[str, Any]],
    ) -> None:
        for attempt in range(FEEDBACK_RETRIES):
            enc = self.review.get_encounter(encounter_id)
            states = {(c["system"], c["code"]): c for c in enc["codes"]}
            batch: list[DecisionIn] = []
            for n, (item, card, decision) in planned:
                base = {"card": card.uuid, "outcome": item["outcome"], "code": card.code, "system": card.system}
                current = states.get((card.system, card.code), {})
                target = "rejected" if decision.action == "reject" else "accepted"
                decided_by = current.get("decided_by")
                if enc["status"] == "finalized":
                    results[n] = {**base, "result": "encounter_finalized"}
                elif decided_by not in (None, person.username):
                    results[n] = {**base, "result": "kept_person_decision", "decided_by": decided_by}
                elif current.get("state") == target and current.get("reason") == decision.reason:
                    results[n] = {**base, "result": "already_applied"}
                else:
                    batch.append(decision)
                    summary = {"action": decision.action, "code": card.code, "system": card.system}
                    if decision.reason:
                        summary["reason"] = decision.reason
                    results[n] = {**base, "result": "applied", "decision": summary}
            if not batch:
                return
            try:
                self.review.decide(encounter_id, enc["version"], _last_per_code(batch), person)
                return
            except ConflictError as exc:
                if exc.error != "version_conflict" or attempt == FEEDBACK_RETRIES - 1:
                    raise

    def _feedback_principal(self, caller: CdsCaller) -> Principal:
        """A person decides as themselves; a CDS client or API key as its EHR service user (role ehr,
        no password: it cannot sign in), created the first time that EHR sends feedback."""
        username = caller.feedback_username
        if username is None:
            return caller.principal
        for _ in range(2):
            with self.store.session(write=False) as s:
                user = s.scalar(select(User).where(User.username == username))
                if user is not None:
                    return Principal(user.role, user.username, user_id=user.id)
            try:
                with self.store.session() as s:
                    s.add(
                        User(
                            username=username,
                            display_name=f"EHR feedback ({caller.client})"[:128],
                            role="ehr",
                            password_hash=None,
                            active=True,
                            created_at=utcnow(),
                        )
                    )
            except IntegrityError:  # another request created it first
                continue
        raise ConflictError(f"could not create the EHR feedback user {username!r}; retry", "conflict")


def _context_id(context: dict[str, Any], key: str, required: bool = True) -> str:
    value = context.get(key)
    if isinstance(value, str) and 0 < len(value) <= 200 and text_problem(value) is None:
        return value
    if required:
        raise InvalidInputError(
            f"context.{key} must be the FHIR id (a string of 1-200 characters); the encounter-discharge hook "
            "requires userId, patientId and encounterId"
        )
    return ""


def _decision(item: dict[str, Any], card: CdsCard, n: int) -> DecisionIn:
    where = f"feedback[{n}]"
    if item["outcome"] == "accepted":
        accepted = [a["id"] for a in item.get("acceptedSuggestions") or []]
        if not accepted:
            raise InvalidInputError(f"{where}: an 'accepted' outcome needs acceptedSuggestions [{{'id': ...}}]")
        if any(a != card.suggestion_uuid for a in accepted):
            raise InvalidInputError(
                f"{where}.acceptedSuggestions: the card {card.uuid} has one suggestion, {card.suggestion_uuid}"
            )
        return DecisionIn(action="accept", code=card.code, system=card.system)
    override = item.get("overrideReason") or {}
    coding = override.get("reason") or {}
    comment = str(override.get("userComment") or "").strip()
    if coding.get("system") == REASON_SYSTEM and coding.get("code") in REASON_CODES:
        reason, note = str(coding["code"]), comment
    elif coding:
        # The EHR's own reason (the specification lets clients add reasons): kept in the note.
        label = coding.get("display") or coding.get("code")
        reason, note = "other", f"EHR reason: {label} ({coding.get('system')}|{coding.get('code')})"
        note = f"{note}. {comment}" if comment else note
    else:
        reason, note = "other", comment or "Dismissed in the EHR without a reason"
    return DecisionIn(action="reject", code=card.code, system=card.system, reason=reason, note=note[:500] or None)


def _last_per_code(batch: list[DecisionIn]) -> list[DecisionIn]:
    """One decision per code, the last one sent (feedback in one request may repeat a card)."""
    last: dict[tuple[str, str], DecisionIn] = {}
    for d in batch:
        last.pop((d.system, d.code), None)
        last[(d.system, d.code)] = d
    return list(last.values())


def override_reasons() -> list[dict[str, str]]:
    return [{"system": REASON_SYSTEM, "code": code, "display": label} for code, label in REASONS]


def _card(
    sug: dict[str, Any],
    text: str,
    card_uuid: str,
    sug_uuid: str,
    patient_id: str,
    encounter_id: str,
    model: str | None,
    link: str,
) -> dict[str, Any]:
    code, system, description = sug["code"], sug["system"], sug.get("description") or ""
    score = float(sug.get("score") or 0.0)
    evidence = sug.get("evidence") or []
    snippets = [_snippet(text, e) for e in evidence[:3]]
    warnings = [str(w) for w in sug.get("warnings") or []]
    kind = "diagnosis" if system == CodeSystem.ICD10CM else "procedure"
    quote = f" Evidence: \u201c{snippets[0]}\u201d" if snippets else ""
    if system == CodeSystem.ICD10CM:
        verb = f"Record {code} {description} as a diagnosis of this encounter."
    elif system == CodeSystem.ICD10PCS:
        verb = f"Record the procedure {code} {description}."
    else:
        verb = f"Record the billable service {system} {code} {description}."
    resource = _resource(system, code, description, score, snippets, patient_id, encounter_id)
    # `detail` is GitHub-flavoured markdown the EHR renders: every text in it is escaped, and note
    # text is quoted as a code span, where no link, image, autolink or HTML is ever recognized.
    detail = [
        f"**{md_text(code)}** ({md_text(system)}) {md_text(description)}",
        "",
        f"Score {score:.2f}" + (f" (model {md_text(model)})" if model else ""),
    ]
    if snippets:
        detail += ["", "Evidence in the note:"]
        for e, snip in zip(evidence, snippets, strict=False):
            where = ", ".join(str(x) for x in (e.get("section"), e.get("assertion")) if x)
            detail.append(f"> {md_code(snip)}" + (f" ({md_text(where)})" if where else ""))
            detail.append("")
    if warnings:
        detail += ["Warnings:"] + [f"- {md_text(w)}" for w in warnings]
    return {
        "uuid": card_uuid,
        "summary": _summary(code, description, score),
        "detail": "\n".join(detail).strip(),
        "indicator": "warning" if warnings else "info",
        "source": {
            "label": SOURCE_LABEL,
            "topic": {
                "system": TOPIC_SYSTEM,
                "code": f"{kind}-code",
                "display": "Diagnosis code" if kind == "diagnosis" else "Procedure or service code",
            },
        },
        "suggestions": [
            {
                "label": f"Code {code}",
                "uuid": sug_uuid,
                "actions": [{"type": "create", "description": (verb + quote)[:1000], "resource": resource}],
                "extension": {
                    EXTENSION: {
                        "code": code,
                        "system": system,
                        "description": description,
                        "score": score,
                        "evidence": [{**e, "snippet": s} for e, s in zip(evidence, snippets, strict=False)],
                        "warnings": warnings,
                    }
                },
            }
        ],
        "selectionBehavior": "at-most-one",
        "overrideReasons": override_reasons(),
        "links": [{"label": "Open in chartcoder", "url": link, "type": "absolute"}],
    }


_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character (CommonMark escapes them all)
_MD_URLISH = re.compile(r"(?i)(www|https?|ftp|mailto)(?=[.:])")


def md_text(text: str) -> str:
    """Text that renders as itself in CommonMark/GFM: punctuation backslash-escaped, line breaks
    made spaces, and the starts of GFM's bare autolinks (`www.`, `http:`) broken with a word joiner
    (U+2060) so that no link is made of them."""
    flat = " ".join(str(text).split())
    return _MD_PUNCT.sub(r"\\\1", _MD_URLISH.sub("\\1\u2060", flat))


def md_code(text: str) -> str:
    """`text` as an inline code span: its content is shown literally (no link, image or HTML), the
    fence longer than any run of backticks inside it."""
    flat = " ".join(str(text).split()) or " "
    longest = max((len(m) for m in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""  # one space each side is then dropped
    return f"{fence}{pad}{flat}{pad}{fence}"


def _summary(code: str, description: str, score: float) -> str:
    head, tail = f"{code} ", f" (score {score:.2f})"
    room = MAX_SUMMARY - len(head) - len(tail)
    desc = description if len(description) <= room else description[: max(0, room - 1)].rstrip() + "\u2026"
    return head + desc + tail


def _snippet(text: str, evidence: dict[str, Any]) -> str:
    """The evidence with some of its line around it, on one line (the words themselves are evidence.text)."""
    start, end = int(evidence.get("start", 0)), int(evidence.get("end", 0))
    if not text or not 0 <= start <= end <= len(text):
        return " ".join(str(evidence.get("text") or "").split())
    left = text.rfind("\n", 0, start) + 1
    right = text.find("\n", end)
    right = len(text) if right == -1 else right
    left, right = max(left, start - SNIPPET_CONTEXT), min(right, end + SNIPPET_CONTEXT)
    out = " ".join(text[left:right].split())
    before = "\u2026" if left > 0 and text[left - 1] != "\n" else ""
    after = "\u2026" if right < len(text) and text[right] != "\n" else ""
    return before + out + after


def _resource(
    system: str, code: str, description: str, score: float, snippets: list[str], patient_id: str, encounter_id: str
) -> dict[str, Any]:
    """The FHIR R4 resource a suggestion's action creates, validated by fhir.resources R4B."""
    from fhir.resources.R4B.chargeitem import ChargeItem
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.procedure import Procedure

    coding = {"system": FHIR_SYSTEMS.get(system, system), "code": code}
    if description:
        coding["display"] = description
    concept = {"coding": [coding], "text": f"{code} {description}".strip()}
    note = f"Suggested by chartcoder (score {score:.2f})"
    if snippets:
        note += ": \u201c" + snippets[0] + "\u201d"
    notes = [{"text": note}]
    subject = {"reference": f"Patient/{patient_id}"}
    encounter = {"reference": f"Encounter/{encounter_id}"}
    resource: Any
    if system == CodeSystem.ICD10CM:
        resource = Condition.model_validate(
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
                },
                "verificationStatus": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
                    ]
                },
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                "code": "encounter-diagnosis",
                                "display": "Encounter Diagnosis",
                            }
                        ]
                    }
                ],
                "code": concept,
                "subject": subject,
                "encounter": encounter,
                "note": notes,
            }
        )
    elif system == CodeSystem.ICD10PCS:
        resource = Procedure.model_validate(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": concept,
                "subject": subject,
                "encounter": encounter,
                "note": notes,
            }
        )
    else:
        resource = ChargeItem.model_validate(
            {
                "resourceType": "ChargeItem",
                "status": "billable",
                "code": concept,
                "subject": subject,
                "context": encounter,
                "note": notes,
            }
        )
    data: dict[str, Any] = resource.model_dump(mode="json", exclude_none=True)
    return data


def feedback_timestamp(value: str) -> datetime:
    """`outcomeTimestamp`: an ISO 8601 instant; a time without a zone is taken as UTC (the spec says UTC)."""
    from datetime import UTC

    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInputError(f"outcomeTimestamp must be an ISO 8601 UTC timestamp; got {value[:40]!r}") from None
