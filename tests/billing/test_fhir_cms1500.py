"""FHIR R4B Claim and CMS-1500 writers: the FHIR resource validates through fhir.resources.R4B (on
construction and on a JSON round trip) and carries the claim's diagnoses, items, pointers and total;
the CMS-1500 map and its HTML rendering hold every code, the right pointer letters and pages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from fhir.resources.R4B.claim import Claim as FhirClaim
from pydantic import ValidationError

from chartcoder.billing.claim import Address, Claim, Diagnosis, Dose, Ndc, Payer, Person, Provider, ServiceLine
from chartcoder.billing.cms1500 import (
    LINES_PER_PAGE,
    Cms1500Error,
    cms1500_fields,
    cms1500_forms,
    pointer_letter,
    render_cms1500_html,
)
from chartcoder.billing.fhir import (
    CPT,
    HCPCS,
    ICD10CM,
    NPI,
    POS,
    FhirClaimError,
    fhir_claim_json,
    to_fhir_claim,
)

DOS = date(2025, 3, 4)
CREATED = date(2025, 3, 6)
# Synthetic ICD-10-CM codes (real, billable), enough for the 12 slots.
TWELVE = [
    "E11.22",
    "N18.30",
    "I10",
    "E78.5",
    "Z79.4",
    "J45.909",
    "M54.50",
    "R05.9",
    "K21.9",
    "F41.1",
    "G47.00",
    "Z87.891",
]


# --- a small synthetic claim factory (own to this file) -----------------------------------------


def billing_provider(**kw: Any) -> Provider:
    base: dict[str, Any] = dict(
        npi="1234567893",
        name="Maple Family Practice",
        taxonomy="207Q00000X",
        tax_id="123456789",
        address=Address("12 Maple Ave", "Springfield", "IL", "627011234", line2="Suite 200"),
        contact_name="Billing Office",
        contact_phone="2175550100",
    )
    base.update(kw)
    return Provider(**base)


def rendering_provider() -> Provider:
    return Provider(npi="1497758544", last_name="Rivera", first_name="Ana", taxonomy="207Q00000X", organization=False)


def person(last: str = "Nguyen", first: str = "Lan", **kw: Any) -> Person:
    base: dict[str, Any] = dict(
        last_name=last,
        first_name=first,
        birth_date=date(1971, 5, 9),
        sex="F",
        member_id="XJH123456789",
        address=Address("40 Oak St", "Springfield", "IL", "62704"),
    )
    base.update(kw)
    return Person(**base)


def line(code: str = "99213", charge: str = "120.00", **kw: Any) -> ServiceLine:
    return ServiceLine(code=code, charge=Decimal(charge), service_date=kw.pop("service_date", DOS), **kw)


def make_claim(diagnoses: list[str] | None = None, lines: list[ServiceLine] | None = None, **kw: Any) -> Claim:
    return Claim(
        claim_id=kw.pop("claim_id", "PCN-0001"),
        billing_provider=kw.pop("billing_provider", billing_provider()),
        subscriber=kw.pop("subscriber", person()),
        payer=kw.pop("payer", Payer(name="Prairie Health Plan", payer_id="PHP01")),
        diagnoses=[Diagnosis(c) for c in (diagnoses if diagnoses is not None else ["E11.22"])],
        lines=lines if lines is not None else [line()],
        **kw,
    )


def claim_one_dx() -> Claim:
    return make_claim(["I10"], [line("99213", "95.00")])


def claim_twelve_dx() -> Claim:
    return make_claim(
        TWELVE,
        [
            line("99214", "160.00", pointers=(1, 2, 3, 4)),
            line("83036", "25.50", pointers=(1,)),
            line("94010", "48.00", pointers=(6, 12)),
            line("36415", "9.00", pointers=(11, 10, 9, 8)),
        ],
    )


def claim_hcpcs() -> Claim:
    return make_claim(
        ["M17.11", "E11.9"],
        [
            line("20610", "210.00", modifiers=("RT",), pointers=(1,)),
            line("J3301", "30.00", units=Decimal(4), system="HCPCS", pointers=(1,), description="Our wording: drug"),
        ],
    )


def claim_separate_patient() -> Claim:
    return make_claim(
        ["J06.9", "R50.9"],
        [line("99203", "150.00", pointers=(1, 2))],
        patient=person("Nguyen", "Minh", birth_date=date(2015, 8, 1), sex="M", member_id=None),
        subscriber=person(),
        relationship="19",
    )


def claim_rendering() -> Claim:
    return make_claim(
        ["E11.22", "N18.30"],
        [line("99214", "160.00", pointers=(1, 2)), line("82043", "12.00", pointers=(2,), place_of_service="81")],
        rendering_provider=rendering_provider(),
    )


def claim_modifiers() -> Claim:
    return make_claim(
        ["S61.412A", "W26.0XXA"],
        [
            line("99213", "110.00", modifiers=("25",), pointers=(1, 2)),
            line("12002", "180.00", modifiers=("59", "XS", "LT", "F1"), pointers=(1,)),
        ],
    )


CLAIMS = {
    "one_dx": claim_one_dx,
    "twelve_dx": claim_twelve_dx,
    "hcpcs": claim_hcpcs,
    "separate_patient": claim_separate_patient,
    "rendering": claim_rendering,
    "modifiers": claim_modifiers,
}


# --- FHIR ----------------------------------------------------------------------------------------


def _codings(cc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in cc["coding"]]


@pytest.mark.parametrize("name", list(CLAIMS))
def test_fhir_claim_validates_and_round_trips(name):
    claim = CLAIMS[name]()
    resource = to_fhir_claim(claim, created=CREATED)
    assert isinstance(resource, FhirClaim)
    data = fhir_claim_json(claim, created=CREATED)
    text = json.dumps(data)
    # validated again by the library, from JSON text and from the dict
    again = FhirClaim.model_validate_json(text)
    assert json.loads(again.model_dump_json()) == data
    assert FhirClaim.model_validate(data).model_dump(mode="json") == data

    assert data["resourceType"] == "Claim"
    assert data["status"] == "active" and data["use"] == "claim"
    assert _codings(data["type"]) == [("http://terminology.hl7.org/CodeSystem/claim-type", "professional")]
    assert data["created"] == "2025-03-06"
    assert data["identifier"][0]["value"] == claim.claim_id
    start, end = claim.service_dates
    assert data["billablePeriod"] == {"start": start.isoformat(), "end": end.isoformat()}

    # diagnoses: same codes (with the dot), in order, sequence 1.., the first principal
    assert [d["sequence"] for d in data["diagnosis"]] == list(range(1, len(claim.diagnoses) + 1))
    assert [_codings(d["diagnosisCodeableConcept"]) for d in data["diagnosis"]] == [
        [(ICD10CM, d.code)] for d in claim.diagnoses
    ]
    assert data["diagnosis"][0]["type"][0]["coding"][0]["code"] == "principal"
    assert all("type" not in d for d in data["diagnosis"][1:])

    # items: code system, code, modifiers, pointers, date, place, units, money
    assert len(data["item"]) == len(claim.lines)
    for i, (item, sl) in enumerate(zip(data["item"], claim.lines, strict=True), start=1):
        assert item["sequence"] == i
        assert _codings(item["productOrService"]) == [(CPT if sl.system == "CPT" else HCPCS, sl.code)]
        assert [c["coding"][0]["code"] for c in item.get("modifier", [])] == list(sl.modifiers)
        assert item["diagnosisSequence"] == list(sl.pointers)
        assert item["servicedDate"] == sl.service_date.isoformat()
        assert _codings(item["locationCodeableConcept"]) == [(POS, sl.place_of_service or claim.place_of_service)]
        assert Decimal(str(item["quantity"]["value"])) == sl.units
        assert Decimal(str(item["net"]["value"])) == sl.charge
        assert item["net"]["currency"] == "USD"
        assert Decimal(str(item["unitPrice"]["value"])) * sl.units == pytest.approx(sl.charge)
    assert Decimal(str(data["total"]["value"])) == claim.total_charge

    # every local reference resolves to a contained resource
    contained = {r["id"]: r for r in data["contained"]}
    refs = [data[k]["reference"] for k in ("patient", "provider", "insurer")]
    refs += [i["coverage"]["reference"] for i in data["insurance"]]
    for ref in refs:
        assert ref.startswith("#") and ref[1:] in contained
    assert contained[data["patient"]["reference"][1:]]["resourceType"] == "Patient"
    billing = contained[data["provider"]["reference"][1:]]
    assert {"system": NPI, "value": claim.billing_provider.npi} in billing["identifier"]
    payer = contained[data["insurer"]["reference"][1:]]
    assert payer["resourceType"] == "Organization" and payer["name"] == claim.payer.name
    coverage = contained[data["insurance"][0]["coverage"]["reference"][1:]]
    assert coverage["resourceType"] == "Coverage"
    assert coverage["subscriberId"] == claim.subscriber.member_id
    assert coverage["payor"][0]["reference"] == data["insurer"]["reference"]
    assert data["insurance"][0]["focal"] is True
    assert data["priority"]["coding"][0]["code"] == "normal"


def test_twelve_diagnoses_and_pointers_beyond_four():
    data = fhir_claim_json(claim_twelve_dx(), created=CREATED)
    assert len(data["diagnosis"]) == 12
    assert data["diagnosis"][11]["diagnosisCodeableConcept"]["coding"][0]["code"] == "Z87.891"
    assert data["item"][3]["diagnosisSequence"] == [11, 10, 9, 8]


def test_hcpcs_line_system_and_unit_price():
    data = fhir_claim_json(claim_hcpcs(), created=CREATED)
    drug = data["item"][1]
    assert drug["productOrService"]["coding"][0] == {
        "system": HCPCS,
        "code": "J3301",
        "display": "Our wording: drug",  # the description the claim carries, nothing else
    }
    assert drug["quantity"]["value"] == 4
    assert Decimal(str(drug["unitPrice"]["value"])) == Decimal("7.50")
    assert "display" not in data["item"][0]["productOrService"]["coding"][0]  # no descriptor invented
    # RT is a HCPCS Level II modifier
    assert _codings(data["item"][0]["modifier"][0]) == [(HCPCS, "RT")]


def test_separate_patient_and_subscriber():
    claim = claim_separate_patient()
    data = fhir_claim_json(claim, created=CREATED)
    contained = {r["id"]: r for r in data["contained"]}
    patient = contained[data["patient"]["reference"][1:]]
    assert patient["name"][0] == {"family": "Nguyen", "given": ["Minh"]}
    assert patient["gender"] == "male" and patient["birthDate"] == "2015-08-01"
    coverage = next(r for r in data["contained"] if r["resourceType"] == "Coverage")
    assert coverage["beneficiary"]["reference"] == data["patient"]["reference"]
    subscriber = contained[coverage["subscriber"]["reference"][1:]]
    assert subscriber["resourceType"] == "Patient" and subscriber["name"][0]["given"] == ["Lan"]
    assert subscriber["id"] != patient["id"]
    assert coverage["relationship"]["coding"][0]["code"] == "child"
    assert coverage["subscriberId"] == "XJH123456789"


def test_subscriber_is_patient_when_no_separate_patient():
    data = fhir_claim_json(claim_one_dx(), created=CREATED)
    coverage = next(r for r in data["contained"] if r["resourceType"] == "Coverage")
    assert coverage["subscriber"]["reference"] == coverage["beneficiary"]["reference"] == "#patient"
    assert coverage["relationship"]["coding"][0]["code"] == "self"
    assert sum(r["resourceType"] == "Patient" for r in data["contained"]) == 1


def test_rendering_provider_in_care_team():
    data = fhir_claim_json(claim_rendering(), created=CREATED)
    assert len(data["careTeam"]) == 1
    team = data["careTeam"][0]
    assert team["sequence"] == 1 and team["role"]["coding"][0]["code"] == "primary"
    assert team["provider"]["identifier"] == {"system": NPI, "value": "1497758544"}
    practitioner = next(r for r in data["contained"] if r["id"] == team["provider"]["reference"][1:])
    assert practitioner["resourceType"] == "Practitioner"
    assert practitioner["name"][0] == {"family": "Rivera", "given": ["Ana"]}
    assert all(item["careTeamSequence"] == [1] for item in data["item"])
    assert data["item"][1]["locationCodeableConcept"]["coding"][0]["code"] == "81"
    assert "careTeam" not in fhir_claim_json(claim_one_dx(), created=CREATED)


def test_modifiers_keep_order_and_code_systems():
    data = fhir_claim_json(claim_modifiers(), created=CREATED)
    assert [_codings(m) for m in data["item"][1]["modifier"]] == [
        [(CPT, "59")],
        [(HCPCS, "XS")],
        [(HCPCS, "LT")],
        [(HCPCS, "F1")],
    ]
    assert _codings(data["item"][0]["modifier"][0]) == [(CPT, "25")]


def test_replacement_claim_refers_to_the_original():
    claim = make_claim(frequency="7", extra={"original_reference": "PAYER-ICN-778899"})
    data = fhir_claim_json(claim, created=CREATED)
    assert data["related"][0]["relationship"]["coding"][0]["code"] == "prior"
    assert data["related"][0]["reference"]["value"] == "PAYER-ICN-778899"
    assert "related" not in fhir_claim_json(make_claim(), created=CREATED)


def test_created_defaults_to_today():
    assert fhir_claim_json(make_claim())["created"] == date.today().isoformat()


def test_claim_id_not_a_fhir_id_still_identifies_the_claim():
    data = fhir_claim_json(make_claim(claim_id="PCN 0001/A"), created=CREATED)
    assert "id" not in data
    assert data["identifier"][0]["value"] == "PCN 0001/A"
    FhirClaim.model_validate(data)


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        (make_claim(lines=[]), "no service lines"),
        (make_claim(billing_provider=billing_provider(npi="")), "billing provider has no NPI"),
        (make_claim(subscriber=person(member_id=None)), "no member id"),
        (make_claim(["I10"], [line(pointers=(2,))]), "points at diagnoses [2]"),
        (make_claim(payer=Payer(name="", payer_id="X")), "payer has no name"),
        (make_claim([], [line(pointers=(1,))]), "no diagnoses"),
        (make_claim(lines=[line(units=Decimal(0))]), "units 0"),
        (make_claim(rendering_provider=replace(rendering_provider(), npi="")), "rendering provider has no NPI"),
    ],
)
def test_missing_required_data_raises_a_clear_error(claim, expected):
    with pytest.raises(FhirClaimError) as info:
        to_fhir_claim(claim, created=CREATED)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_every_problem_is_listed_at_once():
    claim = make_claim(lines=[], billing_provider=billing_provider(npi=""), subscriber=person(member_id=""))
    with pytest.raises(FhirClaimError) as info:
        to_fhir_claim(claim)
    assert len(info.value.problems) == 3


def test_values_fhir_rejects_become_the_same_error():
    # A code with surrounding space is not a FHIR `code`: fhir.resources refuses it, we say why.
    with pytest.raises(FhirClaimError, match="fhir.resources rejected"):
        to_fhir_claim(make_claim(lines=[line(" 99213")]), created=CREATED)
    with pytest.raises(FhirClaimError, match="fhir.resources rejected"):
        to_fhir_claim(make_claim(place_of_service=""), created=CREATED)


@pytest.mark.parametrize("field", ["patient", "provider", "insurance", "priority", "type"])
def test_the_r4b_model_itself_requires_what_a_claim_needs(field):
    data = fhir_claim_json(make_claim(), created=CREATED)
    del data[field]
    with pytest.raises(ValidationError):
        FhirClaim.model_validate(data)


# --- CMS-1500 ------------------------------------------------------------------------------------


def test_pointer_letters():
    assert [pointer_letter(p) for p in range(1, 13)] == list("ABCDEFGHIJKL")
    for bad in (0, 13):
        with pytest.raises(Cms1500Error):
            pointer_letter(bad)


def test_cms1500_pointer_letters_per_line():
    f = cms1500_fields(claim_twelve_dx(), signed_on=CREATED)
    assert [ln["24E"] for ln in f["24"]] == ["ABCD", "A", "FL", "KJIH"]


def test_cms1500_twelve_diagnosis_slots():
    f = cms1500_fields(claim_twelve_dx(), signed_on=CREATED)
    assert f["21"] == [c.replace(".", "") for c in TWELVE]
    assert f["21_ind"] == "0"
    one = cms1500_fields(claim_one_dx(), signed_on=CREATED)
    assert one["21"] == ["I10"] + [""] * 11


def test_cms1500_totals_and_lines():
    claim = claim_twelve_dx()
    f = cms1500_fields(claim, signed_on=CREATED)
    assert f["28"] == "242.50" == str(claim.total_charge)
    assert [ln["24F"] for ln in f["24"]] == ["160.00", "25.50", "48.00", "9.00"]
    assert sum(Decimal(ln["24F"]) for ln in f["24"]) == Decimal(f["28"])
    first = f["24"][0]
    assert first["24A_from"] == first["24A_to"] == "03 04 25"
    assert first["24B"] == "11" and first["24D"] == "99214" and first["24G"] == "1"


def test_cms1500_patient_insured_and_provider_items():
    claim = claim_separate_patient()
    f = cms1500_fields(claim, signed_on=CREATED)
    assert f["1"] == "Group Health Plan"
    assert f["1a"] == "XJH123456789"
    assert f["2"] == "Nguyen, Minh" and f["3"] == "08 01 2015" and f["3_sex"] == "M"
    assert f["4"] == "Nguyen, Lan" and f["11a"] == "05 09 1971" and f["11a_sex"] == "F"
    assert f["5"] == "40 Oak St" and f["5_city"] == "Springfield" and f["5_zip"] == "62704"
    assert f["6"] == "Child"
    assert f["11c"] == "Prairie Health Plan"
    assert f["22"] == "" and f["22_original_ref"] == ""
    assert f["25"] == "123456789" and f["25_type"] == "EIN"
    assert f["26"] == "PCN-0001"
    assert f["31"] == "SIGNATURE ON FILE" and f["31_date"] == "03 06 2025"
    assert f["32"] == f["33"] == ["Maple Family Practice", "12 Maple Ave, Suite 200", "Springfield, IL 62701-1234"]
    assert f["33a"] == "1234567893" and f["33b"] == "ZZ207Q00000X"
    assert f["33_phone"] == "(217) 555-0100"
    assert f["24"][0]["24J"] == ""  # an organization bills, no rendering provider: nothing in 24J


def test_cms1500_rendering_npi_modifiers_and_pos():
    f = cms1500_fields(claim_rendering(), signed_on=CREATED)
    assert [ln["24J"] for ln in f["24"]] == ["1497758544", "1497758544"]
    assert f["24"][1]["24B"] == "81"
    assert f["31_name"] == "Ana Rivera"
    m = cms1500_fields(claim_modifiers(), signed_on=CREATED)
    assert m["24"][1]["24D_modifiers"] == ["59", "XS", "LT", "F1"]


def test_cms1500_medicare_and_resubmission():
    claim = make_claim(
        payer=Payer(name="Medicare Part B", payer_id="00952", claim_filing="MB"),
        frequency="7",
        extra={"original_reference": "ICN12345", "group_number": "NONE", "prior_authorization": "PA-9"},
    )
    f = cms1500_fields(claim, signed_on=CREATED)
    assert f["1"] == "Medicare"
    assert f["22"] == "7" and f["22_original_ref"] == "ICN12345"
    assert f["11"] == "NONE" and f["23"] == "PA-9"


def test_cms1500_values_are_strings_or_lists():
    f = cms1500_fields(claim_rendering(), signed_on=CREATED)
    assert all(isinstance(v, str | list) for v in f.values())
    for key in ("1", "1a", "2", "3", "4", "5", "6", "7", "11", "21", "22", "24", "25", "26", "28", "31", "32", "33"):
        assert key in f


def test_cms1500_refuses_what_does_not_fit():
    with pytest.raises(Cms1500Error, match="13 diagnoses"):
        cms1500_fields(make_claim(TWELVE + ["R51.9"]))
    with pytest.raises(Cms1500Error, match="points at diagnosis 3"):
        cms1500_fields(make_claim(["I10", "E78.5"], [line(pointers=(1, 3))]))
    with pytest.raises(Cms1500Error, match="no service lines"):
        render_cms1500_html(make_claim(lines=[]))


# --- HTML ----------------------------------------------------------------------------------------

VOID = {"meta", "col", "br", "img", "input", "link", "hr"}


class FormParser(HTMLParser):
    """Collects text, tags and pages, and checks that every non-void tag is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.pages: list[list[str]] = []  # per page, the text of its cells
        self.rows_per_page: list[int] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "article" and "page" in (a.get("class") or ""):
            self.pages.append([])
            self.rows_per_page.append(0)
        if tag == "tr" and a.get("data-line"):
            self.rows_per_page[-1] += 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.pages and self.stack and self.stack[-1] != "style":
            self.pages[-1].append(data)


