"""Small coding facts the generator applies: the 7th character, adult BMI (Z68), weeks of gestation (Z3A) and
trimesters."""

from __future__ import annotations


def _trimester(weeks: int) -> int:
    return 1 if weeks < 14 else 2 if weeks < 28 else 3


def _z68_adult(bmi: float) -> str:
    if bmi < 20:
        return "Z68.1"
    if bmi < 40:
        return f"Z68.{int(bmi)}"
    for hi, code in ((45, "Z68.41"), (50, "Z68.42"), (60, "Z68.43"), (70, "Z68.44")):
        if bmi < hi:
            return code
    return "Z68.45"


def _z3a(weeks: int) -> str:
    return "Z3A.01" if weeks < 8 else f"Z3A.{weeks:02d}"


def _needs_seventh(code: str) -> bool:
    bare = code.replace(".", "")
    return len(bare) == 6 and (code[0] in "ST" or code[:3] in ("M80", "M84"))
