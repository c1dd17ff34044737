"""The encounter: what coding a note needs to know beyond its text. `EncounterContext` is the one
validated form (the API and bulk coding check their input through it); `Encounter` is the plain
value the engine works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Setting = Literal["outpatient", "inpatient"]


@dataclass(frozen=True)
class Encounter:
    """What the note alone does not say. Setting decides how uncertain diagnoses are coded."""

    setting: Setting | None = None
    sex: str | None = None  # "F" | "M" | None
    age: int | None = None
    date: str | None = None  # ISO date of service
    patient_status: Literal["new", "established"] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Encounter:
        data = data or {}
        return cls(
            setting=data.get("setting"),
            sex=data.get("sex"),
            age=data.get("age"),
            date=data.get("date"),
            patient_status=data.get("patient_status"),
        )

    @property
    def is_inpatient(self) -> bool:
        return self.setting == "inpatient"


class EncounterContext(BaseModel):
    """Encounter facts that change how a note is coded."""

    model_config = ConfigDict(extra="forbid")

    setting: Literal["outpatient", "inpatient"] | None = Field(
        None, description="Uncertain diagnoses are coded only for inpatient encounters."
    )
    sex: Literal["F", "M", "U"] | None = None
    age: int | None = Field(None, ge=0, le=130)
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Date of service, YYYY-MM-DD.")
    patient_status: Literal["new", "established"] | None = Field(
        None, description="Overrides what the note says about new/established for the E/M level."
    )

    def to_domain(self) -> Encounter:
        """The plain value the engine reads."""
        return Encounter(self.setting, self.sex, self.age, self.date, self.patient_status)
