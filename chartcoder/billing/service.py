"""Claims for finalized encounters: assemble from the stored encounter, scrub, keep the claim and its
findings, and hand it out as JSON, 837P, FHIR Claim or CMS-1500. Used by the API and the CLI."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import func, select

from chartcoder.accounts import audit
from chartcoder.accounts.principal import Principal
from chartcoder.billing.assembler import (
    FeeSchedule,
    PayerTable,
    Practice,
    assemble,
    load_fee_schedule,
    load_payers,
    load_practice,
)
from chartcoder.billing.claim import Claim, claim_from_dict, claim_to_dict
from chartcoder.billing.scrubber import Scrubber
from chartcoder.config import Settings
from chartcoder.domain.errors import InvalidInputError, NotFoundError
from chartcoder.review.service import ReviewService
from chartcoder.store.claims import ClaimRecord, next_control_number
from chartcoder.store.database import ReviewStore

FORMATS = ("json", "837p", "fhir", "cms1500", "cms1500-html")


class ClaimBuilder:
    """Practice data, fee schedule and scrubber, loaded once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def practice(self) -> Practice:
        return load_practice(self.settings.practice_file)

    @cached_property
    def fees(self) -> FeeSchedule:
        return load_fee_schedule(self.settings.fee_schedule_file)

    @cached_property
    def scrubber(self) -> Scrubber:
        from chartcoder.billing.ncci import load_mue, load_ptp_files

        files = [f.strip() for f in self.settings.ncci_ptp_files.split(",") if f.strip()]
        ncci = load_ptp_files(files) if files else None
        mue = load_mue(self.settings.mue_file) if self.settings.mue_file else None
        from chartcoder.codes.procedures import cpt, hcpcs

        return Scrubber.default(ncci=ncci, mue=mue, cpt=cpt(self.settings), hcpcs=hcpcs(self.settings))

    def build(self, encounter: Mapping[str, Any], *, previous_claims: int = 0) -> tuple[Claim, list[dict[str, Any]]]:
        """Assemble and scrub. `previous_claims`: how many claims were built for this encounter
        before (after a reopen): the new one gets its own claim id (`rebuilt_claim_id`)."""
        claim = assemble(encounter, self.practice, self.fees, payers=self.payers)
        if previous_claims:
            claim = rebuilt(claim, previous_claims)
        return claim, [f.to_dict() for f in self.scrubber.scrub(claim).findings]

    @cached_property
    def payers(self) -> PayerTable:
        return load_payers(self.settings.payer_file, self.practice)


def rebuilt_claim_id(claim_id: str, previous_claims: int) -> str:
    """The claim id of the claim built after `previous_claims` earlier ones for one encounter: the
    original id with `R2`, `R3`... (CLM01 keeps at most 20 characters). A claim rebuilt after a
    reopen never reuses the first claim's CLM01 with frequency 1: the payer would take it for a
    duplicate. Replacing a claim the payer already has is frequency 7 with its claim number."""
    suffix = f"R{previous_claims + 1}"
    return claim_id[: 20 - len(suffix)] + suffix


def rebuilt(claim: Claim, previous_claims: int) -> Claim:
    """The claim with its rebuilt id, the earlier id kept in `extra.previous_claim_id` (the
    scrubber's REBUILT_CLAIM warning tells the biller what to do if that one was sent)."""
    if claim.frequency in ("7", "8"):  # a correction refers to the payer's number: its id can stay
        return claim
    earlier = claim.claim_id if previous_claims == 1 else rebuilt_claim_id(claim.claim_id, previous_claims - 1)
    return replace(
        claim,
        claim_id=rebuilt_claim_id(claim.claim_id, previous_claims),
        extra={**claim.extra, "previous_claim_id": earlier},
    )


def allocate_control_number(store: ReviewStore, submitter_id: str) -> int:
    """The submitter's next interchange control number, from the database (shared by the API and
    the CLI, so two files never carry the same one)."""
    with store.session() as s:
        return next_control_number(s, submitter_id)


def scrubber_errors(findings: list[dict[str, Any]]) -> list[str]:
    """The findings that block a claim, as `EDIT (where)`."""
    return [f"{f['edit']} ({f['where']})" for f in findings if f["severity"] == "error"]


