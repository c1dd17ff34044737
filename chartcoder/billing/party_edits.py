"""Claim edits about the claim's parties, each from its definition:

- PAYER_UNKNOWN: the payer is in neither the payer table nor the practice file, so its claim filing
  indicator (SBR09, CMS-1500 item 1) is unknown; it is never guessed as commercial.
- NAME_CHARACTERS: X12's basic character set (upper-case letters, digits, space, some punctuation):
  a name or address with other letters is transliterated (warning, saying what is sent) or, when a
  letter has no transliteration, refused (error) - a letter is never dropped.
- ADDRESS_LENGTH: N301/N302 hold 55 characters; a longer line is refused, never cut.
- OTHER_COVERAGE: a secondary (or tertiary) claim carries the other plan (837P 2320/2330A/2330B).
- REBUILT_CLAIM: (warning) a claim built again for one encounter gets its own CLM01; if the earlier
  one reached the payer, the right claim is a replacement (frequency 7) or a void (8).
"""

from __future__ import annotations

from chartcoder.billing.claim import Address, Claim, Person
from chartcoder.billing.edit_base import WARNING, Edit, Finding, ScrubContext
from chartcoder.billing.names import FoldError, fold_x12, needs_folding

MAX_ADDRESS_LINE = 55


def _people(claim: Claim) -> list[tuple[str, Person]]:
    people = [("subscriber", claim.subscriber)]
    if claim.patient is not None:
        people.append(("patient", claim.patient))
    if claim.other_coverage is not None:
        people.append(("other plan's subscriber", claim.other_coverage.subscriber))
    return people


def _addresses(claim: Claim) -> list[tuple[str, Address]]:
    found = [(role, p.address) for role, p in _people(claim)]
    found.append(("billing provider", claim.billing_provider.address))
    return [(role, a) for role, a in found if a is not None]


class PayerUnknown(Edit):
    """The payer billed (or the other plan) is not in the payer table or the practice file."""

    id = "PAYER_UNKNOWN"
    title = "Payer not in the payer table"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        payers = [("payer", claim.payer)]
        if claim.other_coverage is not None:
            payers.append(("other plan's payer", claim.other_coverage.payer))
        return [
            self.finding(
                f"The {role} (id {payer.payer_id or 'none'}) is in neither the payer table nor the practice file, "
                "so how its claims are filed (commercial, Medicare, Medicaid...) is unknown.",
                "Add the payer with its claim filing indicator to the payer table (CHARTCODER_PAYER_FILE) or "
                "the practice file, or correct the encounter's payer id.",
            )
            for role, payer in payers
            if not payer.listed
        ]


class NameCharacters(Edit):
    """Names and addresses outside the X12 basic character set."""

    id = "NAME_CHARACTERS"
    severity = WARNING
    title = "Name or address transliterated for X12"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        texts = [(f"{role}'s name", f"{p.first_name} {p.last_name}") for role, p in _people(claim)]
        texts += [(f"{role}'s address", f"{a.line1} {a.line2 or ''} {a.city}") for role, a in _addresses(claim)]
        findings = []
        for what, text in texts:
            if not needs_folding(text):
                continue
            try:
                sent, _ = fold_x12(text)
            except FoldError as exc:
                findings.append(
                    self.finding(
                        f"The {what} has a letter X12 cannot carry and that has no transliteration ({exc}).",
                        "Enter it as the payer's records spell it, in Latin letters.",
                        severity="error",
                    )
                )
                continue
            findings.append(
                self.finding(
                    f"The {what} has letters outside the X12 character set; it is sent transliterated as "
                    f"{' '.join(sent.split())!r}.",
                    "Check that this is how the payer's records spell it.",
                )
            )
        return findings


class AddressLength(Edit):
    """837P N301/N302 (and the CMS-1500's address boxes) hold 55 characters a line."""

    id = "ADDRESS_LENGTH"
    title = "Address line longer than 55 characters"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        findings = []
        for role, address in _addresses(claim):
            for n, line in ((1, address.line1), (2, address.line2)):
                if line and len(line.strip()) > MAX_ADDRESS_LINE:
                    findings.append(
                        self.finding(
                            f"The {role}'s address line {n} has {len(line.strip())} characters; an 837P address "
                            f"line holds {MAX_ADDRESS_LINE}. It is not cut.",
                            "Move the apartment, suite or building to address line 2, or use the USPS "
                            "abbreviations (STREET -> ST, APARTMENT -> APT).",
                        )
                    )
        return findings


class OtherCoverageCheck(Edit):
    """A claim to a secondary or tertiary payer reports the plan(s) ahead of it (837P 2320/2330)."""

    id = "OTHER_COVERAGE"
    title = "Secondary claim without the primary plan"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        if claim.payer.responsibility in ("S", "T") and claim.other_coverage is None:
            return [
                self.finding(
                    "The claim goes to a secondary payer but names no primary plan; the payer cannot coordinate "
                    "benefits and denies it.",
                    "Add the primary payer (payer) and bill the secondary (secondary_payer, claim_to: secondary) "
                    "with what the primary paid.",
                )
            ]
        return []


class RebuiltClaim(Edit):
    """A claim built again after a reopen has its own CLM01 (frequency 1): right when the earlier
    one never left; if it reached the payer, a replacement (7) or void (8) is what to send."""

    id = "REBUILT_CLAIM"
    severity = WARNING
    title = "Claim built again for the encounter"

    def check(self, claim: Claim, context: ScrubContext) -> list[Finding]:
        earlier = claim.extra.get("previous_claim_id", "").strip()
        if not earlier or claim.frequency != "1":
            return []
        return [
            self.finding(
                f"A claim was built for this encounter before ({earlier}); this one is {claim.claim_id}, a new "
                "claim (frequency 1).",
                "If the earlier claim reached the payer, do not send this one: send a replacement (correction "
                "frequency 7) or a void (8) with the payer's claim number.",
            )
        ]


PARTY_EDITS: tuple[type[Edit], ...] = (PayerUnknown, NameCharacters, AddressLength, OtherCoverageCheck, RebuiltClaim)
