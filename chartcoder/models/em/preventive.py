"""Preventive medicine visits by age band, and adult BMI codes."""

from __future__ import annotations

import re

# --------------------------------------------------------------------------------------------------
# Preventive medicine visits by age band (years): new patient, established patient.
PREVENTIVE = [
    (0, 0, "99381", "99391"),
    (1, 4, "99382", "99392"),
    (5, 11, "99383", "99393"),
    (12, 17, "99384", "99394"),
    (18, 39, "99385", "99395"),
    (40, 64, "99386", "99396"),
    (65, 200, "99387", "99397"),
]


def preventive_visit_code(age: int, status: str) -> str:
    """The preventive medicine visit code for the patient's age and new/established status."""
    for lo, hi, new, established in PREVENTIVE:
        if lo <= age <= hi:
            return new if status == "new" else established
    raise ValueError(f"age must be 0 or more; got {age}")


_BMI = re.compile(r"\bBMI\b[^0-9\n]{0,12}?(\d{2,3}(?:\.\d+)?)", re.I)


def documented_bmi(text: str) -> tuple[float, int, int] | None:
    m = _BMI.search(text)
    if not m:
        return None
    return float(m.group(1)), m.start(), m.end()


def adult_bmi_code(bmi: float) -> str:
    """Z68 code for an adult BMI value (Z68.1 under 20 ... Z68.45 for 70 or more)."""
    if bmi < 20:
        return "Z68.1"
    if bmi < 40:
        return f"Z68.{int(bmi)}"
    for upper, code in ((45, "Z68.41"), (50, "Z68.42"), (60, "Z68.43"), (70, "Z68.44")):
        if bmi < upper:
            return code
    return "Z68.45"