def require_issuable(findings: list[dict[str, Any]], *, draft: bool = False) -> None:
    """The one rule for the CLI and the API: a claim with scrubber errors is not issued in any format
    unless the caller explicitly asks for a draft (`--allow-errors` on the CLI, `draft=true` on the API).
    Raises InvalidInputError naming the errors; warnings never block."""
    errors = scrubber_errors(findings)
    if errors and not draft:
        raise InvalidInputError(
            f"the claim has {len(errors)} scrubber error(s): {', '.join(errors)}; nothing issued. Fix them, "
            "finalize and build again, or ask for a draft (--allow-errors on the CLI, draft=true on the API)"
        )


_QUOTED = re.compile(r":?\s*'[^']*'|:?\s*\"[^\"]*\"")


def _safe(exc: Exception) -> str:
    """A writer's message without the values it quotes (they may be names, ids: PHI)."""
    return _QUOTED.sub("", str(exc)).strip()


def render(
    claim: Claim,
    fmt: str,
    *,
    control_number: int = 1,
    created: datetime | None = None,
    production: bool = False,
) -> tuple[str | dict[str, Any], str]:
    """(body, media type) of a claim in one of FORMATS. An 837P carries `control_number` in
    ISA13/GS06/ST02 and is marked production (ISA15 "P") or test ("T")."""
    if fmt == "json":
        return claim_to_dict(claim), "application/json"
    if fmt == "837p":
        from chartcoder.billing.x12 import write_837p

        try:
            body = write_837p(claim, control_number=control_number, created=created, usage="P" if production else "T")
            return body, "application/edi-x12"
        except ValueError as exc:  # a claim the writer cannot express in X12 (the scrubber says why)
            raise InvalidInputError(f"the claim cannot be written as an 837P: {_safe(exc)}") from None
    if fmt == "fhir":
        from chartcoder.billing.fhir import fhir_claim_json

        try:
            return fhir_claim_json(claim), "application/fhir+json"
        except ValueError as exc:
            raise InvalidInputError(f"the claim cannot be written as a FHIR Claim: {_safe(exc)}") from None
    if fmt in ("cms1500", "cms1500-html"):
        from chartcoder.billing.cms1500 import cms1500_fields, render_cms1500_html

        try:
            if fmt == "cms1500":
                return cms1500_fields(claim), "application/json"
            return render_cms1500_html(claim), "text/html"
        except ValueError as exc:
            raise InvalidInputError(f"the claim cannot be put on a CMS-1500: {_safe(exc)}") from None
    raise InvalidInputError(f"'format' must be one of {', '.join(FORMATS)}; got {fmt!r}.")


class BillingService:
    def __init__(self, review: ReviewService, settings: Settings) -> None:
        self.review = review
        self.builder = ClaimBuilder(settings)

    def build_claim(self, encounter_id: str, actor: Principal) -> dict[str, Any]:
        encounter = self.review.get_encounter(encounter_id)
        with self.review.store.session(write=False) as s:
            earlier = select(func.count()).select_from(ClaimRecord).where(ClaimRecord.encounter_id == encounter_id)
            before = s.scalar(earlier)
        claim, findings = self.builder.build(encounter, previous_claims=int(before or 0))
        clean = not any(f["severity"] == "error" for f in findings)
        with self.review.store.session() as s:
            row = ClaimRecord(
                control_number=next_control_number(s, claim.submitter_id),
                encounter_id=encounter_id,
                encounter_version=encounter["version"],
                claim=claim_to_dict(claim),
                findings=findings,
                clean=clean,
                created_by=actor.user_id,
            )
            s.add(row)
            s.flush()
            audit.record(
                s,
                actor,
                "claim.built",
                encounter_id,
                {
                    "claim": row.id,
                    "version": encounter["version"],
                    "total_charge": str(claim.total_charge),
                    "clean": clean,
                    "edits": sorted({f["edit"] for f in findings}),
                },
            )
            return _record_dict(row)

    def get_claim(self, encounter_id: str) -> tuple[dict[str, Any], Claim]:
        self.review.get_encounter(encounter_id)  # 404 for an unknown encounter
        with self.review.store.session(write=False) as s:
            record = s.scalar(
                select(ClaimRecord).where(ClaimRecord.encounter_id == encounter_id).order_by(ClaimRecord.id.desc())
            )
            if record is None:
                raise NotFoundError(f"no claim built for encounter {encounter_id!r} yet; POST .../claim builds one")
            return _record_dict(record), claim_from_dict(record.claim)


def _record_dict(record: ClaimRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "control_number": record.control_number or record.id,  # in ClaimRecordOut's order
        "encounter_id": record.encounter_id,
        "encounter_version": record.encounter_version,
        "created_at": record.created_at.isoformat(),
        "clean": record.clean,
        "findings": record.findings,
        "claim": record.claim,
    }
