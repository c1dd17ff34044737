"""Feedback analytics: how coders' final decisions judge the model's suggestions, by code, by pack
version and over time, and which codes the model gets wrong (most rejected) or misses (most added by
hand). The definitions are in docs/review-api.md ("Feedback analytics"); in short:

- The unit is a code on an encounter in its final state, exactly as the encounter shows it
  (`codes[].state`): the latest decision on a code wins, a `change` rejects the code it replaces and
  adds (or, if suggested, accepts) the new one. "Suggested" means in the encounter's latest
  suggestion set, whose `model` is the pack version counted.
- acceptance rate = accepted / (accepted + rejected): of the suggestions a coder decided on, the
  share kept. Suggestions left pending are counted apart, not in the rate.
- precision = accepted / suggested (pending counts as not coded); recall = accepted / (accepted +
  added): of the codes on the finished chart, the share the model had suggested.
- added = codes a coder put on the chart that the model did not suggest: its blind spots.
- By default only finalized encounters count, dated by their finalization (UTC); `include_open` adds
  open encounters someone has decided on, dated by their latest decision.

The final states and the counts are computed in SQL (window functions and the database's own JSON
functions, on SQLite and PostgreSQL alike); Python only rolls the grouped rows up into the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import CTE

from chartcoder.domain.errors import InvalidInputError
from chartcoder.review.states import REASONS, SYSTEMS
from chartcoder.store.database import ReviewStore
from chartcoder.store.review import Decision, Encounter, SuggestionSet

BUCKETS = ("day", "week")
MAX_TOP = 100
NO_PACK = "(no suggestion set)"
_REASON_LABELS = dict(REASONS)


@dataclass(frozen=True)
class FeedbackQuery:
    """What to count. `since`/`until` are inclusive UTC days of the encounter's date (finalization, or
    latest decision for open encounters); `pack` is a pack version (`default@1a2b3c4d5e6f`) or a pack
    name (`default`, every version of it); `system` one code system; `top` the length of the top lists."""

    since: date | None = None
    until: date | None = None
    pack: str | None = None
    system: str | None = None
    bucket: str = "day"
    top: int = 10
    include_open: bool = False

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InvalidInputError(
                f"The 'since' parameter must be on or before 'until'. Got {self.since} > {self.until}."
            )
        if self.bucket not in BUCKETS:
            raise InvalidInputError(f"The 'bucket' parameter must be one of {', '.join(BUCKETS)}. Got {self.bucket!r}.")
        if self.system is not None and self.system not in SYSTEMS:
            raise InvalidInputError(f"The 'system' parameter must be one of {', '.join(SYSTEMS)}. Got {self.system!r}.")
        if not 1 <= self.top <= MAX_TOP:
            raise InvalidInputError(f"The 'top' parameter must be an integer from 1 to {MAX_TOP}. Got {self.top}.")
        if self.pack is not None and not (0 < len(self.pack) <= 200):
            raise InvalidInputError(f"The 'pack' parameter must be 1-200 characters. Got {len(self.pack)}.")

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "pack": self.pack,
            "system": self.system,
            "bucket": self.bucket,
            "top": self.top,
            "include_open": self.include_open,
        }


class FeedbackAnalytics:
    """The report over a review store; it only reads."""

    def __init__(self, store: ReviewStore, describe: Callable[[str, str], str] | None = None) -> None:
        self.store = store
        self._describe = describe

    def report(self, query: FeedbackQuery) -> dict[str, Any]:
        with self.store.session(write=False) as s:
            return feedback_report(s, query, self._describe)


def feedback_report(
    s: Session, query: FeedbackQuery, describe: Callable[[str, str], str] | None = None
) -> dict[str, Any]:
    """The feedback report as a plain dict (shape in docs/review-api.md):
    `{"filters", "totals", "by_pack", "over_time", "by_code", "top_rejected", "top_added",
    "reject_reasons"}`. `describe(code, system)` names codes no suggestion described (the ones coders
    added); by default the loaded code sets do."""
    dialect = s.get_bind().dialect.name
    scope = _scope(query, dialect)
    states = _final_states(scope, query, dialect)
    grouped = s.execute(
        select(
            states.c.pack,
            states.c.start,
            states.c.system,
            states.c.code,
            states.c.state,
            states.c.reason,
            func.count().label("n"),
            func.max(states.c.description).label("description"),
        ).group_by(states.c.pack, states.c.start, states.c.system, states.c.code, states.c.state, states.c.reason)
    ).all()
    encounters = s.execute(
        select(scope.c.pack, func.count(), func.min(scope.c.day), func.max(scope.c.day)).group_by(scope.c.pack)
    ).all()
    rows = [
        _Row(r.pack or NO_PACK, _day(r.start), r.system, r.code, r.state, r.reason, int(r.n), r.description)
        for r in grouped
    ]
    packs = [(p or NO_PACK, int(n), _day(first), _day(last)) for p, n, first, last in encounters]
    return _assemble(query, rows, packs, describe)


# -- SQL ------------------------------------------------------------------------------------------
# Every step streams or groups; no step joins two derived tables (SQLite would do that as a nested
# loop without an index: 3,000 encounters took 20 s that way instead of a fraction of a second).


def _utc_day(at: ColumnElement[Any], dialect: str, bucket: str = "day") -> ColumnElement[Any]:
    """The UTC day of `at`, or with bucket "week" the Monday that starts its ISO week."""
    if dialect == "postgresql":
        utc = func.timezone("UTC", at)
        return func.date(func.date_trunc("week", utc)) if bucket == "week" else func.date(utc)
    # SQLite keeps UTC timestamps as ISO text; "weekday 0" moves on to Sunday, 6 days back is Monday.
    return func.date(at, "weekday 0", "-6 days") if bucket == "week" else func.date(at)


def _scope(query: FeedbackQuery, dialect: str) -> CTE:
    """Encounters counted: (encounter_id, set_id, pack, day, start). Finalized ones (and open ones
    someone decided on, with include_open), their latest suggestion set, their UTC day and the first
    day of its period (the day itself, or its week's Monday): grouping by period in the database keeps
    the rows it sends back few."""
    # Correlated look-ups through the indexes on encounter_id, not joins with grouped subqueries: the
    # planner cannot misjudge them (PostgreSQL with stale statistics nested-looped 3,000 x 1,500 rows).
    last_set = (
        select(func.max(SuggestionSet.id))
        .where(SuggestionSet.encounter_id == Encounter.id)
        .correlate(Encounter)
        .scalar_subquery()
    )
    last_decision = (
        select(func.max(Decision.created_at))
        .where(Decision.encounter_id == Encounter.id)
        .correlate(Encounter)
        .scalar_subquery()
    )
    at = func.coalesce(Encounter.finalized_at, last_decision)  # COALESCE looks up only for open encounters
    q = (
        select(
            Encounter.id.label("encounter_id"),
            SuggestionSet.id.label("set_id"),
            SuggestionSet.model.label("pack"),
            _utc_day(at, dialect).label("day"),
            _utc_day(at, dialect, query.bucket).label("start"),
        )
        .select_from(Encounter)
        .outerjoin(SuggestionSet, SuggestionSet.id == last_set)
        # An encounter nobody decided on has nothing to count (a finalized one always has decisions).
        .where(at.is_not(None))
    )
    if not query.include_open:
        q = q.where(Encounter.status == "finalized")
    if query.since:
        q = q.where(at >= datetime.combine(query.since, datetime.min.time(), tzinfo=UTC))
    if query.until:
        q = q.where(at < datetime.combine(query.until + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
    if query.pack:
        q = q.where(
            or_(SuggestionSet.model == query.pack, SuggestionSet.model.startswith(query.pack + "@", autoescape=True))
        )
    return q.cte("scope")


def _suggestion_rows(scope: CTE, query: FeedbackQuery, dialect: str) -> Any:
    """One row per suggestion in the scope's suggestion sets, read out of the stored JSON by the
    database itself, shaped like `_effect_rows` (no effect, `suggested` 1)."""
    if dialect == "postgresql":
        items = func.json_array_elements(SuggestionSet.suggestions).table_valued("value").render_derived()

        def field(name: str) -> ColumnElement[Any]:
            return items.c.value.op("->>")(literal_column(f"'{name}'"))
    else:
        items = func.json_each(SuggestionSet.suggestions).table_valued("value")

        def field(name: str) -> ColumnElement[Any]:
            return func.json_extract(items.c.value, f"$.{name}")

    q = select(
        scope.c.encounter_id,
        scope.c.pack,
        scope.c.start,
        field("system").label("system"),
        field("code").label("code"),
        null().label("effect"),
        null().label("reason"),
        literal_column("1").label("suggested"),
        field("description").label("description"),
    ).select_from(scope.join(SuggestionSet, SuggestionSet.id == scope.c.set_id).join(items, true()))
    if query.system:
        q = q.where(field("system") == query.system)
    return q


def _effect_rows(scope: CTE, query: FeedbackQuery) -> Any:
    """The final effect of the decisions on each (encounter, system, code) in scope: `keep` (accept,
    add, or the new code of a change) or `reject` (reject, or the code a change replaces). The
    latest decision wins; within a change, the new code's effect comes after the replaced code's."""
    # part orders the two effects of one change: a change "into" the code it replaces keeps it.
    on_code: Any = select(
        scope.c.encounter_id,
        scope.c.pack,
        scope.c.start,
        Decision.system,
        Decision.code,
        case((Decision.action == "reject", literal_column("'reject'")), else_=literal_column("'keep'")).label("effect"),
        case((Decision.action == "reject", Decision.reason), else_=null()).label("reason"),
        Decision.id.label("decision_id"),
        literal_column("1").label("part"),
    ).select_from(scope.join(Decision, Decision.encounter_id == scope.c.encounter_id))
    on_replaced: Any = (
        select(
            scope.c.encounter_id,
            scope.c.pack,
            scope.c.start,
            Decision.system,
            Decision.replaces.label("code"),
            literal_column("'reject'").label("effect"),
            Decision.reason,
            Decision.id.label("decision_id"),
            literal_column("0").label("part"),
        )
        .select_from(scope.join(Decision, Decision.encounter_id == scope.c.encounter_id))
        .where(Decision.action == "change", Decision.replaces.is_not(None))
    )
    if query.system:
        on_code = on_code.where(Decision.system == query.system)
        on_replaced = on_replaced.where(Decision.system == query.system)
    effects = union_all(on_code, on_replaced).subquery("effects")
    ranked = select(
        effects,
        func.row_number()
        .over(
            partition_by=[effects.c.encounter_id, effects.c.system, effects.c.code],
            order_by=[effects.c.decision_id.desc(), effects.c.part.desc()],
        )
        .label("rn"),
    ).subquery("ranked")
    return select(
        ranked.c.encounter_id,
        ranked.c.pack,
        ranked.c.start,
        ranked.c.system,
        ranked.c.code,
        ranked.c.effect,
        ranked.c.reason,
        literal_column("0").label("suggested"),
        null().label("description"),
    ).where(ranked.c.rn == 1)


def _final_states(scope: CTE, query: FeedbackQuery, dialect: str) -> Any:
    """(pack, start, system, code, description, state, reason) of every suggested or decided code in
    scope, `state` as the encounter shows it: pending, accepted, rejected, added, or `removed` (a code
    a person added and then took off again, which says nothing about the model). Suggestions and final
    effects are stacked and grouped per code: at most one of each per (encounter, system, code)."""
    both = union_all(_suggestion_rows(scope, query, dialect), _effect_rows(scope, query)).subquery("both_rows")
    per_code = (
        select(
            both.c.pack,
            both.c.start,
            both.c.system,
            both.c.code,
            func.max(both.c.suggested).label("suggested"),
            func.max(both.c.effect).label("effect"),
            func.max(both.c.reason).label("reason"),
            func.max(both.c.description).label("description"),
        )
        .group_by(both.c.encounter_id, both.c.pack, both.c.start, both.c.system, both.c.code)
        .subquery("per_code")
    )
    suggested = per_code.c.suggested == 1
    return select(
        per_code.c.pack,
        per_code.c.start,
        per_code.c.system,
        per_code.c.code,
        per_code.c.description,
        case(
            (and_(suggested, per_code.c.effect == "keep"), "accepted"),
            (and_(suggested, per_code.c.effect == "reject"), "rejected"),
            (suggested, "pending"),
            (per_code.c.effect == "keep", "added"),
            else_="removed",
        ).label("state"),
        case((per_code.c.effect == "reject", per_code.c.reason), else_=null()).label("reason"),
    ).subquery("states")


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    pack: str
    start: date  # the first day of the row's period
    system: str
    code: str
    state: str
    reason: str | None
    n: int
    description: str | None


def _period(day: date, bucket: str) -> tuple[str, date]:
    """(label, first day) of the period holding `day`: the day itself, or its ISO week (`2026-W47`)."""
    if bucket == "day":
        return day.isoformat(), day
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)


def _periods(first: date, last: date, bucket: str) -> list[dict[str, str]]:
    step = timedelta(days=1 if bucket == "day" else 7)
    start = _period(first, bucket)[1]
    out = []
    while start <= last:
        label, begin = _period(start, bucket)
        out.append({"period": label, "start": begin.isoformat()})
        start += step
    return out


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _counts(states: Counter[str]) -> dict[str, Any]:
    accepted, rejected, pending, added = (states[k] for k in ("accepted", "rejected", "pending", "added"))
    return {
        "suggested": accepted + rejected + pending,
        "accepted": accepted,
        "rejected": rejected,
        "pending": pending,
        "added": added,
        "acceptance_rate": _rate(accepted, accepted + rejected),
        "precision": _rate(accepted, accepted + rejected + pending),
        "recall": _rate(accepted, accepted + added),
    }


def _point(period: str, start: str, states: Counter[str]) -> dict[str, Any]:
    accepted, rejected = states["accepted"], states["rejected"]
    return {
        "period": period,
        "start": start,
        "accepted": accepted,
        "rejected": rejected,
        "added": states["added"],
        "acceptance_rate": _rate(accepted, accepted + rejected),
    }


@dataclass
class _Tally:
    """The grouped rows rolled up: state counts in all, per pack, per (pack, period), per period and
    per (system, code); rejection reasons per code and in all; the descriptions the rows carry; the
    first day of each period label."""

    total: Counter[str] = field(default_factory=Counter)
    per_pack: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_period: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_period_all: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_code: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    code_reasons: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: Counter[str] = field(default_factory=Counter)
    described: dict[tuple[str, str], str] = field(default_factory=dict)
    starts: dict[str, date] = field(default_factory=dict)


def _tally(rows: list[_Row], bucket: str) -> _Tally:
    """The rows counted; removed codes are not counted, a rejection without a reason counts as "other"."""
    t = _Tally()
    for r in rows:
        if r.state == "removed":
            continue
        label, start = _period(r.start, bucket)
        t.starts[label] = start
        key = (r.system, r.code)
        bags = (t.total, t.per_pack[r.pack], t.per_period[(r.pack, label)], t.per_period_all[label], t.per_code[key])
        for bag in bags:
            bag[r.state] += r.n
        if r.state == "rejected":
            reason = r.reason or "other"
            t.reasons[reason] += r.n
            t.code_reasons[key][reason] += r.n
        if r.description and key not in t.described:
            t.described[key] = r.description
    return t


def _assemble(
    query: FeedbackQuery,
    rows: list[_Row],
    packs: list[tuple[str, int, date, date]],  # (pack, encounters, first day, last day)
    describe: Callable[[str, str], str] | None,
) -> dict[str, Any]:
    t = _tally(rows, query.bucket)
    packs = sorted(packs, key=lambda p: (p[2], p[0]))  # in the order they first appear
    all_days = [d for _, _, first, last in packs for d in (first, last)]

    def name(key: tuple[str, str]) -> str:
        if key not in t.described:
            t.described[key] = _describe(describe, key[1], key[0])
        return t.described[key]

    by_pack = [
        {
            "pack": pack,
            "encounters": n,
            "first": first.isoformat(),
            "last": last.isoformat(),
            **_counts(t.per_pack[pack]),
        }
        for pack, n, first, last in packs
    ]
    return {
        "filters": query.as_dict(),
        "totals": {"encounters": sum(n for _, n, _, _ in packs), **_counts(t.total)},
        "by_pack": by_pack,
        "over_time": {
            "bucket": query.bucket,
            "periods": _periods(min(all_days), max(all_days), query.bucket) if all_days else [],
            "series": [{"pack": entry["pack"], "points": _pack_points(t, entry["pack"])} for entry in by_pack],
            "all": [
                _point(label, t.starts[label].isoformat(), t.per_period_all[label])
                for label in sorted(t.per_period_all, key=t.starts.__getitem__)
            ],
        },
        "by_code": _by_code(t, name),
        "top_rejected": _top_rejected(t, query.top, name),
        "top_added": _top_added(t, query.top, name),
        "reject_reasons": _reason_list(_by_count(t.reasons)),
    }


def _pack_points(t: _Tally, pack: str) -> list[dict[str, Any]]:
    """One pack's points over time, in the order of the periods."""
    return [
        _point(label, t.starts[label].isoformat(), bag)
        for (p, label), bag in sorted(t.per_period.items(), key=lambda kv: t.starts[kv[0][1]])
        if p == pack
    ]


def _by_code(t: _Tally, name: Callable[[tuple[str, str]], str]) -> list[dict[str, Any]]:
    """Every code with its counts, the most decided first."""
    return [
        {"code": code, "system": system, "description": name((system, code)), **_counts(bag)}
        for (system, code), bag in sorted(
            t.per_code.items(),
            key=lambda kv: (-(kv[1]["accepted"] + kv[1]["rejected"] + kv[1]["added"]), kv[0][0], kv[0][1]),
        )
    ]


def _top_rejected(t: _Tally, top: int, name: Callable[[tuple[str, str]], str]) -> list[dict[str, Any]]:
    """The most rejected codes (then the highest rejection rate), with their reasons."""
    rejected = sorted(
        ((key, bag) for key, bag in t.per_code.items() if bag["rejected"]),
        key=lambda kv: (-kv[1]["rejected"], -kv[1]["rejected"] / (kv[1]["accepted"] + kv[1]["rejected"]), kv[0]),
    )[:top]
    return [
        {
            "code": code,
            "system": system,
            "description": name((system, code)),
            "rejected": bag["rejected"],
            "decided": bag["accepted"] + bag["rejected"],
            "rejection_rate": _rate(bag["rejected"], bag["accepted"] + bag["rejected"]),
            "reasons": _reason_list(_by_count(t.code_reasons[(system, code)])),
        }
        for (system, code), bag in rejected
    ]


def _top_added(t: _Tally, top: int, name: Callable[[tuple[str, str]], str]) -> list[dict[str, Any]]:
    """The codes coders added most often (the model's blind spots)."""
    added = sorted(
        ((key, bag) for key, bag in t.per_code.items() if bag["added"]), key=lambda kv: (-kv[1]["added"], kv[0])
    )[:top]
    return [
        {
            "code": code,
            "system": system,
            "description": name((system, code)),
            "added": bag["added"],
            "suggested": bag["accepted"] + bag["rejected"] + bag["pending"],
        }
        for (system, code), bag in added
    ]


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _reason_list(items: Iterable[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"reason": r, "label": _REASON_LABELS.get(r, r), "count": n} for r, n in items]


def _describe(describe: Callable[[str, str], str] | None, code: str, system: str) -> str:
    if describe is None:
        from chartcoder.models.service import describe as describe_code

        describe = describe_code
    try:
        return describe(code, system)
    except Exception:  # a PCS or unknown code is still listed, without a description
        return ""