def parse(html: str) -> FormParser:
    p = FormParser()
    p.feed(html)
    p.close()
    assert p.errors == [] and p.stack == [], (p.errors, p.stack)
    return p


def test_html_parses_and_contains_every_code():
    for make in CLAIMS.values():
        claim = make()
        html = render_cms1500_html(claim, signed_on=CREATED)
        p = parse(html)
        text = " ".join(p.text)
        for d in claim.diagnoses:
            assert d.code.replace(".", "") in text
        for sl in claim.lines:
            assert sl.code in text
            for m in sl.modifiers:
                assert m in text
        assert str(claim.total_charge) in text
        assert claim.billing_provider.npi in text
        assert claim.claim_id in text


def test_html_escapes_names():
    claim = make_claim(
        patient=person("O'Brien <script>alert(1)</script>", 'Pat "&"'),
        subscriber=person(),
        relationship="01",
        claim_id="<b>PCN</b>",
    )
    html = render_cms1500_html(claim, signed_on=CREATED)
    assert "<script" not in html
    assert "<b>PCN" not in html
    assert "O&#x27;Brien &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Pat &quot;&amp;&quot;" in html
    p = parse(html)
    assert not any(tag == "script" for tag, _ in p.tags)
    text = "".join(p.text)
    assert 'O\'Brien <script>alert(1)</script>, Pat "&"' in text  # what a reader sees


