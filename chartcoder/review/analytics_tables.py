"""The feedback report (chartcoder/review/analytics.py) as terminal tables for `chartcoder feedback
report`, with a bar per period so the trend shows at a glance."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chartcoder.domain.code_systems import CodeSystem

BAR_WIDTH = 15


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def bar(rate: float | None, width: int = BAR_WIDTH) -> str:
    """`rate` as a bar of `width` cells: filled for the accepted share, light for the rest."""
    if rate is None:
        return ""
    filled = round(rate * width)
    return "█" * filled + "░" * (width - filled)


def headline(report: dict[str, Any]) -> str:
    t, f = report["totals"], report["filters"]
    kind = "encounters (finalized and open)" if f["include_open"] else "finalized encounters"
    days = [p["first"] for p in report["by_pack"]] + [p["last"] for p in report["by_pack"]]
    span = f", {min(days)} to {max(days)}" if days else ""
    picked = [f"{k} {f[k]}" for k in ("pack", "system", "since", "until") if f[k]]
    decided = t["accepted"] + t["rejected"]
    return (
        f"{t['encounters']:,} {kind}{span}{' (' + ', '.join(picked) + ')' if picked else ''}: "
        f"acceptance rate {percent(t['acceptance_rate'])} ({t['accepted']:,} of {decided:,} decided suggestions), "
        f"precision {percent(t['precision'])}, recall {percent(t['recall'])}; "
        f"{t['added']:,} codes added by hand, {t['pending']:,} suggestions left undecided"
    )


def _code(entry: dict[str, Any]) -> str:
    """The code, with its system unless ICD-10-CM (most codes are): `E11.22`, `99214 CPT`."""
    return entry["code"] if entry["system"] == CodeSystem.ICD10CM else f"{entry['code']} {entry['system']}"


def _print_table(
    console: Console, title: str, columns: list[tuple[str, str]], rows: list[list[str]], described: bool = False
) -> None:
    """One compact table; `columns` are (header, "left" | "right"). With `described`, the last column
    is a description cut to the width the other columns leave (the report is sized for 80 columns)."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, (h, _) in enumerate(columns)]
    for i, (header, justify) in enumerate(columns):
        last = described and i == len(columns) - 1
        room = console.width - sum(widths[:-1]) - 2 * (len(columns) - 1)
        table.add_column(
            header,
            justify="right" if justify == "right" else "left",
            no_wrap=True,
            overflow="ellipsis",
            max_width=max(12, room) if last else None,
        )
    for r in rows:
        table.add_row(*(escape(cell) for cell in r))
    console.print()
    console.print(table)


def print_report(report: dict[str, Any], console: Console) -> None:
    """The headline, then tables by pack, over time, most rejected, most added and by code. Sized for
    80 columns: descriptions are cut to fit (--json has them whole)."""
    console.print(escape(headline(report)), soft_wrap=True, highlight=False)
    if not report["totals"]["encounters"]:
        return
    console.print(
        "rate = accepted / (accepted + rejected); recall = accepted / (accepted + added by hand)",
        style="dim",
        soft_wrap=True,
        highlight=False,
    )
    num = "right"

    _print_table(
        console,
        "By pack version",
        [("pack", "left"), ("enc.", num), ("acc.", num), ("rej.", num), ("added", num), ("rate", num)]
        + [("recall", num), ("dates", "left")],
        [
            [p["pack"], *(f"{p[k]:,}" for k in ("encounters", "accepted", "rejected", "added"))]
            + [percent(p["acceptance_rate"]), percent(p["recall"])]
            + [p["first"] if p["first"] == p["last"] else f"{p['first']}…{p['last'][5:]}"]
            for p in report["by_pack"]
        ],
    )

    over = report["over_time"]
    points = sorted(
        ((point, s["pack"]) for s in over["series"] for point in s["points"]),
        key=lambda pp: (pp[0]["start"], pp[1]),
    )
    _print_table(
        console,
        f"Acceptance rate by {over['bucket']}",
        [(over["bucket"], "left"), ("pack", "left"), ("acc.", num), ("rej.", num), ("added", num), ("rate", num)]
        + [("", "left")],
        [
            [point["period"], pack, *(f"{point[k]:,}" for k in ("accepted", "rejected", "added"))]
            + [percent(point["acceptance_rate"]), bar(point["acceptance_rate"])]
            for point, pack in points
        ],
    )

    _print_table(
        console,
        "Most often rejected",
        [("code", "left"), ("rej.", num), ("of", num), ("rate", num), ("top reason", "left"), ("description", "left")],
        [
            [_code(r), f"{r['rejected']:,}", f"{r['decided']:,}", percent(r["rejection_rate"])]
            + [f"{r['reasons'][0]['reason']} ({r['reasons'][0]['count']})" if r["reasons"] else ""]
            + [r["description"]]
            for r in report["top_rejected"]
        ],
        described=True,
    )

    _print_table(
        console,
        "Most often added by hand: the model's blind spots",
        [("code", "left"), ("added", num), ("suggested elsewhere", num), ("description", "left")],
        [[_code(a), f"{a['added']:,}", f"{a['suggested']:,}", a["description"]] for a in report["top_added"]],
        described=True,
    )

    top = report["by_code"][: report["filters"]["top"]]
    _print_table(
        console,
        f"Acceptance by code: the {len(top)} most decided",
        [("code", "left"), ("sugg.", num), ("acc.", num), ("rej.", num), ("pend.", num), ("added", num)]
        + [("rate", num), ("description", "left")],
        [
            [_code(c), *(f"{c[k]:,}" for k in ("suggested", "accepted", "rejected", "pending", "added"))]
            + [percent(c["acceptance_rate"]), c["description"]]
            for c in top
        ],
        described=True,
    )
