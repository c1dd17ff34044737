"""The office E/M table is one table: the predictor, the scrubber and the synthetic notes all read it."""

from __future__ import annotations

from chartcoder.billing import scrubber
from chartcoder.codes.em_tables import OFFICE_CODES, OFFICE_VISITS, mdm_codes, time_ranges, time_thresholds
from chartcoder.models import em
from chartcoder.models.em.status import _by_time
from chartcoder.training import synthetic


def test_the_views_of_the_table():
    assert time_thresholds("established") == [(40, "99215"), (30, "99214"), (20, "99213"), (10, "99212")]
    assert time_ranges("new") == ((15, 29, "99202"), (30, 44, "99203"), (45, 59, "99204"), (60, 74, "99205"))
    assert mdm_codes("new") == ("99202", "99203", "99204", "99205")
    assert mdm_codes("established") == ("99212", "99213", "99214", "99215")  # 99211 is never chosen by MDM
    assert {f"9920{n}" for n in range(2, 6)} | {f"9921{n}" for n in range(1, 6)} == OFFICE_CODES


def test_time_ranges_of_a_status_follow_on_without_gaps():
    for status in ("new", "established"):
        rows = time_ranges(status)
        assert all(hi + 1 == nxt for (_, hi, _), (nxt, _, _) in zip(rows, rows[1:], strict=False)), rows
        assert all(lo <= hi for lo, hi, _ in rows)


def test_every_reader_uses_the_one_table():
    assert time_thresholds("new") == em.NEW_PATIENT and time_thresholds("established") == em.ESTABLISHED
    assert mdm_codes("new") == em.OFFICE_NEW_MDM and mdm_codes("established") == em.OFFICE_ESTABLISHED_MDM
    assert time_ranges("new") == synthetic.EM_NEW and time_ranges("established") == synthetic.EM_EST
    assert scrubber.EM_OFFICE is OFFICE_CODES
    assert len({v.code for v in OFFICE_VISITS}) == len(OFFICE_VISITS)


def test_the_predictor_codes_by_the_table_time():
    # 30 minutes with an established patient is the table's 99214 row; 29 is 99213's
    assert _by_time(em.ESTABLISHED, 30) == "99214" and _by_time(em.ESTABLISHED, 29) == "99213"
