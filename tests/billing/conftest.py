"""Billing fixtures: `sample_claim(**overrides)` builds a small synthetic claim (a clinic, a
subscriber who is the patient, a commercial payer, three diagnoses, two lines)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from chartcoder.billing.claim import Address, Claim, Diagnosis, Payer, Person, Provider, ServiceLine

SERVICE_DATE = date(2026, 1, 10)


def make_sample_claim(**overrides: Any) -> Claim:
    """A valid claim; keyword arguments replace Claim fields (dataclasses.replace)."""
    clinic = Provider(
        npi="1234567893",  # Luhn-valid with the 80840 prefix
        name="Example Family Clinic",
        taxonomy="207Q00000X",
        tax_id="123456789",
        address=Address(line1="123 Main St", city="Anytown", state="CA", zip="900011234"),
        contact_name="Jane Biller",
        contact_phone="5555552222",
    )
    subscriber = Person(
        last_name="Doe",
        first_name="John",
        birth_date=date(1970, 1, 1),
        sex="M",
        member_id="123456789A",
        address=Address(line1="456 Oak St", city="Anytown", state="CA", zip="90001"),
    )
    claim = Claim(
        claim_id="PATACCT0001",
        billing_provider=clinic,
        subscriber=subscriber,
        payer=Payer(name="Example Health Plan", payer_id="12345", claim_filing="CI"),
        diagnoses=[
            Diagnosis("E11.65", "Type 2 diabetes mellitus with hyperglycemia"),
            Diagnosis("I10", "Essential (primary) hypertension"),
            Diagnosis("R07.9", "Chest pain, unspecified"),
        ],
        lines=[
            ServiceLine(
                code="99213", charge=Decimal("100.00"), service_date=SERVICE_DATE, modifiers=("25",), pointers=(1, 2)
            ),
            ServiceLine(code="93000", charge=Decimal("50.00"), service_date=SERVICE_DATE, pointers=(3, 2)),
        ],
        receiver_name="Example Clearinghouse",
        receiver_id="CLEARINGHOUSE",
    )
    return replace(claim, **overrides)


@pytest.fixture(scope="session")
def sample_claim():
    """The factory: `sample_claim()` or `sample_claim(claim_id=..., lines=[...])`."""
    return make_sample_claim