def test_html_eight_lines_make_two_pages():
    lines = [line(f"9921{i % 5}", f"{100 + i}.00", service_date=date(2025, 3, 1 + i)) for i in range(8)]
    claim = make_claim(["I10"], lines)
    html = render_cms1500_html(claim, signed_on=CREATED)
    p = parse(html)
    assert len(p.pages) == 2
    assert p.rows_per_page == [LINES_PER_PAGE, 2]
    first, second = " ".join(p.pages[0]), " ".join(p.pages[1])
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "CONTINUED" in first and str(claim.total_charge) not in first
    assert str(claim.total_charge) in second
    # lines 1-6 on page 1, 7-8 on page 2 (dates 03 01 .. 03 08)
    assert "03 06 25" in first and "03 07 25" not in first
    assert "03 07 25" in second and "03 08 25" in second
    # every page repeats the header items
    for page in (first, second):
        assert "I10" in page and "XJH123456789" in page
    # six lines or fewer: one page
    assert len(parse(render_cms1500_html(make_claim(lines=lines[:6]))).pages) == 1


def test_html_is_self_contained_and_printable():
    html = render_cms1500_html(claim_rendering(), signed_on=CREATED)
    p = parse(html)
    for tag, attrs in p.tags:
        assert tag not in ("script", "link", "img", "iframe")
        for name in ("src", "href"):
            assert name not in attrs, (tag, attrs)
    assert "@media print" in html and "@page" in html
    assert "url(" not in html and "@import" not in html
    assert html.startswith("<!DOCTYPE html>")


