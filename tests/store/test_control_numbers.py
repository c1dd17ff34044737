"""Interchange control numbers (837P ISA13/GS06/ST02) from the database, on SQLite and PostgreSQL:
1, 2, 3... per submitter, and never the same number twice when several processes ask at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chartcoder.billing.service import allocate_control_number
from chartcoder.store.claims import ControlNumber, next_control_number

TAKE = """
import sys
from chartcoder.billing.service import allocate_control_number
from chartcoder.store.database import ReviewStore
store = ReviewStore(sys.argv[1])
print(" ".join(str(allocate_control_number(store, "SUBMITTER1")) for _ in range(int(sys.argv[2]))))
store.dispose()
"""


def test_numbers_go_up_per_submitter(store):
    assert [allocate_control_number(store, "EXFP001") for _ in range(3)] == [1, 2, 3]
    assert allocate_control_number(store, "OTHER") == 1  # each submitter counts on its own
    assert allocate_control_number(store, "EXFP001") == 4
    with store.session(write=False) as s:
        assert s.get(ControlNumber, "EXFP001").last_value == 4


def test_used_up_numbers_are_refused_not_wrapped(store):
    with store.session() as s:
        s.add(ControlNumber(submitter_id="FULL", last_value=999_999_999))
    with pytest.raises(ValueError, match="used up"), store.session() as s:
        next_control_number(s, "FULL")


def test_processes_asking_at_once_never_share_a_number(store, db_url):
    procs = [
        subprocess.Popen([sys.executable, "-c", TAKE, db_url, "15"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    taken = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        numbers = [int(n) for n in out.split()]
        assert numbers == sorted(numbers)  # each process sees its numbers go up
        taken.extend(numbers)
    assert sorted(taken) == list(range(1, 46))
