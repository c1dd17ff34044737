"""The E/M suggestion: the family from the document, the level by time or by MDM, the reasoning as evidence."""

from __future__ import annotations

from collections.abc import Sequence

from chartcoder.models.em._patterns import Span
from chartcoder.models.em.document import _DISCHARGE_MARKERS, _DISCHARGE_TITLE, _HOSPITAL_COURSE, document_kind
from chartcoder.models.em.mdm import medical_decision_making
from chartcoder.models.em.results import EMSuggestion, TimeStatement
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
    kind = document_kind(text, doc_type, setting)
    family = {
        "office": "office",
        "ed": "ed",
        "admission": "hospital_initial",
        "progress": "hospital_subsequent",
        "discharge": "hospital_discharge",
    }.get(kind)
    if family is None:
        return None
    status, status_documented = ("established", True)
    if family == "office":
        status, status_documented = _status(text, patient_status)
    timed = visit_time(text)
    label = FAMILY_LABELS[family]

    if family == "hospital_discharge":
        if timed is not None:
            st, sentence = timed
            long = st.minutes > 30 or (st.minutes == 30 and st.more_than)
            code = DISCHARGE_LONG if long else DISCHARGE_SHORT
            said = f"{'more than ' if st.more_than else 'less than ' if st.less_than else ''}{st.minutes} min"
            why = (
                f"E/M by discharge time: {said} ({'more than 30 minutes' if long else '30 minutes or less'}) -> {code}"
            )
            return EMSuggestion(code, family, "time", None, True, st.minutes, None, (sentence,), (why,))
        marker = _DISCHARGE_TITLE.search(text) or _HOSPITAL_COURSE.search(text) or _DISCHARGE_MARKERS.search(text)
        where = (_trim(text, marker.start(), marker.end()),) if marker else ()
        return EMSuggestion(
            DISCHARGE_SHORT,
            family,
            "discharge",
            None,
            True,
            None,
            None,
            where,
            ("discharge day management: time not documented, so 99238 (30 minutes or less) applies",),
        )

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
    if by_time is None and by_mdm is None:
        return None

    time_why = mdm_why = None
    if by_time is not None:
        code, st, _ = by_time
        who = f", {status} patient" if family == "office" else f", {label}"
        time_why = f"E/M by total time: {st.at_least} min{who} -> {code}"
    if mdm is not None and by_mdm is not None:
        mdm_why = f"E/M by MDM: {mdm.explain()} -> {mdm.name}: {by_mdm}"
    use_time = by_time is not None and (by_mdm is None or int(by_time[0]) >= int(by_mdm))
    warnings: list[str] = []
    minutes: int | None
    if use_time:
        assert by_time is not None and time_why is not None
        code, st, sentence = by_time
        warnings.append(time_why)
        if mdm_why:
            warnings.append(f"{mdm_why} (lower or equal; time supports the level)")
        spans: tuple[Span, ...] = (sentence,)
        basis, minutes = "time", st.at_least
    else:
        assert mdm is not None and by_mdm is not None and mdm_why is not None
        code = by_mdm
        warnings.append(mdm_why)
        if time_why:
            warnings.append(f"{time_why} (lower; MDM supports the level)")
        spans = mdm.spans
        basis, minutes = "mdm", (by_time[1].at_least if by_time else None)
    if family == "ed" and timed is not None:
        warnings.append("emergency department levels are chosen by MDM only; documented time is not used")
    if family == "office" and not status_documented:
        warnings.append("new/established status not documented; assumed established")
    return EMSuggestion(
        code,
        family,
        basis,
        status if family == "office" else None,
        status_documented,
        minutes,
        mdm,
        spans,
        tuple(warnings),
    )


def _status(text: str, given: str | None) -> tuple[str, bool]:
    return patient_status(text, given)