def test_no_descriptions_on_the_form():
    claim = make_claim(
        [],
        [line("99213", description="DESCRIPTION-FROM-CLAIM")],
    )
    claim.diagnoses = [Diagnosis("I10", "DX-DESCRIPTION")]
    f = cms1500_fields(claim, signed_on=CREATED)
    html = render_cms1500_html(claim, signed_on=CREATED)
    assert "DESCRIPTION-FROM-CLAIM" not in json.dumps(f) and "DESCRIPTION-FROM-CLAIM" not in html
    assert "DX-DESCRIPTION" not in html


# --- issue 18: NDC, more than twelve diagnoses -----------------------------------------------------

KENALOG = Ndc("00003-0293-05", "ML", Decimal(1))


def drug_claim() -> Claim:
    return make_claim(
        ["M17.12"],
        [
            line("20610", "120.00", modifiers=("LT",)),
            line("J3301", "40.00", system="HCPCS", units=Decimal(4), ndc=KENALOG, dose=Dose(Decimal(40), "mg")),
        ],
    )


def _quantities_without_system(node: Any, path: str = "") -> list[str]:
    """Where in a FHIR resource a Quantity has a unit code but no system (invariant qty-3)."""
    if isinstance(node, dict):
        here = [path] if "value" in node and "code" in node and "system" not in node else []
        return here + [p for k, v in node.items() for p in _quantities_without_system(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _quantities_without_system(v, f"{path}[{i}]")]
    return []


def test_fhir_and_cms1500_carry_the_same_lines_as_the_837p():
    claim = drug_claim()
    data = fhir_claim_json(claim, created=CREATED)
    FhirClaim.model_validate(data)
    knee, drug = data["item"]
    assert _codings(knee["modifier"][0]) == [(HCPCS, "LT")] and "detail" not in knee
    assert HCPCS == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    assert drug["quantity"]["value"] == 4 and drug["unitPrice"]["value"] == 10
    [detail] = drug["detail"]
    assert _codings(detail["productOrService"]) == [("http://hl7.org/fhir/sid/ndc", "00003029305")]
    assert detail["quantity"] == {"value": 1, "unit": "ML", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert _quantities_without_system(data) == []  # FHIR qty-3: a unit code names its system
    f = cms1500_fields(claim, signed_on=CREATED)
    assert [(x["24D"], x["24D_modifiers"], x["24G"], x["24_shaded"]) for x in f["24"]] == [
        ("20610", ["LT"], "1", ""),
        ("J3301", [], "4", "N400003029305 ML1"),
    ]
    html = render_cms1500_html(claim, signed_on=CREATED)
    assert '<tr class="shaded"><td colspan="12">N400003029305 ML1</td></tr>' in html


def test_more_than_twelve_diagnoses_per_format():
    """FHIR carries all 13; the CMS-1500 map refuses with a clear message and `cms1500_forms` (and
    the printable form) gives one form per part, as the 837P splits the claim."""
    claim = make_claim(
        TWELVE + ["R51.9"],
        [line("99214", pointers=(1, 2, 3, 4)), line("93000", pointers=(5, 6, 7, 8)),
         line("36415", pointers=(9, 10, 11, 12)), line("81002", pointers=(13,))],
    )  # fmt: skip
    data = fhir_claim_json(claim, created=CREATED)
    assert len(data["diagnosis"]) == 13 and data["item"][3]["diagnosisSequence"] == [13]
    with pytest.raises(Cms1500Error, match="needs 2 forms"):
        cms1500_fields(claim)
    first, second = cms1500_forms(claim, signed_on=CREATED)
    assert first["21"] == [c.replace(".", "") for c in TWELVE]
    assert second["21"] == ["R519"] + [""] * 11 and [x["24E"] for x in second["24"]] == ["A"]
    assert second["26"] == f"{claim.claim_id}-2"
    assert Decimal(first["28"]) + Decimal(second["28"]) == claim.total_charge
    html = render_cms1500_html(claim, signed_on=CREATED)
    assert html.count('<article class="page"') == 2 and f'data-claim="{claim.claim_id}-2"' in html
