"""Decisions: a coder's accept, reject, add and change of codes, and finalizing and reopening."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from chartcoder.api.schemas.common import IsoDate, Strict
from chartcoder.billing import line_input

LINE_FIELDS = ("modifiers", "units", "service_date", "pointers", "ndc", "dose")
_PROCEDURES = ("CPT", "HCPCS")
ModifierText = Annotated[str, Field(min_length=1, max_length=8)]
DiagnosisText = Annotated[str, Field(min_length=1, max_length=16)]


class NdcIn(Strict):
    """The National Drug Code of what was given on a drug line."""

    code: str = Field(..., min_length=10, max_length=13, description="11 digits, 5-4-2; hyphens optional.")
    unit: Literal["F2", "GR", "ME", "ML", "UN"] = Field(
        ..., description="F2 international unit, GR gram, ME milligram, ML milliliter, UN unit (each)."
    )
    quantity: Decimal = Field(..., gt=0, max_digits=12, decimal_places=3, description="In `unit`.")


class DoseIn(Strict):
    """The dose given, as the note says it; gives a drug code's units when `units` is not set."""

    amount: Decimal = Field(..., gt=0, max_digits=12, decimal_places=4)
    unit: Literal["mg", "mcg", "g", "mL", "units"]


class DecisionItem(Strict):
    action: Literal["accept", "reject", "add", "change"]
    code: str = Field(
        ..., min_length=1, max_length=16, description="A CPT/HCPCS code may carry modifiers inline: 20610-LT."
    )
    system: Literal["ICD-10-CM", "CPT", "HCPCS", "ICD-10-PCS"] = "ICD-10-CM"
    reason: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=500)
    replaces: str | None = Field(None, max_length=16)
    # The line's own data (CPT/HCPCS codes, on accept, add and change): docs/review-api.md, "Line data".
    modifiers: list[ModifierText] | None = Field(
        None,
        max_length=4,
        description="Up to four, in billing order, from the modifier table (GET /v1/review/modifiers); "
        "[] means none (no 25 is added for the claim); left out: not set.",
    )
    units: Decimal | None = Field(
        None, gt=0, max_digits=9, decimal_places=1, description="Whole, or tenths where the code is billed so."
    )
    service_date: IsoDate | None = Field(None, description="The line's date when it is not the encounter's.")
    pointers: list[DiagnosisText] | None = Field(
        None,
        max_length=4,
        description="Up to four ICD-10-CM codes the line is for, each accepted or added on the encounter.",
    )
    ndc: NdcIn | None = None
    dose: DoseIn | None = None

    @model_validator(mode="after")
    def _line_fits(self) -> DecisionItem:
        given = [f for f in LINE_FIELDS if getattr(self, f) is not None]
        if self.system in _PROCEDURES and "-" in self.code:
            code, *inline = self.code.strip().upper().split("-")
            self.code = code
            self.modifiers = [*inline, *(m for m in self.modifiers or () if m.strip().upper() not in inline)]
            given = [*given, "modifiers"] if "modifiers" not in given else given
        if not given:
            return self
        if self.system not in _PROCEDURES:
            raise ValueError(f"{', '.join(given)}: line data goes on CPT or HCPCS codes only, not {self.system}")
        if self.action == "reject":
            raise ValueError(
                f"{', '.join(given)}: a rejected code has no line data; send it with accept, add or change"
            )
        code = self.code.strip().upper()
        problems: list[str] = []
        if self.modifiers is not None:
            self.modifiers = [m.strip().upper() for m in self.modifiers]
            problems += line_input.modifier_problems(code, self.modifiers)
        if self.units is not None and (why := line_input.units_problem(code, self.units)):
            problems.append(why)
        if self.ndc is not None:
            problems += line_input.ndc_problems(self.ndc.code.strip(), self.ndc.unit, self.ndc.quantity)
        if self.dose is not None and (why := line_input.dose_problem(self.dose.unit, self.dose.amount)):
            problems.append(why)
        if self.pointers is not None:
            self.pointers = [p.strip().upper() for p in self.pointers]
            if len(set(self.pointers)) != len(self.pointers):
                problems.append(f"pointers {self.pointers} repeat a diagnosis")
        if problems:
            raise ValueError(f"{code}: " + "; ".join(problems))
        return self

    def line(self) -> dict[str, Any] | None:
        """The line data as stored (only what was set; decimals as text), or None."""
        out: dict[str, Any] = {}
        if self.modifiers is not None:
            out["modifiers"] = list(self.modifiers)
        if self.units is not None:
            out["units"] = str(self.units)
        if self.service_date is not None:
            out["service_date"] = self.service_date.isoformat()
        if self.pointers is not None:
            out["pointers"] = list(self.pointers)
        if self.ndc is not None:
            out["ndc"] = {"code": self.ndc.code.strip(), "unit": self.ndc.unit, "quantity": str(self.ndc.quantity)}
        if self.dose is not None:
            out["dose"] = {"amount": str(self.dose.amount), "unit": self.dose.unit}
        return out or None


class DecisionBatch(Strict):
    version: int = Field(..., ge=1)
    decisions: list[DecisionItem] = Field(..., min_length=1, max_length=200)


class VersionIn(Strict):
    version: int = Field(..., ge=1)


class ReopenIn(Strict):
    version: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=500)


class SendBackIn(Strict):
    version: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=500, description="What the coder should fix; shown to them.")


class LockIn(Strict):
    take_over: bool = Field(
        False, description="Take the lock from the person who holds it (audited); without it, a held lock is a 409."
    )


class DiagnosisOrderIn(Strict):
    version: int = Field(..., ge=1)
    diagnosis_order: list[DiagnosisText] | None = Field(
        ...,
        max_length=200,
        description="Accepted or added ICD-10-CM codes, first-listed first (codes left out follow in their own "
        "order); null gives the order back to the sequencing conventions.",
    )
