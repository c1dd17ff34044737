"""The E/M suggestion: the family from the document, the level by time or by MDM, the reasoning as evidence."""

from __future__ import annotations

from collections.abc import Sequence

from chartcoder.models.em._patterns import Span
from chartcoder.models.em.document import _DISCHARGE_MARKERS, _DISCHARGE_TITLE, _HOSPITAL_COURSE, document_kind
from chartcoder.models.em.mdm import medical_decision_making
from chartcoder.models.em.results import MDM, EMSuggestion, TimeStatement
from chartcoder.models.em.status import _by_time, patient_status
from chartcoder.models.em.tables import (
    DISCHARGE_LONG,
    DISCHARGE_SHORT,
    ED_MDM,
    ESTABLISHED,
    FAMILY_LABELS,
    HOSPITAL_INITIAL_MDM,
    HOSPITAL_INITIAL_TIME,
    HOSPITAL_SUBSEQUENT_MDM,
    HOSPITAL_SUBSEQUENT_TIME,
    NEW_PATIENT,
    OFFICE_ESTABLISHED_MDM,
    OFFICE_NEW_MDM,
)
from chartcoder.models.em.time import _trim, visit_time


# --------------------------------------------------------------------------------------------------
# The suggestion
def _mdm_code(family: str, level: int, status: str) -> str:
    if family == "office":
        return (OFFICE_NEW_MDM if status == "new" else OFFICE_ESTABLISHED_MDM)[level]
    if family == "ed":
        return ED_MDM[level]
    if family == "hospital_initial":
        return HOSPITAL_INITIAL_MDM[level]
    return HOSPITAL_SUBSEQUENT_MDM[level]


def _time_code(family: str, minutes: int, status: str) -> str | None:
    table = {
        "office": NEW_PATIENT if status == "new" else ESTABLISHED,
        "hospital_initial": HOSPITAL_INITIAL_TIME,
        "hospital_subsequent": HOSPITAL_SUBSEQUENT_TIME,
    }.get(family)
    return _by_time(table, minutes) if table else None


_FAMILY_OF_KIND = {
    "office": "office",
    "ed": "ed",
    "admission": "hospital_initial",
    "progress": "hospital_subsequent",
    "discharge": "hospital_discharge",
}


def suggest_em(
    text: str,
    *,
    setting: str | None = None,
    patient_status: str | None = None,
    doc_type: str | None = None,
    diagnoses: Sequence[tuple[str, int, int]] = (),
    use_mdm: bool = True,
) -> EMSuggestion | None:
    """The E/M code the note supports best, or None (no E/M document, or nothing to choose a level by).

    Office and hospital initial/subsequent care: by total time or by MDM, whichever supports the higher
    level. ED visits: by MDM only. Discharge day management: by the discharge time (99239 when more than
    30 minutes are documented, otherwise 99238)."""
    # A carriage return reads as a space (same length, so evidence offsets stay true): CRLF and LF
    # notes must level alike.
    text = text.replace("\r", " ")
    family = _FAMILY_OF_KIND.get(document_kind(text, doc_type, setting))
    if family is None:
        return None
    timed = visit_time(text)
    if family == "hospital_discharge":
        return _discharge_day(text, timed)
    status, status_documented = _status(text, patient_status) if family == "office" else ("established", True)
    by_time: tuple[str, TimeStatement, Span] | None = None
    if timed is not None and family != "ed":
        st, sentence = timed
        time_code = _time_code(family, st.at_least, status)
        if time_code is not None:
            by_time = (time_code, st, sentence)
    mdm = (
        medical_decision_making(text, hospital=family.startswith("hospital"), diagnoses=diagnoses) if use_mdm else None
    )
    by_mdm = _mdm_code(family, mdm.level, status) if mdm is not None else None
    if by_time is None and (mdm is None or by_mdm is None):
        return None
    code, basis, minutes, spans, warnings = _time_or_mdm(family, status, by_time, mdm, by_mdm)
    if family == "ed" and timed is not None:
        warnings.append("emergency department levels are chosen by MDM only; documented time is not used")
    if family == "office" and not status_documented:
        warnings.append("new/established status not documented; assumed established")
    office_status = status if family == "office" else None
    return EMSuggestion(code, family, basis, office_status, status_documented, minutes, mdm, spans, tuple(warnings))


def _discharge_day(text: str, timed: tuple[TimeStatement, Span] | None) -> EMSuggestion:
    """Discharge day management: 99239 when more than 30 minutes are documented, otherwise 99238."""
    family = "hospital_discharge"
    if timed is not None:
        st, sentence = timed
        long = st.minutes > 30 or (st.minutes == 30 and st.more_than)
        code = DISCHARGE_LONG if long else DISCHARGE_SHORT
        said = f"{'more than ' if st.more_than else 'less than ' if st.less_than else ''}{st.minutes} min"
        why = f"E/M by discharge time: {said} ({'more than 30 minutes' if long else '30 minutes or less'}) -> {code}"
        return EMSuggestion(code, family, "time", None, True, st.minutes, None, (sentence,), (why,))
    marker = _DISCHARGE_TITLE.search(text) or _HOSPITAL_COURSE.search(text) or _DISCHARGE_MARKERS.search(text)
    where = (_trim(text, marker.start(), marker.end()),) if marker else ()
    why = "discharge day management: time not documented, so 99238 (30 minutes or less) applies"
    return EMSuggestion(DISCHARGE_SHORT, family, "discharge", None, True, None, None, where, (why,))


def _time_or_mdm(
    family: str,
    status: str,
    by_time: tuple[str, TimeStatement, Span] | None,
    mdm: MDM | None,
    by_mdm: str | None,
) -> tuple[str, str, int | None, tuple[Span, ...], list[str]]:
    """The level time supports or the one MDM supports, whichever is higher (time on a tie), with the
    reasoning of both: (code, basis, minutes, evidence spans, reasoning)."""
    time_why = mdm_why = None
    if by_time is not None:
        code, st, _ = by_time
        who = f", {status} patient" if family == "office" else f", {FAMILY_LABELS[family]}"
        time_why = f"E/M by total time: {st.at_least} min{who} -> {code}"
    if mdm is not None and by_mdm is not None:
        mdm_why = f"E/M by MDM: {mdm.explain()} -> {mdm.name}: {by_mdm}"
    if by_time is not None and time_why is not None and (by_mdm is None or int(by_time[0]) >= int(by_mdm)):
        code, st, sentence = by_time
        warnings = [time_why]
        if mdm_why:
            warnings.append(f"{mdm_why} (lower or equal; time supports the level)")
        return code, "time", st.at_least, (sentence,), warnings
    assert mdm is not None and by_mdm is not None and mdm_why is not None
    warnings = [mdm_why]
    if time_why:
        warnings.append(f"{time_why} (lower; MDM supports the level)")
    return by_mdm, "mdm", (by_time[1].at_least if by_time else None), mdm.spans, warnings


def _status(text: str, given: str | None) -> tuple[str, bool]:
    return patient_status(text, given)
